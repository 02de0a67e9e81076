/**
 * File names and sizes as people see them: what a shared file may be called
 * (the server cleans what a sender gives; the client cleans it again before
 * saving, since a server may be someone else's), and `120 KB`.
 *
 * @module
 */

import { FILE_LIMITS } from "./limits.ts";

/**
 * What never stays in a file name: C0 and C1 controls, DEL, and the
 * characters that reorder or hide text (bidi embeddings, overrides and
 * isolates, the marks U+061C, U+200E, U+200F), which can make `exe.jpg`
 * read as `gpj.exe`, or the other way round.
 */
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
/** Characters that show as nothing (zero-width spaces, joiners outside emoji…). */
const INVISIBLE =
  /[\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b\u2060-\u2064\u3164\ufeff\uffa0]/g;
/** Not allowed in a Windows file name; replaced so a download saves anywhere. */
const WINDOWS_RESERVED_CHARACTERS = /[<>:"|?*]/g;
/** Names Windows keeps for devices, with any extension (`nul.txt`). */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/**
 * A file name that is safe to show and to save: the last part of a path
 * (no `/` or `\`), without control, bidi or invisible characters, with no
 * leading dots (no hidden files, no `..`), at most
 * {@linkcode FILE_LIMITS.maxNameChars} characters with its extension kept,
 * and never empty (`file`). Letters of every script stay: `作业.pdf` is
 * `作业.pdf`.
 *
 * @example
 * ```ts
 * cleanFileName("../../etc/passwd"); // → "passwd"
 * cleanFileName("photo\u202egpj.exe"); // → "photogpj.exe"
 * cleanFileName("数学 作业.pdf"); // → "数学 作业.pdf"
 * ```
 */
export function cleanFileName(raw: string): string {
  const last = raw.normalize("NFC").split(/[/\\]/).filter((p) => p !== "")
    .at(-1) ?? "";
  let name = last.replace(/[\t\n\r]/g, " ").replace(UNSAFE, "")
    .replace(INVISIBLE, "")
    .replace(WINDOWS_RESERVED_CHARACTERS, "_")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^\.+/, "")
    // Windows drops trailing dots and spaces, which would change the name.
    .replace(/[. ]+$/, "")
    .trim();
  name = shorten(name, FILE_LIMITS.maxNameChars);
  if (WINDOWS_DEVICE.test(name)) name = `_${name}`;
  return name === "" ? "file" : name;
}

/** At most `max` characters (code points), the extension kept. */
function shorten(name: string, max: number): string {
  const chars = [...name];
  if (chars.length <= max) return name;
  const dot = name.lastIndexOf(".");
  const extension = dot > 0 ? [...name.slice(dot)] : [];
  if (extension.length > 16 || extension.length >= max) {
    return chars.slice(0, max).join("");
  }
  return chars.slice(0, max - extension.length).join("").trimEnd() +
    extension.join("");
}

/**
 * A size as people read it, in powers of 1024 with the usual short units:
 * `512 bytes`, `120 KB`, `1.2 MB`, `3 GB`.
 */
export function formatFileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = value >= 10 ? Math.round(value) : Math.round(value * 10) / 10;
  return `${shown} ${units[unit]}`;
}

/** `name.1.ext`, `name.2.ext` …: the `n`-th other name for a taken one. */
export function numberedName(name: string, n: number): string {
  const dot = name.lastIndexOf(".");
  return dot > 0
    ? `${name.slice(0, dot)}.${n}${name.slice(dot)}`
    : `${name}.${n}`;
}

/** A media type as `type/subtype`, without parameters. */
const MIME_TYPE =
  /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/;

/**
 * A declared media type, lower-cased and without parameters, or
 * `application/octet-stream` when it is missing or malformed. It is what
 * the sender said, no more: the server checks pictures by their bytes.
 */
export function cleanMimeType(raw: string | undefined): string {
  const type = (raw ?? "").split(";")[0].trim().toLowerCase();
  return MIME_TYPE.test(type) ? type : "application/octet-stream";
}

/** Media types by extension, for the client to declare what it sends. */
const TYPES_BY_EXTENSION: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  svg: "image/svg+xml",
  heic: "image/heic",
  pdf: "application/pdf",
  txt: "text/plain",
  md: "text/markdown",
  csv: "text/csv",
  html: "text/html",
  htm: "text/html",
  json: "application/json",
  zip: "application/zip",
  mp3: "audio/mpeg",
  mp4: "video/mp4",
  doc: "application/msword",
  docx:
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xls: "application/vnd.ms-excel",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ppt: "application/vnd.ms-powerpoint",
  pptx:
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
};

/** The media type a file's extension suggests, or `application/octet-stream`. */
export function mimeTypeFor(name: string): string {
  const dot = name.lastIndexOf(".");
  const extension = dot === -1 ? "" : name.slice(dot + 1).toLowerCase();
  return TYPES_BY_EXTENSION[extension] ?? "application/octet-stream";
}
