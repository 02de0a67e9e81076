import assert from "node:assert/strict";
import type { RoomMessage } from "../protocol.ts";
import { SqliteStore } from "../src/server/store.ts";
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
