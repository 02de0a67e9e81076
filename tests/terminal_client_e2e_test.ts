/**
 * End to end in a real terminal: tmux runs `chat connect` clients against the
 * real server; the test types with send-keys (Chinese included) and reads
 * the screen with capture-pane. Where tmux is missing the test says skipped.
 */

import assert from "node:assert/strict";
import type { ServerEvent } from "../protocol.ts";
import { ROOT, ServerProcess, tempDir, TestClient } from "./helpers.ts";
import { has, occurrences, shellQuote, Tmux, toolMissing } from "./tmux.ts";
import { seedMessages } from "./history_seed.ts";

const WIDTH = 100;
const HEIGHT = 30;

const skipReason = await toolMissing(
  "tmux",
  ["-V"],
  ".ci/run installs it with apt",
);
if (skipReason) console.log(`terminal_client_e2e_test: skipped: ${skipReason}`);

/** A port nothing listens on right now, to restart the server on. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Starts `chat connect` in a new tmux session. When it exits, the pane says
 * `[exited N]` and whether the terminal left raw mode.
 */
async function connect(
  tmux: Tmux,
  name: string,
  port: number,
  args: string[],
  term = "",
): Promise<void> {
  const chat = [
    Deno.execPath(),
    "run",
    "--allow-all",
    `${ROOT}main.ts`,
    "connect",
    `127.0.0.1:${port}`,
    ...args,
  ].map(shellQuote).join(" ");
  const script = `${chat}; echo "[exited $?]"; ` +
    `case "$(stty -a)" in *-icanon*) echo "[tty raw]";; ` +
    `*) echo "[tty restored]";; esac; sleep 60`;
  await tmux.start(
    name,
    `env ${term} DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 LANG=C.UTF-8 sh -c ${
      shellQuote(script)
    }`,
    WIDTH,
    HEIGHT,
  );
}

Deno.test({
  name: skipReason
    ? `the terminal client in tmux: typing, CJK, reconnect with nothing lost (skipped: ${skipReason})`
    : "the terminal client in tmux: typing, CJK, reconnect with nothing lost",
  ignore: skipReason !== undefined,
  fn: async () => {
    const dir = await tempDir();
    const port = freePort();
    const serverArgs = ["--db", `${dir.path}/chat.db`, "--port", String(port)];
    let server = await ServerProcess.start(serverArgs);
    const tmux = new Tmux();
    let carol: TestClient | undefined;
    try {
      await connect(tmux, "alice", port, ["--nick", "alice"]);
      await tmux.waitFor("alice", "alice's welcome", has("Welcome, alice!"));
      await Promise.all([
        connect(tmux, "bob", port, ["--nick", "bob"]),
        connect(tmux, "dave", port, []),
      ]);
      await tmux.waitFor("bob", "bob's welcome", has("Welcome, bob!"));
      await tmux.waitFor("alice", "bob's join", has("bob joined lobby"));

      // The input line is pinned to the bottom row with its prompt.
      let rows = await tmux.screen("alice");
      assert.equal(rows[HEIGHT - 1].trimEnd(), "[lobby] alice>");
      assert.match(rows[HEIGHT - 2], /\[lobby\] alice \| 2 here/);

      await tmux.type("alice", "你好，世界");
      await tmux.press("alice", "Enter");
      await tmux.waitFor(
        "bob",
        "alice's Chinese line",
        has("alice: 你好，世界"),
      );

      // A half-typed line survives a message arriving.
      await tmux.type("alice", "半句话 half");
      await tmux.press("alice", "Left", "Left", "Left", "Left", "Left");
      await tmux.type("alice", "!");
      await tmux.press("alice", "End");
      await tmux.type("bob", "hello from bob");
      await tmux.press("bob", "Enter");
      rows = await tmux.waitFor(
        "alice",
        "bob's line",
        has("bob: hello from bob"),
      );
      const typing = "[lobby] alice> 半句话! half";
      assert.equal(rows[HEIGHT - 1].trimEnd(), typing);
      // 15 columns of prompt, 半句话 is 6, "! half" 6: the cursor sits after them.
      assert.deepEqual(await tmux.cursor("alice"), { x: 27, y: HEIGHT - 1 });
      assert.equal(occurrences(rows, "你好，世界"), 1);

      // No --nick: the client asks; a taken one asks again; Ctrl-D leaves.
      await tmux.waitFor(
        "dave",
        "the nickname prompt",
        has("Choose a nickname"),
      );
      await tmux.type("dave", "bob");
      await tmux.press("dave", "Enter");
      await tmux.waitFor("dave", "the refusal", has("that nickname is taken"));
      await tmux.type("dave", "dave");
      await tmux.press("dave", "Enter");
      await tmux.waitFor("dave", "dave's welcome", has("Welcome, dave!"));
      await tmux.press("dave", "C-d");
      rows = await tmux.waitFor("dave", "dave's exit", has("[tty "));
      assert.ok(has("[exited 0]")(rows), rows.join("\n"));
      assert.ok(
        rows.some((row) => row.includes("[tty restored]")),
        rows.join("\n"),
      );

      // The server dies: the status line says so, typed lines wait.
      await server.stop("SIGKILL");
      await tmux.waitFor(
        "alice",
        "the offline status",
        (r) => /offline, retrying in \d+s/.test(r[HEIGHT - 2]),
      );
      await tmux.press("alice", "C-a", "C-k"); // cut the half line for later
      await tmux.type("alice", "typed while offline");
      await tmux.press("alice", "Enter");
      await tmux.waitFor("alice", "the waiting line", has("(waiting to send)"));
      await tmux.waitFor(
        "alice",
        "the third attempt",
        (r) => r[HEIGHT - 2].includes("(attempt 3)"),
      );
      await tmux.press("alice", "C-y"); // the cut half line comes back

      // Restarted on the same port with the same history; carol talks
      // before alice's next attempt.
      server = await ServerProcess.start(serverArgs);
      carol = (await TestClient.join(port, "carol")).client;
      for (const text of ["missed one", "missed two"]) {
        carol.send({ type: "say", text });
        await carol.waitFor((e) => e.type === "msg" && e.text === text);
      }
      rows = await tmux.waitFor(
        "alice",
        "the reconnect",
        (r) =>
          has("Reconnected: back in lobby as alice")(r) &&
          has("carol: missed two")(r) && has("alice> typed while offline")(r) &&
          // The status line is redrawn on its own; under load it can lag.
          /\[lobby\] alice \| \d here/.test(r[HEIGHT - 2]),
      );
      const seen: ServerEvent[] = [];
      await carol.waitFor(
        (e) => e.type === "msg" && e.text === "typed while offline",
        10_000,
        seen,
      );
      assert.equal(occurrences(rows, "carol: missed one"), 1);
      assert.equal(occurrences(rows, "carol: missed two"), 1);
      assert.equal(occurrences(rows, "alice> 你好，世界"), 1);
      assert.equal(occurrences(rows, "bob: hello from bob"), 1);
      assert.match(rows[HEIGHT - 2], /\[lobby\] alice \| \d here/);
      assert.equal(rows[HEIGHT - 1].trimEnd(), typing, "the input survived");

      // A resize keeps the input line at the new bottom.
      await tmux.run("resize-window", "-t", "=alice:", "-x", "60", "-y", "20");
      rows = await tmux.waitFor(
        "alice",
        "the resized screen",
        (r) => r.length === 20 && r[19].trimEnd() === typing,
      );
      assert.ok(has("carol: missed two")(rows));

      // Ctrl-C leaves: quit sent, terminal restored.
      await tmux.press("alice", "C-c");
      rows = await tmux.waitFor("alice", "alice's exit", has("[tty "));
      assert.ok(has("[exited 0]")(rows), rows.join("\n"));
      assert.ok(
        rows.some((row) => row.includes("[tty restored]")),
        rows.join("\n"),
      );
      const leave = await carol.waitFor((e) =>
        e.type === "leave" && e.nick === "alice"
      );
      assert.equal((leave as { reason?: string }).reason, "quit");
      const doubled = carol.drainEvents().filter((e) =>
        e.type === "msg" && e.text === "typed while offline"
      );
      assert.equal(doubled.length, 0, "the offline line was sent once");

      await tmux.type("bob", "/quit");
      await tmux.press("bob", "Enter");
      rows = await tmux.waitFor("bob", "bob's exit", has("[tty "));
      assert.ok(has("[exited 0]")(rows) && has("[tty restored]")(rows));
    } finally {
      await tmux.kill();
      await carol?.close();
      await server.stop();
      await dir.remove();
    }
  },
});

/** Everything a session's program writes, from now on, appended to `path`. */
async function record(tmux: Tmux, name: string, path: string): Promise<void> {
  await tmux.run(
    "pipe-pane",
    "-o",
    "-t",
    `=${name}:`,
    `cat >> ${shellQuote(path)}`,
  );
}

/** The numbers of the seeded `missed N` messages in plain text, in order. */
function missedNumbers(text: string): number[] {
  return [...text.matchAll(/(?:bob|carol): missed (\d+)(?!\d)/g)].map((m) =>
    Number(m[1])
  );
}

Deno.test({
  name: skipReason
    ? `chat connect back after 900 messages (far over 64 KiB) shows every one once, in order, full screen and TERM=dumb (skipped: ${skipReason})`
    : "chat connect back after 900 messages (far over 64 KiB) shows every one once, in order, full screen and TERM=dumb",
  ignore: skipReason !== undefined,
  fn: async () => {
    const dir = await tempDir();
    const port = freePort();
    const db = `${dir.path}/chat.db`;
    const serverArgs = ["--db", db, "--port", String(port)];
    let server = await ServerProcess.start(serverArgs);
    const tmux = new Tmux();
    const clients: TestClient[] = [];
    const outputs = {
      alice: `${dir.path}/alice.out`,
      zed: `${dir.path}/zed.out`,
    };
    const read = (name: "alice" | "zed") =>
      Deno.readTextFile(outputs[name]).catch(() => "");
    try {
      await connect(tmux, "alice", port, ["--nick", "alice"]);
      await connect(tmux, "zed", port, ["--nick", "zed"], "TERM=dumb");
      await record(tmux, "alice", outputs.alice);
      await record(tmux, "zed", outputs.zed);
      await tmux.waitFor("alice", "alice's welcome", has("Welcome, alice!"));
      await tmux.waitFor("zed", "zed's welcome", has("Welcome, zed!"));
      const bob = await TestClient.join(port, "bob");
      clients.push(bob.client);
      bob.client.send({ type: "say", text: "before" });
      await tmux.waitFor("alice", "bob's line", has("bob: before"));
      await tmux.waitFor("zed", "bob's line", has("bob: before"));

      // Down while 900 messages are said; back on the same port.
      await server.stop("SIGKILL");
      await tmux.waitFor("zed", "the drop", has("retrying"));
      const missed = seedMessages(db, "lobby", 900);
      server = await ServerProcess.start(serverArgs);
      const carol = await TestClient.join(port, "carol");
      clients.push(carol.client);
      // The newest missed one is on screen once the catch-up is done.
      for (const name of ["alice", "zed"] as const) {
        await tmux.waitFor(name, "the catch-up", has("missed 900"), 30_000);
      }
      carol.client.send({ type: "say", text: "live after" });

      // TERM=dumb prints every line: all of them are in what it wrote.
      await tmux.waitFor("zed", "the live line", has("carol: live after"));
      const plain = await read("zed");
      assert.deepEqual(
        missedNumbers(plain),
        missed.map((_, i) => i + 1),
        "every missed message once, in order",
      );
      assert.match(plain, /Reconnected: back in lobby as zed/);
      assert.match(plain, /900 messages while you were away:/);
      assert.doesNotMatch(plain, /earlier ones are not shown/);
      assert.ok(
        plain.indexOf("missed 900") < plain.indexOf("carol: live after"),
        "the live line after the missed ones",
      );
      assert.equal(plain.split("bob: before").length - 1, 1);

      // The full screen draws what fits; the rows it shows run on, no gap,
      // up to the newest missed message, then the live one.
      const rows = await tmux.waitFor(
        "alice",
        "the live line",
        has("carol: live after"),
      );
      const shown = missedNumbers(rows.join("\n"));
      assert.ok(shown.length >= 5, rows.join("\n"));
      assert.deepEqual(
        shown,
        shown.map((_, i) => 900 - shown.length + 1 + i),
        rows.join("\n"),
      );
      assert.doesNotMatch(await read("alice"), /earlier ones are not shown/);
    } finally {
      await tmux.kill();
      await Promise.all(clients.map((c) => c.close()));
      await server.stop();
      await dir.remove();
    }
  },
});

Deno.test({
  name: skipReason
    ? `on TERM=dumb the client prints plain lines, no escape sequences (skipped: ${skipReason})`
    : "on TERM=dumb the client prints plain lines, no escape sequences",
  ignore: skipReason !== undefined,
  fn: async () => {
    const server = await ServerProcess.start();
    const tmux = new Tmux();
    try {
      await connect(tmux, "zed", server.port, ["--nick", "zed"], "TERM=dumb");
      await tmux.waitFor("zed", "the welcome", has("Welcome, zed!"));
      await tmux.type("zed", "hello 你好");
      await tmux.press("zed", "Enter");
      await tmux.waitFor("zed", "the echo", has("zed> hello 你好"));
      await tmux.type("zed", "/quit");
      await tmux.press("zed", "Enter");
      const rows = await tmux.waitFor("zed", "the exit", has("[tty "));
      assert.ok(has("[exited 0]")(rows), rows.join("\n"));
      const styled = (await tmux.screen("zed", true)).join("\n");
      assert.ok(!styled.includes("\x1b"), JSON.stringify(styled));
    } finally {
      await tmux.kill();
      await server.stop();
    }
  },
});

Deno.test({
  name: skipReason
    ? `the terminal client in tmux: two rooms at once, the other room's messages named, Alt-1 switches (skipped: ${skipReason})`
    : "the terminal client in tmux: two rooms at once, the other room's messages named, Alt-1 switches",
  ignore: skipReason !== undefined,
  fn: async () => {
    const server = await ServerProcess.start(["--rate", "0"]);
    const tmux = new Tmux();
    const bob = (await TestClient.join(server.port, "bob", { room: "class" }))
      .client;
    const carol = (await TestClient.join(server.port, "carol")).client;
    const heard = async (client: TestClient, text: string) =>
      await client.waitFor((e) => e.type === "msg" && e.text === text, 15_000);
    try {
      await connect(tmux, "alice", server.port, ["--nick", "alice"]);
      await tmux.waitFor("alice", "alice's welcome", has("Welcome, alice!"));
      await tmux.type("alice", "/join class");
      await tmux.press("alice", "Enter");
      let rows = await tmux.waitFor(
        "alice",
        "the welcome into class",
        (r) =>
          has("You are in class, with bob.")(r) &&
          r[HEIGHT - 1].trimEnd() === "[class] alice>",
      );
      assert.ok(has("Also in lobby: /join ROOM or Alt-1..9 switches")(rows));

      carol.send({ type: "say", text: "lunch?" });
      rows = await tmux.waitFor(
        "alice",
        "the lobby message, named",
        (r) =>
          has("[lobby] carol: lunch?")(r) &&
          r[HEIGHT - 2].includes("| also lobby (1 unread) |"),
      );
      bob.send({ type: "say", text: "hello class" });
      rows = await tmux.waitFor("alice", "bob's line", has("bob: hello class"));
      assert.ok(
        rows.some((r) => /^\d\d:\d\d bob: hello class/.test(r)),
        "the current room's messages carry no tag",
      );
      await tmux.type("alice", "hi class");
      await tmux.press("alice", "Enter");
      const toClass = await heard(bob, "hi class");
      assert.equal(toClass.type === "msg" && toClass.room, "class");

      // Alt-1: the first room joined becomes current, unread cleared.
      await tmux.press("alice", "M-1");
      rows = await tmux.waitFor(
        "alice",
        "the switch to lobby",
        (r) =>
          has("Now in lobby, with carol.")(r) &&
          r[HEIGHT - 1].trimEnd() === "[lobby] alice>" &&
          /\[lobby\] alice \| 2 here \| also class \|/.test(r[HEIGHT - 2]),
      );
      await tmux.type("alice", "hi lobby");
      await tmux.press("alice", "Enter");
      const toLobby = await heard(carol, "hi lobby");
      assert.equal(toLobby.type === "msg" && toLobby.room, "lobby");
      bob.send({ type: "say", text: "still here" });
      await tmux.waitFor(
        "alice",
        "the class message, named",
        has("[class] bob: still here"),
      );

      await tmux.type("alice", "/part class");
      await tmux.press("alice", "Enter");
      await tmux.waitFor(
        "alice",
        "the part",
        has("You left class. Your rooms: lobby (current)."),
      );
      const left = await bob.waitFor((e) => e.type === "leave", 15_000);
      assert.equal(left.type === "leave" && left.nick, "alice");

      await tmux.press("alice", "C-c");
      rows = await tmux.waitFor("alice", "alice's exit", has("[tty "));
      assert.ok(has("[exited 0]")(rows), rows.join("\n"));
    } finally {
      await tmux.kill();
      await Promise.all([bob.close(), carol.close()]);
      await server.stop();
    }
  },
});
