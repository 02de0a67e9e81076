/**
 * The floor for memory per connection in Deno: a server that only accepts
 * and reads. Each connection holds what any Deno server must (its `TcpConn`
 * and one pending read into a small buffer) and nothing else: what chat
 * spends per connection beyond this is chat's own. Its first
 * bytes get one `welcome` line, so the load generator knows it is in. It
 * sends nothing else: in scenario (d) it is measured connected and idle.
 *
 * Usage: `deno run --allow-net bench/peers/deno_bare.ts PORT [READ_BYTES]`
 * (port 0 picks one; READ_BYTES defaults to 256, chat's first read buffer).
 *
 * @module
 */

const WELCOME = new TextEncoder().encode('{"type":"welcome"}\n');

async function handle(conn: Deno.Conn, readBytes: number): Promise<void> {
  const buffer = new Uint8Array(readBytes);
  let welcomed = false;
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      if (!welcomed) {
        welcomed = true;
        await conn.write(WELCOME);
      }
    }
  } catch {
    // The peer went away.
  } finally {
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
  const readBytes = Number(Deno.args[1] ?? 256);
  console.log(`listening on ${(listener.addr as Deno.NetAddr).port}`);
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
  for await (const conn of listener) handle(conn, readBytes);
}
