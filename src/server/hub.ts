/**
 * The chat core: rooms, membership, nicknames and broadcast decisions.
 *
 * It knows nothing about sockets. A connection is a {@linkcode Recipient} that
 * receives {@linkcode Outgoing} events; the server feeds the hub frames.
 * Everything here is synchronous, so tests drive it with fake recipients.
 *
 * A room message travels: {@linkcode Hub.handle} (`say`) checks and cleans the
 * text, gives it an id and queues it; {@linkcode Hub.flush} (once per tick)
 * stores the queue in one transaction, then hands each message, encoded once,
 * to every member of its room. The sender's own copy is the delivery receipt,
 * so nothing is echoed before it is stored.
 *
 * A member may be in several rooms at once (up to `maxRoomsPerMember`); one
 * of them is its current room, where a message that names no room goes. Each
 * room's events name it, so one connection carries all of them.
 *
 * @module
 */

import {
  type CommandFrame,
  type DirectMessage,
  type ErrorCode,
  errorEvent,
  type FileInfo,
  type HistoryFrame,
  JSON_LINES,
  nickErrorMessage,
  type PinnedNotice,
  type Quote,
  type RoomMessage,
  type RoomResume,
  type RoomRole,
  type ServerEvent,
  type ServerInfo,
  type UploadFrame,
  VERSION,
} from "../../protocol.ts";
import {
  BACKPRESSURE,
  MODERATION_LIMITS,
  PROTOCOL_LIMITS,
  ROOM_LIMITS,
  SERVE_DEFAULTS,
} from "../shared/limits.ts";
import {
  characterCount,
  cleanMessageText,
  cleanText,
  isValidRoom,
  lineCount,
  nickKey,
  nickProblem,
} from "../shared/sanitize.ts";
import { cleanFileName, cleanMimeType } from "../shared/file_names.ts";
import type { FileShelf } from "./file_shelf.ts";
import type { UploadDesk, UploadTicket } from "./upload_desk.ts";
import { findMentions } from "../shared/mentions.ts";
import { quoteOf } from "./reply_quote.ts";
import { RoomGates } from "./backpressure.ts";
import { DatabaseSync } from "node:sqlite";
import { Accounts } from "./accounts.ts";
import { GroupRules } from "./group_rules.ts";
import { dispatchFrame, type FrameHandlers } from "./command_handlers.ts";
import { ModerationBook } from "./moderation_book.ts";
import { NickIndex } from "./nick_index.ts";
import { NickRoster } from "./roster.ts";
import { describeCompany } from "../shared/welcome_company.ts";
import type { HistoryPage, MessageStore } from "./store.ts";
import { Outgoing, OutgoingBatch, type Recipient } from "./outgoing.ts";

const encoder = new TextEncoder();
const ERROR_MESSAGES_STORE_FAILED =
  "the server could not store the file's message; the file was not shared";
const DAY_MS = 24 * 60 * 60 * 1000;

export { Outgoing, OutgoingBatch, type Recipient } from "./outgoing.ts";

/** A member of the chat: one connection that has said hello. */
export class Session {
  /** Current nickname. */
  nick: string;
  /**
   * Current room: where a message that names no room goes; `undefined` once
   * it has left every room.
   */
  room: string | undefined;
  /**
   * Every room it is in, in the order it joined them, the current one
   * included. The hub keeps it; others only read it.
   */
  readonly rooms: Set<string> = new Set();
  /** When it joined, ms since the epoch. */
  readonly joinedAt: number;
  /** The registered nickname it signed in with (or registered), if any. */
  account?: string;
  /** Its address (an IP without port), for bans of guests. */
  address?: string;
  /** Its away message while it is marked away ({@linkcode Hub.setAway}). */
  away?: string;

  /** Use {@linkcode Hub.hello} to make one. */
  constructor(
    readonly recipient: Recipient,
    nick: string,
    room: string,
    joinedAt: number,
  ) {
    this.nick = nick;
    this.room = room;
    this.joinedAt = joinedAt;
  }

  /** Sends one event to this member alone. */
  send(event: ServerEvent): void {
    this.recipient.deliver(new Outgoing(event));
  }
}

/** Options for {@linkcode Hub}. */
export interface HubOptions {
  /** Where room messages are kept. */
  store: MessageStore;
  /** The room a hello without one joins. @default {"lobby"} */
  defaultRoom?: string;
  /** Messages in a welcome's history. @default {50} */
  history?: number;
  /** The server's name in `welcome`. @default {"chat"} */
  name?: string;
  /** The rate limit to announce in `welcome` (enforced by the server). */
  rate?: number;
  /** The burst to announce in `welcome`. */
  burst?: number;
  /** Rooms one member may be in at once. @default {20} */
  maxRoomsPerMember?: number;
  /** Rooms the server keeps at once; the default room is always open. @default {1000} */
  maxRooms?: number;
  /** `@all` messages one room may send a day (UTC); 0 = none. @default {3} */
  maxAtAllPerDay?: number;
  /** Called when messages are waiting for {@linkcode Hub.flush}. */
  requestFlush?: () => void;
  /**
   * The database holding accounts and moderation (tables of their own beside
   * the messages). @default {a fresh in-memory database}
   */
  database?: DatabaseSync;
  /** Writes one line to the server log (moderation actions). */
  log?: (line: string) => void;
  /** The clock. @default {Date.now} */
  now?: () => number;
  /**
   * Called when storing a batch fails, with the error and how many messages
   * were refused (each sender got `store_failed`).
   */
  onStoreError?: (error: unknown, messages: number) => void;
  /** Called once a batch of `messages` is stored, before it is sent. */
  onStored?: (messages: number) => void;
  /**
   * Called when a big room's summarised join or leave notice is waiting:
   * call {@linkcode Hub.flushNotices} after `delayMs`.
   */
  requestNotices?: (delayMs: number) => void;
  /**
   * Shared files: where uploads are granted, and where a recalled file
   * message's file is deleted. Absent: `upload` is refused (`uploads_off`).
   */
  files?: HubFiles;
}

/** The hub's part of shared files (docs/protocol.md, "Files and pictures"). */
export interface HubFiles {
  /** Grants upload tokens, after the hub's own checks. */
  desk: UploadDesk<Session>;
  /** The stored files: a recall deletes its message's. */
  shelf: FileShelf;
}

/** A message waiting for the tick's commit; `done` hears whether it was stored. */
interface PendingMessage {
  message: RoomMessage;
  sender: Session;
  done?: (stored: RoomMessage | undefined) => void;
}

/** A big room's joins or leaves since its last summary. */
interface NoticeSummary {
  /** The first of them, named in the notice. */
  nick: string;
  /** How many in all. */
  count: number;
}

/** A hello, checked for field types by the protocol codec. */
export interface HelloRequest {
  nick: string;
  /** The current room, joined last (default: the last of `rooms`, else the server's). */
  room?: string;
  /** Resume the current room after this id. */
  since?: number;
  /** More rooms to be in, each joined and welcomed in order before `room`. */
  rooms?: readonly RoomResume[];
  /** True when the door checked the password of registered `nick`. */
  signedIn?: boolean;
  /** The connection's address, for bans of guests. */
  address?: string;
}

/** Rooms, members and broadcast. See the module doc for a message's path. */
export class Hub {
  /**
   * The rooms' backpressure gates: a member that falls behind holds its
   * room's, and the room's connections wait at it before handling what they
   * read and reading more.
   */
  readonly gates: RoomGates = new RoomGates();
  #rooms = new Map<string, Set<Session>>();
  /** Each room's nicknames, in the same order as its members. */
  #rosters = new Map<string, NickRoster>();
  #nickIndex = new NickIndex<Session>();
  /**
   * Each room's `who` pages, encoded once until its roster changes: `/who`
   * repeated thousands of times in one line must not build a reply each.
   */
  #whoPages = new Map<
    string,
    Map<number, { out: Outgoing; roles: string }>
  >();
  #pending: PendingMessage[] = [];
  /** Replies waiting for the pending messages to go out ({@linkcode Hub.afterPending}). */
  #afterFlush: (() => void)[] = [];
  /** The text length of the pending messages, to flush a big tick early. */
  #pendingChars = 0;
  #closing = false;
  #nextId: number;
  #store: MessageStore;
  #defaultRoom: string;
  #history: number;
  #maxRoomsPerMember: number;
  #maxRooms: number;
  #maxAtAllPerDay: number;
  /** Each room's `@all` count on the UTC day it was counted. */
  #atAll = new Map<string, { day: number; count: number }>();
  #server: ServerInfo;
  #requestFlush: () => void;
  #now: () => number;
  #onStoreError: (error: unknown, messages: number) => void;
  #onStored: (messages: number) => void;
  #requestNotices: (delayMs: number) => void;
  #notices = new Map<string, { join?: NoticeSummary; leave?: NoticeSummary }>();
  #rules: GroupRules<Session>;
  #files: HubFiles | undefined;
  #log: (line: string) => void;
  #handlers: FrameHandlers<Session>;

  /** Creates a hub over a store; ids continue after the store's last. */
  constructor(options: HubOptions) {
    this.#store = options.store;
    this.#nextId = options.store.lastId() + 1;
    this.#defaultRoom = options.defaultRoom ?? SERVE_DEFAULTS.room;
    this.#history = options.history ?? SERVE_DEFAULTS.history;
    this.#maxRoomsPerMember = options.maxRoomsPerMember ??
      SERVE_DEFAULTS.maxRoomsPerMember;
    this.#maxRooms = options.maxRooms ?? SERVE_DEFAULTS.maxRooms;
    this.#maxAtAllPerDay = options.maxAtAllPerDay ??
      SERVE_DEFAULTS.maxAtAllPerDay;
    this.#server = {
      name: options.name ?? SERVE_DEFAULTS.name,
      version: VERSION,
      rate: options.rate ?? 0,
      burst: options.burst ?? 0,
      history: this.#history,
    };
    this.#requestFlush = options.requestFlush ?? (() => {});
    this.#now = options.now ?? Date.now;
    this.#onStoreError = options.onStoreError ?? (() => {});
    this.#onStored = options.onStored ?? (() => {});
    this.#requestNotices = options.requestNotices ?? (() => {});
    const database = options.database ?? new DatabaseSync(":memory:");
    const log = options.log ?? (() => {});
    this.#files = options.files;
    this.#log = log;
    this.#rules = new GroupRules(
      new Accounts(database),
      new ModerationBook(database, this.#now),
      {
        findMember: (nick) => this.findMember(nick),
        broadcast: (room, event) => this.#broadcast(room, event),
        removeFromRoom: (member, room) => this.#removeFromRoom(member, room),
        now: () => this.#now(),
        log,
      },
    );
    this.#handlers = this.#commandHandlers();
  }

  /** The registered nicknames (for the doors' logins). */
  get accounts(): Accounts {
    return this.#rules.accounts;
  }

  /** Whether only the owner and admins may speak in `room` (`muteall`). */
  isMutedAll(room: string): boolean {
    return this.#rules.isMutedAll(room);
  }

  /** The pinned notice of `room`, if one is set. */
  noticeOf(room: string): PinnedNotice | undefined {
    return this.#rules.noticeOf(room);
  }

  /** `session`'s role in `room` (default: its current one), if staff there. */
  roleIn(session: Session, room = session.room): RoomRole | undefined {
    return this.#rules.roleIn(session, room);
  }

  /** How many members are connected. */
  get size(): number {
    return this.#nickIndex.size;
  }

  /** How many rooms have members now. */
  get roomCount(): number {
    return this.#rooms.size;
  }

  /** The default room. */
  get defaultRoom(): string {
    return this.#defaultRoom;
  }

  /** The members of a room, in join order. */
  members(room: string): Session[] {
    return [...this.#rooms.get(room) ?? []];
  }

  /** The member with this nickname (any case or compatibility form). */
  findMember(nick: string): Session | undefined {
    return this.#nickIndex.find(nick);
  }

  /**
   * Marks `session` away, with `text` as its away message, or back
   * (`undefined` or empty), and tells each member who shares a room with
   * it, once, with an `away` event (IRC's away-notify). The message is
   * cleaned and cut like a kick's reason. Messages it sent before go out
   * first.
   */
  setAway(session: Session, text: string | undefined): void {
    const cut = (text ?? "").slice(0, MODERATION_LIMITS.maxReasonChars);
    const away = cleanText(cut).trim() || undefined;
    if (away === session.away) return;
    this.flush();
    session.away = away;
    const ts = this.#now();
    const out = new Outgoing(
      away === undefined
        ? { type: "away", ts, nick: session.nick }
        : { type: "away", ts, nick: session.nick, text: away },
    );
    const told = new Set<Session>([session]);
    for (const room of session.rooms) {
      for (const member of this.#rooms.get(room) ?? []) {
        if (told.has(member)) continue;
        told.add(member);
        member.recipient.deliver(out);
      }
    }
  }

  /**
   * Why a nickname cannot be taken now, or `undefined` if it can. A name
   * that looks like a connected member's is `nick_taken`, even when it also
   * mixes scripts (`аlice` with a Cyrillic `а` beside `alice`): that is the
   * refusal its sender understands.
   */
  checkNick(nick: string, self?: Session): ErrorCode | undefined {
    const problem = nickProblem(nick);
    if (problem !== undefined && problem !== "mixed_scripts") {
      return "nick_invalid";
    }
    if (this.#nickIndex.conflict(nick, self)) return "nick_taken";
    return problem === undefined ? undefined : "nick_invalid";
  }

  /**
   * Admits a connection: claims the nickname, then joins each room of the
   * hello in order, the current one last, each with its `welcome` (history)
   * and a join notice. Returns the error code instead when refused: a bad
   * nickname or room name, or a current room the server has no place for.
   * Other rooms over a cap are left out, each group with an `error` after
   * the welcomes, so a client resuming more rooms than allowed still gets in.
   */
  hello(recipient: Recipient, request: HelloRequest): Session | ErrorCode {
    const nick = request.nick.trim();
    const refusal = this.checkNick(nick);
    if (refusal) return refusal;
    if (this.accounts.lookalike(nick)) return "nick_taken";
    const account = this.accounts.find(nick);
    if (account && !request.signedIn) return "account_password";
    const rooms = this.#helloRooms(request);
    if (typeof rooms === "string") return rooms;
    const current = rooms[rooms.length - 1].room;
    const newRoom = this.#needsNewRoom(current);
    if (newRoom && this.#rooms.size >= this.#maxRooms) return "rooms_full";
    const session = new Session(recipient, nick, current, this.#now());
    if (account) session.account = account.nick;
    if (request.address !== undefined) session.address = request.address;
    if (this.#rules.entryRefusal(session, current)) return "banned";
    this.#nickIndex.add(nick, session);
    // The current room is joined last but its places are kept from the start.
    const reserved = { member: 1, server: newRoom ? 1 : 0 };
    const left = new Map<ErrorCode, string[]>();
    for (const { room, since } of rooms) {
      const isCurrent = room === current;
      const why = isCurrent
        ? undefined
        : this.#roomRefusal(session, room, reserved);
      if (why) {
        let names = left.get(why);
        if (!names) left.set(why, names = []);
        names.push(room);
        continue;
      }
      this.#enter(session, room, since);
    }
    for (const [code, names] of left) {
      if (code !== "banned") {
        session.send(errorEvent(code, this.#leftOutWording(code, names)));
        continue;
      }
      // Each ban has its own length and author: one line per room.
      for (const room of names) {
        const ban = this.#rules.entryRefusal(session, room);
        const why = ban?.type === "error" ? ban.message : "you are banned";
        session.send(errorEvent(code, `not joined ${room}: ${why}`));
      }
    }
    return session;
  }

  /**
   * The wording of a refused {@linkcode Hub.hello}: for `banned`, which
   * room keeps the member out, by whom and until when (as `join` says it);
   * for a nickname, what is wrong with it; else the code's own wording.
   */
  helloRefusalMessage(code: ErrorCode, request: HelloRequest): string {
    const rooms = code === "banned" ? this.#helloRooms(request) : undefined;
    if (rooms !== undefined && typeof rooms !== "string") {
      const nick = request.nick.trim();
      const current = rooms[rooms.length - 1].room;
      const ban = this.#rules.entryRefusal({
        nick,
        rooms: new Set(),
        room: current,
        account: request.signedIn ? this.accounts.find(nick)?.nick : undefined,
        address: request.address,
        send: () => {},
      }, current);
      if (ban?.type === "error") return ban.message;
    }
    return nickErrorMessage(code, request.nick);
  }

  /** A hello's rooms in joining order, current last, or why they are refused. */
  #helloRooms(request: HelloRequest): RoomResume[] | ErrorCode {
    const listed: RoomResume[] = [];
    const seen = new Set<string>();
    for (const entry of request.rooms ?? []) {
      const room = entry.room.trim();
      if (!isValidRoom(room)) return "room_invalid";
      if (seen.has(room)) continue;
      seen.add(room);
      listed.push({ room, since: entry.since });
    }
    const current = request.room?.trim() || listed.at(-1)?.room ||
      this.#defaultRoom;
    if (!isValidRoom(current)) return "room_invalid";
    const since = request.since ??
      listed.find((e) => e.room === current)?.since;
    return [
      ...listed.filter((e) => e.room !== current),
      { room: current, since },
    ];
  }

  /** True when joining `room` would make a room (the default one aside). */
  #needsNewRoom(room: string): boolean {
    return !this.#rooms.has(room) && room !== this.#defaultRoom;
  }

  /**
   * Why `session` cannot join `room` now, or `undefined` if it can;
   * `reserved` holds places kept for a room still to come.
   */
  #roomRefusal(
    session: Session,
    room: string,
    reserved = { member: 0, server: 0 },
  ): ErrorCode | undefined {
    if (session.rooms.has(room)) return undefined;
    if (this.#rules.entryRefusal(session, room)) return "banned";
    if (session.rooms.size + reserved.member >= this.#maxRoomsPerMember) {
      return "too_many_rooms";
    }
    if (
      this.#needsNewRoom(room) &&
      this.#rooms.size + reserved.server >= this.#maxRooms
    ) return "rooms_full";
    return undefined;
  }

  /** The error wording for rooms a hello or join could not enter. */
  #leftOutWording(code: ErrorCode, rooms: string[]): string {
    const shown = rooms.slice(0, 5).join(", ") +
      (rooms.length > 5 ? ` and ${rooms.length - 5} more` : "");
    const why = code === "too_many_rooms"
      ? `you may be in at most ${this.#maxRoomsPerMember} rooms at once (/part one first)`
      : `this server keeps at most ${this.#maxRooms} rooms (join one that exists: /rooms)`;
    return `not joined ${shown}: ${why}`;
  }

  /**
   * Handles one command from a member: the handler for its type (see
   * `#commandHandlers`). `quit` is the server's to handle.
   */
  handle(session: Session, frame: CommandFrame): void {
    // Anything but a room message first lets queued messages go out, so a
    // member sees replies in the order it sent its lines.
    // A ping's pong follows them too, without making the tick flush early:
    // IRC clients close their window of messages with PING.
    if (frame.type !== "say" && frame.type !== "me" && frame.type !== "ping") {
      this.flush();
    }
    dispatchFrame(this.#handlers, session, frame);
  }

  /**
   * The hub's answer to each frame type, the account and moderation ones
   * the group rules' (src/server/group_rules.ts): a new frame type needs its
   * entry here or there, or the hub does not compile.
   */
  #commandHandlers(): FrameHandlers<Session> {
    return {
      ...this.#rules.handlers,
      say: (session, frame) =>
        this.#say(session, frame.text, false, frame.room, frame.reply_to),
      me: (session, frame) => this.#say(session, frame.text, true, frame.room),
      search: (session, frame) =>
        this.#search(session, frame.text, frame.room?.trim()),
      dm: (session, frame) =>
        this.#directMessage(session, frame.to, frame.text),
      nick: (session, frame) => this.#rename(session, frame.nick.trim()),
      join: (session, frame) =>
        this.#join(session, frame.room.trim(), frame.since),
      part: (session, frame) =>
        this.#part(session, frame.room?.trim() || session.room),
      who: (session, frame) => {
        const room = frame.room?.trim() || session.room;
        if (room === undefined || !session.rooms.has(room)) {
          return this.#notInRoom(session, room);
        }
        session.recipient.deliver(this.#who(room, frame.offset ?? 0));
      },
      history: (session, frame) => this.#sendHistory(session, frame),
      rooms: (session) =>
        session.send({
          type: "rooms",
          rooms: this.#roomList(),
          joined: [...session.rooms],
          current: session.room,
        }),
      ping: (session) =>
        this.afterPending(() => session.send({ type: "pong" })),
      quit: () => {},
      recall: (session, frame) =>
        this.#recall(session, frame.id, frame.nick, frame.room),
      upload: (session, frame) => this.#upload(session, frame),
    };
  }

  /** Removes a member from every room and announces it in each; safe to call twice. */
  leave(session: Session, reason?: string): void {
    if (this.#nickIndex.find(session.nick) !== session) return;
    // A member's last messages (and their echoes) go out before it leaves.
    this.flush();
    this.#nickIndex.remove(session.nick, session);
    for (const room of [...session.rooms]) this.#exit(session, room, reason);
  }

  /**
   * Prepares for shutdown: sends what is queued, then stops announcing
   * leaves, since every member is about to be told the server is going away.
   */
  close(): void {
    this.flush();
    this.#closing = true;
  }

  /** True when messages wait to be stored and sent. */
  get hasPending(): boolean {
    return this.#pending.length > 0;
  }

  /**
   * Runs `then` once every message queued now has been stored and handed to
   * its recipients, or at once when none waits: for a reply that must come
   * after them (a `pong`, IRC's `PONG`) without flushing the tick early. A
   * flush per ping cost every sender's batch its own transaction, and every
   * member a write per sender instead of one per tick.
   */
  afterPending(then: () => void): void {
    if (this.#pending.length === 0) return then();
    this.#afterFlush.push(then);
  }

  /**
   * Stores every queued message in one transaction, then broadcasts each to
   * its room, encoded once. If storing fails, nothing is sent and each sender
   * gets an error: a message is never echoed unless it is stored.
   */
  flush(): void {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#pendingChars = 0;
    const waiting = this.#afterFlush;
    this.#afterFlush = [];
    try {
      this.#store.append(batch.map((p) => p.message));
    } catch (error) {
      this.#onStoreError(error, batch.length);
      for (const { sender, done } of batch) {
        sender.send(errorEvent("store_failed"));
        done?.(undefined);
      }
      for (const then of waiting) then();
      return;
    }
    this.#onStored(batch.length);
    for (const { message, done } of batch) done?.(message);
    this.deliverStored(batch.map((p) => p.message));
    for (const then of waiting) then();
  }

  /**
   * Sends every big room's waiting summaries: one `join` and one `leave` per
   * room, naming the first and counting the `others`.
   */
  flushNotices(): void {
    const notices = this.#notices;
    this.#notices = new Map();
    for (const [room, { join, leave }] of notices) {
      const users = this.#rooms.get(room)?.size ?? 0;
      if (users === 0) continue;
      const ts = this.#now();
      for (
        const [type, summary] of [["join", join], ["leave", leave]] as const
      ) {
        if (!summary) continue;
        const others = summary.count - 1;
        this.#broadcast(
          room,
          others > 0
            ? { type, ts, room, nick: summary.nick, users, others }
            : { type, ts, room, nick: summary.nick, users },
        );
      }
    }
  }

  /** Counts a join or leave in a big room towards its next summary. */
  #summarise(room: string, type: "join" | "leave", nick: string): void {
    if (this.#notices.size === 0) {
      this.#requestNotices(ROOM_LIMITS.bigRoomNoticeMs);
    }
    let pending = this.#notices.get(room);
    if (!pending) this.#notices.set(room, pending = {});
    const summary = pending[type];
    if (summary) summary.count++;
    else pending[type] = { nick, count: 1 };
  }

  /**
   * Queues a room message. Its reply quote and mentions are worked out here,
   * once per message, so the fan-out in {@linkcode flush} stays a loop of
   * deliveries with no per-recipient work.
   */
  #say(
    session: Session,
    rawText: string,
    me: boolean,
    rawRoom: string | undefined,
    replyTo?: number,
  ): void {
    const room = rawRoom?.trim() || session.room;
    if (room === undefined || !session.rooms.has(room)) {
      return this.#notInRoom(session, room);
    }
    const silenced = this.#rules.speechRefusal(session, room);
    if (silenced) return session.send(silenced);
    const text = this.#checkText(session, rawText);
    if (text === undefined) return;
    let quote: Quote | undefined;
    if (replyTo !== undefined) {
      quote = this.#quote(room, replyTo);
      if (!quote) return session.send(errorEvent("no_such_message"));
    }
    const named = text.includes("@") ? findMentions(text) : undefined;
    if (named?.all && !this.#countAtAll(session, room)) return;
    const message: RoomMessage = {
      type: "msg",
      id: this.#nextId++,
      ts: this.#now(),
      room,
      from: session.nick,
      text,
    };
    if (me) message.me = true;
    if (quote) {
      message.reply_to = replyTo;
      message.quote = quote;
    }
    if (named) {
      const mentions = this.#roomMembersNamed(room, named.nicks);
      if (mentions.length > 0) message.mentions = mentions;
      if (named.all) message.all = true;
    }
    if (this.#pending.length === 0) this.#requestFlush();
    this.#pending.push({ message, sender: session });
    // Reads that find data waiting complete without yielding, so one tick
    // can read every byte the senders' sockets hold (3,000 messages were
    // seen in one flush). Flushing here keeps each member's share of a tick
    // bounded, and a member that falls behind closes its room's gate before
    // the senders' next reads (src/server/backpressure.ts).
    this.#pendingChars += text.length;
    if (this.#pendingChars >= BACKPRESSURE.maxTickChars) this.flush();
  }

  /** The quote of message `id` of `room`: queued this tick, or stored. */
  #quote(room: string, id: number): Quote | undefined {
    const queued = this.#pending.find((p) => p.message.id === id)?.message;
    const original = queued?.room === room
      ? queued
      : this.#store.message(room, id);
    return original ? quoteOf(original) : undefined;
  }

  /** The members of `room` among `nicks`, as they are called now, once each. */
  #roomMembersNamed(room: string, nicks: readonly string[]): string[] {
    const found: string[] = [];
    for (const nick of nicks) {
      const member = this.#nickIndex.find(nick);
      if (!member || !member.rooms.has(room)) continue;
      if (!found.includes(member.nick)) found.push(member.nick);
      if (found.length >= PROTOCOL_LIMITS.maxMentions) break;
    }
    return found;
  }

  /**
   * Counts an `@all` towards its room's daily cap, or tells the sender why
   * not and returns false.
   */
  #countAtAll(session: Session, room: string): boolean {
    if (!this.#mayCallEveryone(session, room)) {
      session.send(errorEvent("at_all_not_allowed"));
      return false;
    }
    const day = Math.floor(this.#now() / DAY_MS);
    let used = this.#atAll.get(room);
    if (!used || used.day !== day) {
      // Yesterday's counts are forgotten, so the map never outgrows the
      // rooms that called everyone today.
      if (used === undefined && this.#atAll.size > this.#maxRooms) {
        for (const [name, entry] of this.#atAll) {
          if (entry.day !== day) this.#atAll.delete(name);
        }
      }
      this.#atAll.set(room, used = { day, count: 0 });
    }
    if (used.count >= this.#maxAtAllPerDay) {
      session.send(errorEvent(
        "at_all_limit",
        `@all may be used ${this.#maxAtAllPerDay} times a day in a room and ${room} has used them; message not sent (drop the @all to send it)`,
      ));
      return false;
    }
    used.count++;
    return true;
  }

  /**
   * Whether `session` may call `@all` in `room`: its owner and admins may;
   * anyone may while none of them is in the room (a class without a
   * moderator around can still call everyone, within the daily cap).
   */
  #mayCallEveryone(session: Session, room: string): boolean {
    if (this.#maxAtAllPerDay <= 0) return false;
    if (this.#rules.roleIn(session, room) !== undefined) return true;
    return this.#rules.rolesOf(room) === undefined;
  }

  /** Answers a `search` over the member's rooms, or over one of them. */
  #search(session: Session, words: string, room: string | undefined): void {
    const text = cleanText(words).trim();
    if (text === "") return session.send(errorEvent("empty"));
    if (room && !session.rooms.has(room)) return this.#notInRoom(session, room);
    const rooms = room ? [room] : [...session.rooms];
    let results;
    try {
      results = this.#store.search(rooms, text, PROTOCOL_LIMITS.searchResults);
    } catch {
      // A broken or busy database must not end the member's connection.
      return session.send(
        errorEvent("store_failed", "the search failed; try again later"),
      );
    }
    const event: ServerEvent = { type: "search", text, results };
    if (room) event.room = room;
    session.send(event);
  }

  /**
   * An `upload`: the hub's checks (the room, the right to speak there, the
   * message a reply answers), then the desk's (size, quota, pace), before
   * any byte is sent; answered by `upload_ready` with the token.
   */
  #upload(session: Session, frame: UploadFrame): void {
    const room = frame.room?.trim() || session.room;
    if (room === undefined || !session.rooms.has(room)) {
      return this.#notInRoom(session, room);
    }
    const silenced = this.#rules.speechRefusal(session, room);
    if (silenced) return session.send(silenced);
    if (!this.#files) return session.send(errorEvent("uploads_off"));
    if (frame.reply_to !== undefined && !this.#quote(room, frame.reply_to)) {
      return session.send(errorEvent("no_such_message"));
    }
    const name = cleanFileName(frame.name);
    const granted = this.#files.desk.request(
      session,
      nickKey(session.account ?? session.nick),
      {
        room,
        name,
        size: frame.size,
        mime: cleanMimeType(frame.mime),
        ...(frame.reply_to === undefined ? {} : { replyTo: frame.reply_to }),
      },
    );
    if (!granted.ok) {
      return session.send(errorEvent(granted.code, granted.message));
    }
    const { token, expiresAt } = granted.ticket;
    session.send({
      type: "upload_ready",
      token,
      url: `/upload/${token}`,
      expires_in: Math.round((expiresAt - this.#now()) / 1000),
      room,
      name,
      size: frame.size,
    });
  }

  /**
   * Shares a file whose bytes are stored: its message enters the room like
   * any other (stored before it is echoed), from the member who asked for
   * the upload, if it is still there and may still speak. `done` hears the
   * stored message, or the error that kept it out (the caller then deletes
   * the file).
   */
  shareFile(
    ticket: UploadTicket<Session>,
    file: FileInfo,
    text: string,
    done: (
      outcome: RoomMessage | Extract<ServerEvent, { type: "error" }>,
    ) => void,
  ): void {
    const session = ticket.member;
    const room = ticket.room;
    if (
      this.#nickIndex.find(session.nick) !== session ||
      !session.rooms.has(room)
    ) {
      return done({
        type: "error",
        code: "not_in_room",
        message: `you left ${room} before the file arrived; it was not shared`,
      });
    }
    const silenced = this.#rules.speechRefusal(session, room);
    if (silenced?.type === "error") return done(silenced);
    const message: RoomMessage = {
      type: "msg",
      id: this.#nextId++,
      ts: this.#now(),
      room,
      from: session.nick,
      text,
      file,
    };
    // The answered message may have been recalled meanwhile: the file goes
    // on, without its quote.
    const quote = ticket.replyTo === undefined
      ? undefined
      : this.#quote(room, ticket.replyTo);
    if (quote) {
      message.reply_to = ticket.replyTo;
      message.quote = quote;
    }
    if (this.#pending.length === 0) this.#requestFlush();
    this.#pending.push({
      message,
      sender: session,
      done: (stored) =>
        done(
          stored ?? {
            type: "error",
            code: "store_failed",
            message: ERROR_MESSAGES_STORE_FAILED,
          },
        ),
    });
  }

  /** Deletes a recalled message's file; a failure is logged, the recall stands. */
  #discardFile(id: string): void {
    try {
      this.#files?.shelf.discard(id);
    } catch (error) {
      this.#log(
        `could not delete file ${id}: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  }

  #directMessage(session: Session, to: string, rawText: string): void {
    const target = this.findMember(to.trim());
    if (!target) {
      return session.send(
        errorEvent("no_such_user", `no one is called ${cleanText(to.trim())}`),
      );
    }
    const text = this.#checkText(session, rawText);
    if (text === undefined) return;
    const message: DirectMessage = {
      type: "dm",
      id: this.#nextId++,
      ts: this.#now(),
      from: session.nick,
      to: target.nick,
      text,
    };
    const out = new Outgoing(message);
    target.recipient.deliver(out);
    if (target !== session) session.recipient.deliver(out);
  }

  /** The cleaned text, or `undefined` after telling the sender why not. */
  #checkText(session: Session, rawText: string): string | undefined {
    const text = cleanMessageText(rawText);
    if (text === "") {
      session.send(errorEvent("empty"));
      return undefined;
    }
    if (
      text.length > PROTOCOL_LIMITS.maxTextChars &&
      characterCount(text) > PROTOCOL_LIMITS.maxTextChars
    ) {
      session.send(errorEvent("text_too_long"));
      return undefined;
    }
    if (lineCount(text) > PROTOCOL_LIMITS.maxTextLines) {
      session.send(errorEvent("too_many_lines"));
      return undefined;
    }
    return text;
  }

  #notInRoom(session: Session, room: string | undefined): void {
    session.send(errorEvent(
      "not_in_room",
      room === undefined
        ? "you are in no room: /join ROOM first"
        : `you are not in ${cleanText(room).slice(0, 40)} (/join it first)`,
    ));
  }

  /**
   * A rename reaches each member who shares a room with the renamer once,
   * not once per shared room: a nickname is server-wide, and a person in
   * two rooms with bob would otherwise read that bob is now rob twice. The
   * event names the recipient's current room when it is shared, else the
   * first shared one; one encoding per named room.
   */
  #rename(session: Session, nick: string): void {
    if (nick === session.nick) return;
    const refusal = this.checkNick(nick, session);
    if (refusal) {
      return session.send(errorEvent(refusal, nickErrorMessage(refusal, nick)));
    }
    if (session.account !== undefined) {
      return session.send(errorEvent(
        "not_allowed",
        `you are signed in as ${session.account}: a registered member keeps its nickname (reconnect to use another)`,
      ));
    }
    if (this.accounts.find(nick)) {
      return session.send(errorEvent("account_password"));
    }
    const mutedIn = this.#rules.mutedRoomOf(session);
    if (mutedIn !== undefined) {
      return session.send(errorEvent(
        "muted",
        `you are muted in ${mutedIn}: a muted member keeps its nickname until the mute ends`,
      ));
    }
    const lookalike = this.accounts.lookalike(nick);
    if (lookalike) {
      return session.send(errorEvent(
        "nick_taken",
        `that nickname looks like registered ${lookalike.nick}`,
      ));
    }
    const old = session.nick;
    this.#nickIndex.remove(old, session);
    this.#nickIndex.add(nick, session);
    session.nick = nick;
    const ts = this.#now();
    for (const room of session.rooms) {
      this.#rosters.get(room)?.rename(old, nick);
      this.#whoPages.delete(room);
    }
    if (session.rooms.size === 0) {
      return session.send({ type: "nick", ts, old, new: nick });
    }
    if (session.rooms.size === 1) {
      const [room] = session.rooms;
      return this.#broadcast(room, { type: "nick", ts, room, old, new: nick });
    }
    const byRoom = new Map<string, Outgoing>();
    const told = new Set<Session>();
    for (const room of session.rooms) {
      for (const member of this.#rooms.get(room) ?? []) {
        if (told.has(member)) continue;
        told.add(member);
        const current = member.room;
        const shown = current !== undefined && session.rooms.has(current)
          ? current
          : room;
        let out = byRoom.get(shown);
        if (!out) {
          out = new Outgoing({ type: "nick", ts, room: shown, old, new: nick });
          byRoom.set(shown, out);
        }
        member.recipient.deliver(out);
      }
    }
  }

  /**
   * Joins a room, or makes it current if the member is in it already;
   * either way answered by the room's `welcome`. The other rooms are kept.
   */
  #join(session: Session, room: string, since: number | undefined): void {
    if (!isValidRoom(room)) return session.send(errorEvent("room_invalid"));
    if (session.rooms.has(room)) {
      session.room = room;
      return session.recipient.deliver(this.#welcome(session, room, since));
    }
    const banned = this.#rules.entryRefusal(session, room);
    if (banned) return session.send(banned);
    const refusal = this.#roomRefusal(session, room);
    if (refusal) {
      return session.send(
        errorEvent(refusal, this.#leftOutWording(refusal, [room])),
      );
    }
    this.#enter(session, room, since);
  }

  /**
   * Leaves one room, keeping the others; answered by `part`. Leaving the
   * current room makes the one joined last current. Leaving the last room
   * leaves the member in no room, as IRC allows (`JOIN 0`): still connected,
   * reached by private messages, and able to `join` again.
   */
  #part(session: Session, room: string | undefined): void {
    if (room === undefined || !session.rooms.has(room)) {
      return this.#notInRoom(session, room);
    }
    this.#exit(session, room, undefined);
    if (session.room === room) session.room = [...session.rooms].at(-1);
    const event: ServerEvent = {
      type: "part",
      ts: this.#now(),
      room,
      rooms: [...session.rooms],
    };
    if (session.room !== undefined) event.current = session.room;
    session.send(event);
  }

  /**
   * Recalls a stored message: the sender's own within the recall window,
   * anyone's for the room's owner and admins. It is deleted from the store,
   * so no history or `since` resume returns it again, and every member of
   * the room is told (`recall`) to take it off the screen.
   */
  #recall(
    session: Session,
    id: number | undefined,
    rawNick: string | undefined,
    rawRoom: string | undefined,
  ): void {
    const room = rawRoom?.trim() || session.room;
    if (room === undefined || !session.rooms.has(room)) {
      return this.#notInRoom(session, room);
    }
    const author = rawNick?.trim()
      ? this.findMember(rawNick.trim())?.nick ??
        cleanText(rawNick.trim())
      : session.nick;
    const message = id !== undefined
      ? this.#store.message(room, id)
      : this.#store.lastMessageOf(room, author);
    if (!message) {
      return session.send(errorEvent(
        "no_such_message",
        `no such message in ${room} to recall (it may be recalled already)`,
      ));
    }
    const own = message.from === session.nick;
    const isStaff = this.#rules.mayRecallAny(session, room);
    if (!own && !isStaff) {
      return session.send(errorEvent(
        "not_allowed",
        "only the owner and admins may recall someone else's message",
      ));
    }
    if (
      own && !isStaff &&
      this.#now() - message.ts > MODERATION_LIMITS.recallWindowMs
    ) {
      return session.send(errorEvent("recall_expired"));
    }
    try {
      this.#store.remove(room, message.id);
    } catch (error) {
      this.#onStoreError(error, 1);
      return session.send(errorEvent(
        "store_failed",
        "the server could not recall that message; it is still there",
      ));
    }
    if (message.file) this.#discardFile(message.file.id);
    this.#rules.recalled(session.nick, room, message.id, message.from);
    this.#broadcast(room, {
      type: "recall",
      ts: this.#now(),
      room,
      id: message.id,
      nick: message.from,
      by: session.nick,
    });
  }

  /**
   * Takes a member out of a room it was kicked or banned from: the room
   * was told by the moderation notice, so no leave notice; the member gets
   * the `part` a leave of its own would.
   */
  #removeFromRoom(session: Session, room: string): void {
    this.#exit(session, room, undefined, false);
    if (session.room === room) session.room = [...session.rooms].at(-1);
    const event: ServerEvent = {
      type: "part",
      ts: this.#now(),
      room,
      rooms: [...session.rooms],
    };
    if (session.room !== undefined) event.current = session.room;
    session.send(event);
  }

  #enter(session: Session, room: string, since: number | undefined): void {
    let members = this.#rooms.get(room);
    if (!members) this.#rooms.set(room, members = new Set());
    members.add(session);
    let roster = this.#rosters.get(room);
    if (!roster) this.#rosters.set(room, roster = new NickRoster());
    roster.add(session.nick);
    session.rooms.add(room);
    this.#whoPages.delete(room);
    session.room = room;
    const role = this.#rules.entered(session, room);
    // The join is announced before the welcome is delivered: delivering it
    // may end the connection (a client that does not read), and its leave
    // must then come after its join, for every member.
    // In a big room a join is counted into a summary, not announced alone:
    // hundreds of arrivals would otherwise bury the conversation (and cost
    // members × joins notices).
    if (members.size > ROOM_LIMITS.bigRoomMembers) {
      this.#summarise(room, "join", session.nick);
    } else {
      const join: ServerEvent = {
        type: "join",
        ts: this.#now(),
        room,
        nick: session.nick,
        users: members.size,
      };
      // Clients mark the owner and admins by their names from the start.
      if (role) join.role = role;
      this.#broadcast(room, join, session);
    }
    session.recipient.deliver(this.#welcome(session, room, since));
  }

  #exit(
    session: Session,
    room: string,
    reason: string | undefined,
    announce = true,
  ): void {
    const members = this.#rooms.get(room);
    if (!members?.delete(session)) return;
    session.rooms.delete(room);
    this.#rosters.get(room)?.remove(session.nick);
    this.#rules.left(session, room);
    this.#whoPages.delete(room);
    if (members.size === 0) {
      this.#rooms.delete(room);
      this.#rosters.delete(room);
      this.#rules.closed(room);
    }
    // Everyone is being told the server is going away; a notice per leaver
    // would only flood the last members' screens.
    if (this.#closing || !announce) return;
    if (members.size >= ROOM_LIMITS.bigRoomMembers) {
      return this.#summarise(room, "leave", session.nick);
    }
    const event: ServerEvent = {
      type: "leave",
      ts: this.#now(),
      room,
      nick: session.nick,
      users: members.size,
    };
    if (reason) event.reason = reason;
    this.#broadcast(room, event);
  }

  /**
   * The welcome for a member, its JSON line in three pieces around the
   * roster's bytes: the same bytes as `JSON.stringify`, without serialising
   * or copying every name of a big room again for each newcomer; its text
   * from the first few names and a head count.
   */
  #welcome(
    session: Session,
    room: string,
    since: number | undefined,
  ): Outgoing {
    const { messages: history, more } = this.#readHistory(
      room,
      since === undefined ? { limit: this.#history } : {
        after: since,
        limit: Math.max(this.#history, PROTOCOL_LIMITS.maxResumeHistory),
      },
    );
    const roster = this.#rosters.get(room);
    const users = roster?.snapshot() ?? (() => []);
    const rooms = [...session.rooms];
    const event: ServerEvent = {
      type: "welcome",
      nick: session.nick,
      room,
      // Copied only if read: a JSON member gets the bytes below instead.
      get users() {
        return users();
      },
      history,
      ...(more ? { more } : {}),
      server: this.#server,
      rooms,
    };
    // Added after `rooms`, in this order, in the event and in the bytes.
    const group: Record<string, unknown> = {};
    const role = this.#rules.roleIn(session, room);
    if (role) event.role = group.role = role;
    const roles = this.#rules.rolesOf(room);
    if (roles) event.roles = group.roles = roles;
    if (this.#rules.isMutedAll(room)) event.mutedAll = group.mutedAll = true;
    const notice = this.#rules.noticeOf(room);
    if (notice) event.notice = group.notice = notice;
    const groupJson = JSON.stringify(group).slice(1, -1);
    const head = encoder.encode(
      `{"type":"welcome","nick":${JSON.stringify(session.nick)},"room":${
        JSON.stringify(room)
      },"users":[`,
    );
    const items = roster?.jsonItems() ?? new Uint8Array(0);
    const tail = encoder.encode(
      `],"history":${JSON.stringify(history)}${
        more ? ',"more":true' : ""
      },"server":${JSON.stringify(this.#server)},"rooms":${
        JSON.stringify(rooms)
      }${groupJson === "" ? "" : `,${groupJson}`}}\n`,
    );
    // A text member sees a few names: reading `users` would copy them all.
    // They are looked up when a text member is handed it, which is at once.
    const nick = session.nick;
    describeCompany(event, {
      firstOthers: (count) => roster?.firstOthers(count, nick) ?? [],
      count: Math.max(0, (roster?.size ?? 0) - 1),
    });
    return new Outgoing(event, {
      encoderId: JSON_LINES.id,
      parts: [head, items, tail],
    });
  }

  /** A room's stored messages, bounded by count and bytes. */
  #readHistory(
    room: string,
    query: { after?: number; before?: number; limit: number },
  ): HistoryPage {
    return this.#store.history(room, query);
  }

  /** A page of a member's room's history: scrollback, or a resume's rest. */
  #sendHistory(session: Session, frame: HistoryFrame): void {
    const room = frame.room?.trim() || session.room;
    if (room === undefined || !session.rooms.has(room)) {
      return this.#notInRoom(session, room);
    }
    const page = this.#readHistory(room, {
      after: frame.after,
      before: frame.before,
      limit: Math.min(
        frame.limit ?? this.#history,
        PROTOCOL_LIMITS.maxResumeHistory,
      ),
    });
    session.send({ type: "history", room, ...page });
  }

  /**
   * One page of a room's names: a big room's full list would be a reply of
   * 100 KB, and a client can ask for it thousands of times a second.
   */
  #who(room: string, offset: number): Outgoing {
    let pages = this.#whoPages.get(room);
    if (!pages) this.#whoPages.set(room, pages = new Map());
    const roles = this.#rules.rolesOf(room);
    const rolesKey = roles ? JSON.stringify(roles) : "";
    const cached = pages.get(offset);
    if (cached && cached.roles === rolesKey) return cached.out;
    const roster = this.#rosters.get(room);
    const total = roster?.size ?? 0;
    const end = Math.min(total, offset + PROTOCOL_LIMITS.maxWhoNames);
    const users = roster?.slice(offset, end) ?? [];
    const event: Extract<ServerEvent, { type: "who" }> = end < total
      ? { type: "who", room, users, total, next: end }
      : { type: "who", room, users, total };
    if (roles) event.roles = roles;
    const page = { out: new Outgoing(event), roles: rolesKey };
    // A few pages per room at most are asked for; any offset is kept only
    // until the roster (or who is owner or admin) next changes.
    if (pages.size < 64) pages.set(offset, page);
    return page.out;
  }

  #roomList(): { name: string; users: number }[] {
    const rooms = [...this.#rooms].map(([name, members]) => ({
      name,
      users: members.size,
    }));
    if (!this.#rooms.has(this.#defaultRoom)) {
      rooms.push({ name: this.#defaultRoom, users: 0 });
    }
    return rooms.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The delivering step, apart from storing: hands room messages that are
   * already stored to their rooms' members, each room's as one batch, in
   * order. {@linkcode Hub.flush} calls it after its commit; messages stored
   * elsewhere (another server of a cluster, one day) enter here too.
   *
   * A member gets one queue entry per room per tick, not one per message
   * (measured: with 1,000 members and 50 senders, per-message entries spent a
   * third of the server's time concatenating small chunks). A member in
   * several rooms gets one entry per room that spoke.
   */
  deliverStored(messages: readonly RoomMessage[]): void {
    const byRoom = new Map<string, Outgoing[]>();
    for (const message of messages) {
      let outs = byRoom.get(message.room);
      if (!outs) byRoom.set(message.room, outs = []);
      outs.push(new Outgoing(message));
    }
    for (const [room, outs] of byRoom) {
      const members = this.#rooms.get(room);
      if (!members) continue;
      const batch = new OutgoingBatch(outs, room);
      for (const member of members) {
        const recipient = member.recipient;
        if (recipient.deliverBatch) recipient.deliverBatch(batch);
        else for (const out of outs) recipient.deliver(out);
      }
    }
  }

  /** Sends one event to every member of a room, encoded once. */
  #broadcast(room: string, event: ServerEvent, except?: Session): void {
    const members = this.#rooms.get(room);
    if (!members) return;
    const out = new Outgoing(event);
    for (const member of members) {
      if (member !== except) member.recipient.deliver(out);
    }
  }
}
