/**
 * The client's side of one connection: connect, say hello, then frames out
 * and events in. Both the pipe-mode and the terminal client use it.
 *
 * @module
 */

import {
  type ClientFrame,
  encodeJsonLine,
  type HelloFrame,
  isRefusalLine,
  LineStream,
  parseServerEvent,
  type ServerEvent,
} from "../../protocol.ts";

/** Where to connect and how. */
export interface LinkTarget {
  host: string;
  port: number;
  /** Connect with TLS. */
  tls?: boolean;
  /** A CA certificate (PEM) to trust, for a self-signed server. */
  caCerts?: string[];
}

/** A connection failure a user can read, never a stack trace. */
export class LinkError extends Error {
  /** @param message one line for the user. */
  constructor(message: string) {
    super(message);
    this.name = "LinkError";
  }
}

/** `HOST:PORT`, with brackets around IPv6. */
export function formatTarget(target: LinkTarget): string {
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  return `${host}:${target.port}`;
}

function describeConnectError(target: LinkTarget, error: unknown): string {
  const where = formatTarget(target);
  if (error instanceof Deno.errors.ConnectionRefused) {
    return `cannot reach ${where}: connection refused (is \`chat serve\` running there?)`;
  }
  if (error instanceof Deno.errors.TimedOut) {
    return `cannot reach ${where}: timed out`;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (
    error instanceof Deno.errors.NotFound ||
    /lookup address|Name or service not known|nodename nor servname|No such host/i
      .test(message)
  ) {
    return `cannot reach ${where}: unknown host (check the name or use the IP address)`;
  }
  if (/certificate|tls|handshake|corrupt message/i.test(message)) {
    return `cannot reach ${where} over TLS: ${message.split("\n")[0]}${
      tlsHint(message)
    }`;
  }
  return `cannot reach ${where}: ${message.split("\n")[0]}`;
}

function tlsHint(message: string): string {
  if (/UnknownIssuer|self.signed/i.test(message)) {
    return " (a self-signed certificate? add --ca with the server's certificate file)";
  }
  if (/corrupt message|InvalidContentType|wrong version/i.test(message)) {
    return " (is it a plain server? try without --tls)";
  }
  return "";
}

/** An open connection to a chat server. */
export class ChatLink {
  #conn: Deno.Conn;
  #lines: ReadableStreamDefaultReader<string>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #closed = false;
  /** The server's first line. */
  readonly banner: string;

  private constructor(
    conn: Deno.Conn,
    lines: ReadableStreamDefaultReader<string>,
    banner: string,
  ) {
    this.#conn = conn;
    this.#lines = lines;
    this.#writer = conn.writable.getWriter();
    this.banner = banner;
  }

  /** Connects and reads the banner; throws {@linkcode LinkError}. */
  static async open(target: LinkTarget): Promise<ChatLink> {
    let conn: Deno.Conn;
    try {
      conn = target.tls
        ? await Deno.connectTls({
          hostname: target.host,
          port: target.port,
          caCerts: target.caCerts,
        })
        : await Deno.connect({ hostname: target.host, port: target.port });
      if (target.tls) await (conn as Deno.TlsConn).handshake();
    } catch (error) {
      throw new LinkError(describeConnectError(target, error));
    }
    const lines = conn.readable.pipeThrough(new LineStream()).getReader();
    let first: ReadableStreamReadResult<string>;
    try {
      first = await withTimeout(lines.read(), 10_000);
    } catch (error) {
      try {
        conn.close();
      } catch { /* already closed */ }
      if (error instanceof Deno.errors.TimedOut && !target.tls) {
        throw new LinkError(
          `${
            formatTarget(target)
          } sent no greeting (is it a TLS server? try --tls)`,
        );
      }
      throw new LinkError(describeConnectError(target, error));
    }
    if (first.done) {
      try {
        conn.close();
      } catch { /* already closed */ }
      throw new LinkError(
        `${formatTarget(target)} closed the connection without a greeting${
          target.tls ? "" : " (is it a TLS server? try --tls)"
        }`,
      );
    }
    if (isRefusalLine(first.value)) {
      // The refusal a server sends instead of its banner, then closes.
      try {
        conn.close();
      } catch { /* already closed */ }
      throw new LinkError(`${formatTarget(target)}: ${first.value}`);
    }
    return new ChatLink(conn, lines, first.value);
  }

  /** Sends one frame. Resolves once handed to the socket. */
  async send(frame: ClientFrame): Promise<void> {
    if (this.#closed) throw new LinkError("not connected");
    try {
      await this.#writer.write(encodeJsonLine(frame));
    } catch {
      throw new LinkError("connection lost");
    }
  }

  /**
   * The next event or, for a line that is not JSON (a "server full" notice),
   * the raw line; `undefined` once the server has closed.
   */
  async next(): Promise<ServerEvent | string | undefined> {
    try {
      const { value, done } = await this.#lines.read();
      if (done) return undefined;
      return parseServerEvent(value) ?? value;
    } catch {
      return undefined;
    }
  }

  /**
   * Says hello and waits for `welcome`; returns the `error` event if refused,
   * or throws if the server closes first.
   */
  async hello(
    frame: Omit<HelloFrame, "type">,
  ): Promise<Extract<ServerEvent, { type: "welcome" | "error" }>> {
    await this.send({ type: "hello", ...frame });
    for (;;) {
      const event = await this.next();
      if (event === undefined) {
        throw new LinkError("the server closed the connection");
      }
      if (typeof event === "string") continue;
      if (event.type === "welcome" || event.type === "error") return event;
    }
  }

  /** Closes the connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
  }
}

/**
 * Waits for `promise`, or rejects with `makeError()` after `ms`; the timer is
 * always cleared.
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  makeError: () => Error = () => new Deno.errors.TimedOut(),
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(makeError()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
