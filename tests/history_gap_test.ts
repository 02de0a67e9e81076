/** Filling what a bounded welcome left out, as pure data: pages in, one ordered run out. */

import assert from "node:assert/strict";
import type { RoomMessage } from "../protocol.ts";
import { HistoryGap } from "../src/client/history_gap.ts";

function msg(id: number): RoomMessage {
  return {
    type: "msg",
    id,
    ts: 1000 + id,
    room: "lobby",
    from: "bob",
    text: `m${id}`,
  };
}

function range(from: number, to: number): RoomMessage[] {
  return Array.from({ length: to - from + 1 }, (_, i) => msg(from + i));
}

Deno.test("a gap is filled from its top down, and its pages come out oldest first, each message once", () => {
  const gap = new HistoryGap("lobby", 40, 90, 10_000);
  assert.deepEqual(gap.request(), {
    type: "history",
    room: "lobby",
    after: 40,
    before: 90,
    limit: 1000,
  });
  assert.equal(gap.take({ messages: range(60, 89), more: true }), "progress");
  assert.equal(gap.finished, false);
  assert.equal(
    gap.request().before,
    60,
    "the next page ends at the first id received",
  );
  assert.equal(gap.take({ messages: range(41, 59), more: false }), "progress");
  assert.equal(gap.finished, true);
  assert.equal(gap.cut, false);
  assert.deepEqual(
    gap.messages().map((m) => m.id),
    range(41, 89).map((m) => m.id),
  );
});

Deno.test("a repeated answer to an earlier page is recognised as stale and changes nothing", () => {
  const gap = new HistoryGap("lobby", 0, 100, 10_000);
  gap.take({ messages: range(80, 99), more: true });
  assert.equal(gap.take({ messages: range(80, 99), more: true }), "stale");
  assert.equal(gap.count, 20);
  assert.equal(gap.request().before, 80);
});

Deno.test("messages outside the range are never held, so none comes twice", () => {
  const gap = new HistoryGap("lobby", 10, 20, 10_000);
  gap.take({ messages: [...range(5, 25)], more: false });
  assert.deepEqual(
    gap.messages().map((m) => m.id),
    range(11, 19).map((m) => m.id),
  );
});

Deno.test("a gap stops at its limit, keeps the newest, and says it was cut", () => {
  const gap = new HistoryGap("lobby", 0, 1000, 25);
  assert.equal(gap.request().limit, 25);
  gap.take({ messages: range(980, 999), more: true });
  assert.equal(
    gap.request().limit,
    5,
    "only what is still wanted is asked for",
  );
  gap.take({ messages: range(900, 979), more: true });
  assert.equal(gap.finished, true);
  assert.equal(gap.cut, true);
  assert.deepEqual(
    gap.messages().map((m) => m.id),
    range(975, 999).map((m) => m.id),
  );
});

Deno.test("empty pages that still say more end the fill after a few, cut", () => {
  const gap = new HistoryGap("lobby", 0, 50, 1000);
  for (let i = 0; i < 3; i++) {
    assert.equal(gap.finished, false);
    gap.take({ messages: [], more: true });
  }
  assert.equal(gap.finished, true);
  assert.equal(gap.cut, true);
});

Deno.test("a range with no id in it is finished before any page is asked for", () => {
  assert.equal(new HistoryGap("lobby", 41, 42, 1000).finished, true);
  assert.equal(new HistoryGap("lobby", 41, 43, 1000).finished, false);
});
