/**
 * Telnet on one connection, without sockets: what the server answers to the
 * commands real clients send, in what order, and what output looks like.
 */

import assert from "node:assert/strict";
import {
  TelnetSession,
  withCrLf,
} from "../src/server/doors/telnet/telnet_session.ts";
import { TELNET } from "../src/server/doors/telnet/iac_parser.ts";
import { TextCharset } from "../src/server/doors/text_charset.ts";

const { IAC, DO, DONT, WILL, SB, SE, IP, AYT, BRK } = TELNET;
const ECHO = 1;
const SGA = 3;
const TM = 6;
const NAWS = 31;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A session whose output is kept as one list of readable pieces. */
function session(options: { json?: boolean } = {}) {
  let clock = 1_000_000;
  const out: (number[] | string)[] = [];
  const sent: Uint8Array[] = [];
  const lines: string[] = [];
  const plain: Uint8Array[] = [];
  let left = 0;
  let pending: Uint8Array | undefined;
  const charset = new TextCharset((notice) =>
    out.push(`switched ${notice.includes("GB18030") ? "gb18030" : notice}`)
  );
  const telnet: TelnetSession = new TelnetSession({
    charset,
    send: (bytes) => {
      sent.push(bytes);
      out.push(bytes[0] === IAC ? [...bytes] : `echo ${decoder.decode(bytes)}`);
    },
    print: (line) =>
      out.push(
        `print ${decoder.decode(telnet.outgoing(encoder.encode(line + "\n")))}`,
      ),
    line: (text) => lines.push(text),
    tooLong: () => out.push("too long"),
    leave: () => left++,
    mayStart: () => !options.json,
    takePending: () => {
      const taken = pending;
      pending = undefined;
      return taken;
    },
    now: () => clock,
  });
  return {
    telnet,
    out,
    sent,
    lines,
    plain,
    left: () => left,
    setPending: (bytes: Uint8Array) => pending = bytes,
    tick: (ms: number) => clock += ms,
    read: (...bytes: (number | string)[]) => {
      telnet.receive(chunkOf(bytes), (p) => plain.push(p.slice()));
    },
    /**
     * One read as the connection makes it: what comes before telnet begins
     * is the line's start, handed back as the line splitter's pending bytes.
     */
    readAsConnection: (...bytes: (number | string)[]) => {
      telnet.receive(chunkOf(bytes), (before) => pending = before.slice());
    },
  };
}

/** Bytes and strings (UTF-8) as one read. */
function chunkOf(bytes: (number | string)[]): Uint8Array {
  const chunk: number[] = [];
  for (const b of bytes) {
    if (typeof b === "number") chunk.push(b);
    else chunk.push(...encoder.encode(b));
  }
  return new Uint8Array(chunk);
}

Deno.test("nc and tutorial clients: bytes go on untouched, output is unchanged", () => {
  const s = session();
  const chunk = encoder.encode("alice\nhello\n");
  s.telnet.receive(chunk, (p) => assert.equal(p, chunk));
  const output = encoder.encode("12:00 bob: hi\n");
  assert.equal(s.telnet.outgoing(output), output);
  assert.equal(s.telnet.active, false);
  assert.deepEqual(s.out, []);
});

Deno.test("Ctrl-C in line mode: the timing mark is answered first, then the hint; a second Ctrl-C leaves", () => {
  const s = session();
  s.read("alice\r\n");
  assert.equal(
    decoder.decode(s.plain[0]),
    "alice\r\n",
    "before telnet: the usual path",
  );
  s.read(IAC, IP, IAC, DO, TM);
  assert.deepEqual(s.out, [
    [IAC, WILL, TM],
    "print \r\n* Ctrl-C: press it again to leave, or type /quit\r\n",
  ]);
  assert.equal(
    s.telnet.characterMode,
    false,
    "no echo offered to a line-mode client",
  );
  s.read("hello\r\n");
  assert.deepEqual(
    s.lines,
    ["hello"],
    "after telnet, lines come from the editor",
  );
  s.tick(1500);
  s.read(IAC, IP, IAC, DO, TM);
  assert.equal(s.left(), 1);
  assert.deepEqual(
    s.out.slice(-2),
    [[IAC, WILL, TM], "print \r\n"],
    "answered, then a new line, before leaving",
  );
});

Deno.test("a Ctrl-C long after the first one only clears again; BRK counts as Ctrl-C", () => {
  const s = session();
  s.read(IAC, BRK);
  s.tick(5000);
  s.read(IAC, IP);
  assert.equal(s.left(), 0);
  s.tick(100);
  s.read(IAC, IP);
  assert.equal(s.left(), 1);
});

Deno.test("IAC AYT gets a short line", () => {
  const s = session();
  s.read(IAC, AYT);
  assert.deepEqual(s.out, ["print [yes, still here]\r\n"]);
});

Deno.test("PuTTY's opening offers are answered and the server echoes: character mode", () => {
  const s = session();
  // What plink -telnet sends on connect.
  s.read(
    IAC,
    WILL,
    NAWS,
    IAC,
    WILL,
    32,
    IAC,
    WILL,
    24,
    IAC,
    WILL,
    39,
    IAC,
    DO,
    ECHO,
    IAC,
    WILL,
    SGA,
    IAC,
    DO,
    SGA,
  );
  assert.deepEqual(s.out, [
    [IAC, DO, NAWS],
    [IAC, DONT, 32],
    [IAC, DONT, 24],
    [IAC, DONT, 39],
    [IAC, WILL, ECHO],
    // The banner's bare \n left the cursor where it was: back to column 0.
    "echo \r",
    [IAC, DO, SGA],
    [IAC, WILL, SGA],
  ]);
  assert.equal(s.telnet.characterMode, true);
  s.read("bo中");
  s.read(0x7f);
  s.read("b\r\0");
  assert.deepEqual(s.lines, ["bob"]);
  assert.deepEqual(s.out.slice(8), [
    "echo bo中",
    "echo \b\b  \b\b",
    "echo b",
    "echo \r\n",
  ]);
});

Deno.test("a client that negotiates but never asks for echo is offered it (Windows telnet)", () => {
  const s = session();
  s.read(IAC, WILL, NAWS, IAC, WILL, 24);
  assert.deepEqual(s.out, [
    [IAC, DO, NAWS],
    [IAC, DONT, 24],
    [IAC, WILL, SGA],
    [IAC, WILL, ECHO],
  ]);
  assert.equal(s.telnet.characterMode, false, "not until the client agrees");
  s.read(IAC, DO, SGA, IAC, DO, ECHO);
  assert.equal(s.telnet.characterMode, true);
  assert.deepEqual(
    s.out.slice(4),
    ["echo \r"],
    "agreement to our offer is not answered; the echo starts at column 0",
  );
});

Deno.test("`mode character` on Linux telnet: DO SGA, DO ECHO agreed once; the line typed so far is shown; the width is asked for", () => {
  const s = session();
  s.setPending(encoder.encode("ali"));
  s.read(IAC, DO, SGA, IAC, DO, ECHO);
  assert.deepEqual(s.out, [
    [IAC, WILL, SGA],
    [IAC, WILL, ECHO],
    "echo \rali",
    [IAC, DO, NAWS],
  ]);
  s.read("ce\r\0");
  assert.deepEqual(s.lines, ["alice"]);
});

Deno.test("output in character mode goes above the line being typed, in CR LF", () => {
  const s = session();
  s.read(IAC, DO, ECHO, IAC, DO, SGA);
  s.read("半句");
  const out = decoder.decode(
    s.telnet.outgoing(encoder.encode("12:00 bob: hi\n12:01 bob: again\n")),
  );
  assert.equal(out, "\r\x1b[K12:00 bob: hi\r\n12:01 bob: again\r\n半句");
  s.read("\x03");
  assert.equal(
    s.out.at(-2),
    "echo \b\b\b\b    \b\b\b\b",
    "Ctrl-C took the line off",
  );
  assert.equal(
    s.out.at(-1),
    "print * Ctrl-C: press it again to leave, or type /quit\r\n",
  );
});

Deno.test("NAWS tells the width the editor wraps the line at", () => {
  const s = session();
  s.read(IAC, WILL, NAWS, IAC, DO, ECHO, IAC, DO, SGA);
  s.read(IAC, SB, NAWS, 0, 10, 0, 24, IAC, SE);
  s.read("0123456789ab");
  const out = decoder.decode(s.telnet.outgoing(encoder.encode("x\n")));
  assert.equal(out, "\r\x1b[1A\x1b[Jx\r\n0123456789ab");
});

Deno.test("GBK typed in character mode switches the charset, and the echo is GBK", () => {
  const s = session();
  s.read(IAC, DO, ECHO, IAC, DO, SGA);
  s.read(0xc4, 0xe3);
  assert.equal(s.out.at(-2), "switched gb18030");
  assert.deepEqual([...s.sent.at(-1)!], [0xc4, 0xe3], "echoed in GBK");
  s.read(0xba, 0xc3, 0x0d, 0x00);
  assert.deepEqual(s.lines, ["你好"]);
});

Deno.test("a JSON connection never turns telnet, 0xFF or not", () => {
  const s = session({ json: true });
  s.read(IAC, DO, TM);
  assert.equal(s.telnet.active, false);
  assert.deepEqual(s.plain.map((p) => [...p]), [[IAC, DO, TM]]);
  assert.deepEqual(s.out, []);
});

Deno.test("withCrLf writes bare LF as CR LF and leaves CR LF alone", () => {
  assert.equal(
    decoder.decode(withCrLf(encoder.encode("a\nb\r\nc\n"))),
    "a\r\nb\r\nc\r\n",
  );
  const none = encoder.encode("no newline");
  assert.equal(withCrLf(none), none);
});

Deno.test("Linux telnet's stripped bytes: a command inside a character is that character's byte, not a key", () => {
  const s = session();
  // What inetutils telnet sent for "你好 九月" + Enter, in one read: 月 is
  // E6 9C 88, and it took 0x9C for Ctrl-\ (IAC BRK, then DO TIMING-MARK).
  s.readAsConnection("你好 九", 0xe6, IAC, BRK, IAC, DO, TM, 0x88, "\r\n");
  assert.deepEqual(s.lines, ["你好 九月"]);
  assert.deepEqual(
    s.out,
    [[IAC, WILL, TM]],
    "no Ctrl-C hint, the mark answered",
  );
  // The other keys it strips: 0x83 (IP), 0x8F (AO), 0x95 (EL), 0x88 (EC):
  // 胃 is E8 83 83, 䃏 E4 83 8F, 镕 E9 95 95, 興 E8 88 88.
  const { IP: ip, AO, EL, EC } = TELNET;
  s.read(0xe8, IAC, ip, IAC, ip, 0xe4, IAC, ip, IAC, AO, "\r\n");
  s.read(0xe9, IAC, EL, IAC, EL, 0xe8, IAC, EC, IAC, EC, "\r\n");
  // 的 is E7 9A 84: 0x9A is Ctrl-Z to it (IAC SUSP), 0x84 Ctrl-D (IAC EOF).
  const { SUSP, EOF } = TELNET;
  s.read(0xe7, IAC, SUSP, IAC, DO, TM, IAC, EOF, "\r\n");
  assert.deepEqual(s.lines, ["你好 九月", "胃䃏", "镕興", "的"]);
  assert.equal(s.left(), 0);
});

Deno.test("a Ctrl-C between characters is still Ctrl-C", () => {
  const s = session();
  s.read("你好", IAC, IP, IAC, DO, TM);
  assert.deepEqual(s.out, [
    [IAC, WILL, TM],
    "print \r\n* Ctrl-C: press it again to leave, or type /quit\r\n",
  ]);
  s.read("再见\r\n");
  assert.deepEqual(s.lines, ["再见"], "the interrupted line was cleared");
});

Deno.test("telnet may begin with IAC SUSP, EOF or ABORT (Linux telnet's Ctrl-Z, Ctrl-D, Ctrl-\\)", () => {
  // Each stands for the byte its key is with the top bit set.
  const keys = [[TELNET.SUSP, 0x9a], [TELNET.EOF, 0x84], [TELNET.ABORT, 0x9c]];
  for (const [command, byte] of keys) {
    const s = session();
    // 我 and E7 ?? 84 + Enter as inetutils telnet sends it (的 is E7 9A 84).
    s.readAsConnection("我", 0xe7, IAC, command, IAC, DO, TM, 0x84, "\r\n");
    assert.equal(s.telnet.active, true);
    assert.deepEqual(s.lines, [
      "我" + decoder.decode(new Uint8Array([0xe7, byte, 0x84])),
    ]);
    if (command === TELNET.SUSP) assert.deepEqual(s.lines, ["我的"]);
  }
});
