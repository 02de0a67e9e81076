/**
 * The web page's uploads, one at a time: ask the server for a place
 * (`upload` over the WebSocket, answered by `upload_ready` with a one-time
 * URL, or by an `error` saying why not), send the file there with an HTTP
 * `PUT`, and say how far it got. The room then gets the file's `msg` like
 * any other message. The queue knows no DOM and no socket: the page gives it
 * a {@linkcode UploadTransport} and draws {@linkcode UploadQueue.items}
 * whenever it changes.
 *
 * One at a time because each answer is matched to the one question asked,
 * and a token is only good for a minute (`expires_in`): it is asked for just
 * before its file goes up.
 *
 * @module
 */

/** The frame that asks for a place to put a file. */
export interface UploadFrame {
  type: "upload";
  room: string;
  name: string;
  size: number;
  mime: string;
}

/** The server's answer: where to `PUT` the file, within `expires_in` seconds. */
export interface UploadReady {
  type: "upload_ready";
  token: string;
  url: string;
  expires_in?: number;
  /** The size asked for, repeated: an answer to another question is known by it. */
  size?: number;
}

/** Where an upload stands. */
export type UploadPhase =
  /** Waiting for the ones before it. */
  | "queued"
  /** The `upload` frame is sent; waiting for `upload_ready`. */
  | "asking"
  /** The `PUT` is on its way; `sent` bytes have gone. */
  | "sending"
  /** The server stored it (201). */
  | "done"
  /** Refused or cut off; `reason` says why. */
  | "failed";

/** One file on its way up. */
export interface Upload {
  /** Unique within the page. */
  readonly key: number;
  readonly name: string;
  readonly size: number;
  readonly mime: string;
  /** The room it goes to. */
  readonly room: string;
  phase: UploadPhase;
  /** Bytes sent so far (while `sending`). */
  sent: number;
  /** Why it failed, in words for the person. */
  reason?: string;
  /** False when trying again cannot help (the file is over the size limit). */
  retryable: boolean;
}

/** What an HTTP `PUT` came back with. */
export interface PutResult {
  /** The HTTP status; 0 when the request never got an answer. */
  status: number;
  /** The response body, as text. */
  text: string;
}

/** The page's side of an upload: the socket and HTTP. */
export interface UploadTransport {
  /** Sends the `upload` frame; false when the page is not connected. */
  ask(frame: UploadFrame): boolean;
  /** `PUT`s `body` to `url`, reporting bytes sent; rejects when aborted. */
  put(
    url: string,
    body: Blob,
    progress: (sent: number) => void,
    signal: AbortSignal,
  ): Promise<PutResult>;
}

/** Options of an {@linkcode UploadQueue}. */
export interface UploadQueueOptions {
  /** How long to wait for `upload_ready`. @default {15000} */
  answerTimeoutMs?: number;
}

/** Error codes that answer an `upload` frame, with the page's own wording. */
const OWN_WORDING: Record<string, string> = {
  unknown_type: "this server does not take files (it is older than uploads)",
};

/** Refusals that the same file would get again. */
const HOPELESS: ReadonlySet<string> = new Set(["file_too_large"]);

/** A file as the page holds it: the browser's `File`. */
export type UploadFile = Blob & { readonly name: string };

interface Entry {
  upload: Upload;
  file: UploadFile;
  abort?: AbortController;
  /**
   * Cancelled while its question was out: kept, unseen, until the answer
   * comes (or the wait ends), so the answer is not taken for the next one's.
   */
  cancelled?: true;
}

/** The page's uploads, in the order they were added. */
export class UploadQueue {
  #transport: UploadTransport;
  #onChange: () => void;
  #answerTimeoutMs: number;
  #entries: Entry[] = [];
  #nextKey = 1;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param transport how frames and bodies leave the page.
   * @param onChange called after every change, to redraw.
   */
  constructor(
    transport: UploadTransport,
    onChange: () => void,
    options: UploadQueueOptions = {},
  ) {
    this.#transport = transport;
    this.#onChange = onChange;
    this.#answerTimeoutMs = options.answerTimeoutMs ?? 15_000;
  }

  /** Every upload not yet dismissed, oldest first. */
  get items(): readonly Upload[] {
    return this.#entries.filter((e) => !e.cancelled).map((e) => e.upload);
  }

  /** True while an `upload` frame waits for its answer. */
  get asking(): boolean {
    return this.#entries.some((e) => e.upload.phase === "asking");
  }

  /** Queues `file` for `room`; it goes up once those before it have. */
  add(file: UploadFile, room: string, mime: string): Upload {
    const upload: Upload = {
      key: this.#nextKey++,
      name: file.name || "file",
      size: file.size,
      mime,
      room,
      phase: "queued",
      sent: 0,
      retryable: true,
    };
    this.#entries.push({ upload, file });
    this.#next();
    this.#onChange();
    return upload;
  }

  /** The server's `upload_ready`: the asking upload goes up. */
  ready(event: UploadReady): void {
    const entry = this.#find("asking");
    if (!entry) return;
    // A late answer to a question given up on (it names another size).
    if (typeof event.size === "number" && event.size !== entry.upload.size) {
      return;
    }
    clearTimeout(this.#timer);
    if (entry.cancelled) return this.#forget(entry);
    this.#send(entry, event.url);
  }

  /**
   * An `error` arrived: when an upload is asking, it is that upload's
   * answer, and the upload fails with the server's wording. Returns the
   * wording used, or `undefined` when no upload was asking.
   */
  refused(code: string, message: string): string | undefined {
    const entry = this.#find("asking");
    if (!entry) return undefined;
    clearTimeout(this.#timer);
    const reason = OWN_WORDING[code] ?? message;
    if (entry.cancelled) {
      this.#forget(entry);
      return reason;
    }
    entry.upload.retryable = !HOPELESS.has(code);
    this.#fail(entry, reason);
    return reason;
  }

  /** The connection dropped: an upload still asking will get no answer. */
  disconnected(): void {
    const entry = this.#find("asking");
    if (!entry) return;
    clearTimeout(this.#timer);
    if (entry.cancelled) return this.#forget(entry);
    this.#fail(entry, "the connection dropped before the server answered");
  }

  /** Stops an upload (a `PUT` in flight is aborted) and forgets it. */
  cancel(key: number): void {
    const entry = this.#entries.find((e) => e.upload.key === key);
    if (!entry || entry.cancelled) return;
    if (entry.upload.phase === "asking") {
      // Its answer is still to come: wait for it before asking the next.
      entry.cancelled = true;
      return this.#onChange();
    }
    entry.abort?.abort();
    this.#forget(entry);
  }

  #forget(entry: Entry): void {
    this.#entries = this.#entries.filter((e) => e !== entry);
    this.#next();
    this.#onChange();
  }

  /** Tries a failed upload again, from the start (a token is used once). */
  retry(key: number): void {
    const entry = this.#entries.find((e) => e.upload.key === key);
    if (!entry || entry.upload.phase !== "failed") return;
    if (!entry.upload.retryable) return;
    entry.upload.phase = "queued";
    entry.upload.sent = 0;
    entry.upload.reason = undefined;
    // To the end of the line, behind what waited meanwhile.
    this.#entries = [...this.#entries.filter((e) => e !== entry), entry];
    this.#next();
    this.#onChange();
  }

  #find(phase: UploadPhase): Entry | undefined {
    return this.#entries.find((e) => e.upload.phase === phase);
  }

  /** Starts the next queued upload when none is asking or sending. */
  #next(): void {
    const busy = this.#entries.some((e) =>
      e.upload.phase === "asking" || e.upload.phase === "sending"
    );
    if (busy) return;
    const entry = this.#find("queued");
    if (!entry) return;
    const { room, name, size, mime } = entry.upload;
    entry.upload.phase = "asking";
    if (!this.#transport.ask({ type: "upload", room, name, size, mime })) {
      return this.#fail(entry, "not connected: try again once back online");
    }
    this.#timer = setTimeout(() => {
      if (entry.upload.phase !== "asking") return;
      if (entry.cancelled) return this.#forget(entry);
      this.#fail(entry, "the server did not answer; try again");
    }, this.#answerTimeoutMs);
  }

  #send(entry: Entry, url: string): void {
    entry.upload.phase = "sending";
    entry.abort = new AbortController();
    this.#onChange();
    this.#transport.put(url, entry.file, (sent) => {
      entry.upload.sent = Math.min(sent, entry.upload.size);
      this.#onChange();
    }, entry.abort.signal).then((result) => {
      if (!this.#entries.includes(entry)) return;
      if (result.status === 200 || result.status === 201) {
        entry.upload.phase = "done";
        entry.upload.sent = entry.upload.size;
        this.#next();
        this.#onChange();
      } else {
        this.#fail(entry, failureText(result));
      }
    }, () => {
      // Aborted by cancel(): already forgotten.
      if (this.#entries.includes(entry)) {
        this.#fail(entry, "the upload was cut off");
      }
    });
  }

  #fail(entry: Entry, reason: string): void {
    entry.upload.phase = "failed";
    entry.upload.reason = reason;
    entry.abort = undefined;
    this.#next();
    this.#onChange();
  }

  /** Forgets a finished or failed upload (its row is gone). */
  dismiss(key: number): void {
    const entry = this.#entries.find((e) => e.upload.key === key);
    if (!entry) return;
    if (entry.upload.phase !== "done" && entry.upload.phase !== "failed") {
      return;
    }
    this.#entries = this.#entries.filter((e) => e !== entry);
    this.#onChange();
  }
}

/**
 * Why a `PUT` failed, in words: the server's own (`message` of a JSON body,
 * or its plain text), else the status.
 */
export function failureText(result: PutResult): string {
  if (result.status === 0) {
    return "the upload was cut off (is the server still there?)";
  }
  const text = result.text.trim();
  if (text.startsWith("{")) {
    try {
      const body = JSON.parse(text);
      if (typeof body?.message === "string" && body.message !== "") {
        return body.message.slice(0, 300);
      }
      if (typeof body?.error === "string" && body.error !== "") {
        return body.error.slice(0, 300);
      }
    } catch { /* not JSON after all: shown as text */ }
  }
  if (text !== "" && text.length <= 300 && !text.startsWith("<")) return text;
  return `the server refused the upload (HTTP ${result.status})`;
}
