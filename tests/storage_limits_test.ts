/**
 * Storage against the real server: history retention (`--max-db-mb`,
 * `--keep-days`), ids that are never reused, one server per database, and a
 * full disk that refuses messages without flooding the log, then recovers.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { ServerEvent } from "../protocol.ts";
import { runChat, ServerProcess, tempDir, TestClient } from "./helpers.ts";
import { sleep, waitForLog } from "./hostile_helpers.ts";

type Msg = Extract<ServerEvent, { type: "msg" }>;

const DAY_MS = 24 * 60 * 60 * 1000;
const MIB = 1024 * 1024;

/** What the database file holds, read the way any SQLite reader would. */
function inspect(db: string) {
  const reader = new DatabaseSync(db);
  try {
    const pragma = (name: string) =>
      Number(reader.prepare(`PRAGMA ${name}`).get()?.[name]);
    const rows = reader.prepare(
      "SELECT min(id) AS first, max(id) AS last, count(*) AS count FROM messages",
    ).get()!;
    return {
      usedBytes: (pragma("page_count") - pragma("freelist_count")) *
        pragma("page_size"),
      first: Number(rows.first),
      last: Number(rows.last),
      count: Number(rows.count),
    };
  } finally {
    reader.close();
  }
}

/** Adds rows straight into the file, as an older server would have left them. */
function insertRows(
  db: string,
  rows: { id: number; ts: number; text: string }[],
): void {
  const writer = new DatabaseSync(db);
  try {
    const insert = writer.prepare(
      "INSERT INTO messages (id, ts, room, nick, text, me) VALUES (?, ?, 'lobby', 'old', ?, 0)",
    );
    writer.exec("BEGIN");
    for (const row of rows) insert.run(row.id, row.ts, row.text);
    writer.exec("COMMIT");
  } finally {
    writer.close();
  }
}

/** Starts and stops a server once, so the file has the server's schema. */
async function createDatabase(db: string): Promise<void> {
  const server = await ServerProcess.start(["--db", db]);
  await server.stop();
}

/** Sends `texts` in one write and returns their echoes, in order. */
async function sayAll(client: TestClient, texts: string[]): Promise<Msg[]> {
  await client.writeAll(
    texts.map((text) => JSON.stringify({ type: "say", text }) + "\n").join(""),
  );
  const echoes: Msg[] = [];
  for (const text of texts) {
    const event = await client.waitFor(
      (e) => e.type === "msg" || e.type === "error",
      30_000,
    );
    assert.equal(event.type, "msg", JSON.stringify(event));
    assert.equal((event as Msg).text, text);
    echoes.push(event as Msg);
  }
  return echoes;
}

Deno.test("with --max-db-mb 1, a flood of 2.6 MB keeps the history under 1 MB: the oldest messages go, since returns the newest", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  const server = await ServerProcess.start([
    "--db",
    db,
    "--rate",
    "0",
    "--max-db-mb",
    "1",
  ]);
  const clients: TestClient[] = [];
  try {
    const { client } = await TestClient.join(server.port, "flooder");
    clients.push(client);
    const padding = "x".repeat(500);
    const echoes = await sayAll(
      client,
      Array.from({ length: 5000 }, (_, i) => `${i} ${padding}`),
    );
    const sentFirst = echoes[0].id;
    const sentLast = echoes.at(-1)!.id;
    await waitForLog(
      server,
      /history: removed the \d+ oldest messages to stay under 1 MB/,
      15_000,
    );
    // Pruning runs after the flush, in small batches: wait until it is done.
    let stored = inspect(db);
    for (
      const deadline = Date.now() + 15_000;
      stored.usedBytes > MIB && Date.now() < deadline;
      stored = inspect(db)
    ) await sleep(100);
    assert.ok(
      stored.usedBytes <= MIB,
      `${stored.usedBytes} bytes of history in use, cap ${MIB}`,
    );
    assert.ok(stored.first > sentFirst, "the oldest messages are gone");
    assert.equal(stored.last, sentLast, "the newest message is kept");
    assert.equal(
      stored.count,
      stored.last - stored.first + 1,
      "what is gone is exactly the oldest: no hole in what is left",
    );
    assert.ok(stored.count > 500, `${stored.count} messages kept`);
    // Freed pages are reused: the file does not keep growing past the cap.
    const fileBytes = (await Deno.stat(db)).size;
    assert.ok(fileBytes < 2 * MIB, `the file is ${fileBytes} bytes`);

    const { client: reader, welcome } = await TestClient.join(
      server.port,
      "reader",
      { since: 0 },
    );
    clients.push(reader);
    const ids = welcome.history.map((m) => m.id);
    assert.equal(ids.at(-1), sentLast, "a resume gets the newest message");
    assert.ok(ids[0] >= stored.first);
    assert.deepEqual(
      ids,
      Array.from({ length: ids.length }, (_, i) => ids[0] + i),
    );
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.stop();
    await dir.remove();
  }
});

Deno.test("--keep-days removes older messages at start, keeps the newer, and ids go on after the highest", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  try {
    await createDatabase(db);
    const old = Date.now() - 40 * DAY_MS;
    insertRows(db, [
      ...Array.from({ length: 300 }, (_, i) => ({
        id: i + 1,
        ts: old + i,
        text: `old ${i + 1}`,
      })),
      ...Array.from({ length: 10 }, (_, i) => ({
        id: 301 + i,
        ts: Date.now() - DAY_MS,
        text: `recent ${301 + i}`,
      })),
    ]);
    const server = await ServerProcess.start(["--db", db, "--keep-days", "30"]);
    try {
      await waitForLog(
        server,
        /history: removed 300 messages older than 30 days/,
        15_000,
      );
      const { client, welcome } = await TestClient.join(server.port, "alice", {
        since: 0,
      });
      assert.deepEqual(
        welcome.history.map((m) => m.text),
        Array.from({ length: 10 }, (_, i) => `recent ${301 + i}`),
      );
      const [echo] = await sayAll(client, ["after the prune"]);
      assert.equal(echo.id, 311);
      await client.close();
    } finally {
      await server.stop();
    }
    assert.deepEqual(
      { first: inspect(db).first, count: inspect(db).count },
      { first: 301, count: 11 },
    );
  } finally {
    await dir.remove();
  }
});

Deno.test("when --keep-days removed every message, the next id is still one more than the highest ever, after a restart too", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  try {
    await createDatabase(db);
    insertRows(
      db,
      Array.from({ length: 50 }, (_, i) => ({
        id: i + 1,
        ts: Date.now() - 40 * DAY_MS,
        text: `old ${i + 1}`,
      })),
    );
    const pruning = await ServerProcess.start([
      "--db",
      db,
      "--keep-days",
      "30",
    ]);
    try {
      await waitForLog(pruning, /history: removed 50 messages older/, 15_000);
    } finally {
      await pruning.stop();
    }
    assert.equal(inspect(db).count, 0, "every message was pruned");
    // Nothing in the table says how far the ids went: the server must know.
    const server = await ServerProcess.start(["--db", db, "--keep-days", "30"]);
    try {
      const { client, welcome } = await TestClient.join(server.port, "alice", {
        since: 0,
      });
      assert.deepEqual(welcome.history, []);
      const [echo] = await sayAll(client, ["the first after the prune"]);
      assert.equal(echo.id, 51, "an id is never given twice");
      await client.close();
    } finally {
      await server.stop();
    }
  } finally {
    await dir.remove();
  }
});

Deno.test("a second chat serve on the same --db is refused in one line naming the first's pid, exit 1; the first loses nothing; kill -9 frees the database", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  await Deno.symlink(db, `${dir.path}/link.db`);
  const first = await ServerProcess.start(["--db", db, "--rate", "0"]);
  const clients: TestClient[] = [];
  try {
    const { client: alice } = await TestClient.join(first.port, "alice");
    clients.push(alice);
    const before = await sayAll(alice, ["before the second server"]);
    for (const path of [db, `${dir.path}/link.db`]) {
      const started = Date.now();
      const second = await runChat([
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--db",
        path,
      ]);
      assert.equal(second.code, 1, second.stderr);
      assert.equal(
        second.stderr,
        `chat: ${path} is in use by another chat serve (pid ${first.pid}); stop it or give --db another file\n`,
      );
      assert.equal(second.stdout, "", "it never said it was listening");
      assert.ok(Date.now() - started < 15_000, "refused without waiting");
    }
    // The first is unharmed: it stores and delivers as before.
    const after = await sayAll(alice, ["after the second server"]);
    assert.equal(after[0].id, before[0].id + 1);
    const { client: bob, welcome } = await TestClient.join(first.port, "bob", {
      since: 0,
    });
    clients.push(bob);
    assert.deepEqual(welcome.history.map((m) => m.text), [
      "before the second server",
      "after the second server",
    ]);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await first.stop("SIGKILL");
  }
  // The kernel dropped the dead server's lock: a restart just works.
  const again = await ServerProcess.start(["--db", db]);
  try {
    const { client, welcome } = await TestClient.join(again.port, "carol", {
      since: 0,
    });
    assert.equal(welcome.history.length, 2);
    await client.close();
  } finally {
    await again.stop();
    await dir.remove();
  }
});

/** Why a tiny tmpfs cannot be mounted here, or undefined when it can. */
async function tmpfsUnavailable(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "a tmpfs needs Linux";
  if (Deno.uid() !== 0) return "mounting a tmpfs needs root";
  const probe = await Deno.makeTempDir({ prefix: "chat_tmpfs_probe_" });
  try {
    const mounted = await mount(probe, "64k");
    if (mounted) return mounted;
    await umount(probe);
    return undefined;
  } finally {
    await Deno.remove(probe);
  }
}

/** Mounts a tmpfs of `size`; returns the error, if any. */
async function mount(dir: string, size: string): Promise<string | undefined> {
  try {
    const result = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (result.success) return undefined;
    return `mount failed: ${new TextDecoder().decode(result.stderr).trim()}`;
  } catch (error) {
    return `mount failed: ${error}`;
  }
}

async function umount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: [dir], stderr: "null" }).output();
}

/** Writes zeros to `path` until the file system has no room left. */
async function fillDisk(path: string): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true });
  try {
    for (const size of [64 * 1024, 4096, 512, 1]) {
      const chunk = new Uint8Array(size);
      try {
        for (;;) await file.write(chunk);
      } catch {
        // This size no longer fits: try a smaller one.
      }
    }
  } finally {
    file.close();
  }
}

const noTmpfs = await tmpfsUnavailable();
if (noTmpfs) console.log(`skipped: the full-disk test (${noTmpfs})`);

Deno.test({
  name:
    "a full disk: messages are refused with store_failed and never echoed, the SQLite error is logged once, and storing resumes when space returns",
  ignore: noTmpfs !== undefined,
  fn: async () => {
    const mountPoint = await Deno.makeTempDir({ prefix: "chat_full_disk_" });
    const mounted = await mount(mountPoint, "4m");
    assert.equal(mounted, undefined, mounted);
    const db = `${mountPoint}/chat.db`;
    const filler = `${mountPoint}/filler`;
    const clients: TestClient[] = [];
    let server: ServerProcess | undefined;
    try {
      server = await ServerProcess.start(["--db", db, "--rate", "0"]);
      const { client: alice } = await TestClient.join(server.port, "alice");
      const { client: bob } = await TestClient.join(server.port, "bob");
      clients.push(alice, bob);
      await sayAll(alice, ["stored before the disk filled"]);

      await fillDisk(filler);
      // One at a time, so that each is a batch of its own that fails.
      const refused = 300;
      for (let i = 0; i < refused; i++) {
        alice.send({ type: "say", text: `lost ${i}` });
        const event = await alice.waitFor(
          (e) => e.type === "msg" || e.type === "error",
          15_000,
        );
        assert.deepEqual(
          event.type === "error" && event.code,
          "store_failed",
          JSON.stringify(event),
        );
      }
      await waitForLog(server, /store error: .*full/);
      const errorLines = server.log.split("\n").filter((line) =>
        line.includes("store error")
      );
      assert.equal(errorLines.length, 1, errorLines.join("\n"));
      // SQLite's own words, not a follow-on error such as a failed ROLLBACK.
      assert.match(errorLines[0], /store error: database or disk is full\b/);

      await Deno.remove(filler);
      const [echo] = await sayAll(alice, ["stored once space returned"]);
      await waitForLog(
        server,
        new RegExp(`storing works again; ${refused} messages were refused`),
      );
      // Bob saw the two stored messages and none of the refused ones.
      const seen: string[] = [];
      for (;;) {
        const event = await bob.waitFor((e) => e.type === "msg");
        seen.push((event as Msg).text);
        if ((event as Msg).id === echo.id) break;
      }
      assert.deepEqual(seen, [
        "stored before the disk filled",
        "stored once space returned",
      ]);
      const { client: carol, welcome } = await TestClient.join(
        server.port,
        "carol",
        { since: 0 },
      );
      clients.push(carol);
      assert.deepEqual(welcome.history.map((m) => m.text), seen);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await server?.stop();
      await umount(mountPoint);
      await Deno.remove(mountPoint, { recursive: true });
    }
  },
});
