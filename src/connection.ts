/**
 * One client connection: reads lines, runs the handshake in either dialect,
 * feeds the hub, and writes what the hub queues for it.
 *
 * Writing never blocks the hub: {@linkcode Connection.deliver} appends bytes
 * to a bounded queue, and one pump per connection writes everything queued so
 * far in a single call. A client that stops reading fills its own queue and
 * is dropped; nobody else waits for it.
 *
 * @module
 */

import {
  type ClientFrame,
  type ErrorCode,
  errorEvent,
  LineSplitter,
  parseClientFrame,
  type ServerEvent,
} from "../protocol.ts";
import { parseTypedLine } from "./commands.ts";
import { helpLines } from "./commands.ts";
import {
  type Dialect,
  type Hub,
  Outgoing,
  type Recipient,
  type Session,
} from "./hub.ts";
import { SAFETY_TIMINGS } from "./limits.ts";
import { passwordMatches } from "./password.ts";
import { TokenBucket } from "./rate_limiter.ts";
import { cleanText } from "./sanitize.ts";

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
  /** Writes one log line. */
  log: (line: string) => void;
}

const encoder = new TextEncoder();
const READ_BUFFER_BYTES = 4096;
/** How long a closing connection may take to write its last bytes. */
const LINGER_MS = 2000;

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
  #dialect: Dialect = "text";
  #dialectChosen = false;
  #stage: Stage = "nick";
  #session: Session | undefined;
  #pendingNick = "";
  #bucket: TokenBucket;
  #decoder = new TextDecoder("utf-8", { fatal: true });
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #writing = false;
  #closed = false;
  #closeReason = "";
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #drained: PromiseWithResolvers<void> | undefined;
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
    this.#handshakeTimer = setTimeout(() => {
      this.#settings.log(`timeout ${this.peer}: no hello`);
      this.close("no hello in time", {
        type: "bye",
        reason: "no nickname or hello in time",
      });
    }, this.#settings.handshakeMs);
    this.#writeLine(this.#settings.banner);
    const splitter = new LineSplitter();
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    let reason = "disconnected";
    try {
      while (!this.#closed) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        splitter.push(buffer.subarray(0, n), (piece) => {
          if (this.#closed) return;
          if (piece.kind === "too_long") this.#sendError("too_long");
          else this.#receive(piece.bytes);
        });
      }
    } catch (error) {
      if (!this.#closed) reason = errorName(error);
    }
    this.close(this.#closeReason || reason);
  }

  /** Queues an event; drops the connection if its queue is over the bound. */
  deliver(out: Outgoing): void {
    this.#enqueue(out.bytes(this.#dialect));
  }

  /**
   * Ends the connection: leaves the hub (announced with `reason`) and closes
   * the socket once queued bytes are written (at most a short while).
   */
  close(reason: string, event?: ServerEvent): void {
    if (this.#closed) return;
    if (event) this.deliver(new Outgoing(event));
    this.#closed = true;
    this.#closeReason = reason;
    clearTimeout(this.#handshakeTimer);
    if (this.#session) {
      this.#settings.hub.leave(this.#session, reason);
      this.#settings.log(`leave ${this.#session.nick} ${this.peer}: ${reason}`);
    } else {
      this.#settings.log(`disconnect ${this.peer}: ${reason}`);
    }
    if (!this.#writing) return this.#closeSocket();
    // A peer that does not read must not hold the socket open for ever.
    this.#lingerTimer = setTimeout(() => this.#closeSocket(), LINGER_MS);
  }

  /** Resolves once the connection is closed and its queue written. */
  get drained(): Promise<void> {
    if (this.#closed && !this.#writing) return Promise.resolve();
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
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    if (this.#queuedBytes > this.#settings.maxQueueBytes) {
      this.#queue = [];
      this.#queuedBytes = 0;
      this.#settings.log(
        `slow ${this.peer}: over ${this.#settings.maxQueueBytes} bytes queued`,
      );
      this.close("too slow to read");
      this.#closeSocket();
      return;
    }
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(() => this.#pump());
    }
  }

  /** Writes everything queued, coalesced into one write per round. */
  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const chunks = this.#queue;
        const total = chunks.length === 1 ? chunks[0].length : sum(chunks);
        this.#queue = [];
        const data = chunks.length === 1 ? chunks[0] : concat(chunks, total);
        let offset = 0;
        while (offset < data.length) {
          offset += await this.#conn.write(data.subarray(offset));
        }
        // Bytes count against the bound until written.
        this.#queuedBytes -= total;
      }
    } catch (error) {
      this.#queue = [];
      this.#queuedBytes = 0;
      this.close(errorName(error));
    } finally {
      this.#writing = false;
      if (this.#closed) this.#closeSocket();
    }
  }

  #writeLine(text: string): void {
    this.#enqueue(encoder.encode(text + "\n"));
  }

  #sendError(code: ErrorCode, message?: string): void {
    this.deliver(new Outgoing(errorEvent(code, message)));
  }

  #receive(bytes: Uint8Array): void {
    // After a wrong password nothing more is read: no second guess per delay.
    if (this.#stage === "closing") return;
    // NUL never belongs in chat text; refusing the line says so, where
    // stripping it would silently send something else.
    if (bytes.includes(0)) return this.#sendError("bad_text");
    let line: string;
    try {
      line = this.#decoder.decode(bytes);
    } catch {
      return this.#sendError("invalid_utf8");
    }
    if (!this.#dialectChosen) {
      if (line.trim() === "") return; // Blank lines before a nick are noise.
      this.#dialectChosen = true;
      this.#dialect = line.trimStart().startsWith("{") ? "json" : "text";
    }
    if (this.#dialect === "json") this.#receiveJson(line);
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
    switch (this.#stage) {
      case "nick": {
        const nick = line.trim();
        const refusal = this.#settings.hub.checkNick(nick);
        if (refusal) {
          this.#sendError(refusal);
          return this.#writeLine("Nickname?");
        }
        if (this.#settings.password !== undefined) {
          this.#pendingNick = nick;
          this.#stage = "password";
          return this.#writeLine("Password?");
        }
        return this.#admit(nick, undefined, undefined);
      }
      case "password":
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
    const typed = parseTypedLine(line);
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
        ["* Commands:", ...helpLines((c) => c.toFrame !== undefined)].join(
          "\n",
        ),
      );
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

  #admit(nick: string, room: string | undefined, since: number | undefined) {
    const result = this.#settings.hub.hello(this, { nick, room, since });
    if (typeof result === "string") {
      this.#stage = "nick";
      this.#sendError(result);
      if (this.#dialect === "text") this.#writeLine("Nickname?");
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
      const reason = cleanText(frame.reason ?? "").trim().slice(0, 100);
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

function sum(chunks: Uint8Array[]): number {
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  return total;
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const data = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    data.set(chunk, offset);
    offset += chunk.length;
  }
  return data;
}

function errorName(error: unknown): string {
  if (error instanceof Deno.errors.ConnectionReset) return "connection reset";
  if (error instanceof Deno.errors.BrokenPipe) return "connection broken";
  if (error instanceof Deno.errors.BadResource) return "closed";
  return error instanceof Error ? error.message : String(error);
}
