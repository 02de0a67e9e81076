/**
 * The pure parts of talking: message text keeps its line breaks and nothing
 * else, `@` mentions are read once, a reply's quote is short, and the text
 * dialect indents a multi-line message and shows a quote on one line.
 */

import assert from "node:assert/strict";
import type { RoomMessage } from "../protocol.ts";
import { findMentions } from "../src/shared/mentions.ts";
import { quoteOf } from "../src/server/reply_quote.ts";
import { cleanMessageText, lineCount } from "../src/shared/sanitize.ts";
import { renderText } from "../src/shared/text_dialect.ts";

const message = (text: string, extra: Partial<RoomMessage> = {}) => ({
  type: "msg" as const,
  id: 7,
  ts: new Date(2026, 11, 1, 12, 1).getTime(),
  room: "lobby",
  from: "bob",
  text,
  ...extra,
});

Deno.test("message text keeps \\n, drops \\r and every other control, and trims blank edges", () => {
  assert.equal(
    cleanMessageText("\n first\r\nsecond\x1b[2J\u202e\tthird \n\n"),
    "first\nsecond[2J third",
  );
  assert.equal(lineCount("a\nb\n\nc"), 4);
  assert.equal(lineCount("one"), 1);
});

Deno.test("@names are read outside words; @all and @全体成员 call everyone", () => {
  assert.deepEqual(findMentions("@bob hi @小明, mail me@example.org"), {
    nicks: ["bob", "小明"],
    all: false,
  });
  assert.deepEqual(findMentions("@ALL come"), { nicks: [], all: true });
  assert.deepEqual(findMentions("@全体成员 开会"), { nicks: [], all: true });
});

Deno.test("a quote is the sender and the first 50 characters on one line, … when cut", () => {
  assert.deepEqual(quoteOf(message("short\nreply")), {
    id: 7,
    from: "bob",
    text: "short reply",
  });
  const long = quoteOf(message("作".repeat(80)));
  assert.equal([...long.text].length, 50);
  assert.ok(long.text.endsWith("作…"));
});

Deno.test("the text dialect indents a multi-line message's further lines and shows a reply's quote on its line", () => {
  assert.equal(
    renderText(message("roses are red\nviolets are blue")),
    "12:01 bob: roses are red\n           violets are blue\n",
  );
  assert.equal(
    renderText(
      message("yes", {
        reply_to: 3,
        quote: { id: 3, from: "alice", text: "did you push…" },
      }),
    ),
    '12:01 bob: ↪ alice: "did you push…" yes\n',
  );
  assert.equal(
    renderText(message("a\nb", { me: true }), { showRoom: true }),
    "12:01 [lobby] * bob a\n" + " ".repeat(20) + "b\n",
  );
});
