/**
 * What staying connected needs to remember, as pure data: how long to wait
 * before the next attempt, where to resume, which messages are already on
 * screen, and which lines wait to be sent.
 *
 * @module
 */

import type { CommandFrame, RoomMessage } from "../../protocol.ts";
import { CONNECT_DEFAULTS } from "../shared/limits.ts";

/** Options for {@linkcode Backoff}; defaults come from `CONNECT_DEFAULTS`. */
export interface BackoffOptions {
  /** The first wait. @default {1000} */
  startMs?: number;
  /** The longest wait. @default {30000} */
  maxMs?: number;
  /** Each wait is scaled by a random factor in `1 ± jitter`. @default {0.2} */
  jitter?: number;
  /** Random numbers in [0, 1). @default {Math.random} */
  random?: () => number;
}

/**
 * Exponential backoff with jitter: 1 s, 2 s, 4 s … up to 30 s, each scaled by
 * a random factor so that clients dropped together do not return together.
 *
 * @example
 * ```ts
 * const backoff = new Backoff({ random: () => 0.5 });
 * [backoff.next(), backoff.next(), backoff.next()]; // → [1000, 2000, 4000]
 * ```
 */
export class Backoff {
  #attempt = 0;
  #startMs: number;
  #maxMs: number;
  #jitter: number;
  #random: () => number;

  /** Creates a backoff at its first step. */
  constructor(options: BackoffOptions = {}) {
    this.#startMs = options.startMs ?? CONNECT_DEFAULTS.retryStartMs;
    this.#maxMs = options.maxMs ?? CONNECT_DEFAULTS.retryMaxMs;
    this.#jitter = options.jitter ?? CONNECT_DEFAULTS.retryJitter;
    this.#random = options.random ?? Math.random;
  }

  /** Waits taken since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The next wait in ms; each call doubles the base up to the maximum. */
  next(): number {
    const base = Math.min(this.#maxMs, this.#startMs * 2 ** this.#attempt);
    this.#attempt++;
    const factor = 1 + this.#jitter * (2 * this.#random() - 1);
    return Math.round(Math.min(this.#maxMs, base * factor));
  }

  /** Back to the first step, after a successful connection. */
  reset(): void {
    this.#attempt = 0;
  }
}

/**
 * Where to resume and what is already shown. Room message ids grow across the
 * whole server, so the largest id seen in a room is that room's `since` in
 * the next hello (per room: one connection carries several rooms' messages,
 * and a flush sends them room by room, so a larger id seen in one room says
 * nothing about another); a message is recognised by its id and time, so one
 * replayed after a drop is shown once, while a server that restarted with an
 * empty store (ids from 1 again) is not mistaken for old news.
 */
export class ResumeState {
  #lastId: number | undefined;
  #lastIdByRoom = new Map<string, number>();
  #seen = new Set<string>();
  #order: string[] = [];
  #limit: number;

  /** @param limit messages remembered for deduplication. @default {5000} */
  constructor(limit = 5000) {
    this.#limit = limit;
  }

  /** The id to resume after, or `undefined` before any message was seen. */
  get since(): number | undefined {
    return this.#lastId;
  }

  /**
   * Where to resume `room`: the largest id seen in it, or 0 (everything) for
   * a room whose welcome came while it held no messages, so every message it
   * has was said since; `undefined` for a room never joined.
   */
  sinceFor(room: string): number | undefined {
    return this.#lastIdByRoom.get(room);
  }

  /** Records that `room`'s welcome was read: from now on it resumes. */
  joined(room: string): void {
    if (!this.#lastIdByRoom.has(room)) this.#lastIdByRoom.set(room, 0);
  }

  /** Records a room message; returns false if it was already shown. */
  accept(message: RoomMessage): boolean {
    const key = `${message.id}:${message.ts}`;
    if (this.#seen.has(key)) return false;
    this.#seen.add(key);
    this.#order.push(key);
    if (this.#order.length > this.#limit) {
      this.#seen.delete(this.#order.shift()!);
    }
    if (this.#lastId === undefined || message.id > this.#lastId) {
      this.#lastId = message.id;
    }
    const roomLast = this.#lastIdByRoom.get(message.room);
    if (roomLast === undefined || message.id > roomLast) {
      this.#lastIdByRoom.set(message.room, message.id);
    }
    return true;
  }
}

/** A frame waiting to be sent, with the text the user typed. */
export interface PendingFrame {
  frame: CommandFrame;
  /** What to show while it waits. */
  typed: string;
}

/**
 * Frames waiting to be sent, in order: while offline, and while the rate
 * limit holds back a paste. Bounded, so a long outage cannot grow memory.
 */
export class Outbox {
  #items: PendingFrame[] = [];
  #limit: number;

  /** @param limit frames kept. @default {100} */
  constructor(limit: number = CONNECT_DEFAULTS.maxPendingLines) {
    this.#limit = limit;
  }

  /** Frames waiting. */
  get size(): number {
    return this.#items.length;
  }

  /** Adds a frame at the end; false (and nothing added) when full. */
  push(item: PendingFrame): boolean {
    if (this.#items.length >= this.#limit) return false;
    this.#items.push(item);
    return true;
  }

  /** The next frame, left in place. */
  peek(): PendingFrame | undefined {
    return this.#items[0];
  }

  /** Removes the next frame (once it is sent). */
  shift(): PendingFrame | undefined {
    return this.#items.shift();
  }
}
