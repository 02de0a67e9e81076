/**
 * Names for members who never chose one: tutorial programs whose first send
 * is already a message, and UDP senders. Pure; the caller says which names are
 * free (the hub's `checkNick`).
 *
 * @module
 */

import { PROTOCOL_LIMITS } from "../shared/limits.ts";

/** Gives up looking for a free name after this many tries (never reached with a bounded member count). */
const MAX_TRIES = 100_000;

/**
 * Hands out `guest-1`, `guest-2`, … and free variants of taken nicknames.
 *
 * @example
 * ```ts
 * const guests = new GuestNames();
 * guests.next(() => true); // → "guest-1"
 * guests.variant("alice", (n) => n !== "alice-2"); // → "alice-3"
 * ```
 */
export class GuestNames {
  #next = 1;

  /** The next guest name `isFree` accepts. */
  next(isFree: (nick: string) => boolean): string {
    for (let tries = 0; tries < MAX_TRIES; tries++) {
      const nick = `guest-${this.#next++}`;
      if (isFree(nick)) return nick;
    }
    return `guest-${crypto.randomUUID().slice(0, 8)}`;
  }

  /**
   * A free name close to `nick` (`alice-2`, `alice-3`, …, shortened to fit
   * the nickname limit), for a tutorial client whose name is taken: it cannot
   * answer "choose another", so it gets one.
   */
  variant(nick: string, isFree: (nick: string) => boolean): string {
    for (let n = 2; n < 1000; n++) {
      const suffix = `-${n}`;
      const base = [...nick].slice(
        0,
        PROTOCOL_LIMITS.maxNickChars - suffix.length,
      )
        .join("");
      if (isFree(base + suffix)) return base + suffix;
    }
    return this.next(isFree);
  }
}
