/**
 * A token bucket: how many messages a connection may send, and for how long
 * it has been over the limit.
 *
 * @module
 */

/** Options for {@linkcode TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second; 0 means no limit. */
  rate: number;
  /** The most tokens held, so the largest burst. */
  burst: number;
  /** The clock. @default {Date.now} */
  now?: () => number;
}

/** A token bucket that also remembers when the current flood began. */
export class TokenBucket {
  #rate: number;
  #burst: number;
  #tokens: number;
  #updatedAt: number;
  #floodingSince: number | undefined;
  #now: () => number;

  /** Starts full. */
  constructor(options: TokenBucketOptions) {
    this.#rate = options.rate;
    this.#burst = Math.max(1, options.burst);
    this.#tokens = this.#burst;
    this.#now = options.now ?? Date.now;
    this.#updatedAt = this.#now();
  }

  /** Takes a token: true when the message may go, false when over the limit. */
  take(): boolean {
    if (this.#rate <= 0) return true;
    const now = this.#now();
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + ((now - this.#updatedAt) / 1000) * this.#rate,
    );
    this.#updatedAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      this.#floodingSince = undefined;
      return true;
    }
    this.#floodingSince ??= now;
    return false;
  }

  /** Milliseconds since the sender first went over the limit without a pause. */
  floodingFor(): number {
    return this.#floodingSince === undefined
      ? 0
      : this.#now() - this.#floodingSince;
  }
}
