/**
 * Takes the README's screenshots of the web page: a phone (375×667) and a
 * laptop (1280×800), light and dark, into docs/web-*.png, and the phone's
 * search panel (docs/web-phone-search-*.png). For each, it
 * starts a server on 127.0.0.1, plays a short conversation from JSON
 * clients around alice, and photographs what alice's browser shows.
 *
 * `deno run -A scripts/web_screenshots.ts` (needs /usr/bin/chromium, and
 * fonts-wqy-microhei and fonts-noto-color-emoji for Chinese and emoji).
 *
 * @module
 */

import { type Browser, chromium } from "playwright-core";
import { startServer } from "../server.ts";
import { SERVE_DEFAULTS } from "../src/shared/limits.ts";
import { makePng } from "../tests/png.ts";

const docs = new URL("../docs/", import.meta.url);
const encoder = new TextEncoder();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A member speaking JSON over TCP; what the server sends is read, and its
 * `upload_ready` answers kept, so it can share a picture.
 */
async function member(port: number, nick: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const send = (frame: Record<string, unknown>) =>
    conn.write(encoder.encode(JSON.stringify(frame) + "\n"));
  await send({ type: "hello", nick });
  const ready: { url: string }[] = [];
  (async () => {
    const buffer = new Uint8Array(65536);
    const decoder = new TextDecoder();
    let pending = "";
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        pending += decoder.decode(buffer.subarray(0, n), { stream: true });
        const lines = pending.split("\n");
        pending = lines.pop()!;
        for (const line of lines) {
          if (line.includes('"upload_ready"')) ready.push(JSON.parse(line));
        }
      }
    } catch { /* closed */ }
  })();
  /** Shares `bytes` as `name` in the member's room, as the page does. */
  const share = async (name: string, mime: string, bytes: Uint8Array) => {
    await send({ type: "upload", name, size: bytes.length, mime });
    while (ready.length === 0) await pause(20);
    const { url } = ready.shift()!;
    const answer = await fetch(`http://127.0.0.1:${port}${url}`, {
      method: "PUT",
      body: bytes as Uint8Array<ArrayBuffer>,
    });
    await answer.body?.cancel();
  };
  return { send, share, close: () => conn.close() };
}

/** A photo of the blackboard: chalk lines on green, in a wooden frame. */
function blackboard(): Promise<Uint8Array> {
  const width = 480;
  const height = 300;
  const chalk = new Uint8Array(width * height);
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  // Rows of handwriting: short strokes with a little wave.
  for (let row = 0; row < 6; row++) {
    let x = 40 + random() * 20;
    const y0 = 50 + row * 38;
    const end = row === 5 ? 260 : 420 - random() * 60;
    while (x < end) {
      const length = 8 + random() * 26;
      for (let dx = 0; dx < length; dx++) {
        const y = Math.round(y0 + Math.sin((x + dx) / 5) * 4 * random());
        for (let t = 0; t < 3; t++) {
          chalk[(y + t) * width + Math.round(x + dx)] = 1;
        }
      }
      x += length + 6 + random() * 8;
    }
  }
  // The answer, circled.
  for (let a = 0; a < 628; a++) {
    const x = Math.round(380 + Math.cos(a / 100) * 44);
    const y = Math.round(240 + Math.sin(a / 100) * 26);
    for (let t = 0; t < 3; t++) chalk[(y + t) * width + x] = 1;
  }
  return makePng(width, height, (x, y) => {
    if (x < 12 || y < 12 || x >= width - 12 || y >= height - 12) {
      return [150 - (x + y) % 7, 104, 58];
    }
    const dust = ((x * 7 + y * 13) % 17) - 8;
    return chalk[y * width + x]
      ? [236 + dust / 2, 240 + dust / 2, 232]
      : [40 + dust, 82 + dust, 62 + dust];
  });
}

async function scene(
  browser: Browser,
  layout: { name: string; width: number; height: number },
  scheme: "light" | "dark",
): Promise<void> {
  const server = startServer({
    ...SERVE_DEFAULTS,
    host: "127.0.0.1",
    port: 0,
    db: ":memory:",
    name: "class 3",
    rate: 0,
  }, () => {});
  await server.ready;
  const port = server.addr.port;
  const bob = await member(port, "bob");
  const ming = await member(port, "王小明");
  const carol = await member(port, "carol");
  await pause(100);
  await bob.send({
    type: "say",
    text: "大家好 👋 is everyone ready for Friday?",
  });
  await ming.send({ type: "say", text: "作业第三题有人做出来了吗？🤔" });
  await carol.send({ type: "me", text: "brings coffee ☕" });
  await bob.send({
    type: "say",
    text: "question 3 is the recursion one, right?",
  });
  await pause(100);
  await ming.share("黑板 第三题.png", "image/png", await blackboard());
  await pause(100);

  const context = await browser.newContext({
    viewport: { width: layout.width, height: layout.height },
    colorScheme: scheme,
    deviceScaleFactor: layout.name === "phone" ? 2 : 1,
    locale: "en-GB",
  });
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.locator("#login-field").fill("alice");
  await page.press("#login-field", "Enter");
  await page.locator("#chat:not([hidden])").waitFor();
  // A second room, with news waiting in it.
  await page.locator("#line").fill("/join 数学作业");
  await page.press("#line", "Enter");
  await page.locator("#title", { hasText: "数学作业" }).waitFor();
  const lobby = page.locator("#rooms button.open", { hasText: "lobby" });
  // On a phone the rooms are behind the menu button.
  if (!(await lobby.isVisible())) await page.locator("#menu").click();
  await lobby.click();
  await ming.send({ type: "join", room: "数学作业" });
  await pause(100);
  await ming.send({
    type: "say",
    room: "数学作业",
    text: "作业第三题答案是 42 吗？",
  });
  await ming.send({ type: "say", room: "数学作业", text: "@alice 帮我看看" });
  // Alice answers 王小明's question with the Reply button of its line.
  const question = page.locator("li.msg", { hasText: "有人做出来了吗" });
  await question.hover();
  await question.getByRole("button", { name: /^Reply to/ }).click();
  await page.locator("#line").fill("yes! 递归那题，我用了 memo 🚀");
  await page.press("#line", "Enter");
  await pause(100);
  await carol.send({
    type: "say",
    text: "alice: can you share your notes after class?",
  });
  await carol.send({ type: "dm", to: "alice", text: "psst, lunch at 12? 🍜" });
  const dave = await member(port, "dave");
  await pause(100);
  await dave.send({
    type: "say",
    text: "sorry I'm late 🙏\nwhat did I miss?",
  });
  await pause(300);
  // The next message will answer carol's: the bar above the field says so.
  const notes = page.locator("li.msg", { hasText: "share your notes" });
  await notes.hover();
  await notes.getByRole("button", { name: /^Reply to/ }).click();
  await page.locator("#line").fill("sure, 马上发 📎");
  await page.mouse.move(0, 0);
  await page.locator("#line").focus();
  await pause(100);
  const path = new URL(`web-${layout.name}-${scheme}.png`, docs).pathname;
  await page.screenshot({ path });
  console.log(`wrote ${path}`);
  if (layout.name === "phone") {
    // The search panel, over the same conversation.
    await page.locator("#line").fill("");
    await page.locator("#search-toggle").click();
    await page.locator("#search-field").fill("作业");
    await page.press("#search-field", "Enter");
    await page.locator("#search-status", { hasText: "found" }).waitFor();
    await pause(100);
    const search = new URL(`web-phone-search-${scheme}.png`, docs).pathname;
    await page.screenshot({ path: search });
    console.log(`wrote ${search}`);
  }
  await context.close();
  for (const client of [bob, ming, carol, dave]) client.close();
  await server.shutdown();
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
  ],
});
for (
  const layout of [
    { name: "phone", width: 375, height: 667 },
    { name: "laptop", width: 1280, height: 800 },
  ]
) {
  for (const scheme of ["light", "dark"] as const) {
    await scene(browser, layout, scheme);
  }
}
await browser.close();
