/**
 * Where an upload is asked for and checked before any byte of it travels:
 * the file's size against `--max-file-size`, the quota (`--files-quota`,
 * uploads on their way counted), the member's pace (`--uploads-per-minute`)
 * and how many it has on their way. What passes gets a token, good for
 * {@linkcode FILE_LIMITS.tokenSeconds}, that the web door's `PUT
 * /upload/TOKEN` redeems once.
 *
 * Who may speak in the room is the hub's to decide, before it asks here.
 * Pure apart from the clock and random tokens: no sockets, no files.
 *
 * @module
 */

import type { ErrorCode } from "../../protocol.ts";
import { formatFileSize } from "../shared/file_names.ts";
import { FILE_LIMITS } from "../shared/limits.ts";
import { TokenBucket } from "../shared/rate_limiter.ts";
import { type FileShelf, randomId } from "./file_shelf.ts";

/** What a member asks to upload, its name already cleaned. */
export interface UploadRequest {
  room: string;
  name: string;
  size: number;
  mime: string;
  replyTo?: number;
}

/** A granted upload, from its token to its end. */
export interface UploadTicket<M> extends UploadRequest {
  readonly token: string;
  /** Who asked: the uploader. */
  readonly member: M;
  /** The token is good until then (ms since the epoch) for the upload to begin. */
  readonly expiresAt: number;
  /** `ready` for its bytes, `receiving` them, `done` (used up). */
  state: "ready" | "receiving" | "done";
}

/** Why a token cannot be redeemed. */
export type TokenRefusal = "unknown" | "expired" | "used";

/** Options for {@linkcode UploadDesk}. */
export interface UploadDeskOptions {
  /** `--max-file-size`: the largest file; 0 turns uploads off. */
  maxFileBytes: number;
  /** `--uploads-per-minute`: uploads a member may start a minute; 0 = no limit. */
  uploadsPerMinute: number;
  /** The clock. @default {Date.now} */
  now?: () => number;
}

/** Members whose upload pace is remembered at most; the oldest is forgotten. */
const MAX_TRACKED_MEMBERS = 10_000;

/** Grants upload tokens and redeems them. */
export class UploadDesk<M> {
  #shelf: FileShelf;
  #options: UploadDeskOptions;
  #now: () => number;
  #tickets = new Map<string, UploadTicket<M>>();
  #buckets = new Map<string, TokenBucket>();

  /** Grants uploads into `shelf`'s quota. */
  constructor(shelf: FileShelf, options: UploadDeskOptions) {
    this.#shelf = shelf;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** `--max-file-size`. */
  get maxFileBytes(): number {
    return this.#options.maxFileBytes;
  }

  /** Tokens granted and not yet swept (for tests of the bound). */
  get outstanding(): number {
    return this.#tickets.size;
  }

  /**
   * Checks an upload `member` asks for (`memberKey` names it across its
   * connections, for its pace) and grants a token, holding the file's size
   * of the quota; or says why not.
   */
  request(
    member: M,
    memberKey: string,
    request: UploadRequest,
  ):
    | { ok: true; ticket: UploadTicket<M> }
    | { ok: false; code: ErrorCode; message: string } {
    const max = this.#options.maxFileBytes;
    const refuse = (code: ErrorCode, message: string) =>
      ({ ok: false, code, message }) as const;
    if (max <= 0) {
      return refuse("uploads_off", "this server does not take files");
    }
    if (request.size <= 0) {
      return refuse("bad_frame", "a file must hold at least one byte");
    }
    if (request.size > max) {
      // Sizes that round alike are given in bytes: "4.9 KB, up to 4.9 KB"
      // would say nothing.
      const exact = formatFileSize(request.size) === formatFileSize(max);
      const size = (bytes: number) =>
        exact ? `${bytes} bytes` : formatFileSize(bytes);
      return refuse(
        "file_too_large",
        `${request.name} is ${
          size(request.size)
        }; this server takes files up to ${
          size(max)
        } (--max-file-size); nothing was sent`,
      );
    }
    this.#sweep();
    let pending = 0;
    for (const ticket of this.#tickets.values()) {
      if (ticket.member === member && ticket.state !== "done") pending++;
    }
    if (pending >= FILE_LIMITS.maxPendingPerMember) {
      return refuse(
        "too_many_uploads",
        `you have ${pending} uploads on their way; let them finish first`,
      );
    }
    if (!this.#fitsQuota(request.size)) {
      const shelf = this.#shelf;
      return refuse(
        "files_quota_full",
        `this server's space for shared files is full (${
          formatFileSize(shelf.storedBytes + shelf.reservedBytes)
        } of ${
          formatFileSize(shelf.quotaBytes)
        } used, --files-quota); ${request.name} was not sent`,
      );
    }
    if (!this.#bucketOf(memberKey).take()) {
      return refuse(
        "too_many_uploads",
        `you may send ${this.#options.uploadsPerMinute} files a minute; wait a little and send it again`,
      );
    }
    this.#shelf.reserve(request.size);
    const ticket: UploadTicket<M> = {
      ...request,
      token: randomId(32),
      member,
      expiresAt: this.#now() + FILE_LIMITS.tokenSeconds * 1000,
      state: "ready",
    };
    this.#tickets.set(ticket.token, ticket);
    return { ok: true, ticket };
  }

  /**
   * Looks a token up without using it: the ticket if it can be redeemed,
   * else why not (unknown, expired, or used already).
   */
  peek(token: string): UploadTicket<M> | TokenRefusal {
    const ticket = this.#tickets.get(token);
    if (!ticket) return "unknown";
    if (ticket.state !== "ready") return "used";
    if (this.#now() > ticket.expiresAt) {
      this.#expire(ticket);
      return "expired";
    }
    return ticket;
  }

  /**
   * Redeems a token: the upload begins. Its quota stays held until
   * {@linkcode end}.
   */
  take(token: string): UploadTicket<M> | TokenRefusal {
    const ticket = this.peek(token);
    if (typeof ticket === "string") return ticket;
    ticket.state = "receiving";
    return ticket;
  }

  /**
   * The upload of `ticket` is over: `stored` when its file was recorded
   * (which took its quota), else its quota is given back.
   */
  end(ticket: UploadTicket<M>, stored: boolean): void {
    if (ticket.state === "done") return;
    ticket.state = "done";
    if (!stored) this.#shelf.release(ticket.size);
  }

  #fitsQuota(size: number): boolean {
    const shelf = this.#shelf;
    return shelf.storedBytes + shelf.reservedBytes + size <= shelf.quotaBytes;
  }

  #bucketOf(key: string): TokenBucket {
    let bucket = this.#buckets.get(key);
    if (bucket) {
      // Most recently used last, so the first is the one to forget.
      this.#buckets.delete(key);
    } else {
      const perMinute = this.#options.uploadsPerMinute;
      bucket = new TokenBucket({
        rate: perMinute / 60,
        burst: Math.max(1, perMinute),
        now: this.#now,
      });
      if (this.#buckets.size >= MAX_TRACKED_MEMBERS) {
        this.#buckets.delete(this.#buckets.keys().next().value!);
      }
    }
    this.#buckets.set(key, bucket);
    return bucket;
  }

  /** Forgets expired and used tokens; an unused one gives its quota back. */
  #sweep(): void {
    const now = this.#now();
    for (const ticket of this.#tickets.values()) {
      if (ticket.state === "receiving") continue;
      if (now > ticket.expiresAt) this.#expire(ticket);
    }
  }

  #expire(ticket: UploadTicket<M>): void {
    this.#tickets.delete(ticket.token);
    if (ticket.state === "ready") this.#shelf.release(ticket.size);
    ticket.state = "done";
  }
}
