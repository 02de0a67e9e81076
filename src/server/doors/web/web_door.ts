/**
 * The web door: a browser's way in, on the chat port itself.
 *
 * `GET /` is the chat page (HTML, CSS, script and icon, embedded in the
 * binary by assets.ts, so nothing comes from any other host), and `GET /ws`
 * upgrades to a WebSocket that carries the JSON dialect, one event per text
 * message. The WebSocket is handed to the server as one more byte stream of
 * lines ({@linkcode WebSocketLineConn}), so a browser is a member like any
 * other: the same admission, limits, commands and hub.
 *
 * @module
 */

import { PROTOCOL_LIMITS, WEB_LIMITS } from "../../../shared/limits.ts";
import { WEB_ASSETS, type WebAsset } from "./assets.ts";
import {
  headerHasToken,
  parseRequestHead,
  type RequestHead,
} from "./http_request.ts";
import { acceptKey, isValidKey, WebSocketConn } from "./websocket.ts";
import type { FileReply, FileRoutes } from "./file_routes.ts";
import { WebSocketLineConn } from "./websocket_line_conn.ts";

/** What the web door needs from the server. */
export interface WebDoorSettings {
  /**
   * Runs a chat connection over `conn` exactly as for a TCP client (the
   * server counts it and says goodbye to it at shutdown).
   */
  startChat(conn: Deno.Conn): void;
  /** How long a request head may take to arrive, in milliseconds. */
  requestTimeoutMs: number;
  /**
   * A WebSocket quiet this long is pinged, and dropped when it stays quiet
   * as long again (`--ping-seconds`). 0 or absent: never.
   */
  pingMs?: number;
  /** Writes one log line. */
  log(line: string): void;
  /**
   * Shared files: `PUT /upload/TOKEN` and `GET /f/ID/NAME`. Absent: those
   * paths are `404`.
   */
  files?: FileRoutes;
  /** True when this door is inside TLS: a file's link starts `https://`. */
  secure?: boolean;
}

/** The path of the WebSocket endpoint. */
export const WEBSOCKET_PATH = "/ws";

const encoder = new TextEncoder();
const READ_CHUNK_BYTES = 16 * 1024;

const STATUS_TEXT: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  304: "Not Modified",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  410: "Gone",
  411: "Length Required",
  413: "Content Too Large",
  426: "Upgrade Required",
  500: "Internal Server Error",
  431: "Request Header Fields Too Large",
  505: "HTTP Version Not Supported",
};

/** A host header we are willing to repeat in the page's policy. */
const PLAIN_HOST =
  /^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * The Content-Security-Policy of every response: the page may load only its
 * own script, style and icon, and connect only to this server's WebSocket.
 * No inline script or style, no frames, no forms, no plugins. The socket's
 * origin is named outright (where the Host header is plain), since older
 * Safari does not count `ws:` as `'self'`.
 */
export function contentSecurityPolicy(host: string | undefined): string {
  const socket = host !== undefined && PLAIN_HOST.test(host)
    ? ` ws://${host} wss://${host}`
    : "";
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src 'self'${socket}`,
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** Headers every response carries. */
function securityHeaders(host: string | undefined): [string, string][] {
  return [
    ["Content-Security-Policy", contentSecurityPolicy(host)],
    ["X-Content-Type-Options", "nosniff"],
    ["Referrer-Policy", "no-referrer"],
    ["X-Frame-Options", "DENY"],
    ["Cross-Origin-Opener-Policy", "same-origin"],
    ["Cross-Origin-Resource-Policy", "same-origin"],
    [
      "Permissions-Policy",
      "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    ],
  ];
}

/** A response, ready to write. */
interface Response {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

/** Encodes a response; a `HEAD` request gets the headers alone. */
function encodeResponse(response: Response, headOnly: boolean): Uint8Array {
  const lines = [
    `HTTP/1.1 ${response.status} ${STATUS_TEXT[response.status] ?? ""}`,
  ];
  for (const [name, value] of response.headers) lines.push(`${name}: ${value}`);
  const head = encoder.encode(lines.join("\r\n") + "\r\n\r\n");
  if (headOnly || response.body.length === 0) return head;
  const out = new Uint8Array(head.length + response.body.length);
  out.set(head);
  out.set(response.body, head.length);
  return out;
}

/** A short plain-text response, for errors. */
function textResponse(
  status: number,
  text: string,
  host: string | undefined,
  extra: [string, string][] = [],
): Response {
  const body = encoder.encode(text + "\n");
  return {
    status,
    headers: [
      ["Content-Type", "text/plain; charset=utf-8"],
      ["Content-Length", String(body.length)],
      ["Cache-Control", "no-store"],
      ...securityHeaders(host),
      ...extra,
    ],
    body,
  };
}

/** One of the page's files; `no-cache` so a new binary's page shows at once. */
function assetResponse(
  asset: WebAsset,
  head: RequestHead,
  host: string | undefined,
): Response {
  const etag = `"${asset.hash}"`;
  const headers: [string, string][] = [
    ["Content-Type", asset.type],
    ["Cache-Control", "no-cache"],
    ["ETag", etag],
    ...securityHeaders(host),
  ];
  if (headerHasToken(head.headers.get("if-none-match"), etag)) {
    return { status: 304, headers, body: new Uint8Array(0) };
  }
  headers.splice(1, 0, ["Content-Length", String(asset.body.length)]);
  return { status: 200, headers, body: asset.body };
}

/** What to do with one request. */
type Route =
  | { kind: "respond"; response: Response; close: boolean }
  | { kind: "upgrade"; key: string }
  /** `PUT /upload/TOKEN`: an upload's bytes (src/server/doors/web/file_routes.ts). */
  | { kind: "upload"; token: string }
  /** `GET /f/ID/NAME`: a shared file; `name` absent for `/f/ID`. */
  | { kind: "file"; id: string; name?: string };

/** `/upload/TOKEN`. */
const UPLOAD_PATH = /^\/upload\/([a-z0-9]{1,64})$/;
/** `/f/ID` or `/f/ID/NAME` (the name percent-encoded). */
const FILE_PATH = /^\/f\/([a-z0-9]{1,64})(?:\/([^/]*))?$/;

/**
 * Decides the answer to a request: pure, so every route and refusal is
 * tested without sockets.
 */
export function routeRequest(head: RequestHead): Route {
  const host = head.headers.get("host");
  const respond = (response: Response, close = false): Route => ({
    kind: "respond",
    response,
    close,
  });
  if (head.version === "HTTP/1.1" && host === undefined) {
    return respond(textResponse(400, "Bad Request: no Host", host), true);
  }
  const upload = UPLOAD_PATH.exec(head.path);
  if (upload) {
    if (head.method === "PUT" || head.method === "POST") {
      return { kind: "upload", token: upload[1] };
    }
    return respond(
      textResponse(405, "Method Not Allowed: PUT the file's bytes", host, [
        ["Allow", "PUT, POST"],
      ]),
      true,
    );
  }
  if (head.method !== "GET" && head.method !== "HEAD") {
    return respond(
      textResponse(405, "Method Not Allowed", host, [["Allow", "GET, HEAD"]]),
      true,
    );
  }
  if (head.path === WEBSOCKET_PATH) return routeUpgrade(head, host);
  const file = FILE_PATH.exec(head.path);
  if (file) {
    if (file[2] === undefined) return { kind: "file", id: file[1] };
    try {
      return { kind: "file", id: file[1], name: decodeURIComponent(file[2]) };
    } catch {
      return respond(textResponse(404, "Not Found: no such file", host));
    }
  }
  const asset = WEB_ASSETS.get(head.path);
  if (!asset) return respond(textResponse(404, "Not Found", host));
  return respond(assetResponse(asset, head, host));
}

function routeUpgrade(head: RequestHead, host: string | undefined): Route {
  const refuse = (
    status: number,
    text: string,
    extra: [string, string][] = [],
  ): Route => ({
    kind: "respond",
    response: textResponse(status, text, host, extra),
    close: true,
  });
  const headers = head.headers;
  if (
    head.method !== "GET" ||
    !headerHasToken(headers.get("upgrade"), "websocket") ||
    !headerHasToken(headers.get("connection"), "upgrade")
  ) {
    return refuse(
      426,
      "Upgrade Required: this is the chat's WebSocket; open / in a browser",
      [["Upgrade", "websocket"], ["Connection", "Upgrade"]],
    );
  }
  if (headers.get("sec-websocket-version") !== "13") {
    return refuse(426, "Upgrade Required: WebSocket version 13", [
      ["Sec-WebSocket-Version", "13"],
    ]);
  }
  const key = headers.get("sec-websocket-key") ?? "";
  if (!isValidKey(key)) return refuse(400, "Bad Request: Sec-WebSocket-Key");
  // A page from another site must not open a chat socket in a visitor's
  // browser (cross-site WebSocket hijacking). Programs send no Origin.
  const origin = headers.get("origin");
  if (origin !== undefined && !sameHost(origin, host)) {
    return refuse(403, "Forbidden: the chat page opens its own socket");
  }
  return { kind: "upgrade", key };
}

function sameHost(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}

/** Writes all of `bytes`. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
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

/**
 * Closes after an answer that said `Connection: close`: the write side is
 * ended first, so over TLS the client gets TLS's close_notify and reads the
 * answer to its end rather than an unexpected end of the stream.
 */
async function endAnswered(conn: Deno.Conn): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      conn.closeWrite(),
      new Promise((resolve) => timer = setTimeout(resolve, LINGER_MS)),
    ]);
  } catch {
    // Gone already.
  } finally {
    clearTimeout(timer);
  }
  closeQuietly(conn);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

function peerName(conn: Deno.Conn): string {
  const addr = conn.remoteAddr as Deno.NetAddr;
  return addr.hostname?.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}

/**
 * Serves HTTP on a connection whose first bytes (`firstBytes`, already read
 * by the router) start a request: the page's files, keeping the connection
 * for further requests a short while, or the WebSocket upgrade, after which
 * the connection belongs to the chat. Resolves when this door is done with
 * the connection (closed, or handed to the chat).
 */
export async function serveWeb(
  conn: Deno.Conn,
  firstBytes: Uint8Array,
  settings: WebDoorSettings,
): Promise<void> {
  let buffered = firstBytes;
  let requests = 0;
  const chunk = new Uint8Array(READ_CHUNK_BYTES);
  try {
    for (;;) {
      const parsed = parseRequestHead(buffered);
      if (parsed.kind === "incomplete") {
        // The first request gets the handshake time; a kept-alive
        // connection waiting for its next one, a short idle time.
        const wait = requests === 0 || buffered.length > 0
          ? settings.requestTimeoutMs
          : WEB_LIMITS.keepAliveIdleMs;
        const n = await readWithin(conn, chunk, wait);
        if (n === "timeout" && buffered.length > 0) {
          await writeAll(
            conn,
            encodeResponse(
              textResponse(408, "Request Timeout", undefined),
              false,
            ),
          );
          return closeQuietly(conn);
        }
        if (n === null || n === "timeout") return closeQuietly(conn);
        buffered = concat(buffered, chunk.subarray(0, n));
        continue;
      }
      if (parsed.kind === "error") {
        settings.log(
          `http ${peerName(conn)}: ${parsed.status} ${parsed.reason}`,
        );
        const response = textResponse(
          parsed.status,
          `${STATUS_TEXT[parsed.status]}: ${parsed.reason}`,
          undefined,
        );
        await writeAll(conn, encodeResponse(response, false));
        return closeQuietly(conn);
      }
      const head = parsed.head;
      buffered = buffered.subarray(parsed.length);
      requests++;
      const route = routeRequest(head);
      if (route.kind === "upgrade") {
        return await upgrade(conn, route.key, buffered, settings);
      }
      if (route.kind === "upload") {
        // Whatever happens, the body may be unread: the connection ends.
        const reply = settings.files
          ? await settings.files.upload({
            conn,
            head,
            buffered,
            token: route.token,
            origin: linkOrigin(head, conn, settings.secure ?? false),
            sendContinue: () =>
              writeAll(conn, encoder.encode("HTTP/1.1 100 Continue\r\n\r\n")),
          })
          : NO_FILES;
        await writeFileReply(conn, head, reply, true, settings);
        return await lingerClose(conn);
      }
      if (route.kind === "file") {
        const reply = settings.files
          ? await settings.files.download(route.id, route.name, head)
          : NO_FILES;
        const close = head.version === "HTTP/1.0" ||
          headerHasToken(head.headers.get("connection"), "close") ||
          requests >= WEB_LIMITS.maxRequestsPerConnection ||
          head.headers.has("transfer-encoding") ||
          (head.headers.get("content-length") ?? "0") !== "0";
        await writeFileReply(conn, head, reply, close, settings);
        if (close) return await endAnswered(conn);
        continue;
      }
      // This door takes no bodies: after one, the connection is not reused.
      const hasBody = head.headers.has("transfer-encoding") ||
        (head.headers.get("content-length") ?? "0") !== "0";
      const close = route.close || hasBody ||
        head.version === "HTTP/1.0" ||
        headerHasToken(head.headers.get("connection"), "close") ||
        requests >= WEB_LIMITS.maxRequestsPerConnection;
      const response = route.response;
      if (close) response.headers.push(["Connection", "close"]);
      if (response.status >= 400) {
        settings.log(
          `http ${peerName(conn)}: ${head.method} ${
            head.path.slice(0, 80)
          } ${response.status}`,
        );
      }
      await writeAll(conn, encodeResponse(response, head.method === "HEAD"));
      if (close) return await endAnswered(conn);
    }
  } catch {
    // The browser went away, or the server closed the connection.
    closeQuietly(conn);
  }
}

/**
 * Closes after an upload's answer. A client still sending a refused body
 * would see its connection reset, and perhaps not the answer, if the
 * socket closed at once: its write side is shut first and a little more of
 * what it sends is read and dropped (a bounded time and amount).
 */
async function lingerClose(conn: Deno.Conn): Promise<void> {
  try {
    await conn.closeWrite();
    const buffer = new Uint8Array(READ_CHUNK_BYTES);
    const deadline = Date.now() + LINGER_MS;
    let drained = 0;
    while (drained < LINGER_BYTES && Date.now() < deadline) {
      const n = await readWithin(conn, buffer, deadline - Date.now());
      if (n === null || n === "timeout") break;
      drained += n;
    }
  } catch {
    // Gone already.
  }
  closeQuietly(conn);
}

/** How long, and how much, {@linkcode lingerClose} reads after an upload's answer. */
const LINGER_MS = 500;
const LINGER_BYTES = 256 * 1024;

/** The file routes' answer when the server shares no files. */
const NO_FILES: FileReply = {
  kind: "text",
  status: 404,
  text: "Not Found: this server shares no files",
};

/**
 * Writes a file route's answer: a line or JSON with the page's security
 * headers, or a file's own headers and its bytes, streamed.
 */
async function writeFileReply(
  conn: Deno.Conn,
  head: RequestHead,
  reply: FileReply,
  close: boolean,
  settings: WebDoorSettings,
): Promise<void> {
  const host = head.headers.get("host");
  const connection: [string, string][] = close ? [["Connection", "close"]] : [];
  if (reply.kind !== "file") {
    const response = reply.kind === "text"
      ? textResponse(reply.status, reply.text, host, [
        ...reply.headers ?? [],
        ...connection,
      ])
      : jsonResponse(reply.status, reply.body, host, connection);
    if (response.status >= 400) {
      settings.log(
        `http ${peerName(conn)}: ${head.method} ${
          head.path.slice(0, 80)
        } ${response.status}`,
      );
    }
    return await writeAll(
      conn,
      encodeResponse(response, head.method === "HEAD"),
    );
  }
  const headers = [...reply.headers, ...connection];
  await writeAll(
    conn,
    encodeResponse(
      { status: reply.status, headers, body: new Uint8Array(0) },
      true,
    ),
  );
  if (!reply.body) return;
  for await (const chunk of reply.body) await writeAll(conn, chunk);
}

/** A JSON response (an upload's `201`). */
function jsonResponse(
  status: number,
  value: unknown,
  host: string | undefined,
  extra: [string, string][],
): Response {
  const body = encoder.encode(JSON.stringify(value) + "\n");
  return {
    status,
    headers: [
      ["Content-Type", "application/json; charset=utf-8"],
      ["Content-Length", String(body.length)],
      ["Cache-Control", "no-store"],
      ...securityHeaders(host),
      ...extra,
    ],
    body,
  };
}

/**
 * Where a file's link points: `http://HOST:PORT` as the uploader reached
 * the server. Its `Host` header is taken when it names this server's port
 * (and, for an address, this very address); otherwise the address the
 * connection came in on, which is what a classmate's `nc` reached too.
 */
export function linkOrigin(
  head: RequestHead,
  conn: Deno.Conn,
  secure: boolean,
): string {
  const scheme = secure ? "https" : "http";
  const local = conn.localAddr as Deno.NetAddr;
  const localHost = local.hostname.includes(":")
    ? `[${local.hostname}]`
    : local.hostname;
  const fallback = `${scheme}://${localHost}:${local.port}`;
  const host = head.headers.get("host");
  if (host === undefined || !PLAIN_HOST.test(host)) return fallback;
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  if (!match) return fallback;
  const [, name, port] = match;
  const defaultPort = secure ? 443 : 80;
  if (Number(port ?? defaultPort) !== local.port) return fallback;
  const isAddress = name.startsWith("[") || /^[\d.]+$/.test(name);
  if (isAddress && name.toLowerCase() !== localHost.toLowerCase()) {
    return fallback;
  }
  return `${scheme}://${host.toLowerCase()}`;
}

/** Completes the opening handshake and hands the socket to the chat. */
async function upgrade(
  conn: Deno.Conn,
  key: string,
  leftover: Uint8Array,
  settings: WebDoorSettings,
): Promise<void> {
  const accept = await acceptKey(key);
  const response = encodeResponse({
    status: 101,
    headers: [
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
      ["Sec-WebSocket-Accept", accept],
    ],
    body: new Uint8Array(0),
  }, false);
  await writeAll(conn, response);
  const socket = new WebSocketConn(conn, leftover.slice(), {
    // One message is one frame (line) of the protocol, with the same limit.
    maxMessageBytes: PROTOCOL_LIMITS.maxFrameBytes,
    closeWaitMs: WEB_LIMITS.closeWaitMs,
    pingMs: settings.pingMs,
  });
  settings.startChat(new WebSocketLineConn(socket));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}
