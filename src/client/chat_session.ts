/**
 * A chat membership that outlives its connections: the terminal client's
 * link to the server. It dials, says hello, and when the link drops it
 * redials with backoff and resumes every room it was in under the same nick,
 * each with its own `since`, so every message sent meanwhile arrives, and
 * each is passed on once. Frames the user sends while offline wait in a
 * bounded outbox.
 *
 * Of the rooms it is in, one is current: what the user types goes there
 * (each `say` names its room), and the others' messages count as unread
 * until the user switches to them. Switching to a room it is in is local.
 *
 * The user interface is a {@linkcode SessionListener}; this module has no
 * terminal code.
 *
 * @module
 */

import type {
  CommandFrame,
  RoomMessage,
  RoomRole,
  ServerEvent,
  UploadFrame,
} from "../../protocol.ts";
import type { UploadAnswer } from "./file_sharing.ts";
import { ChatLink, type LinkTarget, withTimeout } from "./chat_link.ts";
import { CONNECT_DEFAULTS } from "../shared/limits.ts";
import { TokenBucket } from "../shared/rate_limiter.ts";
import { Backoff, Outbox, ResumeState } from "./reconnect.ts";
import { HistoryGap } from "./history_gap.ts";
import { nickKey } from "../shared/sanitize.ts";
import type { WelcomeKind } from "./terminal_render.ts";

/** The `welcome` event. */
export type WelcomeEvent = Extract<ServerEvent, { type: "welcome" }>;

/** Where the link stands, for the status line. */
export type LinkState =
  | { kind: "connecting"; attempt: number }
  | { kind: "online" }
  | { kind: "offline"; reason: string; retryAt: number; attempt: number }
  | { kind: "closed" };

/** What the session tells its user interface. */
export interface SessionListener {
  /** Joined (first time, again after a drop, or another room). `history` holds only messages not passed on before. */
  welcome(event: WelcomeEvent, kind: WelcomeKind, history: RoomMessage[]): void;
  /** Any later event; room messages already passed on are left out. */
  event(event: ServerEvent): void;
  /** A line from the server that is not an event (such as "server full"). */
  notice(text: string): void;
  /** The link changed state. */
  state(state: LinkState): void;
  /** A waiting frame was handed to the server. */
  sent(typed: string): void;
  /**
   * Asks the user for a nickname; `reason` says what was wrong with the last
   * one. Resolves `undefined` when the user leaves instead.
   */
  askNick(reason: string | undefined): Promise<string | undefined>;
  /**
   * Asks the user for a password, without showing it: the nickname is
   * registered, or the server has one; `reason` says which (or that the last
   * one was wrong). Resolves `undefined` when the user leaves instead.
   */
  askPassword(reason: string): Promise<string | undefined>;
}

/** Options for {@linkcode ChatSession}. */
export interface SessionOptions {
  target: LinkTarget;
  nick?: string;
  room?: string;
  password?: string;
  /** Waits between attempts. */
  backoff?: Backoff;
  /**
   * Waits `ms` or until `signal` aborts. Tests replace it to decide when a
   * redial happens. @default {a timer}
   */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Silence before a ping. @default {30000} */
  pingIntervalMs?: number;
  /** Silence after a ping before the link counts as dead. @default {15000} */
  pingTimeoutMs?: number;
}

/** How the session ended: 0 when the user left, 1 with a message when refused. */
export interface SessionEnd {
  code: number;
  message?: string;
}

/**
 * What {@linkcode ChatSession.send} did with a frame: `switched` for a `join`
 * of a room the session is in, which only makes it current.
 */
export type SendResult = "sent" | "queued" | "full" | "offline" | "switched";

/** One room the session is in, as last heard. */
export interface RoomView {
  /** Its name. */
  readonly name: string;
  /** Who is in it (big rooms announce only counts). */
  users: string[];
  /** How many are in it: exact even in a big room. */
  userCount: number;
  /** Its messages shown while it was not the current room. */
  unread: number;
  /** Your role in it, if you are its owner or an admin. */
  role?: RoomRole;
}

/**
 * Frames the server's rate limit counts; they are paced to it. (It counts
 * `ping` too, a quarter, but pings are rare; `quit` is free.)
 */
const PACED = new Set([
  "say",
  "me",
  "dm",
  "nick",
  "join",
  "part",
  "who",
  "rooms",
  "search",
  "register",
  "password",
  "op",
  "deop",
  "mute",
  "unmute",
  "muteall",
  "kick",
  "ban",
  "unban",
  "bans",
  "notice",
  "recall",
  "upload",
  "history",
]);
/** How long the server may take to answer an `upload`. */
const UPLOAD_ANSWER_MS = 15_000;
/** Frames worth keeping while offline: what the user said. */
const KEPT_OFFLINE = new Set(["say", "me", "dm"]);
const PACE_POLL_MS = 50;

function timerSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** A welcome held back while what it left out is fetched. */
interface CatchUp {
  gap: HistoryGap;
  event: WelcomeEvent;
  kind: WelcomeKind;
  /** A page was asked for and not answered yet. */
  waiting: boolean;
  /** A `rate_limited` came while waiting: the page is asked again shortly. */
  retrying: boolean;
  /** Pages answered so far. */
  answers: number;
  /** Says what is happening when the pages take a while. */
  slowTimer?: ReturnType<typeof setTimeout>;
}

/** A catch-up still going after this long is said so (the screen is quiet meanwhile). */
const SLOW_CATCH_UP_MS = 1000;

type JoinOutcome =
  | { kind: "joined" }
  | { kind: "retry"; reason: string }
  /** Dial again at once: the server closed after a wrong password. */
  | { kind: "redial" }
  | { kind: "end"; end: SessionEnd };

/** One user's membership, across as many connections as it takes. */
export class ChatSession {
  #options: SessionOptions;
  #listener: SessionListener;
  #nick: string | undefined;
  #password: string | undefined;
  #room: string | undefined;
  /** The rooms it is in, in the order they were joined. */
  #rooms = new Map<string, RoomView>();
  /** Rooms a resuming hello asked for whose welcome has not come yet. */
  #resuming = new Set<string>();
  /** Unread counts of the rooms being resumed, from before the drop. */
  #unreadBefore = new Map<string, number>();
  #link: ChatLink | undefined;
  #online = false;
  #everJoined = false;
  #stopped = false;
  #stop = new AbortController();
  #backoff: Backoff;
  #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  #resume = new ResumeState();
  #outbox = new Outbox();
  #bucket = new TokenBucket({ rate: 0, burst: 1 });
  #pumping = false;
  #pingTimer: ReturnType<typeof setTimeout> | undefined;
  #deadTimer: ReturnType<typeof setTimeout> | undefined;
  #linkClosed: PromiseWithResolvers<void> | undefined;
  /** `upload` frames sent and not answered yet, oldest first. */
  #uploadWaiters: PromiseWithResolvers<UploadAnswer>[] = [];
  /** The `since` each room of the last hello was resumed with. */
  #askedSince = new Map<string, number>();
  /**
   * Where a room must resume next time instead of its last id: its catch-up
   * was cut off by a drop, so what it had not fetched is asked for again.
   */
  #refetchSince = new Map<string, number>();
  /** A welcome whose left-out messages are being fetched, page by page. */
  #catchUp: CatchUp | undefined;
  /** Events that came while catching up, passed on once it is done. */
  #held: ServerEvent[] = [];
  /** True while the link is gone and what waited is passed on: no catch-up starts. */
  #flushing = false;

  /** Prepares a session; {@linkcode ChatSession.run} starts it. */
  constructor(options: SessionOptions, listener: SessionListener) {
    this.#options = options;
    this.#listener = listener;
    this.#nick = options.nick;
    this.#password = options.password;
    this.#room = options.room;
    this.#backoff = options.backoff ?? new Backoff();
    this.#sleep = options.sleep ?? timerSleep;
  }

  /** The nickname in use (or asked for). */
  get nick(): string | undefined {
    return this.#nick;
  }

  /** The current room, once known. */
  get room(): string | undefined {
    return this.#room;
  }

  /** Every room it is in, in the order they were joined. */
  get rooms(): readonly Readonly<RoomView>[] {
    return [...this.#rooms.values()];
  }

  /** Your role in the current room, if you are its owner or an admin. */
  get role(): RoomRole | undefined {
    return this.#current()?.role;
  }

  /** Who is in the current room, as last heard (big rooms announce only counts). */
  get users(): readonly string[] {
    return this.#current()?.users ?? [];
  }

  /** How many are in the current room, as last heard: exact even in a big room. */
  get userCount(): number {
    return this.#current()?.userCount ?? 0;
  }

  #current(): RoomView | undefined {
    return this.#room === undefined ? undefined : this.#rooms.get(this.#room);
  }

  /**
   * Makes `room`, one the session is in, the current room and clears its
   * unread count; false if the session is not in it.
   */
  switchTo(room: string): boolean {
    const view = this.#rooms.get(room);
    if (!view) return false;
    this.#room = room;
    view.unread = 0;
    return true;
  }

  /** True while a link is up and joined. */
  get online(): boolean {
    return this.#online;
  }

  /** Frames waiting to be sent. */
  get pending(): number {
    return this.#outbox.size;
  }

  /** Where the server is: files go over HTTP to the same place. */
  get target(): LinkTarget {
    return this.#options.target;
  }

  /**
   * Asks the server for an upload (in the current room unless the frame
   * names one) and waits for its answer: `upload_ready`, or the `error`
   * that refused it (which is not passed on as an event too).
   */
  async requestUpload(frame: UploadFrame): Promise<UploadAnswer> {
    const waiter = Promise.withResolvers<UploadAnswer>();
    const result = this.send(frame);
    if (result !== "sent") {
      return {
        type: "error",
        message: "not connected: send it again once the client has reconnected",
      };
    }
    this.#uploadWaiters.push(waiter);
    try {
      return await withTimeout(
        waiter.promise,
        UPLOAD_ANSWER_MS,
        () => new Error("the server did not answer the upload"),
      );
    } catch (error) {
      return { type: "error", message: (error as Error).message };
    } finally {
      const at = this.#uploadWaiters.indexOf(waiter);
      if (at !== -1) this.#uploadWaiters.splice(at, 1);
    }
  }

  /**
   * Runs until the user quits or the server refuses for good (wrong
   * password). Never throws for network trouble: it waits and redials.
   */
  async run(): Promise<SessionEnd> {
    if (this.#nick === undefined) {
      this.#nick = await this.#listener.askNick(undefined);
      if (this.#nick === undefined) return this.#finish({ code: 0 });
    }
    let attempt = 0;
    while (!this.#stopped) {
      attempt++;
      this.#listener.state({ kind: "connecting", attempt });
      let link: ChatLink;
      try {
        link = await ChatLink.open(this.#options.target);
      } catch (error) {
        await this.#waitToRetry((error as Error).message);
        continue;
      }
      if (this.#stopped) {
        link.close();
        break;
      }
      this.#link = link;
      let outcome: JoinOutcome;
      try {
        outcome = await this.#join(link);
      } catch (error) {
        outcome = { kind: "retry", reason: (error as Error).message };
      }
      if (outcome.kind === "end") {
        link.close();
        return this.#finish(outcome.end);
      }
      if (outcome.kind === "redial") {
        link.close();
        continue;
      }
      if (outcome.kind === "retry") {
        link.close();
        if (this.#stopped) break;
        await this.#waitToRetry(outcome.reason);
        continue;
      }
      attempt = 0;
      this.#backoff.reset();
      this.#online = true;
      this.#listener.state({ kind: "online" });
      this.#pump();
      await this.#read(link);
      this.#online = false;
      link.close();
      if (!this.#stopped) await this.#waitToRetry("connection lost");
    }
    return this.#finish({ code: 0 });
  }

  /**
   * Sends a frame, in order after any waiting ones. What the user says is
   * kept while offline (up to a bound); other commands need a link.
   */
  send(frame: CommandFrame, typed = ""): SendResult {
    if (frame.type === "join" && this.switchTo(frame.room.trim())) {
      return "switched";
    }
    frame = this.#inCurrentRoom(frame);
    if (!this.#online && !KEPT_OFFLINE.has(frame.type)) return "offline";
    if (!this.#outbox.push({ frame, typed })) return "full";
    if (!this.#online) return "queued";
    this.#pump();
    return "sent";
  }

  /**
   * Leaves: sends what is waiting (briefly), then `quit`, waits a moment for
   * the server's goodbye, and ends {@linkcode ChatSession.run}.
   */
  async quit(reason?: string): Promise<void> {
    if (this.#stopped) return;
    const link = this.#link;
    if (this.#online && link) {
      const deadline = Date.now() + CONNECT_DEFAULTS.quitWaitMs;
      while (this.#outbox.size > 0 && this.#online && Date.now() < deadline) {
        await timerSleep(PACE_POLL_MS, this.#stop.signal);
      }
      this.#stopped = true;
      const closed = this.#linkClosed?.promise ?? Promise.resolve();
      try {
        await link.send(reason ? { type: "quit", reason } : { type: "quit" });
        await Promise.race([
          closed,
          timerSleep(CONNECT_DEFAULTS.quitWaitMs, this.#stop.signal),
        ]);
      } catch {
        // The link is gone already; nothing to say goodbye to.
      }
    }
    this.#stopped = true;
    this.#stop.abort();
    link?.close();
  }

  /**
   * The frame with the current room named, for frames that default to one:
   * the server's idea of the current room is the last one joined, while the
   * user may have switched here since.
   */
  #inCurrentRoom(frame: CommandFrame): CommandFrame {
    const room = this.#room;
    if (room === undefined) return frame;
    switch (frame.type) {
      case "say":
      case "me":
      case "upload":
      case "part":
      case "who":
      case "op":
      case "deop":
      case "mute":
      case "unmute":
      case "muteall":
      case "kick":
      case "ban":
      case "unban":
      case "bans":
      case "notice":
      case "recall":
        return frame.room === undefined ? { ...frame, room } : frame;
      default:
        return frame;
    }
  }

  #finish(end: SessionEnd): SessionEnd {
    this.#stopped = true;
    this.#stop.abort();
    this.#clearTimers();
    clearTimeout(this.#catchUp?.slowTimer);
    this.#online = false;
    this.#listener.state({ kind: "closed" });
    return end;
  }

  async #waitToRetry(reason: string): Promise<void> {
    if (this.#stopped) return;
    const delay = this.#backoff.next();
    this.#listener.state({
      kind: "offline",
      reason,
      retryAt: Date.now() + delay,
      attempt: this.#backoff.attempt,
    });
    await this.#sleep(delay, this.#stop.signal);
  }

  /** Says hello until welcomed; asks for another nick if the first is refused. */
  async #join(link: ChatLink): Promise<JoinOutcome> {
    for (;;) {
      const resuming = this.#everJoined;
      // Every room is asked for again, the current one last (the server
      // welcomes them in that order), each resumed after its own last id.
      const room = this.#room;
      const others = resuming
        ? [...this.#rooms.keys()].filter((r) => r !== room)
        : [];
      this.#resuming = new Set(resuming && room ? [...others, room] : []);
      this.#askedSince = new Map();
      const since = (r: string) => {
        const id = this.#refetchSince.get(r) ?? this.#resume.sinceFor(r);
        if (id !== undefined) this.#askedSince.set(r, id);
        return id;
      };
      const reply = await withTimeout(
        link.hello({
          nick: this.#nick!,
          room,
          password: this.#password,
          since: resuming && room ? since(room) : undefined,
          rooms: others.length > 0
            ? others.map((r) => ({ room: r, since: since(r) }))
            : undefined,
        }),
        CONNECT_DEFAULTS.helloTimeoutMs,
        () => new Error("the server did not answer the hello"),
      );
      if (!isWellFormed(reply)) {
        return {
          kind: "end",
          end: { code: 1, message: "the server's answer makes no sense" },
        };
      }
      if (reply.type === "welcome") {
        this.#everJoined = true;
        const rate = reply.server.rate ?? 0;
        this.#bucket = new TokenBucket({
          rate,
          burst: reply.server.burst ?? 1,
        });
        // The rooms come back one welcome each; one not welcomed (over a
        // cap) is no longer joined. Unread counts carry over.
        this.#unreadBefore = new Map(
          [...this.#rooms.values()].map((v) => [v.name, v.unread]),
        );
        this.#rooms = new Map();
        this.#welcome(reply, resuming ? "resumed" : "first");
        return { kind: "joined" };
      }
      if (reply.code === "rate_limited") {
        // Too many joins from this address just now (a lab behind one
        // address, all reconnecting at once): try again later.
        return { kind: "retry", reason: reply.message };
      }
      if (reply.code === "nick_taken" || reply.code === "nick_invalid") {
        if (resuming) {
          // The server may still hold our old, half-open connection: it
          // lets the nick go once it notices, so try again later.
          return {
            kind: "retry",
            reason:
              `${reply.message}: the old connection may still hold ${this.#nick}`,
          };
        }
        const nick = await this.#listener.askNick(reply.message);
        if (nick === undefined) return { kind: "end", end: { code: 0 } };
        this.#nick = nick;
        continue;
      }
      if (reply.code === "account_password" || reply.code === "bad_password") {
        // A registered nickname, or a server password, not given or wrong:
        // ask rather than give up. The server closes after a wrong one.
        const reason = reply.code === "bad_password" &&
            this.#password === undefined
          ? "this server needs a password"
          : reply.message;
        const password = await this.#listener.askPassword(reason);
        if (password === undefined) return { kind: "end", end: { code: 0 } };
        this.#password = password;
        if (reply.code === "bad_password") return { kind: "redial" };
        continue;
      }
      return { kind: "end", end: { code: 1, message: reply.message } };
    }
  }

  /**
   * A room's welcome: the room is joined (or rejoined) and becomes current,
   * except while resuming, where the rooms other than the current one come
   * back without taking its place and their missed messages count as unread.
   * A welcome that left messages out (`more`) is passed on once they are
   * fetched (see {@linkcode HistoryGap}); what comes meanwhile waits.
   */
  #welcome(event: WelcomeEvent, kind: WelcomeKind): void {
    this.#nick = event.nick;
    const stays = kind === "resumed" && this.#room !== undefined &&
      this.#room !== event.room;
    this.#rooms.set(event.room, {
      name: event.room,
      users: [...event.users],
      userCount: event.users.length,
      unread: stays ? (this.#unreadBefore.get(event.room) ?? 0) : 0,
      role: event.role === "owner" || event.role === "admin"
        ? event.role
        : undefined,
    });
    if (!stays) this.#room = event.room;
    const gap = this.#gapOf(event, kind);
    if (gap === undefined) {
      return this.#showWelcome(event, kind, [], event.more === true);
    }
    if (gap.finished) return this.#showWelcome(event, kind, [], false);
    if (this.#flushing) {
      // The link is gone: show what came, and ask for the rest next time.
      this.#showWelcome(event, kind, [], true);
      if (kind === "resumed") this.#refetchSince.set(event.room, gap.after);
      return;
    }
    const catchUp: CatchUp = {
      gap,
      event,
      kind,
      waiting: false,
      retrying: false,
      answers: 0,
    };
    catchUp.slowTimer = setTimeout(() => {
      if (this.#catchUp !== catchUp) return;
      this.#listener.notice(
        `fetching the messages of ${event.room} you missed...`,
      );
    }, SLOW_CATCH_UP_MS);
    this.#catchUp = catchUp;
    this.#askPage();
  }

  /**
   * What a welcome left out that the client fetches: after a resume,
   * everything between its `since` and the first message it holds (up to
   * {@linkcode CONNECT_DEFAULTS.maxCatchUpMessages}); otherwise, a welcome
   * cut by its bytes, the rest of the server's `--history` messages.
   */
  #gapOf(event: WelcomeEvent, kind: WelcomeKind): HistoryGap | undefined {
    return HistoryGap.ofWelcome(
      event,
      kind === "resumed",
      this.#askedSince.get(event.room),
    );
  }

  /**
   * Passes a welcome on with the messages fetched before its own (`older`),
   * each once; it says `more` only when some are still left out.
   */
  #showWelcome(
    event: WelcomeEvent,
    kind: WelcomeKind,
    older: readonly RoomMessage[],
    more: boolean,
  ): void {
    const fresh = [...older, ...event.history].filter((m) =>
      this.#resume.accept(m)
    );
    this.#resume.joined(event.room);
    this.#refetchSince.delete(event.room);
    const view = this.#rooms.get(event.room);
    if (view && event.room !== this.#room) view.unread += fresh.length;
    const shown: WelcomeEvent = { ...event };
    if (more) shown.more = true;
    else delete shown.more;
    this.#listener.welcome(shown, kind, fresh);
  }

  /** Asks for the catch-up's next page, paced to the server's rate limit. */
  async #askPage(): Promise<void> {
    const catchUp = this.#catchUp;
    const link = this.#link;
    if (!catchUp || !link || catchUp.waiting) return;
    catchUp.waiting = true;
    // A page costs the flood allowance like a message: the same bucket paces
    // both, so paging never gets what the user types refused.
    while (!this.#bucket.take()) {
      await timerSleep(PACE_POLL_MS, this.#stop.signal);
      if (this.#catchUp !== catchUp || this.#link !== link) return;
      if (this.#stopped) return;
    }
    try {
      await link.send(catchUp.gap.request());
    } catch {
      link.close(); // The reader notices, and the rest is fetched next time.
    }
  }

  /** A page of the catch-up; once it is whole, the welcome is passed on. */
  #page(event: Extract<ServerEvent, { type: "history" }>): void {
    const catchUp = this.#catchUp!;
    if (catchUp.gap.take(event) === "stale") return;
    catchUp.waiting = false;
    catchUp.answers++;
    if (!catchUp.gap.finished) {
      this.#askPage();
      return;
    }
    this.#finishCatchUp(false);
  }

  /**
   * The server refused a page (`rate_limited`: the allowance it remembers
   * for this address is lower than the bucket's): ask again in a moment.
   */
  async #retryPage(catchUp: CatchUp): Promise<void> {
    catchUp.retrying = true;
    const answers = catchUp.answers;
    await timerSleep(CONNECT_DEFAULTS.historyRetryMs, this.#stop.signal);
    catchUp.retrying = false;
    if (this.#catchUp !== catchUp || catchUp.answers !== answers) return;
    catchUp.waiting = false;
    await this.#askPage();
  }

  /**
   * Passes the caught-up welcome on, then what waited meanwhile, in order
   * (until another welcome starts a catch-up of its own). `abandoned`: the
   * link dropped first, so the rest is asked for on the next resume.
   */
  #finishCatchUp(abandoned: boolean): void {
    const catchUp = this.#catchUp;
    if (!catchUp) return;
    this.#catchUp = undefined;
    clearTimeout(catchUp.slowTimer);
    const { gap, event, kind } = catchUp;
    this.#showWelcome(event, kind, gap.messages(), gap.cut || abandoned);
    if (abandoned && kind === "resumed") {
      this.#refetchSince.set(event.room, gap.after);
    }
    while (!this.#catchUp && this.#held.length > 0) {
      this.#track(this.#held.shift()!);
    }
  }

  /** Reads events until the link closes. */
  async #read(link: ChatLink): Promise<void> {
    this.#linkClosed = Promise.withResolvers();
    this.#heard(link);
    try {
      for (;;) {
        const event = await link.next();
        if (event === undefined) return;
        this.#heard(link);
        if (typeof event === "string") {
          this.#listener.notice(event);
          continue;
        }
        // A malformed event (another server, a newer protocol) is skipped,
        // never allowed to crash the client.
        if (isWellFormed(event)) this.#track(event);
      }
    } finally {
      this.#clearTimers();
      // What came before the drop is shown; a catch-up cut off by it, and
      // welcomes that waited behind it, fetch their rest on the next resume.
      this.#flushing = true;
      try {
        this.#finishCatchUp(true);
        while (this.#held.length > 0) this.#track(this.#held.shift()!);
      } finally {
        this.#flushing = false;
      }
      this.#linkClosed.resolve();
      for (const waiter of this.#uploadWaiters.splice(0)) {
        waiter.resolve({ type: "error", message: "connection lost" });
      }
    }
  }

  #track(event: ServerEvent): void {
    // The answer to an upload goes to whoever asked, not on screen.
    if (
      (event.type === "upload_ready" || event.type === "error") &&
      this.#uploadWaiters.length > 0
    ) {
      return this.#uploadWaiters.shift()!.resolve(event);
    }
    const catchUp = this.#catchUp;
    if (catchUp) {
      if (event.type === "history" && event.room === catchUp.gap.room) {
        return this.#page(event);
      }
      if (
        event.type === "error" && event.code === "rate_limited" &&
        catchUp.waiting && !catchUp.retrying
      ) {
        this.#retryPage(catchUp);
        return;
      }
      this.#held.push(event);
      return;
    }
    // This client asks for history only to catch up: a late answer is spare.
    if (event.type === "history") return;
    switch (event.type) {
      case "msg": {
        if (!this.#resume.accept(event)) return;
        const view = this.#rooms.get(event.room);
        if (view && event.room !== this.#room) view.unread++;
        break;
      }
      case "welcome": {
        const resumed = this.#resuming.delete(event.room);
        return this.#welcome(event, resumed ? "resumed" : "room");
      }
      case "join": {
        const view = this.#rooms.get(event.room);
        if (view) {
          view.userCount = event.users ?? view.userCount + 1;
          view.users = [
            ...view.users.filter((u) => nickKey(u) !== nickKey(event.nick)),
            event.nick,
          ];
        }
        break;
      }
      case "leave": {
        const view = this.#rooms.get(event.room);
        if (view) {
          view.userCount = event.users ?? Math.max(0, view.userCount - 1);
          view.users = view.users.filter((u) =>
            nickKey(u) !== nickKey(event.nick)
          );
        }
        break;
      }
      case "part":
        this.#rooms.delete(event.room);
        if (event.room === this.#room) {
          this.#room = event.current !== undefined &&
              this.#rooms.has(event.current)
            ? event.current
            : [...this.#rooms.keys()].at(-1);
        }
        break;
      case "nick":
        // A nickname is server-wide: one notice renames it in every room.
        for (const view of this.#rooms.values()) {
          view.users = view.users.map((u) => u === event.old ? event.new : u);
        }
        if (event.old === this.#nick) this.#nick = event.new;
        break;
      case "who": {
        const view = this.#rooms.get(event.room);
        if (view) {
          view.userCount = event.total ?? event.users.length;
          // A big room's reply is one page: keep the full list from welcome.
          if (event.users.length === view.userCount) {
            view.users = [...event.users];
          }
        }
        break;
      }
      case "mod": {
        // An op or deop of yourself changes what /help offers you here.
        const view = this.#rooms.get(event.room);
        if (view && event.nick === this.#nick) {
          if (event.action === "op") view.role = "admin";
          if (event.action === "deop") view.role = undefined;
        }
        break;
      }
      case "pong":
        return;
    }
    this.#listener.event(event);
  }

  /** Any sign of life resets the ping clock; silence leads to a ping, then a redial. */
  #heard(link: ChatLink): void {
    this.#clearTimers();
    const interval = this.#options.pingIntervalMs ??
      CONNECT_DEFAULTS.pingIntervalMs;
    const timeout = this.#options.pingTimeoutMs ??
      CONNECT_DEFAULTS.pingTimeoutMs;
    this.#pingTimer = setTimeout(() => {
      link.send({ type: "ping" }).catch(() => link.close());
      this.#deadTimer = setTimeout(() => link.close(), timeout);
    }, interval);
  }

  #clearTimers(): void {
    clearTimeout(this.#pingTimer);
    clearTimeout(this.#deadTimer);
  }

  /** Sends waiting frames in order, paced to the server's rate limit. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#online && this.#outbox.size > 0 && !this.#stopped) {
        const item = this.#outbox.peek()!;
        if (PACED.has(item.frame.type) && !this.#bucket.take()) {
          await timerSleep(PACE_POLL_MS, this.#stop.signal);
          continue;
        }
        const link = this.#link!;
        try {
          await link.send(item.frame);
        } catch {
          // Kept for the next link; the reader notices the loss and redials.
          link.close();
          return;
        }
        this.#outbox.shift();
        if (item.typed !== "") this.#listener.sent(item.typed);
      }
    } finally {
      this.#pumping = false;
    }
  }
}

const isString = (value: unknown): value is string => typeof value === "string";
const isNumber = (value: unknown): value is number => typeof value === "number";
const isStringList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every(isString);

/** True when an event has every field of its type that the client reads. */
export function isWellFormed(event: ServerEvent): boolean {
  const e = event as unknown as Record<string, unknown>;
  const optional = (key: string) => e[key] === undefined || isString(e[key]);
  switch (event.type) {
    case "msg":
      return isNumber(e.id) && isNumber(e.ts) && isString(e.room) &&
        isString(e.from) && isString(e.text);
    case "dm":
      return isNumber(e.id) && isNumber(e.ts) && isString(e.from) &&
        isString(e.to) && isString(e.text);
    case "welcome":
      return isString(e.nick) && isString(e.room) && isStringList(e.users) &&
        Array.isArray(e.history) &&
        e.history.every((m) => m?.type === "msg" && isWellFormed(m)) &&
        typeof e.server === "object" && e.server !== null;
    case "join":
    case "leave":
      return isNumber(e.ts) && isString(e.room) && isString(e.nick) &&
        optional("reason");
    case "nick":
      return isNumber(e.ts) && isString(e.old) && isString(e.new);
    case "part":
      return isString(e.room) && optional("current") && isStringList(e.rooms);
    case "who":
      return isString(e.room) && isStringList(e.users) &&
        (e.total === undefined || isNumber(e.total));
    case "history":
      return isString(e.room) && Array.isArray(e.messages) &&
        e.messages.every((m) => m?.type === "msg" && isWellFormed(m));
    case "rooms":
      return Array.isArray(e.rooms) &&
        e.rooms.every((r) => isString(r?.name) && isNumber(r?.users));
    case "search":
      return isString(e.text) && Array.isArray(e.results) &&
        e.results.every((r) =>
          isNumber(r?.id) && isNumber(r?.ts) && isString(r?.room) &&
          isString(r?.from) && isString(r?.text)
        );
    case "error":
      return isString(e.code) && isString(e.message);
    case "bye":
      return isString(e.reason);
    case "pong":
      return true;
    case "upload_ready":
      return isString(e.token) && isString(e.url) && isNumber(e.expires_in);
    case "away":
      return isNumber(e.ts) && isString(e.nick) && optional("text");
    case "mod":
      return isNumber(e.ts) && isString(e.room) && isString(e.text) &&
        isString(e.by) && optional("nick");
    case "bans":
      return isString(e.room) && Array.isArray(e.bans) &&
        e.bans.every((b) => isString(b?.nick) && isString(b?.by));
    case "info":
      return isString(e.text);
    case "notice":
      return isString(e.room) && isString(e.text) && isString(e.by);
    case "recall":
      return isNumber(e.id) && isString(e.room) && isString(e.nick) &&
        isString(e.by) && isNumber(e.ts);
    default:
      return false;
  }
}
