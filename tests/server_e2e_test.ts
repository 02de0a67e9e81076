/**
 * End to end: the real `main.ts serve` process, real TCP clients in both
 * dialects.
 */

import assert from "node:assert/strict";
import type { ServerEvent } from "../protocol.ts";
import { runChat, ServerProcess, tempDir, TestClient } from "./helpers.ts";

type Msg = Extract<ServerEvent, { type: "msg" }>;

Deno.test("a message reaches every member of the room, echoed to its sender", async () => {
  const server = await ServerProcess.start();
  const a = await TestClient.join(server.port, "alice");
  const b = await TestClient.join(server.port, "bob");
  const c = await TestClient.join(server.port, "carol");
  try {
    a.client.send({ type: "say", text: "你好，世界 👋" });
    for (const { client } of [a, b, c]) {
      const msg = await client.waitFor((e) => e.type === "msg") as Msg;
      assert.equal(msg.from, "alice");
      assert.equal(msg.text, "你好，世界 👋");
      assert.equal(msg.room, "lobby");
      assert.ok(msg.id > 0 && msg.ts > 0);
    }
  } finally {
    await Promise.all([a.client.close(), b.client.close(), c.client.close()]);
    await server.stop();
  }
});

Deno.test("messages from one sender arrive in order at every member", async () => {
  const server = await ServerProcess.start(["--rate", "0"]);
  const a = await TestClient.join(server.port, "alice");
  const b = await TestClient.join(server.port, "bob");
  try {
    for (let i = 0; i < 200; i++) a.client.send({ type: "say", text: `m${i}` });
    for (const { client } of [a, b]) {
      let lastId = 0;
      for (let i = 0; i < 200; i++) {
        const msg = await client.waitFor((e) => e.type === "msg") as Msg;
        assert.equal(msg.text, `m${i}`);
        assert.ok(msg.id > lastId, "ids increase");
        lastId = msg.id;
      }
    }
  } finally {
    await Promise.all([a.client.close(), b.client.close()]);
    await server.stop();
  }
});

Deno.test("joins and leaves are announced; from is set by the server", async () => {
  const server = await ServerProcess.start();
  const a = await TestClient.join(server.port, "alice");
  try {
    const b = await TestClient.join(server.port, "bob");
    const join = await a.client.waitFor((e) => e.type === "join");
    assert.deepEqual({ ...join, ts: 0 }, {
      type: "join",
      ts: 0,
      room: "lobby",
      nick: "bob",
      users: 2,
    });
    assert.deepEqual(b.welcome.users, ["alice", "bob"]);
    b.client.send({ type: "say", text: "hi", from: "alice" });
    const msg = await a.client.waitFor((e) => e.type === "msg") as Msg;
    assert.equal(msg.from, "bob", "a client cannot speak as another");
    await b.client.close();
    const leave = await a.client.waitFor((e) => e.type === "leave");
    assert.equal(leave.type === "leave" && leave.nick, "bob");
  } finally {
    await a.client.close();
    await server.stop();
  }
});

Deno.test("a taken nickname is refused in any case and the connection stays open", async () => {
  const server = await ServerProcess.start();
  const a = await TestClient.join(server.port, "Alice");
  const b = await TestClient.connect(server.port);
  try {
    await b.nextLine();
    b.send({ type: "hello", nick: "alice" });
    const error = await b.waitFor((e) => e.type === "error");
    assert.equal(error.type === "error" && error.code, "nick_taken");
    b.send({ type: "hello", nick: "bad nick!" });
    const invalid = await b.waitFor((e) => e.type === "error");
    assert.equal(invalid.type === "error" && invalid.code, "nick_invalid");
    b.send({ type: "hello", nick: "小明" });
    const welcome = await b.waitFor((e) => e.type === "welcome");
    assert.equal(welcome.type === "welcome" && welcome.nick, "小明");
  } finally {
    await Promise.all([a.client.close(), b.close()]);
    await server.stop();
  }
});

Deno.test("a private message reaches only its recipient and the sender", async () => {
  const server = await ServerProcess.start();
  const a = await TestClient.join(server.port, "alice");
  const b = await TestClient.join(server.port, "bob");
  const c = await TestClient.join(server.port, "carol");
  try {
    a.client.send({ type: "dm", to: "BOB", text: "secret" });
    for (const { client } of [a, b]) {
      const dm = await client.waitFor((e) => e.type === "dm");
      assert.deepEqual(
        dm.type === "dm" && [dm.from, dm.to, dm.text],
        ["alice", "bob", "secret"],
      );
    }
    a.client.send({ type: "dm", to: "nobody", text: "x" });
    const error = await a.client.waitFor((e) => e.type === "error");
    assert.equal(error.type === "error" && error.code, "no_such_user");
    c.client.send({ type: "ping" });
    const skipped: ServerEvent[] = [];
    await c.client.waitFor((e) => e.type === "pong", 5000, skipped);
    assert.ok(!skipped.some((e) => e.type === "dm"), "carol saw no dm");
  } finally {
    await Promise.all([a.client.close(), b.client.close(), c.client.close()]);
    await server.stop();
  }
});

Deno.test("rooms keep their conversations apart; who and rooms list them", async () => {
  const server = await ServerProcess.start();
  const a = await TestClient.join(server.port, "alice");
  const b = await TestClient.join(server.port, "bob", { room: "games" });
  try {
    assert.equal(b.welcome.room, "games");
    a.client.send({ type: "say", text: "lobby only" });
    await a.client.waitFor((e) => e.type === "msg");
    b.client.send({ type: "rooms" });
    const rooms = await b.client.waitFor((e) => e.type === "rooms");
    assert.deepEqual(rooms.type === "rooms" && rooms.rooms, [
      { name: "games", users: 1 },
      { name: "lobby", users: 1 },
    ]);
    b.client.send({ type: "join", room: "lobby" });
    const skipped: ServerEvent[] = [];
    const welcome = await b.client.waitFor(
      (e) => e.type === "welcome",
      5000,
      skipped,
    );
    assert.ok(
      !skipped.some((e) => e.type === "msg"),
      "games never saw the lobby message live",
    );
    assert.equal(welcome.type === "welcome" && welcome.room, "lobby");
    assert.equal(
      welcome.type === "welcome" && welcome.history.at(-1)?.text,
      "lobby only",
    );
    b.client.send({ type: "who" });
    const who = await b.client.waitFor((e) => e.type === "who");
    assert.deepEqual(who.type === "who" && who.users, ["alice", "bob"]);
  } finally {
    await Promise.all([a.client.close(), b.client.close()]);
    await server.stop();
  }
});

Deno.test("a late joiner sees recent history; since resumes with nothing missed or doubled", async () => {
  const server = await ServerProcess.start(["--history", "3", "--rate", "0"]);
  const a = await TestClient.join(server.port, "alice");
  try {
    for (let i = 1; i <= 5; i++) a.client.send({ type: "say", text: `h${i}` });
    const echoes: Msg[] = [];
    for (let i = 0; i < 5; i++) {
      echoes.push(await a.client.waitFor((e) => e.type === "msg") as Msg);
    }
    const late = await TestClient.join(server.port, "late");
    assert.deepEqual(late.welcome.history.map((m) => m.text), [
      "h3",
      "h4",
      "h5",
    ]);
    await late.client.close();
    const resumed = await TestClient.join(server.port, "late", {
      since: echoes[0].id,
    });
    assert.deepEqual(resumed.welcome.history.map((m) => m.text), [
      "h2",
      "h3",
      "h4",
      "h5",
    ]);
    await resumed.client.close();
  } finally {
    await a.client.close();
    await server.stop();
  }
});

Deno.test("the text dialect: nickname prompt, commands and readable lines", async () => {
  const server = await ServerProcess.start();
  const json = await TestClient.join(server.port, "alice");
  const text = await TestClient.connect(server.port);
  try {
    const banner = await text.nextLine();
    assert.match(banner, /nickname/i);
    text.write("bad nick!\r\n");
    await text.waitForLine(/^! a nickname is/);
    await text.waitForLine("Nickname?");
    text.write("bob\r\n");
    await text.waitForLine(/^\* Welcome, bob! You are in lobby with alice/);
    text.write("hello there\n");
    const msg = await json.client.waitFor((e) => e.type === "msg") as Msg;
    assert.equal(msg.from, "bob");
    assert.equal(msg.text, "hello there");
    await text.waitForLine(/^\d\d:\d\d bob: hello there$/);
    json.client.send({ type: "me", text: "waves" });
    await text.waitForLine(/^\d\d:\d\d \* alice waves$/);
    text.write("/msg alice psst\n");
    await json.client.waitFor((e) => e.type === "dm" && e.text === "psst");
    text.write("//not a command\n");
    const slash = await json.client.waitFor((e) => e.type === "msg") as Msg;
    assert.equal(slash.text, "/not a command");
    text.write("/frobnicate\n");
    await text.waitForLine(/^! unknown command \/frobnicate/);
    text.write("/who\n");
    await text.waitForLine("* In lobby (2): alice, bob");
    text.write("/quit\n");
    await text.waitForLine("* Bye");
    assert.ok(await text.waitClosed());
    const leave = await json.client.waitFor((e) => e.type === "leave");
    assert.equal(leave.type === "leave" && leave.nick, "bob");
  } finally {
    await Promise.all([json.client.close(), text.close()]);
    await server.stop();
  }
});

Deno.test("bad JSON, wrong fields and unknown types get an error and the connection survives", async () => {
  const server = await ServerProcess.start();
  const a = await TestClient.join(server.port, "alice");
  try {
    const cases: [string, string][] = [
      ["{not json", "bad_json"],
      ['{"type":"say","text":5}', "bad_frame"],
      ['{"type":"launch"}', "unknown_type"],
      ['{"type":"say","text":"   "}', "empty"],
      ['{"type":"hello","nick":"again"}', "already_joined"],
    ];
    for (const [line, code] of cases) {
      a.client.write(line + "\n");
      const error = await a.client.waitFor((e) => e.type === "error");
      assert.equal(error.type === "error" && error.code, code, line);
    }
    a.client.send({ type: "ping" });
    await a.client.waitFor((e) => e.type === "pong");
  } finally {
    await a.client.close();
    await server.stop();
  }
});

Deno.test("a restart keeps history", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  try {
    const first = await ServerProcess.start(["--db", db]);
    const a = await TestClient.join(first.port, "alice");
    a.client.send({ type: "say", text: "remember me" });
    await a.client.waitFor((e) => e.type === "msg");
    await a.client.close();
    const status = await first.stop("SIGTERM");
    assert.equal(status.code, 0, "SIGTERM exits 0");
    const second = await ServerProcess.start(["--db", db]);
    const b = await TestClient.join(second.port, "bob");
    assert.deepEqual(b.welcome.history.map((m) => m.text), ["remember me"]);
    await b.client.close();
    await second.stop();
  } finally {
    await dir.remove();
  }
});

Deno.test("pipe mode sends each line, waits for the echoes, exits 0", async () => {
  const server = await ServerProcess.start();
  const watcher = await TestClient.join(server.port, "watcher");
  try {
    const result = await runChat(
      ["connect", `127.0.0.1:${server.port}`, "--nick", "piper"],
      "one\n二\n\nthree\n",
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\d\d:\d\d piper: one\n/);
    assert.match(result.stdout, /\d\d:\d\d piper: 二\n/);
    assert.match(result.stdout, /\d\d:\d\d piper: three\n/);
    const texts: string[] = [];
    for (let i = 0; i < 3; i++) {
      const msg = await watcher.client.waitFor((e) => e.type === "msg") as Msg;
      texts.push(msg.text);
    }
    assert.deepEqual(texts, ["one", "二", "three"]);

    const json = await runChat(
      ["connect", `127.0.0.1:${server.port}`, "--nick", "bot", "--json"],
      "beep\n",
    );
    assert.equal(json.code, 0, json.stderr);
    const events = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(events[0].type, "welcome");
    assert.ok(
      events.some((e) =>
        e.type === "msg" && e.from === "bot" && e.text === "beep"
      ),
    );
  } finally {
    await watcher.client.close();
    await server.stop();
  }
});

Deno.test("pipe mode with a taken nickname says so and exits 1", async () => {
  const server = await ServerProcess.start();
  const a = await TestClient.join(server.port, "alice");
  try {
    const result = await runChat([
      "connect",
      `127.0.0.1:${server.port}`,
      "--nick",
      "ALICE",
    ], "x\n");
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^chat: that nickname is taken\n$/);
  } finally {
    await a.client.close();
    await server.stop();
  }
});

Deno.test("an unreachable server is one clear line and exit 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const result = await runChat(
    ["connect", `127.0.0.1:${port}`, "--nick", "x"],
    "hi\n",
  );
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    `chat: cannot reach 127.0.0.1:${port}: connection refused (is \`chat serve\` running there?)\n`,
  );
});

Deno.test("bad flags and values exit 2 with one line, no stack trace", async () => {
  for (
    const [args, pattern] of [
      [["serve", "--bogus"], /^chat: unknown option --bogus\n$/],
      [["serve", "--port", "99999"], /^chat: --port must be a port number/],
      [
        ["serve", "--max-clients", "lots"],
        /^chat: --max-clients must be a whole number/,
      ],
      [
        ["serve", "--udp", "--password", "pw"],
        /^chat: --udp and --password do not go together/,
      ],
      [["connect", "host:notaport"], /^chat: port must be a port number/],
      [["frobnicate"], /^chat: unknown command "frobnicate"/],
    ] as [string[], RegExp][]
  ) {
    const result = await runChat(args);
    assert.equal(result.code, 2, args.join(" "));
    assert.match(result.stderr, pattern);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  }
  const help = await runChat(["serve", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--max-clients N/);
  const version = await runChat(["--version"]);
  assert.match(version.stdout, /^chat \d+\.\d+\.\d+\n$/);
});

Deno.test("lines sent together with /quit are delivered, echoed, and then bye", async () => {
  const server = await ServerProcess.start();
  const watcher = await TestClient.join(server.port, "watcher");
  const text = await TestClient.connect(server.port);
  try {
    await text.nextLine();
    text.write("bob\nhi all\n/who\n/quit\n");
    await text.waitForLine(/^\d\d:\d\d bob: hi all$/);
    await text.waitForLine("* In lobby (2): watcher, bob");
    await text.waitForLine("* Bye");
    const msg = await watcher.client.waitFor((e) => e.type === "msg");
    assert.equal(msg.type === "msg" && msg.text, "hi all");
  } finally {
    await Promise.all([watcher.client.close(), text.close()]);
    await server.stop();
  }
});

Deno.test("a history database that cannot be opened is one clear line and exit 1", async () => {
  const dir = await tempDir();
  try {
    await Deno.writeTextFile(
      `${dir.path}/notes.db`,
      "not sqlite at all, just words\n".repeat(100),
    );
    for (
      const [db, pattern] of [
        [
          `${dir.path}/missing/chat.db`,
          /unable to open database file \(check the folder exists/,
        ],
        [
          `${dir.path}/notes.db`,
          /file is not a database \(give --db another file\)/,
        ],
      ] as [string, RegExp][]
    ) {
      const result = await runChat([
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--db",
        db,
      ]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /^chat: cannot open the history database /);
      assert.match(result.stderr, pattern);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    }
  } finally {
    await dir.remove();
  }
});

Deno.test("a message and a quit sent together: the echo comes before bye, in both dialects", async () => {
  const server = await ServerProcess.start();
  const watcher = await TestClient.join(server.port, "watcher");
  const text = await TestClient.connect(server.port);
  const json = await TestClient.connect(server.port);
  try {
    await text.nextLine();
    text.write("carol\n你好 from nc\n/quit\n");
    await text.waitForLine(/^\* Welcome, carol!/);
    const next = await text.waitForLine(
      /^(\d\d:\d\d carol: 你好 from nc|\* Bye)/,
    );
    assert.match(next, /carol: 你好 from nc$/, "the echo, before the goodbye");
    await text.waitForLine("* Bye");

    await json.nextLine();
    json.write(
      '{"type":"hello","nick":"dave"}\n{"type":"say","text":"last words"}\n{"type":"quit"}\n',
    );
    const skipped: ServerEvent[] = [];
    await json.waitFor((e) => e.type === "bye", 5000, skipped);
    assert.ok(
      skipped.some((e) => e.type === "msg" && e.text === "last words"),
      JSON.stringify(skipped),
    );
    const seen: ServerEvent[] = [];
    await watcher.client.waitFor(
      (e) => e.type === "leave" && e.nick === "dave",
      5000,
      seen,
    );
    assert.deepEqual(
      seen.filter((e) => e.type === "msg").map((e) =>
        e.type === "msg" && e.text
      ),
      ["你好 from nc", "last words"],
    );
  } finally {
    await Promise.all([watcher.client.close(), text.close(), json.close()]);
    await server.stop();
  }
});
