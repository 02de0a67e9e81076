/**
 * Where the bytes of shared files live: a folder beside the history
 * database ({@linkcode FolderVault}), or memory for `--db :memory:`
 * ({@linkcode MemoryVault}). Every operation is asynchronous and none runs
 * on the hub's path: an upload streams to a temporary file while the rooms
 * go on, and only a finished one is renamed to its id.
 *
 * @module
 */

import { FILE_LIMITS } from "../shared/limits.ts";

/** A file being written: its bytes, then `commit` under an id, or `abort`. */
export interface VaultSink {
  /** Appends bytes. */
  write(bytes: Uint8Array): Promise<void>;
  /** Makes the written bytes file `id`. */
  commit(id: string): Promise<void>;
  /** Throws the written bytes away. */
  abort(): Promise<void>;
}

/** The bytes of shared files, by id. */
export interface FileVault {
  /** Starts a new file, kept apart from the finished ones until committed. */
  create(): Promise<VaultSink>;
  /** File `id`'s bytes, in chunks of at most {@linkcode FILE_LIMITS.chunkBytes}. */
  read(id: string): AsyncIterable<Uint8Array>;
  /** Deletes file `id` (nothing happens if it is not there). */
  remove(id: string): Promise<void>;
  /** Deletes what unfinished uploads left behind (a crash, a kill) before `before`. */
  removeStale(before: number): Promise<number>;
  /** Bytes held now (for tests): finished files, not counting unfinished ones. */
  size(): Promise<number>;
}

/** The temporary name of an unfinished upload: never a valid file id. */
const TEMP_PREFIX = ".upload-";

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** True when `id` may name a file of the vault (no path tricks). */
function isSafeId(id: string): boolean {
  return /^[a-z0-9]{1,64}$/.test(id);
}

/**
 * Files in a folder, one per id, created on first use (readable by the
 * server's user alone). Each upload is written to `.upload-…` and renamed
 * once complete, so a half-written file never carries an id.
 */
export class FolderVault implements FileVault {
  readonly #dir: string;
  #made = false;

  /** @param dir the folder (made when the first upload starts). */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** The folder. */
  get dir(): string {
    return this.#dir;
  }

  async create(): Promise<VaultSink> {
    if (!this.#made) {
      await Deno.mkdir(this.#dir, { recursive: true, mode: 0o700 });
      this.#made = true;
    }
    const temp = `${this.#dir}/${TEMP_PREFIX}${randomSuffix()}`;
    const file = await Deno.open(temp, {
      write: true,
      createNew: true,
      mode: 0o600,
    });
    let open = true;
    const close = () => {
      if (!open) return;
      open = false;
      try {
        file.close();
      } catch {
        // Closed already.
      }
    };
    return {
      write: async (bytes) => {
        let offset = 0;
        while (offset < bytes.length) {
          offset += await file.write(bytes.subarray(offset));
        }
      },
      commit: async (id) => {
        if (!isSafeId(id)) throw new Error(`bad file id ${id}`);
        close();
        await Deno.rename(temp, `${this.#dir}/${id}`);
      },
      abort: async () => {
        close();
        await Deno.remove(temp).catch(() => {});
      },
    };
  }

  async *read(id: string): AsyncIterable<Uint8Array> {
    if (!isSafeId(id)) return;
    const file = await Deno.open(`${this.#dir}/${id}`, { read: true });
    try {
      const buffer = new Uint8Array(FILE_LIMITS.chunkBytes);
      for (;;) {
        const n = await file.read(buffer);
        if (n === null) return;
        // A copy: the consumer may hold it while the next read fills the buffer.
        yield buffer.slice(0, n);
      }
    } finally {
      file.close();
    }
  }

  async remove(id: string): Promise<void> {
    if (!isSafeId(id)) return;
    await Deno.remove(`${this.#dir}/${id}`).catch(() => {});
  }

  async removeStale(before: number): Promise<number> {
    let removed = 0;
    try {
      for await (const entry of Deno.readDir(this.#dir)) {
        if (!entry.isFile || !entry.name.startsWith(TEMP_PREFIX)) continue;
        const path = `${this.#dir}/${entry.name}`;
        const info = await Deno.stat(path).catch(() => undefined);
        if (info?.mtime && info.mtime.getTime() < before) {
          await Deno.remove(path).catch(() => {});
          removed++;
        }
      }
    } catch {
      // No folder yet: nothing was ever uploaded.
    }
    return removed;
  }

  async size(): Promise<number> {
    let total = 0;
    try {
      for await (const entry of Deno.readDir(this.#dir)) {
        if (!entry.isFile || entry.name.startsWith(TEMP_PREFIX)) continue;
        total += (await Deno.stat(`${this.#dir}/${entry.name}`)).size;
      }
    } catch {
      // No folder yet.
    }
    return total;
  }
}

/** Files in memory, for a server whose history is in memory too. */
export class MemoryVault implements FileVault {
  #files = new Map<string, Uint8Array>();

  create(): Promise<VaultSink> {
    let parts: Uint8Array[] = [];
    let length = 0;
    return Promise.resolve({
      write: (bytes) => {
        parts.push(bytes.slice());
        length += bytes.length;
        return Promise.resolve();
      },
      commit: (id) => {
        const whole = new Uint8Array(length);
        let offset = 0;
        for (const part of parts) {
          whole.set(part, offset);
          offset += part.length;
        }
        parts = [];
        this.#files.set(id, whole);
        return Promise.resolve();
      },
      abort: () => {
        parts = [];
        return Promise.resolve();
      },
    });
  }

  async *read(id: string): AsyncIterable<Uint8Array> {
    const bytes = this.#files.get(id);
    if (!bytes) throw new Deno.errors.NotFound(`no file ${id}`);
    for (let at = 0; at < bytes.length; at += FILE_LIMITS.chunkBytes) {
      yield bytes.subarray(at, at + FILE_LIMITS.chunkBytes);
    }
    await Promise.resolve();
  }

  remove(id: string): Promise<void> {
    this.#files.delete(id);
    return Promise.resolve();
  }

  removeStale(): Promise<number> {
    return Promise.resolve(0);
  }

  size(): Promise<number> {
    let total = 0;
    for (const bytes of this.#files.values()) total += bytes.length;
    return Promise.resolve(total);
  }
}
