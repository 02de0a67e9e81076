/**
 * The server's limits against the real process: flood control, the
 * connection cap, the hello deadline and TCP keepalive.
 */

import assert from "node:assert/strict";
import type { ServerEvent } from "../protocol.ts";
import { ServerProcess, TestClient } from "./helpers.ts";
import {
  joinText,
  serverSocketTimer,
  sleep,
  waitForLog,
} from "./hostile_helpers.ts";

type Msg = Extract<ServerEvent, { type: "msg" }>;

/** Drains `client` for `ms` and returns what arrived. */
async function collect(client: TestClient, ms: number): Promise<ServerEvent[]> {
  await sleep(ms);
  return client.drainEvents();
}

Deno.test("a flood gets rate_limited, the refused messages reach no one, and 1 s more of it says bye", async () => {
  const server = await ServerProcess.start([
    "--rate",
    "5",
    "--burst",
    "10",
    "--flood-seconds",
    "1",
  ]);
  const alice = await TestClient.join(server.port, "alice");
  const bob = await TestClient.join(server.port, "bob");
  const carol = await TestClient.join(server.port, "carol");
  try {
    assert.equal(alice.welcome.server.rate, 5);
    assert.equal(alice.welcome.server.burst, 10);
    for (let i = 0; i < 15; i++) {
      alice.client.send({ type: "say", text: `burst ${i}` });
    }
    const fromAlice = await collect(alice.client, 300);
    const echoed = fromAlice.filter((e) => e.type === "msg").map((e) =>
      (e as Msg).text
    );
    const refused = fromAlice.filter((e) =>
      e.type === "error" && e.code === "rate_limited"
    );
    assert.equal(echoed.length + refused.length, 15);
    assert.ok(echoed.length >= 10 && echoed.length <= 12, `${echoed.length}`);
    const bobSaw = (await collect(bob.client, 0)).filter((e) =>
      e.type === "msg"
    ).map((e) => (e as Msg).text);
    assert.deepEqual(bobSaw, echoed, "only what was echoed reached bob");

    // Keep flooding: disconnected with bye once it has lasted 1 s, while a
    // neighbour sending slowly is never limited.
    const started = Date.now();
    let bye: ServerEvent | undefined;
    for (let i = 0; i < 150 && !alice.client.closed; i++) {
      alice.client.send({ type: "say", text: `flood ${i}` });
      if (i % 10 === 0) carol.client.send({ type: "say", text: `calm ${i}` });
      await sleep(20);
      bye = alice.client.drainEvents().find((e) => e.type === "bye");
      if (bye) break;
    }
    assert.deepEqual(bye, { type: "bye", reason: "flooding" });
    assert.ok(await alice.client.waitClosed(3000), "flooder disconnected");
    assert.ok(Date.now() - started < 2500, "within about a second");
    const leave = await bob.client.waitFor((e) => e.type === "leave");
    assert.equal(leave.type === "leave" && leave.reason, "flooding");
    const carolSaw = carol.client.drainEvents();
    assert.deepEqual(
      carolSaw.filter((e) => e.type === "error"),
      [],
      "the calm sender was not limited",
    );
    await waitForLog(server, /flood alice/);
  } finally {
    await Promise.all([
      alice.client.close(),
      bob.client.close(),
      carol.client.close(),
    ]);
    await server.stop();
  }
});

Deno.test("a sender that stays under the rate is never limited, and --rate 0 turns the limit off", async () => {
  const limited = await ServerProcess.start([
    "--rate",
    "20",
    "--burst",
    "2",
    "--flood-seconds",
    "1",
  ]);
  const open = await ServerProcess.start(["--rate", "0"]);
  const steady = await TestClient.join(limited.port, "steady");
  const fast = await TestClient.join(open.port, "fast");
  try {
    // 25 messages at ~12/s: far past the burst of 2, never over the rate.
    for (let i = 0; i < 25; i++) {
      steady.client.send({ type: "say", text: `s${i}` });
      await sleep(80);
    }
    for (let i = 0; i < 300; i++) {
      fast.client.send({ type: "say", text: `f${i}` });
    }
    for (
      const [client, count] of [[steady.client, 25], [
        fast.client,
        300,
      ]] as const
    ) {
      const skipped: ServerEvent[] = [];
      for (let i = 0; i < count; i++) {
        await client.waitFor((e) => e.type === "msg", 5000, skipped);
      }
      assert.deepEqual(skipped.filter((e) => e.type === "error"), []);
    }
    assert.equal(fast.welcome.server.rate, 0);
  } finally {
    await Promise.all([steady.client.close(), fast.client.close()]);
    await Promise.all([limited.stop(), open.stop()]);
  }
});

Deno.test("renames count against the flood limit: each one is announced to the room", async () => {
  const server = await ServerProcess.start(["--rate", "5", "--burst", "3"]);
  const mallory = await TestClient.join(server.port, "mallory");
  const bob = await TestClient.join(server.port, "bob");
  try {
    for (let i = 0; i < 10; i++) {
      mallory.client.send({ type: "nick", nick: `m${i}` });
    }
    const events = await collect(mallory.client, 300);
    const refused = events.filter((e) =>
      e.type === "error" && e.code === "rate_limited"
    );
    assert.ok(refused.length >= 6, `${refused.length} refused`);
    const renames = (await collect(bob.client, 0)).filter((e) =>
      e.type === "nick"
    );
    assert.equal(renames.length, 10 - refused.length);
  } finally {
    await Promise.all([mallory.client.close(), bob.client.close()]);
    await server.stop();
  }
});

Deno.test("beyond --max-clients a newcomer reads 'server full' and is closed; the others chat on", async () => {
  const server = await ServerProcess.start(["--max-clients", "3"]);
  const a = await TestClient.join(server.port, "a");
  const b = await TestClient.join(server.port, "b");
  const c = await joinText(server.port, "c");
  const extra = await TestClient.connect(server.port);
  try {
    const line = await extra.nextLine();
    assert.match(line, /server is full \(3 clients\)/);
    assert.ok(await extra.waitClosed(3000), "the newcomer is closed");
    await waitForLog(server, /refused .*server full \(3 clients\)/);

    a.client.send({ type: "say", text: "still here" });
    const msg = await b.client.waitFor((e) => e.type === "msg");
    assert.equal((msg as Msg).text, "still here");
    await c.waitForLine("a: still here");

    // A place frees up when someone leaves.
    await b.client.close();
    await a.client.waitFor((e) => e.type === "leave");
    const d = await TestClient.join(server.port, "d");
    await d.client.close();
  } finally {
    await Promise.all([
      a.client.close(),
      b.client.close(),
      c.close(),
      extra.close(),
    ]);
    await server.stop();
  }
});

Deno.test("a connection that sends bytes but no valid first line in time is closed", async () => {
  const server = await ServerProcess.start(["--handshake-seconds", "1"]);
  const partial = await TestClient.connect(server.port);
  const badHello = await TestClient.connect(server.port);
  const badNick = await TestClient.connect(server.port);
  let member: Awaited<ReturnType<typeof TestClient.join>> | undefined;
  try {
    member = await TestClient.join(server.port, "punctual");
    await Promise.all([
      partial.nextLine(),
      badHello.nextLine(),
      badNick.nextLine(),
    ]);
    const started = Date.now();
    // Half a hello, never finished: no newline, and not JSON on its own.
    partial.write('{"type":"hello","nick":"half');
    badHello.send({ type: "hello", nick: "\u202e" });
    badNick.write("not a nick!\n");
    for (const client of [partial, badHello, badNick]) {
      assert.ok(await client.waitClosed(4000), "closed after the deadline");
    }
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 800, `closed after ${elapsed} ms, not before 1 s`);
    await waitForLog(server, /(timeout .*no hello[\s\S]*){3}/);

    // The one who said hello in time is untouched.
    member.client.send({ type: "ping" });
    await member.client.waitFor((e) => e.type === "pong");
    assert.equal(member.client.closed, false);
  } finally {
    await Promise.all([
      partial.close(),
      badHello.close(),
      badNick.close(),
      member?.client.close(),
    ]);
    await server.stop();
  }
});

Deno.test("a timed-out connection is told why before it is closed", async () => {
  const server = await ServerProcess.start(["--handshake-seconds", "1"]);
  const text = await TestClient.connect(server.port);
  const json = await TestClient.connect(server.port);
  try {
    await Promise.all([text.nextLine(), json.nextLine()]);
    text.write("bad nick!\n");
    json.send({ type: "hello", nick: "" });
    await text.waitForLine("* Bye: no nickname or hello in time", 4000);
    const bye = await json.waitFor((e) => e.type === "bye", 4000);
    assert.deepEqual(bye, {
      type: "bye",
      reason: "no nickname or hello in time",
    });
  } finally {
    await Promise.all([text.close(), json.close()]);
    await server.stop();
  }
});

const canReadProcNet = (() => {
  try {
    Deno.readTextFileSync("/proc/net/tcp");
    return true;
  } catch {
    return false;
  }
})();

if (!canReadProcNet) {
  console.log("skipped: TCP keepalive test needs /proc/net/tcp (Linux)");
}

Deno.test({
  name: canReadProcNet
    ? "accepted connections have TCP keepalive on"
    : "accepted connections have TCP keepalive on (skipped: needs /proc/net/tcp)",
  ignore: !canReadProcNet,
  fn: async () => {
    const server = await ServerProcess.start();
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    try {
      const buffer = new Uint8Array(1024);
      await conn.read(buffer); // the banner: the server has set up the socket
      const clientPort = (conn.localAddr as Deno.NetAddr).port;
      // Timer 2 is the keepalive timer; 0 would mean no timer at all. Poll:
      // right after the banner the retransmit timer (1) may still run.
      let timer: string | undefined;
      for (let i = 0; i < 40; i++) {
        timer = serverSocketTimer(server.port, clientPort);
        if (timer === "02") break;
        await sleep(50);
      }
      assert.equal(timer, "02", "keepalive timer armed on the server's socket");
    } finally {
      conn.close();
      await server.stop();
    }
  },
});
