/**
 * A hole in a room's history to fill, as pure data: what a bounded welcome
 * (`more: true`) left out between the client's `since` and the first message
 * it holds. The server answers a `history` request with the newest messages
 * of the range, so the hole is filled from its top down: each page's first
 * id is the next request's `before`, and the pages, put together, are every
 * message of the range once, oldest first.
 *
 * @module
 */

import type { HistoryFrame, RoomMessage } from "../../protocol.ts";
import { CONNECT_DEFAULTS, PROTOCOL_LIMITS } from "../shared/limits.ts";

/** What a reply did to the hole; see {@linkcode HistoryGap.take}. */
export type GapAnswer = "progress" | "stale";

/** What {@linkcode HistoryGap.ofWelcome} reads of a welcome. */
export interface WelcomeHistory {
  room: string;
  history?: readonly { id: number }[];
  more?: boolean;
  server?: { history?: number };
}

/** Empty pages that say `more` in a row before the fill gives up. */
const EMPTY_PAGES_ALLOWED = 3;

/**
 * The messages of `room` with ids above `after` and below `before`, asked
 * for page by page, at most `limit` of them.
 *
 * @example
 * ```ts
 * const gap = new HistoryGap("lobby", 40, 90, 1000);
 * gap.request(); // → {type:"history", room:"lobby", after:40, before:90, limit:1000}
 * gap.take({ messages: [m60, m61, …, m89], more: true });
 * gap.request().before; // → 60
 * gap.take({ messages: [m41, …, m59], more: false });
 * gap.finished; // → true; gap.messages() is m41 … m89
 * ```
 */
export class HistoryGap {
  /** The room whose history has the hole. */
  readonly room: string;
  /** The range's floor: the resume's `since` (0: from the start). */
  readonly after: number;
  #before: number;
  #limit: number;
  /** Pages received, newest first. */
  #pages: RoomMessage[][] = [];
  #count = 0;
  #finished = false;
  #cut = false;
  #emptyPages = 0;

  /**
   * @param room the room.
   * @param after only ids above it (the resume's `since`).
   * @param before only ids below it (the welcome's first message).
   * @param limit messages fetched at most; past it the rest is left out.
   */
  constructor(room: string, after: number, before: number, limit: number) {
    this.room = room;
    this.after = after;
    this.#before = before;
    this.#limit = limit;
    if (before <= after + 1 || limit <= 0) this.#finished = true;
  }

  /**
   * The gap a welcome that says `more` left, if any. After a resume from
   * `resumedSince` (the `since` the hello asked for), everything between it
   * and the welcome's first message, up to
   * {@linkcode CONNECT_DEFAULTS.maxCatchUpMessages}; after a first welcome
   * (`resumed` false) cut by its bytes, the rest of the server's
   * `--history`. The terminal client and the web page both ask this.
   */
  static ofWelcome(
    welcome: WelcomeHistory,
    resumed: boolean,
    resumedSince: number | undefined,
  ): HistoryGap | undefined {
    const history = welcome.history ?? [];
    const first = history[0];
    if (!welcome.more || first === undefined) return undefined;
    if (resumed) {
      if (resumedSince === undefined) return undefined;
      return new HistoryGap(
        welcome.room,
        resumedSince,
        first.id,
        CONNECT_DEFAULTS.maxCatchUpMessages,
      );
    }
    const wanted = welcome.server?.history;
    if (wanted === undefined || history.length >= wanted) return undefined;
    return new HistoryGap(welcome.room, 0, first.id, wanted - history.length);
  }

  /** True once nothing more is to be asked for. */
  get finished(): boolean {
    return this.#finished;
  }

  /** True when the fill stopped at its limit (or on empty pages) with messages still left out. */
  get cut(): boolean {
    return this.#cut;
  }

  /** Messages received so far. */
  get count(): number {
    return this.#count;
  }

  /** The next page to ask for. */
  request(): HistoryFrame {
    return {
      type: "history",
      room: this.room,
      after: this.after,
      before: this.#before,
      limit: Math.min(
        this.#limit - this.#count,
        PROTOCOL_LIMITS.maxResumeHistory,
      ),
    };
  }

  /**
   * Takes a `history` reply for the room. A reply whose messages are all at
   * or above what is already held answers an earlier request (sent twice,
   * after a `rate_limited` that was not its own): `stale`, nothing changes.
   * Messages outside the range are ignored, so none is held twice.
   */
  take(reply: { messages: readonly RoomMessage[]; more?: boolean }): GapAnswer {
    if (this.#finished) return "stale";
    if (
      reply.messages.length > 0 &&
      reply.messages.every((m) => m.id >= this.#before)
    ) {
      return "stale";
    }
    const fresh = reply.messages.filter((m) =>
      m.id > this.after && m.id < this.#before
    ).slice(-(this.#limit - this.#count));
    if (fresh.length > 0) {
      this.#pages.push(fresh);
      this.#count += fresh.length;
      this.#before = fresh[0].id;
      this.#emptyPages = 0;
    } else if (reply.more) {
      // A page cut short by the server's time budget: ask again, a few times.
      this.#emptyPages++;
    }
    if (!reply.more || this.#before <= this.after + 1) {
      this.#finished = true;
    } else if (
      this.#count >= this.#limit || this.#emptyPages >= EMPTY_PAGES_ALLOWED
    ) {
      this.#finished = true;
      this.#cut = true;
    }
    return "progress";
  }

  /** Every message received, oldest first. */
  messages(): RoomMessage[] {
    return this.#pages.toReversed().flat();
  }
}
