/**
 * The files the web door serves, by path: the page and what it loads, from
 * the generated page_bundle.ts (so `deno compile` carries them), each with
 * its content type and a hash for `ETag`.
 *
 * @module
 */

import { CHAT_CSS, CHAT_JS, ICON_SVG, INDEX_HTML } from "./page_bundle.ts";

/** One file of the page. */
export interface WebAsset {
  /** Its `Content-Type`. */
  type: string;
  /** Its bytes. */
  body: Uint8Array;
  /** A hash of the bytes, the `ETag` (changes with every new binary's page). */
  hash: string;
}

function asset(type: string, text: string): WebAsset {
  const body = new TextEncoder().encode(text);
  // FNV-1a: a cache validator, not a security measure.
  let hash = 0x811c9dc5;
  for (const byte of body) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return {
    type,
    body,
    hash: `${(hash >>> 0).toString(16)}-${body.length.toString(16)}`,
  };
}

const page = asset("text/html; charset=utf-8", INDEX_HTML);

/** The files of the page, by request path. */
export const WEB_ASSETS: ReadonlyMap<string, WebAsset> = new Map([
  ["/", page],
  ["/index.html", page],
  ["/chat.css", asset("text/css; charset=utf-8", CHAT_CSS)],
  ["/chat.js", asset("text/javascript; charset=utf-8", CHAT_JS)],
  ["/icon.svg", asset("image/svg+xml", ICON_SVG)],
]);
