import assert from "node:assert/strict";
import {
  connectionKey,
  parseTables,
  WaitingBytes,
} from "../src/server/doors/waiting_bytes.ts";

const tcp = (hostname: string, port: number): Deno.NetAddr => ({
  transport: "tcp",
  hostname,
  port,
});

/** Two sockets as Linux writes them: a listener, and one with 35 bytes unread. */
const TABLE = [
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
  "   0: 0100007F:1E61 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 147 1 0 100 0 0 10 0",
  "   1: 0100007F:1E61 0100007F:D431 01 00000000:00000023 00:00000000 00000000     0        0 148 1 0 20 4 30 10 -1",
  "",
].join("\n");

const TABLE6 = [
  "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
  "   0: 00000000000000000000000001000000:1E61 00000000000000000000000001000000:9C40 01 00000000:00000000 00:00000000 00000000     0        0 150 1 0 20 4 30 10 -1",
  "   1: 0000000000000000FFFF00000100007F:1E61 0000000000000000FFFF00000200007F:9C41 01 00000000:00000005 00:00000000 00000000     0        0 151 1 0 20 4 30 10 -1",
].join("\n");

Deno.test("a connection's key is its two ends as /proc/net/tcp writes them", () => {
  assert.equal(
    connectionKey({
      localAddr: tcp("127.0.0.1", 7777),
      remoteAddr: tcp("127.0.0.1", 54321),
    }),
    "0100007F:1E61 0100007F:D431",
  );
  assert.equal(
    connectionKey({
      localAddr: tcp("::1", 7777),
      remoteAddr: tcp("::1", 40000),
    }),
    "00000000000000000000000001000000:1E61 00000000000000000000000001000000:9C40",
  );
  assert.equal(
    connectionKey({
      localAddr: tcp("::ffff:127.0.0.1", 7777),
      remoteAddr: tcp("::ffff:127.0.0.2", 40001),
    }),
    "0000000000000000FFFF00000100007F:1E61 0000000000000000FFFF00000200007F:9C41",
  );
  assert.equal(
    connectionKey({
      localAddr: tcp("fe80::1:2", 1),
      remoteAddr: tcp("2001:db8::ff", 2),
    }),
    "000080FE000000000000000002000100:0001 B80D01200000000000000000FF000000:0002",
  );
  const unix: Deno.Addr = { transport: "unix", path: "/tmp/s" };
  assert.equal(connectionKey({ localAddr: unix, remoteAddr: unix }), undefined);
  assert.equal(
    connectionKey({ localAddr: tcp("nonsense", 1), remoteAddr: tcp("::1", 2) }),
    undefined,
  );
});

Deno.test("the tables give every socket's unread bytes by its two ends", () => {
  const scan = parseTables([TABLE, TABLE6]);
  assert.equal(scan.get("0100007F:1E61 0100007F:D431"), 35);
  assert.equal(scan.get("0100007F:1E61 00000000:0000"), 0);
  assert.equal(
    scan.get(
      "0000000000000000FFFF00000100007F:1E61 0000000000000000FFFF00000200007F:9C41",
    ),
    5,
  );
  assert.equal(scan.size, 4);
});

Deno.test("waiting bytes: true, false, or unknown for a socket the table lacks or a kernel that cannot tell", async () => {
  let reads = 0;
  const kernel = new WaitingBytes(() => {
    reads++;
    return Promise.resolve([TABLE, TABLE6]);
  });
  const ends = (port: number) => ({
    localAddr: tcp("127.0.0.1", 7777),
    remoteAddr: tcp("127.0.0.1", port),
  });
  assert.equal(await kernel.waiting(ends(54321)), true);
  const six = {
    localAddr: tcp("::1", 7777),
    remoteAddr: tcp("::1", 40000),
  };
  assert.equal(await kernel.waiting(six), false);
  assert.equal(await kernel.waiting(ends(1)), undefined);
  // Questions asked together share a scan; one asked during it waits for the next.
  reads = 0;
  await Promise.all([kernel.waiting(ends(1)), kernel.waiting(ends(2))]);
  assert.equal(reads, 1);
  const blind = new WaitingBytes(() => Promise.resolve(undefined));
  assert.equal(await blind.waiting(ends(54321)), undefined);
  assert.equal(await blind.waiting(ends(54321)), undefined);
});
