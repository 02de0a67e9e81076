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

/** A UDP socket on `address` that records when each datagram arrives. */
async function udpSocket(address = "127.0.0.1") {
  const socket = dgram.createSocket("udp4");
  const received: { at: number; data: Uint8Array }[] = [];
  socket.on("message", (data: Uint8Array) => {
    received.push({ at: performance.now(), data });
  });
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  return {
    received,
    send: (text: string, port: number) =>
      socket.send(new TextEncoder().encode(text), port, "127.0.0.1"),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("one host's many ports and quit-rejoin loops get at most 20 datagrams a second plus the burst; other addresses still join", async () => {
  const server = await ServerProcess.start(["--udp", "--rate", "0"]);
  const { client: watcher } = await TestClient.join(server.port, "watcher");
  const attackers = await Promise.all(
    Array.from({ length: 40 }, () => udpSocket()),
  );
  const newcomer = await udpSocket("127.0.0.2");
  const stranger = await udpSocket("127.0.0.3");
  try {
    const start = performance.now();
    attackers.forEach((a, i) => a.send(`attacker${i}`, server.port));
    // 2.5 s: every 50 ms each port sends a message (800 a second, each one
    // echoed and sent to all 40 members: 32,000 datagrams a second wanted);
    // every fourth port quits and rejoins instead.
    let sent = 0;
    for (let tick = 0; tick < 50; tick++) {
      attackers.forEach((a, i) => {
        if (i % 4 === 0) {
          a.send(
            tick % 2 === 0 ? `attacker${i} : q` : `attacker${i}`,
            server.port,
          );
        } else {
          a.send(`attacker${i} : m${tick}`, server.port);
        }
        sent++;
      });
      if (tick === 25) newcomer.send("newcomer", server.port);
      await sleep(50);
    }
    await sleep(500);
    const end = performance.now();
    const arrivals = attackers.flatMap((a) => a.received.map((r) => r.at))
      .sort((a, b) => a - b);
    const seconds = (end - start) / 1000;
    console.log(
      `udp: ${sent} datagrams sent from 40 ports, ${arrivals.length} received in ${
        seconds.toFixed(1)
      } s`,
    );
    assert.ok(arrivals.length >= 20, "the attacking host is still answered");
    assert.ok(
      arrivals.length <= 40 + 20 * seconds,
      `${arrivals.length} datagrams in ${seconds.toFixed(1)} s`,
    );
    // Nor more than burst + rate in any one second.
    for (let i = 0; i < arrivals.length; i++) {
      let j = i;
      while (j < arrivals.length && arrivals[j] < arrivals[i] + 1000) j++;
      // (a little slack: arrivals can bunch up on a loaded machine)
      assert.ok(j - i <= 40 + 20 + 5, `${j - i} datagrams within one second`);
    }
    // Another address got its welcome meanwhile, and the room heard it all.
    assert.match(
      new TextDecoder().decode(newcomer.received[0]?.data),
      /^\* Welcome, newcomer!/,
    );
    await watcher.waitFor((e) => e.type === "join" && e.nick === "newcomer");

    // A fresh address's 1-byte datagram draws at most 3 × 29 - 28 bytes.
    stranger.send("z", server.port);
    const deadline = Date.now() + 5000;
    while (stranger.received.length === 0 && Date.now() < deadline) {
      await sleep(20);
    }
    const reply = stranger.received[0]?.data;
    assert.ok(reply, "the stranger got a reply");
    assert.ok(reply.length <= 3 * 29 - 28, `${reply.length} bytes`);
    assert.match(new TextDecoder().decode(reply), /^\* Welcome, z!/);
  } finally {
    await Promise.all([...attackers, newcomer, stranger].map((s) => s.close()));
    await watcher.close();
    await server.stop();
  }
});
