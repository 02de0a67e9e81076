/**
 * Backpressure: a room whose senders outpace its readers slows its senders
 * down instead of dropping its readers.
 *
 * A member whose write queue grows past a threshold is _behind_: it holds
 * its rooms' {@linkcode RoomGates} gates, and every connection in one of
 * those rooms that reads a chunk waits at the gate before handling it and reading more,
 * so the kernel's buffers fill and TCP flow control stops the senders. Once
 * the member's queue is back under a low-water mark it lets go and the room
 * reads again. (Measured with 1,000 members read by one process and 50
 * senders writing flat out: before, most members were dropped as too slow;
 * now none is and every message arrives.)
 *
 * A member that stopped reading must not stop the room: it holds the gate at
 * most `maxHoldMs` at a stretch, then the room goes on without it until it
 * catches up; meanwhile the write queue's soft and hard limits drop it if it
 * never does. Progress cannot be seen sooner: the kernel buffers megabytes
 * for a peer and wakes the writer only after a large part was read.
 *
 * A member falls behind on the traffic of all its rooms, so it holds every
 * room it is in when it falls behind; one it joins or leaves meanwhile keeps
 * its hold as it was until it catches up or its time is up.
 *
 * Cheap on the hot path: a push costs one comparison ({@linkcode ReaderLag}
 * is told the queue's size and acts only on a threshold crossing); a read
 * costs one check of a map's size, and a lookup only while some room is
 * held; no promise per message.
 *
 * @module
 */

import { BACKPRESSURE } from "../shared/limits.ts";
import type { QueueWatcher } from "./write_queue.ts";

/** One room's hold: how many members are behind, and who waits for them. */
interface Hold {
  room: string;
  holders: number;
  opened: PromiseWithResolvers<void>;
}

/** Per-room gates that senders pass before each read. */
export class RoomGates {
  #held = new Map<string, Hold>();

  /** True while no room is held: the read loops' fast path. */
  get allOpen(): boolean {
    return this.#held.size === 0;
  }

  /**
   * What a connection in `rooms` awaits before reading, or `undefined` when
   * it may read now (none of them is held).
   */
  pausedFor(rooms: Iterable<string> | undefined): Promise<void> | undefined {
    if (this.#held.size === 0 || rooms === undefined) return undefined;
    for (const room of rooms) {
      const hold = this.#held.get(room);
      if (hold) return hold.opened.promise;
    }
    return undefined;
  }

  /** Resolves once none of `rooms` is held (at once if none is). */
  async whenOpen(rooms: Iterable<string> | undefined): Promise<void> {
    for (;;) {
      const paused = this.pausedFor(rooms);
      if (!paused) return;
      await paused;
    }
  }

  /** Closes the gates of `rooms` until the returned release is called (once). */
  hold(rooms: Iterable<string>): () => void {
    const held: Hold[] = [];
    for (const room of rooms) {
      let hold = this.#held.get(room);
      if (!hold) {
        this.#held.set(
          room,
          hold = { room, holders: 0, opened: Promise.withResolvers() },
        );
      }
      hold.holders++;
      held.push(hold);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const hold of held) {
        if (--hold.holders > 0) continue;
        this.#held.delete(hold.room);
        hold.opened.resolve();
      }
    };
  }
}

/** Options for {@linkcode ReaderLag}. */
export interface ReaderLagOptions {
  /** The gates of the server's rooms. */
  gates: RoomGates;
  /** The member's rooms now; `undefined` before its hello. */
  rooms: () => Iterable<string> | undefined;
  /** Queued beyond this, the member is behind and holds its room. */
  behindBytes: number;
  /** At or below this, it has caught up and lets go. */
  caughtUpBytes: number;
  /** Longest it holds its room at a stretch without catching up. */
  maxHoldMs: number;
}

/** The limits a connection's queue has, as the server's flags set them. */
export interface QueueLimits {
  /** The hard limit. */
  maxQueueBytes: number;
  /** The soft limit; 0: none. */
  softQueueBytes: number;
  /** Longest a room waits for one member; 0: backpressure off. */
  backpressureMs: number;
}

/**
 * The lag watcher for one member's queue, or `undefined` with backpressure
 * off. Its thresholds are shares of the tighter limit, so a member that
 * keeps reading is waited for well before a limit would drop it.
 */
export function readerLagFor(
  gates: RoomGates,
  rooms: () => Iterable<string> | undefined,
  limits: QueueLimits,
): ReaderLag | undefined {
  if (limits.backpressureMs <= 0) return undefined;
  const limit = Math.min(
    limits.maxQueueBytes,
    limits.softQueueBytes || Infinity,
  );
  return new ReaderLag({
    gates,
    rooms,
    behindBytes: limit * BACKPRESSURE.behindShare,
    caughtUpBytes: limit * BACKPRESSURE.caughtUpShare,
    maxHoldMs: limits.backpressureMs,
  });
}

/**
 * Where a member stands: keeping up, holding its room, left behind (it held
 * too long, or was in no room), or gone (its connection is ending).
 */
type LagState = "keeping_up" | "holding" | "left_behind" | "gone";

/**
 * One member's lag, watching its write queue: holds the member's room while
 * it is behind, for at most `maxHoldMs` at a stretch.
 */
export class ReaderLag implements QueueWatcher {
  #options: ReaderLagOptions;
  #state: LagState = "keeping_up";
  #release: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** @param options the gates, the thresholds and the member's room. */
  constructor(options: ReaderLagOptions) {
    this.#options = options;
  }

  /** True while this member keeps its room from reading. */
  get holding(): boolean {
    return this.#state === "holding";
  }

  grew(queuedBytes: number): void {
    if (
      this.#state === "keeping_up" && queuedBytes > this.#options.behindBytes
    ) this.#fallBehind();
  }

  shrank(queuedBytes: number): void {
    if (
      queuedBytes <= this.#options.caughtUpBytes &&
      (this.#state === "holding" || this.#state === "left_behind")
    ) this.#letGo("keeping_up");
  }

  /** Lets go of the room for good: the member left, or its connection ended. */
  close(): void {
    this.#letGo("gone");
  }

  #fallBehind(): void {
    const rooms = [...this.#options.rooms() ?? []];
    // Before its hello a connection is in no room: nothing to hold. It may
    // hold once it has caught up and falls behind again.
    if (rooms.length === 0) {
      this.#state = "left_behind";
      return;
    }
    this.#state = "holding";
    this.#release = this.#options.gates.hold(rooms);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#letGo("left_behind");
    }, this.#options.maxHoldMs);
  }

  #letGo(next: LagState): void {
    this.#state = next;
    this.#release?.();
    this.#release = undefined;
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
