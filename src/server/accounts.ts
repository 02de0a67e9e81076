/**
 * Registered nicknames: each with a salted scrypt hash of its password and a
 * server-wide role, in the history database (table `accounts`).
 *
 * Hashing is deliberately slow (scrypt, N=16384, r=8, p=1: 16 MiB, and
 * measured 120 ms on a loaded 2-core machine). A login is checked off the
 * event loop ({@linkcode Accounts.verifyAsync}) and paced by admission's
 * password pacing; `/register` and `/password` hash synchronously (rare,
 * and paced by their flood cost).
 *
 * @module
 */

import { randomBytes, scrypt, scryptSync, timingSafeEqual } from "node:crypto";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { MODERATION_LIMITS } from "../shared/limits.ts";
import { lookalikeKeys, nickKey } from "../shared/sanitize.ts";

/** A role across the server: `owner` of every room, `admin` of every room, or a plain `member`. */
export type AccountRole = "owner" | "admin" | "member";

/** The roles `chat account add --role` accepts. */
export const ACCOUNT_ROLES: readonly AccountRole[] = [
  "owner",
  "admin",
  "member",
];

/** One registered nickname, without its hash. */
export interface Account {
  /** The nickname as registered. */
  nick: string;
  role: AccountRole;
  /** When it was registered, ms since the epoch. */
  createdAt: number;
}

const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_BYTES = 32;

/** A salted scrypt hash: `scrypt$N$r$p$salt$key`, salt and key in base64. */
export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize("NFC"), salt, KEY_BYTES, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${
    salt.toString("base64")
  }$${key.toString("base64")}`;
}

/** True when `password` is the one `hash` was made from (constant time). */
export function verifyPassword(password: string, hash: string): boolean {
  const [scheme, n, r, p, salt, key] = hash.split("$");
  if (scheme !== "scrypt" || key === undefined) return false;
  const expected = Buffer.from(key, "base64");
  const given = scryptSync(
    password.normalize("NFC"),
    Buffer.from(salt, "base64"),
    expected.length,
    { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem },
  );
  return timingSafeEqual(given, expected);
}

/**
 * {@linkcode verifyPassword} off the event loop (in libuv's thread pool):
 * a login does not stall every other member for the hash's time.
 */
export function verifyPasswordAsync(
  password: string,
  hash: string,
): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = hash.split("$");
  if (scheme !== "scrypt" || key === undefined) return Promise.resolve(false);
  const expected = Buffer.from(key, "base64");
  return new Promise((resolve) => {
    scrypt(
      password.normalize("NFC"),
      Buffer.from(salt, "base64"),
      expected.length,
      { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem },
      (error, given) =>
        resolve(error === null && timingSafeEqual(given, expected)),
    );
  });
}

/** Why a new password is refused, or `undefined` when it will do. */
export function passwordProblem(password: string): string | undefined {
  const chars = [...password].length;
  if (chars < MODERATION_LIMITS.minPasswordChars) {
    return `a password is at least ${MODERATION_LIMITS.minPasswordChars} characters`;
  }
  if (chars > MODERATION_LIMITS.maxPasswordChars) {
    return `a password is at most ${MODERATION_LIMITS.maxPasswordChars} characters`;
  }
  if (/\s/.test(password)) return "a password may not hold spaces";
  return undefined;
}

/**
 * How many accounts each database holds, shared by every {@linkcode Accounts}
 * on the same connection. A server is the only writer of its database while
 * it runs (src/server/database_lock.ts; `chat account` refuses to run beside
 * it), so the count stays true, and a hello on a server where nobody has
 * registered asks SQLite nothing about accounts: two or three lookups of
 * 5–10 µs each, on every hello, for a name that cannot be there.
 */
const ACCOUNT_COUNTS = new WeakMap<DatabaseSync, { count: number }>();

/** The accounts table of a database. */
export class Accounts {
  #known: { count: number };
  #find: StatementSync;
  #insert: StatementSync;
  #setHash: StatementSync;
  #setRole: StatementSync;
  #remove: StatementSync;
  #list: StatementSync;
  #addLook: StatementSync;
  #findLook: StatementSync;
  #removeLooks: StatementSync;

  /** Creates the table if needed. */
  constructor(db: DatabaseSync) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS accounts (
        key        TEXT PRIMARY KEY,
        nick       TEXT    NOT NULL,
        hash       TEXT    NOT NULL,
        role       TEXT    NOT NULL DEFAULT 'member',
        created_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS account_lookalikes (
        look    TEXT NOT NULL,
        key     TEXT NOT NULL,
        PRIMARY KEY (look, key)
      );
    `);
    this.#addLook = db.prepare(
      "INSERT OR IGNORE INTO account_lookalikes (look, key) VALUES (?, ?)",
    );
    this.#findLook = db.prepare(
      "SELECT key FROM account_lookalikes WHERE look = ? AND key != ? LIMIT 1",
    );
    this.#removeLooks = db.prepare(
      "DELETE FROM account_lookalikes WHERE key = ?",
    );
    this.#find = db.prepare(
      "SELECT nick, hash, role, created_at FROM accounts WHERE key = ?",
    );
    this.#insert = db.prepare(
      "INSERT INTO accounts (key, nick, hash, role, created_at) VALUES (?, ?, ?, ?, ?)",
    );
    this.#setHash = db.prepare("UPDATE accounts SET hash = ? WHERE key = ?");
    this.#setRole = db.prepare("UPDATE accounts SET role = ? WHERE key = ?");
    this.#remove = db.prepare("DELETE FROM accounts WHERE key = ?");
    this.#list = db.prepare(
      "SELECT nick, role, created_at FROM accounts ORDER BY role = 'member', role = 'admin', nick",
    );
    let known = ACCOUNT_COUNTS.get(db);
    if (!known) {
      const row = db.prepare("SELECT count(*) AS n FROM accounts").get();
      ACCOUNT_COUNTS.set(db, known = { count: Number(row?.n ?? 0) });
    }
    this.#known = known;
  }

  /** The account of `nick` (any case or compatibility form), if registered. */
  find(nick: string): Account | undefined {
    if (this.#known.count === 0) return undefined;
    const row = this.#find.get(nickKey(nick));
    if (!row) return undefined;
    return {
      nick: String(row.nick),
      role: String(row.role) as AccountRole,
      createdAt: Number(row.created_at),
    };
  }

  /**
   * A registered nickname other than `nick` itself that looks like it
   * (`аlice` with a Cyrillic `а` beside registered `alice`), if any: such a
   * name is as taken as the account's own.
   */
  lookalike(nick: string): Account | undefined {
    if (this.#known.count === 0) return undefined;
    const key = nickKey(nick);
    for (const look of lookalikeKeys(nick)) {
      const row = this.#findLook.get(look, key);
      if (row) return this.find(String(row.key));
    }
    return undefined;
  }

  /** True when `password` is the password of registered `nick`. */
  verify(nick: string, password: string): boolean {
    const row = this.#find.get(nickKey(nick));
    return row !== undefined && verifyPassword(password, String(row.hash));
  }

  /** {@linkcode verify} without blocking: for logins. */
  verifyAsync(nick: string, password: string): Promise<boolean> {
    const row = this.#find.get(nickKey(nick));
    if (row === undefined) return Promise.resolve(false);
    return verifyPasswordAsync(password, String(row.hash));
  }

  /** Registers `nick`; false when it is registered already. */
  add(
    nick: string,
    password: string,
    role: AccountRole = "member",
    now = Date.now(),
  ): boolean {
    if (this.find(nick) || this.lookalike(nick)) return false;
    const key = nickKey(nick);
    this.#insert.run(key, nick, hashPassword(password), role, now);
    this.#known.count++;
    for (const look of lookalikeKeys(nick)) this.#addLook.run(look, key);
    return true;
  }

  /** Sets the password of registered `nick`; false when it is not registered. */
  setPassword(nick: string, password: string): boolean {
    return Number(
      this.#setHash.run(hashPassword(password), nickKey(nick)).changes,
    ) > 0;
  }

  /** Sets the role of registered `nick`; false when it is not registered. */
  setRole(nick: string, role: AccountRole): boolean {
    return Number(this.#setRole.run(role, nickKey(nick)).changes) > 0;
  }

  /** Removes the account of `nick`; false when there was none. */
  remove(nick: string): boolean {
    this.#removeLooks.run(nickKey(nick));
    const removed = Number(this.#remove.run(nickKey(nick)).changes) > 0;
    if (removed) this.#known.count--;
    return removed;
  }

  /** Every account, owners first, then admins, then members, by name. */
  list(): Account[] {
    return this.#list.all().map((row) => ({
      nick: String(row.nick),
      role: String(row.role) as AccountRole,
      createdAt: Number(row.created_at),
    }));
  }
}
