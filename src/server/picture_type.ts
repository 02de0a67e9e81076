/**
 * What a file really is, when it is a picture a browser may be shown: told
 * by its first bytes, never by its name or the type its sender declared. An
 * HTML page called `cat.png` and sent as `image/png` is not a PNG here.
 *
 * Only four kinds qualify: PNG, JPEG, GIF and WebP, which a browser decodes
 * as pixels and nothing else. SVG (which holds script), HTML, PDF and the
 * rest are never shown inline.
 *
 * @module
 */

/** A picture type the server shows inline. */
export type PictureType =
  | "image/png"
  | "image/jpeg"
  | "image/gif"
  | "image/webp";

/** Bytes of a file's start that {@linkcode pictureType} looks at, at most. */
export const PICTURE_SNIFF_BYTES = 16;

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG = [0xff, 0xd8, 0xff];
const GIF87 = [0x47, 0x49, 0x46, 0x38, 0x37, 0x61];
const GIF89 = [0x47, 0x49, 0x46, 0x38, 0x39, 0x61];
const RIFF = [0x52, 0x49, 0x46, 0x46];
const WEBP = [0x57, 0x45, 0x42, 0x50];

function startsWith(bytes: Uint8Array, signature: number[], at = 0): boolean {
  if (bytes.length < at + signature.length) return false;
  return signature.every((byte, i) => bytes[at + i] === byte);
}

/**
 * The picture type `head` (a file's first bytes) begins, by its signature
 * (WHATWG MIME Sniffing, "matching an image type pattern"), or `undefined`.
 *
 * @example
 * ```ts
 * pictureType(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10])); // → "image/png"
 * pictureType(new TextEncoder().encode("<html>")); // → undefined
 * ```
 */
export function pictureType(head: Uint8Array): PictureType | undefined {
  if (startsWith(head, PNG)) return "image/png";
  if (startsWith(head, JPEG)) return "image/jpeg";
  if (startsWith(head, GIF87) || startsWith(head, GIF89)) return "image/gif";
  if (startsWith(head, RIFF) && startsWith(head, WEBP, 8)) return "image/webp";
  return undefined;
}
