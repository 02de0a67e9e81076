/**
 * The search indexer works when the server is quiet and only takes small
 * forced steps while messages keep coming, so a flood never waits for it.
 */

import assert from "node:assert/strict";
import { SearchIndexer } from "../src/server/search_indexer.ts";
import { sleep } from "./hostile_helpers.ts";

/** A store with `pending` messages to index, recording each step's size. */
function fakeStore(pending: number) {
  const steps: number[] = [];
  return {
    steps,
    get pending() {
      return pending;
    },
    add(count: number) {
      pending += count;
    },
    indexStep(maxRows: number): number {
      steps.push(maxRows);
      const done = Math.min(pending, maxRows);
      pending -= done;
      return done;
    },
  };
}

Deno.test("the indexer indexes the whole unindexed history once started, in bounded batches", async () => {
  const store = fakeStore(1000);
  const indexer = new SearchIndexer(store, { batchRows: 200, idleMs: 20 });
  indexer.start();
  try {
    for (let i = 0; i < 200 && store.pending > 0; i++) await sleep(10);
    assert.equal(store.pending, 0);
    assert.ok(store.steps.every((rows) => rows <= 200));
    assert.ok(store.steps.length >= 5);
  } finally {
    indexer.stop();
  }
});

Deno.test("while messages keep coming the indexer takes only small forced steps, then catches up when quiet", async () => {
  const store = fakeStore(0);
  const indexer = new SearchIndexer(store, {
    idleMs: 150,
    batchRows: 100,
    maxLagMs: 100,
    busyBatchRows: 5,
  });
  try {
    const until = Date.now() + 600;
    while (Date.now() < until) {
      store.add(50);
      indexer.noteAppended();
      await sleep(10);
    }
    const busy = [...store.steps];
    assert.ok(busy.length >= 1, "the index does not stall under load");
    assert.ok(busy.length <= 12, `${busy.length} steps in 600 ms`);
    assert.ok(busy.every((rows) => rows === 5), `busy steps: ${busy}`);
    for (let i = 0; i < 300 && store.pending > 0; i++) await sleep(10);
    assert.equal(store.pending, 0, "caught up once quiet");
    assert.ok(store.steps.slice(busy.length).some((rows) => rows === 100));
  } finally {
    indexer.stop();
  }
});
