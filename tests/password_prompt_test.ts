/**
 * `chat connect --nick NAME` for a registered nickname, without
 * `--password`: on a terminal (tmux, full screen and `TERM=dumb`) it asks
 * for the password without showing it and joins; in pipe mode it says the
 * nickname is registered and how to give the password, and
 * `CHAT_PASSWORD` gives it. Where tmux is missing the terminal part says
 * skipped.
 */

import assert from "node:assert/strict";
import { ROOT, runChat, ServerProcess, TestClient } from "./helpers.ts";
import { has, shellQuote, Tmux, toolMissing } from "./tmux.ts";

const skipReason = await toolMissing(
  "tmux",
  ["-V"],
  ".ci/run installs it with apt",
);
if (skipReason) console.log(`password_prompt_test: skipped: ${skipReason}`);

/** A server where `alice` is registered with `alice-pass`. */
async function serverWithAlice(): Promise<ServerProcess> {
  const server = await ServerProcess.start(["--rate", "0"]);
  const alice = await TestClient.join(server.port, "alice");
  alice.client.send({ type: "register", password: "alice-pass" });
  await alice.client.waitFor((e) => e.type === "info");
  alice.client.send({ type: "quit" });
  await alice.client.waitClosed();
  await alice.client.close();
  return server;
}

function chatCommand(port: number, term: string): string {
  const chat = [
    Deno.execPath(),
    "run",
    "--allow-all",
    `${ROOT}main.ts`,
    "connect",
    `127.0.0.1:${port}`,
    "--nick",
    "alice",
  ].map(shellQuote).join(" ");
  return `env DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 LANG=C.UTF-8 TERM=${term} sh -c ${
    shellQuote(`${chat}; echo "[exited $?]"; sleep 60`)
  }`;
}

Deno.test("pipe mode: a registered nickname without --password says so and how to give it; CHAT_PASSWORD gives it", async () => {
  const server = await serverWithAlice();
  try {
    const target = `127.0.0.1:${server.port}`;
    const refused = await runChat(
      ["connect", target, "--nick", "alice"],
      "hello\n",
    );
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr.trim(),
      "chat: alice is a registered nickname: its password is needed; give it with --password PW or in the CHAT_PASSWORD variable",
    );
    const joined = await runChat(
      ["connect", target, "--nick", "alice"],
      "from the environment\n",
      30_000,
      { CHAT_PASSWORD: "alice-pass" },
    );
    assert.equal(joined.code, 0, joined.stderr);
    assert.match(joined.stdout, /alice: from the environment/);
    assert.doesNotMatch(server.log, /wrong password/);
  } finally {
    await server.stop();
  }
});

Deno.test({
  name: skipReason
    ? `chat connect asks a registered nickname's password without showing it (skipped: ${skipReason})`
    : "chat connect asks a registered nickname's password without showing it, asks again after a wrong one, and joins; TERM=dumb too",
  ignore: skipReason !== undefined,
  fn: async () => {
    const server = await serverWithAlice();
    const tmux = new Tmux();
    try {
      await tmux.start(
        "full",
        chatCommand(server.port, "xterm-256color"),
        100,
        30,
      );
      await tmux.waitFor(
        "full",
        "the password question",
        has("Type the password for alice"),
      );
      const asked = await tmux.screen("full");
      assert.ok(
        asked.some((row) =>
          row.includes("alice is a registered nickname: its password is needed")
        ),
        asked.join("\n"),
      );
      await tmux.type("full", "not-her-pass");
      const typing = await tmux.waitFor(
        "full",
        "the prompt",
        has("password>"),
      );
      assert.ok(
        !typing.some((row) => row.includes("not-her-pass")),
        typing.join("\n"),
      );
      await tmux.press("full", "Enter");
      await tmux.waitFor("full", "the refusal", has("! wrong password"));
      await tmux.waitFor(
        "full",
        "the second question",
        (rows) =>
          rows.filter((r) => r.includes("Type the password for alice"))
            .length === 2,
      );
      await tmux.type("full", "alice-pass");
      await tmux.press("full", "Enter");
      const joined = await tmux.waitFor(
        "full",
        "the welcome",
        has("Welcome, alice!"),
      );
      assert.ok(
        !joined.some((row) =>
          row.includes("alice-pass") || row.includes("not-her-pass")
        ),
        joined.join("\n"),
      );
      await tmux.type("full", "/quit");
      await tmux.press("full", "Enter");
      await tmux.waitFor("full", "the exit", has("[exited 0]"));

      // A terminal that cannot move its cursor: the same, on plain lines.
      await tmux.start("dumb", chatCommand(server.port, "dumb"), 100, 30);
      await tmux.waitFor(
        "dumb",
        "the plain question",
        has("Password for alice (not shown):"),
      );
      await tmux.type("dumb", "alice-pasX");
      await tmux.press("dumb", "BSpace");
      await tmux.type("dumb", "s");
      await tmux.press("dumb", "Enter");
      const plain = await tmux.waitFor(
        "dumb",
        "the plain welcome",
        has("Welcome, alice!"),
      );
      assert.ok(
        !plain.some((row) => row.includes("alice-pas")),
        plain.join("\n"),
      );
      await tmux.type("dumb", "typed after the password");
      await tmux.press("dumb", "Enter");
      await tmux.waitFor(
        "dumb",
        "echo on again",
        has("typed after the password"),
      );
      await tmux.type("dumb", "/quit");
      await tmux.press("dumb", "Enter");
      await tmux.waitFor("dumb", "the plain exit", has("[exited 0]"));
    } finally {
      await tmux.kill();
      await server.stop();
    }
  },
});
