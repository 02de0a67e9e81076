/**
 * The attacks from one machine, against the real server with its
 * default limits, each with the numbers that show the defence: a thousand
 * sockets from one address, password guessing, a reconnect loop that
 * floods, a member closed by its own welcome, running out of open files.
 * Other loopback addresses (127.0.0.2, 127.0.0.3) play the innocent ones.
 */

import assert from "node:assert/strict";
import { ERROR_MESSAGES, type ServerEvent } from "../protocol.ts";
import { SERVE_DEFAULTS } from "../src/shared/limits.ts";
import { ROOT, ServerProcess, TestClient } from "./helpers.ts";
import { sleep, waitForLog } from "./hostile_helpers.ts";
import { WsTestClient } from "./web_client.ts";

type Msg = Extract<ServerEvent, { type: "msg" }>;

const decoder = new TextDecoder();

/** The first line a raw socket reads (or "" if it is closed first). */
async function firstLine(conn: Deno.Conn, timeoutMs = 10_000): Promise<string> {
  const buffer = new Uint8Array(1024);
  let text = "";
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    while (!text.includes("\n")) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n));
    }
  } catch {
    /* closed */
  } finally {
    clearTimeout(timer);
  }
  return text.split("\n")[0];
}

function closeAll(conns: Deno.Conn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch { /* closed already */ }
  }
}

Deno.test("one address opening 1,000 sockets gets 10 of them; a newcomer from 127.0.0.2 joins within a second", async () => {
  const server = await ServerProcess.start();
  const sockets: Deno.Conn[] = [];
  let newcomer: TestClient | undefined;
  try {
    const started = performance.now();
    const opened = await Promise.allSettled(
      Array.from(
        { length: 1000 },
        () => Deno.connect({ hostname: "127.0.0.1", port: server.port }),
      ),
    );
    for (const result of opened) {
      if (result.status === "fulfilled") sockets.push(result.value);
    }
    const firsts = await Promise.all(sockets.map((s) => firstLine(s)));
    const openMs = performance.now() - started;
    const banners = firsts.filter((l) => l.startsWith("Welcome to")).length;
    const refused = firsts.filter((l) => l.startsWith("Sorry, ")).length;
    assert.equal(sockets.length, 1000);
    // All of them are still joining: the cap on those admits 10.
    assert.equal(banners, SERVE_DEFAULTS.maxUnauthPerAddress);
    assert.equal(refused, 1000 - banners, "every other one reads why");

    // The attacker's sockets give nicknames, and it keeps on connecting.
    const attackers = sockets.filter((_, i) => firsts[i].startsWith("Welcome"));
    for (const [i, conn] of attackers.entries()) {
      conn.write(new TextEncoder().encode(`attacker${i}\n`)).catch(() => {});
    }
    let hammering = true;
    const extra: Deno.Conn[] = [];
    const hammer = (async () => {
      while (hammering && extra.length < 500) {
        try {
          extra.push(
            await Deno.connect({ hostname: "127.0.0.1", port: server.port }),
          );
        } catch { /* refused by the kernel: fine */ }
      }
    })();

    const joinStarted = performance.now();
    newcomer = (await TestClient.join(server.port, "newcomer", {}, "127.0.0.2"))
      .client;
    const joinMs = performance.now() - joinStarted;
    hammering = false;
    await hammer;
    const extraLines = await Promise.all(extra.map((s) => firstLine(s, 3000)));
    closeAll(extra);
    assert.ok(joinMs < 1000, `the newcomer took ${joinMs.toFixed(0)} ms`);
    // Its members no longer count as joining: it may fill up to its cap.
    const extraBanners = extraLines.filter((l) => l.startsWith("Welcome"))
      .length;
    assert.ok(
      banners + extraBanners <= SERVE_DEFAULTS.maxPerAddress,
      `the attacker holds ${banners + extraBanners} connections`,
    );
    assert.equal(
      extraLines.filter((l) => l.startsWith("Sorry, ")).length,
      extra.length - extraBanners,
    );
    newcomer.send({ type: "say", text: "I got in" });
    const echo = await newcomer.waitFor((e) => e.type === "msg") as Msg;
    assert.equal(echo.text, "I got in");
    const refusalLines = server.log.split("\n").filter((l) =>
      l.includes("refused 127.0.0.1")
    ).length;
    console.log(
      `  1,000 sockets from 127.0.0.1 in ${openMs.toFixed(0)} ms: ` +
        `${banners} got the banner, ${refused} were refused; ` +
        `${extra.length} more (${extraBanners} let in) while the newcomer from 127.0.0.2 joined in ` +
        `${
          joinMs.toFixed(0)
        } ms; ${refusalLines} log lines for all the refusals`,
    );
    assert.ok(
      refusalLines <= 10,
      `refusals are logged once a second, not ${refusalLines} times`,
    );
  } finally {
    closeAll(sockets);
    await newcomer?.close();
    await server.stop();
  }
});

const PASSWORD = "7351";

Deno.test("one address guessing passwords from 10 connections gets at most 2 checks in any second, 4 in 6 s; another address is let in at once", async () => {
  const server = await ServerProcess.start(["--password", PASSWORD]);
  const WINDOW_MS = 6000;
  const checks: number[] = [];
  let uncheckedRefusals = 0;
  let doorRefusals = 0;
  let attempts = 0;
  let friend: TestClient | undefined;
  try {
    const started = Date.now();
    const stopAt = started + WINDOW_MS;
    const guesser = async (id: number) => {
      for (let n = 0; Date.now() < stopAt; n++) {
        attempts++;
        const client = await TestClient.connect(server.port);
        try {
          const first = await client.nextLine();
          if (first.startsWith("Sorry, ")) {
            doorRefusals++;
            await sleep(50);
            continue;
          }
          client.send({
            type: "hello",
            nick: `g${id}-${n}`,
            password: String(1000 + id * 100 + n),
          });
          const reply = await client.waitFor(
            (e) => e.type === "error" || e.type === "welcome",
            Math.max(1, stopAt - Date.now()),
          );
          assert.notEqual(reply.type, "welcome");
          if (reply.type === "error" && reply.code === "bad_password") {
            checks.push(Date.now() - started);
          } else uncheckedRefusals++;
        } catch {
          // Still waiting for its turn when the window closed.
        } finally {
          await client.close();
        }
      }
    };
    const guessing = Promise.all(
      Array.from({ length: 10 }, (_, i) => guesser(i)),
    );
    // Meanwhile a classmate elsewhere joins with the right password.
    await sleep(1500);
    const friendStarted = Date.now();
    friend = (await TestClient.join(server.port, "friend", {
      password: PASSWORD,
    }, "127.0.0.2")).client;
    const friendMs = Date.now() - friendStarted;
    await guessing;
    console.log(
      `  ${attempts} attempts from 127.0.0.1 in ${WINDOW_MS / 1000} s: ` +
        `${checks.length} passwords checked (answers at ${
          checks.join(", ")
        } ms), ` +
        `${uncheckedRefusals} refused unchecked, ${doorRefusals} at the door; ` +
        `127.0.0.2 got in in ${friendMs} ms`,
    );
    assert.ok(checks.length >= 1, "the first guess is checked");
    assert.ok(checks.length <= 4, `${checks.length} checks in 6 s`);
    for (let i = 0; i + 2 < checks.length; i++) {
      assert.ok(
        checks[i + 2] - checks[i] >= 1000,
        `three checks within a second: ${checks}`,
      );
    }
    assert.ok(
      checks[0] >= 800,
      `the refusal itself is delayed: the first came after ${checks[0]} ms`,
    );
    assert.ok(friendMs < 1000, `the friend waited ${friendMs} ms`);
    assert.match(server.log, /refused .*wrong password/);
    assert.ok(!server.log.includes(PASSWORD), "no password in the log");
  } finally {
    await friend?.close();
    await server.stop();
  }
});

Deno.test("connect, say ten lines, quit, in a loop from one address: a watcher gets about --rate messages a second and 2 join notices a second", async () => {
  const server = await ServerProcess.start();
  const { rate, burst } = SERVE_DEFAULTS;
  const SECONDS = 5;
  const { client: watcher } = await TestClient.join(
    server.port,
    "watcher",
    {},
    "127.0.0.2",
  );
  let loops = 0;
  let sent = 0;
  try {
    const stopAt = Date.now() + SECONDS * 1000;
    const flooder = async (id: number) => {
      while (Date.now() < stopAt) {
        const client = await TestClient.connect(server.port);
        try {
          const first = await client.nextLine();
          if (first.startsWith("Sorry, ")) {
            await sleep(20);
            continue;
          }
          client.send({ type: "hello", nick: `f${id}-${loops++}` });
          await client.waitFor(
            (e) => e.type === "welcome",
            Math.max(1, stopAt - Date.now()),
          );
          let lines = "";
          for (let i = 0; i < 10; i++) {
            lines += JSON.stringify({ type: "say", text: `spam ${i}` }) + "\n";
          }
          await client.writeAll(
            lines + JSON.stringify({ type: "quit" }) + "\n",
          );
          sent += 10;
          await client.waitClosed(2000);
        } catch {
          // A hello still waiting its turn when time was up.
        } finally {
          await client.close();
        }
      }
    };
    await flooder(0);
    const elapsed = SECONDS + 0.5;
    await sleep(500);
    const events = watcher.drainEvents();
    const spam = events.filter((e) => e.type === "msg" && e.from !== "watcher");
    const joins = events.filter((e) => e.type === "join").length;
    const leaves = events.filter((e) => e.type === "leave").length;
    console.log(
      `  ${loops} reconnects, ${sent} lines sent in ${SECONDS} s: the watcher ` +
        `got ${spam.length} messages (${
          (spam.length / SECONDS).toFixed(1)
        }/s), ` +
        `${joins} joins and ${leaves} leaves`,
    );
    // One burst, then the rate: what one connection staying on could send.
    const bound = burst + rate * elapsed;
    assert.ok(
      spam.length <= bound,
      `${spam.length} messages reached the room, over ${bound}`,
    );
    assert.ok(spam.length > 0, "some of it is let through: it is a limit");
    // Hellos: a burst of 10, then 2 a second, for the whole address.
    assert.ok(joins <= 10 + 2 * elapsed, `${joins} join notices`);
    assert.ok(leaves <= joins, `${leaves} leave notices`);
  } finally {
    await watcher.close();
    await server.stop();
  }
});

Deno.test("a newcomer its own welcome closes (too slow to read) leaves nothing: its nick is free, /who does not list it, its --max-clients slot is free", async () => {
  // Every queued byte counts from the first, and the welcome's history alone
  // (up to 64 KiB: 16 messages of 4,000 characters) is over this limit, so
  // the server drops the newcomer while it is being welcomed.
  const server = await ServerProcess.start([
    "--rate",
    "0",
    "--history",
    "400",
    "--max-queue",
    "40000",
    // The filler and the ghost fill the server: a slot the ghost kept
    // would turn the next newcomer away as "server is full".
    "--max-clients",
    "2",
  ]);
  const { client: filler } = await TestClient.join(server.port, "filler", {
    room: "big",
  });
  const staller = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.port,
  });
  let again: TestClient | undefined;
  try {
    const text = "x".repeat(3990);
    for (let i = 0; i < 400; i++) {
      filler.send({ type: "say", text: `${i} ${text}` });
      await filler.waitFor((e) => e.type === "msg");
    }
    await staller.write(
      new TextEncoder().encode(
        JSON.stringify({ type: "hello", nick: "ghost", room: "big" }) + "\n",
      ),
    );
    await waitForLog(server, /slow 127\.0\.0\.1:\d+: over 40000/, 10_000);
    filler.send({ type: "who" });
    const who = await filler.waitFor((e) => e.type === "who");
    assert.deepEqual(who.type === "who" && who.users, ["filler"]);
    // The nickname is free again (in a room whose welcome is small: any
    // newcomer to "big" gets more than 40,000 bytes at once).
    again = (await TestClient.join(server.port, "ghost")).client;
    again.send({ type: "who" });
    const after = await again.waitFor((e) => e.type === "who");
    assert.deepEqual(after.type === "who" && after.users, ["ghost"]);
  } finally {
    try {
      staller.close();
    } catch { /* closed */ }
    await again?.close();
    await filler.close();
    await server.stop();
  }
});

Deno.test("out of open files (ulimit -n 64): the server warns at start, survives the accept errors and serves again", async () => {
  const server = await ServerProcess.start(
    ["--max-per-address", "0"],
    [
      "sh",
      "-c",
      'ulimit -n 64 && exec "$@"',
      "chat",
      Deno.execPath(),
      "run",
      "--allow-all",
      `${ROOT}main.ts`,
    ],
  );
  const sockets: Deno.Conn[] = [];
  let member: TestClient | undefined;
  try {
    await waitForLog(server, /open-file limit \(ulimit -n\) is 64/);
    for (let i = 0; i < 100; i++) {
      sockets.push(
        await Deno.connect({ hostname: "127.0.0.1", port: server.port }),
      );
    }
    await waitForLog(server, /accept error: .*[Tt]oo many open files/);
    const served = (await Promise.all(sockets.map((s) => firstLine(s, 1000))))
      .filter((l) => l.startsWith("Welcome")).length;
    closeAll(sockets);
    // The sockets the kernel queued meanwhile are accepted and found
    // closed; then a newcomer is served as usual.
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        member = (await TestClient.join(server.port, "survivor")).client;
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(200);
      }
    }
    member.send({ type: "say", text: "still serving" });
    const echo = await member.waitFor((e) => e.type === "msg") as Msg;
    assert.equal(echo.text, "still serving");
    const errors = server.log.split("\n").filter((l) =>
      l.includes("accept error")
    ).length;
    console.log(
      `  with 64 open files: ${served} of 100 sockets served, ` +
        `${errors} accept errors logged, then served again`,
    );
    assert.ok(served < 100, "the limit was reached");
    assert.ok(errors < 100, `backing off, not spinning: ${errors} errors`);
  } finally {
    closeAll(sockets);
    await member?.close();
    await server.stop();
  }
});

Deno.test("a wrong password's refusal itself waits; the right one does not", async () => {
  const server = await ServerProcess.start(["--password", PASSWORD]);
  try {
    const wrong = await TestClient.connect(server.port);
    await wrong.nextLine();
    const started = Date.now();
    wrong.send({ type: "hello", nick: "eve", password: "0000" });
    const error = await wrong.waitFor((e) => e.type === "error");
    const waited = Date.now() - started;
    assert.equal(
      error.type === "error" && error.message,
      ERROR_MESSAGES.bad_password,
    );
    assert.ok(waited >= 900, `the refusal came after ${waited} ms`);
    await wrong.close();
    // From another address, the right password gets in at once.
    const rightStarted = Date.now();
    const { client } = await TestClient.join(server.port, "alice", {
      password: PASSWORD,
    }, "127.0.0.3");
    assert.ok(Date.now() - rightStarted < 900);
    await client.close();
  } finally {
    await server.stop();
  }
});

/** A WebSocket upgrade of `/ws`, as a program sends it (no Origin). */
function upgradeHead(port: number): string {
  const key = btoa(
    String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
  );
  return `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

Deno.test("the IRC and web doors share the per-address limits: 30 WebSockets from one address get 10 upgrades, IRC clients from another at most 20 registrations; newcomers elsewhere join over both within a second", async () => {
  const server = await ServerProcess.start();
  const attackers: TestClient[] = [];
  const opened = async (from: string) => {
    const client = await TestClient.connectFrom(from, server.port);
    attackers.push(client);
    return client;
  };
  let ircNewcomer: TestClient | undefined;
  let wsNewcomer: WsTestClient | undefined;
  try {
    // WebSockets that upgrade and never say hello: all still joining.
    const sockets = await Promise.all(
      Array.from({ length: 30 }, () => opened("127.0.0.2")),
    );
    for (const socket of sockets) socket.write(upgradeHead(server.port));
    const firsts = await Promise.all(
      sockets.map((s) => s.nextLine(10_000).catch(() => "")),
    );
    const upgraded = firsts.filter((l) => l.startsWith("HTTP/1.1 101")).length;
    const wsRefused = firsts.filter((l) => l.startsWith("Sorry, ")).length;
    assert.equal(upgraded, SERVE_DEFAULTS.maxUnauthPerAddress);
    assert.equal(wsRefused, 30 - upgraded, "every other one reads why");

    // IRC clients that register, one after another: members no longer
    // count as joining, so the cap on connections at once is what holds.
    let registered = 0;
    let atOnce = "";
    for (let i = 0; i < 40 && !atOnce; i++) {
      const irc = await opened("127.0.0.3");
      irc.write(`NICK raider${i}\r\nUSER raider${i} 0 * :r\r\n`);
      const line = await irc.waitForLine(/ 001 |^Sorry, /, 10_000);
      if (line.includes(" 001 ")) registered++;
      else if (line.includes("at once")) atOnce = line;
      else await sleep(200); // connecting too fast: try again shortly
    }
    assert.equal(registered, SERVE_DEFAULTS.maxPerAddress);
    assert.match(
      atOnce,
      new RegExp(
        `too many connections from your address \\(${SERVE_DEFAULTS.maxPerAddress} at once\\)`,
      ),
    );

    // Meanwhile, from 127.0.0.1, one classmate over IRC, one in a browser.
    const ircStarted = performance.now();
    ircNewcomer = await TestClient.connect(server.port);
    ircNewcomer.write("NICK carol\r\nUSER carol 0 * :Carol\r\n");
    await ircNewcomer.waitForLine(/ 001 carol /);
    const ircMs = performance.now() - ircStarted;
    const wsStarted = performance.now();
    const joined = await WsTestClient.join({ port: server.port }, "dave");
    wsNewcomer = joined.client;
    const wsMs = performance.now() - wsStarted;
    assert.equal(joined.welcome.type, "welcome");
    console.log(
      `  127.0.0.2: ${upgraded} of 30 WebSockets upgraded, ${wsRefused} refused; ` +
        `127.0.0.3: ${registered} IRC clients registered, then "${atOnce}"; ` +
        `newcomers from 127.0.0.1 in ${ircMs.toFixed(0)} ms (IRC), ${
          wsMs.toFixed(0)
        } ms (WebSocket)`,
    );
    assert.ok(ircMs < 1000, `the IRC newcomer took ${ircMs.toFixed(0)} ms`);
    assert.ok(wsMs < 1000, `the browser newcomer took ${wsMs.toFixed(0)} ms`);
  } finally {
    await ircNewcomer?.close();
    await wsNewcomer?.close();
    await Promise.all(attackers.map((a) => a.close()));
    await server.stop();
  }
});

Deno.test("over IRC and WebSocket too, a reconnect loop from one address gets about --rate messages a second into the room", async () => {
  const server = await ServerProcess.start();
  const { rate, burst } = SERVE_DEFAULTS;
  const SECONDS = 4;
  const { client: watcher } = await TestClient.join(
    server.port,
    "watcher",
    {},
    "127.0.0.2",
  );
  let loops = 0;
  try {
    const stopAt = Date.now() + SECONDS * 1000;
    const irc = async () => {
      while (Date.now() < stopAt) {
        const client = await TestClient.connect(server.port);
        try {
          const nick = `i${loops++}`;
          client.write(`NICK ${nick}\r\nUSER ${nick} 0 * :x\r\n`);
          const line = await client.waitForLine(
            / 001 |^Sorry, |too many joins/,
            Math.max(1, stopAt - Date.now()),
          );
          if (!line.includes(" 001 ")) {
            await sleep(50);
            continue;
          }
          let lines = "";
          for (let i = 0; i < 10; i++) lines += `PRIVMSG #lobby :spam ${i}\r\n`;
          client.write(lines + "QUIT :bye\r\n");
          await client.waitClosed(2000);
        } catch {
          // Still registering when time was up.
        } finally {
          await client.close();
        }
      }
    };
    const ws = async () => {
      while (Date.now() < stopAt) {
        let client: WsTestClient | undefined;
        try {
          client =
            (await WsTestClient.join({ port: server.port }, `w${loops++}`))
              .client;
          for (let i = 0; i < 10; i++) {
            client.send({ type: "say", text: `spam ${i}` });
          }
          client.send({ type: "quit" });
          await sleep(100);
        } catch {
          await sleep(50); // refused at the door, or not welcomed in time
        } finally {
          await client?.close();
        }
      }
    };
    await Promise.all([irc(), ws()]);
    await sleep(500);
    const events = watcher.drainEvents();
    const spam = events.filter((e) => e.type === "msg" && e.from !== "watcher");
    const elapsed = SECONDS + 0.5;
    console.log(
      `  ${loops} reconnects over IRC and WebSocket in ${SECONDS} s: the watcher got ${spam.length} messages (${
        (spam.length / SECONDS).toFixed(1)
      }/s)`,
    );
    // Two loops at once: two connections' worth at most.
    const bound = 2 * (burst + rate * elapsed);
    assert.ok(spam.length <= bound, `${spam.length} messages, over ${bound}`);
    assert.ok(spam.length > 0, "some of it is let through: it is a limit");
  } finally {
    await watcher.close();
    await server.stop();
  }
});
