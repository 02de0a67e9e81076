import assert from "node:assert/strict";
import { ReaderLag, RoomGates } from "../src/server/backpressure.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function lagIn(gates: RoomGates, room: string | undefined, maxHoldMs = 60_000) {
  const member = { room };
  const lag = new ReaderLag({
    gates,
    rooms: () => member.room === undefined ? undefined : [member.room],
    behindBytes: 100,
    caughtUpBytes: 25,
    maxHoldMs,
  });
  return { lag, member };
}

/** True once `promise` has settled (after the microtasks queued so far). */
async function settled(promise: Promise<void> | undefined): Promise<boolean> {
  if (!promise) return true;
  let done = false;
  promise.then(() => done = true);
  await sleep(0);
  return done;
}

Deno.test("a member that falls behind pauses its room's reading until it catches up", async () => {
  const gates = new RoomGates();
  const { lag } = lagIn(gates, "lobby");
  lag.grew(100);
  assert.equal(
    gates.pausedFor(["lobby"]),
    undefined,
    "at the threshold: not behind",
  );
  lag.grew(101);
  assert.equal(lag.holding, true);
  const paused = gates.pausedFor(["lobby"]);
  assert.ok(paused, "the lobby waits");
  assert.equal(gates.pausedFor(["games"]), undefined, "another room reads on");
  assert.equal(gates.pausedFor(undefined), undefined, "a newcomer reads on");
  lag.shrank(60);
  assert.equal(await settled(paused), false, "draining, not caught up yet");
  lag.shrank(25);
  assert.equal(await settled(paused), true, "caught up: the room reads again");
  assert.equal(gates.pausedFor(["lobby"]), undefined);
  assert.equal(gates.allOpen, true);
});

Deno.test("a room reads again only once every member that was behind has caught up", async () => {
  const gates = new RoomGates();
  const a = lagIn(gates, "lobby").lag;
  const b = lagIn(gates, "lobby").lag;
  a.grew(500);
  b.grew(500);
  a.grew(600); // still one hold per member
  const paused = gates.pausedFor(["lobby"]);
  a.shrank(0);
  assert.equal(await settled(paused), false, "b is still behind");
  b.shrank(10);
  assert.equal(await settled(paused), true);
});

Deno.test("a member that does not catch up lets its room go after maxHoldMs, and holds again only after catching up", async () => {
  const gates = new RoomGates();
  const { lag } = lagIn(gates, "lobby", 50);
  lag.grew(1000);
  const paused = gates.pausedFor(["lobby"]);
  await sleep(80);
  assert.equal(await settled(paused), true, "let go after 50 ms");
  assert.equal(lag.holding, false);
  lag.grew(5000);
  assert.equal(
    gates.pausedFor(["lobby"]),
    undefined,
    "still behind: no new hold",
  );
  lag.shrank(20);
  lag.grew(200);
  assert.ok(gates.pausedFor(["lobby"]), "caught up, then behind again: holds");
  lag.close();
  assert.equal(gates.pausedFor(["lobby"]), undefined);
});

Deno.test("a member whose connection ends lets go for good", () => {
  const gates = new RoomGates();
  const { lag } = lagIn(gates, "lobby");
  lag.grew(1000);
  lag.close();
  assert.equal(gates.pausedFor(["lobby"]), undefined);
  lag.shrank(0);
  lag.grew(1000);
  assert.equal(
    gates.pausedFor(["lobby"]),
    undefined,
    "its goodbye holds nothing",
  );
});

Deno.test("a connection in no room yet holds nothing, and may once it is in one", () => {
  const gates = new RoomGates();
  const { lag, member } = lagIn(gates, undefined);
  lag.grew(1000); // a big welcome, before the hello completed
  assert.equal(gates.allOpen, true);
  member.room = "lobby";
  lag.shrank(0);
  lag.grew(1000);
  assert.ok(gates.pausedFor(["lobby"]));
  lag.close();
});
