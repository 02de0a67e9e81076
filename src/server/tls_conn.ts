/**
 * The server side of TLS over an accepted TCP connection, seen as an
 * ordinary `Deno.TcpConn` so {@linkcode Connection} needs no TLS code.
 *
 * Why not `Deno.listenTls`: its connections cannot be closed before their
 * handshake completes (closing waits for the handshake, measured with Deno
 * 2.9), so a peer that connects and never speaks TLS would hold a socket for
 * ever, and TLS connections cannot turn on TCP keepalive. Here the listener
 * is plain TCP (keepalive, a real close), and `node:tls` runs the protocol
 * over it. Reading the first bytes ourselves also lets a plain-text client
 * (someone typing into `nc`) be told in plain text that TLS is needed.
 *
 * @module
 */

import { Duplex } from "node:stream";
import tls from "node:tls";
import type { TlsFiles } from "./tls_setup.ts";

/** What {@linkcode acceptTls} needs: the certificate, made once. */
export class TlsContext {
  /** The `node:tls` secure context. */
  readonly secureContext: tls.SecureContext;

  /** @param files the PEM certificate chain and key, already checked. */
  constructor(files: TlsFiles) {
    this.secureContext = tls.createSecureContext({
      cert: files.cert,
      key: files.key,
    });
  }
}

/** The first byte of every TLS connection: a handshake record. */
const TLS_HANDSHAKE_RECORD = 0x16;
const READ_CHUNK_BYTES = 16 * 1024;
/** Decrypted bytes held before the TLS socket is paused (backpressure). */
const MAX_HELD_BYTES = 64 * 1024;

/** What a plain-text client on a TLS port is told. */
export const PLAIN_CLIENT_NOTICE = new TextEncoder().encode(
  "This chat server uses TLS: join with `chat connect --tls HOST:PORT`" +
    " (or `openssl s_client -quiet -connect HOST:PORT`).\n",
);

/**
 * Runs the server side of TLS on `tcp` within `ms`, starting from the bytes
 * the door router already read (`first`), if any. Resolves to a connection
 * once the handshake is done, or to the reason it failed, after closing
 * `tcp`: nothing in time, plain text instead of TLS (answered with a plain
 * line saying TLS is needed), or a failed handshake.
 */
export async function acceptTls(
  tcp: Deno.TcpConn,
  context: TlsContext,
  ms: number,
  first?: Uint8Array,
): Promise<TlsServerConn | string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("no TLS handshake in time"), ms);
  });
  let conn: TlsServerConn | undefined;
  const handshake = (async (): Promise<TlsServerConn | string> => {
    let opening = first;
    if (opening === undefined) {
      const buffer = new Uint8Array(READ_CHUNK_BYTES);
      const n = await tcp.read(buffer);
      if (n === null) return "closed before TLS";
      opening = buffer.slice(0, n);
    }
    if (opening[0] !== TLS_HANDSHAKE_RECORD) {
      await tcp.write(PLAIN_CLIENT_NOTICE);
      return "plain text on the TLS port";
    }
    conn = new TlsServerConn(tcp, context, opening);
    return await conn.secured;
  })().catch((error) => `TLS handshake failed: ${firstLine(error)}`);
  const result = await Promise.race([handshake, deadline]);
  clearTimeout(timer);
  if (typeof result === "string") {
    conn?.close();
    closeQuietly(tcp);
  }
  return result;
}

/**
 * A TLS connection a server accepted, with the `Deno.TcpConn` interface:
 * `read` gives decrypted bytes, `write` encrypts, `close` closes the socket
 * at once whatever state TLS is in.
 */
export class TlsServerConn implements Deno.TcpConn {
  #tcp: Deno.TcpConn;
  #tls: tls.TLSSocket;
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  #ended = false;
  #error: Error | undefined;
  #closed = false;
  #wake: (() => void) | undefined;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;
  /** Resolves to this connection once the handshake is done; rejects if it fails. */
  readonly secured: Promise<TlsServerConn>;

  /**
   * @param tcp the accepted socket.
   * @param context the server's certificate.
   * @param first bytes already read from `tcp` (the start of the handshake).
   */
  constructor(tcp: Deno.TcpConn, context: TlsContext, first: Uint8Array) {
    this.#tcp = tcp;
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(first);
      },
      async pull(controller) {
        const buffer = new Uint8Array(READ_CHUNK_BYTES);
        try {
          const n = await tcp.read(buffer);
          if (n === null) controller.close();
          else controller.enqueue(buffer.subarray(0, n));
        } catch (error) {
          controller.error(error);
        }
      },
    });
    const transport = Duplex.from({ readable: source, writable: tcp.writable });
    // Errors surface through reads and writes; an unheard 'error' would throw.
    transport.on("error", () => {});
    this.#tls = new tls.TLSSocket(
      transport as unknown as import("node:net").Socket,
      {
        isServer: true,
        secureContext: context.secureContext,
      },
    );
    this.secured = new Promise((resolve, reject) => {
      this.#tls.once("secure", () => resolve(this));
      this.#tls.once("error", reject);
      this.#tls.once(
        "close",
        () => reject(new Error("closed during handshake")),
      );
    });
    this.secured.catch(() => {});
    this.#tls.on("data", (chunk: Uint8Array) => {
      this.#held.push(chunk);
      this.#heldBytes += chunk.length;
      if (this.#heldBytes > MAX_HELD_BYTES) this.#tls.pause();
      this.#wakeReader();
    });
    this.#tls.on("end", () => {
      this.#ended = true;
      this.#wakeReader();
    });
    this.#tls.on("close", () => {
      this.#ended = true;
      this.#wakeReader();
    });
    this.#tls.on("error", (error: Error) => {
      this.#error ??= error;
      this.#wakeReader();
    });
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Reads decrypted bytes; `null` at the end. */
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#held.length === 0) {
      if (this.#closed) throw new Deno.errors.BadResource("closed");
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      this.#tls.resume();
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const chunk = this.#held[0];
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    if (n < chunk.length) this.#held[0] = chunk.subarray(n);
    else this.#held.shift();
    this.#heldBytes -= n;
    return n;
  }

  /** Encrypts and writes all of `p`; resolves once it is handed on. */
  write(p: Uint8Array): Promise<number> {
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("closed"));
    }
    return new Promise((resolve, reject) => {
      this.#tls.write(p, (error?: Error | null) => {
        if (error) {
          reject(this.#closed ? new Deno.errors.BadResource("closed") : error);
        } else resolve(p.length);
      });
    });
  }

  /** Closes the socket at once, TLS finished or not. */
  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("closed");
    this.#closed = true;
    this.#tls.destroy();
    closeQuietly(this.#tcp);
    this.#wakeReader();
  }

  /** Sends TLS close_notify and ends the write side. */
  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#tls.end(resolve));
  }

  /** The server's address. */
  get localAddr(): Deno.NetAddr {
    return this.#tcp.localAddr;
  }

  /** The client's address. */
  get remoteAddr(): Deno.NetAddr {
    return this.#tcp.remoteAddr;
  }

  /** TCP keepalive on the underlying socket. */
  setKeepAlive(keepAlive?: boolean): void {
    this.#tcp.setKeepAlive(keepAlive);
  }

  /** `TCP_NODELAY` on the underlying socket. */
  setNoDelay(noDelay?: boolean): void {
    this.#tcp.setNoDelay(noDelay);
  }

  /** Keeps the event loop alive while open (the default). */
  ref(): void {
    this.#tcp.ref();
  }

  /** Lets the event loop finish while this is open. */
  unref(): void {
    this.#tcp.unref();
  }

  /** Decrypted bytes as a stream. */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return this.#readable ??= new ReadableStream({
      pull: async (controller) => {
        const buffer = new Uint8Array(READ_CHUNK_BYTES);
        const n = await this.read(buffer);
        if (n === null) controller.close();
        else controller.enqueue(buffer.subarray(0, n));
      },
    });
  }

  /** Plain bytes to encrypt and send, as a stream. */
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

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0];
}
