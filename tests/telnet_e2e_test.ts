/**
 * End to end with real telnet clients: Debian's `telnet` in line mode and in
 * character mode, and PuTTY's `plink -telnet`, each in tmux against the real
 * server, chatting with a JSON member; and a GB18030 client (bytes written
 * by the test) chatting with a UTF-8 one. Where a tool is missing, its test
 * says skipped and why (.ci/run installs them with apt).
 */

import assert from "node:assert/strict";
import type { ServerEvent } from "../protocol.ts";
import { ServerProcess, tempDir, TestClient } from "./helpers.ts";
import { has, Tmux, toolMissing } from "./tmux.ts";

const WIDTH = 80;
const encoder = new TextEncoder();
const HEIGHT = 24;
const INSTALL = ".ci/run installs it with apt";

const tmuxMissing = await toolMissing("tmux", ["-V"], INSTALL);
// `telnet` has no harmless flag that exits 0; its man page is not needed,
// only the program: `command -v` tells.
const telnetMissing = tmuxMissing ??
  await toolMissing("sh", ["-c", "command -v telnet"], INSTALL).then((r) =>
    r && "telnet is not installed (.ci/run installs it with apt)"
  );
const plinkMissing = tmuxMissing ??
  await toolMissing("plink", ["-V"], `putty-tools; ${INSTALL}`);
for (
  const [what, reason] of [["telnet", telnetMissing], ["plink", plinkMissing]]
) {
  if (reason) console.log(`telnet_e2e_test: ${what} tests skipped: ${reason}`);
}

function named(name: string, skip: string | undefined): string {
  return skip ? `${name} (skipped: ${skip})` : name;
}

/** Runs a telnet client in a tmux session. */
async function startClient(
  tmux: Tmux,
  name: string,
  argv: string[],
  home: string,
): Promise<void> {
  // HOME: no .telnetrc of the machine's user changes the client.
  await tmux.startProgram(
    name,
    argv,
    { HOME: home, LANG: "C.UTF-8" },
    WIDTH,
    HEIGHT,
  );
}

/** The people and tools of a telnet test: a server, carol in it over JSON, tmux. */
interface TelnetRoom {
  server: ServerProcess;
  dir: { path: string };
  tmux: Tmux;
  carol: TestClient;
}

/** Runs `scene` with a fresh {@linkcode TelnetRoom}, then takes it down. */
async function inTelnetRoom(
  scene: (room: TelnetRoom) => Promise<void>,
): Promise<void> {
  const server = await ServerProcess.start();
  const dir = await tempDir();
  const tmux = new Tmux();
  const { client: carol } = await TestClient.join(server.port, "carol");
  try {
    await scene({ server, dir, tmux, carol });
  } finally {
    await tmux.kill();
    await carol.close();
    await server.stop();
    await dir.remove();
  }
}

const isMsg = (from: string, text: string) => (e: ServerEvent) =>
  e.type === "msg" && e.from === from && e.text === text;

/**
 * Carol gets `text` from `nick` as one message, with nothing of it sent
 * before (a character-mode line is sent whole, on Enter); then `nick`
 * types `/quit` and its telnet exits.
 */
async function expectWholeThenQuit(
  tmux: Tmux,
  carol: TestClient,
  nick: string,
  text: string,
): Promise<void> {
  const skipped: ServerEvent[] = [];
  await carol.waitFor(isMsg(nick, text), 10_000, skipped);
  assert.deepEqual(
    skipped.filter((e) => e.type === "msg" && e.from === nick),
    [],
    "nothing typed was sent early",
  );
  await tmux.type(nick, "/quit");
  await tmux.press(nick, "Enter");
  await tmux.waitExit(nick);
}

/** The last row of the screen with anything on it. */
function lastRow(rows: string[]): { row: number; text: string } {
  for (let row = rows.length - 1; row >= 0; row--) {
    if (rows[row].trim() !== "") return { row, text: rows[row].trimEnd() };
  }
  return { row: 0, text: "" };
}

Deno.test({
  name: named(
    "telnet in line mode: Ctrl-C clears and says how to leave, messages go both ways, AYT is answered, a second Ctrl-C leaves",
    telnetMissing,
  ),
  ignore: telnetMissing !== undefined,
  fn: async () => {
    await inTelnetRoom(async ({ server, dir, tmux, carol }) => {
      await startClient(tmux, "alice", [
        "telnet",
        "127.0.0.1",
        String(server.port),
      ], dir.path);
      await tmux.waitFor(
        "alice",
        "the banner",
        has("Please choose a nickname"),
      );
      await tmux.type("alice", "alice");
      await tmux.press("alice", "Enter");
      await tmux.waitFor("alice", "the welcome", has("Welcome, alice!"));

      // Ctrl-C sends IAC IP and IAC DO TIMING-MARK; telnet shows nothing more
      // until the timing mark is answered, so seeing the hint proves it was.
      await tmux.type("alice", "never sent");
      await tmux.press("alice", "C-c");
      await tmux.waitFor(
        "alice",
        "the Ctrl-C hint",
        has("* Ctrl-C: press it again to leave, or type /quit"),
      );
      await tmux.type("alice", "hello from telnet");
      await tmux.press("alice", "Enter");
      const skipped: ServerEvent[] = [];
      await carol.waitFor(isMsg("alice", "hello from telnet"), 10_000, skipped);
      assert.deepEqual(
        skipped.filter((e) => e.type === "msg" && e.from === "alice"),
        [],
        "the cleared line was not sent",
      );
      carol.send({ type: "say", text: "hi alice 你好" });
      await tmux.waitFor("alice", "carol's line", has("carol: hi alice 你好"));

      // telnet's own "send ayt" (IAC AYT) is answered, and the line after
      // it still goes through.
      await tmux.press("alice", "C-]");
      await tmux.waitFor("alice", "the telnet prompt", has("telnet>"));
      await tmux.type("alice", "send ayt");
      await tmux.press("alice", "Enter");
      await tmux.waitFor("alice", "the answer", has("[yes, still here]"));
      await tmux.type("alice", "after ayt");
      await tmux.press("alice", "Enter");
      await carol.waitFor(isMsg("alice", "after ayt"), 10_000);

      await tmux.press("alice", "C-c");
      await tmux.press("alice", "C-c");
      const rows = await tmux.waitExit("alice");
      assert.ok(
        has("* Bye: goodbye")(rows) || has("Connection closed")(rows),
        rows.join("\n"),
      );
      const leave = await carol.waitFor((e) =>
        e.type === "leave" && e.nick === "alice"
      );
      assert.equal((leave as { reason?: string }).reason, "quit");
    });
  },
});

Deno.test({
  name: named(
    "telnet in character mode: the server echoes and edits, Backspace takes 中 whole, a message mid-typing redraws the line, Ctrl-U clears it",
    telnetMissing,
  ),
  ignore: telnetMissing !== undefined,
  fn: async () => {
    await inTelnetRoom(async ({ server, dir, tmux, carol }) => {
      await startClient(tmux, "bob", [
        "telnet",
        "127.0.0.1",
        String(server.port),
      ], dir.path);
      await tmux.waitFor("bob", "the banner", has("Please choose a nickname"));
      await tmux.press("bob", "C-]");
      await tmux.waitFor("bob", "the telnet prompt", has("telnet>"));
      await tmux.type("bob", "mode character");
      await tmux.press("bob", "Enter");

      // Keys go one by one; what shows is the server's echo.
      await tmux.type("bob", "bo中");
      await tmux.waitFor("bob", "the echo", (r) => lastRow(r).text === "bo中");
      await tmux.press("bob", "BSpace");
      await tmux.waitFor("bob", "中 erased", (r) => lastRow(r).text === "bo");
      let rows = await tmux.screen("bob");
      assert.deepEqual(await tmux.cursor("bob"), {
        x: 2,
        y: lastRow(rows).row,
      });
      await tmux.type("bob", "b");
      await tmux.press("bob", "Enter");
      await tmux.waitFor("bob", "the welcome", has("Welcome, bob!"));
      await carol.waitFor((e) => e.type === "join" && e.nick === "bob");

      await tmux.type("bob", "半句 half");
      await tmux.waitFor(
        "bob",
        "the half line",
        (r) => lastRow(r).text === "半句 half",
      );
      carol.send({ type: "say", text: "ping from carol" });
      rows = await tmux.waitFor(
        "bob",
        "carol's line",
        has("carol: ping from carol"),
      );
      const bottom = lastRow(rows);
      assert.equal(
        bottom.text,
        "半句 half",
        "the half-typed line is drawn again below",
      );
      assert.match(rows[bottom.row - 1], /carol: ping from carol$/);
      // 半句 takes 4 columns, " half" 5: the cursor is after them.
      assert.deepEqual(await tmux.cursor("bob"), { x: 9, y: bottom.row });

      await tmux.press("bob", "C-u");
      await tmux.waitFor(
        "bob",
        "the cleared line",
        (r) => !has("半句 half")(r),
      );
      assert.deepEqual((await tmux.cursor("bob")).x, 0);
      await tmux.type("bob", "hello 世界");
      await tmux.press("bob", "Enter");
      await expectWholeThenQuit(tmux, carol, "bob", "hello 世界");
    });
  },
});

Deno.test({
  name: named(
    "PuTTY's plink -telnet joins and chats, and Ctrl-C twice leaves",
    plinkMissing,
  ),
  ignore: plinkMissing !== undefined,
  fn: async () => {
    await inTelnetRoom(async ({ server, dir, tmux, carol }) => {
      await startClient(
        tmux,
        "pat",
        ["plink", "-telnet", "-P", String(server.port), "127.0.0.1"],
        dir.path,
      );
      await tmux.waitFor("pat", "the banner", has("Please choose a nickname"));
      await tmux.type("pat", "pat中");
      // The echo starts at the first column, though the banner's \n went
      // out before plink said it was telnet (it moves down only).
      await tmux.waitFor("pat", "the echo", (r) => lastRow(r).text === "pat中");
      await tmux.press("pat", "BSpace");
      await tmux.waitFor("pat", "中 erased", (r) => lastRow(r).text === "pat");
      await tmux.press("pat", "Enter");
      await tmux.waitFor("pat", "the welcome", has("Welcome, pat!"));
      await tmux.type("pat", "hi from plink 你好");
      await tmux.press("pat", "Enter");
      await carol.waitFor(isMsg("pat", "hi from plink 你好"), 10_000);
      carol.send({ type: "say", text: "back to plink 👋" });
      await tmux.waitFor("pat", "carol's line", has("carol: back to plink 👋"));
      await tmux.press("pat", "C-c");
      await tmux.waitFor(
        "pat",
        "the Ctrl-C hint",
        has("* Ctrl-C: press it again"),
      );
      await tmux.press("pat", "C-c");
      await tmux.waitExit("pat");
      const leave = await carol.waitFor((e) =>
        e.type === "leave" && e.nick === "pat"
      );
      assert.equal((leave as { reason?: string }).reason, "quit");
    });
  },
});

Deno.test({
  name: named(
    "telnet in character mode in a 40-column window: the width is asked for, a line typed over two rows is redrawn whole below a message, 👋🏽 is erased whole, a pause mid-word splits nothing",
    telnetMissing,
  ),
  ignore: telnetMissing !== undefined,
  fn: async () => {
    await inTelnetRoom(async ({ server, dir, tmux, carol }) => {
      await tmux.startProgram(
        "dan",
        ["telnet", "127.0.0.1", String(server.port)],
        { HOME: dir.path, LANG: "C.UTF-8" },
        40,
        HEIGHT,
      );
      await tmux.waitFor("dan", "the banner", has("Welcome to chat"));
      await tmux.press("dan", "C-]");
      await tmux.waitFor("dan", "the telnet prompt", has("telnet>"));
      await tmux.type("dan", "mode character");
      await tmux.press("dan", "Enter");
      // Longer than the unframed rule's idle times (100 ms for words, 5 s
      // for single keys): a telnet user's pause never ends a line.
      await tmux.type("dan", "da");
      await new Promise((resolve) => setTimeout(resolve, 5_500));
      await tmux.type("dan", "n");
      await tmux.press("dan", "Enter");
      await tmux.waitFor("dan", "the welcome", has("Welcome, dan!"));
      await carol.waitFor((e) => e.type === "join" && e.nick === "dan");

      // (Not 九: its UTF-8 ends in 0x9D, which this telnet takes for its
      // Ctrl-] escape, 0x1D, whatever the mode; README says `telnet -E`.)
      // 20 + 1 + 25 columns: two rows of a 40-column window, cut after 's'.
      const long = "一二三四五六七八零十 abcdefghijklmnopqrstuvwxy";
      await tmux.type("dan", long);
      await tmux.waitFor(
        "dan",
        "the long line",
        (r) => lastRow(r).text === "tuvwxy",
      );
      carol.send({ type: "say", text: "ping" });
      const rows = await tmux.waitFor(
        "dan",
        "carol's line",
        has("carol: ping"),
      );
      const bottom = lastRow(rows);
      // Without the width the server would take the line for one row and
      // leave its first row on the screen, above carol's line.
      assert.equal(
        rows.filter((row) => row.includes("一二三")).length,
        1,
        rows.join("\n"),
      );
      assert.equal(
        rows[bottom.row - 1].trimEnd(),
        "一二三四五六七八零十 abcdefghijklmnopqrs",
      );
      assert.equal(bottom.text, "tuvwxy");
      assert.match(rows[bottom.row - 2], /carol: ping$/);

      await tmux.press("dan", "C-u");
      await tmux.waitFor("dan", "the cleared line", (r) => !has("tuvwxy")(r));
      await tmux.type("dan", "ok 👋🏽");
      await tmux.waitFor(
        "dan",
        "the emoji",
        (r) => lastRow(r).text.startsWith("ok 👋"),
      );
      await tmux.press("dan", "BSpace");
      await tmux.waitFor(
        "dan",
        "the emoji erased",
        (r) => lastRow(r).text === "ok",
      );
      assert.equal((await tmux.cursor("dan")).x, 3);
      await tmux.type("dan", "fine");
      await tmux.press("dan", "Enter");
      await expectWholeThenQuit(tmux, carol, "dan", "ok fine");
    });
  },
});

/** A raw TCP client of the text door that reads `encoding` (as nc would). */
class RawClient {
  #conn: Deno.Conn;
  #text = "";
  #reading: Promise<void>;

  constructor(conn: Deno.Conn, encoding: "gb18030" | "utf-8") {
    this.#conn = conn;
    this.#reading = (async () => {
      const decoder = new TextDecoder(encoding);
      const buffer = new Uint8Array(4096);
      try {
        for (;;) {
          const n = await conn.read(buffer);
          if (n === null) break;
          this.#text += decoder.decode(buffer.subarray(0, n), { stream: true });
        }
      } catch { /* closed */ }
    })();
  }

  async write(bytes: number[]): Promise<void> {
    let data = new Uint8Array(bytes);
    while (data.length > 0) data = data.subarray(await this.#conn.write(data));
  }

  /** Waits until `text` has been read; returns everything read so far. */
  async waitFor(text: string, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#text.includes(text)) {
      if (Date.now() > deadline) {
        throw new Error(
          `no ${JSON.stringify(text)} in ${JSON.stringify(this.#text)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.#text;
  }

  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch { /* closed */ }
    await this.#reading;
  }
}

// GBK bytes, as a Chinese Windows console sends them.
const XIAOMING = [0xd0, 0xa1, 0xc3, 0xf7]; // 小明
const NIHAO = [0xc4, 0xe3, 0xba, 0xc3]; // 你好

Deno.test("a GB18030 client exchanges 你好 both ways with a UTF-8 member (nc) and a JSON member", async () => {
  const server = await ServerProcess.start();
  const { client: carol } = await TestClient.join(server.port, "carol");
  const connect = () =>
    Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const gb = new RawClient(await connect(), "gb18030");
  const nina = new RawClient(await connect(), "utf-8");
  try {
    await nina.waitFor("Please choose a nickname");
    await nina.write([...encoder.encode("nina\n")]);
    await nina.waitFor("Welcome, nina!");
    await gb.waitFor("Please choose a nickname");
    await gb.write([...XIAOMING, 0x0a]);
    const text = await gb.waitFor("Welcome, 小明!");
    assert.match(text, /Your text is GB18030, not UTF-8.*\/charset utf-8/);
    assert.equal(
      text.split("\n").filter((line) => line.includes("GB18030")).length,
      1,
      "told in one line",
    );
    await carol.waitFor((e) => e.type === "join" && e.nick === "小明");

    await gb.write([...NIHAO, 0x0d, 0x0a]);
    await carol.waitFor(isMsg("小明", "你好"));
    await nina.waitFor("小明: 你好\n");
    carol.send({ type: "say", text: "你好 小明 👋" });
    // Read as GB18030: the Chinese arrives, and the emoji too (four bytes).
    await gb.waitFor("carol: 你好 小明 👋\n");
    await nina.write([...encoder.encode("你好 from nina\n")]);
    await gb.waitFor("nina: 你好 from nina\n");
    await carol.waitFor(isMsg("nina", "你好 from nina"));

    // /charset gbk: what GBK lacks is a ?, for a code page 936 console.
    await gb.write([...encoder.encode("/charset gbk\n")]);
    await gb.waitFor("now uses GBK both ways");
    carol.send({ type: "say", text: "再见 😀" });
    await gb.waitFor("carol: 再见 ?\n");

    // /charset utf-8 switches back: UTF-8 is read and written again.
    await gb.write([...encoder.encode("/charset utf-8\n")]);
    await gb.waitFor("now uses UTF-8");
    await gb.write([...encoder.encode("再见\n")]);
    await carol.waitFor(isMsg("小明", "再见"));
    await nina.waitFor("小明: 再见\n");
  } finally {
    await gb.close();
    await nina.close();
    await carol.close();
    await server.stop();
  }
});

/**
 * Reads what the server sends for `ms`, answering each of its option
 * commands the way a client that agrees to everything would: `WILL x` with
 * `DO x`, `DO x` with `WILL x`, `WONT` with `DONT`, `DONT` with `WONT`.
 */
async function agreeToEverything(
  conn: Deno.Conn,
  ms: number,
): Promise<{ commands: number; bytes: number }> {
  const answer: Record<number, number> = {
    251: 253,
    253: 251,
    252: 254,
    254: 252,
  };
  const buffer = new Uint8Array(4096);
  let commands = 0;
  let bytes = 0;
  let pending: number[] = [];
  const timer = setTimeout(() => conn.close(), ms);
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      bytes += n;
      const chunk = [...pending, ...buffer.subarray(0, n)];
      pending = [];
      const reply: number[] = [];
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] !== 0xff) continue;
        if (i + 2 >= chunk.length) {
          pending = chunk.slice(i);
          break;
        }
        const verb = answer[chunk[i + 1]];
        if (verb === undefined) continue;
        commands++;
        reply.push(0xff, verb, chunk[i + 2]);
        i += 2;
      }
      if (reply.length > 0) await conn.write(new Uint8Array(reply));
    }
  } catch { /* closed by the timer */ }
  clearTimeout(timer);
  return { commands, bytes };
}

Deno.test("a client that answers every WILL with DO and every DO with WILL settles: negotiation never loops", async () => {
  const server = await ServerProcess.start();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    // It offers and asks for every option, timing mark included.
    const offers: number[] = [];
    for (let option = 0; option < 40; option++) {
      offers.push(0xff, 251, option, 0xff, 253, option);
    }
    await conn.write(new Uint8Array(offers));
    const { commands, bytes } = await agreeToEverything(conn, 2000);
    // One answer to each of its 80, our three offers (echo, go-ahead, the
    // window size) and their echoes: a loop would be tens of thousands.
    assert.ok(commands <= 100, `${commands} commands, ${bytes} bytes`);
    assert.ok(commands >= 80, `every request was answered (${commands})`);
  } finally {
    await server.stop();
  }
});
