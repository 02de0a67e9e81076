/**
 * The idle reclaimer: one memory-reducing collection once the server sits
 * idle holding heap it does not use, never while it works.
 */

import assert from "node:assert/strict";
import {
  type HeapFigures,
  IdleReclaimer,
  memoryReducingGc,
} from "../src/server/idle_reclaim.ts";

const MB = 1024 * 1024;

/** A reclaimer over scripted heap figures; `collect` frees the slack. */
function scripted(figures: HeapFigures[], activity?: () => number) {
  let collections = 0;
  let current = figures[0];
  let next = 0;
  const reclaimer = new IdleReclaimer({
    checkMs: 60_000, // driven by hand below
    heap: () => current,
    activity,
    collect: () => {
      collections++;
      current = {
        heapTotal: current.heapUsed + MB,
        heapUsed: current.heapUsed,
      };
    },
  });
  const look = () => {
    if (next < figures.length) current = figures[next++];
    reclaimer.check();
  };
  return { look, collections: () => collections, reclaimer };
}

Deno.test("an idle heap holding much it does not use is collected once", () => {
  const burst = { heapTotal: 90 * MB, heapUsed: 28 * MB };
  const { look, collections, reclaimer } = scripted([burst, burst]);
  try {
    look();
    assert.equal(collections(), 0, "one look cannot tell idle from busy");
    look();
    assert.equal(collections(), 1, "the same heap a look later: idle");
    look();
    look();
    assert.equal(collections(), 1, "once collected, nothing left to give");
  } finally {
    reclaimer.close();
  }
});

Deno.test("a heap that changes between looks is busy and never collected", () => {
  const figures = Array.from({ length: 10 }, (_, i) => ({
    heapTotal: 90 * MB,
    heapUsed: (28 + (i % 2) * 3) * MB,
  }));
  const { look, collections, reclaimer } = scripted(figures);
  try {
    for (let i = 0; i < figures.length; i++) look();
    assert.equal(collections(), 0);
  } finally {
    reclaimer.close();
  }
});

Deno.test("an idle heap with little unused is left alone", () => {
  const small = { heapTotal: 12 * MB, heapUsed: 8 * MB };
  const { look, collections, reclaimer } = scripted([small, small, small]);
  try {
    look();
    look();
    look();
    assert.equal(collections(), 0);
  } finally {
    reclaimer.close();
  }
});

Deno.test("the memory-reducing collection gives back garbage", () => {
  const collect = memoryReducingGc();
  assert.ok(collect, "Deno offers gc through node:v8 and node:vm");
  let garbage: unknown[] | undefined = Array.from(
    { length: 500_000 },
    (_, i) => ({ i, text: `item ${i}` }),
  );
  const before = Deno.memoryUsage();
  assert.ok(garbage.length > 0);
  garbage = undefined;
  collect();
  const after = Deno.memoryUsage();
  assert.ok(
    after.heapUsed < before.heapUsed - 10 * MB,
    `heap in use ${before.heapUsed / MB | 0} MB -> ${
      after.heapUsed / MB | 0
    } MB`,
  );
  assert.ok(after.heapTotal < before.heapTotal, "and the heap it held");
});

Deno.test("work counted between two looks is busy, even when the heap reads the same", () => {
  // Steady traffic: each look lands just after a young collection.
  const steady = { heapTotal: 90 * MB, heapUsed: 28 * MB };
  let ticks = 0;
  const { look, collections, reclaimer } = scripted(
    Array.from({ length: 6 }, () => steady),
    () => ticks,
  );
  try {
    for (let i = 0; i < 5; i++) {
      ticks += 10;
      look();
    }
    assert.equal(collections(), 0, "never while ticks go by");
    look();
    assert.equal(collections(), 1, "no tick since the last look: idle");
  } finally {
    reclaimer.close();
  }
});
