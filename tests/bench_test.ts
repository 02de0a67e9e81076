/**
 * The benchmark's smoke check: `bench/run.ts --quick` against the real
 * server, short. It asserts that nothing is lost and that every scenario
 * prints one well-formed JSON line; speed is the benchmark's to show, not a
 * test's to assert.
 */

import assert from "node:assert/strict";
import { ROOT, TEST_ENV } from "./helpers.ts";
import { which } from "../bench/targets.ts";

/** The C load generator is built where there is a compiler. */
const expectedLoadgen = which("cc") ? "c" : "deno";

Deno.test("the quick benchmark loses nothing and prints one JSON line per scenario", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      `${ROOT}bench/run.ts`,
      "--quick",
      "--scenarios",
      "a,b,d",
      "--seconds",
      "1",
    ],
    env: TEST_ENV,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const report = `${stdout}\n${new TextDecoder().decode(output.stderr)}`;
  assert.equal(output.code, 0, report);
  const lines = stdout.split("\n").filter((line) => line.startsWith("{"));
  assert.deepEqual(
    lines.map((line) => JSON.parse(line).scenario),
    ["a", "b", "d"],
    report,
  );
  for (const line of lines) {
    const { scenario, results, machine } = JSON.parse(line);
    const chat = results.chat;
    assert.equal(chat.ok, true, `${scenario}: ${line}`);
    assert.equal(chat.lost, 0, `${scenario} lost messages`);
    assert.equal(chat.disconnects, 0, `${scenario} dropped clients`);
    assert.ok(chat.delivered > 0, `${scenario} delivered something`);
    assert.equal(chat.delivered, chat.expected);
    assert.equal(chat.loadgen, expectedLoadgen, "the fast load generator");
    assert.ok(machine.cores >= 1);
  }
  const d = JSON.parse(lines[2]).results;
  assert.equal(d.chat.joins_announced, d.chat.joins_expected);
  // Idle connections are measured in both dialects, beside the floor.
  const text = d["chat-text"];
  assert.equal(text.ok, true, JSON.stringify(text));
  assert.equal(text.joins_announced, text.joins_expected, "text joins");
  assert.equal(text.delivered, text.expected);
  assert.ok(text.delivered > 0);
  assert.equal(d["deno-bare"].connected, d["deno-bare"].clients);
  for (const name of ["chat", "chat-text", "deno-bare"]) {
    assert.equal(typeof d[name].rss_per_conn_kb, "number", name);
  }
});

Deno.test("a slowdown is the share by which today's figure is worse than the baseline's, whichever way is better", async () => {
  const { slowdownPct } = await import("../bench/run.ts");
  assert.equal(slowdownPct(90, 100, true), 10, "10 % fewer deliveries");
  assert.equal(slowdownPct(110, 100, true), -10, "10 % more is better");
  assert.equal(slowdownPct(12, 10, false), 20, "20 % more memory");
  assert.equal(slowdownPct(8, 10, false), -20);
  assert.equal(slowdownPct(0, 0, true), 0);
});

Deno.test("rounds run the targets in a balanced order: each in every position, each right after every other, once", async () => {
  const { balancedOrder } = await import("../bench/run.ts");
  assert.deepEqual(balancedOrder(1, 0), [0]);
  assert.deepEqual([0, 1, 2].map((r) => balancedOrder(2, r)), [
    [0, 1],
    [1, 0],
    [0, 1],
  ]);
  for (let count = 1; count <= 7; count++) {
    const rounds = count % 2 === 0 ? count : 2 * count;
    const rows = Array.from(
      { length: rounds },
      (_, r) => balancedOrder(count, r),
    );
    const positions = new Map<string, number>();
    const successions = new Map<string, number>();
    for (const row of rows) {
      assert.deepEqual(row.toSorted(), [...Array(count).keys()], `${row}`);
      row.forEach((target, at) => {
        const key = `${target}@${at}`;
        positions.set(key, (positions.get(key) ?? 0) + 1);
        if (at > 0) {
          const pair = `${row[at - 1]}>${target}`;
          successions.set(pair, (successions.get(pair) ?? 0) + 1);
        }
      });
    }
    const perPosition = rounds / count;
    assert.equal(positions.size, count * count, `count ${count}`);
    for (const [key, n] of positions) assert.equal(n, perPosition, key);
    assert.equal(successions.size, count * (count - 1), `count ${count}`);
    for (const [pair, n] of successions) assert.equal(n, perPosition, pair);
  }
});

/** Why the baseline cannot be extracted here, or undefined if it can. */
async function noGitCheckout(): Promise<string | undefined> {
  if (!which("git") || !which("tar")) return "git or tar is not on PATH";
  const out = await new Deno.Command("git", {
    args: ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
    cwd: ROOT,
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success ? undefined : "not a git checkout";
}

const noGit = await noGitCheckout();
if (noGit) console.log(`bench --baseline test skipped: ${noGit}`);

Deno.test({
  name:
    "--baseline extracts a revision into a folder of its own, reads its serve flags, and refuses an unknown one",
  ignore: noGit !== undefined,
  async fn() {
    const { extractBaseline } = await import("../bench/targets.ts");
    const baseline = await extractBaseline("HEAD");
    try {
      assert.match(baseline.commit, /^[0-9a-f]{7,}$/);
      assert.ok(
        baseline.flags.has("--max-per-address"),
        [...baseline.flags].join(" "),
      );
      assert.ok(baseline.flags.has("--rate"));
      assert.ok(!baseline.root.startsWith(ROOT), "not inside the checkout");
      await Deno.stat(`${baseline.root}main.ts`);
    } finally {
      await baseline.dispose();
    }
    await assert.rejects(
      () => Deno.stat(baseline.root),
      Deno.errors.NotFound,
      "disposed",
    );
    await assert.rejects(
      () => extractBaseline("no-such-revision-anywhere"),
      /no commit "no-such-revision-anywhere"/,
    );
  },
});

Deno.test("the quick benchmark over IRC: 200 IRC members all get in, every join counted, nothing lost", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      `${ROOT}bench/run.ts`,
      "--quick",
      "--scenarios",
      "d",
      "--targets",
      "chat-irc",
      "--seconds",
      "1",
    ],
    env: TEST_ENV,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const report = `${stdout}\n${new TextDecoder().decode(output.stderr)}`;
  assert.equal(output.code, 0, report);
  const line = stdout.split("\n").find((l) => l.startsWith("{"));
  assert.ok(line, report);
  const irc = JSON.parse(line).results["chat-irc"];
  assert.equal(irc.ok, true, JSON.stringify(irc));
  assert.equal(irc.connected, irc.clients, "none sent to the text door");
  // Past 100 members chat summarises joins in one NOTICE: counted too.
  assert.equal(irc.joins_announced, irc.joins_expected);
  assert.ok(irc.delivered > 0);
  assert.equal(irc.delivered, irc.expected);
});
