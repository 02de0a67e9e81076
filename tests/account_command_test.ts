/**
 * `chat account` as the server machine's owner runs it: from a pipe, and
 * from a terminal in tmux, where the password is typed twice and never
 * shown. Each run is the real `main.ts account` on a real `--db`, and what
 * it made is checked by signing in to a real server on that file.
 */

import assert from "node:assert/strict";
import {
  ROOT,
  runChat,
  ServerProcess,
  tempDir,
  TestClient,
} from "./helpers.ts";
import { has, shellQuote, Tmux, toolMissing } from "./tmux.ts";

const skipReason = await toolMissing(
  "tmux",
  ["-V"],
  ".ci/run installs it with apt",
);
if (skipReason) console.log(`account_command_test: skipped: ${skipReason}`);

Deno.test("chat account add, list, password and remove from a pipe, on the server's --db; bad input is refused with a reason and changes nothing", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  const account = (args: string[], stdin = "") =>
    runChat(["account", ...args, "--db", db], stdin);
  try {
    const none = await account(["list"]);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout.trim(), "no accounts");

    const owner = await account(
      ["add", "olga", "--role", "owner"],
      "olga-pass\n",
    );
    assert.equal(owner.code, 0, owner.stderr);
    assert.equal(owner.stdout.trim(), "added olga (owner)");
    const admin = await account(
      ["add", "adam", "--role", "admin"],
      "adam-pass\n",
    );
    assert.equal(admin.code, 0, admin.stderr);
    const member = await account(["add", "mia"], "mia-pass\n");
    assert.equal(member.stdout.trim(), "added mia (member)");

    // Refusals: each says why, exits non-zero, and adds nothing.
    const refusals: [string[], string, number, RegExp][] = [
      [["add", "OLGA"], "other-pass\n", 1, /OLGA is registered already/],
      [["add", "o1ga"], "other-pass\n", 1, /looks like an account/],
      [["add", "n\u0430talie"], "other-pass\n", 2, /may not mix scripts/],
      [["add", "tim"], "short\n", 1, /at least 6 characters; nothing changed/],
      [["add", "tim"], "", 1, /no password given; nothing changed/],
      [
        ["add", "tim", "--role", "king"],
        "tim-pass\n",
        2,
        /owner, admin or member/,
      ],
      [["remove", "nobody"], "", 1, /nobody is not registered/],
      [["password", "nobody"], "new-pass\n", 1, /nobody is not registered/],
      [["rename", "tim"], "", 2, /unknown account command "rename"/],
    ];
    for (const [args, stdin, code, wording] of refusals) {
      const refused = await account(args, stdin);
      assert.equal(refused.code, code, `${args}: ${refused.stderr}`);
      assert.match(refused.stderr, wording, args.join(" "));
    }
    const listed = await account(["list"]);
    assert.deepEqual(
      listed.stdout.trim().split("\n").map((l) => l.split("\t").slice(0, 2)),
      [["olga", "owner"], ["adam", "admin"], ["mia", "member"]],
    );

    const changed = await account(["password", "mia"], "mia-new-pass\n");
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal(changed.stdout.trim(), "password of mia changed");
    const removed = await account(["remove", "adam"]);
    assert.equal(removed.stdout.trim(), "removed adam");

    // What it made holds on a server over the same file.
    const server = await ServerProcess.start(["--db", db]);
    try {
      const olga = await TestClient.join(server.port, "olga", {
        password: "olga-pass",
      });
      assert.equal(olga.welcome.role, "owner");
      const mia = await TestClient.join(server.port, "mia", {
        password: "mia-new-pass",
      });
      assert.equal(mia.welcome.role, undefined);
      // adam's name is free again, with no password.
      const adam = await TestClient.join(server.port, "adam");
      assert.equal(adam.welcome.nick, "adam");
      await Promise.all([
        olga.client.close(),
        mia.client.close(),
        adam.client.close(),
      ]);
      assert.doesNotMatch(server.log, /olga-pass|mia-new-pass/);
    } finally {
      await server.stop();
    }
  } finally {
    await dir.remove();
  }
});

Deno.test({
  name: skipReason
    ? `chat account add from a terminal asks the password twice without showing it (skipped: ${skipReason})`
    : "chat account add from a terminal asks the password twice without showing it; two that differ change nothing",
  ignore: skipReason !== undefined,
  fn: async () => {
    const dir = await tempDir();
    const db = `${dir.path}/chat.db`;
    const tmux = new Tmux();
    const command = (name: string) =>
      `env DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 sh -c ${
        shellQuote(
          `${
            [
              Deno.execPath(),
              "run",
              "--allow-all",
              `${ROOT}main.ts`,
              "account",
              "add",
              name,
              "--role",
              "owner",
              "--db",
              db,
            ].map(shellQuote).join(" ")
          }; echo "[exited $?]"; sleep 60`,
        )
      }`;
    try {
      await tmux.start("differ", command("olga"), 100, 20);
      await tmux.waitFor("differ", "the question", has("Password for olga:"));
      await tmux.type("differ", "olga-pass");
      await tmux.press("differ", "Enter");
      await tmux.waitFor("differ", "the second question", has("Again:"));
      await tmux.type("differ", "olga-typo");
      await tmux.press("differ", "Enter");
      const differ = await tmux.waitFor("differ", "the end", has("[exited 1]"));
      assert.ok(
        differ.some((r) => r.includes("the two passwords differ")),
        differ.join("\n"),
      );
      assert.ok(
        !differ.some((r) => /olga-pass|olga-typo/.test(r)),
        differ.join("\n"),
      );
      const empty = await runChat(["account", "list", "--db", db]);
      assert.equal(empty.stdout.trim(), "no accounts");

      await tmux.start("same", command("olga"), 100, 20);
      await tmux.waitFor("same", "the question", has("Password for olga:"));
      await tmux.type("same", "olga-pasX");
      await tmux.press("same", "BSpace");
      await tmux.type("same", "s");
      await tmux.press("same", "Enter");
      await tmux.waitFor("same", "the second question", has("Again:"));
      await tmux.type("same", "olga-pass");
      await tmux.press("same", "Enter");
      const same = await tmux.waitFor("same", "the end", has("[exited 0]"));
      assert.ok(
        same.some((r) => r.includes("added olga (owner)")),
        same.join("\n"),
      );
      assert.ok(!same.some((r) => r.includes("olga-pas")), same.join("\n"));
    } finally {
      await tmux.kill();
    }
    const server = await ServerProcess.start(["--db", db]);
    try {
      const olga = await TestClient.join(server.port, "olga", {
        password: "olga-pass",
      });
      assert.equal(olga.welcome.role, "owner");
      await olga.client.close();
    } finally {
      await server.stop();
      await dir.remove();
    }
  },
});
