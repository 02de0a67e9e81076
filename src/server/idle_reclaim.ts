/**
 * Gives the heap back after a burst: once the server has sat idle, one
 * memory-reducing garbage collection.
 *
 * A burst (thousands joining, a flood of messages) grows V8's heap: the young
 * generation up to its largest size, and the old one with garbage promoted
 * while writes to thousands of members were in flight. V8's memory reducer,
 * which shrinks the heap again when a Node or Chrome process goes idle, does
 * not run under Deno: after 5,000 joins the server sat at 165 MB for as long
 * as it stayed idle, of which the heap in use was 28 MB and 55 MB was an empty
 * young generation. That is 10 KB per idle connection that no connection
 * holds. A memory-reducing collection at that point took the server to 89 MB
 * (about 9 KB per connection) and paused it for 0.1 s, while nothing was
 * happening.
 *
 * Idle means no work was counted between two looks a second apart (the
 * server counts its ticks and accepted connections) and the heap in use
 * did not change either: any work at all (a message, a join, a ping)
 * allocates. The heap alone is not enough: under steady traffic two looks
 * can each land just after a young-generation collection and see the same
 * figure, and a collection then paused a room of 5,000 for 0.15 s in the
 * middle of its messages. A busy server is never paused.
 *
 * @module
 */

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** What the reclaimer reads of the heap. */
export interface HeapFigures {
  /** Bytes the heap holds from the system. */
  heapTotal: number;
  /** Bytes of it in use. */
  heapUsed: number;
}

/** Options for {@linkcode IdleReclaimer}. */
export interface IdleReclaimerOptions {
  /** How often to look at the heap. @default {1000} */
  checkMs?: number;
  /** Held but unused heap worth a collection. @default {16 MiB} */
  minSlackBytes?: number;
  /** In-use heap that may change between two looks and still be idle. @default {64 KiB} */
  idleChangeBytes?: number;
  /** The heap's figures. @default {Deno.memoryUsage} */
  heap?: () => HeapFigures;
  /** Runs a memory-reducing collection. @default {memoryReducingGc()} */
  collect?: () => void;
  /**
   * A count of work done that only grows (ticks, accepted connections): a
   * change between two looks means busy, whatever the heap says.
   * @default {() => 0}
   */
  activity?: () => number;
}

/**
 * Looks at the heap every `checkMs`; when the server was idle since the last
 * look and holds at least `minSlackBytes` it does not use, collects once.
 * Call {@linkcode IdleReclaimer.close} to stop.
 */
export class IdleReclaimer {
  #heap: () => HeapFigures;
  #collect: () => void;
  #minSlack: number;
  #idleChange: number;
  #activity: () => number;
  #lastUsed = -1;
  #lastActivity = 0;
  #timer: ReturnType<typeof setInterval>;

  /** Starts looking; does nothing where no collection can be asked for. */
  constructor(options: IdleReclaimerOptions = {}) {
    this.#heap = options.heap ?? (() => Deno.memoryUsage());
    this.#collect = options.collect ?? memoryReducingGc() ?? (() => {});
    this.#minSlack = options.minSlackBytes ?? 16 * 1024 * 1024;
    this.#idleChange = options.idleChangeBytes ?? 64 * 1024;
    this.#activity = options.activity ?? (() => 0);
    this.#timer = setInterval(() => this.check(), options.checkMs ?? 1000);
    // A look at the heap never keeps the process alive.
    Deno.unrefTimer(this.#timer);
  }

  /** One look (the timer's; public so tests can drive it). */
  check(): void {
    const { heapTotal, heapUsed } = this.#heap();
    const activity = this.#activity();
    const idle = this.#lastUsed >= 0 && activity === this.#lastActivity &&
      Math.abs(heapUsed - this.#lastUsed) <= this.#idleChange;
    this.#lastUsed = heapUsed;
    this.#lastActivity = activity;
    if (!idle || heapTotal - heapUsed < this.#minSlack) return;
    this.#collect();
    // What the collection freed is not a sign of work.
    this.#lastUsed = this.#heap().heapUsed;
  }

  /** Stops looking. */
  close(): void {
    clearInterval(this.#timer);
  }
}

/**
 * V8's memory-reducing full collection (the one its memory reducer runs),
 * or `undefined` where the runtime does not offer it. `--expose-gc` set now
 * gives `gc` to contexts made from now on, so one is made to fetch it.
 */
export function memoryReducingGc(): (() => void) | undefined {
  try {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc");
    if (typeof gc !== "function") return undefined;
    return () =>
      gc({ type: "major", execution: "sync", flavor: "last-resort" });
  } catch {
    return undefined;
  }
}
