/**
 * The web door's file routes (docs/protocol.md, "Files and pictures"):
 * `PUT /upload/TOKEN` takes the bytes of an upload the hub granted, and
 * `GET /f/ID/NAME` serves a stored file.
 *
 * An upload is refused before a byte of its body is read when its
 * `Content-Length` is missing, over `--max-file-size` or not the size its
 * `upload` frame announced; its body is streamed to the vault (never more
 * than that many bytes, never held whole in memory), and only then does its
 * message enter the room, through the hub like any other message.
 *
 * A served file cannot run script in the chat's origin: it is always
 * `nosniff` and sandboxed by its own Content-Security-Policy, and only a
 * picture its bytes prove to be PNG, JPEG, GIF or WebP is shown inline;
 * everything else (SVG and HTML too) is an `application/octet-stream`
 * attachment.
 *
 * @module
 */

import type {
  FileInfo,
  RoomMessage,
  ServerEvent,
} from "../../../../protocol.ts";
import { formatFileSize } from "../../../shared/file_names.ts";
import { FILE_LIMITS } from "../../../shared/limits.ts";
import type { FileShelf, StoredFile } from "../../file_shelf.ts";
import type { Session } from "../../hub.ts";
import {
  PICTURE_SNIFF_BYTES,
  type PictureType,
  pictureType,
} from "../../picture_type.ts";
import type { UploadDesk, UploadTicket } from "../../upload_desk.ts";
import { headerHasToken, type RequestHead } from "./http_request.ts";

/** What the file routes need from the server. */
export interface FileRoutesSettings {
  desk: UploadDesk<Session>;
  shelf: FileShelf;
  /** Posts a stored file's message to its room (the hub's `shareFile`). */
  share(
    ticket: UploadTicket<Session>,
    file: FileInfo,
    text: string,
    done: (
      outcome: RoomMessage | Extract<ServerEvent, { type: "error" }>,
    ) => void,
  ): void;
  /** Writes one log line. */
  log(line: string): void;
}

/** An answer of the file routes, for the web door to write. */
export type FileReply =
  /** A one-line plain-text answer (errors, and `100 Continue` is not one). */
  | { kind: "text"; status: number; text: string; headers?: [string, string][] }
  /** A JSON answer (`201` to an upload). */
  | { kind: "json"; status: number; body: unknown }
  /** A file: its headers, then (not for `HEAD` or `304`) its bytes. */
  | {
    kind: "file";
    status: 200 | 304;
    headers: [string, string][];
    body?: AsyncIterable<Uint8Array>;
  };

/** An upload's request, as the web door read it. */
export interface UploadContext {
  conn: Deno.Conn;
  head: RequestHead;
  /** Body bytes read with the head. */
  buffered: Uint8Array;
  token: string;
  /** `http://HOST:PORT` as the uploader reached the server: the link's start. */
  origin: string;
  /** Writes an interim `100 Continue`, for a client that waits for it. */
  sendContinue(): Promise<void>;
}

/** The one-line wording of the upload refusals, so the client can say them. */
const UPLOAD_REFUSALS = {
  noLength:
    "Length Required: send the file with a Content-Length (no chunked bodies)",
  badLength: "Bad Request: Content-Length is not a number of bytes",
  unknown:
    "Not Found: no such upload; ask for one with an upload frame (/send in chat connect)",
  expired:
    `Gone: that upload's token has expired (it is good for ${FILE_LIMITS.tokenSeconds} s); ask again`,
  used: "Gone: that upload's token was used already; ask again",
} as const;

/** The bytes of a file name in a URL path: `(`, `)` and `'` too, for terminals. */
export function encodeFileName(name: string): string {
  return encodeURIComponent(name).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The path a stored file is served at: `/f/ID/NAME`. */
export function filePath(id: string, name: string): string {
  return `/f/${id}/${encodeFileName(name)}`;
}

/**
 * `Content-Disposition` for a file: `inline` or `attachment`, the name as
 * RFC 6266 wants it (an ASCII fallback, and the real name in UTF-8), so a
 * download saves as `作业.pdf`.
 */
export function contentDisposition(
  kind: "inline" | "attachment",
  name: string,
): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${
    encodeFileName(name)
  }`;
}

/**
 * The headers of a served file: inline only for a picture type proved by
 * the file's bytes; every file sandboxed and `nosniff`.
 */
export function fileHeaders(file: StoredFile): [string, string][] {
  const inline: PictureType | undefined = file.inline;
  return [
    ["Content-Type", inline ?? "application/octet-stream"],
    ["Content-Length", String(file.size)],
    [
      "Content-Disposition",
      contentDisposition(inline ? "inline" : "attachment", file.name),
    ],
    ["X-Content-Type-Options", "nosniff"],
    ["Content-Security-Policy", "default-src 'none'; sandbox"],
    ["Cache-Control", "private, no-cache"],
    ["ETag", `"${file.id}"`],
    ["Accept-Ranges", "none"],
    ["Referrer-Policy", "no-referrer"],
    ["X-Frame-Options", "DENY"],
    ["Cross-Origin-Resource-Policy", "same-origin"],
  ];
}

/** Serves and receives shared files for the web door. */
export class FileRoutes {
  #settings: FileRoutesSettings;

  /** Serves `settings.shelf`'s files and `settings.desk`'s uploads. */
  constructor(settings: FileRoutesSettings) {
    this.#settings = settings;
  }

  /**
   * `GET /f/ID[/NAME]` (and `HEAD`): the file, `404` for an id never
   * given (or a name that is not the file's), `410` for one recalled or
   * pruned.
   */
  async download(
    id: string,
    name: string | undefined,
    head: RequestHead,
  ): Promise<FileReply> {
    const file = this.#settings.shelf.find(id);
    if (file === "gone") {
      return {
        kind: "text",
        status: 410,
        text: "Gone: this file was recalled or removed",
      };
    }
    if (file === undefined || (name !== undefined && name !== file.name)) {
      return { kind: "text", status: 404, text: "Not Found: no such file" };
    }
    const headers = fileHeaders(file);
    if (headerHasToken(head.headers.get("if-none-match"), `"${file.id}"`)) {
      return { kind: "file", status: 304, headers };
    }
    if (head.method === "HEAD") return { kind: "file", status: 200, headers };
    // Opened before the headers go, so a file missing from the folder is a
    // clear 404, not a response cut short.
    const chunks = this.#settings.shelf.vault.read(id)[Symbol.asyncIterator]();
    let first: IteratorResult<Uint8Array>;
    try {
      first = await chunks.next();
    } catch {
      this.#settings.log(`file ${id}: its bytes are missing from the vault`);
      return {
        kind: "text",
        status: 404,
        text: "Not Found: the file's bytes are missing on the server",
      };
    }
    async function* body(): AsyncIterable<Uint8Array> {
      if (first.done) return;
      yield first.value;
      for (;;) {
        const next = await chunks.next();
        if (next.done) return;
        yield next.value;
      }
    }
    return { kind: "file", status: 200, headers, body: body() };
  }

  /**
   * `PUT /upload/TOKEN` (or `POST`): checks the token and the length, then
   * streams exactly the announced bytes to the vault and shares the file.
   * The connection is not reused afterwards.
   */
  async upload(context: UploadContext): Promise<FileReply> {
    const { head, token } = context;
    const settings = this.#settings;
    const refuse = (status: number, text: string): FileReply => ({
      kind: "text",
      status,
      text,
    });
    const ticket = settings.desk.peek(token);
    if (ticket === "unknown") return refuse(404, UPLOAD_REFUSALS.unknown);
    if (ticket === "expired") return refuse(410, UPLOAD_REFUSALS.expired);
    if (ticket === "used") return refuse(410, UPLOAD_REFUSALS.used);
    const why = this.#lengthRefusal(head, ticket.size);
    if (why) {
      // Refused, the token is spent and its share of the quota given back
      // at once: the client asks again, the right way.
      settings.desk.take(token);
      settings.desk.end(ticket, false);
      return why;
    }
    settings.desk.take(token);
    let stored = false;
    try {
      if (headerHasToken(head.headers.get("expect"), "100-continue")) {
        await context.sendContinue();
      }
      const received = await this.#receive(context, ticket.size);
      if (typeof received === "string") {
        settings.log(
          `upload ${ticket.member.nick} ${ticket.name}: ${received}`,
        );
        return refuse(400, `Bad Request: ${received}; nothing was kept`);
      }
      const file: StoredFile = {
        id: received.id,
        room: ticket.room,
        uploader: ticket.member.nick,
        name: ticket.name,
        size: ticket.size,
        mime: received.inline ?? declaredType(ticket.mime),
        created: Date.now(),
      };
      if (received.inline) file.inline = received.inline;
      settings.shelf.record(file);
      stored = true;
      settings.desk.end(ticket, true);
      return await this.#share(ticket, file, context.origin);
    } finally {
      if (!stored) settings.desk.end(ticket, false);
    }
  }

  /**
   * Why an upload's length is refused before its body is read: none given
   * (or a chunked body), not a number, over `--max-file-size`, or not the
   * size its `upload` frame announced. `undefined` when it is right.
   */
  #lengthRefusal(head: RequestHead, size: number): FileReply | undefined {
    const refuse = (status: number, text: string): FileReply => ({
      kind: "text",
      status,
      text,
    });
    const lengthHeader = head.headers.get("content-length");
    if (head.headers.has("transfer-encoding") || lengthHeader === undefined) {
      return refuse(411, UPLOAD_REFUSALS.noLength);
    }
    if (!/^\d{1,15}$/.test(lengthHeader)) {
      return refuse(400, UPLOAD_REFUSALS.badLength);
    }
    const length = Number(lengthHeader);
    const max = this.#settings.desk.maxFileBytes;
    if (length > max) {
      return refuse(
        413,
        `Payload Too Large: ${formatFileSize(length)} is over this server's ${
          formatFileSize(max)
        } per file`,
      );
    }
    if (length !== size) {
      return refuse(
        413,
        `Payload Too Large: Content-Length ${length} is not the ${size} bytes the upload announced`,
      );
    }
    return undefined;
  }

  /**
   * Reads the body into a new vault file: the bytes that came with the
   * head, then the socket's, exactly `size` of them. Returns the committed
   * file's id and picture type, or what went wrong.
   */
  async #receive(
    context: UploadContext,
    size: number,
  ): Promise<{ id: string; inline?: PictureType } | string> {
    const vault = this.#settings.shelf.vault;
    const sink = await vault.create();
    const sniff = new Uint8Array(PICTURE_SNIFF_BYTES);
    let got = 0;
    const take = async (bytes: Uint8Array) => {
      const part = bytes.subarray(0, size - got);
      if (got < sniff.length) {
        sniff.set(part.subarray(0, sniff.length - got), got);
      }
      got += part.length;
      await sink.write(part);
    };
    try {
      if (context.buffered.length > 0) await take(context.buffered);
      const buffer = new Uint8Array(FILE_LIMITS.chunkBytes);
      while (got < size) {
        const n = await readWithin(
          context.conn,
          buffer,
          FILE_LIMITS.uploadIdleMs,
        );
        if (n === "timeout") {
          await sink.abort();
          return `no bytes for ${
            FILE_LIMITS.uploadIdleMs / 1000
          } s after ${got} of ${size}`;
        }
        if (n === null) {
          await sink.abort();
          return `the upload ended after ${got} of ${size} bytes`;
        }
        await take(buffer.subarray(0, n));
      }
      const id = this.#settings.shelf.newId();
      await sink.commit(id);
      const inline = pictureType(
        sniff.subarray(0, Math.min(got, sniff.length)),
      );
      return inline ? { id, inline } : { id };
    } catch (error) {
      await sink.abort();
      return `the upload failed: ${
        error instanceof Error ? error.message : String(error)
      }`;
    }
  }

  /** The file's message enters the room; the answer says how that went. */
  async #share(
    ticket: UploadTicket<Session>,
    file: StoredFile,
    origin: string,
  ): Promise<FileReply> {
    const settings = this.#settings;
    const info: FileInfo = {
      id: file.id,
      name: file.name,
      size: file.size,
      mime: file.mime,
      url: filePath(file.id, file.name),
    };
    if (file.inline) info.inline = true;
    const text = `📎 ${file.name} (${
      formatFileSize(file.size)
    }) ${origin}${info.url}`;
    const outcome = await new Promise<
      RoomMessage | Extract<ServerEvent, { type: "error" }>
    >((resolve) => settings.share(ticket, info, text, resolve));
    if (outcome.type === "error") {
      settings.shelf.discard(file.id);
      return {
        kind: "text",
        status: outcome.code === "store_failed" ? 500 : 403,
        text: `Not shared: ${outcome.message}`,
      };
    }
    settings.shelf.attach(file.id, outcome.id);
    settings.log(
      `file ${file.id} from ${file.uploader} in ${file.room}: ${file.name}, ${file.size} bytes${
        file.inline ? ` (${file.inline})` : ""
      }`,
    );
    return {
      kind: "json",
      status: 201,
      body: {
        id: file.id,
        url: info.url,
        link: `${origin}${info.url}`,
        message: outcome.id,
      },
    };
  }
}

/**
 * What the sender declared, unless it claims a picture its bytes did not
 * prove: such a file is reported as what it is served as.
 */
function declaredType(mime: string): string {
  return /^image\/(png|jpeg|gif|webp)$/.test(mime)
    ? "application/octet-stream"
    : mime;
}

/** Reads once, or resolves `"timeout"` after `ms`. */
async function readWithin(
  conn: Deno.Conn,
  buffer: Uint8Array,
  ms: number,
): Promise<number | null | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([conn.read(buffer), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
