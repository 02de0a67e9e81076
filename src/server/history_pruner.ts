/**
 * Keeps the history within its retention (`--keep-days`, `--max-db-mb`):
 * a pass at start, one every {@linkcode STORAGE_LIMITS.pruneEveryMs}, and one
 * as soon as enough was appended that the size cap may be near. A pass
 * removes one small batch per turn of the event loop, so the room is served
 * between batches however much there is to remove.
 *
 * @module
 */

import { STORAGE_LIMITS } from "../shared/limits.ts";
import type { PruneStep } from "./store.ts";
import { describeStoreError } from "./store_failure_log.ts";

/** What the pruner needs of a store; {@linkcode SqliteStore} has it. */
export interface PrunableStore {
  /** Removes one batch; `removed: 0` when there is nothing to do. */
  pruneStep(now?: number): PruneStep;
  /** True when the size should be looked at before the next period. */
  readonly pruneDue: boolean;
  /** Empties the write-ahead log after a pass removed messages. */
  checkpoint(): void;
}

/** Options for {@linkcode HistoryPruner}. */
export interface HistoryPrunerOptions {
  /** `--keep-days`, for the log line. */
  keepDays: number;
  /** `--max-db-mb`, for the log line. */
  maxDbMb: number;
  /** Where a pass that removed messages says so. */
  log: (line: string) => void;
  /** Time between two passes. @default {STORAGE_LIMITS.pruneEveryMs} */
  everyMs?: number;
  /**
   * Called after a pass that removed messages: what hangs on them (their
   * shared files) can go too.
   */
  onPruned?: () => void;
}

/** Runs pruning passes off the hot path until {@linkcode HistoryPruner.stop}. */
export class HistoryPruner {
  #store: PrunableStore;
  #options: HistoryPrunerOptions;
  #interval?: ReturnType<typeof setInterval>;
  #step?: ReturnType<typeof setTimeout>;
  #running = false;
  #stopped = false;
  #passDone = Promise.withResolvers<void>();
  /** Removals not logged yet: a flood against the cap prunes many times a minute. */
  #unreported = { age: 0, size: 0 };
  #lastReport = -Infinity;

  /** Prunes `store`; nothing happens before {@linkcode start}. */
  constructor(store: PrunableStore, options: HistoryPrunerOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** Starts a pass now and one every period. */
  start(): void {
    if (this.#stopped) return;
    this.#run();
    this.#interval = setInterval(
      () => this.#run(),
      this.#options.everyMs ?? STORAGE_LIMITS.pruneEveryMs,
    );
  }

  /** Call after storing: starts a pass if the size cap may be near. */
  noteAppended(): void {
    if (this.#store.pruneDue) this.#run();
  }

  /** Resolves when the next pass ends (for tests and the curious). */
  get passDone(): Promise<void> {
    return this.#passDone.promise;
  }

  /** Stops for good; a pass in progress ends after its current batch. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#interval);
    clearTimeout(this.#step);
  }

  #run(): void {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    let removedThisPass = 0;
    const startedAt = Date.now();
    const everyMs = this.#options.everyMs ?? STORAGE_LIMITS.pruneEveryMs;
    const step = () => {
      this.#step = undefined;
      if (this.#stopped) return;
      try {
        const result = this.#store.pruneStep();
        if (result.reason) {
          this.#unreported[result.reason] += result.removed;
          removedThisPass += result.removed;
          // Under a flood a pass can last as long as the flood does: say
          // what it removed once a period, not only at its end.
          if (Date.now() - startedAt >= everyMs) this.#report();
          // Yield to the room between batches: setTimeout, not a loop.
          this.#step = setTimeout(step, 0);
          return;
        }
        // Pruning wrote the removed pages to the WAL: put them back in the
        // database file and empty the WAL, so neither keeps growing.
        if (removedThisPass > 0) {
          this.#store.checkpoint();
          this.#options.onPruned?.();
        }
        this.#report();
      } catch (error) {
        this.#options.log(
          `history pruning failed: ${describeStoreError(error)}`,
        );
      }
      this.#running = false;
      const done = this.#passDone;
      this.#passDone = Promise.withResolvers<void>();
      done.resolve();
    };
    this.#step = setTimeout(step, 0);
  }

  /** Logs what was removed, at most once a period. */
  #report(): void {
    const removed = this.#unreported;
    const now = Date.now();
    const everyMs = this.#options.everyMs ?? STORAGE_LIMITS.pruneEveryMs;
    if (removed.age + removed.size === 0 || now - this.#lastReport < everyMs) {
      return;
    }
    this.#lastReport = now;
    this.#unreported = { age: 0, size: 0 };
    const { keepDays, maxDbMb, log } = this.#options;
    if (removed.age > 0) {
      log(
        `history: removed ${removed.age} messages older than ${keepDays} days`,
      );
    }
    if (removed.size > 0) {
      log(
        `history: removed the ${removed.size} oldest messages to stay under ${maxDbMb} MB`,
      );
    }
  }
}
