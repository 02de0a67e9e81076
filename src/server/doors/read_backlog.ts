/**
 * Whether the server has caught up with reading its sockets, so that a
 * peer it has heard nothing from really is silent.
 *
 * The door router gives a silent connection the text door's banner after
 * 200 ms. On a busy server that clock lies: Deno delivers at most so many
 * socket reads per turn of its event loop, and runs every expired timer of a
 * turn before it polls sockets again, so while a burst of connections is
 * being served the router's timer can fire with the peer's first bytes
 * already in the kernel, unread. Measured in a burst of 1,000 IRC clients
 * against `chat serve`: 7–17 % of them got the banner, their timers having
 * fired 295 ms after accept and their `NICK` read 190 ms after that.
 *
 * So the router asks {@linkcode ReadBacklog.caughtUp} before it decides.
 * It sends one byte through a loopback TCP pair of the server's own and
 * waits for it to come back: the read of that byte queues behind the reads
 * that were ready before it, in the same runtime, so a quick round trip
 * means nothing is waiting to be read. A slow one means the loop is behind,
 * and it tries again, up to a bound. One round trip at a time serves every
 * connection waiting on it.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { ROUTER_TIMINGS } from "../../shared/limits.ts";

/** The two ends of the loopback pair: one writes, the other reads. */
interface Pair {
  writer: Deno.Conn;
  reader: Deno.Conn;
}

/** A loopback round trip through the server's own socket polling. */
export class ReadBacklog {
  #pair: Promise<Pair | undefined>;
  #closed = false;
  /** The round trip under way, if any. */
  #flight: Promise<void> | undefined;
  /** Those who asked during a flight: they need a byte sent after they asked. */
  #next: PromiseWithResolvers<void> | undefined;
  #byte = new Uint8Array(1);
  #buffer = new Uint8Array(64);

  /** Opens the loopback pair (in the background: {@linkcode caughtUp} waits for it). */
  constructor() {
    this.#pair = openPair();
  }

  /**
   * Resolves once a round trip took at most
   * {@linkcode ROUTER_TIMINGS.caughtUpMs} (the server is reading its sockets
   * as bytes come), or after `maxWaitMs` of trying while the server stayed
   * behind. Without a loopback pair (none could be opened) it waits one turn
   * of the event loop.
   */
  async caughtUp(
    maxWaitMs: number = ROUTER_TIMINGS.busyWaitMaxMs,
  ): Promise<void> {
    const giveUpAt = performance.now() + maxWaitMs;
    for (;;) {
      const started = performance.now();
      await this.#roundTrip();
      // Reads that completed in the same turn as the probe's run their
      // callbacks before this one goes on.
      await new Promise((resolve) => setImmediate(resolve));
      const now = performance.now();
      if (now - started <= ROUTER_TIMINGS.caughtUpMs || now >= giveUpAt) {
        return;
      }
    }
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
      await pair.writer.write(this.#byte);
      await pair.reader.read(this.#buffer);
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
