/**
 * The single executable: built with `deno compile` and run for real. Where
 * the runtime base cannot be downloaded, the test says skipped with the reason.
 */

import assert from "node:assert/strict";
import { compile, compileFailure } from "../scripts/compile.ts";
import { tempDir, TEST_ENV, TestClient } from "./helpers.ts";

const dir = await tempDir();
const binary = `${dir.path}/chat`;
const build = await compile(binary);
const skipReason = build.code === 0 ? undefined : compileFailure(build.stderr);
if (skipReason) {
  console.log(`compile_test: skipped: ${skipReason}`);
  await dir.remove();
}

Deno.test({
  name: skipReason
    ? `the compiled binary serves and chats (skipped: ${skipReason})`
    : "the compiled binary serves and chats",
  ignore: skipReason !== undefined,
  fn: async () => {
    try {
      const version = await new Deno.Command(binary, {
        args: ["--version"],
        env: TEST_ENV,
      }).output();
      // A DENORT_BIN mix-up yields the deno CLI itself: it would not print this.
      assert.match(
        new TextDecoder().decode(version.stdout),
        /^chat \d+\.\d+\.\d+\n$/,
      );
      const server = new Deno.Command(binary, {
        args: [
          "serve",
          "--host",
          "127.0.0.1",
          "--port",
          "0",
          "--db",
          `${dir.path}/c.db`,
        ],
        env: TEST_ENV,
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = server.stdout.getReader();
      let text = "";
      const deadline = Date.now() + 10_000;
      while (!/Press Ctrl-C/.test(text) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      const port = Number(text.match(/listening on \S+:(\d+)/)?.[1]);
      try {
        const a = await TestClient.join(port, "alice");
        a.client.send({ type: "say", text: "from the binary" });
        const echo = await a.client.waitFor((e) => e.type === "msg");
        assert.equal(echo.type === "msg" && echo.text, "from the binary");
        await a.client.close();
      } finally {
        server.kill("SIGTERM");
        await reader.cancel();
        await server.status;
      }
    } finally {
      await dir.remove();
    }
  },
});
