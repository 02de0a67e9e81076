/**
 * Files in `chat connect`, in a real terminal (tmux): `/send PATH` shares a
 * picture, `/get ID` saves a shared PDF into the current folder without
 * overwriting what is there, and a 10,000-character paste that is refused
 * as a message reaches the room whole as a text file (Ctrl-S). Where tmux
 * is missing the test says skipped.
 */

import assert from "node:assert/strict";
import type { RoomMessage, ServerEvent } from "../protocol.ts";
import { ROOT, ServerProcess, tempDir, TestClient } from "./helpers.ts";
import { get, pdfBytes, pngBytes, sha256, shareBytes } from "./file_helpers.ts";
import { has, shellQuote, Tmux, toolMissing } from "./tmux.ts";

const WIDTH = 110;
const HEIGHT = 30;

const skipReason = await toolMissing(
  "tmux",
  ["-V"],
  ".ci/run installs it with apt",
);
if (skipReason) {
  console.log(`files_terminal_e2e_test: skipped: ${skipReason}`);
}

const isFileMessage = (e: ServerEvent) =>
  e.type === "msg" && e.file !== undefined;

Deno.test({
  name: skipReason
    ? `chat connect in tmux: /send, /get, a long paste as a file (skipped: ${skipReason})`
    : "chat connect in tmux: /send shares a picture byte for byte, /get saves a PDF beside an older one without overwriting it, and a 10,000-character paste reaches the room as a file with nothing lost",
  ignore: skipReason !== undefined,
  fn: async () => {
    const dir = await tempDir();
    const server = await ServerProcess.start([
      "--db",
      `${dir.path}/chat.db`,
      "--rate",
      "0",
    ]);
    const tmux = new Tmux();
    const bob = await TestClient.join(server.port, "bob");
    try {
      const home = `${dir.path}/alice`;
      await Deno.mkdir(home);
      const photo = pngBytes(200_000);
      await Deno.writeFile(`${home}/my photo.png`, photo);
      const older = new TextEncoder().encode("alice's own notes, not bob's");
      await Deno.writeFile(`${home}/notes.pdf`, older);
      const chat = [
        Deno.execPath(),
        "run",
        "--allow-all",
        `${ROOT}main.ts`,
        "connect",
        `127.0.0.1:${server.port}`,
        "--nick",
        "alice",
      ].map(shellQuote).join(" ");
      await tmux.start(
        "alice",
        `env DENO_NO_UPDATE_CHECK=1 NO_COLOR=1 LANG=C.UTF-8 sh -c ${
          shellQuote(`cd ${shellQuote(home)} && ${chat}; sleep 60`)
        }`,
        WIDTH,
        HEIGHT,
      );
      await tmux.waitFor("alice", "alice's welcome", has("Welcome, alice!"));

      // /send: a path with a space, quoted as a terminal's drag and drop
      // types it.
      await tmux.type("alice", `/send '${home}/my photo.png'`);
      await tmux.press("alice", "Enter");
      const shared = await bob.client.waitFor(
        isFileMessage,
        15_000,
      ) as RoomMessage;
      assert.equal(shared.from, "alice");
      assert.equal(shared.file!.name, "my photo.png");
      assert.equal(shared.file!.inline, true);
      const fetched = await get(server.port, shared.file!.url);
      assert.equal(await sha256(fetched.body), await sha256(photo));
      await tmux.waitFor(
        "alice",
        "the upload's end",
        has("sent my photo.png (195 KB)"),
      );
      await tmux.waitFor(
        "alice",
        "the file's message",
        has("alice> 📎 my photo.png"),
      );

      // /get: bob's PDF is saved beside alice's own notes.pdf, as notes.1.pdf.
      const pdf = pdfBytes(300_000);
      const offered = await shareBytes(
        server.port,
        bob.client,
        "notes.pdf",
        pdf,
        "application/pdf",
      );
      await tmux.waitFor(
        "alice",
        "bob's file",
        has(`/get ${offered.file!.id}`),
      );
      await tmux.type("alice", `/get ${offered.file!.id}`);
      await tmux.press("alice", "Enter");
      await tmux.waitFor(
        "alice",
        "where it was saved",
        has(`saved notes.pdf (293 KB) as ${home}/notes.1.pdf`),
      );
      assert.equal(
        await sha256(await Deno.readFile(`${home}/notes.1.pdf`)),
        await sha256(pdf),
      );
      assert.deepEqual(await Deno.readFile(`${home}/notes.pdf`), older);

      // 10,000 characters are refused as a message and stay in the input
      // line; Ctrl-S sends them as a text file, every character.
      const long = "第一行 line one\n" + "p".repeat(6000) +
        "作业".repeat(1000) +
        "k".repeat(1983) + "TAIL";
      assert.equal([...long].length, 10_000);
      await tmux.paste("alice", long);
      await tmux.press("alice", "Enter");
      await tmux.waitFor(
        "alice",
        "the too-long error",
        has("input line: Ctrl-S sends it as"),
      );
      assert.match((await tmux.screen("alice"))[HEIGHT - 1], /kTAIL\s*$/);
      await tmux.press("alice", "C-s");
      const pasted = await bob.client.waitFor(
        isFileMessage,
        15_000,
      ) as RoomMessage;
      assert.match(pasted.file!.name, /^paste-\d{4}-\d\d-\d\d-\d{6}\.txt$/);
      assert.equal(pasted.file!.mime, "text/plain");
      const text = await get(server.port, pasted.file!.url);
      assert.equal(new TextDecoder().decode(text.body), long);
      await tmux.waitFor(
        "alice",
        "the paste sent",
        has(`sent ${pasted.file!.name}`),
      );
      // The input line is empty again.
      assert.match((await tmux.screen("alice"))[HEIGHT - 1], /alice>\s*$/);
    } finally {
      await tmux.kill();
      await bob.client.close();
      await server.stop();
      await dir.remove();
    }
  },
});
