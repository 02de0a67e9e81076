/**
 * TLS end to end: `chat serve --tls-cert --tls-key` with a self-signed
 * certificate made by openssl, `chat connect --tls --ca`, and the clear
 * errors of every mismatch (plain against TLS, TLS against plain, unknown
 * issuer, bad files).
 */

import assert from "node:assert/strict";
import { downloadFile } from "../src/client/file_transfer.ts";
import {
  LineSplitter,
  parseServerEvent,
  type ServerEvent,
} from "../protocol.ts";
import { runChat, ServerProcess, tempDir, TestClient } from "./helpers.ts";
import {
  hasOpenssl,
  makeSelfSignedCert,
  serverSocketTimer,
  sleep,
  waitForLog,
} from "./hostile_helpers.ts";

const opensslHere = await hasOpenssl();
const procNetHere = await Deno.stat("/proc/net/tcp").then(
  () => true,
  () => false,
);
if (!opensslHere) {
  console.log(
    "skipped: TLS tests need openssl to make a certificate (.ci/run installs it)",
  );
}

/**
 * A test that needs a self-signed certificate: made in a temporary folder
 * (removed afterwards); where openssl is missing, reported as skipped.
 */
function tlsTest(
  name: string,
  fn: (files: { dir: string; cert: string; key: string }) => Promise<void>,
): void {
  Deno.test({
    name: opensslHere ? name : `${name} (skipped: openssl not installed)`,
    ignore: !opensslHere,
    fn: async () => {
      const dir = await tempDir();
      try {
        const { cert, key } = await makeSelfSignedCert(dir.path);
        await fn({ dir: dir.path, cert, key });
      } finally {
        await dir.remove();
      }
    },
  });
}

/** A `chat serve` over TLS with this certificate. */
function tlsServer(cert: string, key: string): Promise<ServerProcess> {
  return ServerProcess.start(["--tls-cert", cert, "--tls-key", key]);
}

/** A raw TLS connection to `server`, trusting its self-signed `cert`. */
async function connectTlsTo(
  server: ServerProcess,
  cert: string,
): Promise<Deno.TlsConn> {
  return await Deno.connectTls({
    hostname: "127.0.0.1",
    port: server.port,
    caCerts: [await Deno.readTextFile(cert)],
  });
}

/** A JSON-dialect client over TLS, reading events line by line. */
class TlsClient {
  #conn: Deno.TlsConn;
  #events: ServerEvent[] = [];
  #closed = false;
  #reading: Promise<void>;
  #wake: (() => void) | undefined;

  constructor(conn: Deno.TlsConn) {
    this.#conn = conn;
    this.#reading = this.#read();
  }

  async #read(): Promise<void> {
    const splitter = new LineSplitter(1 << 20);
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(16384);
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        splitter.push(buffer.subarray(0, n), (piece) => {
          if (piece.kind !== "line") return;
          const event = parseServerEvent(decoder.decode(piece.bytes));
          if (event) this.#events.push(event);
        });
        this.#wake?.();
      }
    } catch { /* closed */ }
    this.#closed = true;
    this.#wake?.();
  }

  send(frame: unknown): Promise<number> {
    return this.#conn.write(
      new TextEncoder().encode(JSON.stringify(frame) + "\n"),
    );
  }

  async waitFor(
    match: (e: ServerEvent) => boolean,
    timeoutMs = 5000,
  ): Promise<ServerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.#events.findIndex(match);
      if (index >= 0) return this.#events.splice(0, index + 1).pop()!;
      if (this.#closed) throw new Error("closed while waiting");
      if (Date.now() > deadline) throw new Error("timed out");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch { /* closed */ }
    await this.#reading;
  }
}

tlsTest(
  "chat over TLS: a TLS bot and chat connect --tls --ca talk, and the startup says TLS",
  async ({ cert, key }) => {
    const server = await ServerProcess.start([
      "--tls-cert",
      cert,
      "--tls-key",
      key,
    ]);
    let watcher: TlsClient | undefined;
    try {
      assert.match(server.startup, /listening on 127\.0\.0\.1:\d+ with TLS/);
      assert.match(server.startup, /chat connect --tls 127\.0\.0\.1:\d+/);
      assert.match(server.startup, new RegExp(`--ca ${cert}`));
      assert.doesNotMatch(server.startup, /\n {2}nc /, "nc cannot speak TLS");

      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: server.port,
        caCerts: [await Deno.readTextFile(cert)],
      });
      watcher = new TlsClient(conn);
      await watcher.send({ type: "hello", nick: "watcher" });
      await watcher.waitFor((e) => e.type === "welcome");
      // TCP keepalive holds for TLS connections too (timer 2 in /proc).
      let timer: string | undefined;
      for (let i = 0; i < 40 && timer !== "02"; i++) {
        timer = serverSocketTimer(server.port, conn.localAddr.port);
        if (timer === undefined && !procNetHere) break; // nothing to check
        await sleep(50);
      }
      if (procNetHere) assert.equal(timer, "02", "keepalive on");

      const piped = await runChat(
        [
          "connect",
          "--ca",
          cert,
          `localhost:${server.port}`,
          "--nick",
          "piper",
        ],
        "secret over TLS 🔒\n",
      );
      assert.equal(piped.code, 0, piped.stderr);
      assert.match(piped.stdout, /piper: secret over TLS 🔒/);
      const msg = await watcher.waitFor((e) => e.type === "msg");
      assert.equal(msg.type === "msg" && msg.text, "secret over TLS 🔒");

      const tlsFlag = await runChat(
        [
          "connect",
          "--tls",
          "--ca",
          cert,
          `127.0.0.1:${server.port}`,
          "--nick",
          "two",
        ],
        "again\n",
      );
      assert.equal(tlsFlag.code, 0, tlsFlag.stderr);
    } finally {
      await watcher?.close();
      await server.stop();
    }
  },
);

tlsTest(
  "TLS mismatches are clear errors, not hangs: plain client, TLS client, unknown issuer",
  async ({ cert, key }) => {
    const tls = await ServerProcess.start([
      "--tls-cert",
      cert,
      "--tls-key",
      key,
      "--handshake-seconds",
      "1",
    ]);
    const plain = await ServerProcess.start();
    try {
      let started = Date.now();
      const plainClient = await runChat(
        ["connect", `127.0.0.1:${tls.port}`, "--nick", "x"],
        "hi\n",
        15_000,
      );
      assert.equal(plainClient.code, 1);
      assert.match(plainClient.stderr, /^chat: .*try --tls\)\n$/);
      assert.ok(Date.now() - started < 10_000, "no hang");

      const noCa = await runChat(
        ["connect", "--tls", `127.0.0.1:${tls.port}`, "--nick", "x"],
        "hi\n",
      );
      assert.equal(noCa.code, 1);
      assert.match(noCa.stderr, /^chat: cannot reach .* over TLS: .*--ca.*\n$/);

      started = Date.now();
      const tlsToPlain = await runChat(
        ["connect", "--ca", cert, `127.0.0.1:${plain.port}`, "--nick", "x"],
        "hi\n",
      );
      assert.equal(tlsToPlain.code, 1);
      assert.match(tlsToPlain.stderr, /^chat: .*try without --tls\)\n$/);
      assert.ok(Date.now() - started < 10_000, "no hang");

      // The server side: a socket that never starts TLS, and one that sends
      // plain text, are both closed without waiting for ever.
      const silent = await TestClient.connect(tls.port);
      const talker = await TestClient.connect(tls.port);
      talker.write("alice\n");
      // Someone typing into nc is told, in plain text, what to do instead.
      assert.match(
        await talker.nextLine(),
        /uses TLS: join with `chat connect --tls/,
      );
      assert.ok(await silent.waitClosed(4000), "silent socket closed");
      assert.ok(await talker.waitClosed(4000), "plain talker closed");
      await Promise.all([silent.close(), talker.close()]);
      await waitForLog(tls, /no TLS handshake in time/);
      await waitForLog(tls, /plain text on the TLS port/);

      // Still serving TLS clients after all that.
      const ok = await runChat(
        ["connect", "--ca", cert, `127.0.0.1:${tls.port}`, "--nick", "fine"],
        "still works\n",
      );
      assert.equal(ok.code, 0, ok.stderr);
    } finally {
      await Promise.all([tls.stop(), plain.stop()]);
    }
  },
);

tlsTest(
  "bad TLS files and flags are one line and exit 2, no stack trace",
  async ({ dir, cert, key }) => {
    const other = await tempDir();
    const second = await makeSelfSignedCert(other.path);
    try {
      const cases: [string[], RegExp][] = [
        [
          ["--tls-cert", `${dir}/missing.pem`, "--tls-key", key],
          /cannot read --tls-cert .*missing\.pem: no such file/,
        ],
        [
          ["--tls-cert", cert, "--tls-key", `${dir}/nokey.pem`],
          /cannot read --tls-key .*: no such file/,
        ],
        [
          ["--tls-cert", key, "--tls-key", key],
          /--tls-cert .* holds no certificate/,
        ],
        [
          ["--tls-cert", cert, "--tls-key", cert],
          /--tls-key .* holds no private key/,
        ],
        [
          ["--tls-cert", cert, "--tls-key", second.key],
          /--tls-key does not belong to the certificate/,
        ],
        [["--tls-cert", cert], /--tls-cert and --tls-key go together/],
      ];
      for (const [flags, pattern] of cases) {
        const result = await runChat(
          [
            "serve",
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--db",
            ":memory:",
            ...flags,
          ],
          "",
          10_000,
        );
        assert.equal(result.code, 2, `${flags.join(" ")}: ${result.stderr}`);
        assert.match(result.stderr, pattern);
        assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
        assert.match(result.stderr, /^chat: /);
      }
      const badCa = await runChat([
        "connect",
        "--ca",
        `${dir}/nope.pem`,
        "--nick",
        "x",
      ]);
      assert.equal(badCa.code, 2);
      assert.match(
        badCa.stderr,
        /^chat: cannot read --ca .*nope\.pem: no such file\n$/,
      );
    } finally {
      await other.remove();
    }
  },
);

tlsTest(
  "a TLS server that is full says so inside TLS, and chat connect shows it",
  async ({ cert, key }) => {
    const server = await ServerProcess.start([
      "--tls-cert",
      cert,
      "--tls-key",
      key,
      "--max-clients",
      "1",
    ]);
    let member: TlsClient | undefined;
    try {
      const ca = [await Deno.readTextFile(cert)];
      member = new TlsClient(
        await Deno.connectTls({
          hostname: "127.0.0.1",
          port: server.port,
          caCerts: ca,
        }),
      );
      await member.send({ type: "hello", nick: "first" });
      await member.waitFor((e) => e.type === "welcome");
      const refused = await runChat(
        [
          "connect",
          "--ca",
          cert,
          `127.0.0.1:${server.port}`,
          "--nick",
          "second",
        ],
        "hi\n",
      );
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^chat: .*server is full \(1 clients\)/);
    } finally {
      await member?.close();
      await server.stop();
    }
  },
);

tlsTest(
  "TLS handshakes still in progress count against their address; the refusal is read inside TLS",
  async ({ cert, key }) => {
    const server = await ServerProcess.start([
      "--tls-cert",
      cert,
      "--tls-key",
      key,
    ]);
    // Ten sockets that never start TLS: all still joining, all counted.
    const silent: Deno.Conn[] = [];
    let refused: Deno.TlsConn | undefined;
    try {
      for (let i = 0; i < 10; i++) {
        silent.push(
          await Deno.connect({ hostname: "127.0.0.1", port: server.port }),
        );
      }
      refused = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: server.port,
        caCerts: [await Deno.readTextFile(cert)],
      });
      const buffer = new Uint8Array(1024);
      const n = await refused.read(buffer);
      const line = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
      assert.match(
        line,
        /^Sorry, too many connections from your address are still joining \(10\)/,
      );
      await waitForLog(server, /refused 127\.0\.0\.1:\d+: 10 connections/);
    } finally {
      for (const conn of silent) conn.close();
      refused?.close();
      await server.stop();
    }
  },
);

tlsTest(
  "IRC over TLS (ircs): the router finds the IRC registration inside TLS",
  async ({ cert, key }) => {
    const server = await tlsServer(cert, key);
    const conn = await connectTlsTo(server, cert);
    try {
      await conn.write(
        new TextEncoder().encode("NICK tlsbob\r\nUSER tlsbob 0 * :T\r\n"),
      );
      let seen = "";
      const buffer = new Uint8Array(4096);
      const deadline = Date.now() + 5000;
      while (!seen.includes(" 366 ") && Date.now() < deadline) {
        const n = await conn.read(buffer);
        if (n === null) break;
        seen += new TextDecoder().decode(buffer.subarray(0, n));
      }
      assert.match(seen, /^:chat 001 tlsbob :Welcome/);
      assert.match(seen, /:tlsbob!tlsbob@chat JOIN #lobby/);
    } finally {
      conn.close();
      await server.stop();
    }
  },
);

tlsTest(
  "over TLS a file goes up and comes down inside TLS too: a piped line too long for a message becomes a file whose link starts https://",
  async ({ dir, cert, key }) => {
    const server = await ServerProcess.start([
      "--tls-cert",
      cert,
      "--tls-key",
      key,
    ]);
    let watcher: TlsClient | undefined;
    try {
      const ca = await Deno.readTextFile(cert);
      watcher = new TlsClient(
        await Deno.connectTls({
          hostname: "127.0.0.1",
          port: server.port,
          caCerts: [ca],
        }),
      );
      await watcher.send({ type: "hello", nick: "watcher" });
      await watcher.waitFor((e) => e.type === "welcome");
      const long = "🔒".repeat(4500);
      const piped = await runChat(
        [
          "connect",
          "--ca",
          cert,
          `localhost:${server.port}`,
          "--nick",
          "piper",
        ],
        `${long}\n`,
      );
      assert.equal(piped.code, 0, piped.stderr);
      const msg = await watcher.waitFor((e) => e.type === "msg");
      assert.ok(msg.type === "msg" && msg.file, JSON.stringify(msg));
      assert.ok(
        msg.text.endsWith(`https://localhost:${server.port}${msg.file.url}`),
        msg.text,
      );
      // chat connect's own download, inside TLS, into a fresh folder.
      const saved = await downloadFile(
        { host: "localhost", port: server.port, tls: true, caCerts: [ca] },
        msg.file.url,
        dir,
        "fallback.txt",
      );
      assert.equal(saved.path, `${dir}/${msg.file.name}`);
      assert.equal(await Deno.readTextFile(saved.path), long);
    } finally {
      await watcher?.close();
      await server.stop();
    }
  },
);

tlsTest(
  "over TLS an answer with Connection: close ends with TLS's close_notify, so a client reads it to its end without an error",
  async ({ cert, key }) => {
    const server = await tlsServer(cert, key);
    const conn = await connectTlsTo(server, cert);
    try {
      await conn.write(
        new TextEncoder().encode(
          `GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\n\r\n`,
        ),
      );
      // Without close_notify the last read throws UnexpectedEof.
      const answer = await new Response(conn.readable).text();
      assert.match(answer, /^HTTP\/1\.1 200 /);
      assert.match(answer, /<\/html>\s*$/);
    } finally {
      await server.stop();
    }
  },
);
