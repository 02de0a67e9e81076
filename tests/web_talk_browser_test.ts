/**
 * Talking like a group from the web page, in a real browser (Debian's
 * Chromium, headless) against the real `chat serve`: messages of several
 * lines, replies picked from the page with their quotes, and `@nick`
 * completed with Tab. What the page sends is read by JSON clients and an
 * `nc` user over real sockets.
 */

import assert from "node:assert/strict";
import type { RoomMessage } from "../protocol.ts";
import { ServerProcess, TestClient } from "./helpers.ts";
import { browserTests, ChatPage } from "./browser_helpers.ts";

const browserTest = browserTests();

const url = (server: ServerProcess) => `http://127.0.0.1:${server.port}/`;

/** An `nc` user: the text dialect over plain TCP. */
async function ncUser(port: number, nick: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.nextLine(); // The banner.
  await client.writeAll(`${nick}\n`);
  await client.waitForLine(`Welcome, ${nick}!`);
  return client;
}

/** The next room message a JSON client gets whose text matches. */
async function nextMessage(
  client: TestClient,
  text: string | RegExp,
): Promise<RoomMessage> {
  return await client.waitFor(
    (e) =>
      e.type === "msg" &&
      (typeof text === "string" ? e.text === text : text.test(e.text)),
    15_000,
  ) as RoomMessage;
}

/** The message field's height in CSS pixels. */
async function fieldHeight(page: ChatPage): Promise<number> {
  return await page.page.locator("#line").evaluate((field) =>
    field.getBoundingClientRect().height
  );
}

browserTest(
  "a message of several lines, typed with Shift-Enter or pasted, is one message: JSON keeps its \\n, nc indents it, the page shows its lines under the first",
  async (browser) => {
    const server = await ServerProcess.start(["--rate", "0"]);
    const { client: bob } = await TestClient.join(server.port, "bob");
    const carol = await ncUser(server.port, "carol");
    const alice = await ChatPage.open(browser, url(server));
    const phone = await ChatPage.open(browser, url(server), {
      width: 375,
      height: 667,
    });
    try {
      await alice.join("alice");
      await phone.join("dave");
      await alice.waitForLine("dave joined lobby");
      const field = alice.page.locator("#line");
      assert.equal(await field.evaluate((e) => e.tagName), "TEXTAREA");
      const oneLine = await fieldHeight(alice);

      // Typed: Shift-Enter and Alt-Enter break the line, Enter sends.
      await field.click();
      await field.pressSequentially("first line");
      await field.press("Shift+Enter");
      await field.pressSequentially("second line");
      await field.press("Alt+Enter");
      await field.pressSequentially("  third, indented");
      assert.equal(
        await field.inputValue(),
        "first line\nsecond line\n  third, indented",
      );
      // The field grew with its three lines.
      assert.ok(
        await fieldHeight(alice) > oneLine * 1.8,
        `${await fieldHeight(alice)} vs ${oneLine}`,
      );
      await field.press("Enter");
      const typed = await nextMessage(bob, /^first line/);
      assert.equal(typed.text, "first line\nsecond line\n  third, indented");
      assert.equal(typed.from, "alice");
      assert.equal(await field.inputValue(), "");
      assert.equal(await fieldHeight(alice), oneLine);

      // nc: one message, its further lines indented under its first's text.
      const first = await carol.waitForLine("alice: first line");
      const indent = first.indexOf("first line");
      assert.equal(await carol.nextLine(), `${" ".repeat(indent)}second line`);
      assert.equal(
        await carol.nextLine(),
        `${" ".repeat(indent)}  third, indented`,
      );

      // Pasted: the whole text goes in at once (as a paste puts it), and
      // Ctrl-J breaks a line too.
      await field.click();
      const cdp = await alice.context.newCDPSession(alice.page);
      await cdp.send("Input.insertText", {
        text: "pasted one\npasted two\npasted three",
      });
      await cdp.detach();
      await field.press("Control+j");
      await field.pressSequentially("and typed");
      await field.press("Enter");
      const pasted = await nextMessage(bob, /^pasted one/);
      assert.equal(
        pasted.text,
        "pasted one\npasted two\npasted three\nand typed",
      );
      const pastedFirst = await carol.waitForLine("alice: pasted one");
      const pastedIndent = pastedFirst.indexOf("pasted one");
      for (const rest of ["pasted two", "pasted three", "and typed"]) {
        assert.equal(
          await carol.nextLine(),
          `${" ".repeat(pastedIndent)}${rest}`,
        );
      }

      // The phone shows the lines as lines, the second under the first's
      // text (not under the name), as text, with nothing sideways.
      const line = phone.page.locator("li.msg", { hasText: "first line" });
      await line.waitFor();
      const text = line.locator(".text");
      assert.equal(
        await text.evaluate((e) =>
          (e as unknown as { innerText: string }).innerText
        ),
        "first line\nsecond line\n  third, indented",
      );
      const left = async (selector: string) =>
        await line.locator(selector).evaluate((e) =>
          e.getBoundingClientRect().left
        );
      assert.ok(await left(".text") > await left(".nick") + 20);
      assert.equal(await text.locator("*").count(), 0);
      assert.ok(await phone.scrollWidth() <= 375);

      // Over the limit, nothing is sent and nothing lost: it stays.
      const tooMany = Array.from({ length: 51 }, (_, i) => `row ${i + 1}`)
        .join("\n");
      await field.click();
      const again = await alice.context.newCDPSession(alice.page);
      await again.send("Input.insertText", { text: tooMany });
      await again.detach();
      await field.press("Enter");
      assert.match(
        await alice.fieldError(),
        /51 lines, a message holds at most 50/,
      );
      assert.equal(await field.inputValue(), tooMany);
      assert.equal(await alice.page.locator("#as-file").isVisible(), true);
      // The tall text scrolls inside a field that stopped growing.
      const tall = await fieldHeight(alice);
      assert.ok(tall < 667 / 2 && tall > oneLine * 3, `${tall}`);
      assert.deepEqual(alice.errors, []);
      assert.deepEqual(phone.errors, []);
    } finally {
      await alice.close();
      await phone.close();
      await carol.close();
      await bob.close();
      await server.stop();
    }
  },
);

browserTest(
  "a reply picked with a message's Reply button carries reply_to; a second page shows its quote, which leads to the original; Esc cancels",
  async (browser) => {
    const server = await ServerProcess.start(["--rate", "0"]);
    const { client: bob } = await TestClient.join(server.port, "bob");
    const alice = await ChatPage.open(browser, url(server));
    const carol = await ChatPage.open(browser, url(server), {
      width: 375,
      height: 667,
      colorScheme: "dark",
    });
    try {
      await alice.join("alice");
      await carol.join("carol");
      bob.send({ type: "say", text: "did you push the fix?" });
      const asked = await nextMessage(bob, "did you push the fix?");
      for (let n = 1; n <= 3; n++) {
        bob.send({ type: "say", text: `later ${n}` });
      }
      await nextMessage(bob, "later 3");
      await alice.waitForLine("later 3");

      // The button shows over the line the pointer is on.
      const line = alice.page.locator(`li.msg[data-id="${asked.id}"]`);
      const button = line.getByRole("button", { name: "Reply to bob" });
      assert.equal(await button.isVisible(), false);
      await line.hover();
      await button.click();
      const bar = alice.page.locator("#replying");
      assert.equal(await bar.isVisible(), true);
      assert.equal(
        await bar.locator("#replying-text").textContent(),
        "Replying to bob: did you push the fix?",
      );
      assert.equal(
        await alice.page.evaluate<string>("document.activeElement.id"),
        "line",
      );
      await alice.say("yes, pushed 🚀");
      const answer = await nextMessage(bob, "yes, pushed 🚀");
      assert.equal(answer.reply_to, asked.id);
      assert.deepEqual(answer.quote, {
        id: asked.id,
        from: "bob",
        text: "did you push the fix?",
      });
      // Sent: the bar is gone, and the next message is a plain one.
      assert.equal(await bar.isVisible(), false);
      await alice.say("plain after");
      assert.equal((await nextMessage(bob, "plain after")).reply_to, undefined);

      // The second page shows the quote above the answer; picking it shows
      // the original, highlighted.
      const reply = carol.page.locator("li.msg", { hasText: "yes, pushed" });
      await reply.waitFor();
      assert.equal(
        await reply.locator(".quote").textContent(),
        "↪ bob: did you push the fix?",
      );
      await carol.page.locator("#log-box").evaluate((box) => box.scrollTop = 0);
      await reply.locator(".quote").click();
      const original = carol.page.locator(
        `li.msg.found[data-id="${asked.id}"]`,
      );
      await original.waitFor();
      assert.equal(
        await original.evaluate((e) => e === e.ownerDocument.activeElement),
        true,
      );

      // Esc cancels a reply, and so does the bar's ✕.
      await line.hover();
      await button.click();
      assert.equal(await bar.isVisible(), true);
      await alice.page.keyboard.press("Escape");
      assert.equal(await bar.isVisible(), false);
      await line.hover();
      await button.click();
      await alice.page.locator("#replying-cancel").click();
      assert.equal(await bar.isVisible(), false);
      await alice.say("not a reply");
      assert.equal((await nextMessage(bob, "not a reply")).reply_to, undefined);
      assert.deepEqual(alice.errors, []);
      assert.deepEqual(carol.errors, []);
    } finally {
      await alice.close();
      await carol.close();
      await bob.close();
      await server.stop();
    }
  },
);

browserTest(
  "a reply from the keyboard alone: arrows walk the log and Enter picks, Alt-Up from the field picks the newest then older; a phone's tap shows Reply",
  async (browser) => {
    const server = await ServerProcess.start(["--rate", "0"]);
    const { client: bob } = await TestClient.join(server.port, "bob");
    const alice = await ChatPage.open(browser, url(server));
    const touch = await browser.newContext({
      viewport: { width: 375, height: 667 },
      hasTouch: true,
      isMobile: true,
      locale: "en-GB",
    });
    const phone = await ChatPage.open(browser, url(server), {
      context: touch,
    });
    const focusedText = () =>
      alice.page.evaluate<string>("document.activeElement.textContent");
    try {
      await alice.join("alice");
      await phone.join("dave");
      const sent: RoomMessage[] = [];
      // The first is longer than a phone's line: its bar must not widen
      // the page.
      const tail = ", with a tail longer than a phone shows on one line";
      for (const text of [`one${tail}`, "two", "three"]) {
        bob.send({ type: "say", text: `number ${text}` });
        sent.push(await nextMessage(bob, `number ${text}`));
      }
      await alice.waitForLine("number three");

      // From the log: Up picks the newest message on screen, Up again the
      // one before; Enter answers it and puts the focus in the field.
      await alice.page.locator("#log-box").focus();
      await alice.page.keyboard.press("ArrowUp");
      assert.match(await focusedText(), /number three/);
      await alice.page.keyboard.press("ArrowUp");
      assert.match(await focusedText(), /number two/);
      await alice.page.keyboard.press("Enter");
      assert.equal(
        await alice.page.evaluate<string>("document.activeElement.id"),
        "line",
      );
      assert.equal(
        await alice.page.locator("#replying-text").textContent(),
        "Replying to bob: number two",
      );
      await alice.page.keyboard.type("answer to two");
      await alice.page.keyboard.press("Enter");
      assert.equal(
        (await nextMessage(bob, "answer to two")).reply_to,
        sent[1].id,
      );

      // A line's quote and Reply button are in the tab order while the
      // line has the focus (and only then: a room's lines are not all tab
      // stops).
      await alice.waitForLine("answer to two");
      await alice.page.locator("#log-box").focus();
      await alice.page.keyboard.press("ArrowUp");
      assert.match(await focusedText(), /answer to two/);
      await alice.page.keyboard.press("Tab");
      assert.equal(await focusedText(), "↪ bob: number two");
      await alice.page.keyboard.press("Tab");
      assert.equal(
        await alice.page.evaluate<string>(
          "document.activeElement.getAttribute('aria-label')",
        ),
        "Reply to alice",
      );
      await alice.page.keyboard.press("Enter");
      assert.equal(
        await alice.page.locator("#replying-text").textContent(),
        "Replying to alice: answer to two",
      );
      await alice.page.keyboard.press("Escape");
      assert.equal(await alice.page.locator("#replying").isVisible(), false);
      assert.equal(
        await alice.page.locator("li.msg .reply-button[tabindex='0']").count(),
        0,
      );

      // From the field, as in chat connect: Alt-Up picks the newest, then
      // older; Alt-Down comes back; past the newest, none.
      await alice.page.keyboard.press("Alt+ArrowUp");
      assert.match(
        await alice.page.locator("#replying-text").textContent() ?? "",
        /Replying to alice: answer to two/,
      );
      await alice.page.keyboard.press("Alt+ArrowUp");
      await alice.page.keyboard.press("Alt+ArrowUp");
      await alice.page.keyboard.press("Alt+ArrowUp");
      // The bar shows the start of a long text, "…" where it is cut.
      assert.equal(
        await alice.page.locator("#replying-text").textContent(),
        `Replying to bob: ${`number one${tail}`.slice(0, 59)}…`,
      );
      assert.equal(await alice.page.locator("li.replied").count(), 1);
      await alice.page.keyboard.press("Alt+ArrowDown");
      await alice.page.keyboard.type("answer to two again");
      await alice.page.keyboard.press("Enter");
      assert.equal(
        (await nextMessage(bob, "answer to two again")).reply_to,
        sent[1].id,
      );
      // Once the page shows it: Alt-Up picks the newest, Alt-Down none.
      await alice.waitForLine("answer to two again");
      await alice.page.keyboard.press("Alt+ArrowUp");
      await alice.page.keyboard.press("Alt+ArrowDown");
      assert.equal(await alice.page.locator("#replying").isVisible(), false);

      // A phone: a tap on a message shows its Reply button; a tap on it answers.
      const line = phone.page.locator("li.msg", { hasText: "number one" });
      await line.waitFor();
      const button = line.getByRole("button", { name: "Reply to bob" });
      assert.equal(await button.isVisible(), false);
      await line.locator(".text").tap();
      assert.equal(await button.isVisible(), true);
      await button.tap();
      assert.match(
        await phone.page.locator("#replying-text").textContent() ?? "",
        /^Replying to bob: number one, with a tail .*…$/,
      );
      assert.ok(await phone.scrollWidth() <= 375);
      assert.equal(await phone.page.locator("#send").isVisible(), true);
      await phone.say("from the phone");
      assert.equal(
        (await nextMessage(bob, "from the phone")).reply_to,
        sent[0].id,
      );
      assert.ok(await phone.scrollWidth() <= 375);
      assert.deepEqual(alice.errors, []);
      assert.deepEqual(phone.errors, []);
    } finally {
      await alice.close();
      await phone.close();
      await touch.close();
      await bob.close();
      await server.stop();
    }
  },
);

browserTest(
  "Tab after @b completes the name of someone in the room, the next Tab the next one; without an @ Tab moves on",
  async (browser) => {
    const server = await ServerProcess.start(["--rate", "0"]);
    const { client: bob } = await TestClient.join(server.port, "bob");
    const { client: bea } = await TestClient.join(server.port, "Bea");
    const { client: carl } = await TestClient.join(server.port, "carl");
    const alice = await ChatPage.open(browser, url(server));
    try {
      await alice.join("alice");
      const field = alice.page.locator("#line");
      await field.click();
      await field.pressSequentially("hi @b");
      await field.press("Tab");
      assert.equal(await field.inputValue(), "hi @Bea ");
      await field.press("Tab");
      assert.equal(await field.inputValue(), "hi @bob ");
      await field.pressSequentially("and @CA");
      await field.press("Tab");
      assert.equal(await field.inputValue(), "hi @bob and @carl ");
      // Nobody called "@z", and a mail address is no mention: Tab moves on.
      await field.pressSequentially("me@c");
      await field.press("Tab");
      assert.equal(await field.inputValue(), "hi @bob and @carl me@c");
      assert.equal(
        await alice.page.evaluate<string>("document.activeElement.id"),
        "send",
      );
      await field.focus();
      await field.press("End");
      await field.press("Enter");
      const said = await nextMessage(carl, /^hi @bob/);
      assert.deepEqual(said.mentions, ["bob", "carl"]);
      assert.deepEqual(alice.errors, []);
    } finally {
      await alice.close();
      for (const client of [bob, bea, carl]) await client.close();
      await server.stop();
    }
  },
);
