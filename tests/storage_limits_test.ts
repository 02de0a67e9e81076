/**
 * Storage against the real server: one server per database.
 */

import assert from "node:assert/strict";
import type { ServerEvent } from "../protocol.ts";
import { runChat, ServerProcess, tempDir, TestClient } from "./helpers.ts";

type Msg = Extract<ServerEvent, { type: "msg" }>;

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
