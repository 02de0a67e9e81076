/**
 * How the hub's events read to an IRC client: `PRIVMSG`, `JOIN`, `PART`,
 * `NICK`, numerics, IRCv3 tags.
 *
 * Pure: a function of the event, the recipient's nickname and the
 * capabilities it asked for. Room messages render the same for every
 * recipient with the same capabilities, so {@linkcode ircEncoder} gives
 * them one shared encoding per capability set.
 *
 * @module
 */

import type {
  EventEncoder,
  PinnedNotice,
  RoomMessage,
  RoomRole,
  ServerEvent,
} from "../../../../protocol.ts";
import { quotePrefix, recallText } from "../../../shared/text_dialect.ts";
import {
  formatIrcMessage,
  splitForIrc,
  utf8ByteLength,
} from "./irc_message.ts";

/** The IRCv3 capabilities the door offers (docs/protocol.md, "IRC door"). */
export const IRC_CAPABILITIES = [
  "server-time",
  "message-tags",
  "echo-message",
  "batch",
  "multi-prefix",
  "cap-notify",
  "away-notify",
  "draft/message-redaction",
] as const;

/** One capability the door offers. */
export type IrcCapability = (typeof IRC_CAPABILITIES)[number];

/** Who an event is rendered for. */
export interface IrcView {
  /** The server's name, the source of numerics and notices. */
  server: string;
  /** The recipient's current nickname. */
  nick: string;
  /** The capabilities it enabled. */
  caps: ReadonlySet<IrcCapability>;
}

/** An IRC line holds 512 bytes with its CR LF, tags not counted. */
export const IRC_LINE_BYTES = 512;

/** The host part of every member's source (`alice!alice@chat`). */
const MEMBER_HOST = "chat";

/** A member's source: `nick!nick@chat`. */
export function memberSource(nick: string): string {
  return `${nick}!${nick}@${MEMBER_HOST}`;
}

/** The channel a room is on IRC: `lobby` → `#lobby`. */
export function channelOf(room: string): string {
  return `#${room}`;
}

/** The room a channel names, or `undefined` if it is not `#something`. */
export function roomOf(channel: string): string | undefined {
  return channel.startsWith("#") && channel.length > 1
    ? channel.slice(1)
    : undefined;
}

const CTCP = "\x01";

/** Tags for a message: its time and id where the recipient asked for them. */
function messageTags(
  view: IrcView,
  ts: number,
  id?: number,
  batch?: string,
): Record<string, string> | undefined {
  const tags: Record<string, string> = {};
  if (batch) tags.batch = batch;
  if (view.caps.has("server-time")) tags.time = new Date(ts).toISOString();
  if (id !== undefined && view.caps.has("message-tags")) {
    tags.msgid = String(id);
  }
  return Object.keys(tags).length > 0 ? tags : undefined;
}

/**
 * `PRIVMSG` lines for one text, cut so that each line fits in 512 bytes
 * (never inside a character), a `/me` as CTCP ACTION.
 */
function privmsgLines(
  source: string,
  target: string,
  text: string,
  me: boolean,
  tags: Record<string, string> | undefined,
): string {
  const head = `:${source} PRIVMSG ${target} :`;
  const room = IRC_LINE_BYTES - 2 - utf8ByteLength(head) -
    (me ? 9 : 0);
  let lines = "";
  for (const line of text.split("\n")) {
    for (const piece of splitForIrc(line === "" ? " " : line, room)) {
      const body = me ? `${CTCP}ACTION ${piece}${CTCP}` : piece;
      lines += formatIrcMessage({
        tags,
        prefix: source,
        command: "PRIVMSG",
        params: [target, body],
      });
    }
  }
  return lines;
}

function hhmm(ts: number): string {
  const time = new Date(ts);
  return `${String(time.getHours()).padStart(2, "0")}:${
    String(time.getMinutes()).padStart(2, "0")
  }`;
}

/**
 * One stored room message as IRC: live, or replayed as history (`replay`),
 * in a `batch` when the client has that capability; a client without
 * `server-time` sees a replayed message's time in its text.
 */
export function renderRoomMessage(
  message: RoomMessage,
  view: IrcView,
  replay?: { batch?: string },
): string {
  const said = quotePrefix(message.quote) + message.text;
  const batch = replay?.batch;
  const text = replay && !view.caps.has("server-time")
    ? `[${hhmm(message.ts)}] ${said}`
    : said;
  return privmsgLines(
    memberSource(message.from),
    channelOf(message.room),
    text,
    message.me === true,
    messageTags(view, message.ts, message.id, batch),
  );
}

function numeric(view: IrcView, code: string, ...params: string[]): string {
  return formatIrcMessage({
    prefix: view.server,
    command: code,
    params: [view.nick, ...params],
  });
}

function notice(view: IrcView, target: string, text: string): string {
  return formatIrcMessage({
    prefix: view.server,
    command: "NOTICE",
    params: [target, text],
  });
}

/**
 * `353` lines naming a channel's members, each line within 512 bytes.
 * Linear in the names: each is measured once (a 5,000-member room's NAMES
 * went to every newcomer, and re-encoding the growing line per name made
 * IRC joins quadratic in the line length too).
 */
export function namesLines(
  view: IrcView,
  room: string,
  users: readonly string[],
): string {
  const channel = channelOf(room);
  const head = `:${view.server} 353 ${view.nick} = ${channel} :`;
  const budget = IRC_LINE_BYTES - 2 - utf8ByteLength(head);
  let lines = "";
  let names: string[] = [];
  let bytes = 0;
  for (const user of users) {
    const size = utf8ByteLength(user);
    const next = names.length === 0 ? size : bytes + 1 + size;
    if (next > budget && names.length > 0) {
      lines += numeric(view, "353", "=", channel, names.join(" "));
      names = [user];
      bytes = size;
    } else {
      names.push(user);
      bytes = next;
    }
  }
  if (names.length > 0) {
    lines += numeric(view, "353", "=", channel, names.join(" "));
  }
  return lines + numeric(view, "366", channel, "End of /NAMES list.");
}

let batchCounter = 0;

/** What a welcome into a room reads like: JOIN, topic, names, history. */
export function renderWelcome(
  event: Extract<ServerEvent, { type: "welcome" }>,
  view: IrcView,
): string {
  const channel = channelOf(event.room);
  let lines = formatIrcMessage({
    prefix: memberSource(event.nick),
    command: "JOIN",
    params: [channel],
  });
  // 331 when no topic is set too: irssi opens the channel's window then,
  // where without it the window stayed blank (tried 2026-12-01).
  lines += topicLines(view, event.room, event.notice);
  lines += namesLines(view, event.room, withOps(event.users, event.roles));
  if (event.history.length === 0) return lines;
  const useBatch = view.caps.has("batch");
  const batch = useBatch ? `h${++batchCounter}` : undefined;
  if (batch) {
    lines += formatIrcMessage({
      prefix: view.server,
      command: "BATCH",
      params: [`+${batch}`, "chathistory", channel],
    });
  }
  for (const message of event.history) {
    lines += renderRoomMessage(message, view, { batch });
  }
  if (batch) {
    lines += formatIrcMessage({
      prefix: view.server,
      command: "BATCH",
      params: [`-${batch}`],
    });
  }
  return lines;
}

/**
 * A channel's topic, which is its room's pinned notice: `332` with the
 * text and `333` with who pinned it and when, or `331` when none is.
 */
export function topicLines(
  view: IrcView,
  room: string,
  pinned: PinnedNotice | undefined,
): string {
  const channel = channelOf(room);
  if (!pinned || pinned.text === "") {
    return numeric(view, "331", channel, "No topic is set");
  }
  return numeric(view, "332", channel, pinned.text) +
    numeric(
      view,
      "333",
      channel,
      pinned.by,
      String(Math.floor(pinned.ts / 1000)),
    );
}

/** IRC numerics for the hub's error codes; the rest become a NOTICE. */
const ERROR_NUMERICS: Partial<Record<string, string>> = {
  nick_taken: "433",
  nick_invalid: "432",
  no_such_user: "401",
  room_invalid: "479",
  not_in_room: "442",
  bad_password: "464",
};

/**
 * Renders one event for one recipient. A message or private message renders
 * the same for everyone with the same capabilities, the sender included, so
 * its bytes are shared; whether the sender sees its own echo is the door's
 * decision ({@linkcode isOwnEcho}).
 */
export function renderIrc(event: ServerEvent, view: IrcView): string {
  switch (event.type) {
    case "msg":
      return renderRoomMessage(event, view);
    case "dm": {
      return privmsgLines(
        memberSource(event.from),
        event.to,
        event.text,
        false,
        messageTags(view, event.ts, event.id),
      );
    }
    case "welcome":
      return renderWelcome(event, view);
    case "join":
      if (event.others) {
        return notice(
          view,
          channelOf(event.room),
          `${event.nick} and ${event.others} others joined`,
        );
      }
      // The owner or an admin arriving is an operator at once, as a
      // channel service would make it: `MODE +o` follows its JOIN.
      return formatIrcMessage({
        tags: messageTags(view, event.ts),
        prefix: memberSource(event.nick),
        command: "JOIN",
        params: [channelOf(event.room)],
      }) + (event.role
        ? formatIrcMessage({
          tags: messageTags(view, event.ts),
          prefix: view.server,
          command: "MODE",
          params: [channelOf(event.room), "+o", event.nick],
        })
        : "");
    case "leave":
      if (event.others) {
        return notice(
          view,
          channelOf(event.room),
          `${event.nick} and ${event.others} others left`,
        );
      }
      // A member who left one room parted it; one who left the server
      // (its leave carries why) quit, which IRC says once, not per channel.
      return formatIrcMessage({
        tags: messageTags(view, event.ts),
        prefix: memberSource(event.nick),
        command: event.reason === undefined ? "PART" : "QUIT",
        params: event.reason === undefined
          ? [channelOf(event.room)]
          : [event.reason],
      });
    case "nick":
      return formatIrcMessage({
        tags: messageTags(view, event.ts),
        prefix: memberSource(event.old),
        command: "NICK",
        params: [event.new],
      });
    case "who":
      return namesLines(view, event.room, withOps(event.users, event.roles));
    case "mod":
      return modLines(event, view, false);
    case "bans":
      return banListLines(view, event);
    case "info":
      return notice(view, view.nick, event.text);
    case "notice":
      // The pinned notice is the channel's topic.
      return formatIrcMessage({
        tags: messageTags(view, event.ts),
        prefix: memberSource(event.by),
        command: "TOPIC",
        params: [channelOf(event.room), event.text],
      });
    case "recall":
      // draft/message-redaction: the client takes the message away itself;
      // any other is told in words (the spec's fallback).
      if (view.caps.has("draft/message-redaction")) {
        return formatIrcMessage({
          tags: messageTags(view, event.ts),
          prefix: memberSource(event.by),
          command: "REDACT",
          params: [channelOf(event.room), String(event.id)],
        });
      }
      return notice(view, channelOf(event.room), recallText(event));
    case "upload_ready":
      // IRC has no upload; only the JSON dialect asks for one.
      return "";
    case "search": {
      let lines = notice(
        view,
        view.nick,
        `${event.results.length} found for "${event.text}"`,
      );
      for (const hit of event.results) {
        lines += notice(
          view,
          view.nick,
          `${hhmm(hit.ts)} ${channelOf(hit.room)} ${hit.from}: ${
            hit.text.replaceAll("\n", " ")
          }`,
        );
      }
      return lines;
    }
    case "part":
      // The door shows the client its own PART as it sends it.
      return "";
    case "history": {
      // IRC asks for no pages of history; rendered like a welcome's replay.
      let lines = "";
      for (const message of event.messages) {
        lines += renderRoomMessage(message, view, {});
      }
      return lines;
    }
    case "rooms": {
      let lines = numeric(view, "321", "Channel", "Users  Name");
      for (const room of event.rooms) {
        lines += numeric(
          view,
          "322",
          channelOf(room.name),
          String(room.users),
          "",
        );
      }
      return lines + numeric(view, "323", "End of /LIST");
    }
    case "error": {
      const code = ERROR_NUMERICS[event.code];
      if (code === "433" || code === "432") {
        return numeric(view, code, "*", event.message);
      }
      if (code) return numeric(view, code, event.message);
      return notice(view, view.nick, event.message);
    }
    case "pong":
      return formatIrcMessage({
        prefix: view.server,
        command: "PONG",
        params: [view.server],
      });
    case "away":
      return view.caps.has("away-notify")
        ? awayLine(event.nick, event.text)
        : "";
    case "bye":
      return formatIrcMessage({
        command: "ERROR",
        params: [`Closing Link: ${event.reason}`],
      });
  }
}

/** The ban mask IRC shows for a ban of `nick` (bans here are by nickname). */
function banMask(nick: string): string {
  return `${nick}!*@*`;
}

/**
 * The nickname a ban mask names (`bob`, `bob!*@*`, `bob!bob@chat`), or
 * `undefined` for a mask by host or with wildcards in the nick, which a
 * ban by nickname cannot honour.
 */
export function nickOfMask(mask: string): string | undefined {
  const nick = mask.split("!")[0];
  return nick === "" || /[*?]/.test(nick) ? undefined : nick;
}

/**
 * Whether an IRC mask (`*` any run, `?` any one character, ASCII case
 * ignored) matches `source` (`nick!user@host`).
 */
export function maskMatches(mask: string, source: string): boolean {
  const pattern = mask.replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replaceAll("*", ".*").replaceAll("?", ".");
  return new RegExp(`^${pattern}$`, "is").test(source);
}

/**
 * A moderation action as IRC shows it, from whoever took it: a kick as
 * `KICK`; a ban as `MODE +b nick!*@*` and, when its target is in the room
 * (`targetInRoom`), a `KICK` whose reason is the ban's; an unban as
 * `MODE -b`; `op`/`deop` as `MODE +o`/`-o`; `muteall` as `MODE +m`/`-m`.
 * Mutes have no IRC form: a notice to the channel in the server's words.
 */
export function modLines(
  event: Extract<ServerEvent, { type: "mod" }>,
  view: IrcView,
  targetInRoom: boolean,
): string {
  const channel = channelOf(event.room);
  const line = (command: string, params: string[]) =>
    formatIrcMessage({
      tags: messageTags(view, event.ts),
      prefix: memberSource(event.by),
      command,
      params,
    });
  const nick = event.nick;
  switch (event.action) {
    case "kick":
      if (nick === undefined) break;
      return line("KICK", [channel, nick, event.reason ?? event.by]);
    case "ban":
      if (nick === undefined) break;
      return line("MODE", [channel, "+b", banMask(nick)]) +
        (targetInRoom
          ? line("KICK", [channel, nick, event.reason ?? event.text])
          : "");
    case "unban":
      if (nick === undefined) break;
      return line("MODE", [channel, "-b", banMask(nick)]);
    case "op":
    case "deop":
      if (nick === undefined) break;
      return line("MODE", [channel, event.action === "op" ? "+o" : "-o", nick]);
    case "muteall":
      return line("MODE", [channel, event.on ? "+m" : "-m"]);
  }
  return notice(view, channel, event.text);
}

/** `MODE #chan b` answered from the hub's list: one `367` per ban, then `368`. */
export function banListLines(
  view: IrcView,
  event: Extract<ServerEvent, { type: "bans" }>,
): string {
  const channel = channelOf(event.room);
  let lines = "";
  for (const ban of event.bans) {
    lines += numeric(view, "367", channel, banMask(ban.nick), ban.by);
  }
  return lines + numeric(view, "368", channel, "End of channel ban list");
}

/**
 * IRCv3 away-notify's line: `:bob!bob@chat AWAY :at lunch` when `nick`
 * went away, `:bob!bob@chat AWAY` when it came back.
 */
export function awayLine(nick: string, text: string | undefined): string {
  return formatIrcMessage({
    prefix: memberSource(nick),
    command: "AWAY",
    params: text === undefined ? [] : [text],
  });
}

/** Nicknames as NAMES shows them: the owner and admins with IRC's `@`. */
export function withOps(
  users: readonly string[],
  roles: Readonly<Record<string, RoomRole>> | undefined,
): readonly string[] {
  if (!roles) return users;
  return users.map((u) => roles[u] ? `@${u}` : u);
}

/**
 * The encoder for a member with these capabilities: events everyone sees
 * (messages, joins, leaves, renames) render the same for everyone with the
 * same capabilities, so members share one encoding per capability set.
 */
export function ircEncoder(view: IrcView): EventEncoder {
  const caps = [...view.caps].sort().join(",");
  return {
    id: `irc:${caps}`,
    render: (event) => renderIrc(event, view),
  };
}

/**
 * True for the echo of a member's own message, which an IRC client shows
 * only if it asked for `echo-message` (otherwise it printed it already).
 */
export function isOwnEcho(event: ServerEvent, nick: string): boolean {
  return (event.type === "msg" || event.type === "dm") && event.from === nick;
}
