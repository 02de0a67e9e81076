/**
 * The server's life against the real process: passwords, a graceful stop on
 * SIGINT/SIGTERM, and a `kill -9` in the middle of a burst that loses no
 * message anyone saw echoed.
 */

import assert from "node:assert/strict";
import { ERROR_MESSAGES, type ServerEvent } from "../protocol.ts";
import { ServerProcess, tempDir, TestClient } from "./helpers.ts";
import { joinText, sleep } from "./hostile_helpers.ts";

type Msg = Extract<ServerEvent, { type: "msg" }>;

const PASSWORD = "correct-horse-42";

Deno.test("a wrong password gets an error, then bye and close after a pause; no second guess on that connection", async () => {
  const server = await ServerProcess.start(["--password", PASSWORD]);
  const json = await TestClient.connect(server.port);
  const text = await TestClient.connect(server.port);
  try {
    await Promise.all([json.nextLine(), text.nextLine()]);
    const started = Date.now();
    json.send({ type: "hello", nick: "guesser", password: "wrong-guess-1" });
    // A second, right guess sent at once must not be heard.
    json.send({ type: "hello", nick: "guesser", password: PASSWORD });
    const error = await json.waitFor((e) => e.type === "error");
    assert.equal(error.type === "error" && error.code, "bad_password");
    const skipped: ServerEvent[] = [];
    const bye = await json.waitFor((e) => e.type === "bye", 5000, skipped);
    assert.deepEqual(bye, { type: "bye", reason: "wrong password" });
    assert.deepEqual(skipped, [], "no welcome for the second guess");
    const waited = Date.now() - started;
    assert.ok(
      waited >= 700,
      `closed after ${waited} ms: too soon to slow guessing`,
    );
    assert.ok(await json.waitClosed(3000));

    text.write("typist\n");
    assert.equal(await text.nextLine(), "Password?");
    text.write("wrong-guess-2\n");
    assert.equal(await text.nextLine(), `! ${ERROR_MESSAGES.bad_password}`);
    assert.equal(await text.nextLine(3000), "* Bye: wrong password");
    assert.ok(await text.waitClosed(3000));

    // The right password works in both dialects; none is refused.
    const ok = await TestClient.join(server.port, "member", {
      password: PASSWORD,
    });
    const typed = await TestClient.connect(server.port);
    await typed.nextLine();
    typed.write(`typed\n${PASSWORD}\n`);
    assert.equal(await typed.nextLine(), "Password?");
    await typed.waitForLine("Welcome, typed!");
    const none = await TestClient.connect(server.port);
    await none.nextLine();
    none.send({ type: "hello", nick: "nopass" });
    const refused = await none.waitFor((e) => e.type === "error");
    assert.equal(refused.type === "error" && refused.code, "bad_password");
    await Promise.all([ok.client.close(), typed.close(), none.close()]);
  } finally {
    await Promise.all([json.close(), text.close()]);
    await server.stop();
  }
  for (const secret of [PASSWORD, "wrong-guess-1", "wrong-guess-2"]) {
    assert.ok(!server.log.includes(secret), `"${secret}" in the log`);
    assert.ok(
      !server.startup.includes(secret),
      `"${secret}" in the startup text`,
    );
  }
  assert.match(server.log, /refused .*wrong password/);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`${signal}: bye to everyone, history flushed, exit 0 within 2 s`, async () => {
    const dir = await tempDir();
    const db = `${dir.path}/chat.db`;
    const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
    const a = await TestClient.join(server.port, "alice");
    const b = await TestClient.join(server.port, "bob");
    const c = await joinText(server.port, "carol");
    // One that stopped reading must not hold the exit up.
    const stalled = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    await stalled.write(
      new TextEncoder().encode('{"type":"hello","nick":"stalled"}\n'),
    );
    try {
      for (let i = 0; i < 20; i++) {
        a.client.send({ type: "say", text: `before ${i}` });
      }
      for (let i = 0; i < 20; i++) {
        await b.client.waitFor((e) => e.type === "msg");
      }
      const started = Date.now();
      const status = await server.stop(signal);
      const took = Date.now() - started;
      assert.equal(status.code, 0, `exit code after ${signal}`);
      assert.ok(took < 2000, `exited after ${took} ms`);
      for (const { client } of [a, b]) {
        const bye = await client.waitFor((e) => e.type === "bye");
        assert.deepEqual(bye, { type: "bye", reason: "server shutting down" });
      }
      await c.waitForLine("* Bye: server shutting down");
    } finally {
      stalled.close();
      await Promise.all([a.client.close(), b.client.close(), c.close()]);
      await server.stop("SIGKILL");
    }
    const again = await ServerProcess.start(["--db", db]);
    try {
      const d = await TestClient.join(again.port, "dave");
      assert.deepEqual(
        d.welcome.history.map((m) => m.text).slice(-20),
        Array.from({ length: 20 }, (_, i) => `before ${i}`),
      );
      await d.client.close();
    } finally {
      await again.stop();
      await dir.remove();
    }
  });
}

Deno.test("kill -9 during a burst from several clients: every echoed message is in history, in order, whole", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
  const senders = await Promise.all(
    ["s0", "s1", "s2", "s3"].map((nick) => TestClient.join(server.port, nick)),
  );
  const seen = new Map<number, Msg>();
  const orders: number[][] = senders.map(() => []);
  const padding = "·".repeat(300);
  try {
    // Each sender writes its burst at once; each watches what it receives.
    for (const [s, { client }] of senders.entries()) {
      let burst = "";
      for (let i = 0; i < 3000; i++) {
        burst +=
          JSON.stringify({ type: "say", text: `s${s}-${i} ${padding}` }) + "\n";
      }
      client.write(burst);
    }
    const watching = senders.map(async ({ client }, s) => {
      try {
        for (;;) {
          const msg = await client.waitFor(
            (e) => e.type === "msg",
            10_000,
          ) as Msg;
          seen.set(msg.id, msg);
          orders[s].push(msg.id);
        }
      } catch { /* the server is gone */ }
    });
    const deadline = Date.now() + 10_000;
    while (seen.size < 1500 && Date.now() < deadline) await sleep(5);
    await server.stop("SIGKILL");
    await Promise.all(watching);
    assert.ok(seen.size >= 1500, `saw ${seen.size} messages before the kill`);
    assert.ok(seen.size < 12_000, "killed in the middle of the burst");
  } finally {
    await Promise.all(senders.map(({ client }) => client.close()));
  }

  // --rate 0: reading it all takes a hundred pages of history at once.
  const again = await ServerProcess.start(["--db", db, "--rate", "0"]);
  try {
    const reader = await TestClient.join(again.port, "reader");
    // A welcome holds at most 64 KiB of history: page back to the start.
    const history = [...reader.welcome.history];
    for (let more = reader.welcome.more === true; more;) {
      reader.client.send({
        type: "history",
        before: history[0].id,
        limit: 1000,
      });
      const page = await reader.client.waitFor((e) => e.type === "history");
      assert.ok(page.type === "history");
      history.unshift(...page.messages);
      more = page.more;
    }
    await reader.client.close();
    const stored = new Map(history.map((m) => [m.id, m]));
    for (const [id, msg] of seen) {
      assert.deepEqual(
        stored.get(id),
        msg,
        `message ${id} was echoed, so it is stored`,
      );
    }
    // Ids increase, and each receiver saw them in the stored order.
    const ids = history.map((m) => m.id);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
    for (const order of orders) {
      const saw = new Set(order);
      assert.deepEqual(order, ids.filter((id) => saw.has(id)));
    }
    // Nothing partial: every stored text is one that was sent, whole, and
    // each sender's stored messages are its first k, in order.
    const next = [0, 0, 0, 0];
    for (const m of history) {
      const match = m.text.match(/^s(\d)-(\d+) (·+)$/);
      assert.ok(match, `stored text is whole: ${m.text.slice(0, 40)}`);
      assert.equal(match[3], padding);
      const s = Number(match[1]);
      assert.equal(m.from, `s${s}`);
      assert.equal(Number(match[2]), next[s]++, `sender s${s} has no gap`);
    }
  } finally {
    await again.stop();
    await dir.remove();
  }
});
