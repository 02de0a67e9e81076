/**
 * The IRC door on a connection: the protocol is {@linkcode IrcSession}
 * (irc_session.ts), behind its {@linkcode IrcPort}; this module is that
 * port, with the same admission, limits and hub as every other dialect, and
 * the keepalive ping IRC clients expect from a server.
 *
 * @module
 */

import { ERROR_MESSAGES, type ErrorCode } from "../../../../protocol.ts";
import { COMMAND_COSTS } from "../../admission.ts";
import type { Outgoing, OutgoingBatch } from "../../hub.ts";
import { nickKey } from "../../../shared/sanitize.ts";
import type { Dialect, DoorLink } from "../dialect.ts";
import type { LineRefusal } from "../line_reader.ts";
import { formatIrcMessage, parseIrcLine } from "./irc_message.ts";
import { type IrcPort, IrcSession } from "./irc_session.ts";

const encoder = new TextEncoder();

/** An IRC client's connection, from its registration on. */
export class IrcDialect implements Dialect {
  #link: DoorLink;
  #irc: IrcSession;
  /** The registered nickname an IRC client's `PASS` proved, if any. */
  #account: string | undefined;
  #pingSentAt = 0;
  #pingTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * UTF-8 only, as the welcome's `UTF8ONLY` says: an IRC client sets its
   * encoding itself, and a line of GBK is refused, never guessed.
   */
  readonly readsLegacyText = false;
  /** IRC clients frame their lines. */
  readonly writesSmall = false;

  /** @param link the connection it speaks on; the ping timer starts now. */
  constructor(link: DoorLink) {
    this.#link = link;
    this.#irc = new IrcSession(this.#port());
    this.#schedulePing();
  }

  /** An IRC client registers first: the server answers, never greets. */
  greet(): void {}

  /** Nothing waits for an IRC client's first bytes. */
  heard(): void {}

  /** One IRC line. */
  receiveLine(line: string): void {
    // Every IRC line is a reply's worth of work, whatever frame follows.
    if (!this.#link.policy.allow(COMMAND_COSTS.ping)) return;
    this.#irc.receive(line);
  }

  /** Queues one event: rendered for this client alone, or the shared bytes. */
  deliver(out: Outgoing): void {
    const irc = this.#irc;
    if (irc.isPersonal(out.event)) {
      const lines = irc.render(out.event);
      if (lines !== "") this.#link.enqueue(encoder.encode(lines));
      return;
    }
    for (const part of out.parts(irc.encoder)) this.#link.enqueue(part);
  }

  /** Queues a tick's room messages as one chunk, unless one is personal. */
  deliverBatch(batch: OutgoingBatch): void {
    const irc = this.#irc;
    if (batch.items.some((item) => irc.isPersonal(item.event))) {
      for (const item of batch.items) this.deliver(item);
      return;
    }
    // Room traffic: what can make this member hold its rooms back.
    this.#link.enqueue(batch.bytes(irc.encoder), true);
  }

  /**
   * A line of bytes that are not UTF-8 gets IRCv3's standard reply naming
   * its command, `FAIL PRIVMSG INVALID_UTF8 :…`, as a UTF8ONLY server's
   * clients expect; other refused lines a notice, like any `error`.
   */
  refuseLine(
    code: LineRefusal,
    message: string | undefined,
    bytes: Uint8Array | undefined,
  ): void {
    if (code !== "invalid_utf8") return this.#link.sendError(code, message);
    const line = formatIrcMessage({
      prefix: this.#link.settings.serverName,
      command: "FAIL",
      params: [
        bytes ? commandOf(bytes) : "*",
        "INVALID_UTF8",
        message ?? ERROR_MESSAGES.invalid_utf8,
      ],
    });
    this.#link.enqueue(encoder.encode(line));
  }

  /**
   * A refused registration, by the hub or by the address's pacing: either
   * way the client may try NICK again; an `error` event renders as IRC's
   * numeric.
   */
  helloRefused(code: ErrorCode, message: string): void {
    this.#irc.registrationFailed();
    this.#link.sendError(code, message);
  }

  /** Stops the ping timer. */
  close(): void {
    clearTimeout(this.#pingTimer);
  }

  /**
   * The server pings an IRC client that has been quiet for `--ping-seconds`
   * and drops one that stays quiet as long again: a vanished laptop must
   * not keep its nickname for the hours TCP keepalive takes.
   */
  #schedulePing(): void {
    const link = this.#link;
    const pingMs = link.settings.pingMs;
    if (!pingMs || link.closed) return;
    this.#pingTimer = setTimeout(() => {
      const now = Date.now();
      const quiet = now - link.lastHeardAt;
      if (this.#pingSentAt > link.lastHeardAt) {
        if (now - this.#pingSentAt >= pingMs) {
          return link.close("ping timeout", {
            type: "bye",
            reason: `ping timeout: ${Math.round(quiet / 1000)} seconds`,
          });
        }
      } else if (quiet >= pingMs) {
        this.#pingSentAt = now;
        link.enqueue(encoder.encode(`PING :${link.settings.serverName}\r\n`));
      }
      this.#schedulePing();
    }, Math.max(250, pingMs / 4));
  }

  #port(): IrcPort {
    const link = this.#link;
    const settings = link.settings;
    const hub = settings.hub;
    return {
      serverName: settings.serverName,
      needsPassword: settings.password !== undefined,
      startedAt: settings.startedAt,
      checkNick: (nick) => hub.checkNick(nick),
      isRegistered: (nick) => hub.accounts.find(nick) !== undefined,
      checkPassword: (given, then, nick) =>
        link.policy.checkPassword(given ?? "", nick, (account) => {
          if (account !== undefined) this.#account = account;
          then();
        }),
      register: (nick) =>
        link.policy.hello({
          nick,
          signedIn: this.#account !== undefined &&
            nickKey(nick) === nickKey(this.#account),
        }),
      send: (frame) => {
        if (link.session) link.policy.command(frame);
      },
      roomsOf: (nick) => {
        const member = hub.findMember(nick);
        return member ? [...member.rooms] : undefined;
      },
      awayOf: (nick) => hub.findMember(nick)?.away,
      membersOf: (room) => hub.members(room).map((member) => member.nick),
      roleIn: (room) =>
        link.session ? hub.roleIn(link.session, room) : undefined,
      mutedAll: (room) => hub.isMutedAll(room),
      noticeOf: (room) => hub.noticeOf(room),
      setAway: (text) => {
        if (!link.session || !link.policy.allow(COMMAND_COSTS.away)) {
          return false;
        }
        hub.setAway(link.session, text);
        return true;
      },
      counts: () => ({ users: hub.size, rooms: hub.roomCount }),
      write: (lines) => link.enqueue(encoder.encode(lines)),
      writeAfterPending: (lines) =>
        hub.afterPending(() => {
          if (!link.closed) link.enqueue(encoder.encode(lines));
        }),
      quit: (reason) => link.close(reason, { type: "bye", reason }),
    };
  }
}

/**
 * The command of an IRC line that is not UTF-8, read as Latin-1 (a command
 * is ASCII; only its parameters can hold the bad bytes): `*` if none.
 */
export function commandOf(bytes: Uint8Array): string {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 512));
  const command = parseIrcLine(head)?.command ?? "";
  return /^([A-Za-z]+|\d{3})$/.test(command) ? command.toUpperCase() : "*";
}
