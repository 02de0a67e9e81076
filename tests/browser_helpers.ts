/**
 * Driving the chat page in a real browser: Debian's Chromium, headless,
 * through `npm:playwright-core` (test-only; pinned). Chromium may look up
 * no outside host (`--host-resolver-rules`), and where it is missing the
 * browser tests say skipped with the reason.
 *
 * A {@linkcode ChatPage} acts as a person would: it types into the fields,
 * presses Enter and reads what the page shows.
 *
 * @module
 */

import {
  type Browser,
  type BrowserContext,
  chromium,
  type Page,
} from "playwright-core";

/** Debian's Chromium, which .ci/run installs. */
export const CHROMIUM = "/usr/bin/chromium";

/** Why the browser tests cannot run here, or `undefined` when they can. */
export const browserMissing: string | undefined = await Deno.stat(CHROMIUM)
  .then(
    () => undefined,
    () => `${CHROMIUM} not installed (.ci/run installs chromium)`,
  );

/** Flags that keep Chromium quiet, offline and fast in a test. */
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
];

/**
 * Launches Chromium with a fresh profile (playwright makes a new user data
 * directory for each launch, and each context is as fresh as a new one).
 */
export async function launchBrowser(): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    env: { ...Deno.env.toObject(), TZ: "UTC" },
  });
}

/** How to open a page. */
export interface PageOptions {
  width?: number;
  height?: number;
  colorScheme?: "light" | "dark";
  /** Device pixels per CSS pixel: 2 with half the width is 200 % zoom. */
  deviceScaleFactor?: number;
  /** Accept a self-signed certificate (the TLS test). */
  ignoreHTTPSErrors?: boolean;
  /** Reuse a context (its storage), for a second tab or a reload. */
  context?: BrowserContext;
}

/** What each page showed as it closed, so a failing test can print it. */
let closedPages: string[] = [];

/**
 * What every page closed since the last call showed (its lines, status,
 * errors and console), and forgets it: a failing browser test prints it,
 * since its screens cannot be looked at afterwards.
 */
export function takePageReports(): string {
  const report = closedPages.join("\n");
  closedPages = [];
  return report;
}

/** The chat page as a person sees it. */
export class ChatPage {
  /** Every dialog (`alert`) the page opened: hostile text must open none. */
  readonly dialogs: string[] = [];
  /** Uncaught errors in the page's script. */
  readonly errors: string[] = [];
  /** What the page logged on its console (the browser's own errors too). */
  readonly console: string[] = [];
  /** Requests the page made, by URL. */
  readonly requests: string[] = [];

  private constructor(
    readonly page: Page,
    readonly context: BrowserContext,
    readonly ownsContext: boolean,
  ) {
    page.on("dialog", (dialog) => {
      this.dialogs.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
    page.on("pageerror", (error) => this.errors.push(error.message));
    page.on("console", (message) => this.console.push(message.text()));
    page.on("request", (request) => this.requests.push(request.url()));
    page.on("websocket", (socket) => this.requests.push(socket.url()));
  }

  /** Opens `url` in a new context (or the given one). */
  static async open(
    browser: Browser,
    url: string,
    options: PageOptions = {},
  ): Promise<ChatPage> {
    const context = options.context ?? await browser.newContext({
      viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
      colorScheme: options.colorScheme ?? "light",
      deviceScaleFactor: options.deviceScaleFactor ?? 1,
      ignoreHTTPSErrors: options.ignoreHTTPSErrors ?? false,
      locale: "en-GB",
      timezoneId: "UTC",
    });
    const page = await context.newPage();
    const chat = new ChatPage(page, context, options.context === undefined);
    await page.goto(url);
    return chat;
  }

  /** Types a nickname (or password) into the login field and presses Enter. */
  async login(text: string): Promise<void> {
    await this.page.locator("#login-field:not([disabled])").fill(text);
    await this.page.press("#login-field", "Enter");
  }

  /** Logs in and waits until the chat shows. */
  async join(nick: string): Promise<void> {
    await this.login(nick);
    await this.waitForChat();
  }

  /** Waits until the chat (not the login card) shows. */
  async waitForChat(): Promise<void> {
    await this.page.locator("#chat:not([hidden])").waitFor({ timeout: 15_000 });
  }

  /** Types a line into the message field, as keys, and presses Enter. */
  async say(text: string): Promise<void> {
    const field = this.page.locator("#line");
    await field.click();
    await field.pressSequentially(text);
    await field.press("Enter");
  }

  /** The lines of the conversation shown, as text. */
  async lines(): Promise<string[]> {
    return await this.page.locator("#log-box ol.log > li").allTextContents();
  }

  /**
   * Waits until a line of the shown conversation contains `text` (or
   * matches it, for a pattern).
   */
  async waitForLine(
    text: string | RegExp,
    timeout = 15_000,
  ): Promise<string> {
    const line = this.page.locator("#log-box ol.log > li", { hasText: text })
      .first();
    await line.waitFor({ timeout });
    return await line.textContent() ?? "";
  }

  /** How many lines of the shown conversation contain `text`. */
  async count(text: string): Promise<number> {
    return (await this.lines()).filter((line) => line.includes(text)).length;
  }

  /** How wide the document is: more than the viewport means sideways scrolling. */
  async scrollWidth(): Promise<number> {
    return await this.page.evaluate<number>(
      "document.documentElement.scrollWidth",
    );
  }

  /** The tab's title. */
  async title(): Promise<string> {
    return await this.page.title();
  }

  /** The error shown next to the message field. */
  async fieldError(): Promise<string> {
    return await this.page.locator("#error").textContent() ?? "";
  }

  async #report(): Promise<string> {
    const text = async (selector: string) =>
      await this.page.locator(selector).first().textContent({ timeout: 500 })
        .catch(() => "?");
    return [
      `--- page ${this.page.url()} "${await this.page.title()}"`,
      `status: ${await text("#status")} | error: ${await text("#error")}` +
      ` | login: ${await text("#login-help")} ${await text("#login-error")}`,
      ...(await this.lines()).slice(-15).map((l) => `  ${l}`),
      ...this.console.slice(-10).map((l) => `  console: ${l}`),
    ].join("\n");
  }

  /** Closes the page (and its context, if it made one). */
  async close(): Promise<void> {
    closedPages.push(await this.#report().catch((e) => `no report: ${e}`));
    await this.page.close().catch(() => {});
    if (this.ownsContext) await this.context.close().catch(() => {});
  }
}

/**
 * Registers a file's browser tests: one Chromium for all of them, launched
 * before the first and closed after the last. Where Chromium is missing,
 * each test says skipped with the reason (and the file says so once).
 *
 * @example
 * ```ts
 * const browserTest = browserTests();
 * browserTest("the page opens", async (browser) => { … });
 * ```
 */
export function browserTests(): (
  name: string,
  fn: (browser: Browser) => Promise<void>,
) => void {
  if (browserMissing) console.log(`skipped: browser tests: ${browserMissing}`);
  let browser: Browser | undefined;
  Deno.test.beforeAll(async () => {
    if (!browserMissing) browser = await launchBrowser();
  });
  Deno.test.afterAll(async () => {
    await browser?.close();
  });
  return (name, fn) => {
    Deno.test({
      name: browserMissing ? `${name} (skipped: ${browserMissing})` : name,
      ignore: browserMissing !== undefined,
      fn: async () => {
        takePageReports();
        try {
          await fn(browser!);
        } catch (error) {
          // The screens cannot be looked at afterwards: say what they showed.
          console.log(takePageReports());
          throw error;
        }
      },
    });
  };
}

/** Polls `check` until it returns true, or fails after `ms`. */
export async function eventually(
  what: string,
  check: () => Promise<boolean> | boolean,
  ms = 15_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
