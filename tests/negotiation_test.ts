/**
 * Telnet option negotiation (RFC 1143's Q method): what is supported is
 * agreed, the rest refused, timing marks answered once per interrupt, and no exchange
 * ever loops.
 */

import assert from "node:assert/strict";
import type { Verb } from "../src/server/doors/telnet/iac_parser.ts";
import {
  type NegotiationPolicy,
  OPTION,
  OptionNegotiator,
  SERVER_POLICY,
  type Side,
} from "../src/server/doors/telnet/negotiation.ts";

function server(policy: NegotiationPolicy = SERVER_POLICY) {
  const sent: string[] = [];
  const changes: string[] = [];
  const q = new OptionNegotiator(policy, {
    send: (verb, option) => sent.push(`${verb} ${option}`),
    changed: (side, option, on) => changes.push(`${side} ${option} ${on}`),
  });
  return { q, sent, changes };
}

Deno.test("echo and go-ahead suppression are agreed to, window size accepted, the rest refused", () => {
  const { q, sent, changes } = server();
  q.receive("DO", OPTION.ECHO);
  q.receive("DO", OPTION.SUPPRESS_GO_AHEAD);
  q.receive("WILL", OPTION.NAWS);
  q.receive("WILL", OPTION.TERMINAL_TYPE);
  q.receive("DO", OPTION.LINEMODE);
  q.receive("WILL", OPTION.LINEMODE);
  q.receive("DO", 200);
  assert.deepEqual(sent, [
    "WILL 1",
    "WILL 3",
    "DO 31",
    "DONT 24",
    "WONT 34",
    "DONT 34",
    "WONT 200",
  ]);
  assert.deepEqual(changes, ["us 1 true", "us 3 true", "him 31 true"]);
  assert.ok(q.enabled("us", OPTION.ECHO) && q.enabled("him", OPTION.NAWS));
  assert.ok(!q.enabled("him", OPTION.TERMINAL_TYPE));
});

Deno.test("a request repeated, or an answer to an answer, gets no second reply", () => {
  const { q, sent } = server();
  q.receive("DO", OPTION.ECHO);
  q.receive("DO", OPTION.ECHO);
  q.receive("WONT", OPTION.TERMINAL_TYPE); // already off: nothing to say
  q.receive("DONT", OPTION.LINEMODE);
  assert.deepEqual(sent, ["WILL 1"]);
  // Our own offer, then the client's agreement: the agreement is not answered.
  q.request("us", OPTION.SUPPRESS_GO_AHEAD, true);
  q.receive("DO", OPTION.SUPPRESS_GO_AHEAD);
  assert.deepEqual(sent, ["WILL 1", "WILL 3"]);
});

Deno.test("DO TIMING-MARK is answered after each interrupt or keys, never becomes a state, and a DO that answers our WILL is not answered", () => {
  const { q, sent, changes } = server();
  // Ctrl-C three times: IAC IP (heard as input), IAC DO TIMING-MARK.
  for (let i = 0; i < 3; i++) {
    q.heardInput();
    q.receive("DO", OPTION.TIMING_MARK);
  }
  q.receive("DONT", OPTION.TIMING_MARK);
  q.heardInput();
  q.receive("DO", OPTION.TIMING_MARK);
  assert.deepEqual(sent, ["WILL 6", "WILL 6", "WILL 6", "WILL 6"]);
  assert.deepEqual(changes, []);
  assert.equal(q.enabled("us", OPTION.TIMING_MARK), false);
  // A client that answers every WILL with DO: its DO after our WILL, with
  // nothing typed between, gets no WILL, or the two would go on for ever.
  for (let i = 0; i < 100; i++) q.receive("DO", OPTION.TIMING_MARK);
  assert.equal(sent.length, 4);
});

Deno.test("an option the client refused is not offered again", () => {
  const { q, sent } = server();
  q.receive("DONT", OPTION.ECHO); // `mode line`: the client says no first
  q.request("us", OPTION.ECHO, true);
  assert.deepEqual(sent, []);
  q.request("us", OPTION.SUPPRESS_GO_AHEAD, true);
  q.receive("DONT", OPTION.SUPPRESS_GO_AHEAD); // refused our offer
  q.request("us", OPTION.SUPPRESS_GO_AHEAD, true);
  assert.deepEqual(sent, ["WILL 3"]);
  assert.equal(q.enabled("us", OPTION.SUPPRESS_GO_AHEAD), false);
});

Deno.test("turning echo off and on again (mode line, mode character) is followed", () => {
  const { q, sent, changes } = server();
  q.receive("DO", OPTION.ECHO);
  q.receive("DONT", OPTION.ECHO);
  q.receive("DO", OPTION.ECHO);
  assert.deepEqual(sent, ["WILL 1", "WONT 1", "WILL 1"]);
  assert.deepEqual(changes, ["us 1 true", "us 1 false", "us 1 true"]);
});

/** Two negotiators wired back to back, counting what crosses. */
function wire(clientPolicy: NegotiationPolicy) {
  const queue: { to: "server" | "client"; verb: Verb; option: number }[] = [];
  let messages = 0;
  const serverSide = new OptionNegotiator(SERVER_POLICY, {
    send: (verb, option) => queue.push({ to: "client", verb, option }),
    changed: () => {},
  });
  const clientSide = new OptionNegotiator(clientPolicy, {
    send: (verb, option) => queue.push({ to: "server", verb, option }),
    changed: () => {},
  });
  const run = () => {
    while (queue.length > 0) {
      const { to, verb, option } = queue.shift()!;
      messages++;
      assert.ok(messages < 1000, "negotiation loops");
      (to === "server" ? serverSide : clientSide).receive(verb, option);
    }
  };
  return { serverSide, clientSide, run, count: () => messages };
}

Deno.test("two ends that disagree on everything settle in a few messages", () => {
  const options = [0, 1, 3, 5, 6, 24, 31, 34, 39, 255];
  // A client that wants everything the server refuses, and the reverse.
  const everything = new Set(options);
  for (
    const clientPolicy of [{ us: everything, him: everything }, {
      us: new Set<number>(),
      him: new Set<number>(),
    }]
  ) {
    const { serverSide, clientSide, run, count } = wire(clientPolicy);
    for (const option of options) {
      for (const side of ["us", "him"] as Side[]) {
        clientSide.request(side, option, true);
        serverSide.request(side, option, true);
        run();
        clientSide.request(side, option, false);
        serverSide.request(side, option, false);
        run();
      }
    }
    // At most one request and one answer per request made above.
    assert.ok(count() <= options.length * 2 * 4 * 2, `${count()} messages`);
    const echo = serverSide.enabled("us", OPTION.ECHO);
    assert.equal(echo, false, "the last requests turned it off");
  }
});

Deno.test("a hostile client flipping an option on every message gets at most one reply per message", () => {
  const { q, sent } = server();
  const verbs: Verb[] = ["DO", "DONT", "WILL", "WONT"];
  let received = 0;
  for (let i = 0; i < 400; i++) {
    q.receive(verbs[i % 4], [OPTION.ECHO, OPTION.NAWS, 77][i % 3]);
    received++;
    if (i % 7 === 0) q.request("us", OPTION.ECHO, i % 2 === 0);
  }
  assert.ok(sent.length <= received + Math.ceil(400 / 7), `${sent.length}`);
});
