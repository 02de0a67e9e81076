/**
 * Takes the README's screenshots of the web page: a phone (375×667) and a
 * laptop (1280×800), light and dark, into docs/web-*.png. For each, it
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

const docs = new URL("../docs/", import.meta.url);
const encoder = new TextEncoder();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A member speaking JSON over TCP; what the server sends is drained. */
async function member(port: number, nick: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const send = (frame: Record<string, unknown>) =>
    conn.write(encoder.encode(JSON.stringify(frame) + "\n"));
  await send({ type: "hello", nick });
  (async () => {
    const buffer = new Uint8Array(65536);
    try {
      while (await conn.read(buffer) !== null) { /* drain */ }
    } catch { /* closed */ }
  })();
  return { send, close: () => conn.close() };
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
    text: "第三题答案是 42 吗？",
  });
  await ming.send({ type: "say", room: "数学作业", text: "@alice 帮我看看" });
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
  await dave.send({ type: "say", text: "sorry I'm late 🙏" });
  await pause(300);
  await page.locator("#line").fill("sure, 马上发 📎");
  await page.locator("#line").focus();
  await pause(100);
  const path = new URL(`web-${layout.name}-${scheme}.png`, docs).pathname;
  await page.screenshot({ path });
  console.log(`wrote ${path}`);
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
