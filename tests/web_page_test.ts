/**
 * The web page's pure parts, without a browser: what a typed line sends
 * (the text dialect's commands, as JSON frames), how a conversation shows
 * each message once in id order, and that the page embedded in the server
 * is built from the sources in src/client/web/.
 */

import assert from "node:assert/strict";
import {
  interpretLine,
  type LineContext,
} from "../src/client/web/typed_line.ts";
import {
  Conversation,
  conversationKey,
} from "../src/client/web/conversation.ts";
import { COMMANDS, mayUse } from "../src/shared/commands.ts";
import type { RoomRole } from "../protocol.ts";
import { generate } from "../scripts/build_web.ts";

const inRoom: LineContext = {
  target: { kind: "room", room: "lobby" },
  multiRoom: false,
};
const withBob: LineContext = {
  target: { kind: "dm", nick: "bob" },
  lastPrivateFrom: "bob",
  multiRoom: false,
};

Deno.test("plain text goes to the conversation shown: the room, or the person", () => {
  assert.deepEqual(interpretLine("你好 👋", inRoom), {
    kind: "send",
    frames: [{ type: "say", text: "你好 👋", room: "lobby" }],
  });
  assert.deepEqual(interpretLine("hi bob", withBob), {
    kind: "send",
    frames: [{ type: "dm", to: "bob", text: "hi bob" }],
  });
  assert.deepEqual(interpretLine("//me is not a command", inRoom), {
    kind: "send",
    frames: [{ type: "say", text: "/me is not a command", room: "lobby" }],
  });
});

Deno.test("the text dialect's commands become their JSON frames", () => {
  const frames = (line: string) => {
    const action = interpretLine(line, inRoom);
    return action.kind === "send" ? action.frames : action;
  };
  assert.deepEqual(frames("/nick 小明"), [{ type: "nick", nick: "小明" }]);
  assert.deepEqual(frames("/me waves"), [{
    type: "me",
    text: "waves",
    room: "lobby",
  }]);
  assert.deepEqual(frames("/who"), [{ type: "who", room: "lobby" }]);
  assert.deepEqual(frames("/names"), [{ type: "who", room: "lobby" }]);
  assert.deepEqual(frames("/join class"), [{ type: "join", room: "class" }]);
  assert.deepEqual(frames("/j class"), [{ type: "join", room: "class" }]);
  assert.deepEqual(frames("/rooms"), [{ type: "rooms" }]);
  assert.deepEqual(frames("/quit bye all"), [{
    type: "quit",
    reason: "bye all",
  }]);
  const dm = interpretLine("/msg bob see you at 3", inRoom);
  assert.deepEqual(dm, {
    kind: "send",
    frames: [{ type: "dm", to: "bob", text: "see you at 3" }],
    open: "bob",
  });
  // Every shared command that has a frame is understood.
  // (Some take one word, or one of a few: `/op NICK`, `/muteall on|off`.)
  for (const command of COMMANDS.filter((c) => c.toFrame)) {
    const lines = command.args === "" || command.args.startsWith("[")
      ? [command.name]
      : ["x y", "x", "on"].map((args) => `${command.name} ${args}`);
    const understood = lines.some((line) =>
      interpretLine(line, { ...inRoom, multiRoom: true }).kind === "send"
    );
    assert.ok(understood, command.name);
  }
});

Deno.test("mistakes get the same wording as the text dialect, and nothing is sent", () => {
  assert.deepEqual(interpretLine("/msg bob", inRoom), {
    kind: "error",
    message: "usage: /msg NICK TEXT",
  });
  assert.deepEqual(interpretLine("/nick", inRoom), {
    kind: "error",
    message: "usage: /nick NAME",
  });
  assert.deepEqual(interpretLine("/frobnicate now", inRoom), {
    kind: "error",
    message: "unknown command /frobnicate (try /help)",
  });
  assert.deepEqual(interpretLine("/me waves", withBob), {
    kind: "error",
    message: "/me works in a room",
  });
});

Deno.test("/r answers the last private message; /help and /clear stay in the page", () => {
  assert.deepEqual(interpretLine("/r 好的", withBob), {
    kind: "send",
    frames: [{ type: "dm", to: "bob", text: "好的" }],
    open: "bob",
  });
  assert.equal(interpretLine("/r hi", inRoom).kind, "error");
  assert.equal(interpretLine("/help", inRoom).kind, "help");
  assert.deepEqual(interpretLine("/clear", inRoom), { kind: "clear" });
});

Deno.test("/help lists what your role in the room shown allows, as the server's does", () => {
  const help = (role?: RoomRole) => {
    const action = interpretLine("/help", { ...inRoom, role });
    assert.equal(action.kind, "help");
    return action.kind === "help" ? action.lines : [];
  };
  const lists = (lines: string[], name: string) =>
    lines.some((l) => l.startsWith(`${name} `) || l.startsWith(`${name}:`));
  for (const role of [undefined, "admin", "owner"] as const) {
    const lines = help(role);
    for (const command of COMMANDS) {
      // The server's rule (mayUse), less the text door's own /charset:
      // every command chat connect has, the page carries out too.
      const offered = mayUse(command, role) && command.door === undefined;
      assert.equal(
        lists(lines, command.name),
        offered,
        `${command.name} for ${role ?? "a member"}`,
      );
    }
    assert.ok(lines.some((l) => l.startsWith("//text")));
  }
  // A member sees no moderation; an admin mutes but cannot op; the owner ops.
  assert.ok(!lists(help(), "/mute") && !lists(help(), "/op"));
  assert.ok(lists(help("admin"), "/mute") && !lists(help("admin"), "/op"));
  assert.ok(lists(help("owner"), "/op"));
  assert.match(help("admin")[0], /an admin of lobby/);
  assert.equal(help()[0], "Commands:");
});

Deno.test("a command that acts in a room acts in the one shown, not the server's current one", () => {
  const inClass: LineContext = {
    target: { kind: "room", room: "class" },
    multiRoom: true,
    role: "admin",
  };
  const frames = (line: string) => {
    const action = interpretLine(line, inClass);
    return action.kind === "send" ? action.frames : action;
  };
  assert.deepEqual(frames("/kick bob noisy"), [{
    type: "kick",
    nick: "bob",
    reason: "noisy",
    room: "class",
  }]);
  assert.deepEqual(frames("/mute bob 5m"), [{
    type: "mute",
    nick: "bob",
    seconds: 300,
    room: "class",
  }]);
  assert.deepEqual(frames("/recall 12"), [{
    type: "recall",
    id: 12,
    room: "class",
  }]);
  assert.deepEqual(frames("/notice"), [{ type: "notice", room: "class" }]);
  // Search looks in every room of yours; /nick is server-wide.
  assert.deepEqual(frames("/search 作业"), [{ type: "search", text: "作业" }]);
  assert.deepEqual(frames("/nick 小明"), [{ type: "nick", nick: "小明" }]);
});

Deno.test("/reply answers that person's last message in the room shown", () => {
  const conversation = new Conversation("room", "lobby");
  conversation.noteSender("Bob", 7);
  conversation.noteSender("carol", 8);
  conversation.noteSender("bob", 9);
  // A history page's older message does not displace the newer one.
  conversation.noteSender("bob", 3);
  const context: LineContext = {
    ...inRoom,
    lastMessageOf: (nick) => conversation.lastMessageOf(nick),
  };
  assert.deepEqual(interpretLine("/reply @BOB 你说得对", context), {
    kind: "send",
    frames: [{ type: "say", text: "你说得对", room: "lobby", reply_to: 9 }],
  });
  assert.deepEqual(interpretLine("/reply dave hi", context), {
    kind: "error",
    message: "no message from dave in lobby to reply to yet",
  });
  assert.deepEqual(interpretLine("/reply bob", context), {
    kind: "error",
    message: "usage: /reply NICK TEXT",
  });
  assert.equal(interpretLine("/reply bob hi", withBob).kind, "error");
});

Deno.test("/part leaves a room on a server of several rooms, and says why not on one of one", () => {
  assert.deepEqual(interpretLine("/part", { ...inRoom, multiRoom: true }), {
    kind: "send",
    frames: [{ type: "part", room: "lobby" }],
  });
  assert.deepEqual(
    interpretLine("/leave class", { ...inRoom, multiRoom: true }),
    {
      kind: "send",
      frames: [{ type: "part", room: "class" }],
    },
  );
  const refused = interpretLine("/part", inRoom);
  assert.equal(refused.kind, "error");
  assert.match(
    refused.kind === "error" ? refused.message : "",
    /one room at a time/,
  );
});

Deno.test("a conversation shows each message once, in id order, however it arrives", () => {
  const room = new Conversation("room", "lobby");
  assert.deepEqual(room.place(10, 1000, "live"), { at: "end" });
  assert.deepEqual(room.place(11, 1001, "live"), { at: "end" });
  // A resume or a rejoin replays some of them: shown once.
  assert.deepEqual(room.place(11, 1001, "live"), { at: "duplicate" });
  assert.deepEqual(room.place(10, 1000, "older"), { at: "duplicate" });
  // A history page goes before what is shown, in order.
  assert.deepEqual(room.place(7, 900, "older"), { at: "before", id: 10 });
  assert.deepEqual(room.place(8, 950, "older"), { at: "before", id: 10 });
  assert.deepEqual(room.place(5, 800, "older"), { at: "before", id: 7 });
  assert.equal(room.oldestId, 5);
  assert.equal(room.newestId, 11);
  assert.equal(room.size, 5);
  // Trimming forgets the oldest, so they may come back by scrolling.
  assert.deepEqual(room.trim(2), [5, 7, 8]);
  assert.equal(room.hasOlder, true);
  assert.deepEqual(room.place(7, 900, "older"), { at: "before", id: 10 });
  // A server restarted with an empty store counts from 1 again: new news,
  // not a message already shown (it is known by its id and time).
  assert.deepEqual(room.place(1, 5000, "live"), { at: "end" });
  assert.deepEqual(room.place(1, 5000, "live"), { at: "duplicate" });
});

Deno.test("a conversation keeps its people and their count, big-room summaries included", () => {
  const room = new Conversation("room", "hall");
  room.setUsers(["alice", "bob"]);
  room.addUser("Carol", 3);
  room.addUser("carol");
  assert.deepEqual(room.users, ["alice", "bob", "Carol"]);
  assert.equal(room.renameUser("BOB", "robert"), true);
  assert.equal(room.renameUser("nobody", "x"), false);
  room.removeUser("ALICE", 2);
  assert.deepEqual(room.users, ["robert", "Carol"]);
  // A summary says 140 are here while only some are named.
  room.addUser("dave", 140);
  assert.equal(room.count, 140);
  assert.equal(conversationKey("dm", "Bob"), conversationKey("dm", "bob"));
  assert.notEqual(conversationKey("dm", "bob"), conversationKey("room", "bob"));
});

const bundle = await generate().then(
  (text) => ({ text }),
  (error) => ({ error: String(error).split("\n")[0] }),
);

Deno.test({
  name: "error" in bundle
    ? `the embedded page is built from src/client/web/ (skipped: ${bundle.error})`
    : "the embedded page is built from src/client/web/ (deno task build:web)",
  ignore: "error" in bundle,
  fn: async () => {
    const built = await Deno.readTextFile(
      new URL("../src/server/doors/web/page_bundle.ts", import.meta.url),
    );
    assert.ok(
      "text" in bundle && built === bundle.text,
      "page_bundle.ts is out of date: run deno task build:web",
    );
  },
});

Deno.test("text longer than a message may be is not sent: it stays, with by how much", () => {
  const long = "作".repeat(4001);
  assert.deepEqual(interpretLine(long, inRoom), {
    kind: "too-long",
    text: long,
    problem: "4001 characters, a message holds at most 4000",
  });
  const lines = Array.from({ length: 51 }, (_, i) => `line ${i}`).join("\n");
  assert.deepEqual(interpretLine(`/msg bob ${lines}`, inRoom), {
    kind: "too-long",
    text: lines,
    problem: "51 lines, a message holds at most 50",
  });
  // Exactly at the limits, it goes.
  assert.equal(interpretLine("好".repeat(4000), inRoom).kind, "send");
  assert.equal(interpretLine(`/me ${"x".repeat(4000)}`, inRoom).kind, "send");
});

Deno.test("/send chooses files, /get saves one, /paste-file shares text as a file", () => {
  assert.deepEqual(interpretLine("/send", inRoom), { kind: "attach" });
  assert.equal(interpretLine("/send", withBob).kind, "error");
  assert.deepEqual(interpretLine("/get", inRoom), { kind: "get" });
  assert.deepEqual(interpretLine("/get #k3mh8q2xwp4z", inRoom), {
    kind: "get",
    id: "k3mh8q2xwp4z",
  });
  assert.deepEqual(interpretLine("/paste-file 很长的笔记", inRoom), {
    kind: "paste-file",
    text: "很长的笔记",
    room: "lobby",
  });
  // Alone, it sends the text last refused as too long.
  const refused = "x".repeat(5000);
  assert.deepEqual(
    interpretLine("/paste-file", { ...inRoom, refusedText: refused }),
    { kind: "paste-file", text: refused, room: "lobby" },
  );
  const nothing = interpretLine("/paste-file", inRoom);
  assert.equal(nothing.kind, "error");
  assert.match(nothing.kind === "error" ? nothing.message : "", /usage/);
});
