/**
 * Addresses that opened the web page lately: their new connections wait
 * longer before the text door's banner.
 *
 * Browsers open sockets before they need them (Chrome preconnects when a
 * page is likely to be loaded again, or while a URL is typed) and may send
 * their request seconds later. A banner sent into such a socket ruins the
 * page load (Chrome shows ERR_INVALID_HTTP_RESPONSE). A person on `nc`
 * from the same address waits a little longer for the banner; a program
 * that speaks first (`chat connect`, IRC, a tutorial script) never waits.
 *
 * @module
 */

import { ROUTER_TIMINGS } from "../../shared/limits.ts";

/** Remembers, boundedly, which addresses made an HTTP request, and when. */
export class RecentBrowsers {
  #seen = new Map<string, number>();
  #now: () => number;

  /** @param now the clock. @default {Date.now} */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Notes that `address` just made an HTTP request. */
  saw(address: string): void {
    this.#seen.delete(address); // Re-inserted last: the map is oldest first.
    this.#seen.set(address, this.#now());
    if (this.#seen.size > ROUTER_TIMINGS.browsersRemembered) {
      const oldest = this.#seen.keys().next().value!;
      this.#seen.delete(oldest);
    }
  }

  /** How long a new connection from `address` waits before the banner. */
  openingWaitMs(address: string): number {
    const at = this.#seen.get(address);
    if (at === undefined) return ROUTER_TIMINGS.openingWaitMs;
    if (this.#now() - at > ROUTER_TIMINGS.browserMemoryMs) {
      this.#seen.delete(address);
      return ROUTER_TIMINGS.openingWaitMs;
    }
    return ROUTER_TIMINGS.browserOpeningWaitMs;
  }
}
