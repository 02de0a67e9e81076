import assert from "node:assert/strict";
import { coalesce, WriteQueue } from "../src/server/write_queue.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** A peer whose writes complete only when the test lets them. */
function stalledPeer() {
  const writes: string[] = [];
  const pending: (() => void)[] = [];
  return {
    writes,
    write: (data: Uint8Array) => {
      writes.push(text(data));
      return new Promise<void>((resolve) => pending.push(resolve));
    },
    release: () => pending.splice(0).forEach((resolve) => resolve()),
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("everything pushed in one turn goes out in one write, in order", async () => {
  const peer = stalledPeer();
  let idle = 0;
  const queue = new WriteQueue({
    write: peer.write,
    maxWaitingBytes: 1024,
    onSlow: () => assert.fail("not slow"),
    onError: () => assert.fail("no error"),
    onIdle: () => idle++,
  });
  for (const part of ["a\n", "b\n", "c\n"]) queue.push(bytes(part));
  await tick();
  assert.deepEqual(peer.writes, ["a\nb\nc\n"]);
  queue.push(bytes("d\n"));
  queue.push(bytes("e\n"));
  peer.release();
  await tick();
  assert.deepEqual(
    peer.writes,
    ["a\nb\nc\n", "d\ne\n"],
    "what waited is coalesced too",
  );
  assert.equal(queue.busy, true);
  peer.release();
  await tick();
  assert.equal(queue.busy, false);
  assert.equal(idle, 1);
});

Deno.test("a peer that does not take its bytes is reported slow once over the bound", async () => {
  const peer = stalledPeer();
  let slow = 0;
  const queue = new WriteQueue({
    write: peer.write,
    maxWaitingBytes: 10,
    onSlow: () => slow++,
    onError: () => assert.fail("no error"),
    onIdle: () => {},
  });
  assert.equal(
    queue.push(bytes("x".repeat(50))),
    true,
    "a big first burst is not slow",
  );
  await tick();
  assert.equal(queue.push(bytes("y".repeat(6))), true);
  assert.equal(
    queue.push(bytes("z".repeat(6))),
    false,
    "12 bytes wait behind a stalled write",
  );
  assert.equal(slow, 1);
  peer.release();
  await tick();
  assert.deepEqual(
    peer.writes,
    ["x".repeat(50)],
    "what was dropped is never written",
  );
});

Deno.test("a failed write drops the queue and reports the error", async () => {
  const errors: unknown[] = [];
  let idle = 0;
  const queue = new WriteQueue({
    write: () => Promise.reject(new Error("reset")),
    maxWaitingBytes: 1024,
    onSlow: () => {},
    onError: (error) => errors.push(error),
    onIdle: () => idle++,
  });
  queue.push(bytes("hi\n"));
  await tick();
  assert.equal(errors.length, 1);
  assert.equal(idle, 1);
  assert.equal(queue.busy, false);
});

Deno.test("coalesce joins small chunks and leaves big shared ones uncopied", () => {
  const small = [bytes("a"), bytes("b")];
  assert.deepEqual(coalesce(small).map(text), ["ab"]);
  const big = new Uint8Array(16 * 1024).fill(0x41);
  const writes = coalesce([bytes("a"), bytes("b"), big, bytes("c")]);
  assert.equal(writes.length, 3);
  assert.equal(text(writes[0]), "ab");
  assert.equal(writes[1], big, "the same buffer, not a copy");
  assert.equal(text(writes[2]), "c");
});
