/**
 * The single executable: built with `deno compile` and run for real. Where
 * the runtime base cannot be downloaded, the test says skipped with the reason.
 */

import assert from "node:assert/strict";
import { compile, compileFailure } from "../scripts/compile.ts";
import { ServerProcess, tempDir, TEST_ENV, TestClient } from "./helpers.ts";

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
      const server = await ServerProcess.start(["--db", `${dir.path}/c.db`], [
        binary,
      ]);
      try {
        const a = await TestClient.join(server.port, "alice");
        a.client.send({ type: "say", text: "from the binary" });
        const echo = await a.client.waitFor((e) => e.type === "msg");
        assert.equal(echo.type === "msg" && echo.text, "from the binary");
        await a.client.close();
      } finally {
        assert.equal((await server.stop("SIGTERM")).code, 0);
      }
    } finally {
      await dir.remove();
    }
  },
});
