/**
 * Picking the message a reply answers, and taking a recalled one off the
 * screen, as pure code: the recent messages the client keeps, the screen's
 * mark and reply bar, and the conversation rewritten after a recall.
 */

import assert from "node:assert/strict";
import type { RoomMessage, ServerEvent } from "../protocol.ts";
import { RecentMessages } from "../src/client/recent_messages.ts";
import { Screen } from "../src/client/screen.ts";
import {
  type Line,
  plainText,
  renderMessage,
  replyBarLine,
  withRecall,
} from "../src/client/terminal_render.ts";

const TS = new Date(2024, 0, 1, 9, 5).getTime();
const viewer = { me: "alice", room: "lobby" };

function msg(id: number, from: string, text: string, extra = {}): RoomMessage {
  return { type: "msg", id, ts: TS, room: "lobby", from, text, ...extra };
}

const recall = (id: number, nick: string, by = nick) =>
  ({ type: "recall", ts: TS, room: "lobby", id, nick, by }) as Extract<
    ServerEvent,
    { type: "recall" }
  >;

/**
 * What a redraw leaves on each row: the text written after each
 * `ESC [ row ; 1 H`, colours stripped; SGR 7 (reverse) shown as `«…»`.
 */
function drawnRows(bytes: string): Map<number, string> {
  const rows = new Map<number, string>();
  // deno-lint-ignore no-control-regex
  const parts = bytes.split(/\x1b\[(\d+);1H/);
  for (let i = 1; i < parts.length; i += 2) {
    const text = parts[i + 1]
      // deno-lint-ignore no-control-regex
      .replace(/\x1b\[[0-9;]*7[0-9;]*m/g, "«")
      // deno-lint-ignore no-control-regex
      .replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, "");
    rows.set(Number(parts[i]), text);
  }
  return rows;
}

Deno.test("recent messages walk back and forth in id order, per room, bounded, and forget a recalled one", () => {
  const recent = new RecentMessages(3);
  recent.note(msg(5, "bob", "five"));
  recent.note(msg(9, "carol", "nine"));
  recent.note(msg(7, "bob", "seven, from a page of older history"));
  recent.note(msg(9, "carol", "nine again: kept once"));
  recent.note({ ...msg(8, "dave", "elsewhere"), room: "class" });
  assert.equal(recent.before("lobby", undefined)?.id, 9);
  assert.equal(recent.before("lobby", 9)?.id, 7);
  assert.equal(recent.before("lobby", 7)?.id, 5);
  assert.equal(recent.before("lobby", 5), undefined);
  assert.equal(recent.after("lobby", 5)?.id, 7);
  assert.equal(recent.after("lobby", 9), undefined);
  assert.equal(recent.lastFrom("lobby", "BOB")?.id, 7);
  assert.equal(recent.lastFrom("lobby", "dave"), undefined);
  recent.note(msg(11, "bob", "eleven"));
  assert.equal(recent.before("lobby", 7), undefined, "the oldest went");
  recent.forget("lobby", 11);
  assert.equal(recent.lastFrom("lobby", "bob")?.id, 7);
  const long = new RecentMessages();
  long.note(msg(1, "bob", "x".repeat(4000) + "\nmore"));
  assert.equal([...long.find("lobby", 1)!.preview].length, 60);
  assert.ok(long.find("lobby", 1)!.preview.endsWith("…"));
});

Deno.test("a recall turns the message's lines into one '(bob recalled a message)' and its quotes into '(recalled)'", () => {
  const lines: Line[] = [
    ...renderMessage(msg(1, "bob", "did you push?\nthe fix, I mean"), viewer)
      .lines,
    ...renderMessage(
      msg(2, "alice", "yes", {
        reply_to: 1,
        quote: { id: 1, from: "bob", text: "did you push? the fix, I mean" },
      }),
      viewer,
    ).lines,
    ...renderMessage(msg(3, "carol", "unrelated"), viewer).lines,
  ];
  assert.deepEqual(lines.map(plainText), [
    "09:05 bob: did you push?",
    "           the fix, I mean",
    "      ↪ bob: did you push? the fix, I mean",
    "09:05 alice> yes",
    "09:05 carol: unrelated",
  ]);
  const after = withRecall(lines, recall(1, "bob"))!;
  assert.deepEqual(after.map(plainText), [
    "09:05 -- (bob recalled a message)",
    "      ↪ bob: (recalled)",
    "09:05 alice> yes",
    "09:05 carol: unrelated",
  ]);
  // The recalled line can no longer be picked for a reply.
  assert.equal(after[0].message, undefined);
  // An admin's recall of a reply takes its quote with it.
  assert.deepEqual(
    withRecall(after, recall(2, "alice", "olga"))!.map(plainText),
    [
      "09:05 -- (bob recalled a message)",
      "09:05 -- (olga recalled a message of alice)",
      "09:05 carol: unrelated",
    ],
  );
  assert.equal(withRecall(lines, recall(99, "bob")), undefined);
  // A quote already recalled (from history) reads the same.
  const replayed = renderMessage(
    msg(4, "dave", "late", {
      reply_to: 1,
      quote: { id: 1, from: "bob", text: "(recalled)", recalled: true },
    }),
    viewer,
  );
  assert.equal(plainText(replayed.lines[0]), "      ↪ bob: (recalled)");
});

Deno.test("the screen marks the picked message in reverse video, scrolls back to it, and shows the reply bar above the input", () => {
  const screen = new Screen({ columns: 50, rows: 8, colour: false });
  screen.enter();
  for (let id = 1; id <= 20; id++) {
    screen.addLines(renderMessage(msg(id, "bob", `line ${id}`), viewer).lines);
  }
  screen.setStatus({ spans: [{ text: " status" }], indent: 0 });
  // Six message rows: 15 … 20 are on screen.
  let rows = drawnRows(screen.redraw());
  assert.equal(rows.get(6), "09:05 bob: line 20");
  assert.ok(rows.get(7)!.includes("status"));

  // The bar takes a row: five message rows, the status above the bar.
  const target = { from: "bob", preview: "line 18" };
  rows = drawnRows(screen.setBar(replyBarLine(target)));
  assert.equal(rows.get(5), "09:05 bob: line 20");
  assert.ok(rows.get(6)!.includes("status"));
  assert.match(rows.get(7)!, /^↪ replying to bob: line 18 {2}\(Enter sends/);

  rows = drawnRows(screen.mark(18));
  assert.equal(rows.get(3), "«09:05 «bob: line 18");
  assert.equal(rows.get(5), "09:05 bob: line 20");

  // Far back: the view ends two rows below the marked message.
  rows = drawnRows(screen.mark(4));
  assert.deepEqual([...rows.entries()].filter(([r]) => r <= 5), [
    [1, "09:05 bob: line 2"],
    [2, "09:05 bob: line 3"],
    [3, "«09:05 «bob: line 4"],
    [4, "09:05 bob: line 5"],
    [5, "09:05 bob: line 6"],
  ]);
  // A new message keeps it in sight rather than scrolling it away.
  rows = drawnRows(
    screen.addLines(renderMessage(msg(21, "bob", "line 21"), viewer).lines),
  );
  assert.equal(rows.get(3), "«09:05 «bob: line 4");

  // Put down: back to the newest, no bar.
  screen.mark(undefined);
  rows = drawnRows(screen.setBar(undefined));
  assert.equal(rows.get(6), "09:05 bob: line 21");
  assert.ok(rows.get(7)!.includes("status"));
});
