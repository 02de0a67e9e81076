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
 * A tick's batch is the same bytes for every member of a room, so its frames
 * are made once and shared ({@linkcode sharedFrames}): with 1,000 WebSocket
 * members, framing each member's copy took 44 % of the server's time, eight
 * times its writes.
 *
 * @module
 */

import {
  CloseCode,
  type FramedLines,
  frameLines,
  type WebSocketConn,
} from "./websocket.ts";

const NEWLINE = 0x0a;

/** The frames last made from the bytes of each buffer, by their position. */
interface FramedView extends FramedLines {
  byteOffset: number;
  byteLength: number;
}

/**
 * Frames made from a buffer's bytes, kept as long as the buffer lives. Chunks
 * queued for a connection are never changed once made (encoded events,
 * shared batches, the write queue's own joins), so the same buffer, offset
 * and length are the same bytes.
 */
const framedViews = new WeakMap<ArrayBufferLike, FramedView>();

/**
 * The frames of `p`'s complete lines, made once however many connections
 * write the same bytes (a tick's batch, to every member of a room).
 */
export function sharedFrames(p: Uint8Array): FramedLines {
  const known = framedViews.get(p.buffer);
  if (
    known !== undefined && known.byteOffset === p.byteOffset &&
    known.byteLength === p.byteLength
  ) {
    return known;
  }
  const framed = frameLines(p);
  framedViews.set(p.buffer, {
    ...framed,
    byteOffset: p.byteOffset,
    byteLength: p.byteLength,
  });
  return framed;
}

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
    let bytes = p;
    if (this.#partial) {
      // The rest of a line begun in an earlier write: this member's own.
      const newline = p.indexOf(NEWLINE);
      if (newline === -1) {
        this.#partial = concat(this.#partial, p);
        return p.length;
      }
      bytes = concat(this.#partial, p);
      this.#partial = undefined;
    }
    const { frames, consumed } = bytes === p
      ? sharedFrames(p)
      : frameLines(bytes);
    if (consumed < bytes.length) this.#partial = bytes.slice(consumed);
    if (frames.length > 0) await this.#socket.sendFrames(frames);
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
