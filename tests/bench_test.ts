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
