/**
 * Message storage: room messages in SQLite (`node:sqlite`, WAL), written in
 * one transaction per batch so a busy room costs one commit per tick.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { RoomMessage } from "../../protocol.ts";
import { DatabaseInUseError, DatabaseLock } from "./database_lock.ts";

export { DatabaseInUseError };

/** What the hub needs from storage. {@linkcode MemoryStore} serves tests. */
export interface MessageStore {
  /** The largest id ever stored, or 0. */
  lastId(): number;
  /** Stores messages durably, in order, in one transaction. */
  append(messages: readonly RoomMessage[]): void;
  /**
   * The room's messages with id greater than `afterId`, oldest first; at most
   * `limit`, the newest ones when there are more.
   */
  history(room: string, afterId: number, limit: number): RoomMessage[];
  /** Flushes and closes. */
  close(): void;
}

/** The history database could not be opened: a message for the user. */
export class StoreOpenError extends Error {
  /** @param path the database path; @param cause what SQLite said. */
  constructor(path: string, cause: unknown) {
    const reason = (cause instanceof Error ? cause.message : String(cause))
      .replace(/: .*$/, "");
    const hint = /not a database/.test(reason)
      ? "give --db another file"
      : "check the folder exists and is writable, or use --db :memory:";
    super(`cannot open the history database ${path}: ${reason} (${hint})`);
    this.name = "StoreOpenError";
  }
}

/**
 * A store in SQLite; `":memory:"` keeps nothing on disk. A file database is
 * locked for this process ({@linkcode DatabaseLock}) until {@linkcode close}.
 */
export class SqliteStore implements MessageStore {
  #db: DatabaseSync;
  #lock?: DatabaseLock;
  #insert: StatementSync;
  #select: StatementSync;

  /**
   * Opens (creating if needed) the database at `path`.
   * @throws {DatabaseInUseError} when another server holds the database.
   * @throws {StoreOpenError} when the file cannot be opened or is not SQLite.
   */
  constructor(path: string) {
    try {
      this.#db = new DatabaseSync(path);
      this.#db.exec("PRAGMA user_version");
    } catch (error) {
      throw new StoreOpenError(path, error);
    }
    // Locked before anything is written: opening and reading the header,
    // above, is what SQLite allows any number of processes.
    if (path !== ":memory:") {
      try {
        this.#lock = DatabaseLock.acquire(path);
      } catch (error) {
        this.#db.close();
        if (error instanceof DatabaseInUseError) throw error;
        throw new StoreOpenError(path, error);
      }
    }
    // WAL with synchronous=NORMAL: a committed transaction survives the
    // process being killed (the OS holds the pages); only a power cut can
    // lose the last commits.
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 2000;
      CREATE TABLE IF NOT EXISTS messages (
        id   INTEGER PRIMARY KEY,
        ts   INTEGER NOT NULL,
        room TEXT    NOT NULL,
        nick TEXT    NOT NULL,
        text TEXT    NOT NULL,
        me   INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX IF NOT EXISTS messages_room_id ON messages (room, id);
    `);
    this.#insert = this.#db.prepare(
      "INSERT INTO messages (id, ts, room, nick, text, me) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.#select = this.#db.prepare(
      "SELECT id, ts, room, nick, text, me FROM messages WHERE room = ? AND id > ? ORDER BY id DESC LIMIT ?",
    );
  }

  lastId(): number {
    const row = this.#db.prepare("SELECT max(id) AS id FROM messages").get();
    return Number(row?.id ?? 0);
  }

  append(messages: readonly RoomMessage[]): void {
    if (messages.length === 0) return;
    this.#db.exec("BEGIN");
    try {
      for (const m of messages) {
        this.#insert.run(m.id, m.ts, m.room, m.from, m.text, m.me ? 1 : 0);
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      // SQLite rolls back by itself on some errors (a full disk): a second
      // ROLLBACK would throw and hide the error that matters.
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  history(room: string, afterId: number, limit: number): RoomMessage[] {
    const rows = this.#select.all(room, afterId, limit);
    const messages: RoomMessage[] = [];
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i];
      const message: RoomMessage = {
        type: "msg",
        id: Number(row.id),
        ts: Number(row.ts),
        room: String(row.room),
        from: String(row.nick),
        text: String(row.text),
      };
      if (row.me) message.me = true;
      messages.push(message);
    }
    return messages;
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
    this.#lock?.release();
  }
}

/** A store that keeps messages in memory; for tests of the hub. */
export class MemoryStore implements MessageStore {
  /** Every stored message, in order. */
  readonly messages: RoomMessage[] = [];

  lastId(): number {
    return this.messages.at(-1)?.id ?? 0;
  }

  append(messages: readonly RoomMessage[]): void {
    this.messages.push(...messages);
  }

  history(room: string, afterId: number, limit: number): RoomMessage[] {
    return this.messages.filter((m) => m.room === room && m.id > afterId)
      .slice(-limit);
  }

  close(): void {}
}
