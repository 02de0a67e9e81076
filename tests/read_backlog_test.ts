import assert from "node:assert/strict";
import { readOpening } from "../src/server/doors/router.ts";
import { ReadBacklog } from "../src/server/doors/read_backlog.ts";

const REGISTRATION = "NICK alice\r\nUSER alice 0 * :Alice\r\n";

/**
 * A connection whose first bytes were in the kernel all along but whose
 * read is delivered late, as a busy server delivers it: only once `deliver`
 * is called.
 */
function lateConn(text: string) {
  const delivered = Promise.withResolvers<void>();
  return {
    async read(buffer: Uint8Array): Promise<number | null> {
      await delivered.promise;
      const data = new TextEncoder().encode(text);
      buffer.set(data);
      return data.length;
    },
    deliver: () => delivered.resolve(),
  };
}

Deno.test("a client whose bytes are read after the wait ran out, but before the server caught up, goes to its door", async () => {
  const conn = lateConn(REGISTRATION);
  let asked = 0;
  const opening = await readOpening(conn, false, 20, () => {
    asked++;
    // The server catches up with its reads: this peer's bytes come first.
    conn.deliver();
    return new Promise((resolve) => setTimeout(resolve, 50));
  });
  assert.equal(asked, 1);
  assert.equal(opening.door, "irc");
  assert.equal(new TextDecoder().decode(opening.bytes), REGISTRATION);
  assert.equal(opening.pending, undefined);
});

Deno.test("without the check, the same late read was taken for silence (the banner an IRC client got)", async () => {
  const conn = lateConn(REGISTRATION);
  const opening = await readOpening(conn, false, 20);
  assert.equal(opening.door, undefined);
  conn.deliver();
  assert.ok(opening.pending);
  const late = await opening.pending;
  assert.equal(new TextDecoder().decode(late!), REGISTRATION);
});

Deno.test("a peer still silent once the server has caught up is silent", async () => {
  const conn = lateConn(REGISTRATION);
  const started = Date.now();
  const opening = await readOpening(conn, false, 20, () => Promise.resolve());
  assert.ok(Date.now() - started >= 15);
  assert.equal(opening.door, undefined);
  assert.ok(opening.pending, "its read is handed to the text door");
  conn.deliver();
  await opening.pending;
});

Deno.test("the check is not asked while bytes come within the wait", async () => {
  const conn = lateConn("GET / HTTP/1.1\r\n");
  conn.deliver();
  const opening = await readOpening(conn, false, 1000, () => {
    throw new Error("asked");
  });
  assert.equal(opening.door, "http");
});

Deno.test("on an idle server the backlog is caught up at once, and a silent peer's wait ends soon after 200 ms", async () => {
  const backlog = new ReadBacklog();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const [client, conn] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port }),
    listener.accept(),
  ]);
  listener.close();
  try {
    await backlog.caughtUp(); // the loopback pair is open
    const started = performance.now();
    await backlog.caughtUp();
    const roundTrip = performance.now() - started;
    assert.ok(roundTrip < 1000, `caught up only after ${roundTrip} ms`);
    const waitStarted = performance.now();
    const opening = await readOpening(
      conn,
      false,
      200,
      () => backlog.caughtUp(),
    );
    const waited = performance.now() - waitStarted;
    assert.equal(opening.door, undefined);
    assert.ok(waited >= 195, `decided after ${waited} ms`);
    assert.ok(waited < 3000, `decided only after ${waited} ms`);
    client.close();
    assert.equal(await opening.pending, null);
  } finally {
    conn.close();
    await backlog.close();
  }
});

Deno.test("an IRC client's registration read by a real socket reaches the IRC door with the check on", async () => {
  const backlog = new ReadBacklog();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  await client.write(new TextEncoder().encode(REGISTRATION));
  const conn = await listener.accept();
  listener.close();
  try {
    const opening = await readOpening(
      conn,
      false,
      200,
      () => backlog.caughtUp(),
    );
    assert.equal(opening.door, "irc");
  } finally {
    client.close();
    conn.close();
    await backlog.close();
  }
});

Deno.test("callers waiting at once share round trips, and close ends them", async () => {
  const backlog = new ReadBacklog();
  await Promise.all(Array.from({ length: 50 }, () => backlog.caughtUp()));
  await backlog.close();
  // After close: resolves at once, without the pair.
  await backlog.caughtUp();
});
