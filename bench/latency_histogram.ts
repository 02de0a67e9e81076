/**
 * A fixed-memory latency histogram: millions of samples cost no more than a
 * few hundred kilobytes, so recording never allocates in the hot loop.
 *
 * @module
 */

/** Below this many µs, buckets are 10 µs wide. */
const FINE_LIMIT_US = 100_000;
const FINE_BUCKET_US = 10;
/** Above it, buckets are 1 ms wide, up to a minute. */
const COARSE_BUCKET_US = 1000;
const COARSE_LIMIT_US = 60_000_000;
const FINE_BUCKETS = FINE_LIMIT_US / FINE_BUCKET_US;
const BUCKETS = FINE_BUCKETS +
  (COARSE_LIMIT_US - FINE_LIMIT_US) / COARSE_BUCKET_US;

/** Percentiles of the recorded samples, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Counts latencies (µs) in buckets; percentiles come from bucket upper edges. */
export class LatencyHistogram {
  #buckets = new Uint32Array(BUCKETS);
  #count = 0;
  #maxUs = 0;

  /** Records one latency in microseconds. */
  record(us: number): void {
    if (us < 0) us = 0;
    const index = us < FINE_LIMIT_US
      ? Math.floor(us / FINE_BUCKET_US)
      : Math.min(
        FINE_BUCKETS + Math.floor((us - FINE_LIMIT_US) / COARSE_BUCKET_US),
        BUCKETS - 1,
      );
    this.#buckets[index]++;
    this.#count++;
    if (us > this.#maxUs) this.#maxUs = us;
  }

  /** Forgets every sample (after a warm-up). */
  reset(): void {
    this.#buckets.fill(0);
    this.#count = 0;
    this.#maxUs = 0;
  }

  /** The percentiles, rounded to 0.01 ms. */
  summary(): LatencySummary {
    return {
      count: this.#count,
      p50: this.#percentile(0.5),
      p90: this.#percentile(0.9),
      p99: this.#percentile(0.99),
      max: round(this.#maxUs / 1000),
    };
  }

  #percentile(fraction: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.ceil(this.#count * fraction);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#buckets[i];
      if (seen >= rank) {
        const upperUs = i < FINE_BUCKETS
          ? (i + 1) * FINE_BUCKET_US
          : FINE_LIMIT_US + (i - FINE_BUCKETS + 1) * COARSE_BUCKET_US;
        return round(Math.min(upperUs, this.#maxUs) / 1000);
      }
    }
    return round(this.#maxUs / 1000);
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
