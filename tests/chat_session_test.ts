/**
 * The terminal client's session against the real server process: resume
 * after a restart with nothing lost or doubled, lines typed offline sent
 * once, a nickname still held after a drop, a server that is down, a refusal.
 *
 * The session's waits between attempts go through a gate the test opens, so
 * "while it was away" is decided by the test, not by timing.
 */

import assert from "node:assert/strict";
import type { RoomMessage, ServerEvent } from "../protocol.ts";
import {
  ChatSession,
  type LinkState,
  type SessionListener,
} from "../src/client/chat_session.ts";
import type { WelcomeKind } from "../src/client/terminal_render.ts";
import { ServerProcess, tempDir, TestClient } from "./helpers.ts";
import { seedMessages } from "./history_seed.ts";

/** A port nothing listens on right now (the OS hands out a fresh one). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Holds the session between attempts until the test opens it. */
class Gate {
  #waiters: (() => void)[] = [];

  /** Sessions waiting at the gate. */
  get waiting(): number {
    return this.#waiters.length;
  }

  wait = (_ms: number, signal: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      const done = () => {
        this.#waiters = this.#waiters.filter((w) => w !== done);
        resolve();
      };
      signal.addEventListener("abort", done, { once: true });
      this.#waiters.push(done);
    });

  open(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** Records everything the session reports. */
class Recorder implements SessionListener {
  welcomes: {
    kind: WelcomeKind;
    room: string;
    raw: RoomMessage[];
    shown: RoomMessage[];
    more?: boolean;
  }[] = [];
  events: ServerEvent[] = [];
  states: LinkState[] = [];
  nickAnswers: string[] = [];
  nickReasons: (string | undefined)[] = [];

  welcome(
    event: Extract<ServerEvent, { type: "welcome" }>,
    kind: WelcomeKind,
    history: RoomMessage[],
  ): void {
    this.welcomes.push({
      kind,
      room: event.room,
      raw: event.history,
      shown: history,
      more: event.more,
    });
    this.timeline.push(...history.map((m) => m.text));
  }
  /** Texts of every room message passed on, in the order passed on. */
  timeline: string[] = [];
  event(event: ServerEvent): void {
    this.events.push(event);
    if (event.type === "msg") this.timeline.push(event.text);
  }
  notice(): void {}
  state(state: LinkState): void {
    this.states.push(state);
  }
  sent(): void {}
  askNick(reason: string | undefined): Promise<string | undefined> {
    this.nickReasons.push(reason);
    return Promise.resolve(this.nickAnswers.shift());
  }
  passwordAnswers: string[] = [];
  passwordReasons: string[] = [];
  askPassword(reason: string): Promise<string | undefined> {
    this.passwordReasons.push(reason);
    return Promise.resolve(this.passwordAnswers.shift());
  }

  /** Texts of every room message passed on, from welcomes and live. */
  get shownTexts(): string[] {
    return [
      ...this.welcomes.flatMap((w) => w.shown),
      ...this.events.filter((e) => e.type === "msg"),
    ].map((m) => (m as RoomMessage).text);
  }
}

async function until(
  what: string,
  check: () => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Runs a session as alice against 127.0.0.1:port whose retry waits end only
 * when the test opens the gate, so reconnects happen when the test says.
 */
function startAlice(port: number) {
  const gate = new Gate();
  const recorder = new Recorder();
  const session = new ChatSession({
    target: { host: "127.0.0.1", port },
    nick: "alice",
    sleep: gate.wait,
  }, recorder);
  return { gate, recorder, session, running: session.run() };
}

function count(items: string[], item: string): number {
  return items.filter((i) => i === item).length;
}

Deno.test("after a server restart the session resumes: messages sent meanwhile arrive once, lines typed offline are sent once", async () => {
  const dir = await tempDir();
  const port = freePort();
  const serverArgs = ["--db", `${dir.path}/chat.db`, "--port", String(port)];
  let server = await ServerProcess.start(serverArgs);
  const { gate, recorder, session, running } = startAlice(port);
  const clients: TestClient[] = [];
  try {
    const bob = await TestClient.join(port, "bob");
    clients.push(bob.client);
    await until("alice online", () => session.online);
    bob.client.send({ type: "say", text: "before" });
    await until(
      "alice saw 'before'",
      () => recorder.shownTexts.includes("before"),
    );

    await server.stop("SIGKILL");
    await until("alice offline", () => gate.waiting === 1);
    assert.equal(session.online, false);
    const offline = recorder.states.at(-1);
    assert.equal(offline?.kind, "offline");
    assert.equal(
      session.send({ type: "say", text: "typed offline" }, "typed offline"),
      "queued",
    );
    assert.equal(session.pending, 1);

    server = await ServerProcess.start(serverArgs);
    const carol = await TestClient.join(port, "carol");
    clients.push(carol.client);
    for (const text of ["missed 1", "missed 2"]) {
      carol.client.send({ type: "say", text });
      await carol.client.waitFor((e) => e.type === "msg" && e.text === text);
    }

    gate.open();
    await until("alice back", () => recorder.welcomes.length === 2);
    const resumed = recorder.welcomes[1];
    assert.equal(resumed.kind, "resumed");
    assert.deepEqual(
      resumed.raw.map((m) => m.text),
      ["missed 1", "missed 2"],
      "the hello asked for what came after the last message seen (since)",
    );
    await carol.client.waitFor((e) =>
      e.type === "msg" && e.from === "alice" && e.text === "typed offline"
    );
    carol.client.send({ type: "say", text: "after" });
    await until(
      "alice saw 'after'",
      () => recorder.shownTexts.includes("after"),
    );
    assert.equal(session.pending, 0);
    const texts = recorder.shownTexts;
    for (
      const text of ["before", "missed 1", "missed 2", "typed offline", "after"]
    ) {
      assert.equal(count(texts, text), 1, `"${text}" shown exactly once`);
    }
    const extra = carol.client.drainEvents().filter((e) =>
      e.type === "msg" && e.text === "typed offline"
    );
    assert.equal(extra.length, 0, "the offline line was sent once");

    await session.quit();
    assert.deepEqual(await running, { code: 0 });
    const leave = await carol.client.waitFor((e) =>
      e.type === "leave" && e.nick === "alice"
    );
    assert.equal((leave as { reason?: string }).reason, "quit");
  } finally {
    await session.quit();
    await running;
    await Promise.all(clients.map((c) => c.close()));
    await server.stop();
    await dir.remove();
  }
});

Deno.test("a session back after 900 messages (far over 64 KiB) pages for what its welcome left out: each shown once, in order, before what came live", async () => {
  const dir = await tempDir();
  const port = freePort();
  const db = `${dir.path}/chat.db`;
  // A tight allowance: the pages must be paced to it, or be refused.
  const serverArgs = [
    "--db",
    db,
    "--port",
    String(port),
    "--rate",
    "2",
    "--burst",
    "2",
  ];
  let server = await ServerProcess.start(serverArgs);
  const { gate, recorder, session, running } = startAlice(port);
  const clients: TestClient[] = [];
  try {
    const bob = await TestClient.join(port, "bob");
    clients.push(bob.client);
    await until("alice online", () => session.online);
    bob.client.send({ type: "say", text: "before" });
    await until("alice saw 'before'", () => recorder.shownTexts.length === 1);

    await server.stop("SIGKILL");
    await until("alice offline", () => gate.waiting === 1);
    const missed = seedMessages(db, "lobby", 900);
    server = await ServerProcess.start(serverArgs);
    const carol = await TestClient.join(port, "carol");
    clients.push(carol.client);
    gate.open();
    carol.client.send({ type: "say", text: "live" });
    await until(
      "alice saw 'live'",
      () => recorder.shownTexts.includes("live"),
      30_000,
    );
    assert.deepEqual(
      recorder.timeline,
      ["before", ...missed.map((m) => m.text), "live"],
      "every message once, in order, the live one after the missed ones",
    );
    const resumed = recorder.welcomes[1];
    assert.equal(resumed.kind, "resumed");
    assert.ok(resumed.raw.length < 900, "the welcome itself was cut");
    assert.equal(
      resumed.more,
      undefined,
      "and once filled, says nothing is left out",
    );
    assert.deepEqual(
      recorder.events.filter((e) => e.type === "error"),
      [],
      "paging at the server's pace was never refused",
    );
    assert.equal(session.online, true);
    assert.equal(recorder.welcomes.length, 2, "nor cut off for flooding");
  } finally {
    await session.quit();
    await running;
    await Promise.all(clients.map((c) => c.close()));
    await server.stop();
    await dir.remove();
  }
});

Deno.test("a drop in the middle of a catch-up loses nothing: what came is shown, and the next resume fetches the rest, each message once", async () => {
  const dir = await tempDir();
  const port = freePort();
  const db = `${dir.path}/chat.db`;
  // One page a second: the catch-up of 900 messages takes seconds.
  const serverArgs = [
    "--db",
    db,
    "--port",
    String(port),
    "--rate",
    "1",
    "--burst",
    "1",
  ];
  let server = await ServerProcess.start(serverArgs);
  const { gate, recorder, session, running } = startAlice(port);
  try {
    await until("alice online", () => session.online);
    await server.stop("SIGKILL");
    await until("alice offline", () => gate.waiting === 1);
    const missed = seedMessages(db, "lobby", 900);
    server = await ServerProcess.start(serverArgs);
    gate.open();
    await until("alice back", () => session.online);
    await server.stop("SIGKILL");
    await until("alice offline again", () => gate.waiting === 1);
    assert.equal(recorder.welcomes.length, 2);
    assert.equal(
      recorder.welcomes[1].more,
      true,
      "cut off midway: shown with what came, saying more were left out",
    );
    const early = recorder.timeline.length;
    assert.ok(early > 0 && early < 900, `${early} shown before the drop`);

    server = await ServerProcess.start(serverArgs);
    gate.open();
    await until("the rest", () => recorder.timeline.length >= 900, 30_000);
    await until("caught up", () => recorder.welcomes.length === 3);
    assert.deepEqual(
      recorder.timeline.toSorted(),
      missed.map((m) => m.text).toSorted(),
      "every missed message exactly once",
    );
    assert.deepEqual(
      recorder.timeline.slice(early),
      missed.slice(0, 900 - early).map((m) => m.text),
      "the rest in order",
    );
    assert.equal(recorder.welcomes[2].more, undefined);
  } finally {
    await session.quit();
    await running;
    await server.stop();
    await dir.remove();
  }
});

Deno.test("a session in two rooms resumes both after a restart, each after its own last id, every missed message once", async () => {
  const dir = await tempDir();
  const port = freePort();
  const serverArgs = [
    "--db",
    `${dir.path}/chat.db`,
    "--port",
    String(port),
    "--rate",
    "0",
  ];
  let server = await ServerProcess.start(serverArgs);
  const { gate, recorder, session, running } = startAlice(port);
  const clients: TestClient[] = [];
  const join = async (nick: string, room: string) => {
    const { client } = await TestClient.join(port, nick, { room });
    clients.push(client);
    return client;
  };
  const say = async (client: TestClient, text: string) => {
    client.send({ type: "say", text });
    await client.waitFor((e) => e.type === "msg" && e.text === text);
  };
  try {
    await until("alice online", () => session.online);
    assert.equal(session.send({ type: "join", room: "class" }), "sent");
    await until("alice in class", () => session.room === "class");
    assert.deepEqual(session.rooms.map((r) => r.name), ["lobby", "class"]);
    const bob = await join("bob", "class");
    const carol = await join("carol", "lobby");
    await say(bob, "class before");
    await say(carol, "lobby before");
    await until("alice saw both", () => recorder.shownTexts.length === 2);
    assert.equal(
      session.rooms.find((r) => r.name === "lobby")?.unread,
      1,
      "a message of the other room is unread",
    );
    // Switching to a room it is in is local, and what is typed goes there.
    assert.equal(session.send({ type: "join", room: "lobby" }), "switched");
    assert.equal(session.room, "lobby");
    assert.equal(session.rooms.find((r) => r.name === "lobby")?.unread, 0);
    session.send({ type: "say", text: "to lobby" }, "to lobby");
    const mine = await carol.waitFor((e) =>
      e.type === "msg" && e.text === "to lobby"
    );
    assert.equal(mine.type === "msg" && mine.room, "lobby");

    await server.stop("SIGKILL");
    await until("alice offline", () => gate.waiting === 1);
    await Promise.all(clients.splice(0).map((c) => c.close()));
    server = await ServerProcess.start(serverArgs);
    const bob2 = await join("bob", "class");
    const carol2 = await join("carol", "lobby");
    await say(bob2, "class missed 1");
    await say(carol2, "lobby missed");
    await say(bob2, "class missed 2");

    gate.open();
    await until("both rooms back", () => recorder.welcomes.length === 4);
    const [classBack, lobbyBack] = recorder.welcomes.slice(2);
    assert.deepEqual(
      [classBack, lobbyBack].map((w) => [w.kind, w.room]),
      [["resumed", "class"], ["resumed", "lobby"]],
      "every room is resumed, the current one last",
    );
    assert.deepEqual(classBack.raw.map((m) => m.text), [
      "class missed 1",
      "class missed 2",
    ]);
    assert.deepEqual(lobbyBack.raw.map((m) => m.text), ["lobby missed"]);
    assert.equal(session.room, "lobby", "the current room stays current");
    assert.equal(
      session.rooms.find((r) => r.name === "class")?.unread,
      2,
      "missed messages of the other room count as unread",
    );
    await say(bob2, "class live");
    await until(
      "alice saw the live one",
      () => recorder.shownTexts.includes("class live"),
    );
    const texts = recorder.shownTexts;
    for (
      const text of [
        "class before",
        "lobby before",
        "to lobby",
        "class missed 1",
        "lobby missed",
        "class missed 2",
        "class live",
      ]
    ) {
      assert.equal(count(texts, text), 1, `"${text}" shown exactly once`);
    }
  } finally {
    await session.quit();
    await running;
    await Promise.all(clients.map((c) => c.close()));
    await server.stop();
    await dir.remove();
  }
});

Deno.test("a nickname still held by the old connection after a drop means another try, not an exit", async () => {
  const port = freePort();
  let server = await ServerProcess.start(["--port", String(port)]);
  const { gate, recorder, session, running } = startAlice(port);
  let holder: TestClient | undefined;
  try {
    await until("alice online", () => session.online);
    await server.stop("SIGKILL");
    await until("alice waiting", () => gate.waiting === 1);
    server = await ServerProcess.start(["--port", String(port)]);
    // Stands in for the half-open old session the server has not noticed.
    holder = (await TestClient.join(port, "alice")).client;
    gate.open();
    await until("refused and waiting again", () =>
      gate.waiting === 1 &&
      recorder.states.at(-1)?.kind === "offline" &&
      /taken/.test((recorder.states.at(-1) as { reason: string }).reason));
    assert.equal(
      recorder.nickReasons.length,
      0,
      "no nickname prompt on a resume",
    );
    await holder.close();
    holder = undefined;
    await new Promise((resolve) => setTimeout(resolve, 100));
    gate.open();
    await until("alice back", () => session.online);
    assert.equal(session.nick, "alice");
    assert.equal(recorder.welcomes.at(-1)?.kind, "resumed");
  } finally {
    await session.quit();
    await running;
    await holder?.close();
    await server.stop();
  }
});

Deno.test("a server that is down: the session says why and keeps trying until the user leaves", async () => {
  const port = freePort();
  const { gate, recorder, session, running } = startAlice(port);
  await until("first wait", () => gate.waiting === 1);
  gate.open();
  await until(
    "second wait",
    () =>
      gate.waiting === 1 &&
      recorder.states.filter((s) => s.kind === "offline").length === 2,
  );
  const state = recorder.states.at(-1) as { reason: string; attempt: number };
  assert.match(state.reason, /connection refused/);
  assert.equal(state.attempt, 2);
  assert.equal(
    session.send({ type: "who" }),
    "offline",
    "commands need a link",
  );
  await session.quit();
  assert.deepEqual(await running, { code: 0 });
});

Deno.test("a taken nickname on first join asks for another; a missing or wrong password is asked for, and declining it ends the session", async () => {
  const server = await ServerProcess.start(["--password", "sesame"]);
  const bob = await TestClient.join(server.port, "bob", { password: "sesame" });
  try {
    const recorder = new Recorder();
    recorder.nickAnswers.push("bobby");
    const session = new ChatSession({
      target: { host: "127.0.0.1", port: server.port },
      nick: "bob",
      password: "sesame",
    }, recorder);
    const running = session.run();
    await until("joined", () => session.online);
    assert.deepEqual(recorder.nickReasons, ["that nickname is taken"]);
    assert.equal(session.nick, "bobby");
    await session.quit();
    await running;

    // A wrong password is asked for again, on a new connection.
    const asked = new Recorder();
    asked.passwordAnswers.push("sesame");
    const retried = new ChatSession({
      target: { host: "127.0.0.1", port: server.port },
      nick: "eve",
      password: "guess",
    }, asked);
    const retrying = retried.run();
    await until("joined after the second password", () => retried.online);
    assert.deepEqual(asked.passwordReasons, ["wrong password"]);
    await retried.quit();
    assert.deepEqual(await retrying, { code: 0 });

    // None given: the server's is asked for; declining it leaves.
    const declined = new Recorder();
    const refused = new ChatSession({
      target: { host: "127.0.0.1", port: server.port },
      nick: "eve",
    }, declined);
    assert.deepEqual(await refused.run(), { code: 0 });
    assert.deepEqual(declined.passwordReasons, [
      "this server needs a password",
    ]);
  } finally {
    await bob.client.close();
    await server.stop();
  }
});

Deno.test("malformed events from a server are skipped, never a crash", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const encoder = new TextEncoder();
  const serving = (async () => {
    const conn = await listener.accept();
    const lines = [
      "Welcome, fake server",
      JSON.stringify({
        type: "welcome",
        nick: "alice",
        room: "lobby",
        users: ["alice"],
        history: [],
        server: { name: "fake", version: "0" },
      }),
      '{"type":"msg"}',
      '{"type":"msg","id":1,"ts":1,"room":"lobby","from":"bob","text":5}',
      '{"type":"who","room":"lobby","users":[1,2]}',
      '{"type":"nosuch"}',
      "[1,2,3]",
      '{"type":"msg","id":2,"ts":2,"room":"lobby","from":"bob","text":"ok"}',
    ];
    // The banner, then (after the hello) everything else at once.
    await conn.write(encoder.encode(lines[0] + "\n"));
    await conn.read(new Uint8Array(4096));
    await conn.write(encoder.encode(lines.slice(1).join("\n") + "\n"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    conn.close();
  })();
  const { gate, recorder, session, running } = startAlice(port);
  try {
    await until("the link dropped", () => gate.waiting === 1);
    assert.deepEqual(recorder.shownTexts, ["ok"]);
    assert.deepEqual(recorder.events.map((e) => e.type), ["msg"]);
  } finally {
    await session.quit();
    await running;
    await serving;
    listener.close();
  }
});

Deno.test("a big room's join and leave summaries keep the head count exact", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const encoder = new TextEncoder();
  const serving = (async () => {
    const conn = await listener.accept();
    await conn.write(encoder.encode("Welcome, fake server\n"));
    await conn.read(new Uint8Array(4096));
    const events = [
      {
        type: "welcome",
        nick: "alice",
        room: "hall",
        users: Array.from(
          { length: 150 },
          (_, i) => i === 0 ? "alice" : `p${i}`,
        ),
        history: [],
        server: { name: "fake", version: "0" },
      },
      {
        type: "join",
        ts: 1,
        room: "hall",
        nick: "bob",
        users: 192,
        others: 41,
      },
      { type: "leave", ts: 2, room: "hall", nick: "p3", users: 188, others: 3 },
      { type: "msg", id: 1, ts: 3, room: "hall", from: "bob", text: "done" },
    ];
    await conn.write(
      encoder.encode(events.map((e) => JSON.stringify(e)).join("\n") + "\n"),
    );
    await conn.read(new Uint8Array(4096)).catch(() => null);
    conn.close();
  })();
  const recorder = new Recorder();
  const session = new ChatSession({
    target: { host: "127.0.0.1", port },
    nick: "alice",
  }, recorder);
  const running = session.run();
  try {
    await until("the last message", () => recorder.shownTexts.includes("done"));
    assert.equal(session.userCount, 188);
  } finally {
    await session.quit();
    await running;
    await serving;
    listener.close();
  }
});

Deno.test("a registered nickname without its password is asked for it, then joins", async () => {
  const server = await ServerProcess.start([]);
  try {
    const owner = await TestClient.join(server.port, "alice");
    owner.client.send({ type: "register", password: "alice-pass" });
    await owner.client.waitFor((e) => e.type === "info");
    owner.client.send({ type: "quit" });
    await owner.client.waitClosed();
    await owner.client.close();

    const recorder = new Recorder();
    recorder.passwordAnswers.push("alice-pass");
    const session = new ChatSession({
      target: { host: "127.0.0.1", port: server.port },
      nick: "alice",
    }, recorder);
    const running = session.run();
    await until("joined", () => session.online);
    assert.deepEqual(recorder.passwordReasons, [
      "alice is a registered nickname: its password is needed",
    ]);
    assert.equal(session.nick, "alice");
    await session.quit();
    assert.deepEqual(await running, { code: 0 });
    // Asking cost no guess: no wrong password was logged.
    assert.doesNotMatch(server.log, /wrong password/);
  } finally {
    await server.stop();
  }
});
