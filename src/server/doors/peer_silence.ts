/**
 * When a connection the door router has heard nothing from is really
 * silent, so that it may have the text door's banner.
 *
 * The router's 200 ms clock lies on a busy server. Deno hands a socket's
 * reads over only when its event loop gets to them, and while a burst of
 * connections is served it can hand over a new socket's first read long
 * after the bytes arrived: with 1,000 IRC clients connecting, 200 at a
 * time, 7–17 % got the banner (their timers fired 295 ms after accept,
 * their `NICK` was read 190 ms later); with 5,000, some first reads came
 * 1–10 s after accept, while the server was reading other sockets all
 * along. Deno offers no way to peek at a socket.
 *
 * So, once the wait has run out:
 *
 * 1. The kernel is asked (Linux's `/proc/net/tcp`, src/server/doors/
 *    waiting_bytes.ts): bytes waiting unread mean the peer spoke, and the
 *    router waits for its read, however late.
 * 2. Otherwise (none waiting, or the kernel cannot tell) a byte is sent
 *    through a loopback TCP pair of the server's own and read back (read
 *    first, so that the read waits on the runtime's polling as a new
 *    socket's does), until three round trips in a row take at most
 *    {@linkcode ROUTER_TIMINGS.caughtUpMs} (the server is reading as bytes
 *    come), or for at most {@linkcode ROUTER_TIMINGS.busyWaitMaxMs}: reads
 *    Deno has done but not handed over yet get their turn. Alone, this is
 *    a best effort: in the 5,000-client burst quick round trips sometimes
 *    came while first reads still waited, 1–10 s after accept, their bytes
 *    in the kernel.
 *
 * One round trip, and one scan of the kernel's table, at a time serve every
 * connection waiting.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { ROUTER_TIMINGS } from "../../shared/limits.ts";
import { type ConnEnds, WaitingBytes } from "./waiting_bytes.ts";

/** The two ends of the loopback pair: one writes, the other reads. */
interface Pair {
  writer: Deno.Conn;
  reader: Deno.Conn;
}

/** Confirms silences: the kernel's word where it has one, round trips elsewhere. */
export class PeerSilence {
  #kernel: WaitingBytes;
  #pair: Promise<Pair | undefined>;
  #closed = false;
  /** The round trip under way, if any. */
  #flight: Promise<void> | undefined;
  /** Those who asked during a flight: they need a byte sent after they asked. */
  #next: PromiseWithResolvers<void> | undefined;
  #byte = new Uint8Array(1);
  #buffer = new Uint8Array(64);

  /**
   * Opens the loopback pair in the background ({@linkcode caughtUp} waits
   * for it). @param kernel where waiting bytes are looked up.
   */
  constructor(kernel: WaitingBytes = new WaitingBytes()) {
    this.#kernel = kernel;
    this.#pair = openPair();
  }

  /**
   * Resolves once `conn`'s peer, whose read is still pending after the
   * opening wait, is known to be silent; never while the kernel holds bytes
   * it sent (its read will come, and decide).
   */
  async confirm(conn: ConnEnds): Promise<void> {
    // The round trips first: they let through what Deno has read and not
    // handed over yet, and they cost next to nothing, where a scan of the
    // kernel's table of 10,000 sockets costs ~100 ms. On a server busy with
    // a burst of connections the peer's read wins during them, and no scan
    // is made at all.
    await this.caughtUp();
    // Caught up, and still no read: only bytes the kernel holds unread
    // could be the peer's. If it holds some, their read will come, and
    // decide.
    if (await this.#kernel.waiting(conn)) return new Promise<void>(() => {});
  }

  /**
   * Resolves once three round trips in a row took at most
   * {@linkcode ROUTER_TIMINGS.caughtUpMs} each (the server is reading its
   * sockets as bytes come), or after `maxWaitMs` of trying while it stayed
   * behind. Without a loopback pair (none could be opened) a round trip is
   * one turn of the event loop.
   */
  async caughtUp(
    maxWaitMs: number = ROUTER_TIMINGS.busyWaitMaxMs,
  ): Promise<void> {
    const giveUpAt = performance.now() + maxWaitMs;
    let quick = 0;
    for (;;) {
      const started = performance.now();
      await this.#turn();
      const now = performance.now();
      quick = now - started <= ROUTER_TIMINGS.caughtUpMs ? quick + 1 : 0;
      if (quick >= 3 || now >= giveUpAt) return;
    }
  }

  /** One round trip, then the callbacks of reads handed over with it. */
  async #turn(): Promise<void> {
    await this.#roundTrip();
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** Closes the pair; waiting callers resolve. */
  async close(): Promise<void> {
    this.#closed = true;
    const pair = await this.#pair;
    if (!pair) return;
    for (const conn of [pair.writer, pair.reader]) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    await this.#flight;
  }

  #roundTrip(): Promise<void> {
    this.#next ??= Promise.withResolvers<void>();
    const mine = this.#next.promise;
    if (!this.#flight) this.#fly();
    return mine;
  }

  #fly(): void {
    const waiting = this.#next!;
    this.#next = undefined;
    this.#flight = this.#probe().finally(() => {
      this.#flight = undefined;
      waiting.resolve();
      if (this.#next) this.#fly();
    });
  }

  async #probe(): Promise<void> {
    const pair = await this.#pair;
    if (!pair || this.#closed) {
      return new Promise((resolve) => setImmediate(resolve));
    }
    try {
      // Read first, then write: a read that finds its byte already there
      // completes at once, without waiting for the runtime to poll its
      // sockets, and would say nothing about reads waiting on that.
      const read = pair.reader.read(this.#buffer);
      await pair.writer.write(this.#byte);
      await read;
    } catch {
      // Closed at shutdown: nothing to wait for any more.
      this.#closed = true;
    }
  }
}

/** A connected loopback TCP pair, or `undefined` if the machine allows none. */
async function openPair(): Promise<Pair | undefined> {
  let listener: Deno.TcpListener | undefined;
  try {
    listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    const [writer, reader] = await Promise.all([
      Deno.connect({ hostname: "127.0.0.1", port }),
      listener.accept(),
    ]);
    // Another local program may have connected first: only our own will do.
    const mine = (writer.localAddr as Deno.NetAddr).port ===
      (reader.remoteAddr as Deno.NetAddr).port;
    if (!mine) {
      writer.close();
      reader.close();
      return undefined;
    }
    writer.setNoDelay(true);
    return { writer, reader };
  } catch {
    return undefined;
  } finally {
    listener?.close();
  }
}
