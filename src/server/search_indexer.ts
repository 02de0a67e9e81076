/**
 * Keeps the full-text search index in step with the history, off the
 * message path: it indexes when the server is quiet, and a little now and
 * then when it is not, so a flood of messages never waits for the index.
 *
 * @module
 */

/** What the indexer needs from the store. */
export interface IndexableStore {
  /** Indexes up to `maxRows` messages not indexed yet; returns how many. */
  indexStep(maxRows: number): number;
}

/** Options for {@linkcode SearchIndexer}. */
export interface SearchIndexerOptions {
  /** Quiet this long after a stored message, it indexes. @default {250} */
  idleMs?: number;
  /** Messages indexed per step when quiet (about 9 ms of work). @default {200} */
  batchRows?: number;
  /**
   * However busy the server is, at least a small step this often, so the
   * index cannot fall behind for ever. @default {1000}
   */
  maxLagMs?: number;
  /** Messages of such a forced step (about 2 ms). @default {50} */
  busyBatchRows?: number;
  /** Where a failed step is reported. */
  log?: (line: string) => void;
  /** The clock. @default {Date.now} */
  now?: () => number;
}

/**
 * Runs {@linkcode IndexableStore.indexStep} in the background until
 * {@linkcode SearchIndexer.stop}. Messages not indexed yet are still found
 * (the store's search scans them), so the lag costs nothing but time.
 */
export class SearchIndexer {
  #store: IndexableStore;
  #idleMs: number;
  #batchRows: number;
  #maxLagMs: number;
  #busyBatchRows: number;
  #log: (line: string) => void;
  #now: () => number;
  #timer?: ReturnType<typeof setTimeout>;
  #lastAppend = 0;
  #lastStep = 0;
  #stopped = false;

  /** Creates an indexer; nothing runs until {@linkcode start}. */
  constructor(store: IndexableStore, options: SearchIndexerOptions = {}) {
    this.#store = store;
    this.#idleMs = options.idleMs ?? 250;
    this.#batchRows = options.batchRows ?? 200;
    this.#maxLagMs = options.maxLagMs ?? 1000;
    this.#busyBatchRows = options.busyBatchRows ?? 50;
    this.#log = options.log ?? (() => {});
    this.#now = options.now ?? Date.now;
  }

  /** Starts indexing what the history holds unindexed (after an upgrade). */
  start(): void {
    this.#lastStep = this.#now();
    this.#schedule(0);
  }

  /** Tells it messages were stored: it indexes them once the room is quiet. */
  noteAppended(): void {
    this.#lastAppend = this.#now();
    if (this.#timer === undefined) this.#schedule(this.#idleMs);
  }

  /** Stops; safe to call twice. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#step();
    }, ms);
  }

  #step(): void {
    const now = this.#now();
    const quietFor = now - this.#lastAppend;
    const quiet = quietFor >= this.#idleMs;
    const overdue = now - this.#lastStep >= this.#maxLagMs;
    if (!quiet && !overdue) {
      return this.#schedule(
        Math.min(
          this.#idleMs - quietFor,
          this.#maxLagMs - (now - this.#lastStep),
        ),
      );
    }
    this.#lastStep = now;
    let indexed: number;
    try {
      indexed = this.#store.indexStep(
        quiet ? this.#batchRows : this.#busyBatchRows,
      );
    } catch (error) {
      this.#log(
        `search index: ${error instanceof Error ? error.message : error}`,
      );
      return this.#schedule(this.#maxLagMs);
    }
    // More to do: on at once while quiet (yielding between steps), else at
    // the next quiet moment or forced step.
    if (indexed > 0) this.#schedule(quiet ? 0 : this.#idleMs);
  }
}
