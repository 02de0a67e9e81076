/**
 * Talking like a real group in `chat connect`, in a real terminal (tmux):
 * a paste is one message, Ctrl-J adds a line break, a 10,000-character paste
 * is kept in the input line (nothing lost), `/reply NICK` quotes, a mention
 * from another room says where, `@` Tab completes, `/search` shows results.
 * Where tmux is missing the test says skipped.
 */

import assert from "node:assert/strict";
import type { RoomMessage, ServerEvent } from "../protocol.ts";
import { ROOT, ServerProcess, TestClient } from "./helpers.ts";
import { has, shellQuote, Tmux, toolMissing } from "./tmux.ts";

const WIDTH = 100;
const HEIGHT = 30;

const skipReason = await toolMissing(
  "tmux",
  ["-V"],
  ".ci/run installs it with apt",
);
if (skipReason) console.log(`talk_terminal_e2e_test: skipped: ${skipReason}`);

const isMsg = (e: ServerEvent) => e.type === "msg";

Deno.test({
  name: skipReason
    ? `chat connect in tmux: pastes, line breaks, replies, mentions, search (skipped: ${skipReason})`
    : "chat connect in tmux: a paste is one message, a 10,000-character paste is not lost, /reply quotes, a mention from another room says where, /search",
  ignore: skipReason !== undefined,
  fn: async () => {
    const server = await ServerProcess.start(["--rate", "0"]);
    const tmux = new Tmux();
    const bob = await TestClient.join(server.port, "bob");
    try {
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
      await tmux.waitFor("alice", "alice's welcome", has("Welcome, alice!"));

      // A three-line paste is one message, sent with Enter.
      await tmux.paste("alice", "line one\nline two\nline three");
      await tmux.press("alice", "Enter");
      const pasted = await bob.client.waitFor(isMsg) as RoomMessage;
      assert.equal(pasted.text, "line one\nline two\nline three");
      const rows = await tmux.waitFor(
        "alice",
        "the indented continuation",
        has("line three"),
      );
      const first = rows.find((r) => r.includes("alice> line one"))!;
      const second = rows.find((r) => r.includes("line two"))!;
      assert.equal(second.indexOf("line two"), first.indexOf("line one"));

      // Ctrl-J adds a line break while typing.
      await tmux.type("alice", "first");
      await tmux.press("alice", "C-j");
      await tmux.type("alice", "second");
      await tmux.press("alice", "Enter");
      const typed = await bob.client.waitFor(isMsg) as RoomMessage;
      assert.equal(typed.text, "first\nsecond");

      // 10,000 characters: refused by the client, kept in the input line.
      const long = "p".repeat(6100) + "k".repeat(3896) + "TAIL";
      await tmux.paste("alice", long);
      await tmux.press("alice", "Enter");
      await tmux.waitFor(
        "alice",
        "the too-long error",
        has("not sent: 10000 characters"),
      );
      const bottom = (await tmux.screen("alice"))[HEIGHT - 1];
      assert.match(bottom, /kTAIL\s*$/, "the paste is still in the input line");
      // Cut the first 6,100 characters: what is left is sent, intact.
      await tmux.press("alice", "Home");
      await tmux.run("send-keys", "-t", "=alice:", "-N", "6100", "Delete");
      await tmux.press("alice", "Enter");
      const rest = await bob.client.waitFor(isMsg, 15_000) as RoomMessage;
      assert.equal(rest.text, "k".repeat(3896) + "TAIL");

      // /reply answers bob's last message, and shows its quote.
      bob.client.send({ type: "say", text: "did you push the homework?" });
      const question = await bob.client.waitFor(isMsg) as RoomMessage;
      await tmux.waitFor("alice", "bob's question", has("bob: did you push"));
      await tmux.type("alice", "/reply bob yes I did");
      await tmux.press("alice", "Enter");
      const reply = await bob.client.waitFor(isMsg) as RoomMessage;
      assert.equal(reply.reply_to, question.id);
      assert.equal(reply.text, "yes I did");
      const shown = await tmux.waitFor(
        "alice",
        "the quote above the answer",
        has("alice> yes I did"),
      );
      const answerRow = shown.findIndex((r) => r.includes("alice> yes I did"));
      assert.match(shown[answerRow - 1], /↪ bob: did you push the homework\?/);

      // @ then Tab completes a mention.
      await tmux.type("alice", "hi @bo");
      await tmux.press("alice", "Tab");
      await tmux.waitFor(
        "alice",
        "the completed mention",
        (r) => /alice> hi @bob\s*$/.test(r[HEIGHT - 1]),
      );
      await tmux.press("alice", "C-u");

      // A mention in the lobby while alice is in class says where it is.
      await tmux.type("alice", "/join class");
      await tmux.press("alice", "Enter");
      await tmux.waitFor("alice", "the class room", has("[class] alice"));
      bob.client.send({ type: "say", text: "@alice look at this" });
      await tmux.waitFor(
        "alice",
        "the mention notice",
        has("bob mentioned you in lobby"),
      );

      // /search shows time, room and sender.
      await tmux.type("alice", "/search homework");
      await tmux.press("alice", "Enter");
      const found = await tmux.waitFor(
        "alice",
        "the search results",
        has('Search "homework": 1 found'),
      );
      assert.ok(
        found.some((r) =>
          /\d\d-\d\d \d\d:\d\d \[lobby\] bob: did you push the homework\?/
            .test(r)
        ),
        found.join("\n"),
      );
    } finally {
      await tmux.kill();
      bob.client.close();
      await server.stop();
    }
  },
});
