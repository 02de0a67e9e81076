/**
 * The C load generator's WebSocket mode (`bench/loadgen.c --transport ws`),
 * against a small server that does what chat never does: it sends every
 * event in three fragments with a ping between them, and cuts its writes
 * into a few bytes each, so frame headers split across reads. The load
 * generator must count every message exactly once and answer every ping;
 * an answer to its upgrade that is no upgrade must fail it at once, saying
 * what it read.
 */

import assert from "node:assert/strict";
import { loadGenerator } from "../bench/fast_loadgen.ts";
import { which } from "../bench/targets.ts";
import {
  acceptKey,
  encodeFrame,
  MessageReader,
  Opcode,
} from "../src/server/doors/web/websocket.ts";

const ccMissing = (which(Deno.env.get("CC") ?? "cc") ?? which("gcc") ??
    which("clang"))
  ? undefined
  : "no C compiler (cc) on PATH";
if (ccMissing) console.log(`loadgen_websocket_test skipped: ${ccMissing}`);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** How the fake server answers the upgrade. */
type Answer = "upgrade" | "banner" | "wrong accept";

/** A few JSON dialect frames over WebSocket, fragmented and cut small. */
class FragmentingServer {
  #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  #members = new Set<Member>();
  #done: Promise<void>;
  pings = 0;
  pongs = 0;

  constructor(answer: Answer) {
    this.#done = this.#accept(answer);
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  async #accept(answer: Answer): Promise<void> {
    const serving: Promise<void>[] = [];
    for await (const conn of this.#listener) {
      serving.push(this.#serve(conn, answer).catch(() => {}));
    }
    await Promise.all(serving);
  }

  async #serve(conn: Deno.Conn, answer: Answer): Promise<void> {
    const member = new Member(conn);
    try {
      let head = "";
      const buffer = new Uint8Array(4096);
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buffer);
        if (n === null) return;
        head += decoder.decode(buffer.subarray(0, n));
      }
      const key = /^sec-websocket-key: *(\S+)/im.exec(head)?.[1] ?? "";
      if (answer === "banner") {
        await member.writeRaw(
          encoder.encode(
            "Welcome to chat (chat 0.2.0). Please choose a nickname:\n",
          ),
        );
        return;
      }
      const accept = answer === "upgrade"
        ? await acceptKey(key)
        : "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
      await member.writeRaw(encoder.encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      ));
      const reader = new MessageReader({ maxMessageBytes: 1 << 16 });
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) return;
        reader.push(buffer.subarray(0, n), (event) => {
          if (event.kind === "pong") this.pongs++;
          if (event.kind === "text") {
            this.#frame(member, JSON.parse(decoder.decode(event.data)));
          }
        });
      }
    } finally {
      this.#members.delete(member);
      conn.close();
    }
  }

  #frame(
    member: Member,
    frame: { type: string; nick?: string; text?: string },
  ) {
    if (frame.type === "hello") {
      member.nick = String(frame.nick);
      this.#send(member, {
        type: "welcome",
        nick: member.nick,
        room: "bench",
        users: [...this.#members].map((m) => m.nick),
        history: [],
      });
      for (const other of this.#members) {
        this.#send(other, { type: "join", room: "bench", nick: member.nick });
      }
      this.#members.add(member);
    } else if (frame.type === "say") {
      for (const other of this.#members) {
        this.#send(other, {
          type: "msg",
          room: "bench",
          from: member.nick,
          text: String(frame.text),
        });
      }
    }
  }

  /** One event in three fragments, a ping between the second and third. */
  #send(member: Member, event: Record<string, unknown>): void {
    const text = encoder.encode(JSON.stringify(event));
    const a = Math.floor(text.length / 3);
    const b = Math.floor((2 * text.length) / 3);
    this.pings++;
    member.write([
      encodeFrame(Opcode.text, text.subarray(0, a), { fin: false }),
      encodeFrame(Opcode.continuation, text.subarray(a, b), { fin: false }),
      encodeFrame(Opcode.ping, encoder.encode(`p${this.pings}`)),
      encodeFrame(Opcode.continuation, text.subarray(b)),
    ]);
  }

  /** Stops accepting and waits for every connection to end. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#done;
  }
}

/** One connection: its writes in order, cut into a few bytes each. */
class Member {
  nick = "";
  #writing = Promise.resolve();
  constructor(readonly conn: Deno.Conn) {}

  writeRaw(bytes: Uint8Array): Promise<void> {
    return this.#write(bytes, bytes.length);
  }

  write(frames: Uint8Array[]): void {
    for (const frame of frames) {
      this.#writing = this.#writing.then(() => this.#write(frame, 5)).catch(
        () => {},
      );
    }
  }

  async #write(bytes: Uint8Array, piece: number): Promise<void> {
    for (let at = 0; at < bytes.length; at += piece) {
      const part = bytes.subarray(at, Math.min(bytes.length, at + piece));
      let offset = 0;
      while (offset < part.length) {
        offset += await this.conn.write(part.subarray(offset));
      }
    }
  }
}

/** Runs the load generator once against `port`; its JSON line. */
async function runLoadgen(
  port: number,
  extra: string[] = [],
): Promise<Record<string, unknown>> {
  const generator = await loadGenerator("c");
  try {
    assert.equal(generator.kind, "c", generator.description);
    const out = await new Deno.Command(generator.command[0], {
      args: [
        ...generator.command.slice(1),
        "--port",
        String(port),
        "--transport",
        "ws",
        "--clients",
        "3",
        "--senders",
        "1",
        "--rate",
        "20",
        "--seconds",
        "1",
        "--settle-ms",
        "0",
        "--connect-timeout-ms",
        "10000",
        ...extra,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const stdout = decoder.decode(out.stdout).trim();
    assert.equal(out.code, 0, `${stdout}\n${decoder.decode(out.stderr)}`);
    return JSON.parse(stdout.split("\n").at(-1)!);
  } finally {
    await generator.dispose();
  }
}

const skipped = ccMissing ? ` (skipped: ${ccMissing})` : "";

Deno.test({
  name:
    `the load generator over WebSocket counts fragmented events once each and answers every ping${skipped}`,
  ignore: ccMissing !== undefined,
  async fn() {
    const server = new FragmentingServer("upgrade");
    try {
      const result = await runLoadgen(server.port);
      assert.equal(result.ok, true, JSON.stringify(result));
      assert.ok((result.messages as number) > 0, JSON.stringify(result));
      assert.equal(result.expected, (result.messages as number) * 3);
      assert.equal(result.delivered, result.expected);
      assert.equal(result.lost, 0);
      assert.equal(result.disconnects, 0);
      assert.equal(result.joins_announced, result.joins_expected);
    } finally {
      await server.close();
    }
    assert.ok(server.pings > 0);
    assert.equal(server.pongs, server.pings, "every ping answered");
  },
});

Deno.test({
  name:
    `an answer to the upgrade that is no upgrade fails the load generator at once, saying what it read${skipped}`,
  ignore: ccMissing !== undefined,
  async fn() {
    for (
      const [answer, says] of [
        ["banner", "no upgrade, read: Welcome to chat"],
        ["wrong accept", "a wrong Sec-WebSocket-Accept"],
      ] as const
    ) {
      const server = new FragmentingServer(answer);
      try {
        const started = Date.now();
        const result = await runLoadgen(server.port);
        assert.equal(result.ok, false, JSON.stringify(result));
        assert.match(String(result.error), new RegExp(says), answer);
        assert.ok(Date.now() - started < 9000, "failed before the timeout");
      } finally {
        await server.close();
      }
    }
  },
});
