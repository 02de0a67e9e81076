/**
 * The client's side of shared files: HTTP/1.1 to the chat port itself,
 * over the same TCP or TLS the chat link uses (so `--tls` and `--ca` hold
 * here too), with no HTTP library: `PUT /upload/TOKEN` with the file's
 * bytes, streamed with progress, and `GET /f/ID/NAME` saved into a folder
 * without overwriting anything there.
 *
 * @module
 */

import type { LinkTarget } from "./chat_link.ts";
import { cleanFileName, numberedName } from "../shared/file_names.ts";
import { FILE_LIMITS } from "../shared/limits.ts";

/** A transfer that failed, in one line for the user. */
export class TransferError extends Error {
  /** @param message what went wrong, for the user. */
  constructor(message: string) {
    super(message);
    this.name = "TransferError";
  }
}

/** Called as bytes go or come: so far, of how many. */
export type Progress = (done: number, total: number) => void;

/** The server's answer to an upload (`201`). */
export interface Uploaded {
  id: string;
  /** The file's path on the server. */
  url: string;
  /** The absolute link the room was shown. */
  link?: string;
  /** The id of the file's message. */
  message?: number;
}

/** How long a server may take to answer a request's head. */
const ANSWER_MS = 15_000;
/** How long to wait for `100 Continue` before sending the body anyway. */
const CONTINUE_WAIT_MS = 3000;
/** The longest response head read. */
const MAX_HEAD_BYTES = 16 * 1024;
/** The longest error or JSON body read. */
const MAX_SMALL_BODY_BYTES = 64 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One HTTP exchange's socket, with what was read past the response head. */
class HttpConn {
  #conn: Deno.Conn;
  #buffer: Uint8Array = new Uint8Array(0);
  #reading: Promise<Uint8Array | null> | undefined;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  static async open(target: LinkTarget): Promise<HttpConn> {
    try {
      const conn = target.tls
        ? await Deno.connectTls({
          hostname: target.host,
          port: target.port,
          caCerts: target.caCerts,
        })
        : await Deno.connect({ hostname: target.host, port: target.port });
      return new HttpConn(conn);
    } catch (error) {
      throw new TransferError(
        `cannot reach the server: ${
          (error instanceof Error ? error.message : String(error)).split("\n")[
            0
          ]
        }`,
      );
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.#conn.write(bytes.subarray(offset));
    }
  }

  /**
   * Reads into the buffer once; false at end of stream. A read that timed
   * out stays pending and is the next one's, so no byte is lost.
   */
  async #fill(ms: number): Promise<boolean | "timeout"> {
    if (!this.#reading) {
      const chunk = new Uint8Array(FILE_LIMITS.chunkBytes);
      this.#reading = this.#conn.read(chunk).then((n) =>
        n === null ? null : chunk.subarray(0, n)
      );
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), ms);
    });
    try {
      const read = await Promise.race([this.#reading, timeout]);
      if (read === "timeout") return "timeout";
      this.#reading = undefined;
      if (read === null) return false;
      const joined = new Uint8Array(this.#buffer.length + read.length);
      joined.set(this.#buffer);
      joined.set(read, this.#buffer.length);
      this.#buffer = joined;
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The next response head (status and headers by lower-case name), or
   * `"timeout"` when none came within `ms`.
   */
  async readHead(
    ms: number,
  ): Promise<
    { status: number; headers: Map<string, string> } | "timeout"
  > {
    const deadline = Date.now() + ms;
    for (;;) {
      const end = findHeadEnd(this.#buffer);
      if (end !== -1) {
        const text = decoder.decode(this.#buffer.subarray(0, end));
        this.#buffer = this.#buffer.subarray(end + 4);
        const [statusLine, ...lines] = text.split("\r\n");
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
        if (!Number.isInteger(status)) {
          throw new TransferError("the server's answer is not HTTP");
        }
        const headers = new Map<string, string>();
        for (const line of lines) {
          const colon = line.indexOf(":");
          if (colon > 0) {
            headers.set(
              line.slice(0, colon).trim().toLowerCase(),
              line.slice(colon + 1).trim(),
            );
          }
        }
        return { status, headers };
      }
      if (this.#buffer.length > MAX_HEAD_BYTES) {
        throw new TransferError("the server's answer is not HTTP");
      }
      const left = deadline - Date.now();
      if (left <= 0) return "timeout";
      const filled = await this.#fill(left);
      if (filled === "timeout") return "timeout";
      if (!filled) {
        throw new TransferError("the server closed the connection");
      }
    }
  }

  /** The body's bytes, `length` of them (or up to the end), in chunks. */
  async *body(length: number | undefined): AsyncIterable<Uint8Array> {
    let left = length ?? Infinity;
    while (left > 0) {
      if (this.#buffer.length === 0) {
        const filled = await this.#fill(FILE_LIMITS.uploadIdleMs);
        if (filled === "timeout") {
          throw new TransferError("the server stopped sending");
        }
        if (!filled) {
          if (length === undefined) return;
          throw new TransferError("the download was cut short");
        }
      }
      const part = this.#buffer.subarray(
        0,
        Math.min(left, this.#buffer.length),
      );
      this.#buffer = this.#buffer.subarray(part.length);
      left -= part.length;
      yield part;
    }
  }

  /** A small body (an error line, JSON), as text. */
  async smallBody(headers: Map<string, string>): Promise<string> {
    const length = Number(headers.get("content-length") ?? NaN);
    let text = "";
    let read = 0;
    try {
      for await (
        const part of this.body(Number.isFinite(length) ? length : undefined)
      ) {
        read += part.length;
        text += decoder.decode(part, { stream: true });
        if (read > MAX_SMALL_BODY_BYTES) break;
      }
    } catch {
      // What was read is what there is.
    }
    return text + decoder.decode();
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
    // The read still pending ends with the socket; its error is no news.
    this.#reading?.catch(() => {});
  }
}

function findHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (
      bytes[i] === 0x0d && bytes[i + 1] === 0x0a && bytes[i + 2] === 0x0d &&
      bytes[i + 3] === 0x0a
    ) return i;
  }
  return -1;
}

function hostHeader(target: LinkTarget): string {
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  return `${host}:${target.port}`;
}

/** The one line a refusal's body holds, or its status. */
function refusalText(status: number, body: string): string {
  const line = body.trim().split("\n")[0]?.trim();
  return line ? line : `the server answered ${status}`;
}

/**
 * Sends a file's bytes to `path` (the `url` of `upload_ready`): `size` of
 * them, from `chunks`. Asks `Expect: 100-continue`, so a refusal (`413`,
 * `410` …) comes before the bytes are sent. Throws {@linkcode TransferError}.
 */
export async function uploadBytes(
  target: LinkTarget,
  path: string,
  size: number,
  chunks: AsyncIterable<Uint8Array>,
  progress?: Progress,
): Promise<Uploaded> {
  const http = await HttpConn.open(target);
  try {
    await http.write(encoder.encode(
      `PUT ${path} HTTP/1.1\r\nHost: ${hostHeader(target)}\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: ${size}\r\n` +
        `Expect: 100-continue\r\nConnection: close\r\n\r\n`,
    ));
    const early = await http.readHead(CONTINUE_WAIT_MS);
    if (early !== "timeout" && early.status !== 100) {
      throw new TransferError(
        refusalText(early.status, await http.smallBody(early.headers)),
      );
    }
    let sent = 0;
    progress?.(0, size);
    for await (const chunk of chunks) {
      const part = chunk.subarray(0, size - sent);
      await http.write(part);
      sent += part.length;
      progress?.(sent, size);
      if (sent >= size) break;
    }
    if (sent < size) {
      throw new TransferError(
        `the file ended after ${sent} of ${size} bytes (did it change?)`,
      );
    }
    let answer = await http.readHead(ANSWER_MS);
    while (answer !== "timeout" && answer.status === 100) {
      answer = await http.readHead(ANSWER_MS);
    }
    if (answer === "timeout") {
      throw new TransferError("the server did not answer the upload");
    }
    const body = await http.smallBody(answer.headers);
    if (answer.status !== 201) {
      throw new TransferError(refusalText(answer.status, body));
    }
    try {
      return JSON.parse(body) as Uploaded;
    } catch {
      throw new TransferError("the server's answer to the upload is not JSON");
    }
  } catch (error) {
    if (error instanceof TransferError) throw error;
    throw new TransferError(
      `the upload failed: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  } finally {
    http.close();
  }
}

/** The name a download's `Content-Disposition` gives, if any. */
export function dispositionName(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(value);
  if (extended) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // Fall back to the plain name.
    }
  }
  return /filename\s*=\s*"([^"]*)"/i.exec(value)?.[1];
}

/**
 * Opens a new file in `dir` named `name`, or `name.1.ext`, `name.2.ext` …
 * when taken: never overwrites. Returns the file and its path.
 */
export async function createFreeFile(
  dir: string,
  name: string,
): Promise<{ file: Deno.FsFile; path: string }> {
  const clean = cleanFileName(name);
  for (let n = 0; n < 1000; n++) {
    const path = `${dir}/${n === 0 ? clean : numberedName(clean, n)}`;
    try {
      const file = await Deno.open(path, { write: true, createNew: true });
      return { file, path };
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) continue;
      throw new TransferError(
        `cannot save into ${dir}: ${
          (error instanceof Error ? error.message : String(error)).split(
            "\n",
          )[0]
        }`,
      );
    }
  }
  throw new TransferError(`${dir} already holds ${clean} and 999 more like it`);
}

/**
 * Downloads `path` (`/f/ID/NAME`) into folder `dir`, under the name the
 * server gives (or `fallbackName`), never overwriting a file there.
 * Returns where it was saved and its size. Throws {@linkcode TransferError};
 * a download cut short leaves nothing behind.
 */
export async function downloadFile(
  target: LinkTarget,
  path: string,
  dir: string,
  fallbackName: string,
  progress?: Progress,
): Promise<{ path: string; size: number }> {
  const http = await HttpConn.open(target);
  let saved: { file: Deno.FsFile; path: string } | undefined;
  let complete = false;
  try {
    await http.write(encoder.encode(
      `GET ${path} HTTP/1.1\r\nHost: ${hostHeader(target)}\r\n` +
        `Connection: close\r\n\r\n`,
    ));
    const answer = await http.readHead(ANSWER_MS);
    if (answer === "timeout") {
      throw new TransferError("the server did not answer");
    }
    if (answer.status !== 200) {
      throw new TransferError(
        refusalText(answer.status, await http.smallBody(answer.headers)),
      );
    }
    const lengthText = answer.headers.get("content-length");
    const length = lengthText === undefined ? undefined : Number(lengthText);
    const name = dispositionName(answer.headers.get("content-disposition")) ??
      fallbackName;
    saved = await createFreeFile(dir, name);
    let got = 0;
    progress?.(0, length ?? 0);
    for await (const part of http.body(length)) {
      let offset = 0;
      while (offset < part.length) {
        offset += await saved.file.write(part.subarray(offset));
      }
      got += part.length;
      progress?.(got, length ?? got);
    }
    complete = true;
    return { path: saved.path, size: got };
  } catch (error) {
    if (error instanceof TransferError) throw error;
    throw new TransferError(
      `the download failed: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  } finally {
    http.close();
    if (saved) {
      saved.file.close();
      if (!complete) await Deno.remove(saved.path).catch(() => {});
    }
  }
}
