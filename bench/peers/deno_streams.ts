/**
 * A chat server written the idiomatic Deno way, as a benchmark peer: a Web
 * streams pipeline per connection (bytes → text → lines) and, for every
 * message, an awaited write to each member in turn. It speaks the smallest
 * useful subset of our JSON dialect: `hello` → `welcome` and `join`, `say` →
 * `msg` to everyone (sender included), and `leave`. No storage.
 *
 * Usage: `deno run --allow-net bench/peers/deno_streams.ts PORT` (0 picks one).
 *
 * @module
 */

/** Splits text into lines, the way `@std/streams` `TextLineStream` does. */
class LineSplitStream extends TransformStream<string, string> {
  constructor() {
    let partial = "";
    super({
      transform(chunk, controller) {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) controller.enqueue(line);
      },
    });
  }
}

interface Member {
  nick: string;
  writer: WritableStreamDefaultWriter<Uint8Array>;
}

const encoder = new TextEncoder();
const members = new Set<Member>();
let nextId = 1;

async function broadcast(event: unknown, except?: Member): Promise<void> {
  const bytes = encoder.encode(JSON.stringify(event) + "\n");
  for (const member of members) {
    if (member === except) continue;
    try {
      await member.writer.write(bytes);
    } catch {
      members.delete(member);
    }
  }
}

async function handle(conn: Deno.Conn): Promise<void> {
  const writer = conn.writable.getWriter();
  let member: Member | undefined;
  try {
    await writer.write(encoder.encode("Welcome (deno streams peer)\n"));
    const lines = conn.readable
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(new LineSplitStream());
    for await (const line of lines) {
      let frame;
      try {
        frame = JSON.parse(line);
      } catch {
        continue;
      }
      if (frame.type === "hello" && !member) {
        member = { nick: String(frame.nick), writer };
        members.add(member);
        await writer.write(encoder.encode(
          JSON.stringify({
            type: "welcome",
            nick: member.nick,
            room: "bench",
            users: [...members].map((m) => m.nick),
            history: [],
            server: { name: "deno-streams", version: "0" },
          }) + "\n",
        ));
        await broadcast({
          type: "join",
          ts: Date.now(),
          room: "bench",
          nick: member.nick,
          users: members.size,
        }, member);
      } else if (frame.type === "say" && member) {
        await broadcast({
          type: "msg",
          id: nextId++,
          ts: Date.now(),
          room: "bench",
          from: member.nick,
          text: String(frame.text),
        });
      }
    }
  } catch {
    // The peer went away.
  } finally {
    if (member && members.delete(member)) {
      await broadcast({
        type: "leave",
        ts: Date.now(),
        room: "bench",
        nick: member.nick,
        users: members.size,
      });
    }
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

if (import.meta.main) {
  const listener = Deno.listen({
    hostname: "127.0.0.1",
    port: Number(Deno.args[0] ?? 0),
  });
  console.log(`listening on ${(listener.addr as Deno.NetAddr).port}`);
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
  for await (const conn of listener) handle(conn);
}
