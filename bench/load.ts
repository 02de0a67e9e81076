/**
 * The load generator in Deno: one scenario against one server, printed as
 * one JSON line on stdout. `bench/run.ts` starts it pinned to its own core
 * when there is no C compiler for the faster bench/loadgen.c, which counts
 * the same way and prints the same fields.
 *
 * It must never be the bottleneck, so it parses almost nothing: deliveries
 * are counted by finding newlines, and a message's text has a fixed size and
 * ends every line that carries it, so the sender and the send time are read at
 * a fixed offset before the newline. Only handshake and notice lines (a few
 * per client) are decoded.
 *
 * Message text: `#~` + sender (4 digits) + send time (13 digits, µs since
 * this process started) + `x` padding up to `--size` bytes.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { dialectFor, type WireDialect } from "./wire_dialect.ts";
import { cpuSeconds, machineBusySeconds } from "./cpu_time.ts";
import { LatencyHistogram } from "./latency_histogram.ts";

const NEWLINE = 0x0a;
const HASH = 0x23;
const TILDE = 0x7e;
const ZERO = 0x30;
const SENDER_DIGITS = 4;
const TIME_DIGITS = 13;
const MARK_BYTES = 2 + SENDER_DIGITS + TIME_DIGITS;

/** What one run of the load generator is asked to do. */
export interface LoadOptions {
  port: number;
  dialect: WireDialect;
  clients: number;
  senders: number;
  /** Messages per second per sender; 0 sends as fast as flow control allows. */
  rate: number;
  /** Unacknowledged messages a sender may have in flight. */
  inflight: number;
  /**
   * Messages sent (by all senders) that the slowest member has not read;
   * 0: no bound.
   */
  backlog: number;
  seconds: number;
  /** Bytes of message text. */
  size: number;
  /** Seconds at the start whose deliveries are not counted in the rate. */
  warmupSeconds: number;
  /** How long after the end a message may still arrive. */
  drainMs: number;
  /** How long connecting everyone may take. */
  connectTimeoutMs: number;
  /** Connections opened at once. */
  connectConcurrency: number;
  /** The server's pid, for its memory. */
  serverPid: number;
  /** How long to wait, once all are connected, for every join notice. */
  announceWaitMs: number;
  /** Read buffer per client. */
  readBytes: number;
  /** How long the server's memory may take to settle once all are in. */
  settleMs: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const origin = performance.now();

function nowMicros(): number {
  return Math.round((performance.now() - origin) * 1000);
}

/** The server's resident memory in bytes, from /proc (0 when unknown). */
export function residentBytes(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = status.match(/^VmRSS:\s+(\d+) kB/m);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Shared counters of one run. */
class Tally {
  delivered = 0;
  sent = 0;
  announcedJoins = 0;
  errors = 0;
  firstError = "";
  disconnects = 0;
  readonly latency = new LatencyHistogram();
}

/** One client socket with its line scanner. */
class Client {
  readonly index: number;
  readonly nick: string;
  readonly isSender: boolean;
  ready = false;
  readyAt = 0;
  sent = 0;
  acked = 0;
  /** Benchmark messages this client has read. */
  delivered = 0;
  closed = false;
  #conn: Deno.TcpConn;
  #options: LoadOptions;
  #tally: Tally;
  #buffer: Uint8Array;
  #held = 0;
  #overflowStart: Uint8Array | undefined;
  #writing = false;
  #outbox: string[] = [];
  #onReady: (() => void) | undefined;
  /** The start of the last line that was not a message, for diagnosis. */
  lastControl = "";
  /** Called after each read, to let the senders top up their windows. */
  onRead: (() => void) | undefined;
  /** Counts join notices (only the first client's matter). */
  countJoins = false;

  constructor(
    index: number,
    conn: Deno.TcpConn,
    options: LoadOptions,
    tally: Tally,
  ) {
    this.index = index;
    this.nick = `c${index}`;
    this.isSender = index < options.senders;
    this.#conn = conn;
    this.#options = options;
    this.#tally = tally;
    this.#buffer = new Uint8Array(options.readBytes);
  }

  /** Says hello and resolves once the server has admitted this client. */
  handshake(): Promise<void> {
    const ready = new Promise<void>((resolve) => this.#onReady = resolve);
    this.send(this.#options.dialect.hello(this.nick));
    return ready;
  }

  /** Queues text to write; writes are serialised per socket. */
  send(text: string): void {
    if (this.closed) return;
    this.#outbox.push(text);
    if (!this.#writing) this.#flush();
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#outbox.length > 0 && !this.closed) {
        const data = encoder.encode(this.#outbox.join(""));
        this.#outbox = [];
        let offset = 0;
        while (offset < data.length) {
          offset += await this.#conn.write(data.subarray(offset));
        }
      }
    } catch {
      this.#lost("write failed");
    } finally {
      this.#writing = false;
    }
  }

  /** Reads until the socket closes; every read is scanned for lines. */
  async readLoop(): Promise<void> {
    const buffer = this.#buffer;
    try {
      while (!this.closed) {
        const n = await this.#conn.read(buffer.subarray(this.#held));
        if (n === null) break;
        const receivedAt = nowMicros();
        const end = this.#held + n;
        const view = buffer.subarray(0, end);
        let start = 0;
        let newline = view.indexOf(NEWLINE, this.#held);
        while (newline !== -1) {
          this.#line(view, start, newline, receivedAt);
          start = newline + 1;
          newline = view.indexOf(NEWLINE, start);
        }
        if (start === end) {
          this.#held = 0;
        } else {
          if (start > 0) buffer.copyWithin(0, start, end);
          this.#held = end - start;
          if (this.#held === buffer.length) {
            // A line longer than the buffer (a big welcome): keep its start,
            // which says what it is, and skip the middle.
            this.#overflowStart ??= buffer.slice(0, 64);
            this.#held = 0;
          }
        }
        this.onRead?.();
      }
    } catch {
      // Reset or closed by us: handled below.
    }
    this.#lost("closed by server");
  }

  #lost(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.#tally.disconnects++;
    if (!this.#tally.firstError) {
      this.#tally.firstError = `${this.nick}: ${why}`;
    }
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  /** Closes without counting it as a failure. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  #line(view: Uint8Array, start: number, end: number, receivedAt: number) {
    const mark = end - this.#options.dialect.suffixBytes - this.#options.size;
    if (
      mark > start && view[mark] === HASH && view[mark + 1] === TILDE &&
      this.#overflowStart === undefined
    ) {
      this.#tally.delivered++;
      this.delivered++;
      let sentAt = 0;
      for (let i = mark + 2 + SENDER_DIGITS; i < mark + MARK_BYTES; i++) {
        sentAt = sentAt * 10 + view[i] - ZERO;
      }
      this.#tally.latency.record(receivedAt - sentAt);
      if (this.isSender && this.#options.dialect.echoesSender) {
        let sender = 0;
        for (let i = mark + 2; i < mark + 2 + SENDER_DIGITS; i++) {
          sender = sender * 10 + view[i] - ZERO;
        }
        if (sender === this.index) this.acked++;
      }
      return;
    }
    this.#control(view, start, end, receivedAt);
  }

  /** A line that is not a benchmark message: handshake, notice, error. */
  #control(view: Uint8Array, start: number, end: number, receivedAt: number) {
    let head = view.subarray(start, Math.min(end, start + 200));
    if (this.#overflowStart) {
      head = this.#overflowStart;
      this.#overflowStart = undefined;
    }
    const dialect = this.#options.dialect;
    this.lastControl = decoder.decode(head.subarray(0, 100));
    const kind = dialect.classify(this.lastControl);
    switch (kind.kind) {
      case "ready":
        if (!this.ready) {
          this.ready = true;
          this.readyAt = receivedAt;
          this.#onReady?.();
        }
        return;
      case "registered":
        this.send(dialect.afterRegistered());
        return;
      case "join":
        if (this.countJoins && this.ready) {
          this.#tally.announcedJoins += dialect.joinCount(
            decoder.decode(view.subarray(start, end)),
          );
        }
        return;
      case "ack":
        this.acked = Math.max(this.acked, kind.count);
        return;
      case "ping":
        this.send(dialect.pong(kind.token));
        return;
      case "error":
        this.#tally.errors++;
        if (!this.#tally.firstError) {
          this.#tally.firstError = `${this.nick}: ${
            decoder.decode(view.subarray(start, Math.min(end, start + 300)))
          }`;
        }
        return;
      case "other":
        return;
    }
  }

  /** Sends `count` messages now, stamped with the time of sending. */
  sendMessages(count: number): void {
    if (count <= 0 || this.closed) return;
    const dialect = this.#options.dialect;
    const sender = String(this.index).padStart(SENDER_DIGITS, "0");
    const padding = "x".repeat(this.#options.size - MARK_BYTES);
    const stamp = String(nowMicros()).padStart(TIME_DIGITS, "0");
    const text = `#~${sender}${stamp}${padding}`;
    let batch = "";
    for (let i = 0; i < count; i++) batch += dialect.say(text);
    this.sent += count;
    this.#tally.sent += count;
    if (!dialect.echoesSender) batch += dialect.ackRequest(this.sent);
    this.send(batch);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Opens every client, `connectConcurrency` at a time. */
async function connectAll(
  options: LoadOptions,
  tally: Tally,
): Promise<{ clients: Client[]; readLoops: Promise<void>[]; ms: number }> {
  const clients: Client[] = new Array(options.clients);
  const readLoops: Promise<void>[] = [];
  const started = performance.now();
  const deadline = started + options.connectTimeoutMs;
  let next = 0;
  async function worker(): Promise<void> {
    while (next < options.clients && performance.now() < deadline) {
      const index = next++;
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: options.port,
      });
      conn.setNoDelay(true);
      const client = new Client(index, conn, options, tally);
      clients[index] = client;
      if (index === 0) client.countJoins = true;
      readLoops.push(client.readLoop());
      const left = deadline - performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        client.handshake(),
        new Promise((resolve) => timer = setTimeout(resolve, left)),
      ]);
      clearTimeout(timer);
    }
  }
  const workers = [];
  for (
    let i = 0;
    i < Math.min(options.connectConcurrency, options.clients);
    i++
  ) {
    workers.push(worker());
  }
  await Promise.all(workers);
  return { clients, readLoops, ms: performance.now() - started };
}

/** Runs one scenario and returns its figures. */
export async function runLoad(
  options: LoadOptions,
): Promise<Record<string, unknown>> {
  const tally = new Tally();
  const rssBefore = residentBytes(options.serverPid);
  let connected: Awaited<ReturnType<typeof connectAll>>;
  const serverCpuBeforeConnect = cpuSeconds(options.serverPid);
  const selfCpuBeforeConnect = cpuSeconds("self");
  try {
    connected = await connectAll(options, tally);
  } catch (error) {
    return { ok: false, error: `connect failed: ${error}` };
  }
  const { clients, readLoops } = connected;
  const ready = clients.filter((c) => c?.ready);
  const result: Record<string, unknown> = {
    loadgen: "deno",
    clients: options.clients,
    connected: ready.length,
    connect_ms: Math.round(connected.ms),
    connect_server_cpu_pct: Math.round(
      (cpuSeconds(options.serverPid) - serverCpuBeforeConnect) / connected.ms *
        100_000,
    ),
    connect_load_cpu_pct: Math.round(
      (cpuSeconds("self") - selfCpuBeforeConnect) / connected.ms * 100_000,
    ),
  };
  if (ready.length < options.clients) {
    // What those that did get in cost the server, for comparison.
    const rss = residentBytes(options.serverPid);
    for (const client of clients) client?.close();
    await Promise.allSettled(readLoops);
    return {
      ...result,
      rss_before_mb: mb(rssBefore),
      rss_mb: mb(rss),
      rss_per_conn_kb: rssBefore && rss && ready.length > 0
        ? Math.round((rss - rssBefore) / ready.length / 1024 * 10) / 10
        : null,
      ok: false,
      error: `only ${ready.length} of ${options.clients} connected in ${
        Math.round(connected.ms)
      } ms; one still waiting had last read ${
        JSON.stringify(
          clients.find((c) => c && !c.ready)?.lastControl ?? "nothing",
        )
      }`,
    };
  }
  // Every join after the first client's own is announced to it.
  const expectedJoins = options.clients - 1;
  const announceDeadline = performance.now() + options.announceWaitMs;
  while (
    tally.announcedJoins < expectedJoins &&
    performance.now() < announceDeadline
  ) {
    await sleep(10);
  }
  result.joins_announced = tally.announcedJoins;
  result.joins_expected = expectedJoins;
  result.rss_before_mb = mb(rssBefore);
  const settled = await settledRss(options.serverPid, options.settleMs);
  const rssConnected = settled.rss;
  result.rss_peak_mb = mb(settled.peak);
  result.rss_mb = mb(rssConnected);
  result.rss_per_conn_kb = rssBefore && rssConnected
    ? Math.round((rssConnected - rssBefore) / options.clients / 1024 * 10) /
      10
    : null;

  const senders = clients.slice(0, options.senders);
  const dialect = options.dialect;
  const recipients = dialect.echoesSender ? ready.length : ready.length - 1;
  let sending = true;
  let topUpTimer: ReturnType<typeof setInterval> | undefined;
  if (options.rate === 0) {
    // Flow control. A sender's window closes on its own echo (or PONG). The
    // senders also share a bound on copies not yet read by every member:
    // without it a server faster than this reader fills its queues for the
    // members read last and rightly drops them as slow consumers.
    // The bound holds for the member read last, not just on average: the
    // members' lag is looked up at most once a millisecond. (IRC does not
    // echo, so a sender's own messages are not owed to it.)
    const minBurst = Math.max(1, options.inflight / 4);
    const echoes = dialect.echoesSender;
    let worstLag = 0;
    let sentAtLook = 0;
    let lookedAt = 0;
    const bound = options.backlog > 0 ? options.backlog : Infinity;
    const topUp = () => {
      if (!sending) return;
      // Lag only grows by what was sent since it was looked up.
      if (worstLag + (tally.sent - sentAtLook) + minBurst > bound) {
        const now = performance.now();
        if (now - lookedAt < 1) return;
        lookedAt = now;
        sentAtLook = tally.sent;
        worstLag = 0;
        for (const client of ready) {
          const owed = tally.sent - (echoes ? 0 : client.sent);
          const lag = owed - client.delivered;
          if (lag > worstLag) worstLag = lag;
        }
        if (worstLag + minBurst > bound) return;
      }
      let allowed = bound - worstLag - (tally.sent - sentAtLook);
      for (const sender of senders) {
        const room = Math.min(
          options.inflight - (sender.sent - sender.acked),
          allowed,
        );
        if (room < minBurst) continue;
        sender.sendMessages(room);
        allowed -= room;
      }
    };
    for (const client of clients) client.onRead = topUp;
    // Reads call topUp; this covers a pause with nothing left to read.
    topUpTimer = setInterval(topUp, 1);
    topUp();
  }
  const started = performance.now();
  const rssSeries: number[] = [];
  const rssTimer = setInterval(
    () => rssSeries.push(mb(residentBytes(options.serverPid))),
    1000,
  );
  let pacer: ReturnType<typeof setInterval> | undefined;
  if (options.rate > 0 && senders.length > 0) {
    const gap = 1000 / options.rate / senders.length;
    pacer = setInterval(() => {
      const elapsed = performance.now() - started;
      senders.forEach((sender, i) => {
        const due = Math.floor((elapsed - i * gap) * options.rate / 1000) + 1;
        const room = options.inflight - (sender.sent - sender.acked);
        sender.sendMessages(Math.min(due - sender.sent, room));
      });
    }, 2);
  }
  const warmupMs = options.warmupSeconds * 1000;
  await sleep(warmupMs);
  const deliveredAtWarm = tally.delivered;
  const serverCpuAtWarm = cpuSeconds(options.serverPid);
  const selfCpuAtWarm = cpuSeconds("self");
  const machineAtWarm = machineBusySeconds();
  const sentAtWarm = tally.sent;
  tally.latency.reset();
  await sleep(options.seconds * 1000 - warmupMs);
  const windowMs = performance.now() - started - warmupMs;
  const deliveredInWindow = tally.delivered - deliveredAtWarm;
  const sentInWindow = tally.sent - sentAtWarm;
  const serverCpu = (cpuSeconds(options.serverPid) - serverCpuAtWarm) /
    windowMs * 1000;
  const selfCpu = (cpuSeconds("self") - selfCpuAtWarm) / windowMs * 1000;
  // CPU that neither the server nor this process used: other work on the
  // machine, which makes the figures worse than they would be.
  const otherCpu = (machineBusySeconds() - machineAtWarm) / windowMs * 1000 -
    serverCpu - selfCpu;
  sending = false;
  clearInterval(pacer);
  clearInterval(topUpTimer);
  const expected = () => tally.sent * recipients;
  const drainDeadline = performance.now() + options.drainMs;
  while (tally.delivered < expected() && performance.now() < drainDeadline) {
    await sleep(5);
  }
  clearInterval(rssTimer);
  const lost = expected() - tally.delivered;
  for (const client of clients) client.close();
  await Promise.allSettled(readLoops);
  const latency = tally.latency.summary();
  return {
    ...result,
    ok: lost === 0 && tally.disconnects === 0 && tally.errors === 0,
    seconds: Math.round(windowMs) / 1000,
    messages: tally.sent,
    expected: expected(),
    delivered: tally.delivered,
    lost,
    lost_pct: expected() ? Math.round(lost / expected() * 10000) / 100 : 0,
    disconnects: tally.disconnects,
    errors: tally.errors,
    first_error: tally.firstError || undefined,
    deliveries_per_s: Math.round(deliveredInWindow / windowMs * 1000),
    messages_per_s: Math.round(sentInWindow / windowMs * 1000),
    latency_ms: latency,
    server_cpu_pct: Math.round(serverCpu * 100),
    load_cpu_pct: Math.round(selfCpu * 100),
    other_cpu_pct: Math.max(0, Math.round(otherCpu * 100)),
    rss_series_mb: rssSeries,
  };
}

/**
 * The server's RSS once it has settled, and the highest seen meanwhile:
 * sampled every 250 ms until it moved by under 1 % in 3 s (at most
 * `maxMs`), so the figure is what idle connections hold, not the join
 * storm's passing garbage (a server may give back heap a couple of seconds
 * after it goes idle).
 */
export async function settledRss(
  pid: number,
  maxMs: number,
): Promise<{ rss: number; peak: number }> {
  const deadline = performance.now() + maxMs;
  const samples: number[] = [];
  let rss = residentBytes(pid);
  let peak = rss;
  while (performance.now() < deadline) {
    await sleep(250);
    rss = residentBytes(pid);
    peak = Math.max(peak, rss);
    samples.push(rss);
    const window = samples.slice(-13);
    if (
      window.length === 13 &&
      (Math.max(...window) - Math.min(...window)) * 100 < Math.min(...window)
    ) break;
  }
  return { rss, peak };
}

function mb(bytes: number): number {
  return Math.round(bytes / 1024 / 1024 * 10) / 10;
}

function numberFlag(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`bad number "${value}"`);
  return n;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string" },
      dialect: { type: "string" },
      clients: { type: "string" },
      senders: { type: "string" },
      rate: { type: "string" },
      inflight: { type: "string" },
      backlog: { type: "string" },
      seconds: { type: "string" },
      size: { type: "string" },
      warmup: { type: "string" },
      "drain-ms": { type: "string" },
      "connect-timeout-ms": { type: "string" },
      "connect-concurrency": { type: "string" },
      "server-pid": { type: "string" },
      "announce-wait-ms": { type: "string" },
      "read-bytes": { type: "string" },
      "settle-ms": { type: "string" },
    },
  });
  const size = numberFlag(values.size, 64);
  if (size < MARK_BYTES) throw new Error(`--size must be ≥ ${MARK_BYTES}`);
  const seconds = numberFlag(values.seconds, 10);
  const senders = numberFlag(values.senders, 10);
  const inflight = numberFlag(values.inflight, 64);
  const options: LoadOptions = {
    port: numberFlag(values.port, 0),
    dialect: dialectFor(values.dialect ?? "json"),
    clients: numberFlag(values.clients, 100),
    senders,
    rate: numberFlag(values.rate, 0),
    inflight,
    // Four windows' worth, but at most ~0.5 MB per member at 130 bytes a
    // line: half the server's default slow-consumer bound.
    backlog: numberFlag(
      values.backlog,
      Math.min(4 * senders * inflight, 4000),
    ),
    seconds,
    size,
    warmupSeconds: numberFlag(values.warmup, Math.min(1, seconds / 5)),
    drainMs: numberFlag(values["drain-ms"], 2000),
    connectTimeoutMs: numberFlag(values["connect-timeout-ms"], 30_000),
    connectConcurrency: numberFlag(values["connect-concurrency"], 200),
    serverPid: numberFlag(values["server-pid"], 0),
    announceWaitMs: numberFlag(values["announce-wait-ms"], 3000),
    readBytes: numberFlag(values["read-bytes"], 64 * 1024),
    settleMs: numberFlag(values["settle-ms"], 5000),
  };
  const result = await runLoad(options);
  console.log(JSON.stringify(result));
  Deno.exit(0);
}
