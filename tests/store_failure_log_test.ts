import assert from "node:assert/strict";
import {
  describeStoreError,
  StoreFailureLog,
} from "../src/server/store_failure_log.ts";

function sqliteFull(): Error {
  return Object.assign(new Error("database or disk is full"), {
    code: "ERR_SQLITE_ERROR",
    errcode: 13,
    errstr: "database or disk is full",
  });
}

Deno.test("a failing store is logged once with SQLite's words, its repeats summarised every quiet period, its recovery once", () => {
  const lines: string[] = [];
  let now = 1_000_000;
  const log = new StoreFailureLog((line) => lines.push(line), {
    quietMs: 10_000,
    now: () => now,
  });
  log.succeeded();
  assert.deepEqual(lines, [], "nothing to say while it works");
  // A full disk under a busy room: a failed batch every millisecond.
  for (let i = 0; i < 25_000; i++) {
    log.failed(sqliteFull(), 3);
    now += 1;
  }
  assert.deepEqual(lines, [
    "store error: database or disk is full (SQLite code 13); messages are refused (store_failed) until storing works again",
    "store error, 10000 more times in 10 s: database or disk is full (SQLite code 13)",
    "store error, 10000 more times in 10 s: database or disk is full (SQLite code 13)",
  ]);
  log.succeeded();
  log.succeeded();
  assert.equal(lines.length, 4);
  assert.equal(
    lines[3],
    "storing works again; 75000 messages were refused meanwhile",
  );
  // A new failure later is news again.
  log.failed(new Error("disk I/O error"), 1);
  assert.equal(
    lines[4],
    "store error: disk I/O error; messages are refused (store_failed) until storing works again",
  );
});

Deno.test("describeStoreError gives the message and SQLite's code when there is one", () => {
  assert.equal(
    describeStoreError(sqliteFull()),
    "database or disk is full (SQLite code 13)",
  );
  assert.equal(describeStoreError(new Error("boom")), "boom");
  assert.equal(describeStoreError("odd"), "odd");
});
