/**
 * Running a group from the terminal client, in tmux against the real
 * server: the owner signs in with its password, sees its role, the pinned
 * notice, a mute, roles in /who, what /help offers it, and a recall. Where
 * tmux is missing the test says skipped.
 */

import assert from "node:assert/strict";
import {
  ROOT,
  runChat,
  ServerProcess,
  tempDir,
  TestClient,
} from "./helpers.ts";
import { has, shellQuote, Tmux, toolMissing } from "./tmux.ts";

const skipReason = await toolMissing(
  "tmux",
  ["-V"],
  ".ci/run installs it with apt",
);
if (skipReason) console.log(`moderation_terminal_test: skipped: ${skipReason}`);

Deno.test({
  name: skipReason
    ? `the owner runs the room from chat connect: role, notice, mute, /who, /help, recall (skipped: ${skipReason})`
    : "the owner runs the room from chat connect: role, notice, mute, /who, /help, recall",
  ignore: skipReason !== undefined,
  fn: async () => {
    const dir = await tempDir();
    const db = `${dir.path}/chat.db`;
    const made = await runChat(
      ["account", "add", "olga", "--role", "owner", "--db", db],
      "olga-pass\n",
    );
    assert.equal(made.code, 0, made.stderr);
    const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
    const tmux = new Tmux();
    let carol: TestClient | undefined;
    try {
      carol = (await TestClient.join(server.port, "carol")).client;
      const chat = [
        Deno.execPath(),
        "run",
        "--allow-all",
        `${ROOT}main.ts`,
        "connect",
        `127.0.0.1:${server.port}`,
        "--nick",
        "olga",
        "--password",
        "olga-pass",
      ].map(shellQuote).join(" ");
      await tmux.start(
        "olga",
        `env DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 LANG=C.UTF-8 sh -c ${
          shellQuote(`${chat}; echo "[exited $?]"; sleep 60`)
        }`,
        100,
        30,
      );
      await tmux.waitFor("olga", "the welcome", has("Welcome, olga!"));
      await tmux.waitFor("olga", "the role", has("You are the owner of lobby"));

      await tmux.type("olga", "/notice Exam on Monday");
      await tmux.press("olga", "Enter");
      await tmux.waitFor(
        "olga",
        "the notice",
        has("Notice of lobby (by olga): Exam on Monday"),
      );
      await carol.waitFor((e) => e.type === "notice");

      await tmux.type("olga", "/mute carol 10m");
      await tmux.press("olga", "Enter");
      await tmux.waitFor(
        "olga",
        "the mute",
        has("carol was muted for 10 minutes by olga"),
      );
      carol.send({ type: "say", text: "muted words" });
      const refusal = await carol.waitFor((e) => e.type === "error");
      assert.match(JSON.stringify(refusal), /"code":"muted"/);

      await tmux.type("olga", "/who");
      await tmux.press("olga", "Enter");
      await tmux.waitFor(
        "olga",
        "roles in /who",
        has("In lobby (2): carol, olga (owner)"),
      );

      await tmux.type("olga", "/help");
      await tmux.press("olga", "Enter");
      await tmux.waitFor("olga", "the owner's /help", has("/op NICK"));

      await tmux.type("olga", "/unmute carol");
      await tmux.press("olga", "Enter");
      await tmux.waitFor(
        "olga",
        "the unmute",
        has("carol was unmuted by olga"),
      );
      carol.send({ type: "say", text: "a regrettable line" });
      await tmux.waitFor("olga", "carol's line", has("carol: a regrettable"));
      await tmux.type("olga", "/recall carol");
      await tmux.press("olga", "Enter");
      await tmux.waitFor(
        "olga",
        "the recall",
        has("olga recalled a message of carol"),
      );
      await carol.waitFor((e) => e.type === "recall");
    } finally {
      await tmux.kill();
      await carol?.close();
      await server.stop();
      await dir.remove();
    }
  },
});
