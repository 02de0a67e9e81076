/**
 * One client connection: reads lines, runs the handshake in either dialect,
 * feeds the hub, and writes what the hub queues for it.
 *
 * Writing never blocks the hub: {@linkcode Connection.deliver} appends bytes
 * to the connection's bounded `WriteQueue` (src/server/write_queue.ts), whose
 * pump writes everything queued so far in a single call. A member that falls
 * behind pauses its room's reading for a while (src/server/backpressure.ts);
 * one that stops reading fills its own queue and is dropped.
 *
 * Who may do what, how fast, is not decided here: the connection's
 * {@linkcode Ticket} from src/server/admission.ts charges each command to
 * the flood allowance and paces hellos and password checks. A hello or a
 * password that must wait its turn pauses reading; the lines that came with
 * it are handled after it, in order.
 *
 * @module
 */

import {
  type ClientFrame,
  type ErrorCode,
  errorEvent,
  type EventEncoder,
  JSON_LINES,
  LineSplitter,
  nickErrorMessage,
  parseClientFrame,
  type ServerEvent,
} from "../../../protocol.ts";
import { helpLines, mayUse, parseTypedLine } from "../../shared/commands.ts";
import {
  TEXT_LINES,
  TEXT_LINES_OTHER_ROOM,
} from "../../shared/text_dialect.ts";
import { COMMAND_COSTS, type Ticket } from "../admission.ts";
import {
  type HelloRequest,
  type Hub,
  Outgoing,
  type OutgoingBatch,
  type Recipient,
  type Session,
} from "../hub.ts";
import { GuestNames } from "../guest_names.ts";
import { COMPAT_LIMITS, SAFETY_TIMINGS } from "../../shared/limits.ts";
import { passwordMatches } from "../password.ts";
import { cleanText, isValidNick, nickKey } from "../../shared/sanitize.ts";
import {
  isQuitWord,
  shortHistory,
  stripOwnPrefix,
  UnframedInput,
} from "./unframed.ts";
import { splitUtf8 } from "./utf8_chunks.ts";
import { WriteQueue } from "../write_queue.ts";
import { TelnetSession } from "./telnet/telnet_session.ts";
import { TextCharset } from "./text_charset.ts";
import type { RoutedOpening } from "./router.ts";
import { type IrcPort, IrcSession } from "./irc/irc_session.ts";
import { type ReaderLag, readerLagFor } from "../backpressure.ts";

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
/** The unframed-input timings, one object for every connection. */
const UNFRAMED_TIMINGS = {
  idleMs: COMPAT_LIMITS.unframedIdleMs,
  keystrokeIdleMs: COMPAT_LIMITS.keystrokeIdleMs,
};
/** How long a closing connection may take to write its last bytes. */
const LINGER_MS = 2000;
/** Ends a discarded over-long unframed line inside the line splitter. */
const NEWLINE_BYTES = new Uint8Array([0x0a]);
/** What a connection made without the router starts from: nothing read yet. */
const NO_OPENING: RoutedOpening = {
  bytes: new Uint8Array(0),
  door: undefined,
  ended: false,
};
/** Guest names when the server passes no generator of its own. */
const defaultGuests = new GuestNames();

type Stage = "nick" | "password" | "member" | "closing";

/**
 * Input that arrived while the connection waited, handled after the wait:
 * a line's raw bytes, or a line a telnet client's editor already decoded.
 */
type HeldInput =
  | { bytes: Uint8Array; unframed: boolean }
  | { line: string; unframed: boolean };

/** A connection from accept to close. Call {@linkcode Connection.run}. */
export class Connection implements Recipient {
  #conn: Deno.Conn;
  #settings: ConnectionSettings;
  #encoder: EventEncoder = TEXT_LINES;
  #dialectChosen = false;
  #stage: Stage = "nick";
  #session: Session | undefined;
  #pendingNick = "";
  /** The registered nickname an IRC client's `PASS` proved, if any. */
  #ircAccount: string | undefined;
  /** Its place in admission: counts, flood allowance, hello and password pacing. */
  #ticket: Ticket;
  /** True while a hello or password check waits its turn (reads are paused). */
  #waiting = false;
  #waitTimer: ReturnType<typeof setTimeout> | undefined;
  #held: HeldInput[] = [];
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
  // The compatibility door (docs/protocol.md): input without newlines.
  #splitter = new LineSplitter();
  #input = new UnframedInput(UNFRAMED_TIMINGS);
  #unframedTimer: ReturnType<typeof setTimeout> | undefined;
  #discardingUnframed = false;
  /** Its input came unframed: replies are cut small, history is short. */
  #unframedPeer = false;
  /** The name an unframed client chose, kept to strip it as a prefix. */
  #chosenNick = "";
  #heardFrom = false;
  #bannerRest: string | undefined;
  #bannerTimer: ReturnType<typeof setTimeout> | undefined;
  #lastSmallWriteAt = 0;
  // Telnet clients and GB18030 text (src/server/doors/telnet/,
  // text_charset.ts): nothing changes for a client that uses neither.
  #charset = new TextCharset((notice) => this.#writeLine(notice));
  /** Made at the first read with a 0xFF in it: most clients never need it. */
  #telnet: TelnetSession | undefined;
  /** An IRC client's session (src/server/doors/irc/), once the router said so. */
  #irc: IrcSession | undefined;
  #lastHeardAt = 0;
  #pingSentAt = 0;
  #pingTimer: ReturnType<typeof setTimeout> | undefined;
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
      write: (data, wrote) => this.#write(data, wrote),
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
    if (opening.door === "irc") this.#startIrc();
    else if (opening.door !== "json") this.#sendBanner();
    let reason = "disconnected";
    let pending = opening.pending;
    try {
      if (opening.bytes.length > 0) {
        this.#heard();
        this.#read(opening.bytes);
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
        this.#read(chunk);
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
    this.#telnet?.end(this.#receivePlain);
    // What an unframed peer sent just before closing (or resetting) is its
    // last message: one-shot tutorial clients send, then close at once.
    if (this.#input.flushesAtEnd) this.#takeUnframed();
    this.close(this.#closeReason || reason);
  }

  /** One read from the socket: a telnet client's, or plain bytes. */
  #read(chunk: Uint8Array): void {
    if (this.#telnet || TelnetSession.mayBegin(chunk)) {
      this.#telnet ??= this.#newTelnet();
      this.#telnet.receive(chunk, this.#receivePlain);
    } else this.#receivePlain(chunk);
  }

  /** Telnet for this connection: what it needs to read and write. */
  #newTelnet(): TelnetSession {
    return new TelnetSession({
      charset: this.#charset,
      send: (bytes) => {
        if (!this.#closed) this.#writes.push(bytes);
      },
      print: (line) => this.#writeLine(line),
      line: (text) => this.#receiveLine(text),
      tooLong: () => {
        if (this.#allow(COMMAND_COSTS.invalid)) this.#sendError("too_long");
      },
      leave: () => this.close("quit", { type: "bye", reason: "goodbye" }),
      mayStart: () => this.#encoder === TEXT_LINES,
      takePending: () => {
        clearTimeout(this.#unframedTimer);
        return this.#splitter.takePartial();
      },
    });
  }

  /** Reads bytes of a client that is not telnet: lines, or unframed input. */
  #receivePlain = (chunk: Uint8Array): void => {
    const now = Date.now();
    // A program's one-character send, then its next: two lines.
    if (this.#input.splitsBefore(chunk, now)) this.#takeUnframed();
    this.#input.receive(chunk, now);
    this.#splitter.push(chunk, (piece) => {
      if (this.#closed) return;
      if (piece.kind === "too_long") {
        this.#discardingUnframed = this.#input.framing !== "lines";
        if (this.#allow(COMMAND_COSTS.invalid)) this.#sendError("too_long");
      } else this.#receive(piece.bytes);
    });
    this.#scheduleUnframed();
  };

  /** Queues an event; drops the connection if its queue is over the bound. */
  deliver(out: Outgoing): void {
    if (this.#irc) return this.#deliverIrc(out);
    if (this.#unframedPeer && out.event.type === "welcome") {
      out = new Outgoing(
        shortHistory(out.event, COMPAT_LIMITS.unframedHistory),
      );
    }
    const room = out.event.type === "msg" ? out.event.room : undefined;
    for (const part of out.parts(this.#encoderFor(room))) this.#enqueue(part);
  }

  /** Queues a tick's room messages as one chunk: one entry, one write. */
  deliverBatch(batch: OutgoingBatch): void {
    const irc = this.#irc;
    if (irc && batch.items.some((item) => irc.isPersonal(item.event))) {
      for (const item of batch.items) this.#deliverIrc(item);
      return;
    }
    // Room traffic: what can make this member hold its rooms back.
    if (irc) return this.#enqueue(batch.bytes(irc.encoder), true);
    this.#enqueue(batch.bytes(this.#encoderFor(batch.room)), true);
  }

  /**
   * The encoder for a room message of `room`: in the text dialect, another
   * room than the member's current one is named on each line, a second
   * encoding shared by every member reading it from elsewhere.
   */
  #encoderFor(room: string | undefined): EventEncoder {
    return this.#encoder === TEXT_LINES && room !== undefined &&
        this.#session !== undefined && room !== this.#session.room
      ? TEXT_LINES_OTHER_ROOM
      : this.#encoder;
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
    clearTimeout(this.#unframedTimer);
    clearTimeout(this.#bannerTimer);
    clearTimeout(this.#waitTimer);
    clearTimeout(this.#pingTimer);
    this.#held = [];
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

  #enqueue(bytes: Uint8Array, fromRoom = false): void {
    if (this.#closed) return;
    if (this.#telnet) bytes = this.#telnet.outgoing(bytes);
    this.#writes.push(this.#charset.encode(bytes), fromRoom);
  }

  /**
   * Writes one chunk (cut small for an unframed peer), telling the queue
   * each time the peer takes part of it.
   */
  async #write(
    data: Uint8Array,
    wrote: (bytes: number) => void,
  ): Promise<void> {
    if (this.#unframedPeer) return await this.#writeSmall(data, wrote);
    let offset = 0;
    while (offset < data.length) {
      const n = await this.#conn.write(data.subarray(offset));
      offset += n;
      wrote(n);
    }
  }

  #writeLine(text: string): void {
    this.#enqueue(encoder.encode(text + "\n"));
  }

  #sendError(code: ErrorCode, message?: string): void {
    this.deliver(new Outgoing(errorEvent(code, message)));
  }

  #receive(bytes: Uint8Array, unframed = false): void {
    // Behind a waiting hello: kept (copied, the read buffer is reused) and
    // handled once it is through, so replies keep the order of the lines.
    if (this.#waiting) {
      this.#held.push({ bytes: bytes.slice(), unframed });
      return;
    }
    // After a wrong password nothing more is read: no second guess per delay.
    if (this.#stage === "closing") return;
    // NUL never belongs in chat text; refusing the line says so, where
    // stripping it would silently send something else.
    if (bytes.includes(0)) {
      if (this.#allow(COMMAND_COSTS.invalid)) this.#sendError("bad_text");
      return;
    }
    const mayGuess = this.#encoder === TEXT_LINES;
    const line = this.#charset.decodeLine(bytes, mayGuess);
    if (line === undefined) {
      if (!this.#allow(COMMAND_COSTS.invalid)) return;
      return this.#sendError("invalid_utf8", this.#charset.refusal(bytes));
    }
    this.#receiveLine(line, unframed);
  }

  /** A decoded line, from the line splitter or a telnet client's editor. */
  #receiveLine(line: string, unframed = false): void {
    if (this.#waiting) {
      this.#held.push({ line, unframed });
      return;
    }
    if (this.#stage === "closing") return;
    if (this.#irc) {
      // Every IRC line is a reply's worth of work, whatever frame follows.
      if (!this.#allow(COMMAND_COSTS.ping)) return;
      return this.#irc.receive(line);
    }
    if (!this.#dialectChosen) {
      if (line.trim() === "") return; // Blank lines before a nick are noise.
      this.#dialectChosen = true;
      this.#encoder = line.trimStart().startsWith("{")
        ? JSON_LINES
        : TEXT_LINES;
    }
    if (this.#encoder === JSON_LINES) this.#receiveJson(line);
    else if (unframed) this.#receiveUnframed(line);
    else this.#receiveText(line);
  }

  #receiveJson(line: string): void {
    if (line.trim() === "") return;
    const parsed = parseClientFrame(line);
    if (!parsed.ok) {
      if (!this.#allow(COMMAND_COSTS.invalid)) return;
      return this.#sendError(parsed.code, parsed.message);
    }
    const frame = parsed.frame;
    if (frame.type === "hello") {
      if (this.#session) {
        if (!this.#allow(COMMAND_COSTS.invalid)) return;
        return this.#sendError("already_joined");
      }
      const request: HelloRequest = {
        nick: frame.nick,
        room: frame.room,
        since: frame.since,
        rooms: frame.rooms,
      };
      const account = this.#settings.hub.accounts.find(frame.nick.trim());
      if (account) {
        return this.#checkPassword(
          frame.password ?? "",
          () => this.#hello({ ...request, signedIn: true }),
          (given) =>
            this.#settings.hub.accounts.verifyAsync(account.nick, given),
        );
      }
      if (this.#settings.password === undefined) return this.#hello(request);
      return this.#checkPassword(
        frame.password ?? "",
        () => this.#hello(request),
      );
    }
    if (!this.#session) {
      if (!this.#allow(COMMAND_COSTS.invalid)) return;
      return this.#sendError("not_ready");
    }
    this.#command(frame);
  }

  #receiveText(line: string): void {
    // Before the nickname too: a line of GBK may have settled it wrongly.
    const typed = this.#stage === "nick" && parseTypedLine(line.trim(), "text");
    if (typed && typed.kind === "command" && typed.command.door === "text") {
      return this.#chooseCharset(typed.args);
    }
    switch (this.#stage) {
      case "nick": {
        const nick = line.trim();
        const refusal = this.#settings.hub.checkNick(nick);
        if (refusal) {
          if (!this.#allow(COMMAND_COSTS.invalid)) return;
          this.#sendError(refusal, nickErrorMessage(refusal, nick));
          return this.#writeLine("Nickname?");
        }
        // A registered nickname needs its own password, which on a server
        // with --password stands in for the server's.
        if (
          this.#settings.password !== undefined ||
          this.#settings.hub.accounts.find(nick)
        ) {
          this.#pendingNick = nick;
          this.#stage = "password";
          this.#telnet?.hideInput(true);
          return this.#writeLine("Password?");
        }
        return this.#hello({ nick });
      }
      case "password": {
        this.#telnet?.hideInput(false);
        const nick = this.#pendingNick;
        const account = this.#settings.hub.accounts.find(nick);
        if (account) {
          return this.#checkPassword(
            line.trim(),
            () => this.#hello({ nick, signedIn: true }),
            (given) =>
              this.#settings.hub.accounts.verifyAsync(account.nick, given),
          );
        }
        return this.#checkPassword(
          line.trim(),
          () => this.#hello({ nick }),
        );
      }
      case "member":
        return this.#receiveTextCommand(line);
      case "closing":
        return;
    }
  }

  #receiveTextCommand(line: string): void {
    if (line.trim() === "") return;
    const typed = parseTypedLine(line, "text");
    if (typed.kind === "say") {
      return this.#command({ type: "say", text: typed.text });
    }
    if (typed.kind === "unknown") {
      if (!this.#allow(COMMAND_COSTS.invalid)) return;
      return this.#sendError(
        "unknown_command",
        `unknown command ${cleanText(typed.name.slice(0, 40))} (try /help)`,
      );
    }
    if (typed.command.name === "/help") {
      if (!this.#allow(COMMAND_COSTS.help)) return;
      return this.#writeLine(
        [
          "* Commands:",
          ...helpLines((c) =>
            (c.toFrame !== undefined || c.door === "text") &&
            mayUse(c, this.#settings.hub.roleIn(this.#session!))
          ),
        ].join(
          "\n",
        ),
      );
    }
    if (typed.command.name === "/charset") {
      return this.#chooseCharset(typed.args);
    }
    if (!typed.command.toFrame) {
      if (!this.#allow(COMMAND_COSTS.invalid)) return;
      return this.#sendError(
        "unknown_command",
        `${typed.command.name} works in the chat client only`,
      );
    }
    const frame = typed.command.toFrame(typed.args);
    if (typeof frame === "string") {
      if (!this.#allow(COMMAND_COSTS.invalid)) return;
      return this.#sendError("bad_frame", frame);
    }
    this.#command(frame);
  }

  /** `/charset NAME`: the user says how their terminal writes text. */
  #chooseCharset(args: string): void {
    if (!this.#allow(COMMAND_COSTS.help)) return;
    const result = this.#charset.command(args);
    if ("usage" in result) return this.#sendError("bad_frame", result.usage);
    this.#writeLine(result.notice);
  }

  // -------------------------------------------------------------------------
  // The compatibility door: tutorial programs that send without newlines.

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

  /**
   * The banner line; with `--compat`, `NICK` goes first as a write of its
   * own (the tutorial client answers only a read that is exactly `NICK`),
   * and the rest of the same line follows after a short wait or as soon as
   * the client speaks, so line readers still see one banner line.
   */
  #sendBanner(): void {
    if (!this.#settings.nickFirst) {
      return this.#writeLine(this.#settings.banner);
    }
    this.#enqueue(encoder.encode("NICK"));
    this.#bannerRest = ` - ${this.#settings.banner}`;
    this.#bannerTimer = setTimeout(
      () => this.#sendBannerRest(),
      COMPAT_LIMITS.nickWaitMs,
    );
  }

  #sendBannerRest(): void {
    clearTimeout(this.#bannerTimer);
    if (this.#bannerRest === undefined) return;
    this.#writeLine(this.#bannerRest);
    this.#bannerRest = undefined;
  }

  /** The first bytes from the peer: the rest of the banner, the handshake clock. */
  #heard(): void {
    if (this.#heardFrom) return;
    this.#heardFrom = true;
    this.#sendBannerRest();
    // Never earlier than the timer: it was armed for at most handshakeMs.
    if (!this.#session) {
      this.#handshakeDeadline = Date.now() + this.#settings.handshakeMs;
    }
  }

  /** Arms the timer after which held bytes without a newline are a line. */
  #scheduleUnframed(): void {
    clearTimeout(this.#unframedTimer);
    this.#unframedTimer = undefined;
    const at = this.#input.flushAt;
    if (at === undefined || this.#closed) return;
    this.#unframedTimer = setTimeout(
      () => this.#takeUnframed(),
      Math.max(0, at - Date.now()),
    );
  }

  /** Takes the held bytes as one unframed line. */
  #takeUnframed(): void {
    clearTimeout(this.#unframedTimer);
    if (this.#closed) return;
    const bytes = this.#splitter.takePartial();
    if (this.#discardingUnframed) {
      // An over-long unframed send was refused; its end is the idle time.
      this.#splitter.push(NEWLINE_BYTES, () => {});
      this.#discardingUnframed = false;
    }
    this.#input.taken();
    if (bytes) this.#receive(bytes, true);
  }

  #receiveUnframed(line: string): void {
    this.#unframedPeer = true;
    if (this.#stage === "member") return this.#receiveUnframedMessage(line);
    // With a password the ordinary handshake runs: a guest cannot prove it.
    if (this.#stage !== "nick" || this.#settings.password !== undefined) {
      return this.#receiveText(line);
    }
    const text = line.trim();
    if (text === "") return;
    const hub = this.#settings.hub;
    const guests = this.#settings.guests ?? defaultGuests;
    const isFree = (nick: string) => hub.checkNick(nick) === undefined;
    const refusal = hub.checkNick(text);
    // A first send that is a valid nickname is the nickname (a message that
    // happens to be one cannot be told apart); a taken one gets a variant,
    // since these programs cannot answer "choose another" (not a look-alike
    // that mixes scripts: none of its variants would be valid).
    if (
      refusal === undefined ||
      (refusal === "nick_taken" && isValidNick(text))
    ) {
      this.#chosenNick = text;
      return this.#hello({
        nick: refusal ? guests.variant(text, isFree) : text,
      });
    }
    this.#hello(
      { nick: guests.next(isFree) },
      () => this.#receiveUnframedMessage(line),
    );
  }

  /** A message from an unframed peer: its own name prefix off, quit words. */
  #receiveUnframedMessage(line: string): void {
    const text = stripOwnPrefix(line, [this.#session!.nick, this.#chosenNick]);
    if (isQuitWord(text)) {
      return this.close("quit", { type: "bye", reason: "goodbye" });
    }
    this.#receiveTextCommand(text);
  }

  /**
   * Writes in pieces that fit a `recv(1024)` and end on a character
   * boundary, a short gap apart so each arrives as a read of its own.
   */
  async #writeSmall(
    data: Uint8Array,
    wrote: (bytes: number) => void,
  ): Promise<void> {
    for (const piece of splitUtf8(data, COMPAT_LIMITS.maxReplyBytes)) {
      const wait = this.#lastSmallWriteAt + COMPAT_LIMITS.replyGapMs -
        Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      let offset = 0;
      while (offset < piece.length) {
        const n = await this.#conn.write(piece.subarray(offset));
        offset += n;
        wrote(n);
      }
      this.#lastSmallWriteAt = Date.now();
    }
  }

  // -------------------------------------------------------------------------
  // The IRC door: the protocol is src/server/doors/irc/irc_session.ts; this
  // is its socket edge, with the same admission, limits and hub as the rest.

  #startIrc(): void {
    this.#dialectChosen = true;
    this.#irc = new IrcSession(this.#ircPort());
    this.#lastHeardAt = Date.now();
    this.#schedulePing();
  }

  #deliverIrc(out: Outgoing): void {
    const irc = this.#irc!;
    if (irc.isPersonal(out.event)) {
      const lines = irc.render(out.event);
      if (lines !== "") this.#enqueue(encoder.encode(lines));
      return;
    }
    for (const part of out.parts(irc.encoder)) this.#enqueue(part);
  }

  /**
   * The server pings an IRC client that has been quiet for `--ping-seconds`
   * and drops one that stays quiet as long again: a vanished laptop must
   * not keep its nickname for the hours TCP keepalive takes.
   */
  #schedulePing(): void {
    const pingMs = this.#settings.pingMs;
    if (!pingMs || this.#closed) return;
    this.#pingTimer = setTimeout(() => {
      const now = Date.now();
      const quiet = now - this.#lastHeardAt;
      if (this.#pingSentAt > this.#lastHeardAt) {
        if (now - this.#pingSentAt >= pingMs) {
          return this.close("ping timeout", {
            type: "bye",
            reason: `ping timeout: ${Math.round(quiet / 1000)} seconds`,
          });
        }
      } else if (quiet >= pingMs) {
        this.#pingSentAt = now;
        this.#enqueue(encoder.encode(`PING :${this.#settings.serverName}\r\n`));
      }
      this.#schedulePing();
    }, Math.max(250, pingMs / 4));
  }

  #ircPort(): IrcPort {
    const settings = this.#settings;
    const hub = settings.hub;
    return {
      serverName: settings.serverName,
      needsPassword: settings.password !== undefined,
      startedAt: settings.startedAt,
      checkNick: (nick) => hub.checkNick(nick),
      isRegistered: (nick) => hub.accounts.find(nick) !== undefined,
      checkPassword: (given, then, nick) => {
        const account = nick === undefined
          ? undefined
          : hub.accounts.find(nick);
        if (!account) return this.#checkPassword(given ?? "", then);
        this.#checkPassword(
          given ?? "",
          () => {
            this.#ircAccount = account.nick;
            then();
          },
          (g) => hub.accounts.verifyAsync(account.nick, g),
        );
      },
      register: (nick) =>
        this.#hello({
          nick,
          signedIn: this.#ircAccount !== undefined &&
            nickKey(nick) === nickKey(this.#ircAccount),
        }),
      send: (frame) => {
        if (this.#session) this.#command(frame);
      },
      roomsOf: (nick) => {
        const member = hub.findMember(nick);
        return member ? [...member.rooms] : undefined;
      },
      awayOf: (nick) => hub.findMember(nick)?.away,
      membersOf: (room) => hub.members(room).map((member) => member.nick),
      roleIn: (room) =>
        this.#session ? hub.roleIn(this.#session, room) : undefined,
      mutedAll: (room) => hub.isMutedAll(room),
      setAway: (text) => {
        if (!this.#session || !this.#allow(COMMAND_COSTS.away)) return false;
        hub.setAway(this.#session, text);
        return true;
      },
      counts: () => ({ users: hub.size, rooms: hub.roomCount }),
      write: (lines) => this.#enqueue(encoder.encode(lines)),
      writeAfterPending: (lines) =>
        hub.afterPending(() => {
          if (!this.#closed) this.#enqueue(encoder.encode(lines));
        }),
      quit: (reason) => this.close(reason, { type: "bye", reason }),
    };
  }

  // -------------------------------------------------------------------------
  // Admission: hellos and passwords wait their address's turn.

  /**
   * Runs `then` after `ms`, with reading paused and every line that arrives
   * meanwhile held for after it; at once (no timer) when `ms` is 0.
   */
  #wait(ms: number, then: () => void): void {
    if (ms <= 0) return then();
    this.#waiting = true;
    this.#readsPaused ??= Promise.withResolvers();
    this.#waitTimer = setTimeout(() => {
      this.#waiting = false;
      if (this.#closed) return;
      then();
      this.#handleHeld();
    }, ms);
  }

  /** Handles the input held during a wait, until another wait begins. */
  #handleHeld(): void {
    while (!this.#waiting && !this.#closed && this.#held.length > 0) {
      const held = this.#held.shift()!;
      if ("bytes" in held) this.#receive(held.bytes, held.unframed);
      else this.#receiveLine(held.line, held.unframed);
    }
    if (this.#waiting) return;
    this.#readsPaused?.resolve();
    this.#readsPaused = undefined;
  }

  /**
   * Checks a password when its address's turn comes (at most two checks a
   * second per address, fewer after wrong ones), then runs `then` if right.
   */
  #checkPassword(
    given: string,
    then: () => void,
    matches: (given: string) => boolean | Promise<boolean> = (g) =>
      passwordMatches(g, this.#settings.password ?? ""),
  ): void {
    const wait = this.#ticket.passwordWait();
    if (wait === undefined) return this.#refuseGuessing();
    if (wait > 0) {
      return this.#wait(wait, () => this.#checkPassword(given, then, matches));
    }
    const verdict = matches(given);
    if (typeof verdict === "boolean") return this.#checked(verdict, then);
    // An account's hash is checked off the event loop: reads stay paused
    // and lines that arrive meanwhile are held, as during any wait.
    this.#waiting = true;
    this.#readsPaused ??= Promise.withResolvers();
    verdict.then((ok) => {
      this.#waiting = false;
      if (this.#closed) return;
      this.#checked(ok, then);
      this.#handleHeld();
    });
  }

  /** After a password check: refuse, or run `then`. */
  #checked(ok: boolean, then: () => void): void {
    if (!ok) {
      this.#ticket.passwordFailed();
      return this.#refusePassword();
    }
    this.#ticket.passwordSucceeded();
    then();
  }

  /**
   * A hello, once its address's turn comes (`--hellos-per-second`): admits
   * the connection, then runs `then` if it became a member.
   */
  #hello(request: HelloRequest, then?: () => void): void {
    const wait = this.#ticket.helloWait();
    if (wait === undefined) {
      if (!this.#allow(COMMAND_COSTS.invalid)) return;
      this.#stage = "nick";
      this.#sendError(
        "rate_limited",
        "too many joins from your address at once; try again in a moment",
      );
      if (this.#encoder === TEXT_LINES) this.#writeLine("Nickname?");
      return;
    }
    this.#wait(wait, () => {
      this.#admit(request);
      if (this.#session && !this.#closed) then?.();
    });
  }

  #admit(request: HelloRequest): void {
    const hub = this.#settings.hub;
    const result = hub.hello(this, {
      ...request,
      address: this.#ticket.address,
    });
    if (typeof result === "string") {
      this.#stage = "nick";
      this.#irc?.registrationFailed();
      this.#sendError(result, nickErrorMessage(result, request.nick));
      if (this.#encoder === TEXT_LINES) this.#writeLine("Nickname?");
      return;
    }
    if (this.#closed) {
      // The welcome itself ended this connection (a failed write, or more
      // than a client that does not read may have queued) while hub.hello
      // had not yet returned its session, so close() could not leave: leave
      // now, or the nickname and the room's member would stay for ever.
      hub.leave(result, this.#closeReason);
      this.#settings.log(
        `leave ${result.nick} ${this.peer}: ${this.#closeReason}`,
      );
      return;
    }
    clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    this.#session = result;
    this.#stage = "member";
    this.#ticket.admitted();
    this.#settings.log(`join ${result.nick} ${this.peer} room=${result.room}`);
  }

  /** A wrong password: the refusal and the close come after a delay. */
  #refusePassword(): void {
    this.#stage = "closing";
    this.#settings.log(`refused ${this.peer}: wrong password`);
    this.#wait(SAFETY_TIMINGS.wrongPasswordDelayMs, () => {
      this.#sendError("bad_password");
      this.close("wrong password", { type: "bye", reason: "wrong password" });
    });
  }

  /** Too many wrong passwords from this address lately: no check at all. */
  #refuseGuessing(): void {
    this.#stage = "closing";
    this.#settings.log(
      `refused ${this.peer}: too many wrong passwords from ${this.#ticket.address}`,
    );
    this.#sendError(
      "rate_limited",
      "too many wrong passwords from your address; try again later",
    );
    this.close("too many wrong passwords", {
      type: "bye",
      reason: "too many wrong passwords",
    });
  }

  /**
   * Takes `cost` from the flood allowance. Over it, the client is told
   * (`rate_limited`), or after `--flood-seconds` of it is disconnected; the
   * command is not run.
   */
  #allow(cost: number): boolean {
    if (this.#ticket.take(cost)) return true;
    if (this.#ticket.floodingFor() >= this.#settings.floodMs) {
      const who = this.#session ? `${this.#session.nick} ` : "";
      this.#settings.log(`flood ${who}${this.peer}`);
      this.close("flooding", { type: "bye", reason: "flooding" });
    } else this.#sendError("rate_limited");
    return false;
  }

  #command(frame: Exclude<ClientFrame, { type: "hello" }>): void {
    const session = this.#session!;
    if (frame.type === "quit") {
      // The reason is shown to the room in the leave notice: clean it.
      // Cut before cleaning, so a cut through a surrogate pair becomes U+FFFD.
      const reason = cleanText((frame.reason ?? "").slice(0, 100)).trim();
      return this.close(reason || "quit", {
        type: "bye",
        reason: "goodbye",
      });
    }
    // Every command is work and a reply, so every one counts.
    if (!this.#allow(COMMAND_COSTS[frame.type])) return;
    this.#settings.hub.handle(session, frame);
  }
}

function errorName(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionReset) return "connection reset";
  if (error instanceof Deno.errors.BrokenPipe) return "connection broken";
  if (error instanceof Deno.errors.BadResource) return "closed";
  return error instanceof Error ? error.message : String(error);
}
