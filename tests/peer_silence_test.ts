import assert from "node:assert/strict";
import { readOpening } from "../src/server/doors/router.ts";
import { PeerSilence } from "../src/server/doors/peer_silence.ts";
import { WaitingBytes } from "../src/server/doors/waiting_bytes.ts";

const REGISTRATION = "NICK alice\r\nUSER alice 0 * :Alice\r\n";

/** Whether this machine's kernel shows sockets' receive queues to us. */
async function kernelTells(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "not Linux: no /proc/net/tcp";
  try {
    await Deno.readTextFile("/proc/net/tcp");
    return undefined;
  } catch (error) {
    return `cannot read /proc/net/tcp: ${error}`;
  }
}
const noKernel = await kernelTells();
if (noKernel) console.log(`skipped: the kernel checks (${noKernel})`);

/**
 * A connection whose first bytes were in the kernel all along but whose
 * read is handed over late, as a busy server hands it over: only once
 * `deliver` is called.
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

/** A real loopback connection: the server's end and the client's. */
async function loopback() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const [client, conn] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port }),
    listener.accept(),
  ]);
  listener.close();
  return {
    client,
    conn,
    close() {
      for (const c of [client, conn]) {
        try {
          c.close();
        } catch {
          // Already closed.
        }
      }
    },
  };
}

Deno.test("a client whose bytes are read after the wait ran out, but before silence was confirmed, goes to its door", async () => {
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
  const late = await opening.pending;
  assert.equal(new TextDecoder().decode(late!), REGISTRATION);
});

Deno.test("a peer still silent once silence is confirmed is silent", async () => {
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

Deno.test({
  name:
    "bytes waiting in the kernel are never taken for silence, however late the server reads them",
  ignore: noKernel !== undefined,
  async fn() {
    const silence = new PeerSilence();
    const pair = await loopback();
    try {
      await pair.client.write(new TextEncoder().encode(REGISTRATION));
      // The server's read is handed over only after 700 ms, as a busy
      // server's was; the kernel holds the bytes meanwhile.
      const late = {
        async read(buffer: Uint8Array) {
          await new Promise((resolve) => setTimeout(resolve, 700));
          return await pair.conn.read(buffer);
        },
      };
      const opening = await readOpening(
        late,
        false,
        20,
        () => silence.confirm(pair.conn),
      );
      assert.equal(opening.door, "irc");
    } finally {
      pair.close();
      await silence.close();
    }
  },
});

Deno.test({
  name: "the kernel says when a peer's bytes wait unread, and when none do",
  ignore: noKernel !== undefined,
  async fn() {
    const kernel = new WaitingBytes();
    const pair = await loopback();
    try {
      assert.equal(await kernel.waiting(pair.conn), false);
      await pair.client.write(new TextEncoder().encode("NICK bob\r\n"));
      assert.equal(await kernel.waiting(pair.conn), true);
      await pair.conn.read(new Uint8Array(64));
      assert.equal(await kernel.waiting(pair.conn), false);
    } finally {
      pair.close();
    }
  },
});

Deno.test("on an idle server a silent peer is confirmed silent soon after the 200 ms wait", async () => {
  const silence = new PeerSilence();
  const pair = await loopback();
  try {
    const started = performance.now();
    const opening = await readOpening(
      pair.conn,
      false,
      200,
      () => silence.confirm(pair.conn),
    );
    const waited = performance.now() - started;
    assert.equal(opening.door, undefined);
    assert.ok(waited >= 195, `decided after ${waited} ms`);
    assert.ok(waited < 3000, `decided only after ${waited} ms`);
    pair.client.close();
    assert.equal(await opening.pending, null);
  } finally {
    pair.close();
    await silence.close();
  }
});

Deno.test("where the kernel cannot tell, round trips confirm silence; they are shared, and close ends them", async () => {
  const silence = new PeerSilence(
    new WaitingBytes(() => Promise.resolve(undefined)),
  );
  const pair = await loopback();
  try {
    await Promise.all(
      Array.from({ length: 50 }, () => silence.confirm(pair.conn)),
    );
    await silence.caughtUp(100);
  } finally {
    pair.close();
    await silence.close();
  }
  // After close: at once, without the pair.
  await silence.caughtUp();
});
