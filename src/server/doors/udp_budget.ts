/**
 * What one IP address may cost the UDP door, whatever its source ports and
 * however often it quits and rejoins: the datagrams the server sends it
 * (`COMPAT_LIMITS.udpSendRate` a second, burst `udpSendBurst`) and the
 * messages it may send (the member rate limit). A budget per address and
 * port let one host multiply both by its ports, and reset them by rejoining.
 *
 * Pure; the clock is passed in. The shared admission module may absorb this
 * later; until then the UDP door keeps its own.
 *
 * @module
 */

import { COMPAT_LIMITS } from "../../shared/limits.ts";
import { TokenBucket } from "../../shared/rate_limiter.ts";

/** Options for {@linkcode UdpBudgets}. */
export interface UdpBudgetOptions {
  /** Messages per second one address may send (0: no limit), and the burst. */
  rate: number;
  burst: number;
  /** The clock. @default {Date.now} */
  now?: () => number;
}

/** One IP address's two buckets. */
export interface AddressBudget {
  /** Datagrams the server may send to the address. */
  readonly outbound: TokenBucket;
  /** Messages the address may send into the room. */
  readonly inbound: TokenBucket;
}

interface Entry extends AddressBudget {
  lastUsedAt: number;
}

/** Milliseconds a bucket takes to fill from empty; 0 without a limit. */
function refillMs(rate: number, burst: number): number {
  return rate > 0 ? (Math.max(1, burst) / rate) * 1000 : 0;
}

/**
 * The budgets of the addresses heard from lately, by IP address.
 *
 * @example
 * ```ts
 * const budgets = new UdpBudgets({ rate: 5, burst: 10 });
 * budgets.of("127.0.0.1").outbound.take(); // → true, until the burst is spent
 * ```
 */
export class UdpBudgets {
  #entries = new Map<string, Entry>();
  #options: UdpBudgetOptions;
  #now: () => number;
  /** Idle this long, both buckets are full again: forgetting loses nothing. */
  #forgetAfterMs: number;

  constructor(options: UdpBudgetOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#forgetAfterMs = Math.max(
      refillMs(COMPAT_LIMITS.udpSendRate, COMPAT_LIMITS.udpSendBurst),
      refillMs(options.rate, options.burst),
    );
  }

  /** How many addresses have a budget now. */
  get size(): number {
    return this.#entries.size;
  }

  /** The budget of `address` (an IP address, without the port). */
  of(address: string): AddressBudget {
    const now = this.#now();
    let entry = this.#entries.get(address);
    if (!entry) {
      entry = {
        outbound: new TokenBucket({
          rate: COMPAT_LIMITS.udpSendRate,
          burst: COMPAT_LIMITS.udpSendBurst,
          now: this.#now,
        }),
        inbound: new TokenBucket({
          rate: this.#options.rate,
          burst: this.#options.burst,
          now: this.#now,
        }),
        lastUsedAt: now,
      };
      this.#entries.set(address, entry);
    }
    entry.lastUsedAt = now;
    return entry;
  }

  /**
   * Forgets the addresses idle long enough for both buckets to be full
   * again, so the map holds only the addresses of the last few seconds.
   */
  sweep(): void {
    const now = this.#now();
    for (const [address, entry] of this.#entries) {
      if (now - entry.lastUsedAt >= this.#forgetAfterMs) {
        this.#entries.delete(address);
      }
    }
  }
}
