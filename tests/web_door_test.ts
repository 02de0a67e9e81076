/**
 * The web door end to end, without a browser: the real `chat serve` on one
 * port answers HTTP with the page and its security headers, upgrades `/ws`
 * to a WebSocket carrying the JSON dialect into the same rooms as TCP
 * clients, and refuses what it should, over plain TCP and over TLS.
 */

import assert from "node:assert/strict";
import { ServerProcess, tempDir, TestClient } from "./helpers.ts";
import { hasOpenssl, makeSelfSignedCert } from "./hostile_helpers.ts";
import {
  dial,
  getHead,
  readResponse,
  request,
  WsTestClient,
} from "./web_client.ts";
import { CloseCode, Opcode } from "../src/server/doors/web/websocket.ts";
import { WEB_ASSETS } from "../src/server/doors/web/assets.ts";

const encoder = new TextEncoder();

/** Starts a server, runs `fn`, stops the server whatever happens. */
async function withServer(
  args: string[],
  fn: (server: ServerProcess) => Promise<void>,
): Promise<void> {
  const server = await ServerProcess.start(args);
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

Deno.test("GET / is the page, with a strict policy and no sniffing; its files follow", async () => {
  await withServer([], async (server) => {
    // chat serve says where the page is, among the lines to share.
    assert.match(
      server.startup,
      new RegExp(`http://127.0.0.1:${server.port}/ `),
    );
    const target = { port: server.port };
    const page = await request(target, getHead("/", server.port));
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(page.body, /<script type="module" src="\/chat.js">/);
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(
      csp,
      new RegExp(
        `connect-src 'self' ws://127.0.0.1:${server.port} wss://127.0.0.1:${server.port}`,
      ),
    );
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    assert.equal(page.headers.get("referrer-policy"), "no-referrer");
    assert.equal(page.headers.get("cache-control"), "no-cache");
    // Nothing in the page names another host.
    for (const [path, asset] of WEB_ASSETS) {
      const text = new TextDecoder().decode(asset.body);
      assert.doesNotMatch(text, /(src|href)=["']?(https?:)?\/\//, path);
      assert.doesNotMatch(text, /@import|url\(\s*["']?https?:/, path);
    }
    const script = await request(target, getHead("/chat.js", server.port));
    assert.equal(script.status, 200);
    assert.equal(
      script.headers.get("content-type"),
      "text/javascript; charset=utf-8",
    );
    const css = await request(target, getHead("/chat.css", server.port));
    assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
    // A page the browser has is revalidated, not fetched again.
    const etag = page.headers.get("etag")!;
    const again = await request(
      target,
      getHead("/", server.port, `If-None-Match: ${etag}\r\n`),
    );
    assert.equal(again.status, 304);
    assert.equal(again.body, "");
    const head = await request(target, `HEAD / HTTP/1.1\r\nHost: a\r\n\r\n`);
    assert.equal(head.status, 200);
    assert.equal(
      head.headers.get("content-length"),
      page.headers.get("content-length"),
    );
  });
});

Deno.test("unknown paths are 404, other methods 405, bad heads 400 and 431, and none gets the banner", async () => {
  await withServer([], async (server) => {
    const target = { port: server.port };
    const missing = await request(target, getHead("/etc/passwd", server.port));
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("x-content-type-options"), "nosniff");
    const post = await request(
      target,
      `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n`,
    );
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    const bad = await request(target, "GET nonsense\r\n\r\n");
    assert.equal(bad.status, 400);
    const noHost = await request(target, "GET / HTTP/1.1\r\n\r\n");
    assert.equal(noHost.status, 400);
    const huge = await request(
      target,
      `GET / HTTP/1.1\r\nX: ${"a".repeat(9000)}`,
    );
    assert.equal(huge.status, 431);
    for (const response of [missing, post, bad, huge]) {
      assert.doesNotMatch(response.body, /Welcome to|nickname/);
    }
  });
});

Deno.test("a kept-alive connection serves several requests, split however they arrive", async () => {
  await withServer([], async (server) => {
    const conn = await dial({ port: server.port });
    try {
      const first = getHead("/chat.css", server.port);
      // Byte by byte for the first, then two at once.
      for (const byte of encoder.encode(first)) {
        await conn.write(new Uint8Array([byte]));
      }
      assert.equal((await readResponse(conn)).status, 200);
      await conn.write(
        encoder.encode(
          getHead("/", server.port) + getHead("/nope", server.port),
        ),
      );
      assert.equal((await readResponse(conn)).status, 200);
      assert.equal((await readResponse(conn)).status, 404);
    } finally {
      conn.close();
    }
  });
});

Deno.test("a WebSocket member and a TCP member share the room, in Chinese and emoji both ways", async () => {
  await withServer([], async (server) => {
    const target = { port: server.port };
    const { client: web, welcome } = await WsTestClient.join(target, "网页");
    assert.equal(welcome.type, "welcome");
    const tcp = await TestClient.join(server.port, "bob");
    try {
      const joined = await web.waitFor((e) => e.type === "join");
      assert.equal(joined.type === "join" && joined.nick, "bob");
      web.send({ type: "say", text: "你好 bob 👋" });
      const atTcp = await tcp.client.waitFor((e) => e.type === "msg");
      assert.equal(atTcp.type === "msg" && atTcp.text, "你好 bob 👋");
      assert.equal(atTcp.type === "msg" && atTcp.from, "网页");
      tcp.client.send({ type: "say", text: "收到 ✅" });
      const echo = await web.waitFor((e) =>
        e.type === "msg" && e.from === "网页"
      );
      assert.equal(echo.type === "msg" && echo.text, "你好 bob 👋");
      const reply = await web.waitFor((e) =>
        e.type === "msg" && e.from === "bob"
      );
      assert.equal(reply.type === "msg" && reply.text, "收到 ✅");
      // Commands are the shared ones: a private message, and an error's wording.
      web.send({ type: "dm", to: "bob", text: "悄悄话" });
      const dm = await tcp.client.waitFor((e) => e.type === "dm");
      assert.equal(dm.type === "dm" && dm.text, "悄悄话");
      web.send({ type: "dm", to: "nobody", text: "x" });
      const error = await web.waitFor((e) => e.type === "error");
      assert.equal(error.type === "error" && error.code, "no_such_user");
      // Every text frame the server sent is one JSON event.
      for (const text of web.texts) assert.ok(text.startsWith("{"), text);
    } finally {
      tcp.client.close();
      await web.close();
    }
  });
});

Deno.test("a WebSocket client answers pings, and the server answers its pings and closes cleanly", async () => {
  await withServer([], async (server) => {
    const { client } = await WsTestClient.join({ port: server.port }, "pinger");
    try {
      await client.sendFrame(Opcode.ping, encoder.encode("are you there"));
      const pong = await client.nextFrame((f) => f.kind === "pong");
      assert.equal(
        pong?.kind === "pong" && new TextDecoder().decode(pong.payload),
        "are you there",
      );
      client.send({ type: "quit" });
      const bye = await client.waitFor((e) => e.type === "bye");
      assert.equal(bye.type === "bye" && bye.reason, "goodbye");
      const close = await client.nextFrame((f) => f.kind === "close");
      assert.equal(close?.kind === "close" && close.code, CloseCode.normal);
      await client.waitClosed();
    } finally {
      await client.close();
    }
  });
});

Deno.test("a message over 16 KiB closes with 1009 and text that is not UTF-8 with 1007", async () => {
  await withServer([], async (server) => {
    const target = { port: server.port };
    const { client: big } = await WsTestClient.join(target, "big");
    const { client: bad } = await WsTestClient.join(target, "bad");
    try {
      await big.sendFrame(
        Opcode.text,
        new Uint8Array(16 * 1024 + 1).fill(0x61),
      );
      const tooBig = await big.nextFrame((f) => f.kind === "close");
      assert.equal(tooBig?.kind === "close" && tooBig.code, CloseCode.tooBig);
      await bad.sendFrame(Opcode.text, new Uint8Array([0x7b, 0xff, 0x7d]));
      const invalid = await bad.nextFrame((f) => f.kind === "close");
      assert.equal(
        invalid?.kind === "close" && invalid.code,
        CloseCode.invalidData,
      );
      await big.waitClosed();
      await bad.waitClosed();
      assert.match(
        server.log,
        /leave big \S+: WebSocket: message over 16384 bytes/,
      );
      assert.match(server.log, /leave bad \S+: WebSocket: text is not UTF-8/);
    } finally {
      await big.close();
      await bad.close();
    }
  });
});

Deno.test("a page from another site cannot open the chat socket; a bad upgrade is refused", async () => {
  await withServer([], async (server) => {
    const target = { port: server.port };
    await assert.rejects(
      WsTestClient.open(target, "Origin: http://evil.example\r\n"),
      /403/,
    );
    const same = await WsTestClient.open(
      target,
      `Origin: http://127.0.0.1:${server.port}\r\n`,
    );
    await same.close();
    const plain = await request(target, getHead("/ws", server.port));
    assert.equal(plain.status, 426);
    const oldVersion = await request(
      target,
      getHead(
        "/ws",
        server.port,
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
      ),
    );
    assert.equal(oldVersion.status, 426);
    assert.equal(oldVersion.headers.get("sec-websocket-version"), "13");
  });
});

Deno.test("--password holds for the WebSocket as for TCP", async () => {
  await withServer(["--password", "s3cret"], async (server) => {
    const target = { port: server.port };
    const { client: wrong, welcome: refused } = await WsTestClient.join(
      target,
      "eve",
      {
        password: "guess",
      },
    );
    assert.equal(refused.type === "error" && refused.code, "bad_password");
    await wrong.waitClosed();
    await wrong.close();
    const { client, welcome } = await WsTestClient.join(target, "amy", {
      password: "s3cret",
    });
    assert.equal(welcome.type, "welcome");
    await client.close();
    assert.doesNotMatch(server.log, /s3cret|guess/);
  });
});

Deno.test("a browser that stops answering pings is dropped; one that answers stays (--ping-seconds)", async () => {
  await withServer(["--ping-seconds", "1"], async (server) => {
    const target = { port: server.port };
    const { client: awake } = await WsTestClient.join(target, "awake");
    const { client: gone } = await WsTestClient.join(target, "gone");
    gone.answerPings = false;
    try {
      const ping = await gone.nextFrame((f) => f.kind === "ping", 5000);
      assert.equal(ping?.kind, "ping");
      await gone.waitClosed(8000);
      await awake.waitFor((e) => e.type === "leave" && e.nick === "gone");
      assert.match(
        server.log,
        /leave gone \S+: WebSocket: no answer to a ping/,
      );
      awake.send({ type: "say", text: "still here" });
      const echo = await awake.waitFor((e) => e.type === "msg");
      assert.equal(echo.type === "msg" && echo.text, "still here");
    } finally {
      await awake.close();
      await gone.close();
    }
  });
});

const opensslHere = await hasOpenssl();

Deno.test({
  name: opensslHere
    ? "over --tls-cert the page is https and the socket wss, on the same port"
    : "over --tls-cert the page is https and the socket wss (skipped: openssl not installed)",
  ignore: !opensslHere,
  fn: async () => {
    const dir = await tempDir();
    try {
      const { cert, key } = await makeSelfSignedCert(dir.path);
      const ca = await Deno.readTextFile(cert);
      await withServer(
        ["--tls-cert", cert, "--tls-key", key],
        async (server) => {
          assert.match(
            server.startup,
            new RegExp(`https://127.0.0.1:${server.port}/`),
          );
          const target = { port: server.port, ca };
          const page = await request(target, getHead("/", server.port));
          assert.equal(page.status, 200);
          assert.match(page.body, /chat.js/);
          const { client, welcome } = await WsTestClient.join(target, "secure");
          assert.equal(welcome.type, "welcome");
          client.send({ type: "say", text: "加密 🔒" });
          const echo = await client.waitFor((e) => e.type === "msg");
          assert.equal(echo.type === "msg" && echo.text, "加密 🔒");
          await client.close();
        },
      );
    } finally {
      await dir.remove();
    }
  },
});
