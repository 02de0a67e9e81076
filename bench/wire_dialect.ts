/**
 * The wire protocols the load generator speaks: our JSON dialect (chat and
 * the idiomatic peers), our text dialect (chat's `nc` users) and IRC
 * (ngircd). Each knows how to say hello, how to send a message, and how to
 * tell the few lines it must understand. bench/loadgen.c speaks the same
 * three the same way.
 *
 * @module
 */

/** What a non-message line means to the load generator. */
export type LineKind =
  | { kind: "ready" }
  | { kind: "registered" }
  | { kind: "join" }
  | { kind: "ack"; count: number }
  | { kind: "ping"; token: string }
  | { kind: "error" }
  | { kind: "other" };

/** One wire protocol, as far as the benchmark needs it. */
export interface WireDialect {
  readonly name: string;
  /** Bytes between a message text's end and the newline. */
  readonly suffixBytes: number;
  /** True when the sender gets its own message back (its delivery receipt). */
  readonly echoesSender: boolean;
  /** The bytes that make a new connection a member of the benchmark room. */
  hello(nick: string): string;
  /** What to send once the server has registered the connection (IRC). */
  afterRegistered(): string;
  /** One message to the room. */
  say(text: string): string;
  /** Asks the server to acknowledge everything up to `sent` (no-echo protocols). */
  ackRequest(sent: number): string;
  /** The answer to a server's keep-alive. */
  pong(token: string): string;
  /** What the line whose first bytes are `head` is. */
  classify(head: string): LineKind;
  /** How many joins a join notice announces. */
  joinCount(line: string): number;
}

/** The benchmark room's name. */
export const ROOM = "bench";

const json: WireDialect = {
  name: "json",
  suffixBytes: 2, // `"}`
  echoesSender: true,
  hello: (nick) => `{"type":"hello","nick":"${nick}","room":"${ROOM}"}\n`,
  afterRegistered: () => "",
  say: (text) => `{"type":"say","text":"${text}"}\n`,
  ackRequest: () => "",
  pong: () => "",
  classify(head) {
    if (head.startsWith('{"type":"welcome"')) return { kind: "ready" };
    if (head.startsWith('{"type":"join"')) return { kind: "join" };
    if (
      head.startsWith('{"type":"error"') || head.startsWith('{"type":"bye"')
    ) {
      return { kind: "error" };
    }
    return { kind: "other" };
  },
  joinCount(line) {
    try {
      const event = JSON.parse(line);
      // A big room's coalesced notice names one and counts the others.
      return 1 + (typeof event.others === "number" ? event.others : 0);
    } catch {
      return 0;
    }
  },
};

const irc: WireDialect = {
  name: "irc",
  suffixBytes: 1, // `\r`
  echoesSender: false,
  // JOIN waits for RPL_WELCOME: sent with NICK and USER, it can arrive
  // before registration completes and be refused (451).
  hello: (nick) => `NICK ${nick}\r\nUSER ${nick} 0 * :${nick}\r\n`,
  afterRegistered: () => `JOIN #${ROOM}\r\n`,
  say: (text) => `PRIVMSG #${ROOM} :${text}\r\n`,
  ackRequest: (sent) => `PING :${sent}\r\n`,
  pong: (token) => `PONG :${token}\r\n`,
  classify(head) {
    if (head.startsWith("PING ")) {
      return { kind: "ping", token: head.slice(5).replace(/^:/, "").trim() };
    }
    const command = head.split(" ", 3)[1] ?? "";
    if (command === "001") return { kind: "registered" };
    if (command === "366") return { kind: "ready" };
    if (command === "JOIN") return { kind: "join" };
    if (command === "NOTICE" && IRC_JOIN_SUMMARY.test(head)) {
      return { kind: "join" };
    }
    if (command === "PONG") {
      const count = Number(head.slice(head.lastIndexOf(":") + 1).trim());
      return Number.isFinite(count)
        ? { kind: "ack", count }
        : { kind: "other" };
    }
    if (head.startsWith("ERROR") || /^[45]\d\d$/.test(command)) {
      return { kind: "error" };
    }
    return { kind: "other" };
  },
  joinCount(line) {
    // chat summarises a big room's joins, at most once a second, in one
    // notice to the channel; ngircd and small rooms send one JOIN each.
    const match = IRC_JOIN_SUMMARY.exec(line);
    return match ? 1 + Number(match[1]) : 1;
  },
};

/** chat's IRC join summary: `:chat NOTICE #bench :c101 and 41 others joined`. */
const IRC_JOIN_SUMMARY = /^\S+ NOTICE #\S+ :\S+ and (\d+) others joined\r?$/;

/** A text-dialect join notice: `12:00 * c5 joined lobby (6 here)`. */
const TEXT_JOIN = /^\d\d:\d\d \* \S+(?: and (\d+) others?)? joined /;

/** chat's text dialect, as `nc` users speak it: a nickname line, then text. */
const text: WireDialect = {
  name: "text",
  suffixBytes: 0,
  echoesSender: true,
  hello: (nick) => `${nick}\n`,
  afterRegistered: () => "",
  say: (line) => `${line}\n`,
  ackRequest: () => "",
  pong: () => "",
  classify(head) {
    if (head.startsWith("* Welcome,")) return { kind: "ready" };
    if (head.startsWith("! ") || head.startsWith("* Bye:")) {
      return { kind: "error" };
    }
    if (TEXT_JOIN.test(head)) return { kind: "join" };
    return { kind: "other" };
  },
  joinCount(line) {
    const match = TEXT_JOIN.exec(line);
    return match ? 1 + Number(match[1] ?? 0) : 0;
  },
};

/** The dialect called `name`. */
export function dialectFor(name: string): WireDialect {
  if (name === "json") return json;
  if (name === "irc") return irc;
  if (name === "text") return text;
  throw new Error(`unknown dialect "${name}" (json, irc or text)`);
}
