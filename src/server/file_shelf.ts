/**
 * The shared files a server keeps: one row each in SQLite (the `files`
 * table, beside the history), the bytes in a {@linkcode FileVault}, and the
 * quota (`--files-quota`) they count against, uploads on their way
 * included, so two uploads at once cannot both squeeze into the last space.
 *
 * A file lives as long as its message: recalled, or pruned with the
 * history, it is deleted, and its id is remembered so its link says `410
 * Gone` rather than `404`.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { FILE_LIMITS } from "../shared/limits.ts";
import type { FileVault } from "./file_vault.ts";
import type { PictureType } from "./picture_type.ts";

/** One stored file, as its row holds it. */
export interface StoredFile {
  /** Unguessable: the link is the key. */
  id: string;
  room: string;
  /** The uploader's nickname. */
  uploader: string;
  /** Cleaned. */
  name: string;
  size: number;
  /** What the sender said it is (cleaned), or the picture type it really is. */
  mime: string;
  /** Set for a picture the server shows inline: its type by its bytes. */
  inline?: PictureType;
  /** When it was stored, ms since the epoch. */
  created: number;
  /** Its message, once stored. */
  messageId?: number;
}

/** Options for {@linkcode FileShelf}. */
export interface FileShelfOptions {
  /** Bytes all files together may hold (`--files-quota`). */
  quotaBytes: number;
  /** The clock. @default {Date.now} */
  now?: () => number;
}

/** Lower-case letters and digits without look-alikes (no 0/o, 1/l/i). */
const ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";

/**
 * A new random id of `length` characters from {@linkcode ID_ALPHABET}
 * (about 4.95 bits each: 12 make 59 bits, beyond guessing by a classroom).
 */
export function randomId(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
  let id = "";
  for (let i = 0; id.length < length && i < bytes.length; i += 2) {
    // Two bytes per character keep the modulo bias under 0.05 %.
    id += ID_ALPHABET[((bytes[i] << 8) | bytes[i + 1]) % ID_ALPHABET.length];
  }
  return id;
}

/** Rows and quota of the shared files; bytes through {@linkcode FileShelf.vault}. */
export class FileShelf {
  /** Where the bytes are. */
  readonly vault: FileVault;
  #db: DatabaseSync;
  #quota: number;
  #now: () => number;
  #stored: number;
  #reserved = 0;
  #insert: StatementSync;
  #select: StatementSync;
  #gone: StatementSync;
  #attach: StatementSync;
  #delete: StatementSync;
  #bury: StatementSync;

  /** Opens (creating) the tables in `database`; the bytes go to `vault`. */
  constructor(
    database: DatabaseSync,
    vault: FileVault,
    options: FileShelfOptions,
  ) {
    this.#db = database;
    this.vault = vault;
    this.#quota = options.quotaBytes;
    this.#now = options.now ?? Date.now;
    database.exec(`
      CREATE TABLE IF NOT EXISTS files (
        id         TEXT PRIMARY KEY,
        message_id INTEGER,
        room       TEXT    NOT NULL,
        uploader   TEXT    NOT NULL,
        name       TEXT    NOT NULL,
        size       INTEGER NOT NULL,
        mime       TEXT    NOT NULL,
        inline     TEXT,
        created    INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS files_gone (
        id TEXT PRIMARY KEY,
        ts INTEGER NOT NULL
      );
    `);
    this.#insert = database.prepare(
      "INSERT INTO files (id, room, uploader, name, size, mime, inline, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#select = database.prepare(
      "SELECT id, message_id, room, uploader, name, size, mime, inline, created FROM files WHERE id = ?",
    );
    this.#gone = database.prepare(
      "SELECT 1 AS gone FROM files_gone WHERE id = ?",
    );
    this.#attach = database.prepare(
      "UPDATE files SET message_id = ? WHERE id = ?",
    );
    this.#delete = database.prepare("DELETE FROM files WHERE id = ?");
    this.#bury = database.prepare(
      "INSERT OR IGNORE INTO files_gone (id, ts) VALUES (?, ?)",
    );
    this.#stored = Number(
      database.prepare("SELECT coalesce(sum(size), 0) AS bytes FROM files")
        .get()?.bytes ?? 0,
    );
  }

  /** Bytes of the stored files. */
  get storedBytes(): number {
    return this.#stored;
  }

  /** Bytes held for uploads on their way. */
  get reservedBytes(): number {
    return this.#reserved;
  }

  /** `--files-quota`. */
  get quotaBytes(): number {
    return this.#quota;
  }

  /**
   * Holds `size` bytes of the quota for an upload about to be sent; false
   * when the stored files, the other uploads on their way and this one
   * would not fit.
   */
  reserve(size: number): boolean {
    if (this.#stored + this.#reserved + size > this.#quota) return false;
    this.#reserved += size;
    return true;
  }

  /** Gives back what {@linkcode reserve} held (the upload ended, or never came). */
  release(size: number): void {
    this.#reserved = Math.max(0, this.#reserved - size);
  }

  /** A fresh file id. */
  newId(): string {
    return randomId(12);
  }

  /**
   * Records a file whose bytes are committed to the vault under its id;
   * its reservation becomes stored bytes.
   */
  record(file: StoredFile): void {
    this.#insert.run(
      file.id,
      file.room,
      file.uploader,
      file.name,
      file.size,
      file.mime,
      file.inline ?? null,
      file.created,
    );
    this.release(file.size);
    this.#stored += file.size;
  }

  /** Notes the message that shares file `id`, once that message is stored. */
  attach(id: string, messageId: number): void {
    this.#attach.run(messageId, id);
  }

  /** File `id`; `"gone"` when it was recalled or pruned; `undefined` if never. */
  find(id: string): StoredFile | "gone" | undefined {
    const row = this.#select.get(id);
    if (!row) return this.#gone.get(id) ? "gone" : undefined;
    const file: StoredFile = {
      id: String(row.id),
      room: String(row.room),
      uploader: String(row.uploader),
      name: String(row.name),
      size: Number(row.size),
      mime: String(row.mime),
      created: Number(row.created),
    };
    if (typeof row.inline === "string") file.inline = row.inline as PictureType;
    if (row.message_id !== null) file.messageId = Number(row.message_id);
    return file;
  }

  /**
   * Deletes file `id`: its row now (its link answers `410` from here on),
   * its bytes in the background. False when there was no such file.
   */
  discard(id: string): boolean {
    const file = this.find(id);
    if (file === undefined || file === "gone") return false;
    this.#db.exec("BEGIN");
    try {
      this.#delete.run(id);
      this.#bury.run(id, this.#now());
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
    this.#stored = Math.max(0, this.#stored - file.size);
    this.vault.remove(id).catch(() => {});
    return true;
  }

  /**
   * Deletes files whose message is gone (pruned by `--keep-days` or
   * `--max-db-mb`) and the leftovers of uploads that never finished (a
   * crash between storing the bytes and the message); returns how many.
   * Each call handles a bounded batch.
   */
  async sweep(): Promise<number> {
    const hasMessages = this.#db.prepare(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'",
    ).get();
    const staleBefore = this.#now() - FILE_LIMITS.staleTempMs;
    const orphans = hasMessages
      ? this.#db.prepare(
        `SELECT id FROM files
         WHERE (message_id IS NOT NULL AND NOT EXISTS (
                  SELECT 1 FROM messages WHERE messages.id = files.message_id))
            OR (message_id IS NULL AND created < ?)
         LIMIT 500`,
      ).all(staleBefore)
      : [];
    let removed = 0;
    for (const row of orphans) {
      if (this.discard(String(row.id))) removed++;
    }
    await this.vault.removeStale(staleBefore);
    return removed;
  }
}
