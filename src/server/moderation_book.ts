/**
 * What a room's owner and admins decided, kept in the history database so it
 * survives a restart: each room's admins (`room_admins`), mutes and bans
 * (`restrictions`), whether everyone is muted (`room_settings`), and one row
 * per action taken (`moderation_log`: who did what to whom, when).
 *
 * A restriction names its target by a key the hub chooses: `account:NAME`
 * for a registered member, `nick:NAME` (mutes) or `address:IP` (bans) for a
 * guest. An expired restriction is ignored and removed when next read.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { PinnedNotice } from "../../protocol.ts";

/** A mute or a ban in force. */
export interface Restriction {
  kind: "mute" | "ban";
  room: string;
  /** Whom it holds: `account:…`, `nick:…` or `address:…`. */
  target: string;
  /** The nickname it was given to, for `/bans`. */
  nick: string;
  /** When it ends, ms since the epoch; 0 = never. */
  until: number;
  by: string;
  reason: string;
}

/** One moderation action, for the log table. */
export interface ModerationAction {
  ts: number;
  room: string;
  action: string;
  by: string;
  target: string;
  detail: string;
}

/** The moderation tables of a database. */
export class ModerationBook {
  #isAdmin: StatementSync;
  #addAdmin: StatementSync;
  #removeAdmin: StatementSync;
  #find: StatementSync;
  #put: StatementSync;
  #lift: StatementSync;
  #list: StatementSync;
  #muteAll: StatementSync;
  #setMuteAll: StatementSync;
  #log: StatementSync;
  #notice: StatementSync;
  #setNotice: StatementSync;
  #now: () => number;
  /**
   * The rooms that may have a ban or a pinned notice: a room outside them
   * has none, so the hello and the welcome of a room nobody moderates ask
   * SQLite nothing (a lookup each, of 5–10 µs, on every hello). The server
   * is its database's only writer while it runs, and this book its only
   * writer of these tables; a room whose last ban is lifted stays in the
   * set and is simply asked.
   */
  #roomsWithBans: Set<string>;
  #roomsWithNotice: Set<string>;

  /** Creates the tables if needed. */
  constructor(db: DatabaseSync, now: () => number = Date.now) {
    this.#now = now;
    db.exec(`
      CREATE TABLE IF NOT EXISTS room_admins (
        room    TEXT NOT NULL,
        account TEXT NOT NULL,
        PRIMARY KEY (room, account)
      );
      CREATE TABLE IF NOT EXISTS restrictions (
        kind   TEXT    NOT NULL,
        room   TEXT    NOT NULL,
        target TEXT    NOT NULL,
        nick   TEXT    NOT NULL,
        until  INTEGER NOT NULL,
        by     TEXT    NOT NULL,
        reason TEXT    NOT NULL,
        PRIMARY KEY (kind, room, target)
      );
      CREATE TABLE IF NOT EXISTS room_settings (
        room    TEXT PRIMARY KEY,
        muteall INTEGER NOT NULL DEFAULT 0,
        notice    TEXT    NOT NULL DEFAULT '',
        notice_by TEXT    NOT NULL DEFAULT '',
        notice_ts INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE IF NOT EXISTS moderation_log (
        ts     INTEGER NOT NULL,
        room   TEXT    NOT NULL,
        action TEXT    NOT NULL,
        by     TEXT    NOT NULL,
        target TEXT    NOT NULL,
        detail TEXT    NOT NULL
      );
    `);
    this.#isAdmin = db.prepare(
      "SELECT 1 AS yes FROM room_admins WHERE room = ? AND account = ?",
    );
    this.#addAdmin = db.prepare(
      "INSERT OR IGNORE INTO room_admins (room, account) VALUES (?, ?)",
    );
    this.#removeAdmin = db.prepare(
      "DELETE FROM room_admins WHERE room = ? AND account = ?",
    );
    this.#find = db.prepare(
      "SELECT kind, room, target, nick, until, by, reason FROM restrictions WHERE kind = ? AND room = ? AND target = ?",
    );
    this.#put = db.prepare(
      "INSERT OR REPLACE INTO restrictions (kind, room, target, nick, until, by, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.#lift = db.prepare(
      "DELETE FROM restrictions WHERE kind = ? AND room = ? AND target = ?",
    );
    this.#list = db.prepare(
      "SELECT kind, room, target, nick, until, by, reason FROM restrictions WHERE kind = ? AND room = ? ORDER BY nick LIMIT ?",
    );
    this.#muteAll = db.prepare(
      "SELECT muteall FROM room_settings WHERE room = ?",
    );
    this.#setMuteAll = db.prepare(
      "INSERT INTO room_settings (room, muteall) VALUES (?, ?) ON CONFLICT (room) DO UPDATE SET muteall = excluded.muteall",
    );
    this.#notice = db.prepare(
      "SELECT notice, notice_by, notice_ts FROM room_settings WHERE room = ?",
    );
    this.#setNotice = db.prepare(
      "INSERT INTO room_settings (room, notice, notice_by, notice_ts) VALUES (?, ?, ?, ?) ON CONFLICT (room) DO UPDATE SET notice = excluded.notice, notice_by = excluded.notice_by, notice_ts = excluded.notice_ts",
    );
    this.#log = db.prepare(
      "INSERT INTO moderation_log (ts, room, action, by, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
    );
    const rooms = (sql: string) =>
      new Set(db.prepare(sql).all().map((row) => String(row.room)));
    this.#roomsWithBans = rooms(
      "SELECT DISTINCT room FROM restrictions WHERE kind = 'ban'",
    );
    this.#roomsWithNotice = rooms(
      "SELECT room FROM room_settings WHERE notice != ''",
    );
  }

  /** True when account key `account` was made an admin of `room` (`/op`). */
  isRoomAdmin(room: string, account: string): boolean {
    return this.#isAdmin.get(room, account) !== undefined;
  }

  /** Makes (`true`) or unmakes an admin of `room`. */
  setRoomAdmin(room: string, account: string, admin: boolean): void {
    (admin ? this.#addAdmin : this.#removeAdmin).run(room, account);
  }

  /** The first of `targets` that `kind` holds in `room`, if any in force. */
  find(
    kind: Restriction["kind"],
    room: string,
    targets: readonly string[],
  ): Restriction | undefined {
    if (kind === "ban" && !this.#roomsWithBans.has(room)) return undefined;
    for (const target of targets) {
      const row = this.#find.get(kind, room, target);
      if (!row) continue;
      const found = toRestriction(row);
      if (found.until !== 0 && found.until <= this.#now()) {
        this.#lift.run(kind, room, target);
        continue;
      }
      return found;
    }
    return undefined;
  }

  /** Puts a mute or ban in force, replacing one on the same target. */
  put(restriction: Restriction): void {
    const r = restriction;
    if (r.kind === "ban") this.#roomsWithBans.add(r.room);
    this.#put.run(r.kind, r.room, r.target, r.nick, r.until, r.by, r.reason);
  }

  /** Lifts a mute or ban; false when there was none. */
  lift(kind: Restriction["kind"], room: string, target: string): boolean {
    return Number(this.#lift.run(kind, room, target).changes) > 0;
  }

  /** The restrictions of `kind` in force in `room`, at most `limit`. */
  list(kind: Restriction["kind"], room: string, limit: number): Restriction[] {
    const now = this.#now();
    return this.#list.all(kind, room, limit).map(toRestriction).filter((r) =>
      r.until === 0 || r.until > now
    );
  }

  /** True while only the owner and admins may speak in `room`. */
  isMutedAll(room: string): boolean {
    return Number(this.#muteAll.get(room)?.muteall ?? 0) === 1;
  }

  /** Turns `/muteall` on or off for `room`. */
  setMutedAll(room: string, on: boolean): void {
    this.#setMuteAll.run(room, on ? 1 : 0);
  }

  /** The room's pinned notice, if one is set. */
  notice(room: string): PinnedNotice | undefined {
    if (!this.#roomsWithNotice.has(room)) return undefined;
    const row = this.#notice.get(room);
    if (!row || String(row.notice) === "") return undefined;
    return {
      text: String(row.notice),
      by: String(row.notice_by),
      ts: Number(row.notice_ts),
    };
  }

  /** Pins a notice on the room; an empty `text` clears it. */
  setNotice(room: string, notice: PinnedNotice): void {
    if (notice.text !== "") this.#roomsWithNotice.add(room);
    this.#setNotice.run(room, notice.text, notice.by, notice.ts);
    if (notice.text === "") this.#roomsWithNotice.delete(room);
  }

  /** Stores one action in the log table. */
  record(action: ModerationAction): void {
    const a = action;
    this.#log.run(a.ts, a.room, a.action, a.by, a.target, a.detail);
  }
}

function toRestriction(row: Record<string, unknown>): Restriction {
  return {
    kind: String(row.kind) as Restriction["kind"],
    room: String(row.room),
    target: String(row.target),
    nick: String(row.nick),
    until: Number(row.until),
    by: String(row.by),
    reason: String(row.reason),
  };
}
