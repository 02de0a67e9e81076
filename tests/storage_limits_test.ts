/**
 * Storage against the real server: one server per database, and a full disk
 * that refuses messages without flooding the log, then recovers.
 */

import assert from "node:assert/strict";
import type { ServerEvent } from "../protocol.ts";
import { runChat, ServerProcess, tempDir, TestClient } from "./helpers.ts";
import { waitForLog } from "./hostile_helpers.ts";

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
