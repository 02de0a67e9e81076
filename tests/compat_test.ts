/**
 * The compatibility door over TCP, end to end: the real server, the Python
 * programs of the socket tutorials (tests/fixtures/), and a JSON client in the
 * same room, in Chinese.
 */

import assert from "node:assert/strict";
import type { ServerEvent } from "../protocol.ts";
import { ServerProcess, TestClient } from "./helpers.ts";
import { isMsg, PythonClient, pythonTest } from "./python_client.ts";

type Msg = Extract<ServerEvent, { type: "msg" }>;

/** A person's pause between two sends (well over the 100 ms idle time). */
const TYPING_PAUSE_MS = 300;
const pause = (ms = TYPING_PAUSE_MS) =>
  new Promise((resolve) => setTimeout(resolve, ms));

pythonTest(
  "a one-shot program that sends and closes at once: its message reaches the room from a guest",
  async () => {
    const server = await ServerProcess.start();
    const { client: watcher } = await TestClient.join(server.port, "watcher");
    const program = PythonClient.start("tcp_oneshot.py", [
      "127.0.0.1",
      String(server.port),
    ]);
    try {
      await program.type("你好，世界！这是一次性的消息");
      assert.ok(await program.waitExit(), "the program ends by itself");
      const join = await watcher.waitFor((e) => e.type === "join");
      const guest = join.type === "join" ? join.nick : "";
      assert.match(guest, /^guest-\d+$/);
      const skipped: ServerEvent[] = [];
      const msg = await watcher.waitFor(
        isMsg("你好，世界！这是一次性的消息"),
        5000,
        skipped,
      ) as Msg;
      assert.equal(msg.from, guest);
      assert.ok(
        !skipped.some((e) => e.type === "leave"),
        "the message comes before the leave",
      );
      const leave = await watcher.waitFor((e) => e.type === "leave");
      assert.equal(leave.type === "leave" && leave.nick, guest);
      assert.equal(program.errors, "");
    } finally {
      await program.stop();
      await watcher.close();
      await server.stop();
    }
  },
);

pythonTest(
  "a looping program with no nickname step: each raw send is one message from the same guest",
  async () => {
    const server = await ServerProcess.start();
    const { client: watcher } = await TestClient.join(server.port, "watcher");
    const program = PythonClient.start("tcp_loop.py", [
      "127.0.0.1",
      String(server.port),
    ]);
    try {
      await program.type("大家好，我是新来的");
      const first = await watcher.waitFor(isMsg("大家好，我是新来的")) as Msg;
      assert.match(first.from, /^guest-\d+$/);
      await pause();
      await program.type("第二条消息 over");
      const second = await watcher.waitFor(isMsg("第二条消息 over")) as Msg;
      assert.equal(second.from, first.from);
      await program.waitOutput("Welcome to chat");
    } finally {
      await program.stop();
      assert.ok(!program.errors.includes("Traceback"), program.errors);
      await watcher.close();
      await server.stop();
    }
  },
);

pythonTest(
  "a program that reads first names itself, loses its own prefix, hears the room, and leaves with q",
  async () => {
    const server = await ServerProcess.start();
    const { client: watcher } = await TestClient.join(server.port, "watcher");
    const program = PythonClient.start("tcp_read_first.py", [
      "127.0.0.1",
      String(server.port),
    ]);
    try {
      await program.waitOutput("Please choose a nickname");
      await program.type("小明");
      await program.waitOutput("Welcome, 小明!");
      const join = await watcher.waitFor((e) => e.type === "join");
      assert.equal(join.type === "join" && join.nick, "小明");
      await program.type("小明: 你好，watcher");
      const msg = await watcher.waitFor(isMsg("你好，watcher")) as Msg;
      assert.equal(msg.from, "小明");
      watcher.send({ type: "say", text: "欢迎你，小明！" });
      await program.waitOutput("watcher: 欢迎你，小明！");
      await pause();
      await program.type("q");
      await program.waitOutput("* Bye: goodbye");
      const leave = await watcher.waitFor((e) => e.type === "leave");
      assert.equal(leave.type === "leave" && leave.nick, "小明");
    } finally {
      await program.stop();
      assert.ok(!program.errors.includes("Traceback"), program.errors);
      await watcher.close();
      await server.stop();
    }
  },
);

pythonTest(
  "QUIT, then a blocking recv: the server says goodbye in one chunk and closes, so the program returns",
  async () => {
    const server = await ServerProcess.start();
    const { client: watcher } = await TestClient.join(server.port, "watcher");
    const program = PythonClient.start("tcp_quit.py", [
      "127.0.0.1",
      String(server.port),
    ]);
    try {
      await program.waitOutput("Please choose a nickname");
      await program.type("carol");
      await program.waitOutput("Welcome, carol!");
      await program.type("我在这里");
      await program.waitOutput("carol: 我在这里");
      const msg = await watcher.waitFor(isMsg("我在这里")) as Msg;
      assert.equal(msg.from, "carol");
      await program.type("QUIT");
      assert.ok(await program.waitExit(), "the program does not hang");
      assert.match(program.output, /\* Bye: goodbye\n+\[closed\]/);
      const leave = await watcher.waitFor((e) => e.type === "leave");
      assert.equal(leave.type === "leave" && leave.nick, "carol");
    } finally {
      await program.stop();
      await watcher.close();
      await server.stop();
    }
  },
);

pythonTest(
  "--compat: the NICK client names itself, its prefix is stripped, and a long Chinese reply never breaks its decode",
  async () => {
    const server = await ServerProcess.start(["--compat"]);
    const { client: watcher } = await TestClient.join(server.port, "watcher");
    const program = PythonClient.start("tcp_nick.py", [
      "127.0.0.1",
      String(server.port),
      "alice",
    ]);
    try {
      const join = await watcher.waitFor((e) => e.type === "join");
      assert.equal(join.type === "join" && join.nick, "alice");
      await program.waitOutput("Welcome, alice!");
      assert.ok(
        !program.output.includes("NICK"),
        "NICK arrived alone and was answered, not printed",
      );
      await program.type("你好，我是 alice");
      const msg = await watcher.waitFor(isMsg("你好，我是 alice")) as Msg;
      assert.equal(msg.from, "alice");
      // 6,000 bytes of three-byte characters: any cut at a 1,024-byte read
      // boundary that is not a character boundary kills the program's thread.
      const long = "汉字".repeat(1000);
      watcher.send({ type: "say", text: long });
      await program.waitOutput(/watcher: [汉字\n]+/);
      const printed = () => program.output.replaceAll("\n", "");
      for (let i = 0; i < 50 && !printed().includes(long); i++) {
        await pause(100);
      }
      assert.ok(printed().includes(long), "the whole message arrived");
      assert.ok(!program.errors.includes("Traceback"), program.errors);
    } finally {
      await program.stop();
      await watcher.close();
      await server.stop();
    }
  },
);

Deno.test("--compat: nc and JSON clients still read one banner line, and the text dialect is unchanged", async () => {
  const server = await ServerProcess.start(["--compat"]);
  const { client: watcher } = await TestClient.join(server.port, "watcher");
  const nc = await TestClient.connect(server.port);
  try {
    assert.match(
      await nc.nextLine(),
      /^NICK - Welcome to chat \(chat [\d.]+\)\. Please choose a nickname:$/,
    );
    nc.write("not a nick!\n");
    await nc.waitForLine("! a nickname is");
    await nc.waitForLine("Nickname?");
    nc.write("alice\n");
    await nc.waitForLine("* Welcome, alice!");
    nc.write("alice: hi\n");
    const prefixed = await watcher.waitFor((e) => e.type === "msg") as Msg;
    assert.equal(prefixed.text, "alice: hi", "a line client's text is its own");
    nc.write("q\n");
    const q = await watcher.waitFor((e) => e.type === "msg") as Msg;
    assert.equal(q.text, "q", "q is a message for a line client");
    await nc.waitForLine(/^\d\d:\d\d alice: q$/);
    assert.equal(nc.closed, false);
  } finally {
    await Promise.all([watcher.close(), nc.close()]);
    await server.stop();
  }
});

Deno.test("without --compat the banner is one line at once, with no NICK", async () => {
  const server = await ServerProcess.start();
  const nc = await TestClient.connect(server.port);
  try {
    assert.match(await nc.nextLine(), /^Welcome to chat /);
  } finally {
    await nc.close();
    await server.stop();
  }
});

Deno.test("an unframed first send that is a nickname names the client; a taken one gets a variant", async () => {
  const server = await ServerProcess.start();
  const { client: watcher } = await TestClient.join(server.port, "watcher");
  const first = await TestClient.connect(server.port);
  const second = await TestClient.connect(server.port);
  try {
    await first.nextLine();
    first.write("hello");
    await first.waitForLine("* Welcome, hello!");
    await second.nextLine();
    second.write("watcher");
    await second.waitForLine("* Welcome, watcher-2!");
    await pause();
    second.write("watcher: 我换了名字");
    const msg = await watcher.waitFor(isMsg("我换了名字")) as Msg;
    assert.equal(msg.from, "watcher-2", "the chosen name's prefix is dropped");
  } finally {
    await Promise.all([watcher.close(), first.close(), second.close()]);
    await server.stop();
  }
});

/**
 * A terminal types the nickname alice key by key (150 ms apart, `firstPause`
 * after the first key) and Enter: the watcher sees alice join, and nothing
 * before it.
 */
async function typeAliceKeyByKey(firstPause: number): Promise<void> {
  const server = await ServerProcess.start();
  const { client: watcher } = await TestClient.join(server.port, "watcher");
  const terminal = await TestClient.connect(server.port);
  try {
    await terminal.nextLine();
    for (const [i, key] of [..."alice"].entries()) {
      await terminal.writeAll(key);
      await pause(i === 0 ? firstPause : 150);
    }
    await terminal.writeAll("\r\n");
    await terminal.waitForLine("* Welcome, alice!");
    const skipped: ServerEvent[] = [];
    const join = await watcher.waitFor((e) => e.type === "join", 5000, skipped);
    assert.equal(join.type === "join" && join.nick, "alice");
    assert.deepEqual(skipped, [], "no guest, no one-letter member or message");
  } finally {
    await Promise.all([watcher.close(), terminal.close()]);
    await server.stop();
  }
}

Deno.test("a character-at-a-time terminal sends a nickname key by key without any key becoming a message", async () => {
  await typeAliceKeyByKey(150);
});

Deno.test("a character-at-a-time terminal whose user pauses after the first key does not get a one-letter nickname", async () => {
  await typeAliceKeyByKey(1500); // thinking: well over the old 1 s wait
});

Deno.test("a program's one-character first send and its next send, a pause apart, are a nickname and a message", async () => {
  const server = await ServerProcess.start();
  const { client: watcher } = await TestClient.join(server.port, "watcher");
  const program = await TestClient.connect(server.port);
  try {
    await program.nextLine();
    await program.writeAll("z");
    await pause();
    await program.writeAll("大家好");
    await program.waitForLine("* Welcome, z!");
    const msg = await watcher.waitFor(isMsg("大家好")) as Msg;
    assert.equal(msg.from, "z");
  } finally {
    await Promise.all([watcher.close(), program.close()]);
    await server.stop();
  }
});

Deno.test("a silent connection may wait for its first byte far longer than the handshake time", async () => {
  const server = await ServerProcess.start([
    "--handshake-seconds",
    "1",
    "--first-bytes-seconds",
    "3",
  ]);
  const silent = await TestClient.connect(server.port);
  const stuck = await TestClient.connect(server.port);
  try {
    await silent.nextLine();
    await stuck.nextLine();
    stuck.write("not a nick!\n");
    await stuck.waitForLine("Nickname?");
    assert.ok(await stuck.waitClosed(3000), "bytes but no hello: 1 s");
    assert.equal(silent.closed, false, "silent: still waiting");
    assert.ok(await silent.waitClosed(4000), "silent for 3 s: closed");
  } finally {
    await Promise.all([silent.close(), stuck.close()]);
    await server.stop();
  }
});
