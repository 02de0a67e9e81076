/**
 * Logs storage failures without flooding the log: on a full disk every batch
 * fails, which under a busy room is every turn of the event loop. The first
 * failure is logged at once with SQLite's own words, repeats at most once per
 * quiet period with their count, and the recovery once, with how many
 * messages were refused meanwhile.
 *
 * @module
 */

import { STORAGE_LIMITS } from "../shared/limits.ts";

/** Options for {@linkcode StoreFailureLog}. */
export interface StoreFailureLogOptions {
  /** Repeats are summarised at most this often. @default {STORAGE_LIMITS.storeErrorLogMs} */
  quietMs?: number;
  /** The clock. @default {Date.now} */
  now?: () => number;
}

/** Rate-limited log lines for a store that fails and recovers. */
export class StoreFailureLog {
  #log: (line: string) => void;
  #quietMs: number;
  #now: () => number;
  #failing = false;
  /** Messages refused since the store started failing. */
  #refused = 0;
  /** Failures since the last line logged. */
  #unlogged = 0;
  #lastLogged = 0;

  /** Writes through `log`. */
  constructor(
    log: (line: string) => void,
    options: StoreFailureLogOptions = {},
  ) {
    this.#log = log;
    this.#quietMs = options.quietMs ?? STORAGE_LIMITS.storeErrorLogMs;
    this.#now = options.now ?? Date.now;
  }

  /** A batch of `messages` could not be stored. */
  failed(error: unknown, messages: number): void {
    const now = this.#now();
    this.#refused += messages;
    if (!this.#failing) {
      this.#failing = true;
      this.#lastLogged = now;
      this.#log(
        `store error: ${
          describeStoreError(error)
        }; messages are refused (store_failed) until storing works again`,
      );
      return;
    }
    this.#unlogged++;
    if (now - this.#lastLogged < this.#quietMs) return;
    this.#log(
      `store error, ${this.#unlogged} more times in ${
        Math.round((now - this.#lastLogged) / 1000)
      } s: ${describeStoreError(error)}`,
    );
    this.#lastLogged = now;
    this.#unlogged = 0;
  }

  /** A batch was stored: ends a failure, if there was one. */
  succeeded(): void {
    if (!this.#failing) return;
    this.#log(
      `storing works again; ${this.#refused} messages were refused meanwhile`,
    );
    this.#failing = false;
    this.#refused = 0;
    this.#unlogged = 0;
  }
}

/** SQLite's message with its result code, e.g. `database or disk is full (SQLite code 13)`. */
export function describeStoreError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { errcode?: unknown }).errcode;
  return typeof code === "number"
    ? `${error.message} (SQLite code ${code})`
    : error.message;
}
