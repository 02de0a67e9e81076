import assert from "node:assert/strict";
import type { RoomMessage } from "../protocol.ts";
import { DatabaseInUseError, SqliteStore } from "../src/server/store.ts";
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
    assert.deepEqual(second.history("lobby", 0, 10), [
      message(1, "lobby", "a"),
      message(3, "lobby", "b", true),
      message(4, "lobby", "你好"),
    ]);
    assert.deepEqual(
      second.history("lobby", 0, 2).map((m) => m.id),
      [3, 4],
      "the newest when capped",
    );
    assert.deepEqual(
      second.history("lobby", 3, 10).map((m) => m.id),
      [4],
      "after an id",
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
  assert.deepEqual(store.history("lobby", 0, 10).map((m) => m.text), ["a"]);
  store.close();
});

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
