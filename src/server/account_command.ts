/**
 * `chat account`: the server machine's own way to make the owner and admins
 * and to look after accounts, on the same `--db` as `chat serve`.
 *
 * It refuses while a server runs on that database (the server holds it
 * locked, src/server/database_lock.ts): two writers would each keep their
 * own idea of the accounts. While the server runs, members register with
 * `/register` and the owner makes admins with `/op`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { NICK_PROBLEM_MESSAGES } from "../../protocol.ts";
import { nickProblem } from "../shared/sanitize.ts";
import { SERVE_DEFAULTS } from "../shared/limits.ts";
import {
  ACCOUNT_ROLES,
  type AccountRole,
  Accounts,
  passwordProblem,
} from "./accounts.ts";
import { DatabaseInUseError, SqliteStore, StoreOpenError } from "./store.ts";

/** `chat account --help`. */
export const ACCOUNT_HELP = `Usage: chat account COMMAND [options]

Look after registered nicknames, on the server machine, with the server
stopped (it locks its database while it runs).

  chat account add NICK [--role owner|admin|member]
                        register NICK (default role: member); the owner is
                        owner of every room, an admin admin of every room
  chat account list     every account and its role
  chat account remove NICK
                        remove the account; NICK is free again
  chat account password NICK
                        set a new password for NICK

The password is read from the terminal without echo (asked twice), or as the
first line of stdin when it is piped: echo 'secret' | chat account add alice

Options:
  --db PATH             the server's SQLite file (default ${SERVE_DEFAULTS.db})
  --role ROLE           for add: owner, admin or member
`;

/** How the command talks: injectable for tests. */
export interface AccountIo {
  /**
   * Reads a password: without echo from a terminal, else stdin's first
   * line. `undefined` when none was given; `null` when the reader said why
   * not itself (the two typed differ).
   */
  readPassword(
    prompt: string,
    confirm: boolean,
  ): Promise<string | null | undefined>;
  print(line: string): void;
  error(line: string): void;
}

/** Runs `chat account ARGS`; returns the exit code. */
export async function runAccountCommand(
  args: string[],
  io: AccountIo = terminalIo,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        db: { type: "string" },
        role: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    io.error(`chat: ${(error as Error).message.split("\n")[0]}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [action, nick, ...extra] = positionals;
  if (values.help || action === undefined || action === "help") {
    io.print(ACCOUNT_HELP.trimEnd());
    return 0;
  }
  const usage = (text: string) => {
    io.error(`chat: ${text} (try: chat account --help)`);
    return 2;
  };
  if (!["add", "list", "remove", "password"].includes(action)) {
    return usage(`unknown account command "${action}"`);
  }
  if (action !== "list" && nick === undefined) {
    return usage(`chat account ${action} needs a NICK`);
  }
  if (extra.length > 0 || (action === "list" && nick !== undefined)) {
    return usage(`too many arguments`);
  }
  const role = (values.role ?? "member") as AccountRole;
  if (!ACCOUNT_ROLES.includes(role)) {
    return usage(`--role is owner, admin or member, not "${values.role}"`);
  }
  if (values.role !== undefined && action !== "add") {
    return usage(`--role goes with add`);
  }
  if (nick !== undefined && action === "add") {
    const problem = nickProblem(nick);
    if (problem !== undefined) {
      return usage(
        `"${nick}" cannot be a nickname: ${NICK_PROBLEM_MESSAGES[problem]}`,
      );
    }
  }
  const db = values.db ?? SERVE_DEFAULTS.db;
  let store: SqliteStore;
  try {
    store = new SqliteStore(db);
  } catch (error) {
    if (error instanceof DatabaseInUseError) {
      io.error(
        `chat: ${db} is in use by a running chat serve: stop it first (while it runs, members register with /register and the owner makes admins with /op)`,
      );
      return 1;
    }
    if (error instanceof StoreOpenError) {
      io.error(`chat: ${error.message}`);
      return 1;
    }
    throw error;
  }
  try {
    const accounts = new Accounts(store.database);
    switch (action) {
      case "list": {
        const all = accounts.list();
        if (all.length === 0) io.print("no accounts");
        for (const account of all) {
          io.print(
            `${account.nick}\t${account.role}\t${
              new Date(account.createdAt).toISOString().slice(0, 10)
            }`,
          );
        }
        return 0;
      }
      case "remove":
        if (!accounts.remove(nick!)) {
          io.error(`chat: ${nick} is not registered`);
          return 1;
        }
        io.print(`removed ${nick}`);
        return 0;
      case "add":
      case "password": {
        const existing = accounts.find(nick!);
        if (action === "add" && (existing || accounts.lookalike(nick!))) {
          io.error(
            `chat: ${nick} is registered already (or looks like an account): chat account password ${nick} sets its password`,
          );
          return 1;
        }
        if (action === "password" && !existing) {
          io.error(`chat: ${nick} is not registered`);
          return 1;
        }
        const password = await io.readPassword(
          `Password for ${nick}: `,
          true,
        );
        if (password === null) return 1;
        if (password === undefined) {
          io.error("chat: no password given; nothing changed");
          return 1;
        }
        const problem = passwordProblem(password);
        if (problem) {
          io.error(`chat: ${problem}; nothing changed`);
          return 1;
        }
        if (action === "add") {
          accounts.add(nick!, password, role);
          io.print(`added ${nick} (${role})`);
        } else {
          accounts.setPassword(nick!, password);
          io.print(`password of ${existing!.nick} changed`);
        }
        return 0;
      }
    }
    return 2;
  } finally {
    store.close();
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The real terminal or pipe. */
const terminalIo: AccountIo = {
  print: (line) => console.log(line),
  error: (line) => console.error(line),
  async readPassword(prompt, confirm) {
    if (!Deno.stdin.isTerminal()) return await firstStdinLine();
    const first = await readHidden(prompt);
    if (first === undefined || !confirm) return first;
    const second = await readHidden("Again: ");
    if (second !== first) {
      console.error("chat: the two passwords differ; nothing changed");
      return null;
    }
    return first;
  },
};

/** The first line of a piped stdin, without its line ending. */
async function firstStdinLine(): Promise<string | undefined> {
  let text = "";
  for await (const chunk of Deno.stdin.readable) {
    text += decoder.decode(chunk, { stream: true });
    if (text.includes("\n")) break;
  }
  const line = text.split(/\r?\n/)[0];
  return line === "" ? undefined : line;
}

/** Reads a line from the terminal in raw mode, echoing nothing. */
async function readHidden(prompt: string): Promise<string | undefined> {
  await Deno.stderr.write(encoder.encode(prompt));
  Deno.stdin.setRaw(true);
  let typed = "";
  const buffer = new Uint8Array(64);
  try {
    for (;;) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) return undefined;
      for (const char of decoder.decode(buffer.subarray(0, n))) {
        if (char === "\r" || char === "\n") return typed;
        if (char === "\x03" || char === "\x04") return undefined;
        if (char === "\x7f" || char === "\b") {
          typed = [...typed].slice(0, -1).join("");
        } else if (char >= " ") typed += char;
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(encoder.encode("\n"));
  }
}
