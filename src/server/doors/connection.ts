/**
 * One client connection's socket edge: reads bytes and hands them to its
 * {@linkcode LineReader}, passes each line it makes to the connection's
 * dialect, and writes what the hub queues for it.
 *
 * What a line means and how an event reads is the dialect's
 * (src/server/doors/dialect.ts): the text door, JSON lines or IRC, chosen
 * from what the door router saw. How bytes become lines (the line splitter,
 * the unframed idle rule of tutorial programs, telnet, the peer's charset)
 * is line_reader.ts's, shared by all three.
 *
 * Writing never blocks the hub: {@linkcode Connection.deliver} appends bytes
 * to the connection's bounded `WriteQueue` (src/server/write_queue.ts), whose
 * pump writes everything queued so far in a single call. A member that falls
 * behind pauses its room's reading for a while (src/server/backpressure.ts);
 * one that stops reading fills its own queue and is dropped.
 *
 * Who may do what, how fast, is not decided here: the connection's
 * {@linkcode DoorPolicy} (door_policy.ts) asks its {@linkcode Ticket} from
 * src/server/admission.ts, which charges each command to the flood
 * allowance and paces hellos and password checks. A hello or a password
 * that must wait its turn pauses reading; the lines that came with it are
 * handled after it, in order. So do replies the peer leaves unread
 * ({@linkcode BACKPRESSURE}'s `maxRepliesWaiting`): a client is not read
 * while more than a reply or two wait for it.
 *
 * @module
 */

import {
  type ErrorCode,
  errorEvent,
  type ServerEvent,
} from "../../../protocol.ts";
import { COMMAND_COSTS, type Ticket } from "../admission.ts";
import {
  type Hub,
  Outgoing,
  type OutgoingBatch,
  type Session,
} from "../hub.ts";
import type { GuestNames } from "../guest_names.ts";
import { BACKPRESSURE, COMPAT_LIMITS } from "../../shared/limits.ts";
import { firstUtf8Piece } from "./utf8_chunks.ts";
import { WriteQueue } from "../write_queue.ts";
import type { TextCharset } from "./text_charset.ts";
import type { RoutedOpening } from "./router.ts";
import { type ReaderLag, readerLagFor } from "../backpressure.ts";
import type { Dialect, DoorLink } from "./dialect.ts";
import { DoorPolicy } from "./door_policy.ts";
import { type LineLink, LineReader, type LineRefusal } from "./line_reader.ts";
import { IrcDialect } from "./irc/irc_dialect.ts";
import { TextDialectDoor } from "./text/text_dialect_door.ts";

/** Settings a connection needs from the server. */
export interface ConnectionSettings {
  hub: Hub;
  password?: string;
  rate: number;
  burst: number;
  /** The hard limit on bytes queued for the connection. */
  maxQueueBytes: number;
  /** The soft limit (0: none), and how long a queue may stay over it. */
  softQueueBytes: number;
  softQueueMs: number;
  /** Longest a room waits for this member when it falls behind; 0: never. */
  backpressureMs: number;
  handshakeMs: number;
  floodMs: number;
  /** The first line the server sends. */
  banner: string;
  /**
   * How long a connection that has sent nothing may wait before its first
   * byte (then `handshakeMs` applies). @default {handshakeMs}
   */
  firstBytesMs?: number;
  /**
   * `--compat`: send `NICK` alone first, then the rest of the banner line
   * after a short wait or at the client's first bytes. @default {false}
   */
  nickFirst?: boolean;
  /** Where guest names come from (shared with the UDP door). */
  guests?: GuestNames;
  /** Writes one log line. */
  log: (line: string) => void;
  /** The server's name (`--name`), the source of IRC replies. @default {"chat"} */
  serverName: string;
  /** When the server started, ms since the epoch (IRC's `003`). */
  startedAt: number;
  /** An IRC client quiet this long is pinged, and dropped after as long again; 0 = never. */
  pingMs?: number;
}

const encoder = new TextEncoder();
/**
 * A connection's first read buffer. Most connections only ever read a hello
 * and sit idle, and a buffer per connection is held by its pending read for
 * as long as it lives: 4 KiB each was a fifth of an idle connection's
 * memory. A read that fills the buffer makes it grow, up to the next bound.
 */
const FIRST_READ_BYTES = 256;
/** The read buffer of a connection that sends a lot (a fast sender). */
const READ_BUFFER_BYTES = 4096;
/** How long a closing connection may take to write its last bytes. */
const LINGER_MS = 2000;
/** What a connection made without the router starts from: nothing read yet. */
const NO_OPENING: RoutedOpening = {
  bytes: new Uint8Array(0),
  door: undefined,
  ended: false,
};

/**
 * A connection from accept to close. Call {@linkcode Connection.run}.
 *
 * The hub sees it as a `Recipient`; its dialect and its
 * {@linkcode DoorPolicy} see it as their {@linkcode DoorLink}.
 */
export class Connection implements DoorLink, LineLink {
  #conn: Deno.Conn;
  #settings: ConnectionSettings;
  #dialect: Dialect;
  #policy: DoorPolicy;
  #session: Session | undefined;
  /** Its place in admission: counts, flood allowance, hello and password pacing. */
  #ticket: Ticket;
  /** Bytes to lines: the splitter, the unframed rule, telnet, the charset. */
  #reader: LineReader;
  /**
   * True while a hello or password check waits its turn, or replies wait
   * for the peer to read them (reads are paused, and the reader holds the
   * lines of the read that began the wait).
   */
  #waiting = false;
  #waitTimer: ReturnType<typeof setTimeout> | undefined;
  #readsPaused: PromiseWithResolvers<void> | undefined;
  #writes: WriteQueue;
  #lag: ReaderLag | undefined;
  #closed = false;
  /** Set while `close` runs, so a close from inside it is not run twice. */
  #leaving = false;
  #closeReason = "";
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the handshake runs out (ms since the epoch). */
  #handshakeDeadline = 0;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #drained: PromiseWithResolvers<void> | undefined;
  #heardFrom = false;
  #lastSmallWriteAt = 0;
  #lastHeardAt = 0;
  /** The `rate_limited` error, made at the first refusal. */
  #rateLimited: Outgoing | undefined;
  /** Where the peer is, for logs. */
  readonly peer: string;

  /**
   * Wraps an accepted connection and its admission ticket, which it releases
   * when its socket closes.
   */
  constructor(conn: Deno.Conn, settings: ConnectionSettings, ticket: Ticket) {
    this.#conn = conn;
    this.#settings = settings;
    this.#ticket = ticket;
    this.#policy = new DoorPolicy(this);
    // The text door until `run` hears otherwise: it also reads a JSON hello.
    this.#dialect = new TextDialectDoor(this);
    this.#reader = new LineReader(this);
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.peer = addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`;
    this.#lag = readerLagFor(
      settings.hub.gates,
      () => this.#session?.rooms,
      settings,
    );
    this.#writes = new WriteQueue({
      write: (data) => this.#write(data),
      maxBytes: settings.maxQueueBytes,
      softBytes: settings.softQueueBytes,
      softMs: settings.softQueueMs,
      watcher: this.#lag,
      onSlow: (which) => {
        settings.log(
          which === "hard"
            ? `slow ${this.peer}: over ${settings.maxQueueBytes} bytes queued`
            : `slow ${this.peer}: over ${settings.softQueueBytes} bytes queued for ${
              settings.softQueueMs / 1000
            } s`,
        );
        this.close("too slow to read");
        this.#closeSocket();
      },
      onError: (error) => this.close(errorName(error)),
      onIdle: () => {
        if (this.#closed) this.#closeSocket();
      },
    });
  }

  /** The member this connection became, once it said hello. */
  get session(): Session | undefined {
    return this.#session;
  }

  /** The server's settings. */
  get settings(): ConnectionSettings {
    return this.#settings;
  }

  /** The connection's place in admission. */
  get ticket(): Ticket {
    return this.#ticket;
  }

  /** Hellos, passwords and the flood allowance. */
  get policy(): DoorPolicy {
    return this.#policy;
  }

  /** The dialect spoken now. */
  get dialect(): Dialect {
    return this.#dialect;
  }

  /** The peer's charset. */
  get charset(): TextCharset {
    return this.#reader.charset;
  }

  /** True once closing or closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Why it closed, once it did. */
  get closeReason(): string {
    return this.#closeReason;
  }

  /** When the peer last sent bytes. */
  get lastHeardAt(): number {
    return this.#lastHeardAt;
  }

  /**
   * Takes over from the door router: greets the peer as its door wants (the
   * banner for the text door, nothing for JSON, IRC's own registration),
   * handles the bytes the router already read, then reads until the peer or
   * the server closes.
   */
  async run(opening: RoutedOpening = NO_OPENING): Promise<void> {
    try {
      (this.#conn as Deno.TcpConn).setKeepAlive?.(true);
      (this.#conn as Deno.TcpConn).setNoDelay?.(true);
    } catch {
      // Not a TCP connection (TLS wraps one); nothing to set.
    }
    // Silent connections get long (tutorial programs wait for a person to
    // type); once bytes arrive, the ordinary handshake time applies. One
    // timer serves both: it fires by the earliest the deadline can be and
    // waits on if the deadline is later (a second timer per connection was
    // a tenth of what the server allocated while 5,000 joined).
    const firstBytesMs = this.#settings.firstBytesMs ??
      this.#settings.handshakeMs;
    this.#handshakeDeadline = Date.now() + firstBytesMs;
    this.#armHandshakeTimer(Math.min(firstBytesMs, this.#settings.handshakeMs));
    this.#lastHeardAt = Date.now();
    if (opening.door === "irc") this.#dialect = new IrcDialect(this);
    // A JSON client sent its hello unasked: it reads no banner.
    else if (opening.door !== "json") this.#dialect.greet();
    let reason = "disconnected";
    let pending = opening.pending;
    try {
      if (opening.bytes.length > 0) {
        this.#heard();
        this.#reader.read(opening.bytes);
      }
      let buffer = new Uint8Array(FIRST_READ_BYTES);
      const gates = this.#settings.hub.gates;
      while (!this.#closed && !opening.ended) {
        // A hello waiting its turn: the bytes after it wait in the socket.
        if (this.#readsPaused) await this.#readsPaused.promise;
        if (this.#closed) break;
        let chunk: Uint8Array | null;
        if (pending) {
          // The router's read, still under way when it handed over.
          chunk = await pending;
          pending = undefined;
        } else {
          const n = await this.#conn.read(buffer);
          chunk = n === null ? null : buffer.subarray(0, n);
        }
        if (chunk === null) break;
        // Backpressure: while a member of one of its rooms is behind, what
        // was read waits, and nothing more is read (src/server/backpressure.ts).
        if (!gates.allOpen) await gates.whenOpen(this.#session?.rooms);
        if (this.#closed) break;
        this.#heard();
        this.#lastHeardAt = Date.now();
        this.#reader.read(chunk);
        // A full buffer: more is probably waiting, read it in fewer calls.
        if (
          chunk.length >= buffer.length && buffer.length < READ_BUFFER_BYTES
        ) {
          buffer = new Uint8Array(READ_BUFFER_BYTES);
        }
      }
    } catch (error) {
      if (!this.#closed) reason = errorName(error);
    }
    // What telnet or an unframed peer sent just before closing (or
    // resetting) is read: one-shot tutorial clients send, then close at once.
    this.#reader.end();
    this.close(this.#closeReason || reason);
  }

  /** Queues an event in the dialect spoken; drops the connection if its queue is over the bound. */
  deliver(out: Outgoing): void {
    this.#dialect.deliver(out);
  }

  /** Queues a tick's room messages as one chunk: one entry, one write. */
  deliverBatch(batch: OutgoingBatch): void {
    this.#dialect.deliverBatch(batch);
  }

  /**
   * Ends the connection: leaves the hub (announced with `reason`) and closes
   * the socket once queued bytes are written (at most a short while).
   */
  close(reason: string, event?: ServerEvent): void {
    if (this.#closed || this.#leaving) return;
    this.#leaving = true;
    if (this.#session) {
      // Leaving flushes the hub first: the echoes of this member's last
      // messages are queued here before the goodbye, never dropped after it.
      this.#settings.hub.leave(this.#session, reason);
      this.#settings.log(`leave ${this.#session.nick} ${this.peer}: ${reason}`);
    } else {
      this.#settings.log(`disconnect ${this.peer}: ${reason}`);
    }
    // Out of the room, it no longer holds it back, goodbye written or not.
    this.#lag?.close();
    if (event) this.deliver(new Outgoing(event));
    this.#closed = true;
    this.#closeReason = reason;
    clearTimeout(this.#handshakeTimer);
    clearTimeout(this.#waitTimer);
    this.#dialect.close();
    this.#reader.close();
    this.#readsPaused?.resolve();
    if (!this.#writes.busy) return this.#closeSocket();
    // A peer that does not read must not hold the socket open for ever.
    this.#lingerTimer = setTimeout(() => this.#closeSocket(), LINGER_MS);
  }

  /** Resolves once the connection is closed and its queue written. */
  get drained(): Promise<void> {
    if (this.#closed && !this.#writes.busy) return Promise.resolve();
    this.#drained ??= Promise.withResolvers();
    return this.#drained.promise;
  }

  // -------------------------------------------------------------------------
  // What the dialect and the policy use (DoorLink).

  /** Queues bytes for the peer, through telnet and its charset. */
  enqueue(bytes: Uint8Array, fromRoom = false): void {
    if (this.#closed) return;
    this.#writes.push(this.#reader.outgoing(bytes), fromRoom);
  }

  /** Queues one line of text. */
  writeLine(text: string): void {
    this.enqueue(encoder.encode(text + "\n"));
  }

  /** Sends an `error` event in the dialect spoken. */
  sendError(code: ErrorCode, message?: string): void {
    if (code === "rate_limited" && message === undefined) {
      // A flood is thousands of these: one event, encoded once per
      // connection, instead of a new event and new bytes for each line.
      return this.deliver(this.#rateLimited ??= new Outgoing(errorEvent(code)));
    }
    this.deliver(new Outgoing(errorEvent(code, message)));
  }

  /** Pauses reading for `ms`, holding what arrives, then runs `then`. */
  wait(ms: number, then: () => void): void {
    if (ms <= 0) return then();
    this.#pauseReads();
    this.#waitTimer = setTimeout(() => this.#resume(then), ms);
  }

  /** Pauses reading until `result` settles, then runs `then` with it. */
  waitFor<T>(result: Promise<T>, then: (value: T) => void): void {
    this.#pauseReads();
    result.then((value) => this.#resume(() => then(value)));
  }

  /** The hello went through: the handshake is over. */
  admitted(session: Session): void {
    clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    this.#session = session;
  }

  /** Hides a telnet client's typing, or shows it again. */
  hideInput(on: boolean): void {
    this.#reader.hideInput(on);
  }

  /** From now on, `dialect` reads the lines and writes the events. */
  switchDialect(dialect: Dialect): void {
    this.#dialect = dialect;
  }

  // -------------------------------------------------------------------------
  // Reading: the lines the reader made (line_reader.ts).

  /** A decoded line: the dialect's, then perhaps a pause for unread replies. */
  takeLine(line: string, unframed: boolean): void {
    this.#dialect.receiveLine(line, unframed);
    this.#holdWhileRepliesWait();
  }

  /**
   * A line the reader refused: said to the peer while the flood allowance
   * lasts, by the dialect if it words such refusals itself.
   */
  refuseLine(
    code: LineRefusal,
    message?: () => string,
    bytes?: Uint8Array,
  ): void {
    if (!this.#policy.allow(COMMAND_COSTS.invalid)) return;
    if (this.#dialect.refuseLine) {
      return this.#dialect.refuseLine(code, message?.(), bytes);
    }
    this.sendError(code, message?.());
  }

  /** Queues bytes exactly as given: telnet's own commands and echo. */
  sendRaw(bytes: Uint8Array): void {
    if (!this.#closed) this.#writes.push(bytes);
  }

  /** A telnet client pressed Ctrl-C twice. */
  leaveByKeys(): void {
    this.close("quit", { type: "bye", reason: "goodbye" });
  }

  /** True when the dialect now spoken reads legacy text (not JSON lines). */
  get readsLegacyText(): boolean {
    return this.#dialect.readsLegacyText;
  }

  /** True while a hello, a password check or unread replies hold reading. */
  get waiting(): boolean {
    return this.#waiting;
  }

  /** True once a wrong password ended what is read from the peer. */
  get readsNoMore(): boolean {
    return this.#policy.refused;
  }

  /**
   * More of its own replies waiting than {@linkcode BACKPRESSURE}'s
   * `maxRepliesWaiting`: the peer's next lines are held (the rest of this
   * read) or left in the socket until it has taken half of them. A client
   * that asks and never reads then costs a reply or two, not a queue up to
   * the hard limit; one that reads is read on as soon as it has.
   */
  #holdWhileRepliesWait(): void {
    const writes = this.#writes;
    const most = BACKPRESSURE.maxRepliesWaiting;
    if (this.#waiting || this.#closed || writes.ownBytes <= most) return;
    this.waitFor(writes.whenOwnAtMost(most / 2), () => {});
  }

  // -------------------------------------------------------------------------
  // Waiting: a hello or a password check waits its address's turn.

  #pauseReads(): void {
    this.#waiting = true;
    this.#readsPaused ??= Promise.withResolvers();
  }

  /** The wait is over: runs `then`, then the input held meanwhile. */
  #resume(then: () => void): void {
    this.#waiting = false;
    if (this.#closed) return;
    then();
    this.#handleHeld();
  }

  /** Handles the input held during a wait, until another wait begins. */
  #handleHeld(): void {
    this.#reader.readHeld();
    if (this.#waiting) return;
    this.#readsPaused?.resolve();
    this.#readsPaused = undefined;
  }

  // -------------------------------------------------------------------------
  // The handshake clock.

  #armHandshakeTimer(ms: number): void {
    this.#handshakeTimer = setTimeout(() => {
      const left = this.#handshakeDeadline - Date.now();
      if (left > 0) return this.#armHandshakeTimer(left);
      this.#settings.log(`timeout ${this.peer}: no hello`);
      this.close("no hello in time", {
        type: "bye",
        reason: "no nickname or hello in time",
      });
    }, ms);
  }

  /** The first bytes from the peer: the dialect hears, the handshake clock restarts. */
  #heard(): void {
    if (this.#heardFrom) return;
    this.#heardFrom = true;
    this.#dialect.heard();
    // Never earlier than the timer: it was armed for at most handshakeMs.
    if (!this.#session) {
      this.#handshakeDeadline = Date.now() + this.#settings.handshakeMs;
    }
  }

  // -------------------------------------------------------------------------
  // Writing.

  #closeSocket(): void {
    clearTimeout(this.#lingerTimer);
    this.#lag?.close();
    this.#writes.close();
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#ticket.release();
    this.#drained?.resolve();
  }

  /**
   * Writes some of a chunk (one small piece, for a tutorial program):
   * what the write queue calls, resolving with the bytes the peer took.
   */
  #write(data: Uint8Array): Promise<number> {
    if (this.#dialect.writesSmall) return this.#writeSmall(data);
    return this.#conn.write(data);
  }

  /**
   * Writes the first piece of `data` that fits a `recv(1024)` and ends on a
   * character boundary, a short gap after the last, so each arrives as a
   * read of its own.
   */
  async #writeSmall(data: Uint8Array): Promise<number> {
    const piece = firstUtf8Piece(data, COMPAT_LIMITS.maxReplyBytes);
    const wait = this.#lastSmallWriteAt + COMPAT_LIMITS.replyGapMs - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    let offset = 0;
    while (offset < piece.length) {
      offset += await this.#conn.write(piece.subarray(offset));
    }
    this.#lastSmallWriteAt = Date.now();
    return piece.length;
  }
}

function errorName(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionReset) return "connection reset";
  if (error instanceof Deno.errors.BrokenPipe) return "connection broken";
  if (error instanceof Deno.errors.BadResource) return "closed";
  return error instanceof Error ? error.message : String(error);
}
