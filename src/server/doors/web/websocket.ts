/**
 * A small RFC 6455 WebSocket: the opening handshake's key, frame encoding,
 * an incremental message reader (pure), and {@linkcode WebSocketConn}, a
 * thin wrapper that speaks it over a `Deno.Conn`.
 *
 * Why our own and not `Deno.upgradeWebSocket`: the web door gets a
 * connection the door router has already read from (it had to, to tell HTTP
 * from the chat dialects on one port), and in Deno 2.9 neither
 * `Deno.upgradeWebSocket` nor `Deno.serve` can take over such a connection;
 * they only serve a listener of their own. The subset chat needs is small:
 * text messages, fragmentation, ping/pong and the closing handshake, no
 * extensions (no compression) and no subprotocols.
 *
 * Limits are enforced on the bytes as they arrive: a message longer than
 * `maxMessageBytes` fails the connection (close code 1009) as soon as a frame
 * header announces it, before its payload is read, and text that is not
 * UTF-8 fails it with 1007 (RFC 6455 section 8.1).
 *
 * @module
 */

/** The GUID of RFC 6455 section 1.3, appended to the client's key. */
const HANDSHAKE_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Frame opcodes (RFC 6455 section 5.2). */
export const Opcode = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** Close codes used here (RFC 6455 section 7.4.1). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  invalidData: 1007,
  policyViolation: 1008,
  tooBig: 1009,
  internalError: 1011,
} as const;

/**
 * The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`:
 * base64 of the SHA-1 of the key and the GUID.
 *
 * @example
 * ```ts
 * await acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); // → "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
 * ```
 */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(key + HANDSHAKE_GUID),
  );
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** True when `key` is base64 of 16 bytes, as RFC 6455 section 4.1 requires. */
export function isValidKey(key: string): boolean {
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return false;
  return atob(key).length === 16;
}

/** Options for {@linkcode encodeFrame}. */
export interface FrameOptions {
  /** The final fragment of its message. @default {true} */
  fin?: boolean;
  /** The 4-byte masking key; a client must mask, a server must not. */
  mask?: Uint8Array;
}

/**
 * Encodes one frame. Servers send unmasked frames; pass `mask` to encode as
 * a client does (tests, the benchmark's clients).
 *
 * @example
 * ```ts
 * encodeFrame(Opcode.text, new TextEncoder().encode("Hello"));
 * // → 0x81 0x05 0x48 0x65 0x6c 0x6c 0x6f (RFC 6455 section 5.7)
 * ```
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  options: FrameOptions = {},
): Uint8Array {
  const frame = new Uint8Array(
    headerLength(payload.length, options.mask !== undefined) + payload.length,
  );
  const offset = writeHeader(frame, 0, opcode, payload.length, options);
  frame.set(payload, offset);
  if (options.mask) applyMask(frame, offset, payload.length, options.mask, 0);
  return frame;
}

/**
 * Encodes several unmasked text frames into one buffer, so a batch of
 * events is one write.
 */
export function encodeTextFrames(payloads: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const payload of payloads) {
    size += headerLength(payload.length, false) + payload.length;
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const payload of payloads) {
    offset = writeHeader(out, offset, Opcode.text, payload.length, {});
    out.set(payload, offset);
    offset += payload.length;
  }
  return out;
}

/** Text frames of a chunk's complete lines, from {@linkcode frameLines}. */
export interface FramedLines {
  /** One unmasked text frame per non-empty line, newlines dropped. */
  frames: Uint8Array;
  /** Bytes of the chunk the frames cover: those after the last newline are not. */
  consumed: number;
}

const NEWLINE = 0x0a;

/**
 * Frames each complete, non-empty line of `bytes` (newline-terminated) as one
 * unmasked text frame, all in one buffer: the bytes are scanned twice (sizes,
 * then copies) and copied once, with no array of lines in between. Bytes
 * after the last newline are left for the caller (`consumed` says where they
 * start).
 *
 * @example
 * ```ts
 * frameLines(new TextEncoder().encode("hi\n\nyo\nha"));
 * // → frames 0x81 0x02 "hi" 0x81 0x02 "yo", consumed 7 ("ha" is left)
 * ```
 */
export function frameLines(bytes: Uint8Array): FramedLines {
  let size = 0;
  let start = 0;
  for (;;) {
    const newline = bytes.indexOf(NEWLINE, start);
    if (newline === -1) break;
    const length = newline - start;
    if (length > 0) size += headerLength(length, false) + length;
    start = newline + 1;
  }
  const consumed = start;
  const frames = new Uint8Array(size);
  let offset = 0;
  start = 0;
  while (start < consumed) {
    const newline = bytes.indexOf(NEWLINE, start);
    const length = newline - start;
    if (length > 0) {
      offset = writeHeader(frames, offset, Opcode.text, length, {});
      frames.set(bytes.subarray(start, newline), offset);
      offset += length;
    }
    start = newline + 1;
  }
  return { frames, consumed };
}

/** The payload of a close frame: the code, then the reason in UTF-8. */
export function closePayload(code: number, reason = ""): Uint8Array {
  const text = new TextEncoder().encode(reason);
  // A control frame's payload is at most 125 bytes: 2 for the code.
  const cut = text.subarray(0, validUtf8Prefix(text, 123));
  const payload = new Uint8Array(2 + cut.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(cut, 2);
  return payload;
}

function headerLength(payloadLength: number, masked: boolean): number {
  const lengthBytes = payloadLength < 126 ? 0 : payloadLength < 65536 ? 2 : 8;
  return 2 + lengthBytes + (masked ? 4 : 0);
}

function writeHeader(
  out: Uint8Array,
  offset: number,
  opcode: number,
  length: number,
  options: FrameOptions,
): number {
  out[offset++] = (options.fin === false ? 0 : 0x80) | opcode;
  const maskBit = options.mask ? 0x80 : 0;
  if (length < 126) {
    out[offset++] = maskBit | length;
  } else if (length < 65536) {
    out[offset++] = maskBit | 126;
    out[offset++] = length >> 8;
    out[offset++] = length & 0xff;
  } else {
    out[offset++] = maskBit | 127;
    const view = new DataView(out.buffer, out.byteOffset + offset, 8);
    view.setBigUint64(0, BigInt(length));
    offset += 8;
  }
  if (options.mask) {
    out.set(options.mask, offset);
    offset += 4;
  }
  return offset;
}

/** XORs `length` bytes at `offset` with the mask, starting at mask byte `phase`. */
function applyMask(
  bytes: Uint8Array,
  offset: number,
  length: number,
  mask: Uint8Array,
  phase: number,
): void {
  for (let i = 0; i < length; i++) {
    bytes[offset + i] ^= mask[(phase + i) & 3];
  }
}

/** The longest prefix of at most `max` bytes that ends on a character boundary. */
function validUtf8Prefix(bytes: Uint8Array, max: number): number {
  if (bytes.length <= max) return bytes.length;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return end;
}

// ---------------------------------------------------------------------------
// Reading

/** What {@linkcode MessageReader} hands on. */
export type WebSocketEvent =
  /** A whole text message, its UTF-8 already checked. */
  | { kind: "text"; data: Uint8Array }
  | { kind: "ping"; payload: Uint8Array }
  | { kind: "pong"; payload: Uint8Array }
  /** The peer's close frame; `code` absent when it sent none. */
  | { kind: "close"; code?: number; reason: string }
  /** The peer broke the protocol: close with `code` and stop reading. */
  | { kind: "fail"; code: number; reason: string };

/** Options for {@linkcode MessageReader}. */
export interface MessageReaderOptions {
  /** The longest message, in bytes, all its fragments together. */
  maxMessageBytes: number;
  /**
   * Frames must be masked (what a server requires of a client) or must not
   * be (what a client requires of a server). @default {true}
   */
  expectMasked?: boolean;
}

type ReadState = "header" | "payload" | "done";

/**
 * Turns the bytes of a WebSocket, in chunks of any size, into messages and
 * control frames. Pure and incremental: payload bytes are unmasked into the
 * message as they arrive; nothing larger than the message limit is ever
 * held. After a `close` or `fail` it ignores the rest.
 */
export class MessageReader {
  #maxMessageBytes: number;
  #expectMasked: boolean;
  #state: ReadState = "header";
  #header = new Uint8Array(14);
  #headerBytes = 0;
  // The frame being read.
  #fin = false;
  #opcode = 0;
  #mask = new Uint8Array(4);
  #masked = false;
  #payloadLength = 0;
  #payloadRead = 0;
  #control: Uint8Array | undefined;
  // The data message being assembled from its fragments.
  #message: Uint8Array | undefined;
  #messageBytes = 0;
  #messageOpcode = 0;
  #decoder = new TextDecoder("utf-8", { fatal: true });

  /** @param options the message limit and which side's frames these are. */
  constructor(options: MessageReaderOptions) {
    this.#maxMessageBytes = options.maxMessageBytes;
    this.#expectMasked = options.expectMasked ?? true;
  }

  /** True once a close or a failure ended the stream. */
  get done(): boolean {
    return this.#state === "done";
  }

  /** Feeds a chunk; calls `emit` for each message, control frame or failure. */
  push(chunk: Uint8Array, emit: (event: WebSocketEvent) => void): void {
    let offset = 0;
    while (offset < chunk.length && this.#state !== "done") {
      if (this.#state === "header") {
        offset = this.#readHeader(chunk, offset, emit);
      } else {
        offset = this.#readPayload(chunk, offset, emit);
      }
    }
  }

  #fail(emit: (event: WebSocketEvent) => void, code: number, reason: string) {
    this.#state = "done";
    this.#message = undefined;
    emit({ kind: "fail", code, reason });
  }

  #readHeader(
    chunk: Uint8Array,
    offset: number,
    emit: (event: WebSocketEvent) => void,
  ): number {
    // Take bytes one at a time until the header's length is known: it is at
    // most 14 bytes, so this costs nothing next to the payload.
    while (offset < chunk.length) {
      this.#header[this.#headerBytes++] = chunk[offset++];
      const needed = this.#headerNeeded();
      if (this.#headerBytes === needed) {
        this.#startFrame(emit);
        return offset;
      }
    }
    return offset;
  }

  /** Bytes the current header needs, as far as its first two bytes tell. */
  #headerNeeded(): number {
    if (this.#headerBytes < 2) return 2;
    const second = this.#header[1];
    const length = second & 0x7f;
    const lengthBytes = length === 126 ? 2 : length === 127 ? 8 : 0;
    return 2 + lengthBytes + ((second & 0x80) ? 4 : 0);
  }

  #startFrame(emit: (event: WebSocketEvent) => void): void {
    const header = this.#header;
    this.#headerBytes = 0;
    const first = header[0];
    const second = header[1];
    this.#fin = (first & 0x80) !== 0;
    this.#opcode = first & 0x0f;
    this.#masked = (second & 0x80) !== 0;
    if ((first & 0x70) !== 0) {
      return this.#fail(emit, CloseCode.protocolError, "reserved bits set");
    }
    if (this.#masked !== this.#expectMasked) {
      return this.#fail(
        emit,
        CloseCode.protocolError,
        this.#expectMasked ? "client frames must be masked" : "masked frame",
      );
    }
    let length = second & 0x7f;
    let at = 2;
    if (length === 126) {
      length = (header[2] << 8) | header[3];
      at = 4;
    } else if (length === 127) {
      const view = new DataView(header.buffer, 2, 8);
      const big = view.getBigUint64(0);
      if (big >> 63n) {
        return this.#fail(emit, CloseCode.protocolError, "bad frame length");
      }
      // Anything beyond 2^53 is far past every limit anyway.
      length = big > BigInt(Number.MAX_SAFE_INTEGER)
        ? Number.MAX_SAFE_INTEGER
        : Number(big);
      at = 10;
    }
    if (this.#masked) this.#mask.set(header.subarray(at, at + 4));
    this.#payloadLength = length;
    this.#payloadRead = 0;
    const opcode = this.#opcode;
    if (opcode >= 0x8) {
      if (opcode > Opcode.pong) {
        return this.#fail(emit, CloseCode.protocolError, "unknown opcode");
      }
      if (!this.#fin || length > 125) {
        return this.#fail(
          emit,
          CloseCode.protocolError,
          "control frames are short and not fragmented",
        );
      }
      this.#control = new Uint8Array(length);
    } else {
      if (opcode > Opcode.binary) {
        return this.#fail(emit, CloseCode.protocolError, "unknown opcode");
      }
      if (opcode === Opcode.continuation) {
        if (this.#message === undefined) {
          return this.#fail(
            emit,
            CloseCode.protocolError,
            "continuation without a message",
          );
        }
      } else {
        if (this.#message !== undefined) {
          return this.#fail(
            emit,
            CloseCode.protocolError,
            "new message inside a fragmented one",
          );
        }
        if (opcode === Opcode.binary) {
          return this.#fail(
            emit,
            CloseCode.unsupportedData,
            "binary messages are not taken",
          );
        }
        this.#messageOpcode = opcode;
        this.#messageBytes = 0;
        this.#message = new Uint8Array(0);
        this.#decoder = new TextDecoder("utf-8", { fatal: true });
      }
      // Refused on the header: the payload is never read, let alone held.
      if (this.#messageBytes + length > this.#maxMessageBytes) {
        return this.#fail(
          emit,
          CloseCode.tooBig,
          `message over ${this.#maxMessageBytes} bytes`,
        );
      }
      const needed = this.#messageBytes + length;
      if (needed > this.#message!.length) {
        // Doubling: many small fragments must not copy the message each time.
        const grown = new Uint8Array(
          Math.min(
            this.#maxMessageBytes,
            Math.max(needed, this.#message!.length * 2),
          ),
        );
        grown.set(this.#message!.subarray(0, this.#messageBytes));
        this.#message = grown;
      }
    }
    this.#state = "payload";
    if (length === 0) this.#endFrame(emit);
  }

  #readPayload(
    chunk: Uint8Array,
    offset: number,
    emit: (event: WebSocketEvent) => void,
  ): number {
    const take = Math.min(
      chunk.length - offset,
      this.#payloadLength - this.#payloadRead,
    );
    const target = this.#opcode >= 0x8 ? this.#control! : this.#message!;
    const base = this.#opcode >= 0x8 ? 0 : this.#messageBytes;
    const at = base + this.#payloadRead;
    target.set(chunk.subarray(offset, offset + take), at);
    if (this.#masked) {
      applyMask(target, at, take, this.#mask, this.#payloadRead);
    }
    this.#payloadRead += take;
    if (this.#payloadRead === this.#payloadLength) this.#endFrame(emit);
    return offset + take;
  }

  #endFrame(emit: (event: WebSocketEvent) => void): void {
    this.#state = "header";
    const opcode = this.#opcode;
    if (opcode >= 0x8) {
      const payload = this.#control!;
      this.#control = undefined;
      if (opcode === Opcode.ping) return emit({ kind: "ping", payload });
      if (opcode === Opcode.pong) return emit({ kind: "pong", payload });
      return this.#endClose(payload, emit);
    }
    const fragment = this.#message!.subarray(
      this.#messageBytes,
      this.#messageBytes + this.#payloadLength,
    );
    this.#messageBytes += this.#payloadLength;
    try {
      // Checked fragment by fragment, so bad text fails as soon as it is seen.
      this.#decoder.decode(fragment, { stream: !this.#fin });
    } catch {
      return this.#fail(emit, CloseCode.invalidData, "text is not UTF-8");
    }
    if (!this.#fin) return;
    const data = this.#message!.subarray(0, this.#messageBytes);
    this.#message = undefined;
    if (this.#messageOpcode === Opcode.text) emit({ kind: "text", data });
  }

  #endClose(payload: Uint8Array, emit: (event: WebSocketEvent) => void) {
    if (payload.length === 0) {
      this.#state = "done";
      return emit({ kind: "close", reason: "" });
    }
    if (payload.length === 1) {
      return this.#fail(emit, CloseCode.protocolError, "bad close frame");
    }
    const code = (payload[0] << 8) | payload[1];
    if (!isValidCloseCode(code)) {
      return this.#fail(emit, CloseCode.protocolError, "bad close code");
    }
    let reason: string;
    try {
      reason = new TextDecoder("utf-8", { fatal: true }).decode(
        payload.subarray(2),
      );
    } catch {
      return this.#fail(emit, CloseCode.invalidData, "close reason not UTF-8");
    }
    this.#state = "done";
    emit({ kind: "close", code, reason });
  }
}

/** Codes a peer may send in a close frame (RFC 6455 section 7.4). */
function isValidCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011);
}

// ---------------------------------------------------------------------------
// The connection

/** Options for {@linkcode WebSocketConn}. */
export interface WebSocketConnOptions {
  /** The longest message taken from the peer, in bytes. */
  maxMessageBytes: number;
  /** How long a close waits for the peer's close frame. @default {1000} */
  closeWaitMs?: number;
  /**
   * Quiet this long, the peer is pinged; as long again with nothing from
   * it, the socket is dropped: a phone that went away must not keep its
   * nickname for the hours TCP keepalive takes. 0 turns it off. @default {0}
   */
  pingMs?: number;
}

const READ_CHUNK_BYTES = 16 * 1024;

/**
 * The server side of a WebSocket over a connection whose handshake is done:
 * reads text messages, answers pings and the closing handshake itself, and
 * sends text frames. Writes are serialised, so a pong or a close never lands
 * inside another write.
 */
export class WebSocketConn {
  #conn: Deno.Conn;
  #reader: MessageReader;
  #leftover: Uint8Array | undefined;
  #messages: Uint8Array[] = [];
  /** No more messages will come: the peer closed, failed or vanished. */
  #ended = false;
  #closeSent = false;
  #tcpClosed = false;
  #reading: Promise<void> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closeWaitMs: number;
  #pingMs: number;
  #pingTimer: ReturnType<typeof setTimeout> | undefined;
  #lastHeardAt = Date.now();
  #pingSentAt = 0;
  /** Why the stream ended, for logs: the peer's close, a failure, EOF. */
  endReason = "";
  /** How the peer broke the protocol, when it did. */
  failure: string | undefined;

  /**
   * @param conn the connection, after the `101 Switching Protocols`.
   * @param leftover bytes read past the request head: the first frames.
   * @param options the message limit.
   */
  constructor(
    conn: Deno.Conn,
    leftover: Uint8Array,
    options: WebSocketConnOptions,
  ) {
    this.#conn = conn;
    this.#leftover = leftover.length > 0 ? leftover : undefined;
    this.#reader = new MessageReader({
      maxMessageBytes: options.maxMessageBytes,
    });
    this.#closeWaitMs = options.closeWaitMs ?? 1000;
    this.#pingMs = options.pingMs ?? 0;
    this.#schedulePing();
  }

  #schedulePing(): void {
    if (this.#pingMs <= 0 || this.#tcpClosed) return;
    this.#pingTimer = setTimeout(() => {
      if (this.#closeSent || this.#tcpClosed) return;
      const now = Date.now();
      if (this.#pingSentAt > this.#lastHeardAt) {
        if (now - this.#pingSentAt >= this.#pingMs) {
          this.failure = "no answer to a ping";
          this.endReason ||= this.failure;
          return this.abort();
        }
      } else if (now - this.#lastHeardAt >= this.#pingMs) {
        this.#pingSentAt = now;
        this.#write(encodeFrame(Opcode.ping, new Uint8Array(0))).catch(
          () => {},
        );
      }
      this.#schedulePing();
    }, Math.max(250, this.#pingMs / 4));
  }

  /** The underlying connection (for its addresses and socket options). */
  get conn(): Deno.Conn {
    return this.#conn;
  }

  /** The next text message's UTF-8 bytes, or `null` once the socket ended. */
  async nextMessage(): Promise<Uint8Array | null> {
    while (this.#messages.length === 0) {
      if (this.#ended) return null;
      await this.#readOnce();
    }
    return this.#messages.shift()!;
  }

  /** Sends frames already encoded (unmasked, whole), in one write. */
  sendFrames(frames: Uint8Array): Promise<void> {
    if (this.#closeSent) {
      return Promise.reject(new Deno.errors.BadResource("closed"));
    }
    return this.#write(frames);
  }

  /**
   * Starts the closing handshake: sends a close frame after what is queued,
   * waits a short while for the peer's, then closes the connection.
   */
  async close(code: number = CloseCode.normal, reason = ""): Promise<void> {
    if (this.#closeSent) return;
    this.#closeSent = true;
    await this.#write(encodeFrame(Opcode.close, closePayload(code, reason)))
      .catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#closeWaitMs);
    });
    const peerClosed = (async () => {
      while (!this.#ended && !this.#tcpClosed) await this.#readOnce();
    })();
    await Promise.race([peerClosed, waited]);
    clearTimeout(timer);
    this.abort();
  }

  /** Closes the connection at once, with no closing handshake. */
  abort(): void {
    this.#ended = true;
    clearTimeout(this.#pingTimer);
    if (this.#tcpClosed) return;
    this.#tcpClosed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  #write(bytes: Uint8Array): Promise<void> {
    const write = this.#writing.then(async () => {
      let offset = 0;
      while (offset < bytes.length) {
        offset += await this.#conn.write(bytes.subarray(offset));
      }
    });
    // One failed write must not poison the chain for the close frame.
    this.#writing = write.catch(() => {});
    return write;
  }

  /** One read, shared by every caller waiting for bytes. */
  #readOnce(): Promise<void> {
    return this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined;
    });
  }

  async #read(): Promise<void> {
    let chunk = this.#leftover;
    this.#leftover = undefined;
    if (chunk === undefined) {
      const buffer = new Uint8Array(READ_CHUNK_BYTES);
      let n: number | null;
      try {
        n = this.#tcpClosed ? null : await this.#conn.read(buffer);
      } catch (error) {
        this.endReason ||= error instanceof Error ? error.message : "error";
        n = null;
      }
      if (n === null) {
        this.endReason ||= "disconnected";
        this.#ended = true;
        return;
      }
      chunk = buffer.subarray(0, n);
      this.#lastHeardAt = Date.now();
    }
    this.#reader.push(chunk, (event) => this.#handle(event));
  }

  #handle(event: WebSocketEvent): void {
    switch (event.kind) {
      case "text":
        if (!this.#closeSent) this.#messages.push(event.data);
        return;
      case "ping":
        if (!this.#closeSent) {
          this.#write(encodeFrame(Opcode.pong, event.payload)).catch(() => {});
        }
        return;
      case "pong":
        return;
      case "close":
        this.endReason ||= event.code === undefined
          ? "closed by the browser"
          : `closed by the browser (${event.code})`;
        this.#ended = true;
        // Echo the close (RFC 6455 section 5.5.1), then end the connection.
        this.close(event.code ?? CloseCode.normal);
        return;
      case "fail":
        this.failure = event.reason;
        this.endReason ||= event.reason;
        this.#ended = true;
        this.close(event.code, event.reason);
        return;
    }
  }
}
