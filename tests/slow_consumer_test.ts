/**
 * A client that stops reading, among 50 that keep up: it is dropped once its
 * queue is over --max-queue, with a logged reason, and everyone else keeps
 * receiving while server memory stays bounded. The room may wait for it once,
 * for at most `--backpressure-seconds`, as it would for a reader that is
 * merely slow; then it goes on without it.
 */

import assert from "node:assert/strict";
import { ServerProcess, TestClient } from "./helpers.ts";
import { rssKiB, sleep, waitForLog } from "./hostile_helpers.ts";

const RECEIVERS = 50;
const SENDERS = 5;
/** Per phase: enough that the staller's kernel buffers (about 4 MiB on
 * Linux loopback) and its 256 KiB queue overflow. */
const MESSAGES = 1500;
const TEXT = "x".repeat(3500);
const MAX_QUEUE = 512 * 1024;
/** Messages per round: about 180 KB for each receiver. */
const ROUND = 50;
const MSG_PREFIX = '{"type":"msg"';
/** How long the room may wait for the staller (--backpressure-seconds). */
const HOLD_SECONDS = 1;

/** Counts the `msg` lines a socket receives, reading as fast as it can. */
class MsgCounter {
  #conn: Deno.Conn;
  #decoder = new TextDecoder();
  #partial = "";
  #target = Infinity;
  #reached: (() => void) | undefined;
  count = 0;
  readonly done: Promise<void>;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.done = this.#read();
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(256 * 1024);
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        const text = this.#partial +
          this.#decoder.decode(buffer.subarray(0, n), { stream: true });
        let start = 0;
        for (;;) {
          const end = text.indexOf("\n", start);
          if (end === -1) break;
          if (text.startsWith(MSG_PREFIX, start)) this.count++;
          start = end + 1;
        }
        this.#partial = text.slice(start);
        if (this.count >= this.#target) this.#reached?.();
      }
    } catch { /* closed */ }
  }

  /** Resolves once `count` reaches `target`. */
  reach(target: number, timeoutMs: number): Promise<void> {
    if (this.count >= target) return Promise.resolve();
    this.#target = target;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`stuck at ${this.count} of ${target}`)),
        timeoutMs,
      );
      this.#reached = () => {
        clearTimeout(timer);
        this.#target = Infinity;
        resolve();
      };
    });
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }
}

/** Samples the server's RSS every 50 ms until `stop`, which gives the peak. */
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

async function joinRaw(port: number, nick: string): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(JSON.stringify({ type: "hello", nick }) + "\n"),
  );
  return conn;
}

/**
 * Sends `count` messages in rounds of {@linkcode ROUND}, spread over the
 * senders, each round once every receiver has the previous one; returns the
 * milliseconds it took. Rounds keep what one tick queues for a receiver below
 * --max-queue, so only a receiver that truly stops reading can go over.
 */
async function phase(
  senders: TestClient[],
  receivers: MsgCounter[],
  count: number,
  tag: string,
): Promise<number> {
  const started = performance.now();
  for (let sent = 0; sent < count; sent += ROUND) {
    const round = Math.min(ROUND, count - sent);
    const targets = receivers.map((r) => r.count + round);
    await Promise.all(senders.map(async (sender, s) => {
      let batch = "";
      for (let i = s; i < round; i += senders.length) {
        batch +=
          JSON.stringify({ type: "say", text: `${tag}${sent + i} ${TEXT}` }) +
          "\n";
      }
      await sender.writeAll(batch);
    }));
    await Promise.all(receivers.map((r, i) => r.reach(targets[i], 30_000)));
  }
  return performance.now() - started;
}

Deno.test("one stalled client among 50 is dropped; the room waits for it at most --backpressure-seconds and memory stays bounded", async () => {
  // 57 connections from 127.0.0.1: no per-address limits.
  const server = await ServerProcess.start([
    "--rate",
    "0",
    "--max-queue",
    String(MAX_QUEUE),
    "--max-per-address",
    "0",
    "--backpressure-seconds",
    String(HOLD_SECONDS),
  ]);
  const receivers: MsgCounter[] = [];
  const senders: TestClient[] = [];
  let staller: Deno.Conn | undefined;
  let watcher: Awaited<ReturnType<typeof TestClient.join>> | undefined;
  try {
    for (let i = 0; i < RECEIVERS; i++) {
      receivers.push(new MsgCounter(await joinRaw(server.port, `r${i}`)));
    }
    for (let i = 0; i < SENDERS; i++) {
      senders.push((await TestClient.join(server.port, `s${i}`)).client);
    }
    watcher = await TestClient.join(server.port, "watcher");

    await phase(senders, receivers, 200, "warm"); // JIT, buffers
    const calmRss = sampleRss(server.pid);
    const calm = await phase(senders, receivers, MESSAGES, "a");
    const calmPeak = await calmRss.stop();

    // The staller says hello and never reads again.
    staller = await joinRaw(server.port, "staller");
    await watcher.client.waitFor((e) =>
      e.type === "join" && e.nick === "staller"
    );
    const stalledRss = sampleRss(server.pid);
    const stalled = await phase(senders, receivers, MESSAGES, "b");
    // How much the kernel buffers for a peer that does not read varies (about
    // 4 MiB here): keep the room busy, boundedly, until the staller is over.
    for (let i = 0; i < 20 && !/slow /.test(server.log); i++) {
      await phase(senders, receivers, 200, `c${i}-`);
      await sleep(50);
    }
    const stalledPeak = await stalledRss.stop();

    const leave = await watcher.client.waitFor(
      (e) => e.type === "leave" && e.nick === "staller",
      10_000,
    );
    assert.equal(leave.type === "leave" && leave.reason, "too slow to read");
    await waitForLog(
      server,
      new RegExp(`slow .*over ${MAX_QUEUE} bytes queued`),
    );

    console.log(
      `  ${RECEIVERS} receivers, ${MESSAGES} messages of ${TEXT.length} chars: ` +
        `${calm.toFixed(0)} ms calm, ${
          stalled.toFixed(0)
        } ms with a staller; ` +
        `server peak RSS ${calmPeak} KiB calm, ${stalledPeak} KiB with it`,
    );
    // Generous: a shared 2-core machine is noisy. The room waits for the
    // staller at most HOLD_SECONDS; a broadcast that waited for it for good
    // would not finish at all.
    assert.ok(
      stalled < calm * 3 + HOLD_SECONDS * 1000 + 1000,
      `with a staller ${stalled.toFixed(0)} ms vs ${calm.toFixed(0)} ms calm`,
    );
    if (calmPeak > 0) {
      assert.ok(
        stalledPeak < calmPeak + 64 * 1024,
        `peak RSS ${stalledPeak} KiB with a staller, ${calmPeak} KiB calm`,
      );
    }
  } finally {
    staller?.close();
    for (const receiver of receivers) receiver.close();
    await Promise.all(receivers.map((r) => r.done));
    await Promise.all(senders.map((s) => s.close()));
    await watcher?.client.close();
    await server.stop();
  }
});
