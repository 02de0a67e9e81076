/**
 * A token bucket: how many messages a connection may send, and for how long
 * it has been over the limit.
 *
 * @module
 */

import { SAFETY_TIMINGS } from "./limits.ts";

/** Options for {@linkcode TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second; 0 means no limit. */
  rate: number;
  /** The most tokens held, so the largest burst. */
  burst: number;
  /** The clock. @default {Date.now} */
  now?: () => number;
  /**
   * Tokens it starts with: less than `burst` for a connection that takes
   * over what its address's last one left. @default {burst}
   */
  tokens?: number;
}

/**
 * A token bucket that also measures floods.
 *
 * A flood is a run of refused messages with no pause of more than
 * `SAFETY_TIMINGS.floodQuietMs` (or one token's refill time, at slow rates)
 * between two refusals. Messages let through in between do not end it: a
 * steady flooder gets a token back every `1/rate` seconds, and counting that
 * as "no longer flooding" would let it flood for ever.
 */
export class TokenBucket {
  #rate: number;
  #burst: number;
  #tokens: number;
  #updatedAt: number;
  #floodingSince: number | undefined;
  #lastRefusedAt = 0;
  #quietMs: number;
  #now: () => number;

  /** Starts full, or with `options.tokens`. */
  constructor(options: TokenBucketOptions) {
    this.#rate = options.rate;
    this.#burst = Math.max(1, options.burst);
    this.#tokens = Math.min(this.#burst, options.tokens ?? this.#burst);
    this.#now = options.now ?? Date.now;
    this.#updatedAt = this.#now();
    this.#quietMs = options.rate > 0
      ? Math.max(SAFETY_TIMINGS.floodQuietMs, 1000 / options.rate)
      : SAFETY_TIMINGS.floodQuietMs;
  }

  /**
   * Takes `cost` tokens (1 by default; a cheap command may cost less): true
   * when the message may go, false when over the limit.
   */
  take(cost = 1): boolean {
    if (this.#rate <= 0) return true;
    const now = this.#now();
    this.#refill(now);
    if (this.#tokens >= cost) {
      this.#tokens -= cost;
      return true;
    }
    if (
      this.#floodingSince === undefined ||
      now - this.#lastRefusedAt > this.#quietMs
    ) {
      this.#floodingSince = now;
    }
    this.#lastRefusedAt = now;
    return false;
  }

  /** The tokens held now (the burst when there is no limit). */
  get tokens(): number {
    if (this.#rate <= 0) return this.#burst;
    this.#refill(this.#now());
    return this.#tokens;
  }

  #refill(now: number): void {
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + ((now - this.#updatedAt) / 1000) * this.#rate,
    );
    this.#updatedAt = now;
  }

  /**
   * Milliseconds the current flood has lasted: since the first refusal of a
   * run of refusals without a quiet pause; 0 when not flooding.
   */
  floodingFor(): number {
    const now = this.#now();
    if (
      this.#floodingSince === undefined ||
      now - this.#lastRefusedAt > this.#quietMs
    ) {
      return 0;
    }
    return now - this.#floodingSince;
  }
}
