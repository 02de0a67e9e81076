/**
 * The sending side of one connection: a bounded queue of byte chunks and one
 * pump that writes everything queued so far, coalesced, per round.
 *
 * {@linkcode WriteQueue.push} never blocks, so the hub hands every member its
 * bytes without waiting on any of them; a peer that stops reading fills only
 * its own queue, and is reported as slow once the bound is passed.
 *
 * @module
 */

/** Options for {@linkcode WriteQueue}. */
export interface WriteQueueOptions {
  /** Writes all of `data` to the peer; rejects when the peer is gone. */
  write: (data: Uint8Array) => Promise<void>;
  /** Bytes that may wait behind a write the peer has not taken. */
  maxWaitingBytes: number;
  /** Called once the bound is passed; the queue is already dropped. */
  onSlow: () => void;
  /** Called when a write fails; the queue is already dropped. */
  onError: (error: unknown) => void;
  /** Called each time the pump stops with nothing left to write. */
  onIdle: () => void;
}

/** A bounded, coalescing write queue. */
export class WriteQueue {
  #options: WriteQueueOptions;
  #chunks: Uint8Array[] = [];
  /** Bytes queued behind the write in progress, not yet handed to it. */
  #waitingBytes = 0;
  /** True while a write to the peer has not completed. */
  #writeInFlight = false;
  #pumping = false;

  /** @param options where to write, the bound, and what to tell the owner. */
  constructor(options: WriteQueueOptions) {
    this.#options = options;
  }

  /** True while the pump runs: bytes are queued or being written. */
  get busy(): boolean {
    return this.#pumping;
  }

  /**
   * Queues bytes and starts the pump (in a microtask, so every chunk queued
   * in this turn goes out in the same write). Returns false, after calling
   * `onSlow`, when the peer has let too much pile up.
   */
  push(bytes: Uint8Array): boolean {
    this.#chunks.push(bytes);
    this.#waitingBytes += bytes.length;
    // Slow means bytes pile up behind a write the peer has not taken. A big
    // burst queued in one tick, before a write was even tried, is not.
    if (
      this.#writeInFlight &&
      this.#waitingBytes > this.#options.maxWaitingBytes
    ) {
      this.#drop();
      this.#options.onSlow();
      return false;
    }
    if (!this.#pumping) {
      this.#pumping = true;
      queueMicrotask(() => this.#pump());
    }
    return true;
  }

  #drop(): void {
    this.#chunks = [];
    this.#waitingBytes = 0;
  }

  async #pump(): Promise<void> {
    try {
      while (this.#chunks.length > 0) {
        const chunks = this.#chunks;
        this.#drop();
        this.#writeInFlight = true;
        for (const data of coalesce(chunks)) await this.#options.write(data);
        this.#writeInFlight = false;
      }
    } catch (error) {
      this.#drop();
      this.#options.onError(error);
    } finally {
      this.#pumping = false;
      this.#writeInFlight = false;
      this.#options.onIdle();
    }
  }
}

/** A queued chunk this big is written as it is, never copied into a run. */
const SHARED_CHUNK_BYTES = 16 * 1024;

/**
 * One round's writes: runs of small chunks joined into one buffer (one write
 * for many events), and big chunks as they are. A big chunk is usually
 * shared by many members (a tick's batch, a big room's member list in a
 * welcome); joining it would copy it once per member.
 */
export function coalesce(chunks: Uint8Array[]): Uint8Array[] {
  if (chunks.length === 1) return chunks;
  const total = byteLength(chunks);
  if (total < SHARED_CHUNK_BYTES) return [concat(chunks, total)];
  const writes: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  let runBytes = 0;
  const endRun = () => {
    if (run.length > 0) {
      writes.push(run.length === 1 ? run[0] : concat(run, runBytes));
    }
    run = [];
    runBytes = 0;
  };
  for (const chunk of chunks) {
    if (chunk.length >= SHARED_CHUNK_BYTES) {
      endRun();
      writes.push(chunk);
    } else {
      run.push(chunk);
      runBytes += chunk.length;
    }
  }
  endRun();
  return writes;
}

function byteLength(chunks: Uint8Array[]): number {
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  return total;
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const data = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    data.set(chunk, offset);
    offset += chunk.length;
  }
  return data;
}
