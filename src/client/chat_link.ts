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
import { CONNECT_DEFAULTS } from "../shared/limits.ts";

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
  #target: LinkTarget;

  private constructor(
    conn: Deno.Conn,
    lines: ReadableStreamDefaultReader<string>,
    target: LinkTarget,
  ) {
    this.#conn = conn;
    this.#lines = lines;
    this.#writer = conn.writable.getWriter();
    this.#target = target;
  }

  /**
   * Connects (and finishes TLS); throws {@linkcode LinkError}. Nothing is
   * read yet: the server's door router sees the JSON hello first and sends
   * no banner (docs/protocol.md, "Opening").
   */
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
    return new ChatLink(conn, lines, target);
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
    const target = this.#target;
    const tlsHint = target.tls ? "" : " (is it a TLS server? try --tls)";
    const answer = async () => {
      for (;;) {
        const event = await this.next();
        if (event === undefined) {
          throw new LinkError(
            `${
              formatTarget(target)
            } closed the connection without a greeting${tlsHint}`,
          );
        }
        if (typeof event !== "string") {
          if (event.type === "welcome" || event.type === "error") return event;
          continue;
        }
        // A line that is not JSON: a refusal instead of a welcome, the
        // notice of a TLS port, or the banner of a server before 0.2.
        if (isRefusalLine(event)) {
          throw new LinkError(`${formatTarget(target)}: ${event}`);
        }
        if (/\buses TLS\b/.test(event)) {
          throw new LinkError(
            `${formatTarget(target)} said: ${event.trim()}${tlsHint}`,
          );
        }
      }
    };
    try {
      return await withTimeout(answer(), CONNECT_DEFAULTS.helloTimeoutMs);
    } catch (error) {
      if (error instanceof Deno.errors.TimedOut) {
        this.close();
        throw new LinkError(
          `${formatTarget(target)} sent no greeting${tlsHint}`,
        );
      }
      if (error instanceof LinkError) this.close();
      throw error;
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
