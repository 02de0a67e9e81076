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
