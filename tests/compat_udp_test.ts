/**
 * The compatibility door over UDP (`chat serve --udp`), end to end: the real
 * server, the tutorials' UDP programs (tests/fixtures/), and a JSON client in
 * the same room, in Chinese.
 */

import assert from "node:assert/strict";
import dgram from "node:dgram";
import type { ServerEvent } from "../protocol.ts";
import { ServerProcess, TestClient } from "./helpers.ts";
import { isMsg, PythonClient, pythonTest } from "./python_client.ts";

type Msg = Extract<ServerEvent, { type: "msg" }>;

pythonTest(
  "the UDP room client joins by name, talks with a JSON client in Chinese, and leaves with 'name : exit'",
  async () => {
    const server = await ServerProcess.start(["--udp"]);
    const { client: watcher } = await TestClient.join(server.port, "watcher");
    const program = PythonClient.start("udp_room.py", [
      "127.0.0.1",
      String(server.port),
      "小明",
    ]);
    try {
      await program.waitOutput("* Welcome, 小明!");
      const join = await watcher.waitFor((e) => e.type === "join");
      assert.equal(join.type === "join" && join.nick, "小明");
      await program.type("大家好，我用的是 UDP");
      const msg = await watcher.waitFor(isMsg("大家好，我用的是 UDP")) as Msg;
      assert.equal(msg.from, "小明", "the 'name : ' prefix is not in the text");
      await program.waitOutput("小明: 大家好，我用的是 UDP");
      watcher.send({ type: "say", text: "你好，小明！欢迎" });
      await program.waitOutput("watcher: 你好，小明！欢迎");
      await program.type("exit");
      const leave = await watcher.waitFor((e) => e.type === "leave");
      assert.equal(leave.type === "leave" && leave.nick, "小明");
      assert.equal(leave.type === "leave" && leave.reason, "quit");
      assert.ok(await program.waitExit());
      assert.ok(!program.errors.includes("Traceback"), program.errors);
    } finally {
      await program.stop();
      await watcher.close();
      await server.stop();
    }
  },
);

pythonTest(
  "one-reply UDP clients get exactly one datagram back for each they send",
  async () => {
    const server = await ServerProcess.start(["--udp"]);
    const { client: watcher } = await TestClient.join(server.port, "watcher");
    const asker = PythonClient.start("udp_ask.py", [
      "127.0.0.1",
      String(server.port),
    ]);
    const namer = PythonClient.start("udp_ask.py", [
      "127.0.0.1",
      String(server.port),
    ]);
    try {
      // A first datagram that is no nickname: a guest, whose one reply holds
      // both its welcome and the echo of that first message.
      await asker.type("有人在吗？");
      await asker.waitOutput(/\* Welcome, guest-\d+![^]*guest-\d+: 有人在吗？/);
      const first = await watcher.waitFor(isMsg("有人在吗？")) as Msg;
      await asker.type("第二个问题");
      await asker.waitOutput(`${first.from}: 第二个问题`);
      await watcher.waitFor(isMsg("第二个问题"));
      // If any datagram had brought two replies, the program would now be one
      // reply behind: its output would end with an older line.
      await asker.type("第三个");
      await asker.waitOutput(new RegExp(`${first.from}: 第三个\\n+$`));

      // A first datagram that is a nickname: its one reply is the welcome.
      await namer.type("小红");
      await namer.waitOutput("* Welcome, 小红!");
      await namer.type("小红 : 我也在");
      await namer.waitOutput(/小红: 我也在\n+$/);
      const msg = await watcher.waitFor(isMsg("我也在")) as Msg;
      assert.equal(msg.from, "小红");
      assert.ok(!asker.errors.includes("Traceback"), asker.errors);
      assert.ok(!namer.errors.includes("Traceback"), namer.errors);
    } finally {
      await Promise.all([asker.stop(), namer.stop()]);
      await watcher.close();
      await server.stop();
    }
  },
);

Deno.test("without --udp nothing answers a datagram", async () => {
  const server = await ServerProcess.start();
  const socket = dgram.createSocket("udp4");
  const received: Uint8Array[] = [];
  socket.on("message", (data: Uint8Array) => received.push(data));
  try {
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    socket.send(new TextEncoder().encode("alice"), server.port, "127.0.0.1");
    // Long enough for a reply on loopback to have come many times over.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(received, []);
    assert.ok(!server.log.includes("udp join"));
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    await server.stop();
  }
});
