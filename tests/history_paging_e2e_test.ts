/**
 * Filling a resume's gap over the wire, as any JSON client would: the
 * welcome after a long absence is bounded and says `more`; `history` pages
 * with `after` and `before` bring the rest, every message once, in order.
 * Pages count against the flood allowance: paced to the server's rate they
 * are never refused, unpaced beyond the burst they are.
 */

import assert from "node:assert/strict";
import type { RoomMessage, ServerEvent } from "../protocol.ts";
import { TokenBucket } from "../src/shared/rate_limiter.ts";
import { seedMessages } from "./history_seed.ts";
import { ServerProcess, tempDir, TestClient } from "./helpers.ts";

const MISSED = 900;

Deno.test("a client back after 900 messages (far over 64 KiB) gets them all once, in order, by paging at the server's pace", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  const limits = ["--db", db, "--rate", "2", "--burst", "2"];
  let server = await ServerProcess.start(limits);
  let alice: TestClient | undefined;
  try {
    const first = await TestClient.join(server.port, "alice");
    first.client.send({ type: "say", text: "before" });
    const before = await first.client.waitFor((e) =>
      e.type === "msg" && e.text === "before"
    ) as RoomMessage;
    await first.client.close();
    await server.stop();

    const missed = seedMessages(db, "lobby", MISSED);
    server = await ServerProcess.start(limits);
    const { client, welcome } = await TestClient.join(server.port, "alice", {
      since: before.id,
    });
    alice = client;
    assert.equal(welcome.more, true, "the welcome is cut and says so");
    assert.ok(welcome.history.length < MISSED);
    assert.ok(welcome.history.length > 0);
    assert.equal(
      welcome.history.at(-1)?.id,
      missed.at(-1)?.id,
      "the newest are kept",
    );

    // The rest, page by page, newest first, each ending at the first id held.
    const rate = welcome.server.rate!;
    const bucket = new TokenBucket({ rate, burst: welcome.server.burst! });
    let held = welcome.history;
    let pages = 0;
    for (let more = true; more;) {
      while (!bucket.take()) await new Promise((r) => setTimeout(r, 50));
      client.send({
        type: "history",
        room: "lobby",
        after: before.id,
        before: held[0].id,
        limit: 1000,
      });
      const skipped: ServerEvent[] = [];
      const page = await client.waitFor(
        (e) => e.type === "history" || e.type === "error",
        10_000,
        skipped,
      );
      assert.equal(page.type, "history", `refused: ${JSON.stringify(page)}`);
      if (page.type !== "history") break;
      pages++;
      held = [...page.messages, ...held];
      more = page.more;
    }
    assert.ok(pages >= 3, `${pages} pages: each is at most 64 KiB`);
    assert.deepEqual(
      held.map((m) => m.text),
      missed.map((m) => m.text),
      "every missed message once, in order, and nothing before `since`",
    );
    assert.equal(
      client.drainEvents().filter((e) => e.type === "error").length,
      0,
      "a client paging at the server's pace is never refused",
    );
  } finally {
    await alice?.close();
    await server.stop();
    await dir.remove();
  }
});

Deno.test("history pages count against the flood allowance: past the burst, unpaced ones are refused", async () => {
  const server = await ServerProcess.start(["--rate", "1", "--burst", "3"]);
  const { client } = await TestClient.join(server.port, "alice");
  try {
    for (let i = 0; i < 6; i++) client.send({ type: "history", limit: 10 });
    const answers: ServerEvent[] = [];
    while (answers.length < 6) {
      answers.push(
        await client.waitFor((e) => e.type === "history" || e.type === "error"),
      );
    }
    const refused = answers.filter((e) =>
      e.type === "error" && e.code === "rate_limited"
    );
    assert.ok(refused.length >= 2, JSON.stringify(answers));
    assert.ok(answers.filter((e) => e.type === "history").length >= 3);
  } finally {
    await client.close();
    await server.stop();
  }
});
