import assert from "node:assert/strict";
import { classifyOpening, readOpening } from "../src/server/doors/router.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("an HTTP request goes to the web door", () => {
  assert.equal(classifyOpening(bytes("GET / HTTP/1.1\r\n"), false), "http");
  assert.equal(classifyOpening(bytes("HEAD /ws HTTP/1.1"), false), "http");
  assert.equal(classifyOpening(bytes("POST /f HTTP/1.1"), true), "http");
});

Deno.test("an IRC registration goes to the IRC door", () => {
  for (
    const line of [
      "CAP LS 302\r\n",
      "NICK alice\r\n",
      "USER a 0 * :A",
      "PASS pw\r\n",
    ]
  ) {
    assert.equal(classifyOpening(bytes(line), false), "irc", line);
  }
});

Deno.test("a JSON hello goes to the JSON door, even after blank lines", () => {
  assert.equal(classifyOpening(bytes('{"type":"hello"'), false), "json");
  assert.equal(classifyOpening(bytes('\r\n  {"type"'), false), "json");
});

Deno.test("a nickname, a tutorial message or lower-case words are text", () => {
  for (
    const line of ["alice\n", "NICKY\n", "nick alice\n", "GETTER", "你好", "hi"]
  ) {
    assert.equal(classifyOpening(bytes(line), false), "text", line);
  }
});

Deno.test("a prefix of an opening, or only blanks, waits for more", () => {
  for (const line of ["G", "GE", "GET", "NIC", "CAP", "\r\n", "  "]) {
    assert.equal(classifyOpening(bytes(line), false), undefined, line);
  }
  assert.equal(classifyOpening(new Uint8Array(0), false), undefined);
});

Deno.test("a TLS handshake record is TLS only when TLS is on", () => {
  const hello = new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x10]);
  assert.equal(classifyOpening(hello, true), "tls");
  assert.equal(classifyOpening(hello, false), "text");
});

/** A conn whose reads return the given chunks, then wait for ever. */
function scriptedConn(chunks: (string | null)[]) {
  let hang: (() => void) | undefined;
  return {
    read(buffer: Uint8Array): Promise<number | null> {
      if (chunks.length === 0) {
        return new Promise((resolve) => hang = () => resolve(null));
      }
      const chunk = chunks.shift()!;
      if (chunk === null) return Promise.resolve(null);
      const data = bytes(chunk);
      buffer.set(data);
      return Promise.resolve(data.length);
    },
    end: () => hang?.(),
  };
}

Deno.test("readOpening decides as soon as the bytes do, across reads", async () => {
  const conn = scriptedConn(["GE", "T / HTTP/1.1\r\n"]);
  const opening = await readOpening(conn, false, 1000);
  assert.equal(opening.door, "http");
  assert.equal(new TextDecoder().decode(opening.bytes), "GET / HTTP/1.1\r\n");
  assert.equal(opening.pending, undefined);
});

Deno.test("a silent peer is handed over with its read still pending", async () => {
  const conn = scriptedConn([]);
  const started = Date.now();
  const opening = await readOpening(conn, false, 50);
  assert.ok(Date.now() - started >= 45);
  assert.equal(opening.door, undefined);
  assert.equal(opening.bytes.length, 0);
  assert.ok(opening.pending);
  conn.end();
  assert.equal(await opening.pending, null);
});

Deno.test("a peer that closes before deciding is reported as ended", async () => {
  const opening = await readOpening(scriptedConn(["GE", null]), false, 1000);
  assert.equal(opening.ended, true);
  assert.equal(new TextDecoder().decode(opening.bytes), "GE");
});
