/**
 * Cutting replies for clients that read with `recv(1024).decode()`: pieces
 * that fit one such read and never end inside a UTF-8 character, whose cut
 * would make the client's `decode()` throw and stop its receiving. Pure.
 *
 * @module
 */

const NEWLINE = 0x0a;

/** True for a UTF-8 continuation byte (`10xxxxxx`). */
function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/**
 * The largest cut at or before `limit` (an index into `data`) that does not
 * fall inside a UTF-8 character; `start` if there is none after it.
 */
function characterBoundary(
  data: Uint8Array,
  start: number,
  limit: number,
): number {
  let cut = limit;
  // A character is at most 4 bytes: at most 3 continuation bytes to skip.
  while (cut > start && cut < data.length && isContinuation(data[cut])) cut--;
  return cut;
}

/**
 * The first piece to write of `data`: at most `maxBytes`, ending after a
 * newline when one fits, otherwise at a character boundary; all of it when
 * it fits. The write queue writes the rest as the next pieces.
 *
 * @example
 * ```ts
 * firstUtf8Piece(new TextEncoder().encode("你好"), 4).length; // → 3
 * ```
 */
export function firstUtf8Piece(
  data: Uint8Array,
  maxBytes: number,
): Uint8Array {
  if (maxBytes < 4) throw new RangeError("maxBytes must fit one character");
  if (data.length <= maxBytes) return data;
  const newline = data.lastIndexOf(NEWLINE, maxBytes - 1);
  let cut = newline >= 0 ? newline + 1 : characterBoundary(data, 0, maxBytes);
  // Bytes that are no character at all: cut anywhere rather than loop.
  if (cut === 0) cut = maxBytes;
  return data.subarray(0, cut);
}

/**
 * `data` cut to at most `maxBytes` at a character boundary, ending in `…`
 * when something was cut (for a datagram, which cannot be continued).
 */
export function truncateUtf8(data: Uint8Array, maxBytes: number): Uint8Array {
  if (data.length <= maxBytes) return data;
  const ellipsis = new TextEncoder().encode("…\n");
  const cut = characterBoundary(data, 0, maxBytes - ellipsis.length);
  const out = new Uint8Array(cut + ellipsis.length);
  out.set(data.subarray(0, cut));
  out.set(ellipsis, cut);
  return out;
}
