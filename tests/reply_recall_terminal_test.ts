/**
 * Replies picked with a key, and recalled messages taken back, against the
 * real server: in `chat connect` (tmux) Alt-Up and Alt-Down walk through the
 * room's messages, marking the one the next line answers, Enter sends the
 * reply and Esc puts it down; a recalled message's line becomes "(bob
 * recalled a message)" on screen and the quotes of it read "(recalled)", in
 * the terminal, in JSON and in the text dialect. Where tmux is missing the
 * terminal test says skipped.
 */

import assert from "node:assert/strict";
import type { RoomMessage, ServerEvent } from "../protocol.ts";
import { ROOT, ServerProcess, TestClient } from "./helpers.ts";
import { has, occurrences, shellQuote, Tmux, toolMissing } from "./tmux.ts";

const WIDTH = 100;
const HEIGHT = 20;

const skipReason = await toolMissing(
  "tmux",
  ["-V"],
  ".ci/run installs it with apt",
);
if (skipReason) {
  console.log(`reply_recall_terminal_test: skipped: ${skipReason}`);
}

const isMsg = (text: string) => (e: ServerEvent) =>
  e.type === "msg" && e.text === text;

/** The row that holds `text` (in plain rows), with its attributes. */
function rowWith(coloured: string[], text: string): string {
  // deno-lint-ignore no-control-regex
  const plain = coloured.map((row) => row.replace(/\x1b\[[0-9;]*m/g, ""));
  const at = plain.findIndex((r) => r.includes(text));
  assert.ok(at !== -1, `no row with ${text}:\n${plain.join("\n")}`);
  return coloured[at];
}

/** SGR 7, alone or among other attributes: reverse video. */
// deno-lint-ignore no-control-regex
const REVERSE = /\x1b\[(?:[0-9;]*;)?7(?:;[0-9;]*)?m/;

Deno.test({
  name: skipReason
    ? `chat connect: Alt-Up picks the message to reply to; a recalled message is taken off the screen (skipped: ${skipReason})`
    : "chat connect: Alt-Up/Alt-Down pick the message a reply answers, marked, Enter sends it and Esc puts it down; a recalled message and its quotes show as recalled",
  ignore: skipReason !== undefined,
  fn: async () => {
    const server = await ServerProcess.start(["--rate", "0"]);
    const tmux = new Tmux();
    const bob = await TestClient.join(server.port, "bob");
    const carol = await TestClient.join(server.port, "carol");
    const nc = await TestClient.connect(server.port);
    try {
      await nc.nextLine(); // the banner
      nc.write("nina\r\n");
      await nc.waitForLine("Welcome, nina!");
      // Older messages than the screen holds, then the three to pick from.
      for (let n = 1; n <= 30; n++) {
        bob.client.send({ type: "say", text: `old ${n}` });
      }
      bob.client.send({ type: "say", text: "did you push the fix?" });
      bob.client.send({ type: "say", text: "lunch at 12?" });
      await carol.client.waitFor(isMsg("lunch at 12?"));
      carol.client.send({ type: "say", text: "a third line" });
      const pushed = await bob.client.waitFor(
        isMsg("did you push the fix?"),
      ) as RoomMessage;
      await bob.client.waitFor(isMsg("a third line"));

      const chat = [
        Deno.execPath(),
        "run",
        "--allow-all",
        `${ROOT}main.ts`,
        "connect",
        `127.0.0.1:${server.port}`,
        "--nick",
        "alice",
      ].map(shellQuote).join(" ");
      await tmux.start(
        "alice",
        `env DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 LANG=C.UTF-8 sh -c ${
          shellQuote(`${chat}; sleep 60`)
        }`,
        WIDTH,
        HEIGHT,
      );
      await tmux.waitFor("alice", "the welcome", has("a third line"));

      // Back through the room: newest first, each marked and named above
      // the input line.
      await tmux.press("alice", "M-Up");
      await tmux.waitFor(
        "alice",
        "the newest picked",
        has("↪ replying to carol: a third line"),
      );
      await tmux.press("alice", "M-Up", "M-Up");
      await tmux.waitFor(
        "alice",
        "bob's question picked",
        has("↪ replying to bob: did you push the fix?"),
      );
      let coloured = await tmux.screen("alice", true);
      assert.match(rowWith(coloured, "bob: did you push the fix?"), REVERSE);
      assert.doesNotMatch(rowWith(coloured, "bob: lunch at 12?"), REVERSE);
      // Forward one, and back again.
      await tmux.press("alice", "M-Down");
      await tmux.waitFor(
        "alice",
        "forward one",
        has("↪ replying to bob: lunch at 12?"),
      );
      await tmux.press("alice", "M-Up");
      await tmux.waitFor(
        "alice",
        "back again",
        has("↪ replying to bob: did you push the fix?"),
      );
      await tmux.type("alice", "yes, pushed");
      await tmux.press("alice", "Enter");
      const reply = await bob.client.waitFor(isMsg("yes, pushed")) as
        & RoomMessage
        & { type: "msg" };
      assert.equal(reply.reply_to, pushed.id);
      assert.deepEqual(reply.quote, {
        id: pushed.id,
        from: "bob",
        text: "did you push the fix?",
      });
      let rows = await tmux.waitFor(
        "alice",
        "the quote above the reply",
        has("alice> yes, pushed"),
      );
      assert.ok(!rows.some((r) => r.includes("replying to")), "bar gone");
      const quoteRow = rows.findIndex((r) =>
        r.includes("↪ bob: did you push the fix?")
      );
      assert.ok(rows[quoteRow + 1].includes("alice> yes, pushed"));
      // The text dialect shows the quote on the reply's line.
      await nc.waitForLine('↪ bob: "did you push the fix?" yes, pushed');

      // Esc puts a pick down: the next line is a plain message.
      await tmux.press("alice", "M-Up");
      await tmux.waitFor("alice", "a pick", has("↪ replying to alice"));
      await tmux.press("alice", "Escape");
      await tmux.waitFor(
        "alice",
        "the pick put down",
        (r) => !r.some((row) => row.includes("replying to")),
      );
      coloured = await tmux.screen("alice", true);
      assert.doesNotMatch(rowWith(coloured, "alice> yes, pushed"), REVERSE);
      await tmux.type("alice", "just a line");
      await tmux.press("alice", "Enter");
      const plainLine = await bob.client.waitFor(isMsg("just a line"));
      assert.equal(
        (plainLine as RoomMessage).reply_to,
        undefined,
        JSON.stringify(plainLine),
      );

      // PuTTY and rxvt send Alt-Up as ESC before the arrow.
      await tmux.type("alice", "\x1b\x1b[A");
      await tmux.waitFor(
        "alice",
        "PuTTY's Alt-Up",
        has("↪ replying to alice: just a line"),
      );
      // Far back, past what the screen shows: the view scrolls to it.
      for (let n = 0; n < 30; n++) await tmux.press("alice", "M-Up");
      rows = await tmux.waitFor(
        "alice",
        "an old message in sight",
        has("↪ replying to bob: old 5"),
      );
      coloured = await tmux.screen("alice", true);
      assert.match(rowWith(coloured, "bob: old 5"), REVERSE);
      assert.ok(!rows.some((r) => r.includes("just a line")), rows.join("\n"));
      await tmux.press("alice", "Escape");
      await tmux.waitFor("alice", "back at the newest", has("just a line"));

      // bob recalls the question: its line and the quote of it change on
      // alice's screen, in place; no notice line is added below.
      bob.client.send({ type: "recall", id: pushed.id });
      rows = await tmux.waitFor(
        "alice",
        "the recalled line",
        has("(bob recalled a message)"),
      );
      assert.ok(!rows.some((r) => r.includes("did you push")), rows.join("\n"));
      const recalledQuote = rows.findIndex((r) =>
        r.includes("↪ bob: (recalled)")
      );
      assert.ok(rows[recalledQuote + 1].includes("alice> yes, pushed"));
      assert.equal(occurrences(rows, "recalled a message"), 1);
      // It can no longer be picked: Alt-Up from the newest skips it.
      for (let n = 0; n < 4; n++) await tmux.press("alice", "M-Up");
      await tmux.waitFor(
        "alice",
        "the pick past the recalled one",
        has("↪ replying to bob: lunch at 12?"),
      );
      await tmux.press("alice", "M-Up");
      await tmux.waitFor(
        "alice",
        "the one before it",
        has("↪ replying to bob: old 30"),
      );
      await tmux.press("alice", "Escape");
      await tmux.waitFor(
        "alice",
        "the pick put down again",
        (r) => !r.some((row) => row.includes("replying to")),
      );

      // /help names the keys.
      await tmux.type("alice", "/help");
      await tmux.press("alice", "Enter");
      await tmux.waitFor(
        "alice",
        "the keys in /help",
        has("Alt-Up/Alt-Down (or Ctrl-Up/Down) pick a message to reply to"),
      );

      // Late joiners: JSON and the text dialect show the quote as recalled.
      const late = await TestClient.join(server.port, "late");
      const replayed = late.welcome.history.find((m) =>
        m.text === "yes, pushed"
      )!;
      assert.deepEqual(replayed.quote, {
        id: pushed.id,
        from: "bob",
        text: "(recalled)",
        recalled: true,
      });
      await late.client.close();
      const lateText = await TestClient.connect(server.port);
      await lateText.nextLine();
      lateText.write("nora\r\n");
      await lateText.waitForLine("↪ bob: (recalled) yes, pushed");
      await lateText.close();
    } finally {
      await tmux.kill();
      await Promise.all([bob.client.close(), carol.client.close(), nc.close()]);
      await server.stop();
    }
  },
});
