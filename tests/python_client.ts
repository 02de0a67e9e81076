/**
 * Test helper: runs one of the tutorial-style Python clients in
 * tests/fixtures/, types lines on its stdin (its `input()`), and watches what
 * it prints.
 *
 * @module
 */

import type { ServerEvent } from "../protocol.ts";
import { ROOT } from "./helpers.ts";

const encoder = new TextEncoder();

/** Why Python tests cannot run here, or `undefined` when `python3` works. */
export const pythonMissing: string | undefined = (() => {
  try {
    const { success } = new Deno.Command("python3", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return success ? undefined : "python3 --version failed";
  } catch {
    return "python3 is not installed";
  }
})();

/** A running fixture program. */
/**
 * Registers a test that needs `python3`; where it is missing the test is
 * reported as skipped with the reason, never passed.
 */
export function pythonTest(name: string, fn: () => Promise<void>): void {
  if (pythonMissing) {
    console.log(`skipped: ${name}: ${pythonMissing}`);
    Deno.test({
      name: `${name} (skipped: ${pythonMissing})`,
      ignore: true,
      fn,
    });
  } else {
    Deno.test(name, fn);
  }
}

/** Matches the room message with exactly this text. */
export const isMsg = (text: string) => (e: ServerEvent) =>
  e.type === "msg" && e.text === text;

export class PythonClient {
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #stdout = "";
  #stderr = "";
  #reads: Promise<void>;
  #waiters: (() => void)[] = [];
  #exited = false;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    const collect = async (
      stream: ReadableStream<Uint8Array>,
      add: (text: string) => void,
    ) => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of stream) {
          add(decoder.decode(chunk, { stream: true }));
          this.#wake();
        }
      } catch { /* closed */ }
    };
    this.#reads = Promise.all([
      collect(child.stdout, (t) => this.#stdout += t),
      collect(child.stderr, (t) => this.#stderr += t),
    ]).then(() => {});
    child.status.then(() => {
      this.#exited = true;
      this.#wake();
    });
  }

  /** Starts `python3 -u tests/fixtures/<script> ...args`. */
  static start(script: string, args: string[]): PythonClient {
    const child = new Deno.Command("python3", {
      args: ["-u", `${ROOT}tests/fixtures/${script}`, ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new PythonClient(child);
  }

  /** Everything it printed so far. */
  get output(): string {
    return this.#stdout;
  }

  /** What it printed on stderr (a Python traceback, if it crashed). */
  get errors(): string {
    return this.#stderr;
  }

  /** Types one line, as a person would at its `input()` prompt. */
  async type(line: string): Promise<void> {
    await this.#stdin.write(encoder.encode(line + "\n"));
  }

  /** Waits until its output contains `text` (or matches it). */
  async waitOutput(text: string | RegExp, timeoutMs = 5000): Promise<void> {
    const found = () =>
      typeof text === "string"
        ? this.#stdout.includes(text)
        : text.test(this.#stdout);
    await this.#until(
      found,
      timeoutMs,
      () =>
        `no ${text} in the output of the client:\n${this.#stdout}\n${this.#stderr}`,
    );
  }

  /** Waits for the program to exit by itself; false after the timeout. */
  async waitExit(timeoutMs = 5000): Promise<boolean> {
    try {
      await this.#until(() => this.#exited, timeoutMs, () => "");
      return true;
    } catch {
      return false;
    }
  }

  /** Ends its input (EOF at `input()`), then stops it and waits for it. */
  async stop(): Promise<void> {
    try {
      await this.#stdin.close();
    } catch { /* closed already */ }
    if (!await this.waitExit(3000)) {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
    }
    await this.#child.status;
    await this.#reads;
  }

  async #until(
    done: () => boolean,
    timeoutMs: number,
    describe: () => string,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(describe() || "timed out");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== wake);
          resolve();
        }, remaining);
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        this.#waiters.push(wake);
      });
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
