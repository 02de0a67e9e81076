import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { RoomMessage } from "../protocol.ts";
import {
  DatabaseInUseError,
  MemoryStore,
  messageBytes,
  type MessageStore,
  SqliteStore,
} from "../src/server/store.ts";
import { tempDir } from "./helpers.ts";

function message(
  id: number,
  room: string,
  text: string,
  me = false,
): RoomMessage {
  const m: RoomMessage = {
    type: "msg",
    id,
    ts: 1000 + id,
    room,
    from: "alice",
    text,
  };
  if (me) m.me = true;
  return m;
}

Deno.test("SqliteStore keeps messages across reopening, by room, oldest first", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir.path}/chat.db`;
    const first = new SqliteStore(path);
    assert.equal(first.lastId(), 0);
    first.append([
      message(1, "lobby", "a"),
      message(2, "games", "g"),
      message(3, "lobby", "b", true),
    ]);
    first.append([message(4, "lobby", "你好")]);
    first.close();
    const second = new SqliteStore(path);
    assert.equal(second.lastId(), 4);
    assert.deepEqual(second.history("lobby", { limit: 10 }), {
      messages: [
        message(1, "lobby", "a"),
        message(3, "lobby", "b", true),
        message(4, "lobby", "你好"),
      ],
      more: false,
    });
    const capped = second.history("lobby", { limit: 2 });
    assert.deepEqual(
      capped.messages.map((m) => m.id),
      [3, 4],
      "the newest when capped",
    );
    assert.equal(capped.more, true, "and it says there is more");
    assert.deepEqual(
      second.history("lobby", { after: 3, limit: 10 }).messages.map((m) =>
        m.id
      ),
      [4],
      "after an id",
    );
    assert.deepEqual(
      second.history("lobby", { before: 3, limit: 10 }).messages.map((m) =>
        m.id
      ),
      [1],
      "before an id",
    );
    second.close();
  } finally {
    await dir.remove();
  }
});

Deno.test("SqliteStore stores a batch all or nothing", () => {
  const store = new SqliteStore(":memory:");
  store.append([message(1, "lobby", "a")]);
  assert.throws(() =>
    store.append([message(2, "lobby", "b"), message(1, "lobby", "dup")])
  );
  assert.deepEqual(
    store.history("lobby", { limit: 10 }).messages.map((m) => m.text),
    ["a"],
  );
  store.close();
});

const DAY_MS = 24 * 60 * 60 * 1000;

/** `count` messages from id `first` on, `text` bytes each, sent at `ts`. */
function messages(
  first: number,
  count: number,
  options: { ts?: number; bytes?: number; room?: string } = {},
): RoomMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    type: "msg",
    id: first + i,
    ts: options.ts ?? Date.now(),
    room: options.room ?? "lobby",
    from: "alice",
    text: `${first + i} ${"x".repeat(options.bytes ?? 200)}`,
  }));
}

/** Prunes until a step removes nothing; returns how many went, by reason. */
function pruneAll(store: SqliteStore, now?: number) {
  const removed = { age: 0, size: 0, steps: 0 };
  for (;;) {
    const step = store.pruneStep(now);
    if (!step.reason) return removed;
    removed[step.reason] += step.removed;
    removed.steps++;
  }
}

Deno.test("over its size cap the store removes the oldest messages until it is under the cap again", () => {
  const maxBytes = 512 * 1024;
  const store = new SqliteStore(":memory:", { keepDays: 0, maxBytes });
  try {
    for (let i = 0; i < 20; i++) store.append(messages(i * 500 + 1, 500));
    const before = store.usedBytes();
    assert.ok(before > 3 * maxBytes, `${before} bytes stored, cap ${maxBytes}`);
    assert.ok(store.pruneDue, "pruning is due after appending past the cap");
    const removed = pruneAll(store);
    assert.equal(removed.age, 0);
    assert.ok(removed.steps > 1, "a big prune is spread over several steps");
    const after = store.usedBytes();
    assert.ok(after <= maxBytes, `${after} bytes in use, cap ${maxBytes}`);
    const kept = store.history("lobby", {
      limit: 100_000,
      maxBytes: Infinity,
      budgetMs: Infinity,
    })
      .messages.map((m) => m.id);
    assert.equal(kept.length, 10_000 - removed.size);
    assert.equal(kept.at(-1), 10_000, "the newest message is kept");
    assert.equal(kept[0], removed.size + 1, "the oldest ones went first");
    assert.equal(store.lastId(), 10_000);
    assert.ok(!store.pruneDue, "nothing due right after pruning");
  } finally {
    store.close();
  }
});

Deno.test("a store under its caps prunes nothing", () => {
  const store = new SqliteStore(":memory:", {
    keepDays: 30,
    maxBytes: 64 * 1024 * 1024,
  });
  try {
    store.append(messages(1, 1000));
    assert.deepEqual(store.pruneStep(), { removed: 0 });
    assert.equal(
      store.history("lobby", {
        limit: 2000,
        maxBytes: Infinity,
        budgetMs: Infinity,
      }).messages
        .length,
      1000,
    );
  } finally {
    store.close();
  }
});

Deno.test("messages older than keepDays are removed, in every room, and the younger stay", () => {
  const now = Date.now();
  const store = new SqliteStore(":memory:", { keepDays: 30, maxBytes: 0 });
  try {
    store.append(messages(1, 3000, { ts: now - 40 * DAY_MS, room: "lobby" }));
    store.append(
      messages(3001, 3000, { ts: now - 31 * DAY_MS, room: "games" }),
    );
    store.append(messages(6001, 10, { ts: now - 29 * DAY_MS, room: "games" }));
    store.append(messages(6011, 10, { ts: now, room: "lobby" }));
    const removed = pruneAll(store, now);
    assert.deepEqual(removed, { age: 6000, size: 0, steps: 3 });
    assert.deepEqual(
      store.history("games", {
        limit: 100,
        maxBytes: Infinity,
        budgetMs: Infinity,
      }).messages.map((
        m,
      ) => m.id),
      Array.from({ length: 10 }, (_, i) => 6001 + i),
    );
    assert.deepEqual(
      store.history("lobby", {
        limit: 100,
        maxBytes: Infinity,
        budgetMs: Infinity,
      }).messages.map((
        m,
      ) => m.id),
      Array.from({ length: 10 }, (_, i) => 6011 + i),
    );
  } finally {
    store.close();
  }
});

Deno.test("ids are never reused, even when every message was pruned and the file reopened", async () => {
  const dir = await tempDir();
  const path = `${dir.path}/chat.db`;
  try {
    const store = new SqliteStore(path, { keepDays: 1, maxBytes: 0 });
    store.append(messages(1, 50, { ts: Date.now() - 2 * DAY_MS }));
    assert.equal(pruneAll(store).age, 50);
    assert.deepEqual(
      store.history("lobby", {
        limit: 100,
        maxBytes: Infinity,
        budgetMs: Infinity,
      }).messages,
      [],
    );
    assert.equal(store.lastId(), 50);
    store.close();
    const reopened = new SqliteStore(path);
    assert.equal(reopened.lastId(), 50, "the highest id survives reopening");
    reopened.append(messages(51, 1));
    assert.equal(reopened.lastId(), 51, "ids go on past it");
    reopened.close();
  } finally {
    await dir.remove();
  }
});

Deno.test("a second store on the same file is refused at once, naming this process; closing lets it in", async () => {
  const dir = await tempDir();
  const path = `${dir.path}/chat.db`;
  try {
    const first = new SqliteStore(path);
    first.append(messages(1, 1));
    const started = performance.now();
    assert.throws(
      () => new SqliteStore(path),
      (error: Error) => {
        assert.ok(error instanceof DatabaseInUseError, String(error));
        assert.equal(
          error.message,
          `${path} is in use by another chat serve (pid ${Deno.pid}); stop it or give --db another file`,
        );
        return true;
      },
    );
    assert.throws(
      () => new SqliteStore(`${dir.path}/./chat.db`),
      DatabaseInUseError,
    );
    assert.ok(performance.now() - started < 1000, "refused without waiting");
    first.append(messages(2, 1));
    first.close();
    const second = new SqliteStore(path);
    assert.equal(second.lastId(), 2, "the first lost nothing");
    second.close();
    // Two in-memory stores share nothing, so they need no lock.
    const a = new SqliteStore(":memory:");
    const b = new SqliteStore(":memory:");
    a.close();
    b.close();
  } finally {
    await dir.remove();
  }
});

Deno.test("a database from before search is indexed on opening: its history is found, and kept in step with inserts and pruning", async () => {
  const dir = await tempDir();
  const path = `${dir.path}/old.db`;
  try {
    // The schema of the version before search and replies.
    const old = new DatabaseSync(path);
    old.exec(`
      CREATE TABLE messages (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,
        room TEXT NOT NULL, nick TEXT NOT NULL, text TEXT NOT NULL,
        me INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT INTO messages VALUES (1, 1000, 'lobby', 'alice', '数学作业在哪里', 0);
      INSERT INTO messages VALUES (2, 2000, 'lobby', 'bob', 'the homework is on page 3', 0);
    `);
    old.close();
    const store = new SqliteStore(path, { keepDays: 1, maxBytes: 0 });
    try {
      // Found before the background indexer ran (scanned), and after.
      assert.deepEqual(
        store.search(["lobby"], "homework", 20).map((m) => m.id),
        [2],
      );
      assert.equal(store.indexStep(1), 1);
      assert.equal(store.indexStep(100), 1);
      assert.equal(store.indexStep(100), 0, "the history is indexed");
      assert.deepEqual(
        store.search(["lobby"], "作业", 20).map((m) => m.id),
        [1],
      );
      assert.deepEqual(
        store.search(["lobby"], "homework", 20).map((m) => m.id),
        [2],
      );
      store.append([{
        type: "msg",
        id: 3,
        ts: Date.now(),
        room: "lobby",
        from: "carol",
        text: "more homework",
        reply_to: 2,
        quote: { id: 2, from: "bob", text: "the homework is on page 3" },
      }]);
      assert.deepEqual(
        store.search(["lobby"], "homework", 20).map((m) => m.id),
        [3, 2],
        "newest first: 3 not indexed yet, 2 from the index",
      );
      assert.equal(store.indexStep(100), 1);
      assert.deepEqual(
        store.search(["lobby"], "more homework", 20).map((m) => m.id),
        [3],
      );
      assert.equal(store.message("lobby", 3)?.quote?.from, "bob");
      assert.equal(store.search(["class"], "homework", 20).length, 0);
      // Messages 1 and 2 are older than a day: pruned, they leave the index.
      while (store.pruneStep().removed > 0) { /* prune all that is due */ }
      assert.deepEqual(
        store.search(["lobby"], "homework", 20).map((m) => m.id),
        [3],
      );
      assert.deepEqual(store.search(["lobby"], "作业", 20), []);
    } finally {
      store.close();
    }
    // The index is in step with its table: pruned rows left it too.
    const check = new DatabaseSync(path);
    check.exec(
      "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)",
    );
    check.close();
  } finally {
    await dir.remove();
  }
});

for (
  const [name, open] of [
    ["SqliteStore", () => new SqliteStore(":memory:")],
    ["MemoryStore", () => new MemoryStore()],
  ] as [string, () => MessageStore][]
) {
  Deno.test(`${name}: a page is bounded by bytes, says more, and paging back returns every message once`, () => {
    const store = open();
    const texts: RoomMessage[] = [];
    for (let id = 1; id <= 300; id++) {
      texts.push(
        message(
          id,
          id % 3 === 0 ? "games" : "lobby",
          `${id} ${"字".repeat(900)}`,
        ),
      );
    }
    store.append(texts);
    const maxBytes = 16 * 1024;
    const seen: number[] = [];
    let before: number | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const page = store.history("lobby", { before, limit: 1000, maxBytes });
      const bytes = page.messages.reduce((sum, m) => sum + messageBytes(m), 0);
      assert.ok(bytes <= maxBytes, `page of ${bytes} bytes`);
      assert.ok(page.messages.length > 0);
      const ids = page.messages.map((m) => m.id);
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), "oldest first");
      seen.unshift(...ids);
      if (!page.more) break;
      before = ids[0];
    }
    const lobby = texts.filter((m) => m.room === "lobby").map((m) => m.id);
    assert.deepEqual(seen, lobby, "every lobby message exactly once, in order");
    const since = store.history("lobby", { after: 290, before: 299, limit: 2 });
    assert.deepEqual(since.messages.map((m) => m.id), [296, 298]);
    assert.equal(since.more, true, "292, 293 and 295 are left");
    assert.equal(
      store.history("lobby", { after: 290, limit: 1000 }).more,
      false,
      "all of a short range",
    );
    store.close();
  });

  Deno.test(`${name}: a history longer than one read returns each message once, the newest, and says more exactly`, () => {
    const store = open();
    const all: RoomMessage[] = [];
    for (let id = 1; id <= 400; id++) {
      all.push(message(id, id % 4 === 0 ? "games" : "lobby", `m${id}`));
    }
    store.append(all);
    const lobby = all.filter((m) => m.room === "lobby").map((m) => m.id);
    for (const limit of [1, 63, 64, 65, 128, 129, 299, 300, 301, 1000]) {
      const page = store.history("lobby", { limit });
      const want = lobby.slice(-limit);
      assert.deepEqual(page.messages.map((m) => m.id), want, `limit ${limit}`);
      assert.equal(page.more, limit < lobby.length, `more at limit ${limit}`);
    }
    const resume = store.history("lobby", { after: 100, limit: 1000 });
    assert.deepEqual(
      resume.messages.map((m) => m.id),
      lobby.filter((id) => id > 100),
    );
    assert.equal(resume.more, false);
    const back = store.history("lobby", { before: 301, after: 20, limit: 130 });
    assert.deepEqual(
      back.messages.map((m) => m.id),
      lobby.filter((id) => id > 20 && id < 301).slice(-130),
    );
    assert.equal(back.more, true);
    store.close();
  });
}

Deno.test("messageBytes is the UTF-8 length of the message's JSON line", () => {
  for (const text of ["hi", "你好", "emoji 👋🏽", 'quote " and \\ back']) {
    const m = message(7, "lobby", text);
    assert.equal(
      messageBytes(m),
      new TextEncoder().encode(JSON.stringify(m) + "\n").length,
    );
  }
});
