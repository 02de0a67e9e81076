/**
 * One server per database: an exclusive advisory lock on a file beside it
 * (`chat.db.lock`), which also holds the owner's process id for the error
 * the second server prints.
 *
 * Why a lock file and not SQLite's `PRAGMA locking_mode = EXCLUSIVE`: both
 * refuse a second server at once, but SQLite's exclusive mode also locks out
 * every reader, so `sqlite3 chat.db .backup` or a look at the history would
 * fail while the server runs. The lock is `flock` (Deno's `tryLockSync`): the
 * kernel drops it when the process dies, even by `kill -9`, so a restart
 * never finds a stale lock, and it never blocks.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";

/** Another `chat serve` holds the database: a message for the user. */
export class DatabaseInUseError extends Error {
  /** @param path the database path as given; @param pid its owner, if known. */
  constructor(path: string, pid: number | undefined) {
    const owner = pid === undefined ? "" : ` (pid ${pid})`;
    super(
      `${path} is in use by another chat serve${owner}; stop it or give --db another file`,
    );
    this.name = "DatabaseInUseError";
  }
}

/** An exclusive hold on one database, until {@linkcode DatabaseLock.release}. */
export class DatabaseLock {
  #file: Deno.FsFile;

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** The lock file that guards the database at `dbPath`. */
  static pathFor(dbPath: string): string {
    // The same database reached by another name (a symlink, `./chat.db`
    // against an absolute path) must find the same lock file.
    let real: string;
    try {
      real = Deno.realPathSync(dbPath);
    } catch {
      real = join(Deno.realPathSync(dirname(dbPath)), basename(dbPath));
    }
    return `${real}.lock`;
  }

  /**
   * Takes the lock without waiting.
   * @throws {DatabaseInUseError} when another process holds it.
   * @throws the file system's error when the lock file cannot be opened.
   */
  static acquire(dbPath: string): DatabaseLock {
    const lockPath = DatabaseLock.pathFor(dbPath);
    // Never truncate on open: the loser reads the owner's pid from it.
    const file = Deno.openSync(lockPath, {
      read: true,
      write: true,
      create: true,
    });
    let locked: boolean;
    try {
      locked = file.tryLockSync(true);
    } catch (error) {
      file.close();
      throw error;
    }
    if (!locked) {
      file.close();
      throw new DatabaseInUseError(dbPath, readPid(lockPath));
    }
    // The file stays when the server stops: deleting it would let a third
    // server lock a new file while a second still waits on the old one.
    file.truncateSync(0);
    file.writeSync(new TextEncoder().encode(`${Deno.pid}\n`));
    return new DatabaseLock(file);
  }

  /** Lets another server open the database. */
  release(): void {
    try {
      this.#file.close();
    } catch {
      // Already closed: closing drops the lock.
    }
  }
}

function readPid(lockPath: string): number | undefined {
  try {
    const text = Deno.readTextFileSync(lockPath).trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}
