/**
 * The head of an HTTP/1.x request, parsed from bytes already read: the
 * request line and the header fields, nothing more (the web door takes no
 * request bodies). Pure: no sockets.
 *
 * The head is bounded ({@linkcode MAX_HEAD_BYTES}) and checked strictly, so a
 * connection that sends a head without end, or bytes that are not HTTP, gets
 * a clear `431` or `400` and costs no memory beyond the bound.
 *
 * @module
 */

import { WEB_LIMITS } from "../../../shared/limits.ts";

/** Longest request head kept, in bytes: a browser's is well under 2 KiB. */
export const MAX_HEAD_BYTES: number = WEB_LIMITS.maxHeadBytes;

/** Most header fields in one head. */
export const MAX_HEADER_FIELDS = 100;

/** A parsed request head. */
export interface RequestHead {
  /** The method token, as sent (methods are case-sensitive). */
  method: string;
  /** The path of the request target, without the query. */
  path: string;
  /** The query, with its `?`, or `""`. */
  query: string;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: "HTTP/1.1" | "HTTP/1.0";
  /** Header fields by lower-case name; repeated fields joined with `, `. */
  headers: Map<string, string>;
}

/** What {@linkcode parseRequestHead} found. */
export type HeadParse =
  /** No end of head yet, and still within the bound: read more. */
  | { kind: "incomplete" }
  /** A head; `length` bytes of the input were it (the rest follows it). */
  | { kind: "head"; head: RequestHead; length: number }
  /** Not a request we take: answer `status` with `reason`, then close. */
  | { kind: "error"; status: 400 | 431 | 505; reason: string };

const CR = 0x0d;
const LF = 0x0a;
/** A token (RFC 9110 section 5.6.2): method and field names. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible ASCII, space and tab: what a field value may hold (no obs-text). */
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;
/** An origin-form target: a path of visible ASCII and an optional query. */
const ORIGIN_FORM = /^\/[\x21-\x7e]*$/;

/**
 * Parses the request head at the start of `bytes`.
 *
 * Lines end in CRLF or, leniently (RFC 9112 section 2.2), a bare LF. A head
 * longer than `maxBytes` is `431`; anything malformed is `400`; a version
 * other than HTTP/1.0 and HTTP/1.1 is `505`.
 *
 * @example
 * ```ts
 * const bytes = new TextEncoder().encode("GET /ws HTTP/1.1\r\nHost: a\r\n\r\n");
 * parseRequestHead(bytes); // → { kind: "head", head: { method: "GET", path: "/ws", … }, length: 30 }
 * ```
 */
export function parseRequestHead(
  bytes: Uint8Array,
  maxBytes: number = MAX_HEAD_BYTES,
): HeadParse {
  const end = findHeadEnd(bytes, maxBytes);
  if (end === undefined) {
    return bytes.length > maxBytes
      ? { kind: "error", status: 431, reason: "request head too large" }
      : { kind: "incomplete" };
  }
  // Bytes above 0x7f are refused below; latin1 maps each byte to one char.
  const text = new TextDecoder("latin1").decode(bytes.subarray(0, end.body));
  const lines = text.split("\n").map((line) =>
    line.endsWith("\r") ? line.slice(0, -1) : line
  );
  // RFC 9112 section 2.2: empty lines before the request line are ignored.
  while (lines.length > 0 && lines[0] === "") lines.shift();
  const requestLine = lines.shift() ?? "";
  const parts = requestLine.split(" ");
  if (parts.length !== 3 || !TOKEN.test(parts[0])) {
    return badRequest("malformed request line");
  }
  const [method, target, version] = parts;
  if (!/^HTTP\/\d\.\d$/.test(version)) {
    return badRequest("malformed request line");
  }
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    return { kind: "error", status: 505, reason: "HTTP version not supported" };
  }
  if (!ORIGIN_FORM.test(target)) return badRequest("bad request target");
  const headers = new Map<string, string>();
  let fields = 0;
  for (const line of lines) {
    if (line === "") continue; // The blank line that ends the head.
    if (++fields > MAX_HEADER_FIELDS) {
      return { kind: "error", status: 431, reason: "too many header fields" };
    }
    const colon = line.indexOf(":");
    // No space before the colon, no folded lines (RFC 9112 section 5).
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) {
      return badRequest("malformed header field");
    }
    const value = line.slice(colon + 1).trim();
    if (!FIELD_VALUE.test(value)) return badRequest("malformed header field");
    const name = line.slice(0, colon).toLowerCase();
    const before = headers.get(name);
    headers.set(name, before === undefined ? value : `${before}, ${value}`);
  }
  const query = target.indexOf("?");
  return {
    kind: "head",
    head: {
      method,
      path: query === -1 ? target : target.slice(0, query),
      query: query === -1 ? "" : target.slice(query),
      version,
      headers,
    },
    length: end.body,
  };
}

function badRequest(reason: string): HeadParse {
  return { kind: "error", status: 400, reason };
}

/**
 * Where the head ends: the index just past its blank line. Looks at no more
 * than `maxBytes` (plus the blank line itself), so a head without end is
 * found too large without scanning what follows the bound.
 */
function findHeadEnd(
  bytes: Uint8Array,
  maxBytes: number,
): { body: number } | undefined {
  const limit = Math.min(bytes.length, maxBytes + 4);
  let lineStart = 0;
  let seenContent = false;
  for (let i = 0; i < limit; i++) {
    if (bytes[i] !== LF) continue;
    const lineLength = i - lineStart -
      (i > lineStart && bytes[i - 1] === CR ? 1 : 0);
    // An empty line after at least one non-empty one ends the head.
    if (lineLength === 0 && seenContent) return { body: i + 1 };
    if (lineLength > 0) seenContent = true;
    lineStart = i + 1;
  }
  return undefined;
}

/** True when a comma-separated header value lists `token` (any case). */
export function headerHasToken(
  value: string | undefined,
  token: string,
): boolean {
  if (value === undefined) return false;
  const wanted = token.toLowerCase();
  return value.split(",").some((item) => item.trim().toLowerCase() === wanted);
}
