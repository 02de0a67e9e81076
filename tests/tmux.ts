/**
 * Driving terminal programs in tmux for end-to-end tests: a private tmux
 * server per test (its own socket), send-keys to type, capture-pane to read
 * the screen. Shared by the `chat connect` and the telnet tests.
 *
 * @module
 */

import { TEST_ENV } from "./helpers.ts";

/**
 * Why `command` cannot be run (`undefined` when it can): the reason a test
 * prints when it skips. `args` is a harmless call such as `-V`.
 */
export async function toolMissing(
  command: string,
  args: string[],
  install: string,
): Promise<string | undefined> {
  try {
    const { success } = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return success ? undefined : `${command} ${args.join(" ")} failed`;
  } catch {
    return `${command} is not installed (${install})`;
  }
}

/** A word quoted for `sh`. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A check for {@linkcode Tmux.waitFor}: some row contains `text`. */
export const has = (text: string) => (rows: string[]): boolean =>
  rows.some((row) => row.includes(text));

/** Rows of a screen that contain `text`. */
export function occurrences(rows: string[], text: string): number {
  return rows.filter((row) => row.includes(text)).length;
}

/** A private tmux server; each session runs one shell command. */
export class Tmux {
  readonly socket = `chat_e2e_${Deno.pid}_${
    Math.random().toString(36).slice(2)
  }`;

  /** Runs a tmux command on this server; returns its output. */
  async run(...args: string[]): Promise<string> {
    const output = await new Deno.Command("tmux", {
      args: ["-u", "-L", this.socket, "-f", "/dev/null", ...args],
      env: { ...TEST_ENV, LANG: "C.UTF-8" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    if (!output.success) {
      throw new Error(`tmux ${args[0]}: ${decoder.decode(output.stderr)}`);
    }
    return decoder.decode(output.stdout);
  }

  /** Starts `command` (run by `sh`) in a new session of `width` × `height`. */
  async start(
    name: string,
    command: string,
    width: number,
    height: number,
  ): Promise<void> {
    await this.run(
      "new-session",
      "-d",
      "-s",
      name,
      "-x",
      String(width),
      "-y",
      String(height),
      command,
    );
  }

  /**
   * Starts a program (no shell between, so Ctrl-C reaches it alone) in a
   * new session. When it exits the pane stays ({@linkcode waitExit}).
   */
  async startProgram(
    name: string,
    argv: string[],
    env: Record<string, string>,
    width: number,
    height: number,
  ): Promise<void> {
    const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    await this.run(
      "set-option",
      "-g",
      "remain-on-exit",
      "on",
      ";",
      "new-session",
      "-d",
      "-s",
      name,
      "-x",
      String(width),
      "-y",
      String(height),
      ["env", ...assignments, ...argv].map(shellQuote).join(" "),
    );
  }

  /** The visible screen of a session, one string per row (`-e`: with attributes). */
  async screen(name: string, attributes = false): Promise<string[]> {
    const text = await this.run(
      "capture-pane",
      "-p",
      ...(attributes ? ["-e"] : []),
      "-t",
      `=${name}:`,
    );
    return text.replace(/\n$/, "").split("\n");
  }

  /** Where the cursor is in a session's pane. */
  async cursor(name: string): Promise<{ x: number; y: number }> {
    const text = await this.run(
      "display-message",
      "-p",
      "-t",
      `=${name}:`,
      "#{cursor_x} #{cursor_y}",
    );
    const [x, y] = text.trim().split(" ").map(Number);
    return { x, y };
  }

  /** Types text literally (no Enter). */
  async type(name: string, text: string): Promise<void> {
    await this.run("send-keys", "-t", `=${name}:`, "-l", text);
  }

  /**
   * Pastes `text` as a terminal paste: bracketed (ESC [200~ … ESC [201~)
   * when the program asked for bracketed paste, as `chat connect` does.
   */
  async paste(name: string, text: string): Promise<void> {
    await this.run("set-buffer", "-b", "test_paste", text);
    await this.run("paste-buffer", "-p", "-b", "test_paste", "-t", `=${name}:`);
  }

  /** Presses keys by tmux name: Enter, Left, C-c … */
  async press(name: string, ...keys: string[]): Promise<void> {
    await this.run("send-keys", "-t", `=${name}:`, ...keys);
  }

  /** Polls the screen until `check` passes; fails with the screen shown. */
  async waitFor(
    name: string,
    what: string,
    check: (rows: string[]) => boolean,
    timeoutMs = 15_000,
  ): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let rows: string[] = [];
    while (Date.now() < deadline) {
      rows = await this.screen(name);
      if (check(rows)) return rows;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(
      `timed out waiting for ${what} on ${name}'s screen:\n${rows.join("\n")}`,
    );
  }

  /**
   * Waits until the program of a session started with
   * {@linkcode startProgram} has exited; returns the screen it left.
   */
  async waitExit(name: string, timeoutMs = 15_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const dead = await this.run(
        "display-message",
        "-p",
        "-t",
        `=${name}:`,
        "#{pane_dead}",
      );
      if (dead.trim() === "1") return await this.screen(name);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(
      `${name}'s program did not exit:\n${
        (await this.screen(name)).join("\n")
      }`,
    );
  }

  /** Stops the tmux server and removes its socket file. */
  async kill(): Promise<void> {
    // Where tmux puts the socket, for when its server is already gone.
    let socketPath = `${Deno.env.get("TMUX_TMPDIR") ?? "/tmp"}/tmux-${
      Deno.uid() ?? 0
    }/${this.socket}`;
    try {
      socketPath = (await this.run("display-message", "-p", "#{socket_path}"))
        .trim();
      await this.run("kill-server");
    } catch { /* already gone */ }
    if (socketPath.endsWith(this.socket)) {
      await Deno.remove(socketPath).catch(() => {});
    }
  }
}
