/**
 * Bytes to lines for one TCP connection: what every line dialect (text,
 * JSON, IRC) reads through, since the dialect may be chosen only by the
 * first line.
 *
 * It owns the four things that stand between a socket's reads and a line:
 * the line splitter (protocol.ts), the unframed idle rule of tutorial
 * programs that send without newlines (unframed.ts), telnet (telnet/, made
 * at the first read that could begin it) and the peer's charset
 * (text_charset.ts), and it refuses the lines no dialect could read (too
 * long, a NUL, not in the charset). Kept apart from the connection so the
 * socket edge (connection.ts) reads as accept, read, write, close, and so
 * framing can be driven and tested without a socket.
 *
 * While its connection waits (a hello's turn, replies left unread), a line
 * is held as the bytes it came as and decoded only when it is read, so what
 * the lines ahead of it did decides how: a `/charset`, or a JSON hello that
 * made the connection JSON (whose lines are never guessed GB18030).
 *
 * @module
 */

import { type ErrorCode, LineSplitter } from "../../../protocol.ts";
import { COMPAT_LIMITS } from "../../shared/limits.ts";
import { HeldInput } from "./held_input.ts";
import { TelnetSession } from "./telnet/telnet_session.ts";
import { TextCharset } from "./text_charset.ts";
import { UnframedInput, type UnframedTimings } from "./unframed.ts";

/** Why a {@linkcode LineReader} refused a line instead of handing it on. */
export type LineRefusal = Extract<
  ErrorCode,
  "too_long" | "bad_text" | "invalid_utf8"
>;

/**
 * What a {@linkcode LineReader} needs from its connection; the connection
 * itself is one (methods, not closures: a connection costs no function
 * objects for it, and 5,000 idle connections are 5,000 of everything).
 */
export interface LineLink {
  /** Queues bytes for the peer exactly as given (telnet commands, echo). */
  sendRaw(bytes: Uint8Array): void;
  /** Shows the peer a line of text (a telnet notice, the charset switch). */
  writeLine(line: string): void;
  /**
   * A decoded line. `unframed`: it came without a newline and the idle rule
   * cut it (unframed.ts).
   */
  takeLine(text: string, unframed: boolean): void;
  /**
   * A line that was dropped: over the length limit (`too_long`), with a NUL
   * in it (`bad_text`), not in the peer's charset (`invalid_utf8`, with
   * `message` to say which charset and how to change it, worked out only
   * when called, since it decodes the line again, and the line's `bytes`).
   */
  refuseLine(
    code: LineRefusal,
    message?: () => string,
    bytes?: Uint8Array,
  ): void;
  /** A telnet client pressed Ctrl-C twice: it leaves. */
  leaveByKeys(): void;
  /**
   * True when the dialect spoken now reads legacy text: telnet may start
   * and an undecodable line may be guessed GB18030 (not JSON lines).
   */
  readonly readsLegacyText: boolean;
  /** True once the connection is closing or closed: nothing is read. */
  readonly closed: boolean;
  /**
   * True while the connection waits: lines are held, undecoded, until
   * {@linkcode LineReader.readHeld}.
   */
  readonly waiting: boolean;
  /**
   * True once the connection reads nothing more of what the peer sent (a
   * wrong password: no second guess per delay): lines are dropped unread.
   */
  readonly readsNoMore: boolean;
}

/** The unframed-input timings, one object for every connection. */
const UNFRAMED_TIMINGS: UnframedTimings = {
  idleMs: COMPAT_LIMITS.unframedIdleMs,
  keystrokeIdleMs: COMPAT_LIMITS.keystrokeIdleMs,
};
/** Ends a discarded over-long unframed line inside the line splitter. */
const NEWLINE_BYTES = new Uint8Array([0x0a]);

/**
 * One connection's reads turned into decoded lines and refusals.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const reader = new LineReader({
 *   sendRaw: () => {},
 *   writeLine: () => {},
 *   takeLine: (text) => lines.push(text),
 *   refuseLine: () => {},
 *   leaveByKeys: () => {},
 *   readsLegacyText: true,
 *   closed: false,
 *   waiting: false,
 *   readsNoMore: false,
 * });
 * reader.read(new TextEncoder().encode("hel"));
 * reader.read(new TextEncoder().encode("lo\r\n"));
 * lines; // → ["hello"]
 * reader.close();
 * ```
 */
export class LineReader {
  #link: LineLink;
  #splitter = new LineSplitter();
  // The compatibility door (docs/protocol.md): input without newlines.
  #input: UnframedInput;
  #unframedTimer: ReturnType<typeof setTimeout> | undefined;
  #discardingUnframed = false;
  // Telnet clients and GB18030 text (telnet/, text_charset.ts): nothing
  // changes for a client that uses neither.
  #charset: TextCharset;
  /** Made at the first read with a 0xFF in it: most clients never need it. */
  #telnet: TelnetSession | undefined;
  /**
   * Lines that arrived while the connection waited; made at the first wait
   * (most connections never wait).
   */
  #held: HeldInput | undefined;

  /**
   * @param link the connection's side of reading.
   * @param timings the idle times of the unframed rule (tests shorten them).
   */
  constructor(link: LineLink, timings: UnframedTimings = UNFRAMED_TIMINGS) {
    this.#link = link;
    this.#input = new UnframedInput(timings);
    this.#charset = new TextCharset((notice) => link.writeLine(notice));
  }

  /** The peer's charset: UTF-8, or GB18030 once its text shows it. */
  get charset(): TextCharset {
    return this.#charset;
  }

  /** One read from the socket: a telnet client's, or plain bytes. */
  read(chunk: Uint8Array): void {
    if (this.#telnet || TelnetSession.mayBegin(chunk)) {
      this.#telnet ??= this.#newTelnet();
      this.#telnet.receive(chunk, this.#receivePlain);
    } else this.#receivePlain(chunk);
  }

  /**
   * The peer sent its last byte (it closed, or reset): what telnet still
   * holds is read, and what an unframed peer sent just before is its last
   * message, since one-shot tutorial clients send, then close at once.
   */
  end(): void {
    this.#telnet?.end(this.#receivePlain);
    if (this.#input.flushesAtEnd) this.#takeUnframed();
  }

  /**
   * Reads the lines held while the connection waited, in order, until it
   * waits again or closes.
   */
  readHeld(): void {
    const input = this.#held;
    const link = this.#link;
    while (input && !link.waiting && !link.closed && !input.empty) {
      const held = input.next()!;
      if ("bytes" in held) this.#receive(held.bytes, held.unframed);
      else this.#receiveLine(held.line, held.unframed);
    }
  }

  /**
   * What the connection writes, made ready for the peer: through telnet
   * (`\r\n`, the line being typed kept on screen) and in its charset.
   */
  outgoing(utf8: Uint8Array): Uint8Array {
    if (this.#telnet) utf8 = this.#telnet.outgoing(utf8);
    return this.#charset.encode(utf8);
  }

  /** Hides a telnet client's typing (a password), or shows it again. */
  hideInput(on: boolean): void {
    this.#telnet?.hideInput(on);
  }

  /** The connection closed: the idle timer stops and held lines are dropped. */
  close(): void {
    clearTimeout(this.#unframedTimer);
    this.#held?.clear();
  }

  /** Telnet for this connection: what it needs to read and write. */
  #newTelnet(): TelnetSession {
    const link = this.#link;
    return new TelnetSession({
      charset: this.#charset,
      send: (bytes) => link.sendRaw(bytes),
      print: (line) => link.writeLine(line),
      line: (text) => this.#receiveLine(text),
      tooLong: () => link.refuseLine("too_long"),
      leave: () => link.leaveByKeys(),
      mayStart: () => link.readsLegacyText,
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
      if (this.#link.closed) return;
      if (piece.kind === "too_long") {
        this.#discardingUnframed = this.#input.framing !== "lines";
        this.#link.refuseLine("too_long");
      } else this.#receive(piece.bytes);
    });
    this.#scheduleUnframed();
  };

  /** Arms the timer after which held bytes without a newline are a line. */
  #scheduleUnframed(): void {
    clearTimeout(this.#unframedTimer);
    this.#unframedTimer = undefined;
    const at = this.#input.flushAt;
    if (at === undefined || this.#link.closed) return;
    this.#unframedTimer = setTimeout(
      () => this.#takeUnframed(),
      Math.max(0, at - Date.now()),
    );
  }

  /** Takes the held bytes as one unframed line. */
  #takeUnframed(): void {
    clearTimeout(this.#unframedTimer);
    if (this.#link.closed) return;
    const bytes = this.#splitter.takePartial();
    if (this.#discardingUnframed) {
      // An over-long unframed send was refused; its end is the idle time.
      this.#splitter.push(NEWLINE_BYTES, () => {});
      this.#discardingUnframed = false;
    }
    this.#input.taken();
    if (bytes) this.#receive(bytes, true);
  }

  /** A line's bytes: checked and decoded in the peer's charset. */
  #receive(bytes: Uint8Array, unframed = false): void {
    const link = this.#link;
    // Behind a waiting hello: kept (copied, the read buffer is reused) and
    // decoded once it is through, by the dialect spoken then, so replies
    // keep the order of the lines.
    if (link.waiting) {
      (this.#held ??= new HeldInput()).holdBytes(bytes, unframed);
      return;
    }
    if (link.readsNoMore) return;
    // NUL never belongs in chat text; refusing the line says so, where
    // stripping it would silently send something else.
    if (bytes.includes(0)) return link.refuseLine("bad_text");
    const line = this.#charset.decodeLine(bytes, link.readsLegacyText);
    if (line === undefined) {
      return link.refuseLine(
        "invalid_utf8",
        () => this.#charset.refusal(bytes, link.readsLegacyText),
        bytes,
      );
    }
    this.#receiveLine(line, unframed);
  }

  /** A decoded line, from the line splitter or a telnet client's editor. */
  #receiveLine(line: string, unframed = false): void {
    const link = this.#link;
    if (link.waiting) {
      (this.#held ??= new HeldInput()).holdLine(line, unframed);
      return;
    }
    if (link.readsNoMore) return;
    link.takeLine(line, unframed);
  }
}
