/**
 * What a connection may have queued, against the real server: every byte
 * counts, the soft limit drops after its seconds, the hard limit at once;
 * 160 clients that never read cannot grow the server's memory; and a room
 * whose senders outpace its readers slows the senders down (backpressure)
 * instead of dropping readers, while a member that stops reading is still
 * dropped.
 */

import assert from "node:assert/strict";
import type { RoomMessage } from "../protocol.ts";
import { SqliteStore } from "../src/server/store.ts";
import { ServerProcess, tempDir, TestClient } from "./helpers.ts";
import {
  rssKiB,
  serverReceiveQueue,
  sleep,
  waitForLog,
} from "./hostile_helpers.ts";

const encoder = new TextEncoder();

/** A database whose lobby holds `count` messages of about 12 KB. */
async function bigHistory(
  count: number,
): Promise<{ db: string; remove: () => Promise<void> }> {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  const store = new SqliteStore(db);
  const messages: RoomMessage[] = [];
  for (let id = 1; id <= count; id++) {
    messages.push({
      type: "msg",
      id,
      ts: Date.now() - count + id,
      room: "lobby",
      from: "old",
      text: `${id} ${"字".repeat(4000)}`,
    });
  }
  store.append(messages);
  store.close();
  return { db, remove: dir.remove };
}

/** Opens a connection, writes `text` in one go, and never reads. */
async function neverReads(port: number, text: string): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
  return conn;
}

const json = (frame: unknown) => JSON.stringify(frame) + "\n";

/** Samples a process's RSS every 50 ms until `stop`, which gives the peak. */
function sampleRss(pid: number): { stop: () => Promise<number> } {
  let peak = 0;
  let running = true;
  const sampling = (async () => {
    while (running) {
      peak = Math.max(peak, rssKiB(pid) ?? 0);
      await sleep(50);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await sampling;
      return peak;
    },
  };
}

/** A 24-character nickname: the longest, so that /who replies are big. */
const longNick = (prefix: string, i: number) => `${prefix}${i}`.padEnd(24, "x");

/**
 * Server memory may grow by at most this much for 160 clients that never
 * read: 1.25 MiB each, the hard limit and the garbage of reading their
 * requests. Before every byte counted, 40 such clients grew it by 296 MiB
 * and 160 by gigabytes; while a client's replies could fill its queue up to
 * the hard limit, 160 grew it by 234–285 MB with the default flags; while
 * each refused line made its own `rate_limited` event, 154–217 MB (now
 * 112–119 MB, and 75–145 MB with `--rate 0`).
 */
const RSS_GROWTH_BOUND_KIB = 200 * 1024;

Deno.test("160 never-reading clients asking for megabytes each: their requests wait unread in the socket, and the server's RSS grows by less than 200 MiB", async () => {
  const { db, remove } = await bigHistory(1200); // 14 MB of history
  // With the default flood allowance, and with none at all. Two hundred
  // connections from 127.0.0.1: no per-address limits.
  for (const rate of [[], ["--rate", "0"]]) {
    const server = await ServerProcess.start([
      "--db",
      db,
      "--max-per-address",
      "0",
      ...rate,
    ]);
    const conns: Deno.Conn[] = [];
    const audience: TestClient[] = [];
    try {
      const watcher = await TestClient.join(server.port, "watcher");
      // Forty members who read, so that the room (and each /who reply)
      // stays big.
      for (let i = 0; i < 40; i++) {
        audience.push(
          (await TestClient.join(server.port, longNick("a", i))).client,
        );
      }
      await sleep(200);
      const before = rssKiB(server.pid);
      const rss = sampleRss(server.pid);
      for (let i = 0; i < 80; i++) {
        // A hello for everything, then 1,000 pages of history: 64 MB asked.
        const history = json({ type: "history", limit: 1000 }).repeat(1000);
        conns.push(
          await neverReads(
            server.port,
            json({ type: "hello", nick: longNick("j", i), since: 0 }) +
              history,
          ),
        );
        // /who repeated in one write: 3,000 replies of up to 4 KB.
        conns.push(
          await neverReads(
            server.port,
            `${longNick("t", i)}\n` + "/who\n".repeat(3000),
          ),
        );
      }
      // Without a flood allowance their replies are more than the kernel
      // takes: the server stops reading each once a reply or two wait for
      // it, and the rest of its requests stay in the socket, unread. (With
      // the default allowance, the replies are the allowance's few and a
      // `rate_limited` line for each of the rest, which the kernel takes.)
      const unread = () =>
        conns.filter((conn) =>
          (serverReceiveQueue(
            server.port,
            (conn.localAddr as Deno.NetAddr).port,
          ) ?? 0) > 0
        ).length;
      const expectUnread = rate.length > 0 ? conns.length : 0;
      for (const deadline = Date.now() + 20_000; unread() < expectUnread;) {
        assert.ok(
          Date.now() < deadline,
          `${unread()} of ${conns.length} left unread`,
        );
        await sleep(100);
      }
      if (expectUnread === 0) await sleep(3000);
      await sleep(1000);
      const peak = await rss.stop();
      const after = rssKiB(server.pid);
      console.log(
        `  ${
          rate.join(" ") || "default flags"
        }: ${unread()} of ${conns.length} clients' requests wait unread; ` +
          `server RSS ${before} KiB before, peak ${peak} KiB, ${after} KiB after`,
      );
      assert.ok(before !== undefined, "RSS is read from /proc");
      assert.ok(
        peak - before < RSS_GROWTH_BOUND_KIB,
        `RSS grew by ${peak - before} KiB`,
      );
      // And the room still works.
      watcher.client.send({ type: "say", text: "still here" });
      await watcher.client.waitFor(
        (e) => e.type === "msg" && e.text === "still here",
        15_000,
      );
      await watcher.client.close();
    } finally {
      for (const conn of conns) conn.close();
      await Promise.all(audience.map((c) => c.close()));
      await server.stop();
    }
  }
  await remove();
});

Deno.test("a client that sends 300 history requests at once and reads only later gets all 300 replies, in order, and is not dropped", async () => {
  const { db, remove } = await bigHistory(300);
  const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    let request = json({ type: "hello", nick: "patient" });
    for (let i = 0; i < 300; i++) {
      request += json({ type: "history", before: 301 - i, limit: 5 });
    }
    let bytes = encoder.encode(request);
    while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
    // 300 replies of up to 60 KB: more than the kernel takes while it does
    // not read.
    await sleep(1000);
    const unread = serverReceiveQueue(
      server.port,
      (conn.localAddr as Deno.NetAddr).port,
    );
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(64 * 1024);
    let rest = "";
    const lastIds: number[] = [];
    while (lastIds.length < 300) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const lines = (rest + decoder.decode(buffer.subarray(0, n))).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        const event = JSON.parse(line);
        if (event.type === "history") lastIds.push(event.messages.at(-1)?.id);
      }
    }
    console.log(
      `  ${unread} bytes of requests waited unread in the socket; ${lastIds.length} replies`,
    );
    assert.ok(unread !== undefined && unread > 0, "the server stopped reading");
    assert.deepEqual(
      lastIds,
      Array.from({ length: 300 }, (_, i) => 300 - i),
      "every request answered once, in order",
    );
    assert.doesNotMatch(server.log, /slow |too slow/);
  } finally {
    conn.close();
    await server.stop();
    await remove();
  }
});

Deno.test("a member that stops reading the room's traffic is dropped over the soft limit after --soft-queue-seconds, over the hard limit at once", async () => {
  // 800 messages of 12 KB: 9.6 MB for a member that reads nothing more
  // after its welcome, of which the kernel takes about 4. (Replies to its
  // own requests cannot fill its queue: the server stops reading a client
  // that leaves them unread.)
  const text = "字".repeat(3990);
  let flood = "";
  for (let i = 0; i < 800; i++) {
    flood += json({ type: "say", text: `${i} ${text}` });
  }
  for (
    const { name, flags, logged, atLeastMs } of [
      {
        name: "soft",
        flags: [
          "--max-queue",
          String(64 * 1024 * 1024),
          "--soft-queue",
          "65536",
          "--soft-queue-seconds",
          "1",
        ],
        logged: /slow \S+: over 65536 bytes queued for 1 s/,
        atLeastMs: 1000,
      },
      {
        name: "hard",
        flags: ["--soft-queue-seconds", "60"],
        logged: /slow \S+: over 1048576 bytes queued\n/,
        atLeastMs: 0,
      },
    ]
  ) {
    // No backpressure: the room does not wait for the member at all.
    const server = await ServerProcess.start([
      "--rate",
      "0",
      "--backpressure-seconds",
      "0",
      ...flags,
    ]);
    let greedy: Deno.Conn | undefined;
    try {
      const watcher = await TestClient.join(server.port, "watcher");
      greedy = await joinRaw(server.port, "greedy");
      const sent = performance.now();
      const flooding = watcher.client.writeAll(flood).catch(() => {});
      const leave = await watcher.client.waitFor(
        (e) => e.type === "leave" && e.nick === "greedy",
        15_000,
      );
      const elapsed = performance.now() - sent;
      assert.equal(leave.type === "leave" && leave.reason, "too slow to read");
      await waitForLog(server, logged);
      console.log(`  ${name} limit: dropped after ${elapsed.toFixed(0)} ms`);
      assert.ok(elapsed >= atLeastMs, `${name}: ${elapsed.toFixed(0)} ms`);
      // The hard limit does not wait for the soft limit's 60 s.
      assert.ok(elapsed < 10_000, `${name}: ${elapsed.toFixed(0)} ms`);
      await flooding;
      await watcher.client.close();
    } finally {
      greedy?.close();
      await server.stop();
    }
  }
});

/** Counts the `msg` lines a connection receives. */
class MsgCounter {
  static readonly #PREFIX = encoder.encode('{"type":"msg"');
  #conn: Deno.Conn;
  #head: number[] = [];
  count = 0;
  closed = false;
  readonly done: Promise<void>;

  /** Reads until `target` messages, pausing `delayMs` after each read. */
  constructor(conn: Deno.Conn, target: number, delayMs: number) {
    this.#conn = conn;
    this.done = this.#read(target, delayMs);
  }

  async #read(target: number, delayMs: number): Promise<void> {
    const buffer = new Uint8Array(16 * 1024);
    try {
      while (this.count < target) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.#scan(buffer.subarray(0, n));
        if (delayMs > 0) await sleep(delayMs);
      }
    } catch { /* closed */ }
    this.closed = this.count < target;
  }

  #scan(bytes: Uint8Array): void {
    const prefix = MsgCounter.#PREFIX;
    let i = 0;
    while (i < bytes.length) {
      if (this.#head.length < prefix.length) {
        const byte = bytes[i++];
        if (byte === 0x0a) {
          this.#head.length = 0;
          continue;
        }
        this.#head.push(byte);
        if (
          this.#head.length === prefix.length &&
          this.#head.every((b, k) => b === prefix[k])
        ) this.count++;
        continue;
      }
      const newline = bytes.indexOf(0x0a, i);
      if (newline === -1) break;
      this.#head.length = 0;
      i = newline + 1;
    }
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }
}

/** Joins and returns once the welcome has arrived (read and discarded). */
async function joinRaw(port: number, nick: string): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(json({ type: "hello", nick })));
  const buffer = new Uint8Array(64 * 1024);
  let seen = "";
  const decoder = new TextDecoder();
  while (!/"type":"welcome"[^\n]*\n/.test(seen)) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`${nick} closed before its welcome`);
    seen += decoder.decode(buffer.subarray(0, n));
  }
  return conn;
}

const READERS = 20;
const SENDERS = 5;
/** Per sender: 1,500 messages of 1,000 characters, 8 MB to each reader in
 * all, more than the kernel and a 1 MiB queue hold for a reader that lags. */
const PER_SENDER = 1500;
const TEXT = "x".repeat(1000);

/**
 * Five senders write as fast as TCP lets them while twenty readers read
 * with a pause after each read; returns what each reader counted.
 */
async function flatOut(
  server: ServerProcess,
  extra: (port: number) => Promise<void> = async () => {},
): Promise<{ readers: MsgCounter[]; ms: number }> {
  const total = SENDERS * PER_SENDER;
  const readers: MsgCounter[] = [];
  const senders: Deno.Conn[] = [];
  try {
    for (let i = 0; i < READERS; i++) {
      // Small pauses: fast readers, but slower than the senders.
      readers.push(
        new MsgCounter(await joinRaw(server.port, `r${i}`), total, 2 + (i % 4)),
      );
    }
    const echoes: MsgCounter[] = [];
    for (let i = 0; i < SENDERS; i++) {
      const conn = await joinRaw(server.port, `s${i}`);
      senders.push(conn);
      echoes.push(new MsgCounter(conn, total, 0));
    }
    await extra(server.port);
    const started = performance.now();
    await Promise.all(senders.map(async (conn, s) => {
      for (let i = 0; i < PER_SENDER; i += 50) {
        let batch = "";
        for (let j = i; j < i + 50; j++) {
          batch += json({ type: "say", text: `s${s}-${j} ${TEXT}` });
        }
        let bytes = encoder.encode(batch);
        while (bytes.length > 0) {
          bytes = bytes.subarray(await conn.write(bytes));
        }
      }
    }));
    const deadline = setTimeout(
      () => readers.forEach((r) => r.close()),
      60_000,
    );
    await Promise.all([...readers, ...echoes].map((r) => r.done));
    clearTimeout(deadline);
    return { readers, ms: performance.now() - started };
  } finally {
    for (const reader of readers) reader.close();
    for (const conn of senders) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }
}

Deno.test("five unlimited senders and twenty readers slower than them: nobody is dropped and every message arrives", async () => {
  const server = await ServerProcess.start([
    "--rate",
    "0",
    "--max-per-address",
    "0",
  ]);
  try {
    const { readers, ms } = await flatOut(server);
    const counts = readers.map((r) => r.count);
    console.log(
      `  ${SENDERS * PER_SENDER} messages to ${READERS} readers in ${
        ms.toFixed(0)
      } ms; fewest received ${Math.min(...counts)}`,
    );
    assert.deepEqual(
      counts,
      readers.map(() => SENDERS * PER_SENDER),
      "every reader got every message",
    );
    assert.doesNotMatch(server.log, /slow |too slow/, "nobody was dropped");
  } finally {
    await server.stop();
  }
});

Deno.test("under the same load, a member that stops reading is still dropped while the others keep up", async () => {
  const server = await ServerProcess.start([
    "--rate",
    "0",
    "--max-per-address",
    "0",
    "--backpressure-seconds",
    "1",
  ]);
  let staller: Deno.Conn | undefined;
  try {
    const { readers } = await flatOut(server, async (port) => {
      staller = await joinRaw(port, "staller");
    });
    assert.deepEqual(
      readers.map((r) => r.count),
      readers.map(() => SENDERS * PER_SENDER),
      "every reader got every message",
    );
    await waitForLog(server, /leave staller [^\n]*: too slow to read/);
    assert.equal(
      server.log.match(/too slow to read/g)?.length,
      1,
      "only the staller was dropped",
    );
  } finally {
    staller?.close();
    await server.stop();
  }
});
