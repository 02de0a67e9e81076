/**
 * The chat page in a real browser (Debian's Chromium, headless), against
 * the real `chat serve`, driven as a person would: typing into the fields,
 * pressing Enter, reading what the page shows. One browser serves every
 * test of this file; each test opens its own pages and server.
 */

import assert from "node:assert/strict";
import type { ServerEvent } from "../protocol.ts";
import { runChat, ServerProcess, tempDir, TestClient } from "./helpers.ts";
import { hasOpenssl, makeSelfSignedCert } from "./hostile_helpers.ts";
import { LineSplitter } from "../protocol.ts";
import { serveWeb } from "../src/server/doors/web/web_door.ts";
import { browserTests, ChatPage, eventually } from "./browser_helpers.ts";
import { seedMessages } from "./history_seed.ts";

const browserTest = browserTests();

/** An `nc` user: the text dialect over plain TCP. */
async function ncUser(port: number, nick: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.nextLine(); // The banner.
  await client.writeAll(`${nick}\n`);
  await client.waitForLine(`Welcome, ${nick}!`);
  return client;
}

const url = (server: ServerProcess) => `http://127.0.0.1:${server.port}/`;

browserTest(
  "two pages and an nc user talk in one room: Chinese and emoji both ways, hostile text shown as text",
  async (browser) => {
    const server = await ServerProcess.start();
    const alice = await ChatPage.open(browser, url(server));
    const bob = await ChatPage.open(browser, url(server), {
      width: 375,
      height: 667,
    });
    const carol = await ncUser(server.port, "carol");
    try {
      await alice.join("alice");
      await bob.join("bob");
      await alice.waitForLine("bob joined lobby");

      await alice.say("你好，世界 👋 from the laptop");
      await bob.waitForLine("你好，世界 👋 from the laptop");
      assert.match(
        await carol.waitForLine("你好，世界"),
        /alice: 你好，世界 👋 from the laptop$/,
      );

      await bob.say("手机上的消息 📱✅");
      await alice.waitForLine("手机上的消息 📱✅");
      await carol.waitForLine("bob: 手机上的消息 📱✅");

      await carol.writeAll("nc 用户 说 🎉\n");
      const fromCarol = await alice.waitForLine("nc 用户 说 🎉");
      assert.match(fromCarol, /carol: nc 用户 说 🎉/);
      await bob.waitForLine("nc 用户 说 🎉");

      // Own lines are marked; others' are not.
      const own = alice.page.locator("li.own", { hasText: "from the laptop" });
      assert.equal(await own.count(), 1);
      assert.equal(
        await alice.page.locator("li.own", { hasText: "nc 用户" }).count(),
        0,
      );
      // The sender's colour is the terminal's: the same class on both pages.
      const colourOf = (page: ChatPage) =>
        page.page.locator("li", { hasText: "nc 用户" }).locator(".nick")
          .getAttribute("class");
      assert.equal(await colourOf(alice), await colourOf(bob));

      const hostile =
        `<img src=x onerror=alert(1)> <script>alert(2)</script> <b>bold</b>`;
      await carol.writeAll(`${hostile}\n`);
      const shown = await alice.waitForLine("<img src=x");
      assert.ok(shown.includes(hostile), shown);
      await bob.waitForLine("<script>alert(2)</script>");
      for (const page of [alice, bob]) {
        assert.equal(
          await page.page.locator("#log-box img, #log-box script, #log-box b")
            .count(),
          0,
        );
        assert.deepEqual(page.dialogs, []);
      }

      // A line naming you is highlighted, the name itself marked.
      await carol.writeAll("alice: are you there?\n");
      await alice.waitForLine("are you there?");
      const mention = alice.page.locator("li.mention", {
        hasText: "are you there?",
      });
      assert.equal(await mention.locator("mark").textContent(), "alice");
      assert.equal(await bob.page.locator("li.mention").count(), 0);

      // The phone does not scroll sideways, even with a long unbroken word.
      await carol.writeAll(`${"长".repeat(60)}${"x".repeat(300)}\n`);
      await bob.waitForLine("xxxxxxxx");
      const width = await bob.scrollWidth();
      assert.ok(width <= 375, `scrollWidth ${width}`);

      // A laptop at 200 % zoom is a 640-pixel page at twice the pixels: one
      // column, the message field in reach, nothing sideways.
      const zoomed = await ChatPage.open(browser, url(server), {
        width: 640,
        height: 400,
        deviceScaleFactor: 2,
      });
      try {
        await zoomed.join("dave");
        await zoomed.waitForLine("Welcome, dave!");
        assert.ok(await zoomed.scrollWidth() <= 640);
        assert.equal(await zoomed.page.locator("#side").isVisible(), false);
        assert.equal(await zoomed.page.locator("#line").isVisible(), true);
        assert.equal(await zoomed.page.locator("#menu").isVisible(), true);
      } finally {
        await zoomed.close();
      }

      // Nothing but this server was asked for anything.
      for (const page of [alice, bob]) {
        for (const request of page.requests) {
          assert.match(
            request,
            new RegExp(`^(http|ws)://127\\.0\\.0\\.1:${server.port}/`),
            request,
          );
        }
        assert.deepEqual(page.errors, []);
      }
    } finally {
      await carol.close();
      await alice.close();
      await bob.close();
      await server.stop();
    }
  },
);

browserTest(
  "a private message: opened from the people list, seen as unread, answered; the room never sees it",
  async (browser) => {
    const server = await ServerProcess.start();
    const alice = await ChatPage.open(browser, url(server));
    const bob = await ChatPage.open(browser, url(server));
    const carol = await ncUser(server.port, "carol");
    try {
      await alice.join("alice");
      await bob.join("bob");
      await alice.waitForLine("bob joined lobby");
      await alice.page.locator("#people-list button", { hasText: "bob" })
        .click();
      assert.equal(await alice.page.locator("#title").textContent(), "bob");
      await alice.say("秘密 🤫 only for you");
      await alice.waitForLine("秘密 🤫 only for you");

      // Bob is still in the room: the conversation waits, counted as unread.
      const entry = bob.page.locator("#dms li", { hasText: "alice" });
      await entry.locator(".badge", { hasText: "1" }).waitFor();
      assert.match(await bob.title(), /^\(1\) /);
      await entry.locator("button.open").click();
      await bob.waitForLine("秘密 🤫 only for you");
      assert.equal(await entry.locator(".badge").count(), 0);
      assert.doesNotMatch(await bob.title(), /^\(/);
      await bob.say("/r 收到，谢谢");
      await alice.waitForLine("收到，谢谢");
      await bob.say("and a plain reply in the conversation");
      await alice.waitForLine("and a plain reply in the conversation");

      // The room saw none of it: the next public line is the first carol reads.
      await alice.page.locator("#rooms button.open", { hasText: "lobby" })
        .click();
      await alice.say("public again");
      let line = "";
      while (!line.includes("public again")) {
        line = await carol.nextLine();
        assert.doesNotMatch(line, /秘密|收到|plain reply/);
      }
    } finally {
      await carol.close();
      await alice.close();
      await bob.close();
      await server.stop();
    }
  },
);

browserTest(
  "several rooms at once: each with its unread count, switching, talking in each, leaving one",
  async (browser) => {
    const server = await ServerProcess.start();
    const alice = await ChatPage.open(browser, url(server));
    const bob = await ChatPage.open(browser, url(server), {
      width: 375,
      height: 667,
    });
    const carol = await ncUser(server.port, "carol");
    try {
      await alice.join("alice");
      await bob.join("bob");
      await alice.waitForLine("bob joined lobby");
      await alice.page.locator("#people-list button", { hasText: "carol" })
        .click();
      for (const n of [1, 2, 3]) await carol.writeAll(`lobby line ${n}\n`);
      const lobby = alice.page.locator("#rooms li", { hasText: "lobby" });
      await lobby.locator(".badge", { hasText: "3" }).waitFor();
      assert.match(await alice.title(), /^\(3\) carol · chat$/);
      await lobby.locator("button.open").click();
      await alice.waitForLine("lobby line 3");
      assert.equal(await lobby.locator(".badge").count(), 0);
      assert.equal(await alice.title(), "lobby · chat");

      // On the phone the rooms are behind the menu button, which shows the count.
      await bob.page.locator("#people-toggle").click();
      await bob.page.locator("#people-list button", { hasText: "carol" })
        .click();
      await carol.writeAll("one more\n");
      await bob.page.locator("#menu-unread", { hasText: "1" }).waitFor();
      await bob.page.locator("#menu").click();
      await bob.page.locator("#rooms button.open", { hasText: "lobby" })
        .click();
      await bob.waitForLine("one more");

      // A second room: the lobby stays in the list, and keeps counting.
      await alice.say("/join class");
      await eventually(
        "alice is in class",
        async () =>
          await alice.page.locator("#title").textContent() === "class",
      );
      assert.equal(await alice.page.locator("#rooms li").count(), 2);
      await bob.say("/join class");
      await alice.waitForLine("bob joined class");
      await bob.say("hello class 🏫");
      await alice.waitForLine("hello class 🏫");
      await carol.writeAll("meanwhile in the lobby\n");
      await lobby.locator(".badge", { hasText: "1" }).waitFor();
      assert.match(await alice.title(), /^\(1\) class · chat$/);
      // Each room's line goes to its own room.
      await lobby.locator("button.open").click();
      await alice.waitForLine("meanwhile in the lobby");
      await alice.say("back in the lobby");
      assert.match(
        await carol.waitForLine("back in the lobby"),
        /alice: back in the lobby/,
      );

      // Leaving one room (its ×) keeps the other.
      await alice.page.locator("#rooms li", { hasText: "class" })
        .locator("button.close").click();
      await eventually(
        "class is gone from the list",
        async () => await alice.page.locator("#rooms li").count() === 1,
      );
      await bob.waitForLine("alice left class");
      assert.equal(await alice.page.locator("#title").textContent(), "lobby");
    } finally {
      await carol.close();
      await alice.close();
      await bob.close();
      await server.stop();
    }
  },
);

browserTest(
  "Enter while an input method composes picks the candidate and sends nothing",
  async (browser) => {
    const server = await ServerProcess.start();
    const alice = await ChatPage.open(browser, url(server));
    const bob = await ChatPage.open(browser, url(server));
    try {
      await alice.join("alice");
      await bob.join("bob");
      await alice.waitForLine("bob joined lobby");
      const field = alice.page.locator("#line");
      // The message field of several lines, where Enter still sends.
      assert.equal(await field.evaluate((e) => e.tagName), "TEXTAREA");
      await field.click();
      // A real composition, as an IME makes it: Chromium's own IME input.
      const cdp = await alice.context.newCDPSession(alice.page);
      await cdp.send("Input.imeSetComposition", {
        text: "ni hao",
        selectionStart: 6,
        selectionEnd: 6,
      });
      await alice.page.keyboard.press("Enter");
      // Safari reports the Enter that ends a composition as key code 229.
      await alice.page.evaluate(`(() => {
      const event = new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true });
      Object.defineProperty(event, "keyCode", { get: () => 229 });
      document.getElementById("line").dispatchEvent(event);
    })()`);
      await cdp.send("Input.insertText", { text: "你好" });
      assert.equal(await field.inputValue(), "你好");
      // Nothing was sent: the next line bob sees is the one sent on purpose.
      await field.press("Enter");
      await bob.waitForLine("alice: 你好");
      const fromAlice = await bob.page.locator("li.msg").allTextContents();
      assert.deepEqual(fromAlice.map((l) => l.replace(/^\d\d:\d\d /, "")), [
        "alice: 你好",
      ]);
      assert.equal(await bob.count("ni hao"), 0);
      assert.equal(await bob.count("你好"), 1);
      assert.equal(await field.inputValue(), "");
      await cdp.detach();
    } finally {
      await alice.close();
      await bob.close();
      await server.stop();
    }
  },
);

browserTest(
  "a reload rejoins with the same nickname and rooms and shows each history once; a second tab can take over",
  async (browser) => {
    const server = await ServerProcess.start();
    const alice = await ChatPage.open(browser, url(server));
    const carol = await ncUser(server.port, "carol");
    let second: ChatPage | undefined;
    try {
      await alice.join("alice");
      await carol.writeAll("history one 📜\n");
      await carol.writeAll("history two\n");
      await alice.waitForLine("history two");
      await alice.say("/join class");
      await eventually(
        "alice is in class",
        async () =>
          await alice.page.locator("#title").textContent() === "class",
      );
      await alice.say("written in class");
      await alice.waitForLine("written in class");
      await alice.say("/join lobby");
      await alice.waitForLine("history two");

      await alice.page.reload();
      // No nickname asked: the page joins as before, in the same room.
      await alice.waitForChat();
      await alice.waitForLine("history two");
      assert.equal(await alice.page.locator("#title").textContent(), "lobby");
      assert.equal(await alice.count("history one 📜"), 1);
      assert.equal(await alice.count("history two"), 1);
      assert.equal(await alice.count("Welcome, alice!"), 1);
      // Both rooms are back, class with its own history.
      assert.equal(await alice.page.locator("#rooms li").count(), 2);
      await alice.page.locator("#rooms button.open", { hasText: "class" })
        .click();
      await alice.waitForLine("written in class");
      assert.equal(await alice.count("written in class"), 1);
      assert.equal(await alice.count("history two"), 0);
      await alice.page.locator("#rooms button.open", { hasText: "lobby" })
        .click();
      assert.match(
        await carol.waitForLine("alice joined lobby"),
        /alice joined lobby/,
      );

      // A second tab of the same browser has the nickname too: one at a time.
      second = await ChatPage.open(browser, url(server), {
        context: alice.context,
      });
      const takeOver = second.page.locator("#login-take-over");
      await takeOver.waitFor({ timeout: 15_000 });
      assert.match(
        await second.page.locator("#login-error").textContent() ?? "",
        /You are chatting as alice in another tab/,
      );
      await takeOver.click();
      await second.waitForChat();
      await second.waitForLine("history two");
      await alice.page.locator("#login-error", { hasText: "in another tab" })
        .waitFor();
      await second.say("from the second tab");
      await carol.waitForLine("alice: from the second tab");
    } finally {
      await second?.close();
      await carol.close();
      await alice.close();
      await server.stop();
    }
  },
);

browserTest(
  "back after 900 messages (far over 64 KiB), the page pages for what the welcome left out: each shown once, in order, before what came live",
  async (browser) => {
    const dir = await tempDir();
    const db = `${dir.path}/chat.db`;
    let server = await ServerProcess.start(["--db", db]);
    const port = server.port;
    const alice = await ChatPage.open(browser, url(server));
    try {
      await alice.join("alice");
      const bob = await ncUser(port, "bob");
      await bob.writeAll("before the gap\n");
      await alice.waitForLine("before the gap");
      await bob.close();

      await server.stop();
      await alice.waitForLine("Connection lost");
      await alice.context.setOffline(true);
      const missed = seedMessages(db, "lobby", 900);
      // A tight allowance: the pages must be paced to it, or be refused.
      server = await ServerProcess.start([
        "--db",
        db,
        "--port",
        String(port),
        "--rate",
        "2",
        "--burst",
        "2",
      ]);
      await alice.context.setOffline(false);
      await alice.waitForLine("Reconnected: back in lobby as alice");
      await alice.waitForLine(
        "900 messages while you were away (above).",
        30_000,
      );
      const { client: carol } = await TestClient.join(port, "carol");
      carol.send({ type: "say", text: "live after the gap" });
      await alice.waitForLine("live after the gap");
      await carol.close();

      const lines = await alice.lines();
      const numbers = lines.flatMap((line) => {
        const match = /: missed (\d+)(?!\d)/.exec(line);
        return match ? [Number(match[1])] : [];
      });
      assert.deepEqual(
        numbers,
        missed.map((_, i) => i + 1),
        "every missed message once, in order",
      );
      const at = (text: string) => lines.findIndex((l) => l.includes(text));
      assert.ok(at("before the gap") < at("missed 1 "));
      assert.ok(at("missed 900 ") < at("live after the gap"));
      assert.equal(await alice.count("before the gap"), 1);
      assert.equal(
        await alice.count("slow down"),
        0,
        "paging at the server's pace was never refused",
      );
    } finally {
      await alice.close();
      await server.stop();
      await dir.remove();
    }
  },
);

browserTest(
  "a server restart: the page says so, reconnects, shows the missed message once and sends what was typed meanwhile",
  async (browser) => {
    const dir = await tempDir();
    const db = `${dir.path}/chat.db`;
    let server = await ServerProcess.start(["--db", db]);
    const port = server.port;
    const alice = await ChatPage.open(browser, url(server));
    try {
      await alice.join("alice");
      // In two rooms, the lobby shown.
      await alice.say("/join class");
      await eventually(
        "alice is in class",
        async () =>
          await alice.page.locator("#title").textContent() === "class",
      );
      await alice.page.locator("#rooms button.open", { hasText: "lobby" })
        .click();
      const carol = await ncUser(port, "carol");
      await carol.writeAll("before the restart\n");
      await alice.waitForLine("before the restart");
      await carol.close();

      await server.stop();
      await alice.page.locator("#status", { hasText: "Offline" }).waitFor();
      await alice.waitForLine("Connection lost");
      // Held offline, the page cannot come back before the missed message.
      await alice.context.setOffline(true);
      await alice.say("typed while offline ✈️");
      await alice.waitForLine("(waiting to send)");

      server = await ServerProcess.start(["--db", db, "--port", String(port)]);
      const dave = await ncUser(port, "dave");
      await dave.writeAll("while you were away 🛠\n");
      await dave.waitForLine("dave: while you were away");
      await dave.writeAll("/join class\n");
      await dave.writeAll("missed in class 📚\n");
      await dave.waitForLine("missed in class");
      await alice.context.setOffline(false);

      await alice.waitForLine("Reconnected: back in lobby as alice");
      await alice.waitForLine("while you were away 🛠");
      await alice.waitForLine("1 message while you were away");
      assert.match(
        await dave.waitForLine("typed while offline"),
        /alice: typed while offline ✈️/,
      );
      await alice.waitForLine("alice you: typed while offline ✈️");
      assert.equal(await alice.count("while you were away 🛠"), 1);
      assert.equal(await alice.count("before the restart"), 1);
      assert.equal(await alice.count("typed while offline"), 1);
      assert.equal(await alice.count("waiting to send"), 0);
      await alice.page.locator("#status", { hasText: "Online" }).waitFor();
      // The other room resumed too: its missed message counted, shown once.
      const classEntry = alice.page.locator("#rooms li", { hasText: "class" });
      await classEntry.locator(".badge", { hasText: "1" }).waitFor();
      await classEntry.locator("button.open").click();
      await alice.waitForLine("missed in class 📚");
      assert.equal(await alice.count("missed in class 📚"), 1);
      await dave.close();
    } finally {
      await alice.close();
      await server.stop();
      await dir.remove();
    }
  },
);

browserTest(
  "--password: the one field asks for it after the nickname, says when it is wrong, and lets you in",
  async (browser) => {
    const server = await ServerProcess.start(["--password", "教室 42"]);
    const alice = await ChatPage.open(browser, url(server));
    try {
      await alice.login("alice");
      await alice.page.locator("#login-label", { hasText: "Password" })
        .waitFor();
      await alice.login("wrong");
      await alice.page.locator("#login-error", { hasText: "wrong password" })
        .waitFor();
      await alice.login("教室 42");
      await alice.waitForChat();
      await alice.say("in with the password");
      await alice.waitForLine("in with the password");
      // A reload keeps the password for this tab.
      await alice.page.reload();
      await alice.waitForChat();
      await alice.waitForLine("in with the password");
    } finally {
      await alice.close();
      await server.stop();
    }
  },
);

const opensslHere = await hasOpenssl();

browserTest(
  "over --tls-cert the page is https and its socket wss",
  async (browser) => {
    if (!opensslHere) {
      console.log("skipped part: openssl not installed, no certificate");
      return;
    }
    const dir = await tempDir();
    const { cert, key } = await makeSelfSignedCert(dir.path);
    const server = await ServerProcess.start([
      "--tls-cert",
      cert,
      "--tls-key",
      key,
    ]);
    const alice = await ChatPage.open(
      browser,
      `https://127.0.0.1:${server.port}/`,
      {
        ignoreHTTPSErrors: true,
      },
    );
    try {
      await alice.join("alice");
      await alice.say("加密的消息 🔐");
      await alice.waitForLine("加密的消息 🔐");
      assert.ok(
        alice.requests.some((r) => r === `wss://127.0.0.1:${server.port}/ws`),
        alice.requests.join(" "),
      );
      assert.ok(
        alice.requests.every((r) => /^(https|wss):/.test(r)),
        alice.requests.join(" "),
      );
    } finally {
      await alice.close();
      await server.stop();
      await dir.remove();
    }
  },
);

browserTest(
  "the keyboard alone: join, send, open the rooms panel on a phone and close it with Escape",
  async (browser) => {
    const server = await ServerProcess.start();
    const eve = await ChatPage.open(browser, url(server), {
      width: 375,
      height: 667,
      colorScheme: "dark",
    });
    const focused = () =>
      eve.page.evaluate<string>("document.activeElement.id");
    try {
      // The nickname field has the focus as the page opens.
      await eventually(
        "the login field has the focus",
        async () => await focused() === "login-field",
      );
      await eve.page.keyboard.type("eve");
      await eve.page.keyboard.press("Enter");
      await eve.waitForChat();
      await eventually(
        "the message field has the focus",
        async () => await focused() === "line",
      );
      await eve.page.keyboard.type("typed without a mouse ⌨️");
      await eve.page.keyboard.press("Enter");
      await eve.waitForLine("typed without a mouse ⌨️");
      await eve.page.keyboard.press("Tab");
      assert.equal(await focused(), "send");
      // The rooms panel, from the keyboard: its first button gets the focus.
      await eve.page.locator("#menu").focus();
      await eve.page.keyboard.press("Enter");
      assert.equal(await eve.page.locator("#side").isVisible(), true);
      await eve.page.keyboard.press("Escape");
      assert.equal(await eve.page.locator("#side").isVisible(), false);
      assert.equal(await focused(), "line");
    } finally {
      await eve.close();
      await server.stop();
    }
  },
);

browserTest(
  "in the background, a line naming you shows a notification and the title counts what is unread",
  async (browser) => {
    const server = await ServerProcess.start();
    const alice = await ChatPage.open(browser, url(server));
    const carol = await ncUser(server.port, "carol");
    try {
      await alice.join("alice");
      // The tab goes to the background; notifications were allowed. The
      // page's Notification is watched, since a headless browser shows none.
      await alice.page.evaluate(`(() => {
      globalThis.shown = [];
      globalThis.Notification = class {
        static permission = "granted";
        constructor(title, options) { globalThis.shown.push(title + " | " + options.body); }
        addEventListener() {}
        close() {}
      };
      Object.defineProperty(document, "hidden", { get: () => true, configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    })()`);
      await carol.writeAll("just chatting\n");
      await carol.writeAll("alice: 你在吗？\n");
      await alice.waitForLine("你在吗？");
      await eventually(
        "the title counts both",
        async () => (await alice.title()).startsWith("(2) "),
      );
      const shown = await alice.page.evaluate<string[]>("globalThis.shown");
      assert.deepEqual(shown, ["carol in lobby | alice: 你在吗？"]);
      // Back in the foreground, the count is gone.
      await alice.page.evaluate(`(() => {
      Object.defineProperty(document, "hidden", { get: () => false, configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    })()`);
      assert.equal(await alice.title(), "lobby · chat");
    } finally {
      await carol.close();
      await alice.close();
      await server.stop();
    }
  },
);

/**
 * A scripted server with scrollback: the web door serves the real page,
 * and a script plays the server's side of the JSON dialect, answering the
 * `history` request docs/protocol.md describes before the hub does.
 */
class ScriptedServer {
  readonly received: Record<string, unknown>[] = [];
  #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  #conns = new Set<Deno.Conn>();
  #serving: Promise<void>;

  constructor() {
    this.#serving = this.#accept();
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  async #accept(): Promise<void> {
    const serving: Promise<void>[] = [];
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        serving.push(serveWeb(conn, new Uint8Array(0), {
          startChat: (chat) => serving.push(this.#chat(chat)),
          requestTimeoutMs: 5000,
          log: () => {},
        }));
      }
    } catch { /* closed */ }
    await Promise.allSettled(serving);
  }

  async #chat(conn: Deno.Conn): Promise<void> {
    const write = (event: unknown) =>
      conn.write(new TextEncoder().encode(JSON.stringify(event) + "\n"))
        .catch(() => {});
    const splitter = new LineSplitter();
    const buffer = new Uint8Array(65536);
    let me = "";
    const roomMessages = (room: string, from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => ({
        type: "msg",
        id: from + i,
        ts: Date.UTC(2026, 11, 1, 9, 0, from + i),
        room,
        from: "bob",
        text: `${room} message ${from + i}`,
      }));
    const welcome = (room: string, history: unknown[]) =>
      write({
        type: "welcome",
        nick: me,
        room,
        users: [me, "bob"],
        history,
        server: { name: "multi", version: "0.2.0" },
      });
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        splitter.push(buffer.subarray(0, n), (piece) => {
          if (piece.kind !== "line") return;
          const frame = JSON.parse(new TextDecoder().decode(piece.bytes));
          this.received.push(frame);
          if (frame.type === "hello") {
            me = frame.nick;
            welcome(frame.room ?? "lobby", roomMessages("lobby", 101, 150));
          } else if (frame.type === "history") {
            const from = Math.max(1, frame.before - frame.limit);
            write({
              type: "history",
              room: frame.room,
              messages: frame.before <= 1
                ? []
                : roomMessages(frame.room, from, frame.before - 1),
            });
          }
        });
      }
    } catch { /* closed */ }
  }

  async close(): Promise<void> {
    this.#listener.close();
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await this.#serving;
  }
}

browserTest(
  "scrolling up loads older messages, page by page, each shown once, until the server has no more",
  async (browser) => {
    const server = new ScriptedServer();
    const alice = await ChatPage.open(
      browser,
      `http://127.0.0.1:${server.port}/`,
    );
    const scrollToTop = () =>
      alice.page.evaluate("document.getElementById('log-box').scrollTop = 0");
    try {
      await alice.join("alice");
      await alice.waitForLine("lobby message 150");
      // Scrolling up asks for the messages before the oldest shown, page by
      // page, until the server has no more; each is shown once, in order.
      for (const oldest of [51, 1]) {
        await scrollToTop();
        // Matched to the end: "lobby message 1" must not match 150.
        await alice.waitForLine(new RegExp(`lobby message ${oldest}$`));
      }
      await scrollToTop();
      await alice.page.locator("#log-top", {
        hasText: "The start of what this server keeps",
      })
        .waitFor();
      const ids = (await alice.lines()).flatMap((l) => {
        const match = l.match(/lobby message (\d+)$/);
        return match ? [Number(match[1])] : [];
      });
      assert.deepEqual(ids, Array.from({ length: 150 }, (_, i) => i + 1));
      const asked = server.received.filter((f) => f.type === "history");
      assert.deepEqual(asked.map((f) => f.before), [101, 51, 1]);
    } finally {
      await alice.close();
      await server.close();
    }
  },
);

browserTest(
  "a registered nickname: the page asks for its password; a banned member reads who banned it, until when and why; unbanned, it gets in",
  async (browser) => {
    const dir = await tempDir();
    const db = `${dir.path}/chat.db`;
    const made = await runChat(
      ["account", "add", "olga", "--role", "owner", "--db", db],
      "olga-pass\n",
    );
    assert.equal(made.code, 0, made.stderr);
    const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
    const olga = await TestClient.join(server.port, "olga", {
      password: "olga-pass",
    });
    const page = await ChatPage.open(browser, url(server));
    try {
      const dave = await TestClient.join(server.port, "dave");
      dave.client.send({ type: "register", password: "dave-pass" });
      await dave.client.waitFor((e) => e.type === "info");
      olga.client.send({
        type: "ban",
        nick: "dave",
        seconds: 7200,
        reason: "spam",
      });
      await dave.client.waitFor((e) => e.type === "mod");
      await dave.client.close();

      await page.login("dave");
      await page.page.locator("#login-label", { hasText: "Password" })
        .waitFor();
      await page.page.locator("#login-help", {
        hasText: "dave is a registered nickname: its password is needed",
      }).waitFor();
      await page.login("dave-pass");
      const refusal = page.page.locator("#login-error", {
        hasText: "you are banned from lobby by olga for 2 hours more, until",
      });
      await refusal.waitFor();
      assert.match(await refusal.innerText(), /until \d\d:\d\d \(spam\)$/);

      olga.client.send({ type: "unban", nick: "dave" });
      await olga.client.waitFor((e) => e.type === "mod");
      await page.login("dave");
      await page.waitForChat();
      await page.say("in with my account");
      await olga.client.waitFor((e) =>
        e.type === "msg" && e.text === "in with my account"
      );
    } finally {
      await page.close();
      await olga.client.close();
      await server.stop();
      await dir.remove();
    }
  },
);

browserTest(
  "the page marks the owner and admins by their names, pins the room's notice above its messages, and says a mute with its time left",
  async (browser) => {
    const dir = await tempDir();
    const db = `${dir.path}/chat.db`;
    for (const [nick, role] of [["olga", "owner"], ["adam", "admin"]]) {
      const made = await runChat(
        ["account", "add", nick, "--role", role, "--db", db],
        `${nick}-pass\n`,
      );
      assert.equal(made.code, 0, made.stderr);
    }
    const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
    const olga = await TestClient.join(server.port, "olga", {
      password: "olga-pass",
    });
    const bob = await TestClient.join(server.port, "bob");
    bob.client.send({ type: "register", password: "bob-pass" });
    await bob.client.waitFor((e) => e.type === "info");
    olga.client.send({ type: "notice", text: "Exam on Monday" });
    await olga.client.waitFor((e) => e.type === "notice");
    const page = await ChatPage.open(browser, url(server));
    let adam: TestClient | undefined;
    try {
      await page.join("pam");
      await page.waitForLine("with olga (owner), bob.");
      const pinned = page.page.locator("#pinned");
      await pinned.filter({ hasText: "Notice (by olga): Exam on Monday" })
        .waitFor();
      const mark = (nick: string) =>
        page.page.locator("#people-list li", { hasText: nick }).locator(
          ".role",
        );
      assert.equal(await mark("olga").textContent(), "owner");
      assert.equal(await mark("bob").count(), 0);

      // Made an admin, and undone; an admin arriving is marked at once.
      olga.client.send({ type: "op", nick: "bob" });
      await page.waitForLine("bob is now an admin of lobby (by olga)");
      await mark("bob").filter({ hasText: "admin" }).waitFor();
      olga.client.send({ type: "deop", nick: "bob" });
      await page.waitForLine("bob is no longer an admin of lobby");
      await eventually(
        "bob's mark gone",
        async () => await mark("bob").count() === 0,
      );
      adam = (await TestClient.join(server.port, "adam", {
        password: "adam-pass",
      })).client;
      await page.waitForLine("adam (admin) joined lobby");
      await mark("adam").filter({ hasText: "admin" }).waitFor();
      await page.say("/who");
      await page.waitForLine(
        /In lobby \(4\): .*olga \(owner\).*adam \(admin\)/,
      );

      // Muted: the page says so, with the time left, each time.
      olga.client.send({ type: "mute", nick: "pam", seconds: 600 });
      await page.waitForLine("pam was muted for 10 minutes by olga");
      await page.say("may I?");
      await eventually(
        "the mute's wording",
        async () =>
          /you are muted in lobby for (10|9) minutes more \(by olga\)/.test(
            await page.fieldError(),
          ),
      );

      olga.client.send({ type: "notice", text: "" });
      await page.waitForLine("olga cleared the notice of lobby");
      await eventually(
        "the pinned notice gone",
        async () => await pinned.isHidden(),
      );
    } finally {
      await page.close();
      await adam?.close();
      await olga.client.close();
      await bob.client.close();
      await server.stop();
      await dir.remove();
    }
  },
);

browserTest(
  "a recalled message leaves the page: its line reads '(bob recalled a message)' and a reply's quote of it '(recalled)'",
  async (browser) => {
    const server = await ServerProcess.start(["--rate", "0"]);
    const bob = await TestClient.join(server.port, "bob");
    const page = await ChatPage.open(browser, url(server));
    try {
      await page.join("alice");
      bob.client.send({ type: "say", text: "did you push the fix?" });
      const asked = await bob.client.waitFor((e) =>
        e.type === "msg" && e.text === "did you push the fix?"
      ) as Extract<ServerEvent, { type: "msg" }>;
      bob.client.send({ type: "say", text: "yes, pushed", reply_to: asked.id });
      await page.waitForLine("yes, pushed");
      assert.equal(await page.count("↪ bob: did you push the fix?"), 1);
      bob.client.send({ type: "recall", id: asked.id });
      await page.waitForLine("(bob recalled a message)");
      await page.waitForLine("↪ bob: (recalled)");
      assert.equal(await page.count("did you push"), 0);
      assert.equal(await page.count("recalled a message"), 1);
    } finally {
      await page.close();
      await bob.client.close();
      await server.stop();
    }
  },
);

browserTest(
  "scrollback against the real server: 150 stored messages, scrolled up page by page, each shown once, in order, to the start",
  async (browser) => {
    const server = await ServerProcess.start(["--rate", "0"]);
    const { client: bob } = await TestClient.join(server.port, "bob");
    const alice = await ChatPage.open(browser, url(server));
    const scrollToTop = () =>
      alice.page.evaluate("document.getElementById('log-box').scrollTop = 0");
    const shownNumbers = async () =>
      (await alice.lines()).flatMap((line) => {
        const match = line.match(/bob: stored message (\d+)$/);
        return match ? [Number(match[1])] : [];
      });
    try {
      for (let n = 1; n <= 150; n++) {
        bob.send({ type: "say", text: `stored message ${n}` });
      }
      // The echo of the last one: all 150 are stored.
      await bob.waitFor(
        (e) => e.type === "msg" && e.text === "stored message 150",
        15_000,
      );
      await alice.join("alice");
      // The welcome holds the newest 50 (--history); the rest is scrollback.
      await alice.waitForLine(/bob: stored message 150$/);
      assert.deepEqual(
        await shownNumbers(),
        Array.from({ length: 50 }, (_, i) => 101 + i),
      );
      for (const oldest of [51, 1]) {
        await scrollToTop();
        // Matched to the end: "stored message 1" must not match 150.
        await alice.waitForLine(new RegExp(`bob: stored message ${oldest}$`));
      }
      await scrollToTop();
      await alice.page.locator("#log-top", {
        hasText: "The start of what this server keeps",
      }).waitFor();
      assert.deepEqual(
        await shownNumbers(),
        Array.from({ length: 150 }, (_, i) => i + 1),
      );
      assert.deepEqual(alice.errors, []);
    } finally {
      await bob.close();
      await alice.close();
      await server.stop();
    }
  },
);
