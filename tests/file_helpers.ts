/**
 * Test helpers for shared files: raw HTTP exchanges with binary bodies
 * (an upload, a download), sample files, hashes, and asking for an upload
 * over the JSON dialect.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { RoomMessage, ServerEvent } from "../protocol.ts";
import type { TestClient } from "./helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An HTTP response with its body as bytes. */
export interface BinaryResponse {
  status: number;
  headers: Map<string, string>;
  body: Uint8Array;
}

/** How {@linkcode exchange} sends a body. */
export type BodyTiming =
  /** With the head, at once, as a careless client does. */
  | "at-once"
  /** Only after `100 Continue` (or a first answer, which ends it). */
  | "after-continue"
  /** Never: the head alone (to see a refusal that comes before any byte). */
  | "never";

function findHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 &&
      bytes[i + 3] === 10
    ) return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * One HTTP/1.1 exchange on a fresh connection to 127.0.0.1:`port`: the
 * request line and headers in `head` (no final blank line), the body per
 * `timing`. Reads the final answer (skipping `100 Continue`) with its body
 * (by Content-Length, or to the close).
 */
export async function exchange(
  port: number,
  head: string,
  body?: Uint8Array,
  timing: BodyTiming = "at-once",
): Promise<BinaryResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const start = encoder.encode(head.replace(/\r?\n?$/, "") + "\r\n\r\n");
    const writeAll = async (bytes: Uint8Array) => {
      let offset = 0;
      while (offset < bytes.length) {
        offset += await conn.write(bytes.subarray(offset));
      }
    };
    if (timing === "at-once" && body) {
      await writeAll(concat(start, body)).catch(() => {});
    } else await writeAll(start);
    let data: Uint8Array = new Uint8Array(0);
    const buffer = new Uint8Array(65536);
    const deadline = Date.now() + 15_000;
    const read = async () => {
      if (Date.now() > deadline) throw new Error("no answer in 15 s");
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) return false;
      data = concat(data, buffer.subarray(0, n));
      return true;
    };
    for (;;) {
      const end = findHeadEnd(data);
      if (end === -1) {
        if (!(await read())) throw new Error("closed before an answer");
        continue;
      }
      const lines = decoder.decode(data.subarray(0, end)).split("\r\n");
      data = data.subarray(end + 4);
      const status = Number(lines[0].split(" ")[1]);
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        headers.set(
          line.slice(0, colon).trim().toLowerCase(),
          line.slice(colon + 1).trim(),
        );
      }
      if (status === 100) {
        if (timing === "after-continue" && body) await writeAll(body);
        continue;
      }
      const length = headers.get("content-length");
      const wanted = length === undefined || head.startsWith("HEAD ") ||
          status === 304
        ? (head.startsWith("HEAD ") || status === 304 ? 0 : Infinity)
        : Number(length);
      while (data.length < wanted && await read()) { /* more body */ }
      const bodyBytes = wanted === Infinity ? data : data.subarray(0, wanted);
      return { status, headers, body: bodyBytes };
    }
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** `PUT url` with `bytes`, sent after `100 Continue`. */
export function put(
  port: number,
  url: string,
  bytes: Uint8Array,
  extra: string[] = [],
): Promise<BinaryResponse> {
  return exchange(
    port,
    [
      `PUT ${url} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      `Content-Length: ${bytes.length}`,
      "Expect: 100-continue",
      ...extra,
    ].join("\r\n"),
    bytes,
    "after-continue",
  );
}

/** `GET path` (or `HEAD`). */
export function get(
  port: number,
  path: string,
  method: "GET" | "HEAD" = "GET",
): Promise<BinaryResponse> {
  return exchange(
    port,
    `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close`,
  );
}

/** The SHA-256 of `bytes`, in hex. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    bytes as Uint8Array<ArrayBuffer>,
  );
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** Deterministic pseudo-random bytes (a fixed seed), `length` of them. */
export function noise(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

/** A PNG's signature and an IHDR chunk's start, then `length` bytes of noise. */
export function pngBytes(length: number): Uint8Array {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  const ihdr = [0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1];
  return concat(new Uint8Array([...signature, ...ihdr]), noise(length, 7));
}

/** A PDF's header, noise (binary, as PDFs hold), and its end marker. */
export function pdfBytes(length: number): Uint8Array {
  return concat(
    concat(encoder.encode("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), noise(length, 3)),
    encoder.encode("\n%%EOF\n"),
  );
}

/** Asks for an upload; returns the `upload_ready` (fails on an error). */
export async function askUpload(
  client: TestClient,
  frame: Record<string, unknown>,
): Promise<Extract<ServerEvent, { type: "upload_ready" }>> {
  client.send({ type: "upload", ...frame });
  const answer = await client.waitFor((e) =>
    e.type === "upload_ready" || e.type === "error"
  );
  assert.equal(answer.type, "upload_ready", JSON.stringify(answer));
  return answer as Extract<ServerEvent, { type: "upload_ready" }>;
}

/** Asks for an upload that must be refused; returns the `error`. */
export async function askRefused(
  client: TestClient,
  frame: Record<string, unknown>,
): Promise<Extract<ServerEvent, { type: "error" }>> {
  client.send({ type: "upload", ...frame });
  const answer = await client.waitFor((e) =>
    e.type === "upload_ready" || e.type === "error"
  );
  assert.equal(answer.type, "error", JSON.stringify(answer));
  return answer as Extract<ServerEvent, { type: "error" }>;
}

/** Uploads `bytes` as `name` and returns the room's message for it. */
export async function shareBytes(
  port: number,
  client: TestClient,
  name: string,
  bytes: Uint8Array,
  mime: string,
): Promise<RoomMessage> {
  const ready = await askUpload(client, { name, size: bytes.length, mime });
  const answer = await put(port, ready.url, bytes);
  assert.equal(answer.status, 201, new TextDecoder().decode(answer.body));
  return await client.waitFor((e) =>
    e.type === "msg" && e.file !== undefined
  ) as RoomMessage;
}

/** Every entry of a folder (unfinished uploads too): names and total bytes. */
export async function folderContents(
  dir: string,
): Promise<{ names: string[]; bytes: number }> {
  const names: string[] = [];
  let bytes = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      names.push(entry.name);
      bytes += (await Deno.stat(`${dir}/${entry.name}`)).size;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return { names: names.sort(), bytes };
}
