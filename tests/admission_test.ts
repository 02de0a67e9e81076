/**
 * The admission policy alone, with a fake clock and no sockets: per-address
 * caps, connect and hello pacing, the flood allowance that survives a
 * reconnect, password backoff, and what counts as one address.
 */

import assert from "node:assert/strict";
import { isRefusalLine } from "../protocol.ts";
import {
  addressKey,
  Admission,
  type AdmissionOptions,
  COMMAND_COSTS,
  type Refusal,
  Ticket,
} from "../src/server/admission.ts";
import { UdpDoor } from "../src/server/doors/udp_door.ts";
import { Hub } from "../src/server/hub.ts";
import { MemoryStore } from "../src/server/store.ts";
import { ADMISSION_LIMITS } from "../src/shared/limits.ts";

/** A clock the test moves by hand. */
class FakeClock {
  ms = 1_000_000;
  now = () => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

function makeAdmission(
  clock: FakeClock,
  options: Partial<AdmissionOptions> = {},
): Admission {
  return new Admission({
    maxClients: 1000,
    maxPerAddress: 20,
    maxUnauthPerAddress: 10,
    connectsPerSecond: 10,
    hellosPerSecond: 2,
    rate: 5,
    burst: 10,
    now: clock.now,
    ...options,
  });
}

function ticketOf(result: Ticket | Refusal): Ticket {
  if (!(result instanceof Ticket)) {
    assert.fail(`refused: ${result.why}`);
  }
  return result;
}

/** Opens connections from `host` until refused; returns the tickets and the refusal. */
function openUntilRefused(
  admission: Admission,
  host: string,
  limit = 10_000,
): { tickets: Ticket[]; refusal?: Refusal } {
  const tickets: Ticket[] = [];
  for (let i = 0; i < limit; i++) {
    const result = admission.open(host);
    if (!(result instanceof Ticket)) return { tickets, refusal: result };
    tickets.push(result);
  }
  return { tickets };
}

Deno.test("one address gets --max-per-address connections at once; another address still gets in", () => {
  const clock = new FakeClock();
  const admission = makeAdmission(clock, {
    maxUnauthPerAddress: 0,
    connectsPerSecond: 0,
  });
  const { tickets, refusal } = openUntilRefused(admission, "10.0.0.1");
  assert.equal(tickets.length, 20);
  assert.equal(refusal?.reason, "busy");
  assert.match(refusal!.line, /^Sorry, too many connections from your address/);
  ticketOf(admission.open("10.0.0.2"));
  // One leaves: one more may come.
  tickets[0].release();
  tickets[0].release(); // twice is harmless
  ticketOf(admission.open("10.0.0.1"));
  assert.equal(admission.openFrom("10.0.0.1"), 20);
  assert.equal(admission.size, 21);
});

Deno.test("connections still joining are capped per address; a member no longer counts as joining", () => {
  const clock = new FakeClock();
  const admission = makeAdmission(clock, { connectsPerSecond: 0 });
  const { tickets, refusal } = openUntilRefused(admission, "10.0.0.1");
  assert.equal(tickets.length, 10);
  assert.equal(refusal?.reason, "joining");
  for (const ticket of tickets.slice(0, 5)) ticket.admitted();
  const more = openUntilRefused(admission, "10.0.0.1");
  assert.equal(more.tickets.length, 5, "five places freed by admission");
  assert.equal(more.refusal?.reason, "joining");
  // A released joining ticket frees its place too.
  more.tickets[0].release();
  ticketOf(admission.open("10.0.0.1"));
});

Deno.test("new connections per second are paced per address, with a burst of two seconds' worth", () => {
  const clock = new FakeClock();
  const admission = makeAdmission(clock, {
    maxPerAddress: 1000,
    maxUnauthPerAddress: 0,
  });
  const first = openUntilRefused(admission, "10.0.0.1");
  assert.equal(first.tickets.length, 20, "10 a second, burst of 2 s");
  assert.equal(first.refusal?.reason, "too_fast");
  ticketOf(admission.open("10.0.0.2"));
  clock.advance(1000);
  const second = openUntilRefused(admission, "10.0.0.1");
  assert.equal(second.tickets.length, 10, "then 10 a second");
});

Deno.test("every refusal is one line a client recognises as one", () => {
  const clock = new FakeClock();
  const lines = new Set<string>();
  const busy = makeAdmission(clock, { maxPerAddress: 1 });
  busy.open("10.0.0.1");
  lines.add((busy.open("10.0.0.1") as Refusal).line);
  const joining = makeAdmission(clock, { maxUnauthPerAddress: 1 });
  joining.open("10.0.0.1");
  lines.add((joining.open("10.0.0.1") as Refusal).line);
  const fast = makeAdmission(clock, { connectsPerSecond: 1 });
  fast.open("10.0.0.1");
  fast.open("10.0.0.1");
  lines.add((fast.open("10.0.0.1") as Refusal).line);
  const full = makeAdmission(clock, { maxClients: 1 });
  full.open("10.0.0.1");
  lines.add((full.open("10.0.0.2") as Refusal).line);
  assert.equal(lines.size, 4, "four reasons, four wordings");
  for (const line of lines) {
    assert.ok(isRefusalLine(line), line);
    assert.ok(!line.includes("\n"), "one line");
  }
});

Deno.test("the whole server's cap refuses with the 'server full' line", () => {
  const clock = new FakeClock();
  const admission = makeAdmission(clock, { maxClients: 3 });
  for (const host of ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) {
    ticketOf(admission.open(host));
  }
  const refusal = admission.open("10.0.0.4") as Refusal;
  assert.equal(refusal.reason, "full");
  assert.equal(
    refusal.line,
    "Sorry, this server is full (3 clients). Try again later.",
  );
});

Deno.test("--max-per-address 0 turns every per-address limit off", () => {
  const clock = new FakeClock();
  const admission = makeAdmission(clock, { maxPerAddress: 0 });
  const { tickets, refusal } = openUntilRefused(admission, "10.0.0.1", 5000);
  assert.equal(refusal?.reason, "full");
  assert.equal(tickets.length, 1000);
  for (const ticket of tickets) assert.equal(ticket.helloWait(), 0);
});

Deno.test("refusals of one address are logged once a second, counting the rest", () => {
  const clock = new FakeClock();
  const admission = makeAdmission(clock, { maxPerAddress: 1 });
  ticketOf(admission.open("10.0.0.1"));
  const refusals = Array.from(
    { length: 50 },
    () => admission.open("10.0.0.1") as Refusal,
  );
  assert.deepEqual(refusals.filter((r) => r.log).length, 1);
  clock.advance(1000);
  const next = admission.open("10.0.0.1") as Refusal;
  assert.equal(next.log, true);
  assert.equal(next.unlogged, 49);
});

Deno.test("a reconnect starts with the allowance its address's last connection left, not a fresh burst", () => {
  const clock = new FakeClock();
  const admission = makeAdmission(clock);
  let sent = 0;
  // Connect, send as much as allowed, quit: a hundred times in one second.
  for (let loop = 0; loop < 100; loop++) {
    const ticket = admission.open("10.0.0.1");
    if (!(ticket instanceof Ticket)) {
      clock.advance(10);
      continue;
    }
    while (ticket.take(COMMAND_COSTS.say)) sent++;
    ticket.release();
    clock.advance(10);
  }
  // One burst (10) plus 5 a second for the one second the loop ran.
  assert.ok(sent <= 10 + 5 + 1, `${sent} messages in one second`);
  // After the allowance has refilled, a newcomer has the whole burst again.
  clock.advance(2000);
  const later = ticketOf(admission.open("10.0.0.1"));
  let burst = 0;
  while (later.take(COMMAND_COSTS.say)) burst++;
  assert.equal(burst, 10);
});

Deno.test("simultaneous connections of one address each keep their own allowance", () => {
  const clock = new FakeClock();
  const admission = makeAdmission(clock);
  const a = ticketOf(admission.open("10.0.0.1"));
  const b = ticketOf(admission.open("10.0.0.1"));
  while (a.take(1)) { /* a floods */ }
  let fromB = 0;
  while (b.take(1)) fromB++;
  assert.equal(fromB, 10, "b is not punished for a");
});

Deno.test("every command costs something: ping a quarter, quit nothing", () => {
  for (const [name, cost] of Object.entries(COMMAND_COSTS)) {
    if (name === "quit") assert.equal(cost, 0);
    else assert.ok(cost > 0, `${name} is not free`);
  }
  const clock = new FakeClock();
  const ticket = ticketOf(makeAdmission(clock).open("10.0.0.1"));
  let pings = 0;
  while (ticket.take(COMMAND_COSTS.ping)) pings++;
  assert.equal(pings, 40, "a burst of 10 is 40 pings");
});

Deno.test("hellos from one address are paced: a burst, then --hellos-per-second, waiting their turn", () => {
  const clock = new FakeClock();
  const admission = makeAdmission(clock, {
    maxUnauthPerAddress: 0,
    connectsPerSecond: 0,
    maxPerAddress: 100,
  });
  const waits: (number | undefined)[] = [];
  for (let i = 0; i < 31; i++) {
    waits.push(ticketOf(admission.open("10.0.0.1")).helloWait());
  }
  assert.deepEqual(waits.slice(0, ADMISSION_LIMITS.helloBurst), [
    ...new Array(ADMISSION_LIMITS.helloBurst).fill(0),
  ]);
  assert.deepEqual(waits.slice(10, 13), [500, 1000, 1500], "2 a second");
  assert.equal(waits[29], ADMISSION_LIMITS.helloMaxWaitMs);
  assert.equal(
    waits.at(-1),
    undefined,
    "a wait over the bound is refused instead",
  );
  assert.equal(
    ticketOf(admission.open("10.0.0.2")).helloWait(),
    0,
    "another address is not held up",
  );
});

Deno.test("password checks: at most two a second per address, backing off after each wrong one", () => {
  const clock = new FakeClock();
  const admission = makeAdmission(clock, { maxUnauthPerAddress: 0 });
  const guesser = () => ticketOf(admission.open("10.0.0.1"));
  // Simulates a guesser with many connections polling for its turn every
  // 10 ms for 60 s, always wrong; counts the checks it got.
  const checkTimes: number[] = [];
  const start = clock.ms;
  const tickets = Array.from({ length: 10 }, guesser);
  while (clock.ms - start < 60_000) {
    for (const ticket of tickets) {
      if (ticket.passwordWait() === 0) {
        checkTimes.push(clock.ms - start);
        ticket.passwordFailed();
      }
    }
    clock.advance(10);
  }
  const inFirstSecond = checkTimes.filter((t) => t < 1000).length;
  assert.ok(inFirstSecond <= 2, `${inFirstSecond} checks in the first second`);
  for (let i = 0; i + 2 < checkTimes.length; i++) {
    assert.ok(
      checkTimes[i + 2] - checkTimes[i] >= 1000,
      "never more than two in any second",
    );
  }
  // 1 + 1 + 2 + 4 + 8 + 16 + 32 s of backoff: about 7 checks a minute.
  assert.ok(checkTimes.length <= 8, `${checkTimes.length} checks in 60 s`);
  // Another address is not slowed.
  const other = ticketOf(admission.open("10.0.0.2"));
  assert.equal(other.passwordWait(), 0);
});

Deno.test("a right password forgets the wrong ones; so do ten quiet minutes", () => {
  const clock = new FakeClock();
  const admission = makeAdmission(clock);
  const ticket = ticketOf(admission.open("10.0.0.1"));
  /** Waits for the address's turn, then guesses wrong. */
  const guessWrong = () => {
    const wait = ticket.passwordWait();
    if (wait !== 0) {
      clock.advance(wait!);
      assert.equal(ticket.passwordWait(), 0, "the turn has come");
    }
    ticket.passwordFailed();
  };
  for (let i = 0; i < 4; i++) guessWrong();
  assert.equal(ticket.passwordWait(), 8000, "1, 2, 4, then 8 s");
  clock.advance(8000);
  assert.equal(ticket.passwordWait(), 0);
  ticket.passwordSucceeded();
  clock.advance(500);
  assert.equal(ticket.passwordWait(), 0, "back to two a second");
  clock.advance(500);
  for (let i = 0; i < 5; i++) guessWrong();
  assert.equal(
    ticket.passwordWait(),
    undefined,
    "a 16 s wait is over the bound: refused unchecked",
  );
  clock.advance(ADMISSION_LIMITS.passwordForgetMs);
  assert.equal(ticket.passwordWait(), 0);
  ticket.passwordFailed();
  assert.equal(ticket.passwordWait(), 1000, "forgotten: starts at 1 s again");
});

Deno.test("an address is IPv4 itself, an IPv6 /64, or the IPv4 inside a mapped IPv6", () => {
  assert.equal(addressKey("192.168.1.23"), "192.168.1.23");
  assert.equal(addressKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(
    addressKey("2001:DB8:1:2:bbbb:cccc:dddd:eeee"),
    "2001:db8:1:2::/64",
  );
  assert.equal(addressKey("[2001:db8::1]"), "2001:db8:0:0::/64");
  assert.equal(addressKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
  assert.equal(addressKey("::ffff:10.0.0.7"), "10.0.0.7");
  assert.equal(addressKey("::ffff:a00:7"), "10.0.0.7");

  const clock = new FakeClock();
  const admission = makeAdmission(clock, { maxPerAddress: 2 });
  ticketOf(admission.open("2001:db8:1:2::a"));
  ticketOf(admission.open("2001:db8:1:2::b"));
  assert.equal(
    (admission.open("2001:db8:1:2::c") as Refusal).reason,
    "busy",
    "one /64 is one address",
  );
  ticketOf(admission.open("2001:db8:1:3::a"));
});

Deno.test("addresses with nothing left to remember are forgotten as others arrive", () => {
  const clock = new FakeClock();
  const admission = makeAdmission(clock);
  for (let i = 0; i < 1000; i++) {
    const ticket = ticketOf(admission.open(`10.1.${i >> 8}.${i & 255}`));
    ticket.take(1);
    ticket.release();
  }
  assert.equal(admission.trackedAddresses, 1000);
  clock.advance(60_000);
  const live = ticketOf(admission.open("10.9.9.9"));
  for (let i = 0; i < 600; i++) {
    ticketOf(admission.open(`10.2.${i >> 8}.${i & 255}`)).release();
  }
  assert.ok(
    admission.trackedAddresses < 700,
    `${admission.trackedAddresses} remembered`,
  );
  assert.equal(admission.openFrom("10.9.9.9"), 1, "a live address stays");
  live.release();
});

Deno.test("over UDP too: one IP's source ports share its per-address cap, and a rejoin keeps its flood allowance", () => {
  const clock = new FakeClock();
  const admission = makeAdmission(clock, {
    maxPerAddress: 3,
    connectsPerSecond: 0,
  });
  const hub = new Hub({ store: new MemoryStore(), now: clock.now });
  const sent: { text: string; port: number }[] = [];
  const door = new UdpDoor(
    {
      hub,
      rate: 5,
      burst: 10,
      maxMembers: 100,
      admission,
      log: () => {},
      now: clock.now,
    },
    (bytes, port) => sent.push({ text: new TextDecoder().decode(bytes), port }),
  );
  const datagram = (text: string, port: number, address = "127.0.0.1") =>
    door.receive(new TextEncoder().encode(text), address, port);
  for (const port of [5001, 5002, 5003, 5004]) datagram(`p${port}`, port);
  assert.equal(door.size, 3);
  assert.match(sent.at(-1)!.text, /^Sorry, too many connections/);
  datagram("from elsewhere", 6001, "127.0.0.2");
  assert.equal(door.size, 4, "another address still gets in");

  // Port 5001 floods, quits and rejoins: no fresh burst.
  sent.length = 0;
  for (let i = 0; i < 20; i++) datagram(`spam ${i}`, 5001);
  datagram("quit", 5001);
  datagram("p5001", 5001);
  for (let i = 0; i < 20; i++) datagram(`again ${i}`, 5001);
  hub.flush();
  const echoed =
    sent.filter((d) =>
      d.port === 5001 && /^\d\d:\d\d p5001: (spam|again)/.test(d.text)
    ).length;
  assert.equal(echoed, 10, "one burst across the rejoin");
  assert.equal(admission.openFrom("127.0.0.1"), 3);
  door.closeAll("bye");
  assert.equal(admission.size, 0, "every member's place is given back");
});
