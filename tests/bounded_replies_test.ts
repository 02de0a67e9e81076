/**
 * Every reply is bounded, against the real server: a history (in `welcome`
 * or a `history` reply) by bytes as well as by count, with `more` and a way
 * to page; `who` in a big room by names, with the total and a way to page;
 * and hellos asking for a big history all at once do not stall the room.
 */

import assert from "node:assert/strict";
import type { RoomMessage, ServerEvent } from "../protocol.ts";
import { PROTOCOL_LIMITS } from "../src/shared/limits.ts";
import { SqliteStore } from "../src/server/store.ts";
import { ServerProcess, tempDir, TestClient } from "./helpers.ts";
import { joinText, sleep } from "./hostile_helpers.ts";

type History = Extract<ServerEvent, { type: "history" }>;
type Who = Extract<ServerEvent, { type: "who" }>;

const encoder = new TextEncoder();

/** The bytes of messages as JSON lines, as the server measures a history. */
function jsonBytes(messages: RoomMessage[]): number {
  return messages.reduce(
    (sum, m) => sum + encoder.encode(JSON.stringify(m) + "\n").length,
    0,
  );
}

/** A database holding `count` lobby messages of `text`, ids 1 to count. */
async function seededDb(
  count: number,
  text: (id: number) => string,
): Promise<{ db: string; remove: () => Promise<void> }> {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  const store = new SqliteStore(db);
  const messages: RoomMessage[] = [];
  for (let id = 1; id <= count; id++) {
    messages.push({
      type: "msg",
      id,
      ts: Date.now() - count + id,
      room: "lobby",
      from: "old",
      text: text(id),
    });
  }
  store.append(messages);
  store.close();
  return { db, remove: dir.remove };
}

Deno.test("a resume's history is capped in bytes with more, and paging back returns every older message exactly once", async () => {
  // 600 messages of about 6 KB: 3.6 MB after `since: 0`.
  const { db, remove } = await seededDb(
    600,
    (id) => `${id} ${"字".repeat(2000)}`,
  );
  // --rate 0: paging 60 pages at once is more than the flood allowance.
  const server = await ServerProcess.start([
    "--db",
    db,
    "--history",
    "50",
    "--rate",
    "0",
  ]);
  try {
    const { client, welcome } = await TestClient.join(server.port, "alice", {
      since: 0,
    });
    const bytes = jsonBytes(welcome.history);
    assert.ok(
      bytes <= PROTOCOL_LIMITS.maxHistoryBytes,
      `welcome history of ${bytes} bytes`,
    );
    assert.ok(welcome.history.length >= 5, "still a useful page");
    assert.equal(welcome.more, true, "the welcome says there is more");
    assert.equal(welcome.history.at(-1)?.id, 600, "the newest messages");

    // Page back, as a web page scrolling up would, until the start.
    const ids = welcome.history.map((m) => m.id);
    let pages = 0;
    for (let more = true; more; pages++) {
      assert.ok(pages < 200, "paging ends");
      client.send({ type: "history", before: ids[0], limit: 1000 });
      const page = await client.waitFor((e) => e.type === "history") as History;
      assert.ok(jsonBytes(page.messages) <= PROTOCOL_LIMITS.maxHistoryBytes);
      assert.ok(page.messages.every((m) => m.id < ids[0]));
      ids.unshift(...page.messages.map((m) => m.id));
      more = page.more;
    }
    assert.deepEqual(
      ids,
      Array.from({ length: 600 }, (_, i) => i + 1),
      "every message exactly once, in order",
    );
    console.log(
      `  welcome: ${welcome.history.length} messages, ${bytes} bytes; ${pages} more pages`,
    );

    // A resume's gap, paged with after/before: nothing older than since.
    client.send({ type: "history", after: 590, before: 596, limit: 3 });
    const gap = await client.waitFor((e) => e.type === "history") as History;
    assert.deepEqual(gap.messages.map((m) => m.id), [593, 594, 595]);
    assert.equal(gap.more, true, "591 and 592 are left");

    // A plain welcome keeps --history by count, under the same byte cap.
    const late = await TestClient.join(server.port, "late");
    assert.ok(late.welcome.history.length <= 50);
    assert.ok(
      jsonBytes(late.welcome.history) <= PROTOCOL_LIMITS.maxHistoryBytes,
    );
    assert.equal(late.welcome.more, true);
    await late.client.close();

    client.send({ type: "history", room: "games" });
    const refused = await client.waitFor((e) => e.type === "error");
    assert.equal(refused.type === "error" && refused.code, "not_in_room");
    await client.close();
  } finally {
    await server.stop();
    await remove();
  }
});

Deno.test("on nc a cut welcome says older messages were left out and /history shows them, page by page, each once", async () => {
  const { db, remove } = await seededDb(120, (id) => `m${id}`);
  const server = await ServerProcess.start(["--db", db]);
  const bob = await joinText(server.port, "bob");
  /** The message numbers read up to (and with) the line that holds `end`. */
  const readUntil = async (end: string) => {
    const numbers: number[] = [];
    for (;;) {
      const line = await bob.nextLine();
      const match = /^\d\d:\d\d old: m(\d+)$/.exec(line);
      if (match) numbers.push(Number(match[1]));
      if (line.includes(end)) return { numbers, line };
    }
  };
  const ids = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => from + i);
  try {
    const welcome = await readUntil("left out");
    assert.deepEqual(welcome.numbers, ids(71, 120), "the last 50 (--history)");
    assert.equal(
      welcome.line,
      "* Older messages were left out: /history shows the ones before.",
    );
    bob.write("/history\n");
    assert.equal(await bob.nextLine(), "* Earlier messages in lobby:");
    assert.deepEqual((await readUntil("left out")).numbers, ids(21, 70));
    bob.write("/history 100\n");
    assert.equal(await bob.nextLine(), "* Earlier messages in lobby:");
    const last = [];
    for (let i = 0; i < 20; i++) last.push(await bob.nextLine());
    assert.deepEqual(
      last.map((l) => Number(/m(\d+)$/.exec(l)?.[1])),
      ids(1, 20),
    );
    bob.write("/history\n");
    assert.equal(
      await bob.nextLine(),
      "* No earlier messages in lobby.",
      "the start: no line says more were left out",
    );
    bob.write("/history lots\n");
    assert.match(await bob.nextLine(), /usage: \/history \[COUNT\]/);
  } finally {
    await bob.close();
    await server.stop();
    await remove();
  }
});

Deno.test("who in a big room names at most 200 with the total and pages; the text dialect says how many more", async () => {
  // 230 connections from one address.
  const server = await ServerProcess.start(["--max-per-address", "0"]);
  const clients: TestClient[] = [];
  try {
    const members = 230;
    for (let i = 0; i < members - 1; i++) {
      clients.push((await TestClient.join(server.port, `m${i}`)).client);
    }
    const bob = await joinText(server.port, "bob");
    clients.push(bob);
    const asker = clients[0];
    const names: string[] = [];
    let offset: number | undefined = 0;
    for (let pages = 0; offset !== undefined; pages++) {
      assert.ok(pages < 5, "paging ends");
      asker.send({ type: "who", offset });
      const who = await asker.waitFor((e) => e.type === "who") as Who;
      assert.ok(who.users.length <= PROTOCOL_LIMITS.maxWhoNames);
      assert.equal(who.total, members);
      names.push(...who.users);
      offset = who.next;
    }
    assert.equal(names.length, members);
    assert.equal(new Set(names).size, members, "each member exactly once");

    bob.write("/who\n");
    const line = await bob.waitForLine("* In lobby");
    assert.match(line, /^\* In lobby \(230\): m0, m1, /);
    assert.match(line, / and 30 more \(\/who 200 for the next\)$/);
    assert.equal(line.split(", ").length, 200, "200 names on the line");
    bob.write("/who 200\n");
    const rest = await bob.waitForLine("* In lobby");
    assert.match(rest, /^\* In lobby \(230\): m200, .*, bob$/);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.stop();
  }
});

Deno.test("twenty hellos a second asking for everything in a 16 MB history do not stall other members' echoes", async () => {
  // 4,000 messages of 4,000 characters: 16 MB of history.
  const { db, remove } = await seededDb(
    4000,
    (id) => `${id} ${"h".repeat(4000)}`,
  );
  // --max-per-address 0: every hello is admitted, so each one's history is
  // built (the per-address hello pacing would refuse most of them).
  const server = await ServerProcess.start([
    "--db",
    db,
    "--rate",
    "0",
    "--max-per-address",
    "0",
  ]);
  const greedy: Deno.Conn[] = [];
  try {
    const alice = await TestClient.join(server.port, "alice");
    let flooding = true;
    // Twenty hellos with since: 0 a second, from connections that never
    // read their welcome.
    const flood = (async () => {
      for (let i = 0; flooding; i++) {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: server.port,
        });
        greedy.push(conn);
        await conn.write(
          encoder.encode(
            JSON.stringify({ type: "hello", nick: `greedy${i}`, since: 0 }) +
              "\n",
          ),
        );
        await sleep(50);
      }
    })();
    await sleep(300);
    const echoMs: number[] = [];
    for (let i = 0; i < 30; i++) {
      const sent = performance.now();
      alice.client.send({ type: "say", text: `ping ${i}` });
      await alice.client.waitFor(
        (e) => e.type === "msg" && e.text === `ping ${i}`,
        10_000,
      );
      echoMs.push(performance.now() - sent);
      await sleep(50);
    }
    flooding = false;
    await flood;
    const worst = Math.max(...echoMs);
    console.log(
      `  ${greedy.length} greedy hellos; alice's echoes: median ${
        echoMs.sort((a, b) => a - b)[15].toFixed(0)
      } ms, worst ${worst.toFixed(0)} ms`,
    );
    // Generous for a shared 2-core machine; before, echoes took seconds.
    assert.ok(worst < 1000, `worst echo ${worst.toFixed(0)} ms`);
    await alice.client.close();
  } finally {
    for (const conn of greedy) conn.close();
    await server.stop();
    await remove();
  }
});
