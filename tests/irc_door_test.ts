/**
 * The IRC door against the real server, spoken line by line as irssi,
 * WeeChat and bots speak it, beside JSON and nc members in the same rooms.
 */

import assert from "node:assert/strict";
import { TestClient, withServer } from "./helpers.ts";

/** Registers an IRC client; `caps` are requested with CAP before NICK/USER. */
async function ircJoin(
  port: number,
  nick: string,
  options: { caps?: string; password?: string } = {},
): Promise<TestClient> {
  const client = await TestClient.connect(port);
  let opening = "";
  if (options.caps) opening += "CAP LS 302\r\n";
  if (options.password) opening += `PASS ${options.password}\r\n`;
  opening += `NICK ${nick}\r\nUSER ${nick} 0 * :${nick}\r\n`;
  if (options.caps) opening += `CAP REQ :${options.caps}\r\nCAP END\r\n`;
  client.write(opening);
  await client.waitForLine(new RegExp(`^:${nick}!\\S+ JOIN #lobby`));
  await client.waitForLine(/ 366 /);
  return client;
}

Deno.test("IRC registration without CAP: 001-005 with ISUPPORT, LUSERS, MOTD, then #lobby with its names", async () => {
  await withServer(async (server) => {
    const { client: alice } = await TestClient.join(server.port, "alice");
    const irc = await TestClient.connect(server.port);
    irc.write("NICK bob\r\nUSER bob 0 * :Bob\r\n");
    const seen: string[] = [];
    for (;;) {
      const line = (await irc.nextLine()).replace(/\r$/, "");
      seen.push(line);
      if (/ 366 /.test(line)) break;
    }
    const codes = seen.map((l) => l.split(" ")[1]);
    for (
      const code of [
        "001",
        "002",
        "003",
        "004",
        "005",
        "251",
        "375",
        "376",
        "JOIN",
        "353",
        "366",
      ]
    ) {
      assert.ok(
        codes.includes(code),
        `${code} missing from ${codes.join(",")}`,
      );
    }
    const isupport = seen.find((l) => l.split(" ")[1] === "005")!;
    for (
      const token of [
        "CASEMAPPING=",
        "CHANTYPES=#",
        "PREFIX=",
        "CHANMODES=",
        "NICKLEN=24",
        "CHANNELLEN=",
        "NETWORK=chat",
      ]
    ) {
      assert.ok(isupport.includes(token), `${token} in ${isupport}`);
    }
    const names = seen.find((l) => / 353 /.test(l))!;
    assert.match(names, /:chat 353 bob = #lobby :.*\balice\b/);
    assert.match(names, /\bbob\b/);
    await alice.waitFor((e) => e.type === "join" && e.nick === "bob");
    await Promise.all([alice.close(), irc.close()]);
  });
});

Deno.test("IRC: a message reaches JSON and nc members, and theirs reach IRC, Chinese included", async () => {
  await withServer(async (server) => {
    const { client: json } = await TestClient.join(server.port, "alice");
    const nc = await TestClient.connect(server.port);
    nc.write("carol\n");
    await nc.waitForLine("Welcome, carol!");
    const irc = await ircJoin(server.port, "bob");
    irc.write("PRIVMSG #lobby :你好，大家 👋\r\n");
    const msg = await json.waitFor((e) => e.type === "msg");
    assert.equal(msg.type === "msg" && msg.from, "bob");
    assert.equal(msg.type === "msg" && msg.text, "你好，大家 👋");
    await nc.waitForLine(/bob: 你好，大家 👋$/);
    json.send({ type: "say", text: "hi bob 你好" });
    await irc.waitForLine(/^:alice!alice@chat PRIVMSG #lobby :hi bob 你好\r?$/);
    nc.write("hello from nc\n");
    await irc.waitForLine(
      /^:carol!carol@chat PRIVMSG #lobby :hello from nc\r?$/,
    );
    await Promise.all([json.close(), nc.close(), irc.close()]);
  });
});

Deno.test("IRC reads UTF-8 only, as its UTF8ONLY says: a line of GBK gets FAIL PRIVMSG INVALID_UTF8, reaches no one, and UTF-8 goes on working", async () => {
  await withServer(async (server) => {
    const { client: json } = await TestClient.join(server.port, "alice");
    const irc = await ircJoin(server.port, "bob");
    const gbk = [0xc4, 0xe3, 0xba, 0xc3]; // 你好 in GBK
    irc.write(
      new Uint8Array([
        ...new TextEncoder().encode("PRIVMSG #lobby :"),
        ...gbk,
        0x0d,
        0x0a,
      ]),
    );
    assert.equal(
      (await irc.nextLine()).replace(/\r$/, ""),
      ":chat FAIL PRIVMSG INVALID_UTF8 :that line is not valid UTF-8: this server reads UTF-8 only",
    );
    irc.write("PRIVMSG #lobby :你好 in UTF-8\r\n");
    const msg = await json.waitFor((e) => e.type === "msg");
    assert.equal(msg.type === "msg" && msg.text, "你好 in UTF-8");
    // The reply to a name, still in UTF-8: the connection did not switch.
    json.send({ type: "say", text: "收到 bob" });
    await irc.waitForLine(/^:alice!alice@chat PRIVMSG #lobby :收到 bob\r?$/);
    await Promise.all([json.close(), irc.close()]);
  });
});

Deno.test("IRC: private messages both ways, and CTCP ACTION both ways", async () => {
  await withServer(async (server) => {
    const { client: json } = await TestClient.join(server.port, "alice");
    const irc = await ircJoin(server.port, "bob");
    irc.write("PRIVMSG alice :psst\r\n");
    const dm = await json.waitFor((e) => e.type === "dm");
    assert.deepEqual(
      dm.type === "dm" && [dm.from, dm.to, dm.text],
      ["bob", "alice", "psst"],
    );
    json.send({ type: "dm", to: "bob", text: "what?" });
    await irc.waitForLine(/^:alice!alice@chat PRIVMSG bob :what\?\r?$/);
    irc.write("PRIVMSG #lobby :\x01ACTION waves\x01\r\n");
    const me = await json.waitFor((e) => e.type === "msg");
    assert.ok(me.type === "msg" && me.me === true && me.text === "waves");
    json.send({ type: "me", text: "nods" });
    await irc.waitForLine(
      ":alice!alice@chat PRIVMSG #lobby :\x01ACTION nods\x01",
    );
    await Promise.all([json.close(), irc.close()]);
  });
});

Deno.test("IRC: echo-message with server-time and msgid; history on join comes as a batch", async () => {
  await withServer(async (server) => {
    const { client: json } = await TestClient.join(server.port, "alice");
    json.send({ type: "say", text: "before bob came" });
    const stored = await json.waitFor((e) => e.type === "msg");
    const irc = await TestClient.connect(server.port);
    irc.write(
      "CAP LS 302\r\nNICK bob\r\nUSER bob 0 * :Bob\r\nCAP REQ :echo-message server-time message-tags batch\r\nCAP END\r\n",
    );
    await irc.waitForLine(
      / CAP bob ACK :echo-message server-time message-tags batch/,
    );
    const start = await irc.waitForLine(
      /^:chat BATCH \+\S+ chathistory #lobby\r?$/,
    );
    const id = start.split(" ")[2].slice(1).trim();
    const replay = await irc.nextLine();
    assert.match(
      replay,
      new RegExp(
        `^@batch=${id};time=\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z;msgid=${
          stored.type === "msg" && stored.id
        } :alice!alice@chat PRIVMSG #lobby :before bob came\\r?$`,
      ),
    );
    assert.match(await irc.nextLine(), new RegExp(`^:chat BATCH -${id}\\r?$`));
    irc.write("PRIVMSG #lobby :echo me\r\n");
    const echo = await irc.waitForLine(/PRIVMSG #lobby :echo me/);
    const live = await json.waitFor((e) =>
      e.type === "msg" && e.text === "echo me"
    );
    assert.match(
      echo,
      new RegExp(
        `^@time=\\S+;msgid=${
          live.type === "msg" && live.id
        } :bob!bob@chat PRIVMSG #lobby :echo me\\r?$`,
      ),
    );
    await Promise.all([json.close(), irc.close()]);
  });
});

Deno.test("IRC: without echo-message one's own message is not sent back", async () => {
  await withServer(async (server) => {
    const { client: json } = await TestClient.join(server.port, "alice");
    const irc = await ircJoin(server.port, "bob");
    irc.write("PRIVMSG #lobby :only once\r\n");
    await json.waitFor((e) => e.type === "msg" && e.text === "only once");
    irc.write("PING :probe\r\n");
    // Everything before the PONG came back already: no echo among it.
    const pong = await irc.waitForLine(/PONG chat :?probe/);
    assert.ok(pong);
    json.send({ type: "say", text: "after" });
    const next = await irc.waitForLine(/PRIVMSG/);
    assert.match(next, /alice!alice@chat PRIVMSG #lobby :after/);
    await Promise.all([json.close(), irc.close()]);
  });
});

Deno.test("IRC: a PONG comes after the messages sent before its PING, as on any IRC server", async () => {
  await withServer(async (server) => {
    const irc = await ircJoin(server.port, "bob", { caps: "echo-message" });
    irc.write(
      "PRIVMSG #lobby :one\r\nPRIVMSG #lobby :two\r\nPING :after-two\r\n",
    );
    const seen: string[] = [];
    while (!seen.some((l) => / PONG /.test(l))) {
      const line = await irc.waitForLine(/ PRIVMSG #lobby | PONG /);
      seen.push(line.replace(/\r$/, ""));
    }
    assert.deepEqual(
      seen.map((l) => l.slice(l.lastIndexOf(" :") + 2)),
      ["one", "two", "after-two"],
    );
    await irc.close();
  });
});

Deno.test("IRC: a taken nickname gets 433, a look-alike too, an invalid one 432", async () => {
  await withServer(async (server) => {
    const { client: json } = await TestClient.join(server.port, "alice");
    const irc = await TestClient.connect(server.port);
    irc.write("NICK alice\r\n");
    assert.match(await irc.nextLine(), /^:chat 433 \* alice :/);
    irc.write("NICK \u0430lice\r\n"); // Cyrillic а
    assert.match(await irc.nextLine(), /^:chat 43[23] \* \u0430lice :/);
    irc.write("NICK bad!nick\r\n");
    assert.match(await irc.nextLine(), /^:chat 432 \* bad!nick :/);
    irc.write("NICK bob\r\nUSER bob 0 * :Bob\r\n");
    await irc.waitForLine(/^:chat 001 bob /);
    await Promise.all([json.close(), irc.close()]);
  });
});

Deno.test("IRC: the server password is PASS; a wrong one gets 464 and ERROR", async () => {
  await withServer(async (server) => {
    const wrong = await TestClient.connect(server.port);
    wrong.write("PASS nope\r\nNICK bob\r\nUSER bob 0 * :Bob\r\n");
    await wrong.waitForLine(/ 464 /, 8000);
    await wrong.waitForLine(/^ERROR :Closing Link/, 8000);
    assert.ok(await wrong.waitClosed(8000));
    const right = await TestClient.connectFrom("127.0.0.2", server.port);
    right.write("PASS sesame\r\nNICK carol\r\nUSER carol 0 * :C\r\n");
    await right.waitForLine(/^:chat 001 carol /, 8000);
    await Promise.all([wrong.close(), right.close()]);
  }, ["--password", "sesame"]);
});

Deno.test("IRC: a long message from another door is split for IRC at character boundaries", async () => {
  await withServer(async (server) => {
    const { client: json } = await TestClient.join(server.port, "alice");
    const irc = await ircJoin(server.port, "bob");
    const text = "长文".repeat(1000) + " end";
    json.send({ type: "say", text });
    let joined = "";
    while (!joined.endsWith(" end")) {
      const line = (await irc.waitForLine(/PRIVMSG #lobby/)).replace(/\r$/, "");
      assert.ok(
        new TextEncoder().encode(line + "\r\n").length <= 512,
        `${line.length}`,
      );
      joined += line.slice(line.indexOf(" :", line.indexOf("PRIVMSG")) + 2);
    }
    assert.equal(joined, text);
    await Promise.all([json.close(), irc.close()]);
  });
});

Deno.test("IRC: flooding a channel is refused like anywhere else", async () => {
  await withServer(async (server) => {
    const { client: json } = await TestClient.join(server.port, "alice");
    const irc = await ircJoin(server.port, "bob");
    let burst = "";
    for (let i = 0; i < 30; i++) burst += `PRIVMSG #lobby :flood ${i}\r\n`;
    irc.write(burst);
    await irc.waitForLine(/ 404 bob #lobby :slow down/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const got = json.drainEvents().filter((e) => e.type === "msg").length;
    assert.ok(got < 30 && got >= 5, `${got} of 30 delivered`);
    await Promise.all([json.close(), irc.close()]);
  });
});

Deno.test("IRC: a client that does not answer PING is dropped, and its nick is free again", async () => {
  await withServer(async (server) => {
    const { client: json } = await TestClient.join(server.port, "alice");
    const irc = await ircJoin(server.port, "bob");
    await irc.waitForLine(/^PING :chat\r?$/, 5000);
    await irc.waitForLine(/^ERROR :Closing Link: ping timeout/, 5000);
    assert.ok(await irc.waitClosed(3000));
    const leave = await json.waitFor(
      (e) => e.type === "leave" && e.nick === "bob",
      5000,
    );
    assert.equal(leave.type === "leave" && leave.reason, "ping timeout");
    await Promise.all([json.close(), irc.close()]);
  }, ["--ping-seconds", "1"]);
});

Deno.test("IRC: a client that answers PING stays", async () => {
  await withServer(async (server) => {
    const irc = await ircJoin(server.port, "bob");
    for (let i = 0; i < 2; i++) {
      const ping = await irc.waitForLine(/^PING /, 5000);
      irc.write(`PONG ${ping.slice(5).trim()}\r\n`);
    }
    assert.equal(await irc.waitClosed(500), false);
    await irc.close();
  }, ["--ping-seconds", "1"]);
});

Deno.test("IRC: MODE, MODE b, WHO and WHOIS after a join get the replies clients wait for", async () => {
  await withServer(async (server) => {
    const { client: json } = await TestClient.join(server.port, "alice");
    const irc = await ircJoin(server.port, "bob");
    irc.write("MODE #lobby\r\nMODE #lobby b\r\nWHO #lobby\r\nWHOIS alice\r\n");
    await irc.waitForLine(/ 324 bob #lobby :?\+/);
    await irc.waitForLine(/ 329 bob #lobby :?\d+/);
    await irc.waitForLine(/ 368 bob #lobby /);
    await irc.waitForLine(/ 352 bob #lobby \S+ \S+ \S+ alice H /);
    await irc.waitForLine(/ 315 bob #lobby /);
    await irc.waitForLine(/ 311 bob alice /);
    await irc.waitForLine(/ 318 bob alice /);
    await Promise.all([json.close(), irc.close()]);
  });
});

Deno.test("IRC: two channels at once; PART of one keeps the other; a quit is shown once", async () => {
  await withServer(async (server) => {
    const { client: alice } = await TestClient.join(server.port, "alice");
    alice.send({ type: "join", room: "class" });
    await alice.waitFor((e) => e.type === "welcome" && e.room === "class");
    const irc = await ircJoin(server.port, "bob");
    irc.write("JOIN #class,#games\r\n");
    await irc.waitForLine(/^:bob!bob@chat JOIN #class\r?$/);
    await irc.waitForLine(/ 353 bob = #class :.*alice/);
    await irc.waitForLine(/^:bob!bob@chat JOIN #games\r?$/);
    alice.send({ type: "say", room: "lobby", text: "in lobby" });
    alice.send({ type: "say", room: "class", text: "in class" });
    await irc.waitForLine(/^:alice!alice@chat PRIVMSG #lobby :in lobby\r?$/);
    await irc.waitForLine(/^:alice!alice@chat PRIVMSG #class :in class\r?$/);
    irc.write("PRIVMSG #class :作业呢?\r\n");
    const msg = await alice.waitFor((e) =>
      e.type === "msg" && e.from === "bob"
    );
    assert.equal(msg.type === "msg" && msg.room, "class");
    irc.write("PART #games\r\n");
    await irc.waitForLine(/^:bob!bob@chat PART #games\r?$/);
    alice.send({ type: "say", room: "lobby", text: "still here?" });
    await irc.waitForLine(/PRIVMSG #lobby :still here\?/);
    alice.send({ type: "quit", reason: "gone home" });
    const quit = await irc.waitForLine(
      /^:alice!alice@chat QUIT :gone home\r?$/,
    );
    assert.ok(quit);
    irc.write("PING :after\r\n");
    const rest: string[] = [];
    for (;;) {
      const line = await irc.nextLine();
      if (/PONG/.test(line)) break;
      rest.push(line);
    }
    assert.deepEqual(
      rest.filter((l) => l.includes("QUIT")),
      [],
      "one QUIT, not one per channel",
    );
    await Promise.all([alice.close(), irc.close()]);
  });
});

Deno.test("an IRC registration refused by its address's join pacing may try NICK again, and is answered again", async () => {
  await withServer(async (server) => {
    // Ten joins are one address's burst; at one a second, ten more wait
    // their turn, and the next would wait past the longest a hello may.
    const clients: TestClient[] = [];
    for (let i = 0; i < 20; i++) {
      const client = await TestClient.connectFrom("127.0.0.7", server.port);
      client.write(JSON.stringify({ type: "hello", nick: `m${i}` }) + "\n");
      clients.push(client);
    }
    await clients[9].waitFor((e) => e.type === "welcome");
    const irc = await TestClient.connectFrom("127.0.0.7", server.port);
    irc.write("NICK carl\r\nUSER carl 0 * :Carl\r\n");
    await irc.waitForLine(/too many joins from your address/);
    // Still unregistered: a second NICK is a second try, refused the same
    // way, not taken for a rename of a member that does not exist.
    irc.write("NICK carl2\r\n");
    await irc.waitForLine(/too many joins from your address/);
    await Promise.all([irc.close(), ...clients.map((c) => c.close())]);
  }, [
    "--hellos-per-second",
    "1",
    "--max-unauth-per-address",
    "40",
    "--max-per-address",
    "40",
    "--connects-per-second",
    "100",
  ]);
});

/** Every line up to and including the first matching `until`. */
async function linesUntil(
  client: TestClient,
  until: RegExp,
): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    const line = (await client.nextLine()).replace(/\r$/, "");
    lines.push(line);
    if (until.test(line)) return lines;
  }
}

Deno.test("IRC away-notify: offered in CAP LS; AWAY reaches the channel's peers who asked for it, and coming back too", async () => {
  await withServer(async (server) => {
    const caps = await TestClient.connect(server.port);
    caps.write("CAP LS 302\r\n");
    assert.match(await caps.nextLine(), /^:chat CAP \* LS :.*\baway-notify\b/);
    await caps.close();
    const { client: json } = await TestClient.join(server.port, "dave");
    const bob = await ircJoin(server.port, "bob", { caps: "away-notify" });
    const carol = await ircJoin(server.port, "carol");
    const alice = await ircJoin(server.port, "alice");
    alice.write("AWAY :at lunch 🍜\r\n");
    await alice.waitForLine(/^:chat 306 alice :/);
    await bob.waitForLine(/^:alice!alice@chat AWAY :at lunch 🍜\r?$/);
    const away = await json.waitFor((e) => e.type === "away");
    assert.deepEqual(
      away.type === "away" && [away.nick, away.text],
      ["alice", "at lunch 🍜"],
    );
    alice.write("AWAY\r\n");
    await alice.waitForLine(/^:chat 305 alice :/);
    await bob.waitForLine(/^:alice!alice@chat AWAY\r?$/);
    const back = await json.waitFor((e) => e.type === "away");
    assert.ok(back.type === "away" && back.text === undefined);
    // carol did not ask for away-notify: everything before her PONG, and no AWAY.
    carol.write("PING :check\r\n");
    const seen = await linesUntil(carol, / PONG /);
    assert.deepEqual(seen.filter((l) => / AWAY/.test(l)), []);
    await Promise.all([
      json.close(),
      bob.close(),
      carol.close(),
      alice.close(),
    ]);
  });
});

Deno.test("IRC: someone away gets 301 on a private message and on WHOIS, G in WHO; a NOTICE draws no 301", async () => {
  await withServer(async (server) => {
    const alice = await ircJoin(server.port, "alice");
    const bob = await ircJoin(server.port, "bob");
    alice.write("AWAY :back at 3\r\n");
    await alice.waitForLine(/ 306 /);
    bob.write("PRIVMSG alice :are you there?\r\n");
    await bob.waitForLine(/^:chat 301 bob alice :back at 3\r?$/);
    await alice.waitForLine(/^:bob!bob@chat PRIVMSG alice :are you there\?/);
    bob.write("WHO #lobby\r\n");
    await bob.waitForLine(/ 352 bob #lobby \S+ \S+ \S+ alice G /);
    bob.write("WHOIS alice\r\n");
    await bob.waitForLine(/ 311 bob alice /);
    await bob.waitForLine(/^:chat 301 bob alice :back at 3\r?$/);
    await bob.waitForLine(/ 318 bob alice /);
    bob.write("USERHOST alice bob\r\n");
    await bob.waitForLine(/ 302 bob :?alice=-alice@chat bob=\+bob@chat/);
    bob.write("NOTICE alice :fyi\r\nPING :done\r\n");
    const seen = await linesUntil(bob, / PONG /);
    assert.deepEqual(seen.filter((l) => / 301 /.test(l)), []);
    alice.write("AWAY\r\n");
    await alice.waitForLine(/ 305 /);
    bob.write("WHO #lobby\r\n");
    await bob.waitForLine(/ 352 bob #lobby \S+ \S+ \S+ alice H /);
    await Promise.all([alice.close(), bob.close()]);
  });
});

Deno.test("IRC away-notify: a member who joins a channel while away is followed by its AWAY", async () => {
  await withServer(async (server) => {
    const bob = await ircJoin(server.port, "bob", { caps: "away-notify" });
    bob.write("JOIN #class\r\n");
    await bob.waitForLine(/ 366 bob #class /);
    const alice = await ircJoin(server.port, "alice");
    alice.write("AWAY :brb\r\n");
    await bob.waitForLine(/^:alice!alice@chat AWAY :brb\r?$/);
    alice.write("JOIN #class\r\n");
    const seen = await linesUntil(bob, /^:alice!alice@chat AWAY :brb$/);
    assert.match(seen.at(-2)!, /^:alice!alice@chat JOIN #class$/);
    await Promise.all([alice.close(), bob.close()]);
  });
});
