/**
 * The web page's files, search and role-aware `/help` in a real browser
 * (Debian's Chromium, headless), driven as a person would.
 *
 * Files are tested against a scripted server that plays the server's side
 * of uploads as docs/protocol.md describes them (`upload` → `upload_ready`
 * → `PUT /upload/TOKEN` → the room's `msg` with its `file`), so the page's
 * every branch (refusals, failed PUTs, hostile links) can be made to
 * happen; search and `/help` against the real `chat serve`.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Page } from "playwright-core";
import { runChat, ServerProcess, tempDir, TestClient } from "./helpers.ts";
import { LineSplitter } from "../protocol.ts";
import {
  contentSecurityPolicy,
  serveWeb,
} from "../src/server/doors/web/web_door.ts";
import { WEB_ASSETS } from "../src/server/doors/web/assets.ts";
import { browserTests, ChatPage, eventually } from "./browser_helpers.ts";
import { makePng } from "./png.ts";

const browserTest = browserTests();

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A file the scripted server stored. */
interface StoredFile {
  name: string;
  mime: string;
  bytes: Uint8Array;
}

/**
 * A scripted server with uploads: its own small HTTP for the page's files,
 * `PUT /upload/TOKEN` and `GET /f/ID/NAME`; the WebSocket (`/ws`) goes to
 * the real web door, and a script plays the hub's side of the JSON dialect.
 */
class FileScriptedServer {
  /** Every frame the pages sent over their sockets. */
  readonly received: Record<string, unknown>[] = [];
  /** Every PUT, by path, with its bytes. */
  readonly puts: { path: string; bytes: Uint8Array }[] = [];
  /** What was stored, by file id. */
  readonly stored = new Map<string, StoredFile>();
  /** The size over which `upload` is refused. */
  maxBytes = 1024 * 1024;
  /** Tokens whose PUT is answered by this status and text instead. */
  readonly failPut = new Map<string, { status: number; text: string }>();
  #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  #conns = new Set<Deno.Conn>();
  #chats = new Set<(event: unknown) => void>();
  #tokens = new Map<
    string,
    { room: string; from: string; size: number; name: string; mime: string }
  >();
  #nextToken = 1;
  #nextId = 1;
  #serving: Promise<void>;

  constructor() {
    this.#serving = this.#accept();
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** Sends `event` to every page. */
  broadcast(event: unknown): void {
    for (const write of this.#chats) write(event);
  }

  async #accept(): Promise<void> {
    const serving: Promise<void>[] = [];
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        serving.push(this.#http(conn, serving));
      }
    } catch { /* closed */ }
    await Promise.allSettled(serving);
  }

  /** One request per connection (`Connection: close`), or the socket. */
  async #http(conn: Deno.Conn, serving: Promise<void>[]): Promise<void> {
    let data = new Uint8Array(0);
    const buffer = new Uint8Array(65536);
    const more = async () => {
      const n = await conn.read(buffer);
      if (n === null) return false;
      const next = new Uint8Array(data.length + n);
      next.set(data);
      next.set(buffer.subarray(0, n), data.length);
      data = next;
      return true;
    };
    try {
      let end = -1;
      while ((end = indexOfHeadEnd(data)) === -1) {
        if (!await more()) return;
      }
      const [requestLine, ...headerLines] = decoder.decode(
        data.subarray(0, end),
      ).split("\r\n");
      const [method, path] = requestLine.split(" ");
      if (path === "/ws") {
        // The real web door from here: the upgrade, then the JSON dialect.
        serving.push(serveWeb(conn, data, {
          startChat: (chat) => serving.push(this.#chat(chat)),
          requestTimeoutMs: 5000,
          log: () => {},
        }));
        return;
      }
      const headers = new Map(headerLines.map((line) => {
        const colon = line.indexOf(":");
        return [
          line.slice(0, colon).trim().toLowerCase(),
          line.slice(colon + 1).trim(),
        ];
      }));
      const host = headers.get("host");
      if (method === "PUT" && path.startsWith("/upload/")) {
        const length = Number(headers.get("content-length") ?? "0");
        while (data.length - (end + 4) < length) {
          if (!await more()) return;
        }
        const bytes = data.slice(end + 4, end + 4 + length);
        return await this.#respond(conn, host, this.#put(path, bytes));
      }
      const asset = WEB_ASSETS.get(path);
      if (method === "GET" && asset) {
        return await this.#respond(conn, host, {
          status: 200,
          type: asset.type,
          body: asset.body,
        });
      }
      const file = /^\/f\/([^/]+)\//.exec(path);
      const stored = file ? this.stored.get(file[1]) : undefined;
      if (method === "GET" && stored) {
        return await this.#respond(conn, host, {
          status: 200,
          type: stored.mime,
          body: stored.bytes,
        });
      }
      await this.#respond(conn, host, {
        status: 404,
        type: "text/plain",
        body: encoder.encode("not found"),
      });
    } catch { /* closed */ }
  }

  #put(path: string, bytes: Uint8Array) {
    const token = path.slice("/upload/".length);
    this.puts.push({ path, bytes });
    const failure = this.failPut.get(token);
    if (failure) {
      return {
        status: failure.status,
        type: "application/json",
        body: encoder.encode(failure.text),
      };
    }
    const upload = this.#tokens.get(token);
    this.#tokens.delete(token);
    if (!upload || upload.size !== bytes.length) {
      return {
        status: 400,
        type: "text/plain",
        body: encoder.encode("not the upload announced"),
      };
    }
    const id = String(this.#nextId++);
    const url = `/f/${id}/${encodeURIComponent(upload.name)}`;
    this.stored.set(id, { name: upload.name, mime: upload.mime, bytes });
    const msgId = this.#nextId++;
    this.broadcast({
      type: "msg",
      id: msgId,
      ts: Date.now(),
      room: upload.room,
      from: upload.from,
      text:
        `${upload.name} (${bytes.length} bytes): http://127.0.0.1:${this.port}${url}`,
      file: {
        id,
        name: upload.name,
        size: bytes.length,
        mime: upload.mime,
        url,
        // As the real server: inline only for what its bytes prove a picture.
        inline: upload.mime === "image/png" && isPng(bytes),
      },
    });
    return {
      status: 201,
      type: "application/json",
      body: encoder.encode(JSON.stringify({ id, url })),
    };
  }

  async #respond(
    conn: Deno.Conn,
    host: string | undefined,
    response: { status: number; type: string; body: Uint8Array },
  ): Promise<void> {
    const head = encoder.encode(
      [
        `HTTP/1.1 ${response.status} X`,
        `Content-Type: ${response.type}`,
        `Content-Length: ${response.body.length}`,
        `Content-Security-Policy: ${contentSecurityPolicy(host)}`,
        "X-Content-Type-Options: nosniff",
        "Connection: close",
        "",
        "",
      ].join("\r\n"),
    );
    const out = new Uint8Array(head.length + response.body.length);
    out.set(head);
    out.set(response.body, head.length);
    let offset = 0;
    while (offset < out.length) {
      offset += await conn.write(out.subarray(offset));
    }
    conn.close();
    this.#conns.delete(conn);
  }

  async #chat(conn: Deno.Conn): Promise<void> {
    const write = (event: unknown) =>
      conn.write(encoder.encode(JSON.stringify(event) + "\n")).catch(() => {});
    const splitter = new LineSplitter();
    const buffer = new Uint8Array(65536);
    let me = "";
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        splitter.push(buffer.subarray(0, n), (piece) => {
          if (piece.kind !== "line") return;
          const frame = JSON.parse(decoder.decode(piece.bytes));
          this.received.push(frame);
          if (frame.type === "hello") {
            me = frame.nick;
            this.#chats.add(write);
            write({
              type: "welcome",
              nick: me,
              room: "lobby",
              users: [me, "bob"],
              history: [],
              rooms: ["lobby"],
              server: { name: "files", version: "0.2.0" },
            });
          } else if (frame.type === "say") {
            this.broadcast({
              type: "msg",
              id: this.#nextId++,
              ts: Date.now(),
              room: frame.room ?? "lobby",
              from: me,
              text: frame.text,
            });
          } else if (frame.type === "upload") {
            if (frame.size > this.maxBytes) {
              return write({
                type: "error",
                code: "file_too_large",
                message: `a file may be at most ${this.maxBytes} bytes`,
              });
            }
            const token = `t${this.#nextToken++}`;
            this.#tokens.set(token, {
              room: frame.room,
              from: me,
              size: frame.size,
              name: frame.name,
              mime: frame.mime,
            });
            write({
              type: "upload_ready",
              token,
              url: `/upload/${token}`,
              expires_in: 60,
              room: frame.room,
              name: frame.name,
              size: frame.size,
            });
          }
        });
      }
    } catch { /* closed */ }
    this.#chats.delete(write);
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

function isPng(bytes: Uint8Array): boolean {
  return [0x89, 0x50, 0x4e, 0x47].every((b, i) => bytes[i] === b);
}

function indexOfHeadEnd(data: Uint8Array): number {
  for (let i = 0; i + 3 < data.length; i++) {
    if (
      data[i] === 13 && data[i + 1] === 10 && data[i + 2] === 13 &&
      data[i + 3] === 10
    ) return i;
  }
  return -1;
}

/** Picks files through the attach button, as a person does. */
async function attach(
  page: Page,
  files: { name: string; mimeType: string; buffer: Uint8Array }[],
): Promise<void> {
  const chooser = page.waitForEvent("filechooser");
  await page.locator("#attach").click();
  await (await chooser).setFiles(
    files.map((f) => ({ ...f, buffer: Buffer.from(f.buffer) })),
  );
}

/** The bytes a download link gives, through the browser's own download. */
async function download(page: Page, link: string): Promise<Uint8Array> {
  const started = page.waitForEvent("download");
  await page.locator(link).first().click();
  const done = await started;
  const path = await done.path();
  return await Deno.readFile(path);
}

const picture = await makePng(64, 48, (x, y) => [x * 4, y * 5, 160]);

browserTest(
  "a picture shared through the attach button: asked for, PUT byte for byte, shown as a thumbnail that opens the full picture",
  async (browser) => {
    const server = new FileScriptedServer();
    const alice = await ChatPage.open(browser, server.url);
    const bob = await ChatPage.open(browser, server.url, {
      width: 375,
      height: 667,
    });
    try {
      await alice.join("alice");
      await bob.join("bob");
      // The attach button is labelled, and in reach of the keyboard: just
      // before the message field, Enter opens the file chooser.
      await alice.page.getByRole("button", { name: "Attach a file or picture" })
        .waitFor();
      await alice.page.locator("#line").focus();
      await alice.page.keyboard.press("Shift+Tab");
      assert.equal(
        await alice.page.evaluate<string>("document.activeElement.id"),
        "attach",
      );
      const chooser = alice.page.waitForEvent("filechooser");
      // Playwright catches choosers once its listener is set up in the
      // browser: one round trip, and an Enter's chooser is caught too.
      await alice.page.evaluate("0");
      await alice.page.keyboard.press("Enter");
      await (await chooser).setFiles({
        name: "作业.png",
        mimeType: "image/png",
        buffer: Buffer.from(picture),
      });
      const thumb = bob.page.locator("#log-box li.msg .thumb img");
      await thumb.waitFor({ timeout: 15_000 });
      assert.deepEqual(
        server.received.filter((f) => f.type === "upload"),
        [{
          type: "upload",
          room: "lobby",
          name: "作业.png",
          size: picture.length,
          mime: "image/png",
        }],
      );
      assert.equal(server.puts.length, 1);
      assert.deepEqual(server.puts[0].bytes, picture);
      // The thumbnail is the picture itself, loaded lazily, scaled by CSS.
      await eventually(
        "the thumbnail has loaded",
        async () =>
          await bob.page.evaluate<number>(
            `document.querySelector("#log-box li.msg .thumb img").naturalWidth`,
          ) === 64,
      );
      assert.equal(await thumb.getAttribute("loading"), "lazy");
      assert.equal(await thumb.getAttribute("alt"), "作业.png");
      const line = await bob.waitForLine("作业.png");
      assert.match(line, /alice: 作业\.png/);
      assert.match(line, /Download/);
      // The sender's upload row said it was shared, then went away.
      await alice.page.locator("#uploads li", { hasText: "shared in lobby" })
        .waitFor();
      await alice.page.locator("#uploads").waitFor({ state: "hidden" });

      // A click opens the full picture over the chat; Escape closes it.
      await bob.page.locator("#log-box .thumb").click();
      const viewer = bob.page.locator("#viewer");
      await viewer.waitFor();
      assert.match(await viewer.innerText(), /作业\.png/);
      assert.equal(
        await bob.page.evaluate<number>(
          `(() => { const i = document.getElementById("viewer-image"); return i.complete ? i.naturalWidth : 0; })()`,
        ),
        64,
      );
      await bob.page.keyboard.press("Escape");
      await viewer.waitFor({ state: "hidden" });
      // The phone does not scroll sideways with a picture in the log.
      assert.ok(await bob.scrollWidth() <= 375);
      // Its download link gives the same bytes.
      assert.deepEqual(
        await download(bob.page, "#log-box a.file-download"),
        picture,
      );
      for (const page of [alice, bob]) {
        assert.deepEqual(page.errors, []);
        for (const request of page.requests) {
          assert.match(
            request,
            new RegExp(`^(http|ws)://127\\.0\\.0\\.1:${server.port}/`),
          );
        }
      }
    } finally {
      await alice.close();
      await bob.close();
      await server.close();
    }
  },
);

browserTest(
  "a file pasted into the field and one dropped on the messages go up; a file shows as a card whose link downloads it byte for byte",
  async (browser) => {
    const server = new FileScriptedServer();
    const alice = await ChatPage.open(browser, server.url);
    try {
      await alice.join("alice");
      // A paste that holds a file shares it; the field keeps no text.
      await alice.page.locator("#line").click();
      await alice.page.evaluate(`(() => {
        const data = new DataTransfer();
        data.items.add(new File(["第一行\\nline two\\n"], "notes 笔记.txt", { type: "text/plain" }));
        const event = new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true });
        document.getElementById("line").dispatchEvent(event);
      })()`);
      const card = alice.page.locator("#log-box li.msg .file", {
        hasText: "notes 笔记.txt",
      });
      await card.waitFor({ timeout: 15_000 });
      assert.equal(await alice.page.locator("#line").inputValue(), "");
      const expected = encoder.encode("第一行\nline two\n");
      assert.match(
        await card.innerText(),
        new RegExp(`notes 笔记\\.txt\\s*${expected.length} bytes\\s*Download`),
      );
      // Not a picture: a card with no image.
      assert.equal(await card.locator("img").count(), 0);
      assert.deepEqual(
        await download(alice.page, "#log-box a.file-download"),
        expected,
      );

      // A file dragged over the messages says where it goes; dropped, it goes.
      await alice.page.evaluate(`(() => {
        globalThis.dropped = new DataTransfer();
        globalThis.dropped.items.add(new File([new Uint8Array([0, 1, 2, 255])], "data.bin", { type: "" }));
        document.getElementById("log-box").dispatchEvent(
          new DragEvent("dragenter", { dataTransfer: globalThis.dropped, bubbles: true, cancelable: true }));
      })()`);
      await alice.page.locator("#drop", { hasText: "Drop to share in lobby" })
        .waitFor();
      await alice.page.evaluate(
        `document.getElementById("log-box").dispatchEvent(
        new DragEvent("drop", { dataTransfer: globalThis.dropped, bubbles: true, cancelable: true }))`,
      );
      await alice.page.locator("#drop").waitFor({ state: "hidden" });
      await alice.page.locator("#log-box li.msg .file", { hasText: "data.bin" })
        .waitFor({ timeout: 15_000 });
      const uploads = server.received.filter((f) => f.type === "upload");
      assert.deepEqual(uploads.map((u) => [u.name, u.size, u.mime]), [
        ["notes 笔记.txt", expected.length, "text/plain"],
        ["data.bin", 4, "application/octet-stream"],
      ]);
      assert.deepEqual(server.puts[1].bytes, new Uint8Array([0, 1, 2, 255]));
      assert.deepEqual(alice.errors, []);
    } finally {
      await alice.close();
      await server.close();
    }
  },
);

browserTest(
  "an upload the server refuses says why beside the field and PUTs nothing; a failed PUT says the server's words and can be retried",
  async (browser) => {
    const server = new FileScriptedServer();
    server.maxBytes = 100;
    const alice = await ChatPage.open(browser, server.url, {
      width: 375,
      height: 667,
    });
    try {
      await alice.join("alice");
      await attach(alice.page, [{
        name: "big.png",
        mimeType: "image/png",
        buffer: picture,
      }]);
      // Its row, just above the field, says why in the server's words.
      const row = alice.page.locator("#uploads li", {
        hasText: "a file may be at most 100 bytes",
      });
      await row.waitFor();
      assert.match(
        await row.innerText(),
        /big\.png.*not shared: a file may be at most 100 bytes/s,
      );
      assert.equal(server.puts.length, 0);
      // The same file would be refused again: no Retry, only Dismiss.
      assert.equal(await row.getByRole("button", { name: /again/ }).count(), 0);
      await row.getByRole("button", { name: "Dismiss big.png" }).click();
      await alice.page.locator("#uploads").waitFor({ state: "hidden" });

      // The next PUT is refused by the server, in its words.
      server.maxBytes = 1024 * 1024;
      server.failPut.set("t1", {
        status: 507,
        text:
          '{"error":"files_quota_full","message":"the server is out of room for files"}',
      });
      await attach(alice.page, [{
        name: "small.png",
        mimeType: "image/png",
        buffer: picture,
      }]);
      const failed = alice.page.locator("#uploads li", {
        hasText: "the server is out of room for files",
      });
      await failed.waitFor();
      assert.equal(await alice.page.locator("#log-box .file").count(), 0);
      // Tried again, it asks afresh and goes up.
      await failed.getByRole("button", { name: "Try small.png again" }).click();
      await alice.page.locator("#log-box .thumb img").waitFor({
        timeout: 15_000,
      });
      assert.equal(server.puts.length, 2);
      assert.equal(
        server.received.filter((f) => f.type === "upload").length,
        3,
      );
      assert.ok(await alice.scrollWidth() <= 375);
      assert.deepEqual(alice.errors, []);
    } finally {
      await alice.close();
      await server.close();
    }
  },
);

browserTest(
  "a file message whose link is foreign or script gets no link and no picture; its name shows as text",
  async (browser) => {
    const server = new FileScriptedServer();
    const alice = await ChatPage.open(browser, server.url);
    try {
      await alice.join("alice");
      await alice.waitForLine("Welcome, alice!");
      const hostileName = `<img src=x onerror=alert(1)>.png`;
      let id = 900;
      for (
        const url of [
          "javascript:alert(1)",
          "http://evil.example/f/1/x.png",
          "//evil.example/x.png",
        ]
      ) {
        server.broadcast({
          type: "msg",
          id: id++,
          ts: Date.now(),
          room: "lobby",
          from: "mallory",
          text: `shared ${url}`,
          file: {
            id: "1",
            name: hostileName,
            size: 10,
            mime: "image/png",
            url,
            inline: true,
          },
        });
      }
      // An SVG from this very server is a file to download, never shown.
      server.broadcast({
        type: "msg",
        id: id++,
        ts: Date.now(),
        room: "lobby",
        from: "mallory",
        text: "an svg",
        file: {
          id: "2",
          name: "logo.svg",
          size: 10,
          mime: "image/svg+xml",
          url: "/f/2/logo.svg",
          inline: true,
        },
      });
      await alice.waitForLine("logo.svg");
      assert.equal(await alice.count(hostileName), 3);
      assert.equal(await alice.page.locator("#log-box img").count(), 0);
      assert.equal(
        await alice.page.locator("#log-box a[href]").count(),
        1,
        "only the SVG on this server has a (download) link",
      );
      assert.match(
        await alice.page.locator("#log-box a[href]").getAttribute("href") ?? "",
        new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/f/2/logo\\.svg$`),
      );
      assert.equal(
        await alice.page.locator("#log-box a[href]").getAttribute("download"),
        "logo.svg",
      );
      assert.deepEqual(alice.dialogs, []);
      assert.deepEqual(alice.errors, []);
    } finally {
      await alice.close();
      await server.close();
    }
  },
);

// ---------------------------------------------------------------------------
// Search and /help, against the real server.

const serverUrl = (server: ServerProcess) => `http://127.0.0.1:${server.port}/`;

/** A JSON member that says `texts` in `room` and waits for their echoes. */
async function sayAll(
  client: TestClient,
  texts: string[],
  room?: string,
): Promise<number[]> {
  for (const text of texts) {
    client.send(room ? { type: "say", text, room } : { type: "say", text });
  }
  const ids: number[] = [];
  for (const text of texts) {
    const echo = await client.waitFor(
      (e) => e.type === "msg" && e.text === text,
      15_000,
    );
    if (echo.type === "msg") ids.push(echo.id);
  }
  return ids;
}

/** Whether the line of message `id` is highlighted and inside the log's view. */
function foundInView(page: Page, id: number): Promise<boolean> {
  return page.evaluate(`(() => {
    const line = document.querySelector('#log-box li[data-id="${id}"]');
    if (!line || !line.classList.contains("found")) return false;
    const box = document.getElementById("log-box").getBoundingClientRect();
    const r = line.getBoundingClientRect();
    return r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
  })()`);
}

browserTest(
  "search from the page: Chinese words in every room of yours, newest first with time, sender and room; a result opens its room at the message",
  async (browser) => {
    const server = await ServerProcess.start(["--rate", "0"]);
    const { client: bob } = await TestClient.join(server.port, "bob");
    const { client: dave } = await TestClient.join(server.port, "dave", {
      room: "class",
    });
    const alice = await ChatPage.open(browser, serverUrl(server), {
      width: 375,
      height: 667,
    });
    try {
      const [lobbyHit] = await sayAll(bob, ["数学作业在第12页 📚"]);
      await sayAll(bob, ["nothing to see", "homework is on page 12"]);
      const [classHit] = await sayAll(dave, ["作业明天交"], "class");
      await alice.join("alice");
      await alice.say("/join class");
      await eventually(
        "alice is in class",
        async () =>
          await alice.page.locator("#title").textContent() === "class",
      );
      await alice.page.locator("#menu").click();
      await alice.page.locator("#rooms button.open", { hasText: "lobby" })
        .click();
      await alice.waitForLine("homework is on page 12");

      // The search button opens the field; Enter searches.
      await alice.page.locator("#search-toggle").click();
      await alice.page.locator("#search-field").fill("作业");
      await alice.page.press("#search-field", "Enter");
      const status = alice.page.locator("#search-status");
      await status.filter({ hasText: "2 messages found" }).waitFor();
      const results = await alice.page.locator("#search-results li")
        .allInnerTexts();
      assert.equal(results.length, 2);
      // Newest first: dave's in class, then bob's in the lobby.
      assert.match(
        results[0],
        /class\s+\d\d-\d\d \d\d:\d\d\s+dave\s+作业明天交/,
      );
      assert.match(
        results[1],
        /lobby\s+\d\d-\d\d \d\d:\d\d\s+bob\s+数学作业在第12页/,
      );
      assert.deepEqual(
        await alice.page.locator("#search-results mark").allTextContents(),
        ["作业", "作业"],
      );
      assert.ok(await alice.scrollWidth() <= 375);

      // A result in the room shown: scrolled to and highlighted.
      await alice.page.locator("#search-results button", {
        hasText: "数学作业",
      }).click();
      await eventually(
        "bob's message is highlighted in view",
        () => foundInView(alice.page, lobbyHit),
      );
      assert.equal(await alice.page.locator("#title").textContent(), "lobby");
      // A result in another room: that room opens at it.
      await alice.page.locator("#search-toggle").click();
      await alice.page.locator("#search-results button", {
        hasText: "作业明天交",
      }).click();
      await eventually(
        "dave's message is highlighted in class",
        () => foundInView(alice.page, classHit),
      );
      assert.equal(await alice.page.locator("#title").textContent(), "class");

      // /search in the message field answers in the same panel.
      await alice.say("/search homework PAGE");
      await status.filter({ hasText: "1 message found" }).waitFor();
      assert.equal(
        await alice.page.locator("#search-field").inputValue(),
        "homework PAGE",
      );
      assert.deepEqual(
        await alice.page.locator("#search-results mark").allTextContents(),
        ["homework", "page"],
      );
      await alice.page.keyboard.press("Escape");
      await alice.page.locator("#search").waitFor({ state: "hidden" });
      assert.deepEqual(alice.errors, []);
    } finally {
      await bob.close();
      await dave.close();
      await alice.close();
      await server.stop();
    }
  },
);

browserTest(
  "a search result older than the page shows: history is loaded back to it, each message once, and it is highlighted",
  async (browser) => {
    const server = await ServerProcess.start(["--rate", "0"]);
    const { client: bob } = await TestClient.join(server.port, "bob");
    const alice = await ChatPage.open(browser, serverUrl(server));
    try {
      await sayAll(bob, ["before the homework"]);
      const [target] = await sayAll(bob, ["上周的作业答案 ✅"]);
      const fillers = Array.from({ length: 120 }, (_, i) => `filler ${i + 1}`);
      await sayAll(bob, fillers);
      await alice.join("alice");
      await alice.waitForLine(/bob: filler 120$/);
      // The welcome holds the newest 50: the result is not shown yet.
      assert.equal(await alice.count("上周的作业答案"), 0);

      await alice.page.locator("#search-toggle").click();
      await alice.page.locator("#search-field").fill("作业");
      await alice.page.locator("#search-go").click();
      await alice.page.locator("#search-results button", {
        hasText: "上周的作业答案",
      }).click();
      await eventually(
        "the old message is loaded, highlighted and in view",
        () => foundInView(alice.page, target),
      );
      // Every message from it to the newest, once each and in order.
      const shown = (await alice.lines()).flatMap((line) => {
        const match = line.match(/bob: (filler \d+|上周的作业答案 ✅)$/);
        return match ? [match[1]] : [];
      });
      assert.deepEqual(shown, ["上周的作业答案 ✅", ...fillers]);
      // Scrolling up from there (a result at the top may already have
      // asked) still reaches the start.
      await alice.page.evaluate(
        "document.getElementById('log-box').scrollTop = 0",
      );
      await alice.waitForLine(/bob: before the homework$/);
      assert.equal(await alice.count("上周的作业答案 ✅"), 1);
      assert.deepEqual(alice.errors, []);
    } finally {
      await bob.close();
      await alice.close();
      await server.stop();
    }
  },
);

browserTest(
  "/help in the page lists what your role allows: the owner's moderation, a member's none, an admin's once made one",
  async (browser) => {
    const dir = await tempDir();
    const db = `${dir.path}/chat.db`;
    for (const [nick, role] of [["olga", "owner"], ["bob", "member"]]) {
      const made = await runChat(
        ["account", "add", nick, "--role", role, "--db", db],
        `${nick}-pass\n`,
      );
      assert.equal(made.code, 0, made.stderr);
    }
    const server = await ServerProcess.start(["--db", db]);
    const olga = await ChatPage.open(browser, serverUrl(server));
    const bob = await ChatPage.open(browser, serverUrl(server));
    const helpOf = async (page: ChatPage) => {
      await page.page.locator("#log-box ol.log").evaluate((log) =>
        log.replaceChildren()
      );
      await page.say("/help");
      await page.waitForLine("//text");
      return (await page.lines()).join("\n");
    };
    try {
      for (const [page, nick] of [[olga, "olga"], [bob, "bob"]] as const) {
        await page.login(nick);
        // A registered nickname: the same field asks for its password.
        await page.page.locator("#login-label", { hasText: "Password" })
          .waitFor();
        await page.login(`${nick}-pass`);
        await page.waitForChat();
      }
      const owner = await helpOf(olga);
      assert.match(owner, /the owner of lobby/);
      for (const command of ["/op NICK", "/mute NICK", "/kick NICK", "/ban"]) {
        assert.ok(owner.includes(command), command);
      }
      const member = await helpOf(bob);
      assert.match(member, /\/search WORDS/);
      assert.match(member, /\/reply NICK TEXT/);
      for (const command of ["/op", "/mute", "/kick", "/ban", "/charset"]) {
        assert.ok(!member.includes(`${command} `), command);
      }
      // Made an admin, bob's /help offers what an admin may do (not /op).
      await olga.say("/op bob");
      await bob.waitForLine(/bob .*admin/);
      const admin = await helpOf(bob);
      assert.match(admin, /an admin of lobby/);
      assert.ok(admin.includes("/mute NICK"));
      assert.ok(!admin.includes("/op NICK"));
      // And a command typed there acts in the room shown.
      await bob.say("/notice homework due Friday 📌");
      await olga.waitForLine("homework due Friday 📌");
    } finally {
      await olga.close();
      await bob.close();
      await server.stop();
      await dir.remove();
    }
  },
);

// ---------------------------------------------------------------------------
// Files against the real server.

browserTest(
  "the real server: a PNG through the attach button shows as a thumbnail in a second page and downloads byte for byte; a PDF is a card",
  async (browser) => {
    const dir = await tempDir();
    const server = await ServerProcess.start(["--db", `${dir.path}/chat.db`]);
    const alice = await ChatPage.open(browser, serverUrl(server));
    const bob = await ChatPage.open(browser, serverUrl(server), {
      width: 375,
      height: 667,
    });
    const { client: carol } = await TestClient.join(server.port, "carol");
    try {
      await alice.join("alice");
      await bob.join("bob");
      await alice.waitForLine("bob joined lobby");
      const photo = await makePng(320, 200, (x, y) => [x % 256, y, 200]);
      await attach(alice.page, [{
        name: "黑板 photo.png",
        mimeType: "image/png",
        buffer: photo,
      }]);
      const thumb = bob.page.locator("#log-box li.msg .thumb img");
      await thumb.waitFor({ timeout: 15_000 });
      await eventually(
        "the thumbnail has loaded in bob's page",
        async () =>
          await bob.page.evaluate<number>(
            `document.querySelector("#log-box li.msg .thumb img").naturalWidth`,
          ) === 320,
      );
      // Scaled by CSS: at most 240 pixels wide.
      const box = await thumb.boundingBox();
      assert.ok(box && box.width <= 240, JSON.stringify(box));
      assert.match(await bob.waitForLine("黑板 photo.png"), /alice: /);
      assert.deepEqual(
        await download(bob.page, "#log-box a.file-download"),
        photo,
      );
      // Other doors get the line with the link.
      const seen = await carol.waitFor(
        (e) => e.type === "msg" && e.from === "alice",
        15_000,
      );
      assert.ok(seen.type === "msg" && seen.text.includes("/f/"), seen.type);

      // A PDF is a card with its size and a download link, no picture.
      const pdf = encoder.encode("%PDF-1.4\n% homework 作业\n%%EOF\n");
      await attach(bob.page, [{
        name: "作业.pdf",
        mimeType: "application/pdf",
        buffer: pdf,
      }]);
      const card = alice.page.locator("#log-box li.msg .file", {
        hasText: "作业.pdf",
      });
      await card.waitFor({ timeout: 15_000 });
      assert.equal(await card.locator("img").count(), 0);
      assert.match(await card.innerText(), new RegExp(`${pdf.length} bytes`));
      assert.deepEqual(
        await download(
          alice.page,
          "#log-box li.msg:has-text('作业.pdf') a.file-download",
        ),
        pdf,
      );
      // A reload shows both again, from history.
      await bob.page.reload();
      await bob.waitForChat();
      await bob.page.locator("#log-box .thumb img").waitFor();
      await bob.waitForLine("作业.pdf");
      assert.ok(await bob.scrollWidth() <= 375);
      for (const page of [alice, bob]) assert.deepEqual(page.errors, []);
    } finally {
      await carol.close();
      await alice.close();
      await bob.close();
      await server.stop();
      await dir.remove();
    }
  },
);

browserTest(
  "the real server: a file over --max-file-size is refused in the server's words before any byte is sent",
  async (browser) => {
    const server = await ServerProcess.start(["--max-file-size", "1000"]);
    const alice = await ChatPage.open(browser, serverUrl(server));
    try {
      await alice.join("alice");
      const big = new Uint8Array(5000).fill(7);
      await attach(alice.page, [{
        name: "big.bin",
        mimeType: "application/octet-stream",
        buffer: big,
      }]);
      const row = alice.page.locator("#uploads li", { hasText: "big.bin" });
      await row.filter({ hasText: "not shared" }).waitFor({ timeout: 15_000 });
      assert.match(
        await row.innerText(),
        /not shared: big\.bin is .*this server takes files up to/,
      );
      // Nothing was PUT: the page never asked for more than the question.
      assert.ok(
        !alice.requests.some((r) => r.includes("/upload/")),
        alice.requests.join(" "),
      );
      assert.equal(await alice.page.locator("#log-box .file").count(), 0);
    } finally {
      await alice.close();
      await server.stop();
    }
  },
);

browserTest(
  "the real server: text too long for a message stays in the field and goes as a text file, whole; /send and /get work in the page",
  async (browser) => {
    const server = await ServerProcess.start();
    const alice = await ChatPage.open(browser, serverUrl(server));
    try {
      await alice.join("alice");
      const long = "很长的笔记 long notes ".repeat(600); // 10,200 characters.
      await alice.page.locator("#line").fill(long);
      await alice.page.press("#line", "Enter");
      await alice.page.locator("#error", {
        hasText: "not sent: 10200 characters, a message holds at most 4000",
      }).waitFor();
      assert.equal(await alice.page.locator("#line").inputValue(), long);
      await alice.page.getByRole("button", { name: "Send it as a text file" })
        .click();
      const card = alice.page.locator("#log-box li.msg .file", {
        hasText: /paste-.*\.txt/,
      });
      await card.waitFor({ timeout: 15_000 });
      assert.equal(await alice.page.locator("#line").inputValue(), "");
      // /get saves the newest file here: the text, whole.
      const saved = alice.page.waitForEvent("download");
      await alice.say("/get");
      const path = await (await saved).path();
      assert.equal(await Deno.readTextFile(path), long);
      // /send opens the same chooser as the button.
      const chooser = alice.page.waitForEvent("filechooser");
      await alice.say("/send");
      await (await chooser).setFiles({
        name: "a.txt",
        mimeType: "text/plain",
        buffer: Buffer.from("a"),
      });
      await alice.page.locator("#log-box .file", { hasText: "a.txt" }).waitFor({
        timeout: 15_000,
      });
      assert.deepEqual(alice.errors, []);
    } finally {
      await alice.close();
      await server.stop();
    }
  },
);
