/**
 * Staying connected, as pure data: backoff, resume point and deduplication,
 * the bounded outbox.
 */

import assert from "node:assert/strict";
import type { RoomMessage } from "../protocol.ts";
import { Backoff, Outbox, ResumeState } from "../src/client/reconnect.ts";

function msg(id: number, ts = 1000 + id): RoomMessage {
  return { type: "msg", id, ts, room: "lobby", from: "bob", text: `m${id}` };
}

Deno.test("backoff starts at 1 s, doubles, and stops at 30 s", () => {
  const backoff = new Backoff({ random: () => 0.5 });
  const waits = Array.from({ length: 8 }, () => backoff.next());
  assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  backoff.reset();
  assert.equal(backoff.next(), 1000, "a successful connection starts over");
});

Deno.test("backoff jitter stays within ±20% and never above the maximum", () => {
  const low = new Backoff({ random: () => 0 });
  const high = new Backoff({ random: () => 0.999999 });
  assert.equal(low.next(), 800);
  assert.equal(high.next(), 1200);
  for (let i = 0; i < 10; i++) high.next();
  assert.equal(high.next(), 30000);
});

Deno.test("the resume point is the largest message id seen", () => {
  const resume = new ResumeState();
  assert.equal(resume.since, undefined);
  resume.accept(msg(5));
  resume.accept(msg(3));
  assert.equal(resume.since, 5);
});

Deno.test("each room resumes after the largest id seen in it, not in any room", () => {
  const resume = new ResumeState();
  assert.equal(resume.sinceFor("lobby"), undefined, "never joined");
  resume.joined("class");
  assert.equal(resume.sinceFor("class"), 0, "joined empty: everything is new");
  resume.accept(msg(7));
  // A flush sends room by room: lobby's 7 may arrive before class's 6.
  resume.accept({ ...msg(6), room: "class" });
  resume.joined("class");
  assert.equal(resume.sinceFor("lobby"), 7);
  assert.equal(resume.sinceFor("class"), 6, "joined again keeps its place");
  assert.equal(resume.since, 7);
});

Deno.test("a message seen before is recognised and dropped, once per id and time", () => {
  const resume = new ResumeState();
  assert.equal(resume.accept(msg(1)), true);
  assert.equal(resume.accept(msg(1)), false, "the same message replayed");
  assert.equal(
    resume.accept(msg(1, 99_999)),
    true,
    "a restarted, empty server reusing id 1 is new news",
  );
});

Deno.test("deduplication memory is bounded", () => {
  const resume = new ResumeState(3);
  for (const id of [1, 2, 3, 4]) resume.accept(msg(id));
  assert.equal(resume.accept(msg(4)), false);
  assert.equal(resume.accept(msg(1)), true, "the oldest was forgotten");
});

Deno.test("the outbox keeps order and refuses beyond its bound", () => {
  const outbox = new Outbox(2);
  assert.equal(
    outbox.push({ frame: { type: "say", text: "a" }, typed: "a" }),
    true,
  );
  assert.equal(
    outbox.push({ frame: { type: "say", text: "b" }, typed: "b" }),
    true,
  );
  assert.equal(
    outbox.push({ frame: { type: "say", text: "c" }, typed: "c" }),
    false,
  );
  assert.equal(outbox.size, 2);
  assert.equal(outbox.peek()?.typed, "a");
  assert.equal(outbox.shift()?.typed, "a");
  assert.equal(outbox.shift()?.typed, "b");
  assert.equal(outbox.shift(), undefined);
});
