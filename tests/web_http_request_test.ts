/**
 * The web door's request-head parser: what a browser sends is read, and
 * what is not HTTP (or is too big) gets a clear status.
 */

import assert from "node:assert/strict";
import {
  headerHasToken,
  MAX_HEAD_BYTES,
  parseRequestHead,
} from "../src/server/doors/web/http_request.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

const CHROME_HEAD = "GET /ws?x=1 HTTP/1.1\r\n" +
  "Host: 127.0.0.1:7777\r\n" +
  "Connection: Upgrade\r\n" +
  "Upgrade: websocket\r\n" +
  "Sec-WebSocket-Version: 13\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Accept-Language: zh-CN,zh;q=0.9\r\n" +
  "Accept-Language: en\r\n" +
  "\r\n";

Deno.test("a browser's request head is read: method, path, query, headers by lower-case name", () => {
  const parsed = parseRequestHead(bytes(CHROME_HEAD + "NEXT"));
  assert.equal(parsed.kind, "head");
  if (parsed.kind !== "head") return;
  assert.equal(parsed.length, CHROME_HEAD.length);
  const head = parsed.head;
  assert.equal(head.method, "GET");
  assert.equal(head.path, "/ws");
  assert.equal(head.query, "?x=1");
  assert.equal(head.version, "HTTP/1.1");
  assert.equal(head.headers.get("host"), "127.0.0.1:7777");
  assert.equal(
    head.headers.get("sec-websocket-key"),
    "dGhlIHNhbXBsZSBub25jZQ==",
  );
  // Repeated fields are joined, as RFC 9110 section 5.3 allows.
  assert.equal(head.headers.get("accept-language"), "zh-CN,zh;q=0.9, en");
});

Deno.test("a head is incomplete until its blank line, at any split point", () => {
  const all = bytes(CHROME_HEAD);
  for (let cut = 0; cut < all.length; cut++) {
    const parsed = parseRequestHead(all.subarray(0, cut));
    assert.equal(parsed.kind, "incomplete", `cut at ${cut}`);
  }
  assert.equal(parseRequestHead(all).kind, "head");
});

Deno.test("bare LF line ends are accepted, and empty lines before the request line skipped", () => {
  const parsed = parseRequestHead(bytes("\r\n\nGET / HTTP/1.0\nHost: a\n\n"));
  assert.equal(parsed.kind, "head");
  if (parsed.kind === "head") {
    assert.equal(parsed.head.version, "HTTP/1.0");
    assert.equal(parsed.head.headers.get("host"), "a");
  }
});

Deno.test("a head over 8 KiB without its end is 431, however much more arrives", () => {
  const long = bytes("GET / HTTP/1.1\r\nX-A: " + "a".repeat(MAX_HEAD_BYTES));
  const parsed = parseRequestHead(long);
  assert.equal(parsed.kind, "error");
  if (parsed.kind === "error") assert.equal(parsed.status, 431);
  // Within the bound it is still only incomplete.
  assert.equal(parseRequestHead(long.subarray(0, 4000)).kind, "incomplete");
});

Deno.test("too many header fields is 431", () => {
  const fields = Array.from({ length: 101 }, (_, i) => `X-${i}: v\r\n`).join(
    "",
  );
  const parsed = parseRequestHead(bytes(`GET / HTTP/1.1\r\n${fields}\r\n`));
  assert.deepEqual(
    parsed.kind === "error" ? parsed.status : parsed.kind,
    431,
  );
});

Deno.test("malformed heads are 400 and other versions 505", () => {
  const cases: [string, number][] = [
    ["GET /\r\n\r\n", 400], // No version.
    ["GET  / HTTP/1.1\r\n\r\n", 400], // Two spaces.
    ["G@T / HTTP/1.1\r\n\r\n", 400], // Not a token.
    ["GET http://evil/ HTTP/1.1\r\n\r\n", 400], // Not origin-form.
    ["GET /a b HTTP/1.1\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400], // Space before the colon.
    ["GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400], // obs-fold.
    ["GET / HTTP/1.1\r\nX: caf\u00e9\r\n\r\n", 400], // Not ASCII.
    ["GET / HTTP/1.1\r\nnocolon\r\n\r\n", 400],
    ["GET / HTTP/2.0\r\n\r\n", 505],
    ["GET / HTTP/1.1x\r\n\r\n", 400],
  ];
  for (const [text, status] of cases) {
    const parsed = parseRequestHead(bytes(text));
    assert.equal(parsed.kind, "error", JSON.stringify(text));
    if (parsed.kind === "error") {
      assert.equal(parsed.status, status, JSON.stringify(text));
    }
  }
});

Deno.test("header token lists are matched whole and without regard to case", () => {
  assert.equal(headerHasToken("keep-alive, Upgrade", "upgrade"), true);
  assert.equal(headerHasToken("upgraded", "upgrade"), false);
  assert.equal(headerHasToken(undefined, "upgrade"), false);
});
