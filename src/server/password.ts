/**
 * Password checking in constant time.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";

function digest(text: string): Uint8Array {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * Compares a given password with the server's without leaking, through
 * timing, how much of it matched: both are hashed to the same length first.
 */
export function passwordMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}
