/**
 * Message storage: room messages in SQLite (`node:sqlite`, WAL), written in
 * one transaction per batch so a busy room costs one commit per tick, and
 * pruned in small batches to the retention the server was given.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { RoomMessage, SearchHit } from "../../protocol.ts";
import {
  MODERATION_LIMITS,
  PROTOCOL_LIMITS,
  STORAGE_LIMITS,
} from "../shared/limits.ts";
import { characterCount } from "../shared/sanitize.ts";
import { DatabaseInUseError, DatabaseLock } from "./database_lock.ts";

export { DatabaseInUseError };

/** Which of a room's messages to read: the newest of a range of ids. */
export interface HistoryQuery {
  /** Only messages with a larger id. @default {0} */
  after?: number;
  /** Only messages with a smaller id. @default {none} */
  before?: number;
  /** At most this many. */
  limit: number;
  /**
   * At most this many bytes of messages, as JSON lines; the first message
   * is always included, so paging always moves on.
   * @default {PROTOCOL_LIMITS.maxHistoryBytes}
   */
  maxBytes?: number;
  /**
   * At most this long reading; a slow read stops early, with `more`.
   * @default {PROTOCOL_LIMITS.historyBudgetMs}
   */
  budgetMs?: number;
}

/** A page of history: the newest messages of the range, oldest first. */
export interface HistoryPage {
  messages: RoomMessage[];
  /** True when older messages of the range were left out. */
  more: boolean;
}

/** What the hub needs from storage. {@linkcode MemoryStore} serves tests. */
export interface MessageStore {
  /** The largest id ever stored, or 0. */
  lastId(): number;
  /** Stores messages durably, in order, in one transaction. */
  append(messages: readonly RoomMessage[]): void;
  /**
   * The room's newest messages in the query's range, oldest first, within
   * its count and bytes (and a time budget: a slow read stops early).
   */
  history(room: string, query: HistoryQuery): HistoryPage;
  /** The stored message `id` of `room`, if it is still kept. */
  message(room: string, id: number): RoomMessage | undefined;
  /**
   * Messages of `rooms` holding every word of `words`, newest first, at most
   * `limit`; see {@linkcode SqliteStore.search} for what it costs.
   */
  search(rooms: readonly string[], words: string, limit: number): SearchHit[];
  /** The newest stored message of `nick` in `room`, if any. */
  lastMessageOf(room: string, nick: string): RoomMessage | undefined;
  /**
   * Deletes message `id` of `room` (a recall), and blanks its quote in the
   * replies that follow it (see {@linkcode MODERATION_LIMITS.recallQuoteScanRows});
   * false when it was not stored.
   */
  remove(room: string, id: number): boolean;
  /** Flushes and closes. */
  close(): void;
}

/** The bytes of a message as a JSON line, the measure of a history's size. */
export function messageBytes(message: RoomMessage): number {
  return utf8Length(JSON.stringify(message)) + 1;
}

function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A surrogate pair is 2 units and 4 bytes: +1 each. Other units above
    // 0x7f are 2 or 3 bytes.
    if (unit >= 0xd800 && unit <= 0xdfff) bytes += 1;
    else if (unit > 0x7ff) bytes += 2;
    else if (unit > 0x7f) bytes += 1;
  }
  return bytes;
}

/** Rows one read of a history takes at once (see `SqliteStore.history`). */
const HISTORY_PAGE_ROWS = 64;

/**
 * Takes messages newest first until the count, the bytes or the time runs
 * out; returns them oldest first. `rows` yields one more than `limit` when
 * there is one, so that `more` is exact.
 */
function takeNewest(
  rows: Iterable<RoomMessage>,
  query: HistoryQuery,
): HistoryPage {
  const maxBytes = query.maxBytes ?? PROTOCOL_LIMITS.maxHistoryBytes;
  const deadline = performance.now() +
    (query.budgetMs ?? PROTOCOL_LIMITS.historyBudgetMs);
  const messages: RoomMessage[] = [];
  let bytes = 0;
  let more = false;
  for (const message of rows) {
    if (messages.length >= query.limit) {
      more = true;
      break;
    }
    bytes += messageBytes(message);
    if (
      messages.length > 0 &&
      (bytes > maxBytes || performance.now() > deadline)
    ) {
      more = true;
      break;
    }
    messages.push(message);
  }
  return { messages: messages.reverse(), more };
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
 * How much history a {@linkcode SqliteStore} keeps. Pruning goes oldest
 * first, by id, so what is left is always the newest messages.
 */
export interface Retention {
  /** Messages older than this many days are removed; 0 keeps them for ever. */
  keepDays: number;
  /**
   * The database's pages in use stay under this many bytes; 0 = no cap.
   * Removed messages free pages that new ones reuse: the file does not shrink.
   */
  maxBytes: number;
}

/** What one {@linkcode SqliteStore.pruneStep} removed, and why. */
export interface PruneStep {
  /** Messages removed; 0 means there is nothing to prune now. */
  removed: number;
  /** Which limit removed them. */
  reason?: "age" | "size";
}

/**
 * A store in SQLite; `":memory:"` keeps nothing on disk. A file database is
 * locked for this process ({@linkcode DatabaseLock}) until {@linkcode close}.
 */
export class SqliteStore implements MessageStore {
  #db: DatabaseSync;
  #lock?: DatabaseLock;
  #retention: Retention;
  #insert: StatementSync;
  #select: StatementSync;
  #selectOne: StatementSync;
  #pruneOldest: StatementSync;
  #pruneOlderThan: StatementSync;
  #keepLastId: StatementSync;
  #idRange: StatementSync;
  #mergeIndex: StatementSync;
  #lastOf: StatementSync;
  #remove: StatementSync;
  #blankQuotes: StatementSync;
  #pageCount: StatementSync;
  #freelistCount: StatementSync;
  #pageSize: number;
  /** Bytes appended since pruning last looked at the size (an estimate). */
  #appendedBytes = 0;
  /** Over the cap once: prune on down to the low-water mark. */
  #shrinking = false;

  /**
   * Opens (creating if needed) the database at `path`; `retention` says what
   * {@linkcode pruneStep} removes (by default nothing).
   * @throws {DatabaseInUseError} when another server holds the database.
   * @throws {StoreOpenError} when the file cannot be opened or is not SQLite.
   */
  constructor(path: string, retention: Retention = NO_RETENTION) {
    this.#retention = retention;
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
    // lose the last commits. The WAL is checkpointed every 1000 pages
    // (SQLite's default) and cut back to journal_size_limit afterwards.
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 2000;
      PRAGMA journal_size_limit = ${STORAGE_LIMITS.walLimitBytes};
      CREATE TABLE IF NOT EXISTS messages (
        id   INTEGER PRIMARY KEY,
        ts   INTEGER NOT NULL,
        room TEXT    NOT NULL,
        nick TEXT    NOT NULL,
        text TEXT    NOT NULL,
        me   INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX IF NOT EXISTS messages_room_id ON messages (room, id);
      CREATE TABLE IF NOT EXISTS meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      );
    `);
    this.#upgrade();
    this.#insert = this.#db.prepare(
      "INSERT INTO messages (id, ts, room, nick, text, me, extra) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    // Walks the (room, id) index backwards from `before`, reading only the
    // rows it returns: LIMIT bounds the count, the caller stops at its bytes.
    // The CAST keeps the LIMIT out of the query planner's hands: a bare
    // `LIMIT ?` is a value it plans by, so SQLite compiled the statement
    // again at each new binding (measured: 25 µs a read of an empty room,
    // 4 µs with the CAST; a welcome reads one).
    this.#select = this.#db.prepare(
      "SELECT id, ts, room, nick, text, me, extra FROM messages WHERE room = ? AND id > ? AND id < ? ORDER BY id DESC LIMIT CAST(? AS INTEGER)",
    );
    this.#selectOne = this.#db.prepare(
      "SELECT id, ts, room, nick, text, me, extra FROM messages WHERE id = ? AND room = ?",
    );
    this.#pruneOldest = this.#db.prepare(
      "DELETE FROM messages WHERE id IN (SELECT id FROM messages ORDER BY id LIMIT ?)",
    );
    // Only the oldest rows by id are looked at, never the whole table (ts
    // has no index: one would cost every insert), so a step stays bounded
    // however big the history is.
    this.#pruneOlderThan = this.#db.prepare(
      "DELETE FROM messages WHERE id IN (SELECT id FROM (SELECT id, ts FROM messages ORDER BY id LIMIT ?) WHERE ts < ?)",
    );
    // Ids must never be reused, even once every message is pruned: the hub
    // continues after lastId(), and clients resume with `since`.
    this.#keepLastId = this.#db.prepare(
      "INSERT INTO meta (key, value) VALUES ('last_id', ?) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
    );
    // Two subqueries, each answered from the end of the primary key: with
    // min() and max() in one SELECT, SQLite scans the whole table instead
    // (55 ms at 500,000 messages, on every prune step; 7 µs like this).
    this.#idRange = this.#db.prepare(
      "SELECT (SELECT min(id) FROM messages) AS first, (SELECT max(id) FROM messages) AS last",
    );
    this.#mergeIndex = this.#db.prepare(
      "INSERT INTO messages_fts (messages_fts, rank) VALUES ('merge', -16)",
    );
    // Walks the room's index from its newest message: a recall is of a
    // recent message, found after a few rows.
    this.#lastOf = this.#db.prepare(
      "SELECT id, ts, room, nick, text, me, extra FROM messages WHERE room = ? AND nick = ? ORDER BY id DESC LIMIT 1",
    );
    // The full-text index follows by its delete trigger.
    this.#remove = this.#db.prepare(
      "DELETE FROM messages WHERE id = ? AND room = ?",
    );
    this.#blankQuotes = this.#db.prepare(
      `UPDATE messages
       SET extra = json_set(extra, '$.quote.text', ?,
                            '$.quote.recalled', json('true'))
       WHERE id IN (SELECT id FROM messages WHERE room = ? AND id > ?
                    ORDER BY id LIMIT ?)
         AND extra IS NOT NULL AND json_extract(extra, '$.reply_to') = ?
         AND json_extract(extra, '$.quote') IS NOT NULL`,
    );
    this.#pageCount = this.#db.prepare("PRAGMA page_count");
    this.#freelistCount = this.#db.prepare("PRAGMA freelist_count");
    this.#pageSize = Number(
      this.#db.prepare("PRAGMA page_size").get()?.page_size,
    );
  }

  /**
   * The open database, for the tables that live beside the messages
   * (accounts and moderation: src/server/accounts.ts, moderation_book.ts).
   */
  get database(): DatabaseSync {
    return this.#db;
  }

  lastId(): number {
    const row = this.#db.prepare(
      "SELECT max(coalesce((SELECT max(id) FROM messages), 0), coalesce((SELECT value FROM meta WHERE key = 'last_id'), 0)) AS id",
    ).get();
    return Number(row?.id ?? 0);
  }

  append(messages: readonly RoomMessage[]): void {
    if (messages.length === 0) return;
    this.#db.exec("BEGIN");
    try {
      for (const m of messages) {
        this.#insert.run(
          m.id,
          m.ts,
          m.room,
          m.from,
          m.text,
          m.me ? 1 : 0,
          extraOf(m),
        );
        this.#appendedBytes += ROW_OVERHEAD_BYTES + m.text.length +
          m.from.length + m.room.length;
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      // SQLite rolls back by itself on some errors (a full disk): a second
      // ROLLBACK would throw and hide the error that matters.
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  history(room: string, query: HistoryQuery): HistoryPage {
    if (query.limit <= 0) return { messages: [], more: false };
    return takeNewest(this.#newestFirst(room, query), query);
  }

  /**
   * The room's messages in the query's range, newest first, one more than
   * its limit if there is one, read in pages of at most
   * {@linkcode HISTORY_PAGE_ROWS} rows with `all()`: `iterate()` cost about
   * twice as much per call here (measured: 60 µs of a hello's 110 µs of CPU
   * went to an empty room's history), and a welcome reads one. The caller
   * stops at its bytes or its time; a page it does not finish is at most
   * {@linkcode HISTORY_PAGE_ROWS} rows read for nothing.
   */
  *#newestFirst(room: string, query: HistoryQuery): Generator<RoomMessage> {
    const after = query.after ?? 0;
    let before = query.before ?? Number.MAX_SAFE_INTEGER;
    let wanted = query.limit + 1;
    while (wanted > 0) {
      const size = Math.min(wanted, HISTORY_PAGE_ROWS);
      const rows = this.#select.all(room, after, before, size);
      for (const row of rows) yield messageOf(row);
      if (rows.length < size) return;
      wanted -= size;
      before = Number(rows[rows.length - 1].id);
    }
  }

  message(room: string, id: number): RoomMessage | undefined {
    const row = this.#selectOne.get(id, room);
    return row ? messageOf(row) : undefined;
  }

  lastMessageOf(room: string, nick: string): RoomMessage | undefined {
    const row = this.#lastOf.get(room, nick);
    return row ? messageOf(row) : undefined;
  }

  remove(room: string, id: number): boolean {
    this.#db.exec("BEGIN");
    try {
      // The last id is kept, in case this was the newest message: ids are
      // never reused (clients resume with `since`).
      this.#keepLastId.run(id);
      const removed = Number(this.#remove.run(id, room).changes) > 0;
      if (removed) {
        this.#blankQuotes.run(
          MODERATION_LIMITS.recalledQuote,
          room,
          id,
          MODERATION_LIMITS.recallQuoteScanRows,
          id,
        );
      }
      this.#db.exec("COMMIT");
      return removed;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /**
   * Full-text search with SQLite FTS5's `trigram` tokenizer, which needs no
   * word boundaries, so Chinese (`数学作业`) is found like English. A word of
   * three characters or more is looked up in the index; a shorter one
   * (`作业` is two characters, too short for trigrams) is matched with LIKE
   * over the candidates. What one search costs is bounded: it looks at the
   * newest {@linkcode PROTOCOL_LIMITS.searchScanRows} index matches, or,
   * when every word is short, the newest that many messages of each room.
   */
  search(rooms: readonly string[], words: string, limit: number): SearchHit[] {
    const terms = searchTerms(words);
    if (terms.length === 0 || rooms.length === 0) return [];
    const long = terms.filter((t) => characterCount(t) >= 3);
    const short = terms.filter((t) => characterCount(t) < 3);
    const likes = short.map((t) => `%${t.replace(/[\\%_]/g, "\\$&")}%`);
    const likeSql = short.map(() => " AND text LIKE ? ESCAPE '\\'").join("");
    const scan = PROTOCOL_LIMITS.searchScanRows;
    const roomList = JSON.stringify(rooms);
    let rows;
    if (long.length > 0) {
      const indexed = this.#indexedUpTo();
      const allLikes = terms.map((t) => `%${t.replace(/[\\%_]/g, "\\$&")}%`);
      const allLikeSql = terms.map(() => " AND text LIKE ? ESCAPE '\\'")
        .join("");
      // Messages the background indexer has not reached yet, newest first.
      const fresh = this.#db.prepare(
        `SELECT id, ts, room, nick, text FROM (
           SELECT id, ts, room, nick, text FROM messages WHERE id > ?
           ORDER BY id DESC LIMIT ?
         ) WHERE room IN (SELECT value FROM json_each(?))${allLikeSql}
         ORDER BY id DESC LIMIT ?`,
      ).all(indexed, scan, roomList, ...allLikes, limit);
      const match = long.map((t) => `"${t.replaceAll('"', '""')}"`).join(" ");
      rows = this.#db.prepare(
        `SELECT id, ts, room, nick, text FROM messages WHERE id IN (
           SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?
           ORDER BY rowid DESC LIMIT ?
         ) AND room IN (SELECT value FROM json_each(?))${likeSql}
         ORDER BY id DESC LIMIT ?`,
      ).all(match, scan, roomList, ...likes, limit);
      rows = [...fresh, ...rows].slice(0, limit);
    } else {
      rows = [];
      const perRoom = this.#db.prepare(
        `SELECT id, ts, room, nick, text FROM (
           SELECT id, ts, room, nick, text FROM messages WHERE room = ?
           ORDER BY id DESC LIMIT ?
         ) WHERE 1${likeSql} ORDER BY id DESC LIMIT ?`,
      );
      for (const room of rooms) {
        rows.push(...perRoom.all(room, scan, ...likes, limit));
      }
      rows.sort((a, b) => Number(b.id) - Number(a.id));
      rows = rows.slice(0, limit);
    }
    return rows.map((row) => ({
      id: Number(row.id),
      ts: Number(row.ts),
      room: String(row.room),
      from: String(row.nick),
      text: String(row.text),
    }));
  }

  /**
   * Brings a database made by an older version up to date: the `extra`
   * column (a reply's quote, mentions) and the full-text index, built over
   * the history already stored, then kept in step by triggers on every
   * insert and every delete (pruning included).
   */
  #upgrade(): void {
    const columns = this.#db.prepare("PRAGMA table_info(messages)").all()
      .map((c) => String(c.name));
    if (!columns.includes("extra")) {
      this.#db.exec("ALTER TABLE messages ADD COLUMN extra TEXT");
    }
    const hasIndex = this.#db.prepare(
      "SELECT 1 FROM sqlite_master WHERE name = 'messages_fts'",
    ).get();
    if (hasIndex) return;
    // The history already stored is indexed by indexStep, in the
    // background, like every new message: opening stays quick.
    this.#db.exec(`
      BEGIN;
      CREATE VIRTUAL TABLE messages_fts USING fts5(
        text, content = 'messages', content_rowid = 'id', tokenize = 'trigram'
      );
      INSERT INTO meta (key, value) VALUES ('fts_indexed', 0)
        ON CONFLICT (key) DO UPDATE SET value = 0;
      CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
        WHEN old.id <= (SELECT value FROM meta WHERE key = 'fts_indexed')
      BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text)
          VALUES ('delete', old.id, old.text);
      END;
      COMMIT;
    `);
  }

  /**
   * Indexes up to `maxRows` messages not yet in the full-text index, oldest
   * first, in one transaction; returns how many (0: the index is complete).
   *
   * Indexing is kept off the message path on purpose: a trigram index costs
   * about 45 µs per short message (measured: 5 µs per message to store
   * without it, 50 µs with an insert trigger), ten times the rest of
   * storing, which at the benchmark's 58,000 messages a second would be
   * more than two cores. {@linkcode SearchIndexer} calls this when the
   * server is idle; {@linkcode search} covers what is not indexed yet.
   */
  indexStep(maxRows: number): number {
    this.#db.exec("BEGIN");
    try {
      const done = this.#indexedUpTo();
      const last = this.#db.prepare(
        "SELECT max(id) AS id FROM (SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?)",
      ).get(done, maxRows);
      const upTo = Number(last?.id ?? 0);
      let indexed = 0;
      if (upTo > done) {
        indexed = Number(
          this.#db.prepare(
            "INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages WHERE id > ? AND id <= ?",
          ).run(done, upTo).changes,
        );
        this.#db.prepare(
          "UPDATE meta SET value = ? WHERE key = 'fts_indexed'",
        ).run(upTo);
      }
      this.#db.exec("COMMIT");
      return indexed;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** The id up to which every message is in the full-text index. */
  #indexedUpTo(): number {
    const row = this.#db.prepare(
      "SELECT value FROM meta WHERE key = 'fts_indexed'",
    ).get();
    return Number(row?.value ?? 0);
  }

  /**
   * Bytes of the database in use: its pages minus the free ones (pages of
   * removed messages are reused before the file grows).
   */
  usedBytes(): number {
    const pages = Number(this.#pageCount.get()?.page_count);
    const free = Number(this.#freelistCount.get()?.freelist_count);
    return (pages - free) * this.#pageSize;
  }

  /**
   * True once enough was appended since the last prune that the size cap
   * may be crossed: a small fraction of the cap, so it is never far over.
   */
  get pruneDue(): boolean {
    return this.#retention.maxBytes > 0 &&
      this.#appendedBytes >=
        this.#retention.maxBytes * STORAGE_LIMITS.pruneCheckFraction;
  }

  /**
   * Removes one batch of the oldest messages that the retention no longer
   * allows, in one short transaction; call again until it removes nothing.
   * Each call costs at most {@linkcode STORAGE_LIMITS.pruneBatchRows} rows,
   * so a caller can spread a big prune over many turns of the event loop.
   */
  pruneStep(now: number = Date.now()): PruneStep {
    const batch = STORAGE_LIMITS.pruneBatchRows;
    const { keepDays, maxBytes } = this.#retention;
    if (keepDays > 0) {
      const removed = this.#removeBatch(this.#pruneOlderThan, [
        batch,
        now - keepDays * DAY_MS,
      ]);
      if (removed > 0) return { removed, reason: "age" };
    }
    this.#appendedBytes = 0;
    if (maxBytes > 0) {
      const used = this.usedBytes();
      if (used > maxBytes) this.#shrinking = true;
      const target = maxBytes * STORAGE_LIMITS.pruneToFraction;
      if (this.#shrinking && used > target) {
        // No more rows than bring it to the target, for a cap so small that
        // one batch is most of it: ids are nearly contiguous, so their range
        // counts the rows without a scan.
        const range = this.#idRange.get();
        const rows = Number(range?.last ?? 0) - Number(range?.first ?? 0) + 1;
        const wanted = Math.ceil((used - target) / (used / Math.max(rows, 1)));
        const removed = this.#removeBatch(this.#pruneOldest, [
          Math.min(batch, Math.max(wanted, 1)),
        ]);
        if (removed > 0) return { removed, reason: "size" };
      }
      this.#shrinking = false;
    }
    return { removed: 0 };
  }

  /** Copies the WAL into the database and empties it (after a prune). */
  checkpoint(): void {
    this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
    this.#lock?.release();
  }

  #removeBatch(statement: StatementSync, args: number[]): number {
    // A deferred transaction: a step that removes nothing writes nothing.
    this.#db.exec("BEGIN");
    try {
      const last = Number(this.#idRange.get()?.last ?? 0);
      const removed = Number(statement.run(...args).changes);
      if (removed > 0) {
        this.#keepLastId.run(last);
        // FTS5 records a delete as a tombstone until its segments merge: a
        // little merging per batch gives the size cap back the index's
        // share too (measured: ~2 ms a batch on a 200,000-message index).
        this.#mergeIndex.run();
      }
      this.#db.exec("COMMIT");
      return removed;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }
}

/** A message's reply, quote, mentions and file as stored: JSON, or null if none. */
function extraOf(m: RoomMessage): string | null {
  if (m.reply_to === undefined && !m.mentions && !m.all && !m.file) {
    return null;
  }
  const extra: Record<string, unknown> = {};
  if (m.reply_to !== undefined) extra.reply_to = m.reply_to;
  if (m.quote) extra.quote = m.quote;
  if (m.mentions) extra.mentions = m.mentions;
  if (m.all) extra.all = true;
  if (m.file) extra.file = m.file;
  return JSON.stringify(extra);
}

function messageOf(row: Record<string, unknown>): RoomMessage {
  const message: RoomMessage = {
    type: "msg",
    id: Number(row.id),
    ts: Number(row.ts),
    room: String(row.room),
    from: String(row.nick),
    text: String(row.text),
  };
  if (row.me) message.me = true;
  if (typeof row.extra === "string") {
    Object.assign(message, JSON.parse(row.extra));
  }
  return message;
}

/** The words of a search, at most 8, each at most 100 characters. */
export function searchTerms(words: string): string[] {
  return words.split(/\s+/).filter((w) => w !== "").slice(0, 8)
    .map((w) => [...w].slice(0, 100).join(""));
}

const NO_RETENTION: Retention = { keepDays: 0, maxBytes: 0 };
const DAY_MS = 24 * 60 * 60 * 1000;
/** A row's id, ts, flags and index entry, roughly, for {@linkcode SqliteStore.pruneDue}. */
const ROW_OVERHEAD_BYTES = 40;

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

  history(room: string, query: HistoryQuery): HistoryPage {
    if (query.limit <= 0) return { messages: [], more: false };
    const after = query.after ?? 0;
    const before = query.before ?? Infinity;
    const inRange = this.messages.filter((m) =>
      m.room === room && m.id > after && m.id < before
    );
    return takeNewest(inRange.slice(-(query.limit + 1)).reverse(), query);
  }

  message(room: string, id: number): RoomMessage | undefined {
    return this.messages.find((m) => m.id === id && m.room === room);
  }

  search(rooms: readonly string[], words: string, limit: number): SearchHit[] {
    const terms = searchTerms(words).map((t) => t.toLowerCase());
    if (terms.length === 0) return [];
    return this.messages.filter((m) =>
      rooms.includes(m.room) &&
      terms.every((t) => m.text.toLowerCase().includes(t))
    ).reverse().slice(0, limit).map(({ id, ts, room, from, text }) => ({
      id,
      ts,
      room,
      from,
      text,
    }));
  }

  lastMessageOf(room: string, nick: string): RoomMessage | undefined {
    return this.messages.findLast((m) => m.room === room && m.from === nick);
  }

  remove(room: string, id: number): boolean {
    const index = this.messages.findIndex((m) =>
      m.id === id && m.room === room
    );
    if (index === -1) return false;
    this.messages.splice(index, 1);
    for (const m of this.messages.slice(index)) {
      if (m.room === room && m.reply_to === id && m.quote) {
        m.quote = {
          ...m.quote,
          text: MODERATION_LIMITS.recalledQuote,
          recalled: true,
        };
      }
    }
    return true;
  }

  close(): void {}
}
