/**
 * Sharing files from `chat connect`, the same in the terminal client, the
 * `TERM=dumb` client and pipe mode: `/send PATH` and text too long for a
 * message go up as files, `/get ID` comes down into the current folder.
 * The socket work is src/client/file_transfer.ts; this is what the
 * commands mean.
 *
 * @module
 */

import type {
  FileInfo,
  RoomMessage,
  ServerEvent,
  UploadFrame,
} from "../../protocol.ts";
import type { LinkTarget } from "./chat_link.ts";
import { formatFileSize, mimeTypeFor } from "../shared/file_names.ts";
import { FILE_LIMITS } from "../shared/limits.ts";
import {
  downloadFile,
  type Progress,
  TransferError,
  uploadBytes,
  type Uploaded,
} from "./file_transfer.ts";

/** The server's answer to an `upload` frame. */
export type UploadAnswer =
  | Extract<ServerEvent, { type: "upload_ready" }>
  | { type: "error"; message: string };

/** Sends an `upload` frame and waits for its answer. */
export type AskUpload = (frame: UploadFrame) => Promise<UploadAnswer>;

/** Something to upload: its name, size, type and bytes. */
export interface FileSource {
  name: string;
  size: number;
  mime: string;
  /** Its bytes, read as they are sent. */
  chunks(): AsyncIterable<Uint8Array>;
}

/**
 * The path `/send` was given: surrounding quotes taken off (a terminal
 * that drops a file in types `'/home/me/my photo.jpg'`), `\ ` unescaped,
 * and `~/` for the home folder.
 */
export function sendPath(args: string, home = homeFolder()): string {
  let path = args.trim();
  const quoted = /^(['"])(.*)\1$/s.exec(path);
  if (quoted) path = quoted[2];
  else if (Deno.build.os !== "windows") {
    // A shell's escapes (`my\ photo.jpg`); on Windows `\` is the separator.
    path = path.replace(/\\([ '"()[\]&;!$\\])/g, "$1");
  }
  if ((path === "~" || path.startsWith("~/")) && home !== undefined) {
    path = home + path.slice(1);
  }
  return path;
}

function homeFolder(): string | undefined {
  try {
    return Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  } catch {
    return undefined;
  }
}

/** A local file to send; throws {@linkcode TransferError} saying why not. */
export async function localFile(path: string): Promise<FileSource> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw new TransferError(
      error instanceof Deno.errors.NotFound
        ? `no such file: ${path}`
        : `cannot read ${path}: ${
          (error instanceof Error ? error.message : String(error)).split(
            "\n",
          )[0]
        }`,
    );
  }
  if (info.isDirectory) {
    throw new TransferError(
      `${path} is a folder; send the files in it one by one`,
    );
  }
  if (!info.isFile) throw new TransferError(`${path} is not a file`);
  const name = path.split(/[/\\]/).filter((p) => p !== "").at(-1) ?? "file";
  return {
    name,
    size: info.size,
    mime: mimeTypeFor(name),
    chunks: async function* () {
      const file = await Deno.open(path, { read: true });
      try {
        const buffer = new Uint8Array(FILE_LIMITS.chunkBytes);
        for (;;) {
          const n = await file.read(buffer);
          if (n === null) return;
          yield buffer.subarray(0, n);
        }
      } finally {
        file.close();
      }
    },
  };
}

/** Text to send as a UTF-8 text file named `name`. */
export function textFile(text: string, name: string): FileSource {
  const bytes = new TextEncoder().encode(text);
  return {
    name,
    size: bytes.length,
    mime: "text/plain",
    chunks: async function* () {
      yield bytes;
      await Promise.resolve();
    },
  };
}

/** `paste-2025-12-01-2114.txt`: a name for text sent as a file. */
export function pasteFileName(now = new Date()): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `paste-${now.getFullYear()}-${two(now.getMonth() + 1)}-${
    two(now.getDate())
  }-${two(now.getHours())}${two(now.getMinutes())}${two(now.getSeconds())}.txt`;
}

/**
 * Shares `source` with `room`: asks the server (which checks the room, the
 * size and the quota before any byte goes), then sends the bytes. Throws
 * {@linkcode TransferError} with the server's reason.
 */
export async function shareFile(
  target: LinkTarget,
  ask: AskUpload,
  source: FileSource,
  room: string | undefined,
  progress?: Progress,
): Promise<Uploaded> {
  if (source.size === 0) {
    throw new TransferError(`${source.name} is empty; nothing to send`);
  }
  const frame: UploadFrame = {
    type: "upload",
    name: source.name,
    size: source.size,
    mime: source.mime,
  };
  if (room !== undefined) frame.room = room;
  const answer = await ask(frame);
  if (answer.type === "error") throw new TransferError(answer.message);
  return await uploadBytes(
    target,
    answer.url,
    source.size,
    source.chunks(),
    progress,
  );
}

/** `photo.jpg (1.2 MB)`. */
export function describeFile(file: { name: string; size: number }): string {
  return `${file.name} (${formatFileSize(file.size)})`;
}

/**
 * The files the client has seen shared, so `/get ID` knows a file's name
 * and `/get` alone the newest one. Bounded: the oldest are forgotten.
 */
export class SeenFiles {
  #files = new Map<string, FileInfo & { room: string }>();
  #limit: number;

  /** Remembers up to `limit` files. */
  constructor(limit = 1000) {
    this.#limit = limit;
  }

  /** Notes the file a message shares, if any. */
  note(message: RoomMessage): void {
    const file = message.file;
    if (!file || typeof file.id !== "string" || typeof file.url !== "string") {
      return;
    }
    this.#files.delete(file.id);
    this.#files.set(file.id, { ...file, room: message.room });
    if (this.#files.size > this.#limit) {
      this.#files.delete(this.#files.keys().next().value!);
    }
  }

  /** A file that was recalled (by its message's id) is forgotten. */
  forget(id: string): void {
    this.#files.delete(id);
  }

  /** The file with this id, or the newest of `room` (any room if none there). */
  find(id: string | undefined, room: string | undefined): FileInfo | undefined {
    if (id !== undefined) return this.#files.get(id);
    const all = [...this.#files.values()].reverse();
    return all.find((f) => f.room === room) ?? all[0];
  }
}

/**
 * `/get ID`: downloads file `id` (or, without one, the newest seen in
 * `room`) into `dir`, never overwriting. Throws {@linkcode TransferError}.
 */
export async function getFile(
  target: LinkTarget,
  seen: SeenFiles,
  id: string | undefined,
  room: string | undefined,
  dir: string,
  progress?: Progress,
): Promise<{ path: string; size: number; name: string }> {
  const wanted = id?.trim().replace(/^#/, "") || undefined;
  if (wanted !== undefined && !/^[a-z0-9]{1,64}$/.test(wanted)) {
    throw new TransferError(
      "usage: /get [ID], the ID from a file's link (/f/ID/NAME)",
    );
  }
  const file = seen.find(wanted, room);
  if (!file && wanted === undefined) {
    throw new TransferError("no file has been shared here yet");
  }
  const path = file?.url ?? `/f/${wanted}`;
  const name = file?.name ?? `file-${wanted}`;
  const saved = await downloadFile(target, path, dir, name, progress);
  return { ...saved, name };
}
