/**
 * The UDP door's decisions without a socket: a fake `send` records every
 * datagram, a fake clock drives expiry and the per-address cap.
 */

import assert from "node:assert/strict";
import type { ServerEvent } from "../protocol.ts";
import { Hub, type Outgoing, type Recipient } from "../src/server/hub.ts";
import { COMPAT_LIMITS } from "../src/shared/limits.ts";
import { MemoryStore } from "../src/server/store.ts";
import { UdpDoor } from "../src/server/doors/udp_door.ts";
import { Accounts } from "../src/server/accounts.ts";
import { DatabaseSync } from "node:sqlite";

class FakeMember implements Recipient {
  readonly events: ServerEvent[] = [];
  deliver(out: Outgoing): void {
    this.events.push(out.event);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function setup(options: { maxMembers?: number; rate?: number } = {}) {
  let clock = 1_000_000;
  const now = () => clock;
  const hub = new Hub({ store: new MemoryStore(), now });
  const sent: { text: string; port: number; address: string }[] = [];
  const log: string[] = [];
  const door = new UdpDoor({
    hub,
    rate: options.rate ?? 0,
    burst: 10,
    maxMembers: options.maxMembers ?? 10,
    log: (line) => log.push(line),
    now,
  }, (bytes, port, address) => {
    assert.ok(bytes.length <= COMPAT_LIMITS.maxReplyBytes);
    sent.push({ text: decoder.decode(bytes), port, address });
  });
  const datagram = (text: string, port = 5000, address = "127.0.0.1") =>
    door.receive(encoder.encode(text), address, port);
  /** Datagrams sent since the last call. */
  const take = () => sent.splice(0);
  const watcher = new FakeMember();
  hub.hello(watcher, { nick: "watcher" });
  watcher.events.length = 0;
  return {
    hub,
    door,
    datagram,
    take,
    watcher,
    log,
    advance: (ms: number) => clock += ms,
  };
}

Deno.test("a naming datagram gets exactly one reply, its welcome; each message exactly one, its echo", () => {
  const { hub, datagram, take, watcher } = setup();
  datagram("小明");
  const welcome = take();
  assert.equal(welcome.length, 1);
  assert.match(welcome[0].text, /^\* Welcome, 小明!/);
  datagram("小明 : 你好");
  assert.deepEqual(take(), [], "the echo waits for the flush (stored first)");
  hub.flush();
  const echo = take();
  assert.equal(echo.length, 1);
  assert.match(echo[0].text, /^\d\d:\d\d 小明: 你好\n$/);
  const msg = watcher.events.find((e) => e.type === "msg");
  assert.equal(msg?.type === "msg" && msg.text, "你好", "prefix stripped");
});

Deno.test("a first datagram that is not a nickname makes a guest; welcome and echo share one reply", () => {
  const { hub, datagram, take, watcher } = setup();
  datagram("你好，有人吗？");
  assert.deepEqual(take(), [], "the welcome waits for the echo");
  hub.flush();
  const reply = take();
  assert.equal(reply.length, 1);
  assert.match(reply[0].text, /^\* Welcome, guest-1!/);
  assert.match(reply[0].text, /guest-1: 你好，有人吗？\n$/);
  assert.ok(watcher.events.some((e) => e.type === "join"));
});

Deno.test("others' events reach a UDP member one datagram each", () => {
  const { hub, datagram, take } = setup();
  datagram("bob");
  take();
  const carol = new FakeMember();
  const session = hub.hello(carol, { nick: "carol" });
  assert.equal(typeof session, "object");
  hub.handle(session as Exclude<typeof session, string>, {
    type: "say",
    text: "一",
  });
  hub.flush();
  const got = take().map((d) => d.text);
  assert.equal(got.length, 2);
  assert.match(got[0], /carol joined/);
  assert.match(got[1], /carol: 一/);
});

Deno.test("a quit word says goodbye in one datagram and leaves", () => {
  const { datagram, take, watcher, door } = setup();
  datagram("alice");
  take();
  datagram("alice : exit");
  const bye = take();
  assert.equal(bye.length, 1);
  assert.match(bye[0].text, /Bye: goodbye/);
  assert.equal(door.size, 0);
  assert.ok(watcher.events.some((e) => e.type === "leave"));
});

Deno.test("a member silent for ten minutes expires and is never sent to again", () => {
  const { hub, datagram, take, watcher, door, advance } = setup();
  datagram("alice");
  take();
  advance(COMPAT_LIMITS.udpExpiryMs - 1);
  door.sweep();
  assert.equal(door.size, 1);
  advance(1);
  // Before the sweep runs, nothing goes to the silent address.
  const bob = new FakeMember();
  hub.hello(bob, { nick: "bob" });
  assert.deepEqual(take(), []);
  door.sweep();
  assert.equal(door.size, 0);
  const leave = watcher.events.find((e) => e.type === "leave");
  assert.equal(leave?.type === "leave" && leave.reason, "timed out");
  assert.deepEqual(take(), []);
});

Deno.test("no address gets more than the per-second cap of datagrams", () => {
  const { hub, datagram, take, advance } = setup();
  datagram("alice");
  take();
  const loud = new FakeMember();
  const session = hub.hello(loud, { nick: "loud" });
  if (typeof session === "string") throw new Error(session);
  for (let i = 0; i < 200; i++) {
    hub.handle(session, { type: "say", text: `m${i}` });
  }
  hub.flush();
  const sent = take().length;
  assert.ok(
    sent <= COMPAT_LIMITS.udpSendBurst,
    `${sent} datagrams in one instant`,
  );
  advance(1000);
  hub.handle(session, { type: "say", text: "later" });
  hub.flush();
  assert.equal(take().length, 1, "the cap refills with time");
});

Deno.test("strangers beyond the member cap are told the server is full; empty datagrams make no member", () => {
  const { datagram, take, door } = setup({ maxMembers: 2 });
  datagram("   ", 6000);
  assert.equal(door.size, 0);
  assert.deepEqual(take(), []);
  datagram("a", 6001);
  datagram("b", 6002);
  take();
  datagram("c", 6003);
  const full = take();
  assert.equal(full.length, 1);
  assert.match(full[0].text, /server full/);
  assert.equal(door.size, 2);
});

Deno.test("a member's invalid UTF-8 and its rate-limited messages still get one reply each", () => {
  const { datagram, take, door } = setup({ rate: 1 });
  datagram("alice");
  take();
  door.receive(new Uint8Array([0xe5, 0xa5]), "127.0.0.1", 5000);
  const bad = take();
  assert.equal(bad.length, 1);
  assert.match(bad[0].text, /not valid UTF-8/);
  for (let i = 0; i < 10; i++) datagram(`m${i}`);
  datagram("one too many");
  const refused = take();
  assert.equal(refused.length, 1);
  assert.match(refused[0].text, /slow down/);
});

Deno.test("all source ports of one IP address share one send budget", () => {
  const { hub, datagram, take, advance } = setup({ maxMembers: 100 });
  for (let port = 5001; port <= 5050; port++) datagram(`p${port}`, port);
  const loud = new FakeMember();
  const session = hub.hello(loud, { nick: "loud" });
  if (typeof session === "string") throw new Error(session);
  // 50 members at one address, 10 messages each second: 500 datagrams a
  // second wanted, at most the burst and then 20 a second sent.
  let total = take().length;
  for (let second = 0; second < 5; second++) {
    for (let i = 0; i < 10; i++) {
      hub.handle(session, { type: "say", text: `s${second}m${i}` });
    }
    hub.flush();
    const sent = take();
    total += sent.length;
    assert.ok(sent.every((d) => d.address === "127.0.0.1"));
    if (second > 0) {
      assert.ok(sent.length <= COMPAT_LIMITS.udpSendRate, `${sent.length}`);
      assert.ok(sent.length > 0, "the budget refills");
    }
    advance(1000);
  }
  assert.ok(
    total <= COMPAT_LIMITS.udpSendBurst + 5 * COMPAT_LIMITS.udpSendRate,
    `${total} datagrams in 5 seconds`,
  );
});

Deno.test("quitting and rejoining does not reset an address's budgets", () => {
  const { datagram, take, door } = setup({ rate: 1 });
  let replies = 0;
  for (let round = 0; round < 100; round++) {
    const port = 5000 + (round % 3);
    datagram("alice", port);
    datagram("alice : hi", port);
    datagram("alice : q", port);
    replies += take().length;
  }
  assert.equal(door.size, 0, "every round ended with a quit");
  assert.ok(
    replies <= COMPAT_LIMITS.udpSendBurst,
    `${replies} datagrams in one instant`,
  );
  assert.equal(door.budgetCount, 1, "one budget for the one address");
});

Deno.test("messages are limited per IP address, whatever the port, across rejoins", () => {
  const { datagram, take } = setup({ rate: 1 });
  datagram("alice", 5000);
  datagram("bob", 5001);
  take();
  // The burst is 10 for the address, not 10 for each port.
  for (let i = 0; i < 6; i++) {
    datagram(`a${i}`, 5000);
    datagram(`b${i}`, 5001);
  }
  let refused = take().filter((d) => /slow down/.test(d.text));
  assert.equal(refused.length, 2);
  datagram("bob : q", 5001);
  datagram("bob", 5001);
  take();
  datagram("again", 5001);
  refused = take().filter((d) => /slow down/.test(d.text));
  assert.equal(refused.length, 1, "rejoining brought no new burst");
});

Deno.test("another address keeps its own budget while one is spent", () => {
  const { hub, datagram, take } = setup({ maxMembers: 100 });
  for (let port = 5001; port <= 5020; port++) datagram(`p${port}`, port);
  const loud = new FakeMember();
  const session = hub.hello(loud, { nick: "loud" });
  if (typeof session === "string") throw new Error(session);
  for (let i = 0; i < 20; i++) {
    hub.handle(session, { type: "say", text: `${i}` });
  }
  hub.flush();
  take();
  datagram("p9999", 9999);
  assert.deepEqual(take(), [], "127.0.0.1 has spent its budget");
  datagram("newcomer", 5000, "127.0.0.2");
  const welcome = take();
  assert.equal(welcome.length, 1);
  assert.equal(welcome[0].address, "127.0.0.2");
  assert.match(welcome[0].text, /^\* Welcome, newcomer!/);
});

Deno.test("a new member's first reply is at most three times its datagram on the wire", () => {
  const { hub, datagram, take } = setup();
  const talker = new FakeMember();
  const session = hub.hello(talker, { nick: "talker" });
  if (typeof session === "string") throw new Error(session);
  for (let i = 0; i < 5; i++) {
    hub.handle(session, { type: "say", text: `${"历史".repeat(60)} ${i}` });
  }
  hub.flush();
  const bound = (bytes: number) =>
    COMPAT_LIMITS.udpFirstReplyFactor * (bytes + COMPAT_LIMITS.udpHeaderBytes) -
    COMPAT_LIMITS.udpHeaderBytes;
  // A forged 1-byte datagram: 29 bytes on the wire, at most 87 back.
  datagram("a", 6001);
  const [first] = take();
  assert.ok(encoder.encode(first.text).length <= bound(1), first.text);
  assert.match(first.text, /^\* Welcome, a!/);
  // A guest's first datagram: welcome and echo together, within the bound.
  datagram("?", 6002);
  hub.flush();
  const [guest] = take().filter((d) => d.port === 6002);
  assert.ok(encoder.encode(guest.text).length <= bound(1), guest.text);
  assert.match(guest.text, /^\* Welcome, guest-1![^]*guest-1: \?\n$/);
  // Later datagrams are not bound by it: the room's messages come whole.
  hub.handle(session, { type: "say", text: "长".repeat(200) });
  hub.flush();
  const later = take().filter((d) => d.port === 6001);
  assert.equal(later.length, 1);
  assert.ok(encoder.encode(later[0].text).length > 600);
  // A longer naming datagram has room for more of its welcome: who is here
  // (not the recent messages, 360 bytes each).
  datagram("a-long-name-for-history", 6003);
  const [longer] = take().filter((d) => d.port === 6003);
  assert.ok(encoder.encode(longer.text).length <= bound(23), longer.text);
  assert.match(longer.text, /You are in lobby with watcher, talker/);
});

Deno.test("budgets of addresses idle long enough to start afresh are forgotten", () => {
  const { datagram, take, door, advance } = setup();
  datagram("alice", 5000);
  datagram("bob", 5000, "127.0.0.2");
  take();
  assert.equal(door.budgetCount, 2);
  advance(
    1000 * COMPAT_LIMITS.udpSendBurst / COMPAT_LIMITS.udpSendRate - 1,
  );
  door.sweep();
  assert.equal(door.budgetCount, 2);
  advance(1);
  door.sweep();
  assert.equal(door.budgetCount, 0);
  assert.equal(door.size, 2, "the members stay");
});

Deno.test("a UDP member kicked out comes back with its next message (welcome and echo in one reply); banned, that reply is the ban", () => {
  let clock = 1_000_000;
  const database = new DatabaseSync(":memory:");
  new Accounts(database).add("olga", "olga-pass", "owner");
  const hub = new Hub({ store: new MemoryStore(), database, now: () => clock });
  const sent: string[] = [];
  const door = new UdpDoor({
    hub,
    rate: 0,
    burst: 10,
    maxMembers: 10,
    log: () => {},
    now: () => clock,
  }, (bytes) => sent.push(decoder.decode(bytes)));
  const datagram = (text: string) =>
    door.receive(encoder.encode(text), "127.0.0.9", 5000);
  const owner = new FakeMember();
  const olga = hub.hello(owner, { nick: "olga", signedIn: true });
  assert.equal(typeof olga, "object");
  const session = olga as Exclude<typeof olga, string>;
  datagram("ugo");
  sent.length = 0;

  hub.handle(session, { type: "kick", nick: "ugo", reason: "a break" });
  const told = sent.splice(0);
  assert.equal(told.length, 2, told.join("|"));
  assert.match(told[0], /^\d\d:\d\d \* ugo was kicked by olga \(a break\)\n$/);
  assert.equal(
    told[1],
    "* You are out of lobby: your next message takes you back in, if you may come back.\n",
  );
  datagram("back again");
  assert.deepEqual(sent, [], "the welcome waits for the echo");
  hub.flush();
  const reply = sent.splice(0);
  assert.equal(reply.length, 1, reply.join("|"));
  assert.match(
    reply[0],
    /^\* Welcome, ugo! You are in lobby\b.*\n.*ugo: back again\n$/s,
  );

  clock += 1000;
  hub.handle(session, { type: "ban", nick: "ugo", reason: "enough" });
  sent.length = 0;
  datagram("and again?");
  hub.flush();
  assert.deepEqual(sent.splice(0), [
    "! you are banned from lobby by olga, for ever (enough)\n",
  ]);
  assert.equal(
    owner.events.filter((e) => e.type === "msg" && e.text === "and again?")
      .length,
    0,
  );
});
