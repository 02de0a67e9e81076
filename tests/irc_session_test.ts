import assert from "node:assert/strict";
import type {
  CommandFrame,
  ErrorCode,
  PinnedNotice,
  RoomRole,
  ServerEvent,
} from "../protocol.ts";
import {
  type IrcPort,
  IrcSession,
} from "../src/server/doors/irc/irc_session.ts";

/** A port that records what the session asked for and wrote. */
class FakePort implements IrcPort {
  readonly serverName = "chat";
  needsPassword = false;
  readonly startedAt = 0;
  taken = new Set<string>();
  written = "";
  frames: CommandFrame[] = [];
  registeredAs: string | undefined;
  quitReason: string | undefined;
  session!: IrcSession;
  /** Events the hub would answer a frame with, synchronously. */
  answer: (frame: CommandFrame) => ServerEvent[] = () => [];

  checkNick(nick: string): ErrorCode | undefined {
    if (!/^[\p{L}\p{N}_-]{1,24}$/u.test(nick)) return "nick_invalid";
    return this.taken.has(nick.toLowerCase()) ? "nick_taken" : undefined;
  }
  checkPassword(given: string | undefined, then: () => void): void {
    if (given === "secret") return then();
    this.write(":chat 464 * :Password incorrect\r\n");
    this.quit("wrong password");
  }
  register(nick: string): void {
    this.registeredAs = nick;
    this.deliver({
      type: "welcome",
      nick,
      room: "lobby",
      users: ["alice", nick],
      history: [{
        type: "msg",
        id: 1,
        ts: 0,
        room: "lobby",
        from: "alice",
        text: "earlier",
      }],
      server: { name: "chat", version: "0" },
    });
  }
  send(frame: CommandFrame): void {
    this.frames.push(frame);
    for (const event of this.answer(frame)) this.deliver(event);
  }
  roomsOf(nick: string): string[] | undefined {
    return nick === "alice" ? ["lobby"] : undefined;
  }
  membersOf(): readonly string[] {
    return ["alice", "bob", "bobby"];
  }
  roles = new Map<string, RoomRole>();
  roleIn(room: string): RoomRole | undefined {
    return this.roles.get(room);
  }
  mutedAll(): boolean {
    return false;
  }
  isRegistered?: (nick: string) => boolean;
  notices = new Map<string, PinnedNotice>();
  noticeOf(room: string): PinnedNotice | undefined {
    return this.notices.get(room);
  }
  away = new Map<string, string>();
  awayOf(nick: string): string | undefined {
    return this.away.get(nick);
  }
  setAway(text: string | undefined): boolean {
    if (text === undefined) this.away.delete(this.session.nick);
    else this.away.set(this.session.nick, text);
    return true;
  }
  counts() {
    return { users: 1, rooms: 1 };
  }
  write(lines: string): void {
    this.written += lines;
  }
  writeAfterPending(lines: string): void {
    this.written += lines;
  }
  quit(reason: string): void {
    this.quitReason = reason;
  }
  deliver(event: ServerEvent): void {
    this.write(this.session.render(event));
  }
  take(): string[] {
    const lines = this.written.split("\r\n").filter((l) => l !== "");
    this.written = "";
    return lines;
  }
}

function start(): { port: FakePort; irc: IrcSession } {
  const port = new FakePort();
  const irc = new IrcSession(port);
  port.session = irc;
  return { port, irc };
}

Deno.test("registration without CAP: 001 to 005, then the lobby's JOIN and NAMES", () => {
  const { port, irc } = start();
  irc.receive("NICK bob");
  irc.receive("USER bob 0 * :Bob");
  assert.equal(port.registeredAs, "bob");
  const lines = port.take();
  const codes = lines.map((l) => l.split(" ")[1]);
  for (
    const code of [
      "001",
      "002",
      "003",
      "004",
      "005",
      "251",
      "375",
      "376",
      "JOIN",
      "353",
      "366",
    ]
  ) {
    assert.ok(codes.includes(code), `${code} in ${codes}`);
  }
  assert.ok(codes.indexOf("001") < codes.indexOf("JOIN"));
  assert.ok(
    lines.some((l) =>
      l.includes("CASEMAPPING=") && l.includes("CHANTYPES=#") &&
      l.includes("NICKLEN=")
    ),
  );
  assert.ok(lines.includes(":chat 353 bob = #lobby :alice bob"));
  const replay = lines.find((l) => l.includes("earlier"))!;
  assert.match(
    replay,
    /^:alice!alice@chat PRIVMSG #lobby :\[\d\d:\d\d\] earlier$/,
    "a replayed message carries no tags for a client that asked for none",
  );
});

Deno.test("CAP negotiation holds registration until CAP END", () => {
  const { port, irc } = start();
  irc.receive("CAP LS 302");
  irc.receive("NICK bob");
  irc.receive("USER bob 0 * :Bob");
  assert.equal(port.registeredAs, undefined);
  irc.receive("CAP REQ :server-time message-tags echo-message batch");
  assert.ok(
    port.take().some((l) => l.includes("ACK") && l.includes("echo-message")),
  );
  irc.receive("CAP REQ :no-such-cap");
  assert.ok(port.take().some((l) => l.includes("NAK")));
  irc.receive("CAP END");
  assert.equal(port.registeredAs, "bob");
  const lines = port.take();
  const batchStart = lines.findIndex((l) => l.includes("BATCH +"));
  assert.ok(batchStart > 0, "history comes as a batch");
  assert.match(
    lines[batchStart + 1],
    /^@batch=\S+;time=1970-01-01T00:00:00.000Z;msgid=1 :alice!alice@chat PRIVMSG #lobby :earlier$/,
  );
});

Deno.test("a taken or invalid nickname gets 433 or 432 and may try again", () => {
  const { port, irc } = start();
  port.taken.add("alice");
  irc.receive("NICK alice");
  assert.match(port.take()[0], /^:chat 433 \* alice :/);
  irc.receive("NICK bad!name");
  assert.match(port.take()[0], /^:chat 432 \* bad!name :/);
  irc.receive("NICK bob");
  irc.receive("USER b 0 * :B");
  assert.equal(port.registeredAs, "bob");
});

Deno.test("a wrong or missing server password is refused with 464", () => {
  const { port, irc } = start();
  port.needsPassword = true;
  irc.receive("PASS nope");
  irc.receive("NICK bob");
  irc.receive("USER b 0 * :B");
  assert.equal(port.registeredAs, undefined);
  assert.equal(port.quitReason, "wrong password");
  const ok = start();
  ok.port.needsPassword = true;
  ok.irc.receive("PASS secret");
  ok.irc.receive("NICK bob");
  ok.irc.receive("USER b 0 * :B");
  assert.equal(ok.port.registeredAs, "bob");
});

function registered(caps = "") {
  const { port, irc } = start();
  if (caps) {
    irc.receive("CAP LS 302");
    irc.receive(`CAP REQ :${caps}`);
  }
  irc.receive("NICK bob");
  irc.receive("USER b 0 * :B");
  if (caps) irc.receive("CAP END");
  port.take();
  return { port, irc };
}

Deno.test("PRIVMSG to a channel is a say in that room; to a nick a private message; ACTION a /me", () => {
  const { port, irc } = registered();
  irc.receive("PRIVMSG #lobby :你好 everyone");
  irc.receive("PRIVMSG alice :psst");
  irc.receive("PRIVMSG #lobby :\x01ACTION waves\x01");
  assert.deepEqual(port.frames, [
    { type: "say", text: "你好 everyone", room: "lobby" },
    { type: "dm", to: "alice", text: "psst" },
    { type: "me", text: "waves", room: "lobby" },
  ]);
});

Deno.test("one's own echo is shown only with echo-message", () => {
  const echo = {
    type: "msg",
    id: 9,
    ts: 0,
    room: "lobby",
    from: "bob",
    text: "hi",
  } as const;
  const plain = registered();
  assert.equal(plain.irc.render(echo), "");
  const tagged = registered("echo-message server-time message-tags");
  assert.equal(
    tagged.irc.render(echo),
    "@time=1970-01-01T00:00:00.000Z;msgid=9 :bob!bob@chat PRIVMSG #lobby :hi\r\n",
  );
});

Deno.test("JOIN of several channels sends one join each; PART leaves just one", () => {
  const { port, irc } = registered();
  port.answer = (frame) =>
    frame.type === "join"
      ? [{
        type: "welcome",
        nick: "bob",
        room: frame.room,
        users: ["bob"],
        history: [],
        server: { name: "chat", version: "0" },
      }]
      : frame.type === "part"
      // The hub answers a part with the rooms left.
      ? [{ type: "part", ts: 1, room: frame.room!, rooms: ["class"] }]
      : [];
  irc.receive("JOIN #class,#games");
  assert.deepEqual(port.frames.map((f) => f.type), ["join", "join"]);
  const joins = port.take().filter((l) => l.includes(" JOIN "));
  assert.deepEqual(joins, [
    ":bob!bob@chat JOIN #class",
    ":bob!bob@chat JOIN #games",
  ]);
  irc.receive("PART #games :bye");
  assert.deepEqual(port.take(), [":bob!bob@chat PART #games :bye"]);
  irc.receive("PART #games");
  assert.match(port.take()[0], / 442 bob #games /);
});

Deno.test("MODE, MODE b, TOPIC and WHOIS get the answers irssi and WeeChat wait for", () => {
  const { port, irc } = registered();
  irc.receive("MODE #lobby");
  irc.receive("MODE #lobby b");
  irc.receive("TOPIC #lobby");
  irc.receive("WHOIS alice");
  irc.receive("WHOIS nobody");
  const codes = port.take().map((l) => l.split(" ")[1]);
  assert.deepEqual(codes, [
    "324",
    "329",
    "368",
    "331",
    "311",
    "319",
    "312",
    "318",
    "401",
    "318",
  ]);
});

Deno.test("a hub error on a channel message names the channel", () => {
  const { port, irc } = registered();
  port.answer = () => [{
    type: "error",
    code: "rate_limited",
    message: "slow down: message not delivered",
  }];
  irc.receive("PRIVMSG #lobby :hi");
  assert.deepEqual(port.take(), [
    ":chat 404 bob #lobby :slow down: message not delivered",
  ]);
});

Deno.test("a rename seen in two shared rooms is shown once", () => {
  const { port, irc } = registered();
  const rename = { type: "nick", ts: 5, old: "alice", new: "ally" } as const;
  port.write(irc.render(rename));
  port.write(irc.render(rename));
  assert.deepEqual(port.take(), [":alice!alice@chat NICK ally"]);
});

Deno.test("MODE changes become the hub's op, deop, ban, unban and muteall; at most 4 a line; unknown modes 472", () => {
  const { port, irc } = registered();
  irc.receive("MODE #lobby +o-o+b-b ivan bob carol dave!*@*");
  assert.deepEqual(port.frames, [
    { type: "op", nick: "ivan", room: "lobby" },
    { type: "deop", nick: "bob", room: "lobby" },
    { type: "ban", nick: "carol", room: "lobby" },
    { type: "unban", nick: "dave", room: "lobby" },
  ]);
  port.frames = [];
  irc.receive("MODE #lobby +mnt-m+b+b+b a b c");
  assert.deepEqual(port.frames, [
    { type: "muteall", on: true, room: "lobby" },
    { type: "muteall", on: false, room: "lobby" },
  ], "n and t change nothing but count; the 5th change on is dropped");
  port.frames = [];
  port.take();
  irc.receive("MODE #lobby +v bob");
  irc.receive("MODE #lobby +b *!*@10.0.0.7");
  irc.receive("MODE #lobby +b *!*bob*@chat");
  assert.deepEqual(port.frames, []);
  const lines = port.take();
  assert.match(lines[0], /^:chat 472 bob v :/);
  assert.match(lines[1], /^:chat NOTICE bob :#lobby: no one here matches/);
  assert.match(lines[2], /^:chat NOTICE bob :#lobby: \S+ matches 2 people/);
  // irssi's /ban alice sends a mask by user and host: it names one member.
  irc.receive("MODE #lobby +b *!*alice@chat");
  assert.deepEqual(port.frames, [{
    type: "ban",
    nick: "alice",
    room: "lobby",
  }]);
});

Deno.test("KICK is the hub's kick, several nicks at once; refusals are 482, 441 and 401 with the server's wording", () => {
  const { port, irc } = registered();
  const refusals: Record<string, ServerEvent> = {
    carol: {
      type: "error",
      code: "not_allowed",
      message: "only the owner and admins of lobby may /kick",
    },
    dave: {
      type: "error",
      code: "no_such_user",
      message: "dave is not in lobby",
    },
    erin: {
      type: "error",
      code: "no_such_user",
      message: "no one is called erin",
    },
  };
  port.answer = (frame) => frame.type === "kick" ? [refusals[frame.nick]] : [];
  irc.receive("KICK #lobby carol,dave,erin :out");
  assert.deepEqual(port.frames, [
    { type: "kick", nick: "carol", reason: "out", room: "lobby" },
    { type: "kick", nick: "dave", reason: "out", room: "lobby" },
    { type: "kick", nick: "erin", reason: "out", room: "lobby" },
  ]);
  assert.deepEqual(port.take(), [
    ":chat 482 bob #lobby :only the owner and admins of lobby may /kick",
    ":chat 441 bob dave #lobby :dave is not in lobby",
    ":chat 401 bob erin :No such nick/channel",
  ]);
  irc.receive("KICK #lobby");
  assert.match(port.take()[0], /^:chat 461 bob KICK /);
});

Deno.test("a ban reads as MODE +b and, for a member in the room, KICK; the one put out may JOIN again", () => {
  const { port, irc } = registered();
  port.answer = (frame) =>
    frame.type === "join"
      ? [{
        type: "welcome",
        nick: "bob",
        room: frame.room,
        users: ["bob"],
        history: [],
        server: { name: "chat", version: "0" },
      }]
      : [];
  irc.receive("JOIN #class");
  port.take();
  port.frames = [];
  const ban: ServerEvent = {
    type: "mod",
    ts: 1,
    room: "lobby",
    action: "ban",
    by: "olga",
    nick: "alice",
    text: "alice was banned by olga",
  };
  // alice is in #lobby (the fake's roomsOf): MODE, then KICK.
  assert.equal(
    irc.render(ban),
    ":olga!olga@chat MODE #lobby +b alice!*@*\r\n" +
      ":olga!olga@chat KICK #lobby alice :alice was banned by olga\r\n",
  );
  assert.equal(
    irc.render({ ...ban, room: "class", action: "unban", text: "" }),
    ":olga!olga@chat MODE #class -b alice!*@*\r\n",
  );
  assert.equal(
    irc.render({ ...ban, action: "muteall", nick: undefined, on: true }),
    ":olga!olga@chat MODE #lobby +m\r\n",
  );
  // bob put out of #class: a later JOIN #class is asked of the hub again.
  assert.equal(
    irc.render({ type: "part", ts: 2, room: "class", rooms: ["lobby"] }),
    "",
  );
  irc.receive("JOIN #class");
  assert.deepEqual(port.frames, [{ type: "join", room: "class" }]);
});

Deno.test("TOPIC with text pins the room's notice; a refusal is 482 with the server's wording", () => {
  const { port, irc } = registered();
  port.answer = () => [{
    type: "error",
    code: "not_allowed",
    message: "only the owner and admins of lobby may /notice",
  }];
  irc.receive("TOPIC #lobby :Exam on Monday");
  assert.deepEqual(port.frames, [{
    type: "notice",
    text: "Exam on Monday",
    room: "lobby",
  }]);
  assert.deepEqual(port.take(), [
    ":chat 482 bob #lobby :only the owner and admins of lobby may /notice",
  ]);
});

Deno.test("001 names the server once, and TOPIC #chan answers the pinned notice with 332 and 333, or 331 when none", () => {
  const { port, irc } = start();
  irc.receive("NICK bob");
  irc.receive("USER bob 0 * :Bob");
  const welcome = port.take().find((l) => l.split(" ")[1] === "001");
  assert.equal(welcome, ":chat 001 bob :Welcome to chat, bob!bob@chat");

  irc.receive("TOPIC #lobby");
  assert.deepEqual(port.take(), [":chat 331 bob #lobby :No topic is set"]);
  port.notices.set("lobby", { text: "Exam on Monday", by: "olga", ts: 5000 });
  irc.receive("TOPIC #lobby");
  assert.deepEqual(port.take(), [
    ":chat 332 bob #lobby :Exam on Monday",
    ":chat 333 bob #lobby olga :5",
  ]);
  irc.receive("TOPIC #elsewhere");
  assert.match(port.take()[0], /^:chat 442 bob #elsewhere /);
  assert.deepEqual(port.frames, [], "a TOPIC query asks the hub nothing");
});

Deno.test("NAMES and WHO mark the room's owner and admins with @", () => {
  const { port, irc } = registered();
  port.answer = () => [{
    type: "who",
    room: "lobby",
    users: ["olga", "bob"],
    total: 2,
    roles: { olga: "owner" },
  }];
  irc.receive("NAMES #lobby");
  assert.deepEqual(port.take(), [
    ":chat 353 bob = #lobby :@olga bob",
    ":chat 366 bob #lobby :End of /NAMES list.",
  ]);
  irc.receive("WHO #lobby");
  assert.deepEqual(port.take(), [
    ":chat 352 bob #lobby olga chat chat olga H@ :0 olga",
    ":chat 352 bob #lobby bob chat chat bob H :0 bob",
    ":chat 315 bob #lobby :End of /WHO list.",
  ]);
});

Deno.test("draft/message-redaction: a recall reads as REDACT to a client that asked for it, as a NOTICE to others; REDACT is the hub's recall", () => {
  const recall: ServerEvent = {
    type: "recall",
    ts: 0,
    room: "lobby",
    id: 42,
    nick: "alice",
    by: "olga",
  };
  const plain = registered();
  plain.port.deliver(recall);
  assert.deepEqual(plain.port.take(), [
    ":chat NOTICE #lobby :olga recalled a message of alice",
  ]);

  const { port, irc } = registered("message-tags draft/message-redaction");
  irc.receive("CAP LS 302");
  assert.match(port.take()[0], / LS :.*\bdraft\/message-redaction\b/);
  port.deliver(recall);
  assert.deepEqual(port.take(), [":olga!olga@chat REDACT #lobby 42"]);

  irc.receive("REDACT #lobby 42 :typo");
  assert.deepEqual(port.frames, [{ type: "recall", id: 42, room: "lobby" }]);
  // The hub's refusals are the spec's FAIL replies, with its wording.
  const refusals: [ErrorCode, string, string][] = [
    [
      "not_allowed",
      "only the owner and admins may recall someone else's message",
      ":chat FAIL REDACT REDACT_FORBIDDEN #lobby 7 :only the owner and admins may recall someone else's message",
    ],
    [
      "recall_expired",
      "a message can be recalled by its sender for 2 minutes only",
      ":chat FAIL REDACT REDACT_WINDOW_EXPIRED #lobby 7 120 :a message can be recalled by its sender for 2 minutes only",
    ],
    [
      "no_such_message",
      "no such message in lobby to recall",
      ":chat FAIL REDACT UNKNOWN_MSGID #lobby 7 :no such message in lobby to recall",
    ],
    [
      "not_in_room",
      "you are not in lobby",
      ":chat FAIL REDACT INVALID_TARGET #lobby :you are not in lobby",
    ],
  ];
  for (const [code, message, line] of refusals) {
    port.answer = () => [{ type: "error", code, message }];
    irc.receive("REDACT #lobby 7");
    assert.deepEqual(port.take(), [line], code);
  }
  port.frames = [];
  irc.receive("REDACT alice 7");
  assert.match(port.take()[0], /^:chat FAIL REDACT INVALID_TARGET alice :/);
  irc.receive("REDACT #lobby abc");
  assert.match(port.take()[0], /^:chat FAIL REDACT UNKNOWN_MSGID #lobby abc :/);
  irc.receive("REDACT #lobby");
  assert.match(port.take()[0], /^:chat 461 bob REDACT /);
  assert.deepEqual(port.frames, [], "none of those reached the hub");
});

Deno.test("a registered nickname without PASS is told at once that its password is needed, as the server password", () => {
  const { port, irc } = start();
  port.isRegistered = (nick: string) => nick === "olga";
  irc.receive("NICK olga");
  irc.receive("USER o 0 * :O");
  assert.deepEqual(port.take(), [
    ":chat 464 olga :olga is a registered nickname: its password is needed, as the server password (PASS)",
  ]);
  assert.equal(port.quitReason, "password needed");
  assert.equal(port.registeredAs, undefined);
});

Deno.test("PING without a token is 409; USER with an empty username or realname is 461; LUSERS counts who is here", () => {
  const { port, irc } = start();
  irc.receive("PING");
  assert.deepEqual(port.take(), [":chat 409 * :No origin specified"]);
  irc.receive("NICK bob");
  irc.receive("USER b 0 * :");
  irc.receive("USER  0 * :B");
  assert.deepEqual(port.take(), [
    ":chat 461 bob USER :Not enough parameters",
    ":chat 461 bob USER :Not enough parameters",
  ]);
  assert.equal(port.registeredAs, undefined);
  irc.receive("USER b 0 * :B");
  assert.equal(port.registeredAs, "bob");
  port.take();
  irc.receive("PING");
  irc.receive("PING :tok");
  irc.receive("LUSERS");
  assert.deepEqual(port.take(), [
    ":chat 409 bob :No origin specified",
    ":chat PONG chat :tok",
    ":chat 251 bob :There are 1 users and 0 invisible on 1 servers",
    ":chat 254 bob 1 :channels formed",
    ":chat 255 bob :I have 1 clients and 0 servers",
    ":chat 265 bob :Current local users 1, max 1",
    ":chat 266 bob :Current global users 1, max 1",
  ]);
});

Deno.test("a NOTICE never draws an automatic reply: no 404, 401, 411 or 412", () => {
  const { port, irc } = registered();
  port.answer = (frame) =>
    frame.type === "dm"
      ? [{ type: "error", code: "no_such_user", message: "nobody is not here" }]
      : [{ type: "error", code: "not_in_room", message: "you are not in x" }];
  irc.receive("NOTICE #x :hello");
  irc.receive("NOTICE nobody :hello");
  irc.receive("NOTICE");
  irc.receive("NOTICE #lobby");
  assert.deepEqual(port.take(), []);
  // A PRIVMSG still gets its answers.
  irc.receive("PRIVMSG nobody :hello");
  irc.receive("PRIVMSG #lobby");
  assert.deepEqual(port.take(), [
    ":chat 401 bob nobody :No such nick/channel",
    ":chat 412 bob :No text to send",
  ]);
});

Deno.test("NAMES and WHO of a channel one is not in end an empty list, without asking the hub", () => {
  const { port, irc } = registered();
  irc.receive("NAMES #elsewhere");
  irc.receive("WHO #elsewhere");
  assert.deepEqual(port.take(), [
    ":chat 366 bob #elsewhere :End of /NAMES list.",
    ":chat 315 bob #elsewhere :End of /WHO list.",
  ]);
  assert.deepEqual(port.frames, []);
});
