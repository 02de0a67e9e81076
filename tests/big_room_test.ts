import { JSON_LINES } from "../protocol.ts";
import { TEXT_LINES } from "../src/shared/text_dialect.ts";
/**
 * Big rooms and batched fan-out, in the hub without sockets: a big room's
 * joins and leaves are summarised, and a tick's messages reach a member that
 * takes batches as one batch.
 */

import assert from "node:assert/strict";
import { Hub, type Session } from "../src/server/hub.ts";
import { ROOM_LIMITS } from "../src/shared/limits.ts";
import { MemoryStore } from "../src/server/store.ts";
import { renderText } from "../src/shared/text_dialect.ts";
import { BatchMember, FakeMember } from "./fake_member.ts";

function setup() {
  let noticeRequests = 0;
  const hub = new Hub({
    store: new MemoryStore(),
    requestNotices: (delayMs) => {
      assert.equal(delayMs, ROOM_LIMITS.bigRoomNoticeMs);
      noticeRequests++;
    },
  });
  const join = (nick: string, member: FakeMember = new FakeMember()) => {
    const session = hub.hello(member, { nick, room: "hall" });
    assert.equal(typeof session, "object", `${nick} joins`);
    return { member, session: session as Session };
  };
  return { hub, join, noticeRequests: () => noticeRequests };
}

const BIG = ROOM_LIMITS.bigRoomMembers;

Deno.test("up to the big-room size, every join is announced on its own", () => {
  const { join, noticeRequests } = setup();
  const first = join("m0");
  for (let i = 1; i < BIG; i++) join(`m${i}`);
  const joins = first.member.take("join");
  assert.equal(joins.length, BIG - 1);
  assert.deepEqual(joins.at(-1), {
    ...joins.at(-1),
    type: "join",
    nick: `m${BIG - 1}`,
    users: BIG,
  });
  assert.equal(noticeRequests(), 0);
});

Deno.test("in a big room, joins and leaves become one summary each per interval", () => {
  const { hub, join, noticeRequests } = setup();
  const first = join("m0");
  const members = [first];
  for (let i = 1; i < BIG; i++) members.push(join(`m${i}`));
  first.member.take();
  const late = [];
  for (let i = 0; i < 40; i++) late.push(join(`late${i}`));
  hub.leave(members[5].session);
  hub.leave(members[6].session);
  assert.deepEqual(first.member.take(), [], "nothing is announced at once");
  assert.equal(noticeRequests(), 1, "one timer for the interval");
  hub.flushNotices();
  const events = first.member.take();
  assert.equal(events.length, 2);
  const [joined, left] = events;
  assert.equal(joined.type, "join");
  assert.equal(left.type, "leave");
  if (joined.type !== "join" || left.type !== "leave") return;
  assert.equal(joined.nick, "late0");
  assert.equal(joined.others, 39, "40 joins: the first named, 39 counted");
  assert.equal(joined.users, BIG + 40 - 2);
  assert.equal(left.nick, "m5");
  assert.equal(left.others, 1);
  assert.equal(
    renderText(joined).replace(/^\d\d:\d\d /, ""),
    `* late0 and 39 others joined hall (${BIG + 38} here)\n`,
  );
  // A later arrival announces 1 + others = every join exactly once.
  join("later");
  hub.flushNotices();
  const [single] = first.member.take("join");
  assert.equal(single.type === "join" && single.others, undefined);
  assert.equal(noticeRequests(), 2);
});

Deno.test("a tick's room messages reach a batch-taking member as one batch, in order", () => {
  const { hub, join } = setup();
  const alice = join("alice", new BatchMember());
  const bob = join("bob", new BatchMember());
  const plain = join("carol");
  for (const text of ["one", "two", "three"]) {
    hub.handle(alice.session, { type: "say", text });
  }
  hub.handle(bob.session, { type: "say", text: "four" });
  plain.member.take();
  hub.flush();
  const batches = (alice.member as BatchMember).batches;
  assert.equal(batches.length, 1, "one batch for the tick");
  assert.equal((bob.member as BatchMember).batches[0], batches[0], "shared");
  const lines = new TextDecoder().decode(batches[0].bytes(JSON_LINES)).split(
    "\n",
  );
  assert.deepEqual(
    lines.slice(0, -1).map((line) => JSON.parse(line).text),
    ["one", "two", "three", "four"],
  );
  assert.deepEqual(
    plain.member.take("msg").map((e) => e.type === "msg" && e.text),
    ["one", "two", "three", "four"],
    "a member without deliverBatch gets each message",
  );
  assert.match(
    new TextDecoder().decode(batches[0].bytes(TEXT_LINES)),
    /alice: one\n.*alice: two\n.*alice: three\n.*bob: four\n$/s,
  );
});

Deno.test("a welcome's JSON is exactly JSON.stringify of it, through joins, renames and leaves", () => {
  const { hub, join } = setup();
  const people = [join("alice"), join("小明"), join("bob_2"), join("ｚｏë")];
  hub.handle(people[1].session, { type: "nick", nick: "xiaoming" });
  hub.leave(people[2].session);
  hub.handle(people[0].session, { type: "say", text: 'hi "all" \\ ✓' });
  hub.flush();
  const late = join("late");
  for (const out of late.member.outgoing) {
    if (out.event.type !== "welcome") continue;
    assert.equal(
      new TextDecoder().decode(out.bytes(JSON_LINES)),
      JSON.stringify(out.event) + "\n",
    );
    assert.deepEqual(out.event.users, ["alice", "xiaoming", "ｚｏë", "late"]);
    assert.equal(out.event.history.length, 1);
  }
  hub.handle(late.session, { type: "join", room: "hall" });
  const again = late.member.outgoing.at(-1)!;
  assert.equal(again.event.type, "welcome", "re-joining the room re-welcomes");
  assert.equal(
    new TextDecoder().decode(again.bytes(JSON_LINES)),
    JSON.stringify(again.event) + "\n",
  );
});

Deno.test("a welcome's text, from a few names and a head count, is what the whole member list renders to", () => {
  const { hub, join } = setup();
  const check = (member: FakeMember) => {
    const out = member.outgoing.find((o) => o.event.type === "welcome")!;
    const text = new TextDecoder().decode(out.bytes(TEXT_LINES));
    // A copy is rendered from its full `users`, as a client would.
    assert.equal(text, renderText({ ...out.event }));
    return text;
  };
  assert.match(check(join("alice").member), /, alone for now\./);
  const second = join("小明");
  hub.handle(second.session, { type: "say", text: "你好" });
  hub.flush();
  assert.match(check(join("bob").member), /with alice, 小明\.[^]*小明: 你好/);
  for (let i = 0; i < BIG; i++) join(`p${i}`);
  const text = check(join("late").member);
  const shown = ROOM_LIMITS.welcomeNamesShown;
  assert.match(text, new RegExp(`and ${BIG + 3 - shown} others\\.`));
});
