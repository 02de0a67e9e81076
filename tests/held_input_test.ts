import assert from "node:assert/strict";
import { HeldInput, type HeldLine } from "../src/server/doors/held_input.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (held: HeldLine | undefined) =>
  held === undefined
    ? undefined
    : "bytes" in held
    ? `${new TextDecoder().decode(held.bytes)}${
      held.unframed ? " (unframed)" : ""
    }`
    : `line:${held.line}`;

Deno.test("held lines come back in order, bytes and decoded lines mixed, each copied", () => {
  const held = new HeldInput();
  assert.equal(held.empty, true);
  const buffer = bytes("first");
  held.holdBytes(buffer, false);
  buffer.fill(0x78); // the read buffer is reused: what was held is a copy
  held.holdBytes(bytes(""), false);
  held.holdLine("typed", false);
  held.holdBytes(bytes("unframed send"), true);
  held.holdBytes(bytes("last"), false);
  const out: (string | undefined)[] = [];
  while (!held.empty) out.push(text(held.next()));
  assert.deepEqual(out, [
    "first",
    "",
    "line:typed",
    "unframed send (unframed)",
    "last",
  ]);
  assert.equal(held.next(), undefined);
});

Deno.test("3,000 held lines are packed, grow past the first buffer, and read back whole", () => {
  const held = new HeldInput();
  for (let i = 0; i < 3000; i++) held.holdBytes(bytes(`/who ${i}`), false);
  // Lines held while the earlier ones are being handed out go after them.
  assert.equal(text(held.next()), "/who 0");
  held.holdBytes(bytes("after"), false);
  const out: (string | undefined)[] = [];
  while (!held.empty) out.push(text(held.next()));
  assert.equal(out.length, 3000);
  assert.equal(out[0], "/who 1");
  assert.equal(out[2998], "/who 2999");
  assert.equal(out[2999], "after");
});

Deno.test("clear forgets everything held", () => {
  const held = new HeldInput();
  held.holdBytes(bytes("a"), false);
  held.holdLine("b", false);
  held.clear();
  assert.equal(held.empty, true);
  assert.equal(held.next(), undefined);
});
