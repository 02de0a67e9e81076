/**
 * Unframed input: the rules that let tutorial socket programs, which send
 * `input().encode()` with no newline, talk on a text connection.
 *
 * A text connection that has never sent a newline is *undecided*. Bytes that
 * then sit without a newline for a short idle time (or are held when the peer
 * closes or resets) count as one line, and the connection is *unframed* from
 * then on. A newline at any time makes it an ordinary *line* connection for
 * good, and so do telnet negotiation bytes. A character-at-a-time terminal is
 * recognised by its first keys arriving one chunk each: it then waits for a
 * newline like a line client, so no key becomes a message of its own. A
 * first key alone is not taken as a line for a long while, since the person
 * typing it may pause before the second (taken, it would be a one-letter
 * nickname); a program's one-character send is told apart by what follows
 * it: a whole send, not one key.
 *
 * Everything here is pure: the caller passes the clock in.
 *
 * @module
 */

import type { ErrorCode, ServerEvent } from "../../../protocol.ts";
import type { GuestNames } from "../guest_names.ts";
import { isValidNick, nickKey } from "../../shared/sanitize.ts";

/**
 * How a text connection frames its input, as far as it has shown:
 * `undecided` (no newline and nothing taken yet), `lines` (sent a newline or
 * telnet bytes), `unframed` (held bytes were taken as a line), `keystrokes`
 * (a character-at-a-time terminal: waits for a newline).
 */
export type Framing = "undecided" | "lines" | "unframed" | "keystrokes";

/** Timings for {@linkcode UnframedInput}. */
export interface UnframedTimings {
  /** Held bytes without a newline count as a line after this much quiet. */
  idleMs: number;
  /**
   * A first chunk that is a single key waits this long instead: a terminal
   * that sends a key per chunk sends its second key sooner.
   */
  keystrokeIdleMs: number;
}

const NEWLINE = 0x0a;
const ESCAPE = 0x1b;
/** Telnet's "interpret as command" byte; never part of valid UTF-8. */
const TELNET_IAC = 0xff;
/** The longest terminal escape sequence a single key sends (F12: `ESC[24~`). */
const MAX_KEY_SEQUENCE_BYTES = 8;

/**
 * Decides, chunk by chunk, when bytes held without a newline count as one
 * line.
 *
 * @example
 * ```ts
 * const input = new UnframedInput({ idleMs: 100, keystrokeIdleMs: 1000 });
 * input.receive(new TextEncoder().encode("hello"), 0);
 * input.flushAt; // → 100: at that time, if nothing else came, "hello" is a line
 * input.taken();
 * input.framing; // → "unframed"
 * ```
 */
export class UnframedInput {
  #framing: Framing = "undecided";
  #heldChunks = 0;
  #heldOnlyKeys = true;
  #lastChunkAt = 0;
  #timings: UnframedTimings;

  /** @param timings the idle times (src/limits.ts holds the defaults). */
  constructor(timings: UnframedTimings) {
    this.#timings = timings;
  }

  /** The framing decided so far. */
  get framing(): Framing {
    return this.#framing;
  }

  /** True once held bytes were taken as an unframed line. */
  get isUnframed(): boolean {
    return this.#framing === "unframed";
  }

  /** Records a chunk as read from the socket, before it is split into lines. */
  receive(chunk: Uint8Array, now: number): void {
    if (this.#framing === "lines" || chunk.length === 0) return;
    if (chunk.includes(NEWLINE)) {
      this.#framing = "lines";
      return;
    }
    if (this.#framing === "keystrokes") return;
    if (this.#framing === "undecided" && chunk.includes(TELNET_IAC)) {
      // A telnet client negotiating options is a line client at heart.
      this.#framing = "lines";
      return;
    }
    this.#heldChunks++;
    this.#heldOnlyKeys &&= looksLikeOneKey(chunk);
    this.#lastChunkAt = now;
    if (
      this.#framing === "undecided" && this.#heldChunks >= 2 &&
      this.#heldOnlyKeys
    ) {
      this.#framing = "keystrokes";
    }
  }

  /**
   * True when the bytes held so far are a line of their own, to be taken
   * before `chunk` is added: a lone first key, held at least the idle time,
   * followed by more than one key. A terminal sends its next key alone, so
   * this is a program's one-character send, then its next send.
   */
  splitsBefore(chunk: Uint8Array, now: number): boolean {
    return this.#framing === "undecided" && this.#heldChunks === 1 &&
      this.#heldOnlyKeys && now - this.#lastChunkAt >= this.#timings.idleMs &&
      !chunk.includes(NEWLINE) && !chunk.includes(TELNET_IAC) &&
      !looksLikeOneKey(chunk);
  }

  /**
   * When the held bytes count as one line if nothing else arrives (ms, on the
   * caller's clock), or `undefined` while they wait for a newline.
   */
  get flushAt(): number | undefined {
    if (this.#heldChunks === 0) return undefined;
    if (this.#framing === "undecided") {
      const wait = this.#heldChunks === 1 && this.#heldOnlyKeys
        ? this.#timings.keystrokeIdleMs
        : this.#timings.idleMs;
      return this.#lastChunkAt + wait;
    }
    if (this.#framing === "unframed") {
      return this.#lastChunkAt + this.#timings.idleMs;
    }
    return undefined;
  }

  /** True when bytes held at the end of input (close or reset) count as a line. */
  get flushesAtEnd(): boolean {
    return this.#heldChunks > 0 &&
      (this.#framing === "undecided" || this.#framing === "unframed");
  }

  /** Records that the held bytes were taken as one unframed line. */
  taken(): void {
    this.#framing = "unframed";
    this.#heldChunks = 0;
    this.#heldOnlyKeys = true;
  }
}

/**
 * True for a chunk a terminal sends for one key: a single UTF-8 character
 * (letters and control keys alike) or an escape sequence (arrows, F-keys).
 */
export function looksLikeOneKey(chunk: Uint8Array): boolean {
  if (chunk.length === 0) return false;
  if (chunk[0] === ESCAPE) return chunk.length <= MAX_KEY_SEQUENCE_BYTES;
  return chunk.length === utf8SequenceLength(chunk[0]);
}

/** The length of the UTF-8 sequence a lead byte starts, 0 if it is none. */
export function utf8SequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

// A name, optional spaces, an ASCII or full-width colon: `alice: `,
// `alice : `, `小明：`. The name part is bounded so a long line is cheap.
const PREFIX = /^\s*([^\s:：]{1,48})\s*[:：]\s*/u;

/**
 * Removes the sender's own name prefix that tutorial clients put on every
 * message (`alice: hi`, `alice : hi` → `hi`). Only a prefix naming one of
 * `names` (compared like nicknames, any case) is removed.
 *
 * @example
 * ```ts
 * stripOwnPrefix("alice : 你好", ["alice"]); // → "你好"
 * stripOwnPrefix("bob: hi", ["alice"]); // → "bob: hi"
 * ```
 */
export function stripOwnPrefix(text: string, names: readonly string[]): string {
  const match = PREFIX.exec(text);
  if (!match) return text;
  const key = nickKey(match[1]);
  if (!names.some((name) => name !== "" && nickKey(name) === key)) return text;
  return text.slice(match[0].length);
}

/** Who a program's first send makes it: {@linkcode nameFirstSend}'s answer. */
export interface FirstSendName {
  /** The nickname to say hello with. */
  nick: string;
  /**
   * The name the send asked for, when it was one (kept to strip it as a
   * prefix later); `undefined` when the send is a guest's first message.
   */
  chosenNick: string | undefined;
}

/**
 * The nickname a program's first send (trimmed, over unframed TCP or UDP)
 * gives it. A send that is a valid nickname is the nickname (a message that
 * happens to be one cannot be told apart); a taken one gets a variant, since
 * these programs cannot answer "choose another" (not a look-alike that mixes
 * scripts: none of its variants would be valid); anything else is a guest's
 * first message, and the guest gets the next free guest name.
 *
 * @param checkNick why a nickname cannot be taken now, or `undefined`.
 */
export function nameFirstSend(
  text: string,
  checkNick: (nick: string) => ErrorCode | undefined,
  guests: GuestNames,
): FirstSendName {
  const isFree = (nick: string) => checkNick(nick) === undefined;
  const refusal = checkNick(text);
  if (
    refusal === undefined ||
    (refusal === "nick_taken" && isValidNick(text))
  ) {
    return {
      nick: refusal ? guests.variant(text, isFree) : text,
      chosenNick: text,
    };
  }
  return { nick: guests.next(isFree), chosenNick: undefined };
}

const QUIT_WORDS = new Set(["exit", "quit", "q"]);

/**
 * True for the words tutorial clients send to leave: `exit`, `quit` or `q`
 * alone, in any case.
 */
export function isQuitWord(text: string): boolean {
  return QUIT_WORDS.has(text.trim().toLowerCase());
}

/**
 * A `welcome` with only its last `count` history messages (other events
 * unchanged): unframed clients print everything at once, in small reads.
 */
export function shortHistory(event: ServerEvent, count: number): ServerEvent {
  if (event.type !== "welcome" || event.history.length <= count) return event;
  return { ...event, history: count > 0 ? event.history.slice(-count) : [] };
}
