/**
 * A busy room while a client was away, without sending hundreds of messages
 * through the rate limit: messages written straight into a stopped server's
 * database, after the ids it already gave.
 *
 * @module
 */

import type { RoomMessage } from "../protocol.ts";
import { SqliteStore } from "../src/server/store.ts";

/** The text of the `n`th seeded message: long enough that 300 pass 64 KiB. */
export function seededText(n: number): string {
  return `missed ${n} ` + "x".repeat(200);
}

/**
 * Appends `count` messages to `room` in the database at `path` (its server
 * stopped), from `from` (cycling over the nicks given), ids following the
 * highest stored; returns them, oldest first.
 */
export function seedMessages(
  path: string,
  room: string,
  count: number,
  from: string[] = ["bob", "carol"],
): RoomMessage[] {
  const store = new SqliteStore(path);
  try {
    let id = store.lastId();
    const ts = Date.now();
    const messages: RoomMessage[] = [];
    for (let n = 1; n <= count; n++) {
      messages.push({
        type: "msg",
        id: ++id,
        ts: ts + n,
        room,
        from: from[n % from.length],
        text: seededText(n),
      });
    }
    store.append(messages);
    return messages;
  } finally {
    store.close();
  }
}
