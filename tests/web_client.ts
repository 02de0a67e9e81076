/**
 * Test helpers for the web door: raw HTTP requests, and a WebSocket client
 * over a plain or TLS connection, written with the server's own framer in
 * its client role (masked frames out, unmasked frames in).
 *
 * @module
 */

import { parseServerEvent, type ServerEvent } from "../protocol.ts";
import {
  encodeFrame,
  MessageReader,
  Opcode,
  type WebSocketEvent,
} from "../src/server/doors/web/websocket.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Where to connect, and how. */
export interface WebTarget {
  port: number;
  /** PEM of a certificate to trust: connect with TLS. */
  ca?: string;
}

/** Opens a TCP or TLS connection to 127.0.0.1. */
export async function dial(target: WebTarget): Promise<Deno.Conn> {
  if (target.ca !== undefined) {
    return await Deno.connectTls({
      hostname: "127.0.0.1",
      port: target.port,
      caCerts: [target.ca],
    });
  }
  return await Deno.connect({ hostname: "127.0.0.1", port: target.port });
}

/** A parsed HTTP response. */
export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
  /** Bytes after the head that are not the body (a WebSocket's first frames). */
  rest: Uint8Array;
}

/** Reads one response head (and a `Content-Length` body) from `conn`. */
export async function readResponse(
  conn: Deno.Conn,
  headOnly = false,
): Promise<RawResponse> {
  let data = new Uint8Array(0);
  const buffer = new Uint8Array(65536);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = decoder.decode(data);
    const end = text.indexOf("\r\n\r\n");
    if (end !== -1) {
      const headBytes = encoder.encode(text.slice(0, end + 4)).length;
      const lines = text.slice(0, end).split("\r\n");
      const status = Number(lines[0].split(" ")[1]);
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        headers.set(
          line.slice(0, colon).toLowerCase(),
          line.slice(colon + 1).trim(),
        );
      }
      const length = headOnly ? 0 : Number(headers.get("content-length") ?? 0);
      if (data.length >= headBytes + length) {
        return {
          status,
          headers,
          body: decoder.decode(data.subarray(headBytes, headBytes + length)),
          rest: data.slice(headBytes + length),
        };
      }
    }
    if (Date.now() > deadline) throw new Error("no response in time");
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`closed after: ${decoder.decode(data)}`);
    const grown = new Uint8Array(data.length + n);
    grown.set(data);
    grown.set(buffer.subarray(0, n), data.length);
    data = grown;
  }
}

/** Sends one request on a new connection and reads the response. */
export async function request(
  target: WebTarget,
  head: string,
): Promise<RawResponse> {
  const conn = await dial(target);
  try {
    await conn.write(encoder.encode(head));
    return await readResponse(conn, head.startsWith("HEAD "));
  } finally {
    conn.close();
  }
}

/** A GET of `path` with the headers a browser sends. */
export function getHead(path: string, port: number, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    `User-Agent: test\r\nAccept: */*\r\n${extra}\r\n`;
}

/** A WebSocket client speaking the JSON dialect, for tests. */
export class WsTestClient {
  #conn: Deno.Conn;
  #reader = new MessageReader({
    maxMessageBytes: 1 << 24,
    expectMasked: false,
  });
  #frames: WebSocketEvent[] = [];
  #waiters: (() => void)[] = [];
  #closed = false;
  #reading: Promise<void>;

  private constructor(conn: Deno.Conn, first: Uint8Array) {
    this.#conn = conn;
    if (first.length > 0) this.#take(first);
    this.#reading = this.#read();
  }

  /** Opens `/ws` (throws with the status if the server refuses). */
  static async open(
    target: WebTarget,
    extraHeaders = "",
  ): Promise<WsTestClient> {
    const conn = await dial(target);
    const key = btoa(
      String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
    );
    await conn.write(encoder.encode(getHead(
      "/ws",
      target.port,
      "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        extraHeaders,
    )));
    const response = await readResponse(conn, true);
    if (response.status !== 101) {
      conn.close();
      throw new Error(`upgrade refused: ${response.status}`);
    }
    return new WsTestClient(conn, response.rest);
  }

  /** Opens `/ws` and says hello; returns with the welcome. */
  static async join(
    target: WebTarget,
    nick: string,
    extra: Record<string, unknown> = {},
  ): Promise<{ client: WsTestClient; welcome: ServerEvent }> {
    const client = await WsTestClient.open(target);
    client.send({ type: "hello", nick, ...extra });
    const welcome = await client.waitFor((e) =>
      e.type === "welcome" || e.type === "error"
    );
    return { client, welcome };
  }

  /** Answer the server's pings, as browsers do. @default {true} */
  answerPings = true;

  #take(chunk: Uint8Array): void {
    this.#reader.push(chunk, (event) => {
      if (event.kind === "ping" && this.answerPings) {
        this.sendFrame(Opcode.pong, event.payload).catch(() => {});
      }
      this.#frames.push(event);
    });
    this.#wake();
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.#take(buffer.slice(0, n));
      }
    } catch { /* closed */ }
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** True once the server closed the TCP connection. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a masked frame. */
  async sendFrame(
    opcode: number,
    payload: Uint8Array,
    fin = true,
  ): Promise<void> {
    const mask = crypto.getRandomValues(new Uint8Array(4));
    await this.writeRaw(encodeFrame(opcode, payload, { fin, mask }));
  }

  /** Writes raw bytes. */
  async writeRaw(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.#conn.write(bytes.subarray(offset));
    }
  }

  /** Sends a JSON frame as one text message. */
  send(frame: unknown): void {
    this.sendFrame(Opcode.text, encoder.encode(JSON.stringify(frame))).catch(
      () => {},
    );
  }

  /** Waits for the next frame (a text, control or the end) matching `match`. */
  async nextFrame(
    match: (frame: WebSocketEvent) => boolean = () => true,
    ms = 10_000,
  ): Promise<WebSocketEvent | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const index = this.#frames.findIndex(match);
      if (index !== -1) return this.#frames.splice(index, 1)[0];
      if (this.#closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no frame in time");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Text frames so far, decoded, without taking them. */
  get texts(): string[] {
    return this.#frames.flatMap((f) =>
      f.kind === "text" ? [decoder.decode(f.data)] : []
    );
  }

  /** Waits for a JSON event matching `match`, dropping the others before it. */
  async waitFor(
    match: (event: ServerEvent) => boolean,
    ms = 10_000,
  ): Promise<ServerEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const frame = await this.nextFrame(
        (f) => f.kind === "text",
        deadline - Date.now(),
      );
      if (!frame) throw new Error("closed before the event");
      if (frame.kind !== "text") continue;
      const event = parseServerEvent(decoder.decode(frame.data));
      if (event && match(event)) return event;
    }
  }

  /** Waits until the server closes the connection. */
  async waitClosed(ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.#closed) {
      if (Date.now() > deadline) throw new Error("still open");
      await this.nextFrame(() => false, deadline - Date.now()).catch(() => {});
    }
  }

  /** Closes the TCP connection and waits for the reader to stop. */
  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch { /* already */ }
    await this.#reading;
  }
}
