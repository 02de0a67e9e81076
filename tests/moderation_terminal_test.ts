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

      // Durations past 30 days, or that are not durations, are refused.
      await tmux.type("olga", "/mute carol 31d");
      await tmux.press("olga", "Enter");
      await tmux.waitFor(
        "olga",
        "too long a mute",
        has("a duration is like 30s, 10m, 2h or 7d, at most 30 days"),
      );
      await tmux.type("olga", "/mute carol soon");
      await tmux.press("olga", "Enter");
      await tmux.waitFor(
        "olga",
        "not a duration",
        has("usage: /mute NICK [DURATION]"),
      );
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

/** `chat connect` as `nick` (with `password`, if any) in tmux session `name`. */
function connectCommand(port: number, nick: string, password?: string) {
  const chat = [
    Deno.execPath(),
    "run",
    "--allow-all",
    `${ROOT}main.ts`,
    "connect",
    `127.0.0.1:${port}`,
    "--nick",
    nick,
    ...(password ? ["--password", password] : []),
  ].map(shellQuote).join(" ");
  return `env DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 LANG=C.UTF-8 sh -c ${
    shellQuote(`${chat}; echo "[exited $?]"; sleep 60`)
  }`;
}

Deno.test({
  name: skipReason
    ? `a member meets the rules in chat connect (skipped: ${skipReason})`
    : "a member meets the rules in chat connect: registers, is refused moderation, cannot act on the owner as an admin, recalls within 2 minutes and not after, is muted until it expires, kicked, banned across a restart, and reads the notice on coming back",
  ignore: skipReason !== undefined,
  fn: async () => {
    const dir = await tempDir();
    const db = `${dir.path}/chat.db`;
    const made = await runChat(
      ["account", "add", "olga", "--role", "owner", "--db", db],
      "olga-pass\n",
    );
    assert.equal(made.code, 0, made.stderr);
    // A message of tom's from three minutes ago, as the server stores one.
    {
      const { DatabaseSync } = await import("node:sqlite");
      const raw = new DatabaseSync(db);
      raw.exec(
        "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, room TEXT NOT NULL, nick TEXT NOT NULL, text TEXT NOT NULL, me INTEGER NOT NULL DEFAULT 0)",
      );
      raw.prepare(
        "INSERT INTO messages (id, ts, room, nick, text, me) VALUES (1, ?, 'lobby', 'tom', 'three minutes old', 0)",
      ).run(Date.now() - 3 * 60 * 1000);
      raw.close();
    }
    let server = await ServerProcess.start(["--db", db, "--rate", "0"]);
    const tmux = new Tmux();
    let olga: TestClient | undefined;
    const enter = async (line: string) => {
      await tmux.type("tom", line);
      await tmux.press("tom", "Enter");
    };
    const see = (what: string, text: string | RegExp) =>
      tmux.waitFor(
        "tom",
        what,
        (rows) =>
          rows.some((r) =>
            typeof text === "string" ? r.includes(text) : text.test(r)
          ),
      );
    try {
      olga = (await TestClient.join(server.port, "olga", {
        password: "olga-pass",
      })).client;
      await tmux.start("tom", connectCommand(server.port, "tom"), 110, 40);
      await see("the welcome", "Welcome, tom!");

      await enter("/register tom-pass-1");
      await see("the registration", "tom is registered");
      await enter("/mute olga 10m");
      await see(
        "a member's refusal",
        "only the owner and admins of lobby may /mute",
      );
      await enter("/op tom");
      await see("the owner's command", "only the owner may /op");

      olga.send({ type: "op", nick: "tom" });
      await see("made an admin", "tom is now an admin of lobby (by olga)");
      await enter("/kick olga");
      await see("the owner untouchable", "an admin cannot /kick the owner");
      olga.send({ type: "say", text: "the owner's words" });
      await see("olga's message", "olga: the owner's words");
      await enter("/recall olga");
      await see("an admin's recall", "tom recalled a message of olga");
      await olga.waitFor((e) => e.type === "recall");
      olga.send({ type: "deop", nick: "tom" });
      await see("an admin no more", "tom is no longer an admin of lobby");

      await enter("a typo here");
      await olga.waitFor((e) => e.type === "msg" && e.text === "a typo here");
      await enter("/recall");
      await see("the own recall", "(tom recalled a message)");
      await enter("/recall 1");
      await see("too late", "recalled by its sender for 2 minutes only");

      olga.send({ type: "mute", nick: "tom", seconds: 3 });
      await see("the mute", "tom was muted for 3 seconds by olga");
      const mutedAt = Date.now();
      await enter("can I talk?");
      await see("the time left", /you are muted in lobby for \d seconds? more/);
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, 3300 - (Date.now() - mutedAt)))
      );
      await enter("free again");
      await olga.waitFor((e) => e.type === "msg" && e.text === "free again");
      olga.send({ type: "muteall", on: true });
      await see("everyone muted", "olga muted everyone");
      await enter("and now?");
      await see("muteall's refusal", "everyone is muted in lobby");
      olga.send({ type: "muteall", on: false });
      await see("everyone free", "olga let everyone speak again");

      olga.send({ type: "kick", nick: "tom", reason: "a break" });
      await see("the kick", "tom was kicked by olga (a break)");
      await enter("/join lobby");
      await olga.waitFor((e) => e.type === "join" && e.nick === "tom");
      olga.send({ type: "ban", nick: "tom", reason: "enough" });
      await see("the ban", "tom was banned by olga (enough)");
      await enter("/join lobby");
      await see(
        "kept out",
        "you are banned from lobby by olga, for ever (enough)",
      );
      await enter("/quit");
      await see("the exit", "[exited");
      await tmux.kill();
      await olga.close();
      olga = undefined;
      await server.stop();

      // After a restart: still banned, then let back in, notice on entering.
      server = await ServerProcess.start(["--db", db, "--rate", "0"]);
      olga = (await TestClient.join(server.port, "olga", {
        password: "olga-pass",
      })).client;
      olga.send({ type: "notice", text: "Exam on Monday" });
      await olga.waitFor((e) => e.type === "notice");
      await tmux.start(
        "tom",
        connectCommand(server.port, "tom", "tom-pass-1"),
        110,
        40,
      );
      await see("banned after a restart", "you are banned from lobby by olga");
      await tmux.kill();
      olga.send({ type: "unban", nick: "tom" });
      await olga.waitFor((e) => e.type === "mod" && e.action === "unban");
      await tmux.start(
        "tom",
        connectCommand(server.port, "tom", "tom-pass-1"),
        110,
        40,
      );
      await see("back in", "Welcome, tom!");
      const back = await see("the notice", "Notice (by olga): Exam on Monday");
      // The recalled messages are gone; the one too old to recall is not.
      const screen = back.join("\n");
      assert.match(
        screen,
        /Notice \(by olga\): Exam on Monday\n.*Recent messages:\n.*three minutes old\n.*free again/,
      );
      assert.doesNotMatch(screen, /a typo here|the owner's words/);
    } finally {
      await tmux.kill();
      await olga?.close();
      await server.stop();
      await dir.remove();
    }
  },
});
