/**
 * The benchmark's smoke check: `bench/run.ts --quick` against the real
 * server, short. It asserts that nothing is lost and that every scenario
 * prints one well-formed JSON line; speed is the benchmark's to show, not a
 * test's to assert.
 */

import assert from "node:assert/strict";
import { ROOT, TEST_ENV } from "./helpers.ts";

Deno.test("the quick benchmark loses nothing and prints one JSON line per scenario", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      `${ROOT}bench/run.ts`,
      "--quick",
      "--targets",
      "chat",
      "--scenarios",
      "a,b,d",
      "--seconds",
      "1",
    ],
    env: TEST_ENV,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
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
    assert.ok(machine.cores >= 1);
  }
  const d = JSON.parse(lines[2]).results.chat;
  assert.equal(d.joins_announced, d.joins_expected, "every join announced");
});
