/**
 * A file shared with a room, as the web page reads it from a `msg` event's
 * `file` field: checked in shape, its link kept only when it points at this
 * server, and whether it shows as a picture. Pure. (Its size in words is
 * src/shared/file_names.ts's, as in the terminal.)
 *
 * @module
 */

/** A shared file: `msg.file` on the wire. */
export interface SharedFile {
  /** The server's id for it. */
  id: string;
  /** Its name as the sender's device gave it. */
  name: string;
  /** Its size in bytes. */
  size: number;
  /** Its media type, as the server stored it. */
  mime: string;
  /** Where to fetch it: a path (`/f/ID/NAME`) or a URL on this server. */
  url: string;
  /**
   * True when the server shows it inline, as a picture its bytes prove to
   * be: the one case where the page may put `url` in an `<img>`.
   */
  inline: boolean;
}

/**
 * Media types shown as a picture in the page. Not SVG: an SVG is a document
 * that may hold script, so it is a file to download like any other.
 */
export const PICTURE_TYPES: ReadonlySet<string> = new Set([
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
]);

/**
 * True when the file shows as a thumbnail rather than a card: the server
 * serves it inline (its bytes are a picture) and its type is one of
 * {@linkcode PICTURE_TYPES}.
 */
export function isPicture(file: SharedFile): boolean {
  return file.inline && PICTURE_TYPES.has(file.mime.toLowerCase());
}

/**
 * Reads `msg.file` from the wire: `undefined` unless every field has its
 * type (an id may be a number or a string; it is kept as a string).
 */
export function readSharedFile(value: unknown): SharedFile | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const f = value as Record<string, unknown>;
  const id = typeof f.id === "number" ? String(f.id) : f.id;
  if (
    typeof id !== "string" || typeof f.name !== "string" ||
    typeof f.size !== "number" || !Number.isFinite(f.size) || f.size < 0 ||
    typeof f.mime !== "string" || typeof f.url !== "string"
  ) {
    return undefined;
  }
  return {
    id,
    name: f.name,
    size: f.size,
    mime: f.mime,
    url: f.url,
    inline: f.inline === true,
  };
}

/**
 * The file's link, resolved against the page's address, when it points at
 * the page's own server over http(s); otherwise `undefined`, and the page
 * shows no link (a `javascript:` or foreign URL from the wire never becomes
 * one).
 *
 * @example
 * ```ts
 * sameOriginUrl("/f/7/a.png", "http://10.0.0.2:7777/"); // "http://10.0.0.2:7777/f/7/a.png"
 * sameOriginUrl("javascript:alert(1)", "http://10.0.0.2:7777/"); // undefined
 * ```
 */
export function sameOriginUrl(url: string, page: string): string | undefined {
  let resolved: URL;
  let base: URL;
  try {
    base = new URL(page);
    resolved = new URL(url, base);
  } catch {
    return undefined;
  }
  if (resolved.protocol !== "http:" && resolved.protocol !== "https:") {
    return undefined;
  }
  return resolved.origin === base.origin ? resolved.href : undefined;
}

/** The media type to announce for a file the browser gave no type. */
export function mimeOf(file: { type: string }): string {
  return file.type === "" ? "application/octet-stream" : file.type;
}
