/**
 * The wire protocol: frames, their validation, and line framing.
 *
 * docs/protocol.md is the contract; this module is its executable form. It is
 * pure: no sockets, no clocks, no storage.
 *
 * @module
 */

import { PROTOCOL_LIMITS } from "./src/shared/limits.ts";
import { type NickProblem, nickProblem } from "./src/shared/sanitize.ts";

/** Version reported in `welcome.server.version` and by `chat --version`. */
export const VERSION = "0.2.0";

// ---------------------------------------------------------------------------
// Errors

/** Every error code the server can send, with the human wording of each. */
export const ERROR_MESSAGES = {
  bad_json: "that line is not valid JSON",
  bad_frame: "that frame has a missing or wrong field",
  unknown_type: "unknown frame type",
  unknown_command: "unknown command (try /help)",
  not_ready: "say hello first",
  already_joined: "you have already said hello",
  nick_invalid:
    "a nickname is 1–24 letters, digits, _ or -, starting with a letter or digit",
  nick_taken: "that nickname is taken",
  room_invalid: "a room name is 1–32 letters, digits, _ or -",
  empty: "empty message, nothing sent",
  text_too_long: "message too long (at most 4000 characters)",
  too_long: "line too long (at most 16 KiB), discarded",
  invalid_utf8: "that line is not valid UTF-8",
  bad_text: "that line holds a NUL byte (binary data?); nothing was sent",
  no_such_user: "no such user",
  bad_password: "wrong password",
  rate_limited: "slow down: message not delivered",
  server_full: "server full, try again later",
  store_failed: "the server could not store that message; it was not sent",
  not_in_room: "you are not in that room (/join it first)",
  too_many_rooms: "you are in as many rooms as you may be: /part one first",
  rooms_full:
    "this server has as many rooms as it keeps: join one that exists (/rooms)",
  too_many_lines:
    `message has too many lines (at most ${PROTOCOL_LIMITS.maxTextLines})`,
  no_such_message:
    "no such message in that room to reply to (it may have been removed)",
  at_all_limit:
    "@all was used as often as this room may today; message not sent (drop the @all to send it)",
  at_all_not_allowed:
    "only the owner and admins may call @all while one of them is here; message not sent",
  account_password:
    "that nickname is registered: connect with it and its password",
  already_registered: "that nickname is registered already",
  not_registered: "you are not signed in to a registered nickname (/register)",
  password_invalid: "a password is 6–200 characters without spaces",
  not_allowed: "only the owner and admins of this room may do that",
  muted: "you are muted in this room: you may read but not speak",
  banned: "you are banned from this room",
  recall_expired:
    "a message can be recalled by its sender for 2 minutes only (admins may recall any)",
  file_too_large:
    "that file is larger than this server takes; nothing was sent",
  files_quota_full:
    "this server's space for shared files is full; nothing was sent (ask its owner, or recall old files)",
  too_many_uploads:
    "you are sending files too fast; wait a minute and try again",
  uploads_off: "this server does not take files",
} as const;

/** One of the server's error codes. */
export type ErrorCode = keyof typeof ERROR_MESSAGES;

/** The wording of a `nick_invalid` refusal, by what is wrong with the name. */
export const NICK_PROBLEM_MESSAGES: Readonly<Record<NickProblem, string>> = {
  malformed: ERROR_MESSAGES.nick_invalid,
  invisible: "a nickname may not hold invisible or filler characters",
  marks: "a nickname may not stack combining marks",
  mixed_scripts: "nicknames may not mix scripts like Latin and Cyrillic",
};

/**
 * The wording of error `code` when it refuses `nick`: what is wrong with the
 * name for `nick_invalid`, the code's own wording otherwise.
 */
export function nickErrorMessage(code: ErrorCode, nick: string): string {
  if (code !== "nick_invalid") return ERROR_MESSAGES[code];
  return NICK_PROBLEM_MESSAGES[nickProblem(nick.trim()) ?? "malformed"];
}

// ---------------------------------------------------------------------------
// Client → server

/** A room to be in, and where to resume it. */
export interface RoomResume {
  room: string;
  /** Replay every stored message of this room with a larger id. */
  since?: number;
}

/** The first JSON frame of a connection. */
export interface HelloFrame {
  type: "hello";
  nick: string;
  /** The current room, joined last. @default {the server's `--room`} */
  room?: string;
  password?: string;
  /** Resume `room`: replay every stored message of it with a larger id. */
  since?: number;
  /** More rooms to be in, each joined (and welcomed) before `room`. */
  rooms?: RoomResume[];
}

/** A frame a client sends after its hello. */
export type CommandFrame =
  /**
   * A message to `room` (one you are in), or to your current room; it may
   * hold `\n`. `reply_to` answers an earlier message of the same room.
   */
  | { type: "say"; text: string; room?: string; reply_to?: number }
  | { type: "me"; text: string; room?: string }
  | { type: "dm"; to: string; text: string }
  | { type: "nick"; nick: string }
  /** Join a room (or, if you are in it, make it current), resuming after `since`. */
  | { type: "join"; room: string; since?: number }
  /** Leave one room (default: the current one), staying in the others. */
  | { type: "part"; room?: string }
  /** Who is in `room` (default: your current one), 200 from `offset` on. */
  | { type: "who"; room?: string; offset?: number }
  | HistoryFrame
  | { type: "rooms" }
  /** Search the messages of your rooms (or of `room`, one of yours). */
  | { type: "search"; text: string; room?: string }
  | { type: "ping" }
  | { type: "quit"; reason?: string }
  | UploadFrame
  | ModerationFrame;

/**
 * Asks to share a file with `room` (default: the current one): the server
 * checks what it can before any byte is sent and answers `upload_ready`
 * (where to `PUT` the bytes) or an `error`. The room sees the file's message
 * once its bytes are stored (docs/protocol.md, "Files and pictures").
 */
export interface UploadFrame {
  type: "upload";
  /** The file's name; the server cleans it (no folders, no control characters). */
  name: string;
  /** Its size in bytes: the `Content-Length` of the upload, exactly. */
  size: number;
  /** What the sender says it is; the server checks pictures by their bytes. @default {"application/octet-stream"} */
  mime?: string;
  room?: string;
  /** The file's message answers this earlier message of the room. */
  reply_to?: number;
}

/**
 * Accounts and moderation (README "Running the group"): each frame acts in
 * `room` (default: the current one); who may send which is the command
 * registry's `role` (src/shared/commands.ts).
 */
export type ModerationFrame =
  /** Registers your current nickname with this password. */
  | { type: "register"; password: string }
  /** Changes your account's password. */
  | { type: "password"; old: string; new: string }
  /** Owner only: makes a registered member an admin of the room, or not. */
  | { type: "op" | "deop"; nick: string; room?: string }
  /** Mutes for `seconds` (default 10 minutes, at most 30 days). */
  | { type: "mute"; nick: string; seconds?: number; room?: string }
  | { type: "unmute"; nick: string; room?: string }
  /** Only the owner and admins may speak in the room while on. */
  | { type: "muteall"; on: boolean; room?: string }
  | { type: "kick"; nick: string; reason?: string; room?: string }
  /** Kicks and keeps out for `seconds` (default: for ever, at most 30 days). */
  | {
    type: "ban";
    nick: string;
    seconds?: number;
    reason?: string;
    room?: string;
  }
  | { type: "unban"; nick: string; room?: string }
  | { type: "bans"; room?: string }
  /**
   * The room's pinned notice: without `text`, show it; with `text`, set it
   * (owner and admins; `""` clears it).
   */
  | { type: "notice"; text?: string; room?: string }
  /**
   * Recalls message `id`, or `nick`'s last one in the room (default: your
   * own last one): your own within 2 minutes, anyone's if you are the
   * room's owner or an admin.
   */
  | { type: "recall"; id?: number; nick?: string; room?: string };

/** A room's pinned notice (`/notice`). */
export interface PinnedNotice {
  /** The notice; empty once cleared. */
  text: string;
  /** Who set it. */
  by: string;
  /** When, ms since the epoch. */
  ts: number;
}

/** A role in a room, as events show it; absent means an ordinary member. */
export type RoomRole = "owner" | "admin";

/** What a moderation event reports. */
export type ModerationActionName =
  | "op"
  | "deop"
  | "mute"
  | "unmute"
  | "muteall"
  | "kick"
  | "ban"
  | "unban";

/**
 * Asks for a page of the room's stored messages: the newest `limit` with an
 * id below `before` (and above `after`), answered by a `history` event. To
 * scroll back, ask again with `before` set to the first id received.
 */
export interface HistoryFrame {
  type: "history";
  /** The room; one the sender is in. @default {the sender's current room} */
  room?: string;
  /** Only messages with a smaller id. @default {none: the newest} */
  before?: number;
  /** Only messages with a larger id (a resume's `since`). @default {0} */
  after?: number;
  /** At most this many (the server caps it at 1,000). @default {--history} */
  limit?: number;
}

/** Any frame a client may send. */
export type ClientFrame = HelloFrame | CommandFrame;

// ---------------------------------------------------------------------------
// Server → client

/** One wire encoding of server events; members that share it share bytes. */
export interface EventEncoder {
  /**
   * Identifies the encoding: two encoders with the same `id` must render
   * every event to the same text.
   */
  readonly id: string;
  /** The event as it goes on the wire, line ending(s) included. */
  render(event: ServerEvent): string;
}

/**
 * The protocol's own encoding, one JSON object per line: the JSON door's,
 * and the one the hub may pre-encode a welcome for.
 */
export const JSON_LINES: EventEncoder = {
  id: "json",
  render: (event) => JSON.stringify(event) + "\n",
};

/** The start of the message a reply answers, looked up once when sent. */
export interface Quote {
  id: number;
  from: string;
  /** The first characters of its text (at most 50, `…` when cut). */
  text: string;
  /**
   * True once the original was recalled: `text` is then `(recalled)`, and
   * clients show the quote as recalled, not as words someone wrote.
   */
  recalled?: true;
}

/** A file shared in a room, as its message carries it. */
export interface FileInfo {
  /** The file's id: unguessable, so its link is what lets one fetch it. */
  id: string;
  /** Its name, cleaned. */
  name: string;
  /** Its size in bytes. */
  size: number;
  /**
   * What it is: a picture's type as its bytes show it (`image/png`,
   * `image/jpeg`, `image/gif`, `image/webp`), else what the sender said.
   */
  mime: string;
  /** Where to fetch it on this server: `/f/ID/NAME` (a path, name encoded). */
  url: string;
  /** True for a picture the server shows inline (a thumbnail may use `url`). */
  inline?: boolean;
}

/** A room message as stored and replayed in history. */
export interface RoomMessage {
  type: "msg";
  id: number;
  ts: number;
  room: string;
  from: string;
  /** May hold `\n` (a multi-line message); never `\r` or other controls. */
  text: string;
  me?: boolean;
  /** The id of the message this one answers, in the same room. */
  reply_to?: number;
  /** Who and what it answers (absent if the original was not found). */
  quote?: Quote;
  /** The members named with `@nick` who were in the room, as they are called. */
  mentions?: string[];
  /** Set when the message calls everyone in the room with `@all`. */
  all?: boolean;
  /** The file this message shares; `text` names it with an absolute link. */
  file?: FileInfo;
}

/** One message found by a `search`. */
export interface SearchHit {
  id: number;
  ts: number;
  room: string;
  from: string;
  text: string;
}

/** A private message (never stored). */
export interface DirectMessage {
  type: "dm";
  id: number;
  ts: number;
  from: string;
  to: string;
  text: string;
}

/** What `welcome` says about the server. */
export interface ServerInfo {
  name: string;
  version: string;
  /** Messages per second a client may send (0: no limit), and the burst. */
  rate?: number;
  burst?: number;
  /**
   * Messages a welcome without `since` holds (`--history`): one cut by its
   * bytes holds fewer and says `more`, and a client may page for the rest.
   */
  history?: number;
}

/** Every event the server sends, a union discriminated on `type`. */
export type ServerEvent =
  | {
    type: "welcome";
    nick: string;
    /** The room this welcome is for; it is now your current room. */
    room: string;
    users: string[];
    history: RoomMessage[];
    /** True when older messages (after `since`, if given) were left out. */
    more?: boolean;
    server: ServerInfo;
    /** Every room you are in now, in the order you joined them. */
    rooms?: string[];
    /** Your role in this room, if you are its owner or an admin. */
    role?: RoomRole;
    /** The members of this room who are its owner or admins, by nickname. */
    roles?: Record<string, RoomRole>;
    /** True while only the owner and admins may speak here (`/muteall`). */
    mutedAll?: boolean;
    /** The room's pinned notice, if one is set. */
    notice?: PinnedNotice;
  }
  | RoomMessage
  | DirectMessage
  | {
    type: "join";
    ts: number;
    room: string;
    nick: string;
    users?: number;
    /** A big room's summary: this many joined besides `nick`. */
    others?: number;
    /** The newcomer's role in the room, when it is its owner or an admin. */
    role?: RoomRole;
  }
  | {
    type: "leave";
    ts: number;
    room: string;
    nick: string;
    reason?: string;
    users?: number;
    /** A big room's summary: this many left besides `nick`. */
    others?: number;
  }
  /**
   * A rename, sent once to each member who shares a room with the renamer;
   * `room` is one of those rooms (the recipient's current one if shared).
   * Nicknames are server-wide: apply it to every room.
   */
  | { type: "nick"; ts: number; room?: string; old: string; new: string }
  /**
   * You left `room`; `current` is your current room now (absent once you are
   * in no room), `rooms` all yours.
   */
  | {
    type: "part";
    ts: number;
    room: string;
    current?: string;
    rooms: string[];
  }
  | {
    type: "who";
    room: string;
    /** At most 200 names, from `offset` of the request on, in join order. */
    users: string[];
    /** How many are in the room. */
    total: number;
    /** The `offset` that asks for the next names, when there are more. */
    next?: number;
    /** The owner and admins among `users`. */
    roles?: Record<string, RoomRole>;
  }
  | {
    type: "history";
    room: string;
    /** Oldest first. */
    messages: RoomMessage[];
    /** True when older messages in the range asked for were left out. */
    more: boolean;
  }
  /**
   * A moderation action in `room`, sent to every member of it (the target
   * too); `text` is its wording ("bob was muted for 10 minutes by alice").
   */
  | {
    type: "mod";
    ts: number;
    room: string;
    action: ModerationActionName;
    by: string;
    /** Whom it acted on (absent for `muteall`). */
    nick?: string;
    /** How long a mute or ban lasts; absent: for ever (a ban) or not timed. */
    seconds?: number;
    reason?: string;
    /** For `muteall`: on or off. */
    on?: boolean;
    text: string;
  }
  /** The answer to `bans`: who is kept out of `room`, and until when. */
  | {
    type: "bans";
    room: string;
    bans: { nick: string; by: string; until?: number; reason?: string }[];
  }
  /**
   * The room's pinned notice: sent to every member when it is set or
   * cleared (`text` empty), and to you alone for `notice` without text.
   */
  | ({ type: "notice"; room: string } & PinnedNotice)
  /**
   * Message `id` of `nick` in `room` was recalled by `by` (`nick` itself,
   * or an admin): remove it from view; it is gone from history too.
   */
  | {
    type: "recall";
    ts: number;
    room: string;
    id: number;
    nick: string;
    by: string;
  }
  /** A line for you alone from the server ("nickname registered"). */
  | { type: "info"; text: string }
  /**
   * `nick` marked itself away (`text`, its away message) or back (no
   * `text`): sent once to each member who shares a room with it. IRC
   * clients set it with `AWAY` (docs/protocol.md, "IRC door").
   */
  | { type: "away"; ts: number; nick: string; text?: string }
  | {
    type: "rooms";
    rooms: { name: string; users: number }[];
    /** The rooms you are in, in the order you joined them. */
    joined?: string[];
    /** Your current room. */
    current?: string;
  }
  /**
   * The answer to `upload`: send the file's bytes with `PUT url` (a path on
   * this server) within `expires_in` seconds.
   */
  | {
    type: "upload_ready";
    token: string;
    url: string;
    expires_in: number;
    /** The room the file goes to. */
    room: string;
    /** The name it will have (cleaned). */
    name: string;
    size: number;
  }
  /** The answer to a `search`: at most 20 results, newest first. */
  | { type: "search"; text: string; room?: string; results: SearchHit[] }
  | { type: "error"; code: ErrorCode; message: string }
  | { type: "pong" }
  | { type: "bye"; reason: string };

/**
 * How a refusal line begins: a server that turns a newcomer away (it is
 * full, or the newcomer's address has too many connections) sends one plain
 * line saying why instead of its banner, then closes.
 */
export const REFUSAL_PREFIX = "Sorry, ";

/** True for a refusal line (see {@linkcode REFUSAL_PREFIX}). */
export function isRefusalLine(line: string): boolean {
  return line.startsWith(REFUSAL_PREFIX);
}

/** Builds the `error` event for a code, with its standard wording unless given. */
export function errorEvent(code: ErrorCode, message?: string): ServerEvent {
  return { type: "error", code, message: message ?? ERROR_MESSAGES[code] };
}

// ---------------------------------------------------------------------------
// Parsing client frames

/** The result of parsing one client line: a frame, or the error to send back. */
export type ParseResult =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: ErrorCode; message?: string };

function fail(code: ErrorCode, message?: string): ParseResult {
  return { ok: false, code, message };
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}

function isOptional<T>(
  value: unknown,
  check: (v: unknown) => v is T,
): value is T | undefined {
  return value === undefined || check(value);
}

function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) &&
    value >= 0;
}

/** The rooms of a hello: `[{room, since?}]`, checked entry by entry. */
function parseRoomList(value: unknown): RoomResume[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const rooms: RoomResume[] = [];
  for (const entry of value) {
    if (typeof entry !== "object" || entry === null) return undefined;
    const { room, since } = entry as Record<string, unknown>;
    if (!isString(room) || !isOptional(since, isId)) return undefined;
    rooms.push(since === undefined ? { room } : { room, since });
  }
  return rooms;
}

/**
 * Parses one JSON-dialect line into a frame, checking every field's type.
 * Field contents (nick rules, text length) are the hub's concern.
 *
 * @example
 * ```ts
 * parseClientFrame('{"type":"say","text":"hi"}');
 * // → { ok: true, frame: { type: "say", text: "hi" } }
 * ```
 */
export function parseClientFrame(line: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return fail("bad_json");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail("bad_frame", 'a frame is a JSON object with a "type"');
  }
  const f = value as Record<string, unknown>;
  switch (f.type) {
    case "hello": {
      const rooms = f.rooms === undefined ? undefined : parseRoomList(f.rooms);
      if (
        !isString(f.nick) || !isOptional(f.room, isString) ||
        !isOptional(f.password, isString) || !isOptional(f.since, isId) ||
        (f.rooms !== undefined && rooms === undefined)
      ) {
        return fail(
          "bad_frame",
          'hello needs "nick" (string), optional "room", "password" (strings), "since" (id), "rooms" ([{"room", "since"?}])',
        );
      }
      const frame: HelloFrame = {
        type: "hello",
        nick: f.nick,
        room: f.room,
        password: f.password,
        since: f.since,
      };
      if (rooms) frame.rooms = rooms;
      return { ok: true, frame };
    }
    case "say":
    case "me": {
      const replyTo = f.type === "say" ? f.reply_to : undefined;
      if (
        !isString(f.text) || !isOptional(f.room, isString) ||
        !isOptional(replyTo, isId)
      ) {
        return fail(
          "bad_frame",
          f.type === "say"
            ? 'say needs "text" (string), optional "room" (string), "reply_to" (id)'
            : 'me needs "text" (string), optional "room" (string)',
        );
      }
      const frame: CommandFrame = f.room === undefined
        ? { type: f.type, text: f.text }
        : { type: f.type, text: f.text, room: f.room };
      if (replyTo !== undefined && frame.type === "say") {
        frame.reply_to = replyTo;
      }
      return { ok: true, frame };
    }
    case "search":
      if (!isString(f.text) || !isOptional(f.room, isString)) {
        return fail(
          "bad_frame",
          'search needs "text" (string), optional "room" (string)',
        );
      }
      return {
        ok: true,
        frame: f.room === undefined
          ? { type: "search", text: f.text }
          : { type: "search", text: f.text, room: f.room },
      };
    case "dm":
      if (!isString(f.to) || !isString(f.text)) {
        return fail("bad_frame", 'dm needs "to" and "text" (strings)');
      }
      return { ok: true, frame: { type: "dm", to: f.to, text: f.text } };
    case "nick":
      if (!isString(f.nick)) {
        return fail("bad_frame", 'nick needs "nick" (string)');
      }
      return { ok: true, frame: { type: "nick", nick: f.nick } };
    case "join":
      if (!isString(f.room) || !isOptional(f.since, isId)) {
        return fail(
          "bad_frame",
          'join needs "room" (string), optional "since" (id)',
        );
      }
      return {
        ok: true,
        frame: f.since === undefined
          ? { type: "join", room: f.room }
          : { type: "join", room: f.room, since: f.since },
      };
    case "part":
    case "who":
      if (!isOptional(f.room, isString)) {
        return fail("bad_frame", `${f.type} takes an optional "room" (string)`);
      }
      if (f.type === "part") {
        return {
          ok: true,
          frame: f.room === undefined
            ? { type: "part" }
            : { type: "part", room: f.room },
        };
      }
      if (!isOptional(f.offset, isId)) {
        return fail("bad_frame", 'who takes an optional "offset" (number)');
      }
      return {
        ok: true,
        frame: {
          type: "who",
          ...(f.room === undefined ? {} : { room: f.room }),
          ...(f.offset === undefined ? {} : { offset: f.offset }),
        },
      };
    case "history":
      if (
        !isOptional(f.room, isString) || !isOptional(f.before, isId) ||
        !isOptional(f.after, isId) || !isOptional(f.limit, isId)
      ) {
        return fail(
          "bad_frame",
          'history takes optional "room" (string), "before", "after", "limit" (numbers)',
        );
      }
      return {
        ok: true,
        frame: {
          type: "history",
          room: f.room,
          before: f.before,
          after: f.after,
          limit: f.limit,
        },
      };
    case "rooms":
    case "ping":
      return { ok: true, frame: { type: f.type } };
    case "quit":
      if (!isOptional(f.reason, isString)) {
        return fail("bad_frame", 'quit takes an optional "reason" (string)');
      }
      return { ok: true, frame: { type: "quit", reason: f.reason } };
    case "upload":
      return parseUploadFrame(f);
    case "register":
    case "password":
    case "op":
    case "deop":
    case "mute":
    case "unmute":
    case "muteall":
    case "kick":
    case "ban":
    case "unban":
    case "bans":
    case "notice":
    case "recall":
      return parseModerationFrame(f.type, f);
    default:
      return fail(
        "unknown_type",
        isString(f.type)
          ? `unknown frame type "${f.type.slice(0, 40).toWellFormed()}"`
          : 'a frame needs a "type"',
      );
  }
}

/** Checks an `upload` frame's fields (their contents are the hub's concern). */
function parseUploadFrame(f: Record<string, unknown>): ParseResult {
  if (
    !isString(f.name) || !isId(f.size) || !isOptional(f.mime, isString) ||
    !isOptional(f.room, isString) || !isOptional(f.reply_to, isId)
  ) {
    return fail(
      "bad_frame",
      'upload needs "name" (string), "size" (bytes), optional "mime", "room" (strings), "reply_to" (id)',
    );
  }
  const frame: UploadFrame = { type: "upload", name: f.name, size: f.size };
  if (f.mime !== undefined) frame.mime = f.mime;
  if (f.room !== undefined) frame.room = f.room;
  if (f.reply_to !== undefined) frame.reply_to = f.reply_to;
  return { ok: true, frame };
}

/** Each moderation frame's fields: `?` marks an optional one. */
const MODERATION_FIELDS: Record<
  ModerationFrame["type"],
  Record<string, "string" | "string?" | "id?" | "boolean">
> = {
  register: { password: "string" },
  password: { old: "string", new: "string" },
  op: { nick: "string", room: "string?" },
  deop: { nick: "string", room: "string?" },
  mute: { nick: "string", seconds: "id?", room: "string?" },
  unmute: { nick: "string", room: "string?" },
  muteall: { on: "boolean", room: "string?" },
  kick: { nick: "string", reason: "string?", room: "string?" },
  ban: { nick: "string", seconds: "id?", reason: "string?", room: "string?" },
  unban: { nick: "string", room: "string?" },
  bans: { room: "string?" },
  notice: { text: "string?", room: "string?" },
  recall: { id: "id?", nick: "string?", room: "string?" },
};

/** Checks a moderation frame's fields against {@linkcode MODERATION_FIELDS}. */
function parseModerationFrame(
  type: ModerationFrame["type"],
  f: Record<string, unknown>,
): ParseResult {
  const fields = MODERATION_FIELDS[type];
  const frame: Record<string, unknown> = { type };
  for (const [name, kind] of Object.entries(fields)) {
    const value = f[name];
    const ok = kind === "string"
      ? isString(value)
      : kind === "boolean"
      ? typeof value === "boolean"
      : kind === "string?"
      ? isOptional(value, isString)
      : isOptional(value, isId);
    if (!ok) {
      const wanted = Object.entries(fields).map(([n, k]) =>
        `"${n}" (${k.replace("?", "").replace("id", "number")}${
          k.endsWith("?") ? ", optional" : ""
        })`
      ).join(", ");
      return fail("bad_frame", `${type} takes ${wanted}`);
    }
    if (value !== undefined) frame[name] = value;
  }
  return { ok: true, frame: frame as ModerationFrame };
}

/**
 * Parses one server line (JSON dialect) into an event. Returns `undefined` for
 * a line that is not a JSON object with a string `type` (the banner, for one).
 */
export function parseServerEvent(line: string): ServerEvent | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value = JSON.parse(line);
    if (typeof value?.type === "string") return value as ServerEvent;
  } catch {
    // Not an event: callers treat it like any other non-JSON line.
  }
  return undefined;
}

const encoder = new TextEncoder();

/** Encodes a frame or event as one JSON line, newline included. */
export function encodeJsonLine(value: ClientFrame | ServerEvent): Uint8Array {
  return encoder.encode(JSON.stringify(value) + "\n");
}

// ---------------------------------------------------------------------------
// Line framing

/** What {@linkcode LineSplitter} hands to its consumer. */
export type LinePiece =
  | { kind: "line"; bytes: Uint8Array }
  | { kind: "too_long" };

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Splits a byte stream into lines on `\n` (a `\r` before it is dropped),
 * enforcing the frame limit on the bytes as they arrive: a line that grows
 * past `maxBytes` is reported once as `too_long` and the rest of it, up to its
 * newline, is discarded without being buffered, so memory never grows with a
 * line.
 */
export class LineSplitter {
  #parts: Uint8Array[] = [];
  #partBytes = 0;
  #discarding = false;
  #maxBytes: number;

  /** @param maxBytes the longest line kept, newline excluded. @default {16384} */
  constructor(maxBytes: number = PROTOCOL_LIMITS.maxFrameBytes) {
    this.#maxBytes = maxBytes;
  }

  /** True when bytes of an unfinished line are held. */
  get hasPartial(): boolean {
    return this.#partBytes > 0;
  }

  /** Feeds a chunk; calls `emit` for each complete line or overflow. */
  push(chunk: Uint8Array, emit: (piece: LinePiece) => void): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      if (this.#discarding) {
        if (newline !== -1) this.#discarding = false;
      } else if (this.#partBytes + (end - start) > this.#maxBytes + 1) {
        // +1 leaves room for a `\r` that belongs to a `\r\n`.
        this.#parts = [];
        this.#partBytes = 0;
        this.#discarding = newline === -1;
        emit({ kind: "too_long" });
      } else if (newline === -1) {
        this.#parts.push(chunk.slice(start, end));
        this.#partBytes += end - start;
      } else {
        const line = this.#join(chunk.subarray(start, end));
        const length = line.length > 0 && line[line.length - 1] ===
            CARRIAGE_RETURN
          ? line.length - 1
          : line.length;
        if (length > this.#maxBytes) emit({ kind: "too_long" });
        else emit({ kind: "line", bytes: line.subarray(0, length) });
      }
      if (newline === -1) break;
      start = newline + 1;
    }
  }

  /** Takes whatever unfinished line is held (for EOF or an unframed peer). */
  takePartial(): Uint8Array | undefined {
    if (this.#partBytes === 0) return undefined;
    const line = this.#join(new Uint8Array(0));
    return line;
  }

  #join(tail: Uint8Array): Uint8Array {
    if (this.#parts.length === 0) return tail;
    const line = new Uint8Array(this.#partBytes + tail.length);
    let offset = 0;
    for (const part of this.#parts) {
      line.set(part, offset);
      offset += part.length;
    }
    line.set(tail, offset);
    this.#parts = [];
    this.#partBytes = 0;
    return line;
  }
}

/**
 * A `TransformStream` of bytes into decoded lines (invalid UTF-8 replaced),
 * for code that reads a server with Web streams, such as the client.
 */
export class LineStream extends TransformStream<Uint8Array, string> {
  /** @param maxBytes lines longer than this are dropped. */
  constructor(maxBytes = 1024 * 1024) {
    const splitter = new LineSplitter(maxBytes);
    const decoder = new TextDecoder();
    super({
      transform(chunk, controller) {
        splitter.push(chunk, (piece) => {
          if (piece.kind === "line") {
            controller.enqueue(decoder.decode(piece.bytes));
          }
        });
      },
      flush(controller) {
        const rest = splitter.takePartial();
        if (rest) controller.enqueue(decoder.decode(rest));
      },
    });
  }
}
