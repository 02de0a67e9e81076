import assert from "node:assert/strict";
import { HistoryPruner } from "../src/server/history_pruner.ts";
import type { PruneStep } from "../src/server/store.ts";

/** A store with `rows` too many, removed `batch` at a time; counts its calls. */
class FakeStore {
  rows: number;
  batch: number;
  pruneDue = false;
  steps = 0;
  checkpoints = 0;
  failWith?: Error;
  constructor(rows: number, batch: number) {
    this.rows = rows;
    this.batch = batch;
  }
  pruneStep(): PruneStep {
    this.steps++;
    if (this.failWith) throw this.failWith;
    const removed = Math.min(this.rows, this.batch);
    this.rows -= removed;
    return removed > 0 ? { removed, reason: "size" } : { removed: 0 };
  }
  checkpoint(): void {
    this.checkpoints++;
  }
}

Deno.test("a pruning pass removes one batch per turn of the event loop, then checkpoints and logs once", async () => {
  const store = new FakeStore(10_000, 2000);
  const lines: string[] = [];
  const pruner = new HistoryPruner(store, {
    keepDays: 0,
    maxDbMb: 5,
    log: (line) => lines.push(line),
  });
  try {
    const done = pruner.passDone;
    pruner.start();
    assert.equal(store.steps, 0, "nothing runs inside start()");
    // Another turn of the event loop sees the pass half done.
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.ok(store.steps < 6, `${store.steps} steps after one turn`);
    await done;
    assert.equal(store.rows, 0);
    assert.equal(store.steps, 6, "five batches and one that found nothing");
    assert.equal(store.checkpoints, 1);
    assert.deepEqual(lines, [
      "history: removed the 10000 oldest messages to stay under 5 MB",
    ]);
  } finally {
    pruner.stop();
  }
});

Deno.test("the pruner starts a pass when the store says the cap may be near, and not otherwise", async () => {
  const store = new FakeStore(0, 2000);
  const pruner = new HistoryPruner(store, {
    keepDays: 0,
    maxDbMb: 5,
    log: () => {},
  });
  try {
    pruner.noteAppended();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(store.steps, 0, "not due: no pass");
    store.rows = 100;
    store.pruneDue = true;
    const done = pruner.passDone;
    pruner.noteAppended();
    pruner.noteAppended();
    await done;
    assert.equal(store.rows, 0);
    assert.equal(store.steps, 2, "one pass, however often it was asked");
  } finally {
    pruner.stop();
  }
});

Deno.test("a pruning pass that fails logs SQLite's error and the next pass tries again", async () => {
  const store = new FakeStore(100, 2000);
  store.pruneDue = true;
  store.failWith = new Error("database or disk is full");
  const lines: string[] = [];
  const pruner = new HistoryPruner(store, {
    keepDays: 0,
    maxDbMb: 5,
    log: (line) => lines.push(line),
  });
  try {
    let done = pruner.passDone;
    pruner.noteAppended();
    await done;
    assert.deepEqual(lines, [
      "history pruning failed: database or disk is full",
    ]);
    store.failWith = undefined;
    done = pruner.passDone;
    pruner.noteAppended();
    await done;
    assert.equal(store.rows, 0);
  } finally {
    pruner.stop();
  }
});
