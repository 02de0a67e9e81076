/**
 * The sending side of one connection: a bounded queue of byte chunks and one
 * pump that writes everything queued so far, coalesced, per round.
 *
 * {@linkcode WriteQueue.push} never blocks, so the hub hands every member its
 * bytes without waiting on any of them; a peer that stops reading fills only
 * its own queue.
 *
 * Every byte counts against the limits from the moment it is pushed until the
 * peer has taken it: bytes waiting, and bytes handed to a write that has not
 * finished. (Counting only what waits behind a write in progress let a client
 * queue gigabytes in one tick, before its first write had even started.) Like
 * Redis's `client-output-buffer-limit`, there are two limits: over the hard
 * one the connection is dropped at once; over the soft one for `softMs`
 * without a break, too.
 *
 * @module
 */

/**
 * Told how much of the room's traffic a queue holds as it changes; drives
 * backpressure. Only room traffic counts: a member whose queue fills with
 * replies to its own requests must not hold its room back.
 */
export interface QueueWatcher {
  /** Room traffic was queued: `roomBytes` of it now wait or are in flight. */
  grew(roomBytes: number): void;
  /** The peer took bytes: `roomBytes` of room traffic are left. */
  shrank(roomBytes: number): void;
}

/** Which limit a dropped connection passed. */
export type QueueLimit = "hard" | "soft";

/** Options for {@linkcode WriteQueue}. */
export interface WriteQueueOptions {
  /**
   * Writes some of `data` to the peer, like `Deno.Conn.write`: resolves with
   * how many bytes the peer took (at least one), and the queue writes the
   * rest next; rejects when the peer is gone.
   */
  write: (data: Uint8Array) => Promise<number>;
  /** The hard limit: more queued than this drops the connection at once. */
  maxBytes: number;
  /** The soft limit; 0 or absent: none. @default {0} */
  softBytes?: number;
  /** How long the queue may stay over `softBytes`. @default {10000} */
  softMs?: number;
  /** Called once a limit is passed; the queue is already dropped. */
  onSlow: (limit: QueueLimit) => void;
  /** Called when a write fails; the queue is already dropped. */
  onError: (error: unknown) => void;
  /** Called each time the pump stops with nothing left to write. */
  onIdle: () => void;
  /** Told of every change in what is queued (backpressure). */
  watcher?: QueueWatcher;
}

/** A bounded, coalescing write queue. */
export class WriteQueue {
  #options: WriteQueueOptions;
  #softBytes: number;
  #softMs: number;
  #chunks: Uint8Array[] = [];
  /** Bytes pushed and not yet taken by the peer: waiting plus in flight. */
  #queuedBytes = 0;
  /** The round being written: its writes, and which one is under way. */
  #roundWrites: readonly Uint8Array[] = NO_WRITES;
  #roundIndex = 0;
  /** What is left of the write under way. */
  #writing: Uint8Array | undefined;
  /** Room traffic waiting for the next round. */
  #roomWaiting = 0;
  /**
   * Room traffic of the round being written, taken last: a round's bytes
   * left to write bound it.
   */
  #roomInRound = 0;
  /** Bytes of the round being written that the peer has not taken. */
  #roundLeft = 0;
  #pumping = false;
  /** Set once a limit was passed or a write failed: nothing more is queued. */
  #dropped = false;
  /** When the queue last went over the soft limit, while it still is. */
  #overSoftSince: number | undefined;
  #softTimer: ReturnType<typeof setTimeout> | undefined;
  /** Waiting for what is queued beside room traffic to fall to `bytes`. */
  #ownWaiter: { bytes: number; done: () => void } | undefined;
  // The pump's steps, bound once: a member costs no closure per message.
  #startPump = () => this.#nextRound();
  #written = (bytes: number) => this.#wrote(bytes);
  #failed = (error: unknown) => this.#writeFailed(error);

  /** @param options where to write, the limits, and what to tell the owner. */
  constructor(options: WriteQueueOptions) {
    this.#options = options;
    this.#softBytes = options.softBytes || Infinity;
    this.#softMs = options.softMs ?? 10_000;
  }

  /** True while the pump runs: bytes are queued or being written. */
  get busy(): boolean {
    return this.#pumping;
  }

  /** Bytes pushed that the peer has not taken yet (waiting or in flight). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /**
   * Bytes queued that are not room traffic: replies to the peer's own
   * requests, errors, personal events.
   */
  get ownBytes(): number {
    return this.#queuedBytes - this.#roomWaiting - this.#roomInRound;
  }

  /**
   * Resolves once at most `bytes` of {@linkcode WriteQueue.ownBytes} are
   * left, or the queue is closed; one waiter at a time (a later call
   * replaces it, resolving the earlier).
   */
  whenOwnAtMost(bytes: number): Promise<void> {
    this.#ownWaiter?.done();
    this.#ownWaiter = undefined;
    if (this.#dropped || this.ownBytes <= bytes) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#ownWaiter = { bytes, done: resolve };
    return promise;
  }

  /**
   * Queues bytes and starts the pump (in a microtask, so every chunk queued
   * in this turn goes out in the same write). `fromRoom` marks the room's
   * traffic (a tick's messages), which the watcher is told about. Returns
   * false, after calling `onSlow`, when this push takes the queue over the
   * hard limit, and false once the queue was dropped.
   */
  push(bytes: Uint8Array, fromRoom = false): boolean {
    if (this.#dropped) return false;
    this.#chunks.push(bytes);
    const queued = this.#queuedBytes += bytes.length;
    if (queued > this.#options.maxBytes) {
      this.#fail("hard");
      return false;
    }
    if (queued > this.#softBytes && this.#overSoftSince === undefined) {
      this.#startSoftClock();
    }
    if (fromRoom) {
      this.#roomWaiting += bytes.length;
      this.#options.watcher?.grew(this.#roomWaiting + this.#roomInRound);
    }
    if (!this.#pumping) {
      this.#pumping = true;
      queueMicrotask(this.#startPump);
    }
    return true;
  }

  /** Drops what is queued and stops the soft clock: the connection is over. */
  close(): void {
    this.#dropped = true;
    this.#chunks = [];
    this.#stopSoftClock();
    this.#ownWaiter?.done();
    this.#ownWaiter = undefined;
  }

  #taken(bytes: number): void {
    const queued = this.#queuedBytes -= bytes;
    if (queued <= this.#softBytes) this.#overSoftSince = undefined;
    const left = this.#roundLeft -= bytes;
    if (this.#roomInRound > left) {
      this.#roomInRound = Math.max(0, left);
      this.#options.watcher?.shrank(this.#roomWaiting + this.#roomInRound);
    }
    const waiter = this.#ownWaiter;
    if (waiter && this.ownBytes <= waiter.bytes) {
      this.#ownWaiter = undefined;
      waiter.done();
    }
  }

  #fail(limit: QueueLimit): void {
    this.close();
    this.#options.onSlow(limit);
  }

  /**
   * Notes when the queue went over the soft limit. One timer per queue, armed
   * on the first crossing and re-armed for what is left when it fires: a
   * queue that goes over and back many times a second costs no timer churn.
   */
  #startSoftClock(): void {
    this.#overSoftSince = Date.now();
    if (this.#softTimer === undefined) this.#armSoftTimer(this.#softMs);
  }

  #armSoftTimer(ms: number): void {
    this.#softTimer = setTimeout(() => {
      this.#softTimer = undefined;
      if (this.#overSoftSince === undefined || this.#dropped) return;
      const left = this.#overSoftSince + this.#softMs - Date.now();
      if (left <= 0) this.#fail("soft");
      else this.#armSoftTimer(left);
    }, ms);
  }

  #stopSoftClock(): void {
    this.#overSoftSince = undefined;
    if (this.#softTimer === undefined) return;
    clearTimeout(this.#softTimer);
    this.#softTimer = undefined;
  }

  /*
   * The pump: rounds of writes, each round everything queued when it began,
   * coalesced. Promise callbacks rather than an async loop: a room's message
   * costs every member one write and one callback. The await chain (pump,
   * write, socket) cost a third more per delivery than the socket write
   * itself when 5,000 members each got one.
   */

  #nextRound(): void {
    if (this.#chunks.length === 0) return this.#stop();
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#roomInRound = this.#roomWaiting;
    this.#roomWaiting = 0;
    this.#roundLeft = byteLength(chunks);
    this.#roundWrites = coalesce(chunks);
    this.#roundIndex = 0;
    this.#writeNext();
  }

  #writeNext(): void {
    if (this.#roundIndex === this.#roundWrites.length) return this.#nextRound();
    this.#writing = this.#roundWrites[this.#roundIndex++];
    this.#send();
  }

  #send(): void {
    let written: Promise<number>;
    try {
      written = this.#options.write(this.#writing!);
    } catch (error) {
      return this.#writeFailed(error);
    }
    written.then(this.#written, this.#failed);
  }

  #wrote(bytes: number): void {
    const data = this.#writing!;
    this.#taken(Math.min(bytes, data.length));
    if (bytes < data.length) {
      this.#writing = data.subarray(bytes);
      this.#send();
    } else this.#writeNext();
  }

  #writeFailed(error: unknown): void {
    this.close();
    this.#options.onError(error);
    this.#stop();
  }

  #stop(): void {
    this.#pumping = false;
    this.#writing = undefined;
    this.#roundWrites = NO_WRITES;
    if (this.#chunks.length === 0) this.#stopSoftClock();
    this.#options.onIdle();
  }
}

/** A round with nothing to write: shared, never changed. */
const NO_WRITES: readonly Uint8Array[] = Object.freeze([]);

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
