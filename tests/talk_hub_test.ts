/**
 * Replies, mentions and `@all` in the hub, without sockets: worked out once
 * per message, capped per room and per UTC day.
 */

import assert from "node:assert/strict";
import type { RoomMessage } from "../protocol.ts";
import { Hub, type Session } from "../src/server/hub.ts";
import { MemoryStore } from "../src/server/store.ts";
import { FakeMember } from "./fake_member.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

function setup(maxAtAllPerDay?: number) {
  const store = new MemoryStore();
  let clock = Date.UTC(2026, 11, 1, 23, 0);
  const hub = new Hub({ store, maxAtAllPerDay, now: () => clock });
  const join = (nick: string, room?: string) => {
    const member = new FakeMember();
    const session = hub.hello(member, { nick, room }) as Session;
    member.take();
    return { member, session };
  };
  return {
    hub,
    join,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

Deno.test("one message with mentions and a quote is one Outgoing shared by every member", () => {
  const { hub, join } = setup();
  const alice = join("alice");
  const bob = join("bob");
  const carol = join("carol");
  hub.handle(alice.session, { type: "say", text: "question?" });
  hub.flush();
  const [question] = bob.member.take("msg") as RoomMessage[];
  alice.member.take();
  carol.member.take();
  hub.handle(bob.session, {
    type: "say",
    text: "@ALICE @carol answer",
    reply_to: question.id,
  });
  hub.flush();
  const [reply] = carol.member.take("msg") as RoomMessage[];
  assert.deepEqual(reply.mentions, ["alice", "carol"]);
  assert.deepEqual(reply.quote, {
    id: question.id,
    from: "alice",
    text: "question?",
  });
  assert.equal(
    alice.member.outgoing.at(-1),
    carol.member.outgoing.at(-1),
    "encoded once, not per recipient",
  );
});

Deno.test("a reply to a message queued in the same tick finds it before it is stored", () => {
  const { hub, join } = setup();
  const alice = join("alice");
  const bob = join("bob");
  hub.handle(alice.session, { type: "say", text: "fresh" });
  hub.handle(bob.session, { type: "say", text: "re", reply_to: 1 });
  hub.flush();
  const messages = alice.member.take("msg") as RoomMessage[];
  assert.equal(messages.at(-1)?.quote?.text, "fresh");
});

Deno.test("@all is counted per room and its count starts again on the next UTC day", () => {
  const { hub, join, advance } = setup(1);
  const alice = join("alice");
  hub.handle(alice.session, { type: "say", text: "@all one" });
  hub.flush();
  const [first] = alice.member.take("msg") as RoomMessage[];
  assert.equal(first.all, true);
  hub.handle(alice.session, { type: "say", text: "@all two" });
  const [refused] = alice.member.take("error");
  assert.equal(refused.type === "error" && refused.code, "at_all_limit");
  advance(DAY_MS / 12); // past midnight UTC
  hub.handle(alice.session, { type: "say", text: "@all three" });
  hub.flush();
  const sent = alice.member.take("msg") as RoomMessage[];
  assert.deepEqual(sent.map((m) => [m.text, m.all]), [["@all three", true]]);
});

Deno.test("with --max-at-all-per-day 0 @all is refused, and the message is not sent", () => {
  const { hub, join } = setup(0);
  const alice = join("alice");
  hub.handle(alice.session, { type: "say", text: "@all hello" });
  hub.flush();
  const [refused] = alice.member.take("error");
  assert.equal(refused.type === "error" && refused.code, "at_all_not_allowed");
  assert.deepEqual(alice.member.take("msg"), []);
});
