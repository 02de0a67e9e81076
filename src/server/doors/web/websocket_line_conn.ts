/**
 * A WebSocket seen as a `Deno.Conn` carrying lines, so the TCP door's
 * {@linkcode Connection} serves browsers unchanged: admission, the password,
 * rate and flood limits, commands and the write queue are the same code for
 * every door, and there is no second chat core.
 *
 * Each text message read is one line (a newline is added); each line
 * written is one text frame (its newline dropped). A chunk of many lines,
 * as the hub hands a tick's messages, goes out as many frames in one write.
 * Empty lines are not sent: no event is empty, and the web door's banner is.
 *
 * @module
 */

import { CloseCode, type WebSocketConn } from "./websocket.ts";

const NEWLINE = 0x0a;

/** A WebSocket with the `Deno.Conn` interface, one line per text message. */
export class WebSocketLineConn implements Deno.Conn {
  #socket: WebSocketConn;
  /** The rest of a message a short read could not take. */
  #pending: Uint8Array | undefined;
  /** The start of a line written without its newline yet. */
  #partial: Uint8Array | undefined;
  #closed = false;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /** @param socket the WebSocket, its handshake done. */
  constructor(socket: WebSocketConn) {
    this.#socket = socket;
  }

  /** Reads the next line's bytes, newline included; `null` at the end. */
  async read(p: Uint8Array): Promise<number | null> {
    if (this.#pending === undefined) {
      if (this.#closed) throw new Deno.errors.BadResource("closed");
      const message = await this.#socket.nextMessage();
      if (message === null) {
        // A broken protocol is a reason worth a log line; a close is not.
        const failure = this.#socket.failure;
        if (failure !== undefined) throw new Error(`WebSocket: ${failure}`);
        return null;
      }
      const line = new Uint8Array(message.length + 1);
      line.set(message);
      line[message.length] = NEWLINE;
      this.#pending = line;
    }
    const chunk = this.#pending;
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    this.#pending = n < chunk.length ? chunk.subarray(n) : undefined;
    return n;
  }

  /** Sends each complete line of `p` as a text frame, all in one write. */
  async write(p: Uint8Array): Promise<number> {
    if (this.#closed) throw new Deno.errors.BadResource("closed");
    const lines: Uint8Array[] = [];
    let start = 0;
    for (;;) {
      const newline = p.indexOf(NEWLINE, start);
      if (newline === -1) break;
      let line = p.subarray(start, newline);
      if (this.#partial) {
        line = concat(this.#partial, line);
        this.#partial = undefined;
      }
      if (line.length > 0) lines.push(line);
      start = newline + 1;
    }
    if (start < p.length) {
      const rest = p.slice(start);
      this.#partial = this.#partial ? concat(this.#partial, rest) : rest;
    }
    if (lines.length > 0) await this.#socket.sendTexts(lines);
    return p.length;
  }

  /** Starts the closing handshake; the socket closes shortly after. */
  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("closed");
    this.#closed = true;
    this.#socket.close(CloseCode.normal).catch(() => {});
  }

  /** Nothing to half-close in a WebSocket: closes it. */
  closeWrite(): Promise<void> {
    if (!this.#closed) this.close();
    return Promise.resolve();
  }

  /** Why the WebSocket ended, when it did. */
  get endReason(): string {
    return this.#socket.endReason;
  }

  /** The server's address. */
  get localAddr(): Deno.Addr {
    return this.#socket.conn.localAddr;
  }

  /** The browser's address. */
  get remoteAddr(): Deno.Addr {
    return this.#socket.conn.remoteAddr;
  }

  /** TCP keepalive on the underlying socket, where there is one. */
  setKeepAlive(keepAlive?: boolean): void {
    (this.#socket.conn as Partial<Deno.TcpConn>).setKeepAlive?.(keepAlive);
  }

  /** `TCP_NODELAY` on the underlying socket, where there is one. */
  setNoDelay(noDelay?: boolean): void {
    (this.#socket.conn as Partial<Deno.TcpConn>).setNoDelay?.(noDelay);
  }

  /** Keeps the event loop alive while open (the default). */
  ref(): void {
    this.#socket.conn.ref();
  }

  /** Lets the event loop finish while this is open. */
  unref(): void {
    this.#socket.conn.unref();
  }

  /** Lines as a stream of bytes. */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return this.#readable ??= new ReadableStream({
      pull: async (controller) => {
        const buffer = new Uint8Array(16 * 1024);
        const n = await this.read(buffer);
        if (n === null) controller.close();
        else controller.enqueue(buffer.subarray(0, n));
      },
    });
  }

  /** Lines to send, as a stream of bytes. */
  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= new WritableStream({
      write: async (chunk) => {
        await this.write(chunk);
      },
      close: () => this.closeWrite(),
    });
  }

  /** Closes, if still open. */
  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}
