/**
 * irssi, the IRC client many classmates already live in, driven in tmux as
 * a person would: it joins the class's rooms, talks with a JSON member in
 * Chinese, sends a private message, two channels at once and sees the history.
 */

import assert from "node:assert/strict";
import type { ServerEvent } from "../protocol.ts";
import { runChat, ServerProcess, tempDir, TestClient } from "./helpers.ts";
import { has, Tmux, toolMissing } from "./tmux.ts";

const INSTALL = ".ci/run installs it with apt";
const irssiMissing = (await toolMissing("tmux", ["-V"], INSTALL)) ??
  (await toolMissing("irssi", ["--version"], INSTALL));
if (irssiMissing) console.log(`irssi_e2e_test skipped: ${irssiMissing}`);

const isMsg = (from: string, text: string) => (e: ServerEvent) =>
  e.type === "msg" && e.from === from && e.text === text;

Deno.test({
  name: irssiMissing
    ? `irssi in tmux joins #lobby, chats in Chinese both ways, sends a private message, two channels at once (skipped: ${irssiMissing})`
    : "irssi in tmux joins #lobby, chats in Chinese both ways, sends a private message, two channels at once",
  ignore: irssiMissing !== undefined,
  async fn() {
    const server = await ServerProcess.start(["--name", "classchat"]);
    const home = await tempDir();
    const tmux = new Tmux();
    try {
      const { client: alice } = await TestClient.join(server.port, "alice");
      alice.send({ type: "say", text: "作业在第三页 (before irssi came)" });
      await alice.waitFor(isMsg("alice", "作业在第三页 (before irssi came)"));
      // A fresh home: no config of the machine's user, no autoconnect.
      await tmux.startProgram(
        "irssi",
        [
          "irssi",
          `--home=${home.path}`,
          "-n",
          "bob",
          "-c",
          "127.0.0.1",
          "-p",
          String(server.port),
        ],
        { HOME: home.path, LANG: "C.UTF-8", TERM: "screen-256color" },
        100,
        30,
      );
      // The server puts every newcomer in the lobby: irssi opens its window.
      await tmux.waitFor("irssi", "the #lobby window", has("#lobby"), 20_000);
      await alice.waitFor((e) => e.type === "join" && e.nick === "bob", 10_000);
      await tmux.press("irssi", "M-2"); // The #lobby window.
      await tmux.waitFor(
        "irssi",
        "the history replayed",
        has("作业在第三页 (before irssi came)"),
      );
      await tmux.type("irssi", "大家好，我是 bob 👋");
      await tmux.press("irssi", "Enter");
      await alice.waitFor(isMsg("bob", "大家好，我是 bob 👋"), 10_000);

      alice.send({ type: "say", text: "欢迎 bob!" });
      await tmux.waitFor("irssi", "alice's message", has("欢迎 bob!"));

      await tmux.type("irssi", "/msg alice 私聊 ok?");
      await tmux.press("irssi", "Enter");
      const dm = await alice.waitFor((e) => e.type === "dm", 10_000);
      assert.equal(dm.type === "dm" && dm.text, "私聊 ok?");
      assert.equal(dm.type === "dm" && dm.from, "bob");

      await tmux.type("irssi", "/me waves");
      await tmux.press("irssi", "Enter");
      const action = await alice.waitFor(
        (e) => e.type === "msg" && e.me === true,
        10_000,
      );
      assert.equal(action.type === "msg" && action.text, "waves");

      // A second channel at once: the lobby stays.
      alice.send({ type: "join", room: "class" });
      await alice.waitFor((e) => e.type === "welcome" && e.room === "class");
      await tmux.type("irssi", "/join #class");
      await tmux.press("irssi", "Enter");
      await tmux.waitFor("irssi", "the #class window", has("#class"));
      await tmux.type("irssi", "第二个频道");
      await tmux.press("irssi", "Enter");
      const inClass = await alice.waitFor(isMsg("bob", "第二个频道"), 10_000);
      assert.equal(inClass.type === "msg" && inClass.room, "class");
      alice.send({ type: "say", room: "lobby", text: "lobby still works" });
      await tmux.press("irssi", "M-2");
      await tmux.waitFor(
        "irssi",
        "the lobby message",
        has("lobby still works"),
      );

      await tmux.type("irssi", "/quit bye all");
      await tmux.press("irssi", "Enter");
      const left = await alice.waitFor(
        (e) => e.type === "leave" && e.nick === "bob",
        10_000,
      );
      assert.ok(left);
      await alice.close();
    } finally {
      await tmux.kill();
      await server.stop();
      await home.remove();
    }
  },
});

const isMod = (action: string) => (e: ServerEvent) =>
  e.type === "mod" && e.action === action;

Deno.test({
  name: irssiMissing
    ? `irssi as the owner runs the room with its own commands (skipped: ${irssiMissing})`
    : "irssi as the owner (its account password as the server password) is @ and runs the room with /topic, /mode +m, /kick, /ban and /mode -b",
  ignore: irssiMissing !== undefined,
  async fn() {
    const dir = await tempDir();
    const db = `${dir.path}/chat.db`;
    const made = await runChat(
      ["account", "add", "olga", "--role", "owner", "--db", db],
      "olga-pass\n",
    );
    assert.equal(made.code, 0, made.stderr);
    const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
    const home = await tempDir();
    const tmux = new Tmux();
    let gus: TestClient | undefined;
    try {
      gus = (await TestClient.join(server.port, "gus")).client;
      await tmux.startProgram(
        "irssi",
        [
          "irssi",
          `--home=${home.path}`,
          "-n",
          "olga",
          "-w",
          "olga-pass",
          "-c",
          "127.0.0.1",
          "-p",
          String(server.port),
        ],
        { HOME: home.path, LANG: "C.UTF-8", TERM: "screen-256color" },
        110,
        30,
      );
      await tmux.waitFor("irssi", "the #lobby window", has("#lobby"), 20_000);
      await gus.waitFor((e) => e.type === "join" && e.nick === "olga", 10_000);
      await tmux.press("irssi", "M-2");
      await tmux.waitFor("irssi", "olga as an operator", has("[@olga]"));

      const command = async (line: string) => {
        await tmux.type("irssi", line);
        await tmux.press("irssi", "Enter");
      };
      await command("/topic Homework due Friday");
      const pinned = await gus.waitFor((e) => e.type === "notice", 10_000);
      assert.equal(
        pinned.type === "notice" && pinned.text,
        "Homework due Friday",
      );
      await tmux.waitFor(
        "irssi",
        "the topic change",
        has("olga changed the topic of #lobby to: Homework due Friday"),
      );
      await command("/mode #lobby +m");
      assert.equal((await gus.waitFor(isMod("muteall"))).type, "mod");
      gus.send({ type: "say", text: "may I?" });
      assert.match(
        JSON.stringify(await gus.waitFor((e) => e.type === "error")),
        /"code":"muted"/,
      );
      await command("/mode #lobby -m");
      await gus.waitFor(isMod("muteall"));

      await command("/kick gus a break");
      const kick = await gus.waitFor(isMod("kick"), 10_000);
      assert.equal(kick.type === "mod" && kick.reason, "a break");
      await tmux.waitFor(
        "irssi",
        "the kick",
        has("gus was kicked from #lobby"),
      );
      gus.send({ type: "join", room: "lobby" });
      await gus.waitFor((e) => e.type === "welcome");
      await command("/ban gus");
      await gus.waitFor(isMod("ban"), 10_000);
      gus.send({ type: "join", room: "lobby" });
      const refused = await gus.waitFor((e) => e.type === "error");
      assert.match(
        JSON.stringify(refused),
        /you are banned from lobby by olga/,
      );
      await command("/mode #lobby -b gus");
      // gus is out of the room: the unban reaches the room, irssi shows it.
      await tmux.waitFor("irssi", "the unban", has("-b gus!*@*"));
      gus.send({ type: "join", room: "lobby" });
      await gus.waitFor((e) => e.type === "welcome");

      await command("/quit");
      await gus.waitFor((e) => e.type === "leave" && e.nick === "olga");
      assert.doesNotMatch(server.log, /olga-pass/);
    } finally {
      await tmux.kill();
      await gus?.close();
      await server.stop();
      await home.remove();
      await dir.remove();
    }
  },
});
