/**
 * One client connection: reads lines, runs the handshake in either dialect,
 * feeds the hub, and writes what the hub queues for it.
 *
 * Writing never blocks the hub: {@linkcode Connection.deliver} appends bytes
 * to the connection's bounded `WriteQueue` (src/write_queue.ts), whose pump
 * writes everything queued so far in a single call. A client that stops
 * reading fills its own queue and is dropped; nobody else waits for it.
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
import { helpLines, parseTypedLine } from "../../shared/commands.ts";
import { TEXT_LINES } from "../../shared/text_dialect.ts";
import {
  type Hub,
  Outgoing,
  type OutgoingBatch,
  type Recipient,
  type Session,
} from "../hub.ts";
import { GuestNames } from "../guest_names.ts";
import { COMPAT_LIMITS, SAFETY_TIMINGS } from "../../shared/limits.ts";
import { passwordMatches } from "../password.ts";
import { TokenBucket } from "../../shared/rate_limiter.ts";
import { cleanText, isValidNick } from "../../shared/sanitize.ts";
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

/** Settings a connection needs from the server. */
export interface ConnectionSettings {
  hub: Hub;
  password?: string;
  rate: number;
  burst: number;
  maxQueueBytes: number;
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
}

const encoder = new TextEncoder();
const READ_BUFFER_BYTES = 4096;
/** How long a closing connection may take to write its last bytes. */
const LINGER_MS = 2000;
/** Ends a discarded over-long unframed line inside the line splitter. */
const NEWLINE_BYTES = new Uint8Array([0x0a]);
/** Guest names when the server passes no generator of its own. */
const defaultGuests = new GuestNames();

type Stage = "nick" | "password" | "member" | "closing";

/**
 * Frames the flood limit counts: the ones other people see (a rename or a
 * room change is announced to a whole room, so it can spam like a message).
 */
const REACHES_OTHERS: ReadonlySet<string> = new Set([
  "say",
  "me",
  "dm",
  "nick",
  "join",
]);

/** A connection from accept to close. Call {@linkcode Connection.run}. */
export class Connection implements Recipient {
  #conn: Deno.Conn;
  #settings: ConnectionSettings;
  #encoder: EventEncoder = TEXT_LINES;
  #dialectChosen = false;
  #stage: Stage = "nick";
  #session: Session | undefined;
  #pendingNick = "";
  #bucket: TokenBucket;
  #writes: WriteQueue;
  #closed = false;
  /** Set while `close` runs, so a close from inside it is not run twice. */
  #leaving = false;
  #closeReason = "";
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #drained: PromiseWithResolvers<void> | undefined;
  // The compatibility door (docs/protocol.md): input without newlines.
  #splitter = new LineSplitter();
  #input = new UnframedInput({
    idleMs: COMPAT_LIMITS.unframedIdleMs,
    keystrokeIdleMs: COMPAT_LIMITS.keystrokeIdleMs,
  });
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
  /** Where the peer is, for logs. */
  readonly peer: string;

  /** Wraps an accepted connection. */
  constructor(conn: Deno.Conn, settings: ConnectionSettings) {
    this.#conn = conn;
    this.#settings = settings;
    this.#bucket = new TokenBucket({
      rate: settings.rate,
      burst: settings.burst,
    });
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.peer = addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`;
    this.#writes = new WriteQueue({
      write: (data) => this.#write(data),
      maxWaitingBytes: settings.maxQueueBytes,
      onSlow: () => {
        settings.log(
          `slow ${this.peer}: over ${settings.maxQueueBytes} bytes queued`,
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

  /** Sends the banner, then reads until the peer or the server closes. */
  async run(): Promise<void> {
    try {
      (this.#conn as Deno.TcpConn).setKeepAlive?.(true);
      (this.#conn as Deno.TcpConn).setNoDelay?.(true);
    } catch {
      // Not a TCP connection (TLS wraps one); nothing to set.
    }
    // Silent connections get long (tutorial programs wait for a person to
    // type); once bytes arrive, the ordinary handshake time applies.
    this.#startHandshakeTimer(
      this.#settings.firstBytesMs ?? this.#settings.handshakeMs,
    );
    this.#sendBanner();
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    let reason = "disconnected";
    try {
      while (!this.#closed) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.#heard();
        this.#read(buffer.subarray(0, n));
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
      tooLong: () => this.#sendError("too_long"),
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
    this.#input.receive(chunk, Date.now());
    this.#splitter.push(chunk, (piece) => {
      if (this.#closed) return;
      if (piece.kind === "too_long") {
        this.#discardingUnframed = this.#input.framing !== "lines";
        this.#sendError("too_long");
      } else this.#receive(piece.bytes);
    });
    this.#scheduleUnframed();
  };

  /** Queues an event; drops the connection if its queue is over the bound. */
  deliver(out: Outgoing): void {
    if (this.#unframedPeer && out.event.type === "welcome") {
      out = new Outgoing(
        shortHistory(out.event, COMPAT_LIMITS.unframedHistory),
      );
    }
    for (const part of out.parts(this.#encoder)) this.#enqueue(part);
  }

  /** Queues a tick's room messages as one chunk: one entry, one write. */
  deliverBatch(batch: OutgoingBatch): void {
    this.#enqueue(batch.bytes(this.#encoder));
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
    if (event) this.deliver(new Outgoing(event));
    this.#closed = true;
    this.#closeReason = reason;
    clearTimeout(this.#handshakeTimer);
    clearTimeout(this.#unframedTimer);
    clearTimeout(this.#bannerTimer);
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
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#drained?.resolve();
  }

  #enqueue(bytes: Uint8Array): void {
    if (this.#closed) return;
    if (this.#telnet) bytes = this.#telnet.outgoing(bytes);
    this.#writes.push(this.#charset.encode(bytes));
  }

  /** Writes one chunk: cut small for an unframed peer, else all at once. */
  async #write(data: Uint8Array): Promise<void> {
    if (this.#unframedPeer) return await this.#writeSmall(data);
    let offset = 0;
    while (offset < data.length) {
      offset += await this.#conn.write(data.subarray(offset));
    }
  }

  #writeLine(text: string): void {
    this.#enqueue(encoder.encode(text + "\n"));
  }

  #sendError(code: ErrorCode, message?: string): void {
    this.deliver(new Outgoing(errorEvent(code, message)));
  }

  #receive(bytes: Uint8Array, unframed = false): void {
    // After a wrong password nothing more is read: no second guess per delay.
    if (this.#stage === "closing") return;
    // NUL never belongs in chat text; refusing the line says so, where
    // stripping it would silently send something else.
    if (bytes.includes(0)) return this.#sendError("bad_text");
    const mayGuess = this.#encoder === TEXT_LINES;
    const line = this.#charset.decodeLine(bytes, mayGuess);
    if (line === undefined) {
      return this.#sendError("invalid_utf8", this.#charset.refusal(bytes));
    }
    this.#receiveLine(line, unframed);
  }

  /** A decoded line, from the line splitter or a telnet client's editor. */
  #receiveLine(line: string, unframed = false): void {
    if (this.#stage === "closing") return;
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
    if (!parsed.ok) return this.#sendError(parsed.code, parsed.message);
    const frame = parsed.frame;
    if (frame.type === "hello") {
      if (this.#session) return this.#sendError("already_joined");
      if (
        this.#settings.password !== undefined &&
        !passwordMatches(frame.password ?? "", this.#settings.password)
      ) {
        return this.#refusePassword();
      }
      return this.#admit(frame.nick, frame.room, frame.since);
    }
    if (!this.#session) return this.#sendError("not_ready");
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
          this.#sendError(refusal, nickErrorMessage(refusal, nick));
          return this.#writeLine("Nickname?");
        }
        if (this.#settings.password !== undefined) {
          this.#pendingNick = nick;
          this.#stage = "password";
          this.#telnet?.hideInput(true);
          return this.#writeLine("Password?");
        }
        return this.#admit(nick, undefined, undefined);
      }
      case "password":
        this.#telnet?.hideInput(false);
        if (!passwordMatches(line.trim(), this.#settings.password ?? "")) {
          return this.#refusePassword();
        }
        return this.#admit(this.#pendingNick, undefined, undefined);
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
      return this.#sendError(
        "unknown_command",
        `unknown command ${cleanText(typed.name.slice(0, 40))} (try /help)`,
      );
    }
    if (typed.command.name === "/help") {
      return this.#writeLine(
        [
          "* Commands:",
          ...helpLines((c) => c.toFrame !== undefined || c.door === "text"),
        ].join(
          "\n",
        ),
      );
    }
    if (typed.command.name === "/charset") {
      return this.#chooseCharset(typed.args);
    }
    if (!typed.command.toFrame) {
      return this.#sendError(
        "unknown_command",
        `${typed.command.name} works in the chat client only`,
      );
    }
    const frame = typed.command.toFrame(typed.args);
    if (typeof frame === "string") {
      return this.#sendError("bad_frame", frame);
    }
    this.#command(frame);
  }

  /** `/charset NAME`: the user says how their terminal writes text. */
  #chooseCharset(args: string): void {
    const result = this.#charset.command(args);
    if ("usage" in result) return this.#sendError("bad_frame", result.usage);
    this.#writeLine(result.notice);
  }

  // -------------------------------------------------------------------------
  // The compatibility door: tutorial programs that send without newlines.

  #startHandshakeTimer(ms: number): void {
    clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = setTimeout(() => {
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
    if (!this.#session) this.#startHandshakeTimer(this.#settings.handshakeMs);
  }

  /** Arms the timer after which held bytes without a newline are a line. */
  #scheduleUnframed(): void {
    clearTimeout(this.#unframedTimer);
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
      return this.#admit(
        refusal ? guests.variant(text, isFree) : text,
        undefined,
        undefined,
      );
    }
    this.#admit(guests.next(isFree), undefined, undefined);
    if (this.#session) this.#receiveUnframedMessage(line);
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
  async #writeSmall(data: Uint8Array): Promise<void> {
    for (const piece of splitUtf8(data, COMPAT_LIMITS.maxReplyBytes)) {
      const wait = this.#lastSmallWriteAt + COMPAT_LIMITS.replyGapMs -
        Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      let offset = 0;
      while (offset < piece.length) {
        offset += await this.#conn.write(piece.subarray(offset));
      }
      this.#lastSmallWriteAt = Date.now();
    }
  }

  #admit(nick: string, room: string | undefined, since: number | undefined) {
    const result = this.#settings.hub.hello(this, { nick, room, since });
    if (typeof result === "string") {
      this.#stage = "nick";
      this.#sendError(result, nickErrorMessage(result, nick));
      if (this.#encoder === TEXT_LINES) this.#writeLine("Nickname?");
      return;
    }
    clearTimeout(this.#handshakeTimer);
    this.#session = result;
    this.#stage = "member";
    this.#settings.log(`join ${result.nick} ${this.peer} room=${result.room}`);
  }

  #refusePassword(): void {
    this.#stage = "closing";
    this.#sendError("bad_password");
    this.#settings.log(`refused ${this.peer}: wrong password`);
    setTimeout(
      () =>
        this.close("wrong password", { type: "bye", reason: "wrong password" }),
      SAFETY_TIMINGS.wrongPasswordDelayMs,
    );
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
    if (REACHES_OTHERS.has(frame.type)) {
      if (!this.#bucket.take()) {
        if (this.#bucket.floodingFor() >= this.#settings.floodMs) {
          this.#settings.log(`flood ${session.nick} ${this.peer}`);
          return this.close("flooding", { type: "bye", reason: "flooding" });
        }
        return this.#sendError("rate_limited");
      }
    }
    this.#settings.hub.handle(session, frame);
  }
}

function errorName(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionReset) return "connection reset";
  if (error instanceof Deno.errors.BrokenPipe) return "connection broken";
  if (error instanceof Deno.errors.BadResource) return "closed";
  return error instanceof Error ? error.message : String(error);
}
