/// <reference lib="dom" />
/**
 * The chat page in the browser: the JSON dialect over the server's WebSocket
 * (`/ws`, one event per message), shown as rooms, private conversations and
 * the people in the room.
 *
 * Everything from the wire is shown as text (`textContent`), never as HTML.
 * The wording, the nick colours, the mention rule, the slash commands and
 * the reconnect backoff are the terminal client's, from src/shared/ and
 * src/client/reconnect.ts. scripts/build_web.ts bundles this file into the
 * server (src/server/doors/web/page_bundle.ts).
 *
 * @module
 */

import type {
  DirectMessage,
  ErrorCode,
  PinnedNotice,
  Quote,
  RoomMessage,
  RoomRole,
  SearchHit,
  ServerEvent,
} from "../../../protocol.ts";
import { CONNECT_DEFAULTS } from "../../shared/limits.ts";
import { mentionPattern, mentions } from "../../shared/mentions.ts";
import { nickColour } from "../../shared/nick_colour.ts";
import { isValidNick, isValidRoom, nickKey } from "../../shared/sanitize.ts";
import {
  bansText,
  clockTime,
  nickWithRole,
  recallText,
  searchTime,
  whoRest,
  whoSuffix,
} from "../../shared/text_dialect.ts";
import { Backoff } from "../reconnect.ts";
import { HistoryGap } from "../history_gap.ts";
import { TokenBucket } from "../../shared/rate_limiter.ts";
import { pasteFileName } from "../file_sharing.ts";
import { previewOf } from "../recent_messages.ts";
import { fieldKeyAction } from "./field_keys.ts";
import { completeMention, type MentionCycle } from "./mention_completion.ts";
import { Conversation, conversationKey } from "./conversation.ts";
import { interpretLine, type SendFrame, type Target } from "./typed_line.ts";
import { formatFileSize as formatBytes } from "../../shared/file_names.ts";
import {
  isPicture,
  mimeOf,
  readSharedFile,
  sameOriginUrl,
  type SharedFile,
} from "./attachment.ts";
import {
  type PutResult,
  type Upload,
  type UploadFrame,
  UploadQueue,
  type UploadReady,
} from "./upload_queue.ts";
import {
  markWords,
  newestFirst,
  readHit,
  searchWords,
} from "./search_results.ts";

// ---------------------------------------------------------------------------
// Events the page understands beyond 0.1's union.

/** A page of older messages (the `history` request's answer). */
interface HistoryEvent {
  type: "history";
  room: string;
  messages?: RoomMessage[];
  /** The same, under the name `welcome` uses. */
  history?: RoomMessage[];
  /**
   * True while older messages are left: a page is bounded by bytes too, so
   * it may hold fewer than asked for and still not be the last.
   */
  more?: boolean;
}

type Welcome = Extract<ServerEvent, { type: "welcome" }> & {
  /** The rooms this member is in, on a server of several rooms at once. */
  rooms?: string[];
};

/** A room message that shares a file (issue 15's uploads). */
type FileMessage = RoomMessage & { file?: unknown };

type PageEvent = ServerEvent | HistoryEvent | Welcome | UploadReady;

/** Messages asked for per scrollback page. */
const HISTORY_PAGE = 50;
/** Messages kept per conversation; older ones come back by scrolling up. */
const KEEP_MESSAGES = 1500;
/** People listed at once in a big room; the rest are counted. */
const PEOPLE_SHOWN = 300;
/** Retries of a nickname the server still holds for a closing session. */
const TAKEN_RETRIES = 4;
/** Quiet retries of a first connection that failed before any answer. */
const LOGIN_RETRIES = 2;
/** Messages asked for per page while looking for a search result. */
const SEEK_PAGE = 1000;
/** How far back a search result is looked for, in messages loaded. */
const SEEK_LIMIT = 5000;
/** How long a message found by a search stays highlighted. */
const FOUND_MS = 4000;
/** Between two tries for a token to ask a gap's next page. */
const GAP_PACE_MS = 100;

// ---------------------------------------------------------------------------
// DOM helpers: every text goes in as textContent.

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = "",
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const ui = {
  login: byId("login"),
  loginHelp: byId("login-help"),
  loginLabel: byId("login-label"),
  loginField: byId<HTMLInputElement>("login-field"),
  loginGo: byId<HTMLButtonElement>("login-go"),
  loginError: byId("login-error"),
  loginOtherTab: byId("login-other-tab"),
  loginTakeOver: byId<HTMLButtonElement>("login-take-over"),
  chat: byId("chat"),
  menu: byId<HTMLButtonElement>("menu"),
  menuUnread: byId("menu-unread"),
  title: byId("title"),
  status: byId("status"),
  notify: byId<HTMLButtonElement>("notify"),
  peopleToggle: byId<HTMLButtonElement>("people-toggle"),
  peopleCount: byId("people-count"),
  side: byId("side"),
  whoami: byId("whoami"),
  rooms: byId("rooms"),
  dms: byId("dms"),
  dmsEmpty: byId("dms-empty"),
  joinField: byId<HTMLInputElement>("join-field"),
  joinGo: byId<HTMLButtonElement>("join-go"),
  logBox: byId("log-box"),
  logTop: byId("log-top"),
  pinned: byId("pinned"),
  jump: byId<HTMLButtonElement>("jump"),
  error: byId("error"),
  asFile: byId<HTMLButtonElement>("as-file"),
  line: byId<HTMLTextAreaElement>("line"),
  replying: byId("replying"),
  replyingText: byId("replying-text"),
  replyingCancel: byId<HTMLButtonElement>("replying-cancel"),
  send: byId<HTMLButtonElement>("send"),
  attach: byId<HTMLButtonElement>("attach"),
  fileInput: byId<HTMLInputElement>("file-input"),
  uploads: byId("uploads"),
  main: byId("main"),
  drop: byId("drop"),
  dropText: byId("drop-text"),
  searchToggle: byId<HTMLButtonElement>("search-toggle"),
  search: byId("search"),
  searchField: byId<HTMLInputElement>("search-field"),
  searchGo: byId<HTMLButtonElement>("search-go"),
  searchClose: byId<HTMLButtonElement>("search-close"),
  searchStatus: byId("search-status"),
  searchResults: byId("search-results"),
  viewer: byId<HTMLDialogElement>("viewer"),
  viewerImage: byId<HTMLImageElement>("viewer-image"),
  viewerName: byId("viewer-name"),
  viewerDownload: byId<HTMLAnchorElement>("viewer-download"),
  viewerClose: byId<HTMLButtonElement>("viewer-close"),
  people: byId("people"),
  peopleTitle: byId("people-title"),
  peopleList: byId("people-list"),
};

// ---------------------------------------------------------------------------
// What is kept across reloads: the nickname and rooms for every tab
// (localStorage), the password and the half-typed line for this tab only.

interface Saved {
  nick?: string;
  rooms: string[];
  /** The conversation shown: `#room` or `@nick`. */
  current?: string;
}

const SAVED_KEY = "chat.saved";
const PASSWORD_KEY = "chat.password";
const DRAFT_KEY = "chat.draft";

function loadSaved(): Saved {
  try {
    const value = JSON.parse(localStorage.getItem(SAVED_KEY) ?? "{}");
    return {
      nick: typeof value.nick === "string" ? value.nick : undefined,
      rooms: Array.isArray(value.rooms)
        ? value.rooms.filter((r: unknown) =>
          typeof r === "string" && isValidRoom(r)
        )
        : [],
      current: typeof value.current === "string" ? value.current : undefined,
    };
  } catch {
    return { rooms: [] };
  }
}

function storeSaved(): void {
  const rooms = [...views.values()]
    .filter((v) => v.conversation.kind === "room")
    .map((v) => v.conversation.name);
  const saved: Saved = {
    nick: me || saved0.nick,
    rooms: rooms.length > 0 ? rooms : saved0.rooms,
    current: current?.conversation.key ?? saved0.current,
  };
  try {
    localStorage.setItem(SAVED_KEY, JSON.stringify(saved));
  } catch {
    // Private mode or full: the page works, it just forgets on reload.
  }
}

function sessionGet(key: string): string | undefined {
  try {
    return sessionStorage.getItem(key) ?? undefined;
  } catch {
    return undefined;
  }
}

function sessionSet(key: string, value: string | undefined): void {
  try {
    if (value === undefined) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    // As above.
  }
}

// ---------------------------------------------------------------------------
// State

/** A conversation and its DOM: the list of lines and the sidebar entry. */
interface View {
  conversation: Conversation;
  log: HTMLOListElement;
  /** Where the reader was, restored when the conversation is shown again. */
  scrollTop?: number;
  /** Lines waiting to be sent, shown dimmed. */
  pending: Set<HTMLLIElement>;
  /** Your role in the room, if you are its owner or an admin. */
  role?: RoomRole;
  /** The room's owner and admins, by nickKey: marked by their names. */
  roles: Map<string, RoomRole>;
  /** The room's pinned notice, shown above its messages. */
  pinned?: PinnedNotice;
  /**
   * A message being looked for further back (a search result, or what a
   * quote quotes): its id, how many messages were loaded looking for it,
   * and what asked.
   */
  seek?: { id: number; loaded: number; for: "search" | "quote" };
  /**
   * What a bounded welcome left out (a resume after a long absence, or a
   * first welcome cut by its bytes), fetched page by page and put in place.
   */
  gap?: HistoryGap;
  /** The resume's "N messages while you were away" line, counted up as pages come. */
  away?: { line: HTMLLIElement; count: number };
  /**
   * What the history request on its way asked: a page up, a seek's range,
   * or a page of the gap.
   */
  asked?: "page" | "seek" | "gap";
  /** The wait for a token to ask the gap's next page, or to ask it again. */
  gapTimer?: ReturnType<typeof setTimeout>;
  /** Gap pages answered: a retry after `rate_limited` checks none came meanwhile. */
  gapAnswers?: number;
  /** The message the next one sent here answers (the bar above the field). */
  reply?: ReplyTarget;
}

/** A message being answered: its id, sender and the start of its text. */
interface ReplyTarget {
  id: number;
  from: string;
  preview: string;
}

const saved0 = loadSaved();
const views = new Map<string, View>();
let current: View | undefined;
/** Who the server says we are, once welcomed. */
let me = "";
/** The nickname asked for, before the server confirms it. */
let wantedNick = saved0.nick ?? "";
let password = sessionGet(PASSWORD_KEY);
let serverName = "chat";
let multiRoom = false;
/** The server answers `history` requests; `false` once it said it does not. */
let historySupported: boolean | undefined;
let lastPrivateFrom: string | undefined;
/** A room asked for with `/join`, shown as soon as it is entered. */
let switchTo: string | undefined;

type Phase =
  | "login" // Asking for a nickname (or password).
  | "joining" // Hello sent, waiting for welcome.
  | "member" // Welcomed on this connection.
  | "offline" // Lost the connection, retrying.
  | "stopped"; // Quit, or moved to another tab: no retry.
let phase: Phase = "login";
/** True once any welcome arrived: later ones are resumes. */
let everWelcomed = false;
/** The "Welcome, NICK!" line was shown (in the room the hello made current). */
let greeted = false;
/** Rooms the hello asked to resume after an id: their welcomes are news. */
let resumeRooms = new Set<string>();
/** The `since` each room of the last hello was resumed with. */
let resumeSince = new Map<string, number>();
/**
 * Paces a gap's pages: half the server's allowance (`welcome.server`), so
 * what the person types meanwhile is never refused for it.
 */
let pageBucket = new TokenBucket({ rate: 0, burst: 1 });
/** The room the hello made current: its welcome comes after the others'. */
let helloRoom: string | undefined;
let socket: WebSocket | undefined;
const backoff = new Backoff();
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let retryAt = 0;
let helloTimer: ReturnType<typeof setTimeout> | undefined;
let lastHeard = 0;
let pingSentAt: number | undefined;
let takenRetries = 0;
/** Quiet retries of a first connection the person asked for. */
let loginRetries = 0;
/** A hello was refused for the password: the next field asks for it. */
let needPassword = false;
/** The nickname came from storage, not from the person: retry quietly. */
let automatic = false;
/**
 * The last line sent, put back in the field if the server refuses it, with
 * the message it answered.
 */
let lastSent:
  | { text: string; at: number; reply?: { view: View; target: ReplyTarget } }
  | undefined;

/** Frames typed while offline, in order, with the line showing each. */
const outbox: { frame: SendFrame; key: string; line: HTMLLIElement }[] = [];

// ---------------------------------------------------------------------------
// Showing lines

function isMe(nick: string): boolean {
  return me !== "" && nickKey(nick) === nickKey(me);
}

function nickSpan(nick: string): HTMLSpanElement {
  return element("span", `nick c${nickColour(nick)}`, nick);
}

function timeElement(ts: number): HTMLTimeElement {
  const time = element("time", "time", clockTime(ts));
  const date = new Date(ts);
  time.dateTime = date.toISOString();
  time.title = date.toLocaleString();
  return time;
}

/** The text with each mention of me marked. */
function textNode(text: string, highlight: boolean): HTMLSpanElement {
  const span = element("span", "text");
  const pattern = highlight ? mentionPattern(me) : undefined;
  if (!pattern) {
    span.textContent = text;
    return span;
  }
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) span.append(text.slice(last, match.index));
    span.append(element("mark", "", match[0]));
    last = match.index + match[0].length;
  }
  if (last < text.length) span.append(text.slice(last));
  return span;
}

/** The message each room line shows, for a reply to it. */
const lineMessages = new WeakMap<HTMLLIElement, RoomMessage>();

function messageLine(message: RoomMessage | DirectMessage): HTMLLIElement {
  const own = isMe(message.from);
  const named = message.type === "msg" &&
    (message.all === true || message.mentions?.some(isMe) === true);
  const mention = !own && (named || mentions(message.text, me));
  const line = element("li", "line msg");
  line.dataset.id = String(message.id);
  // Reached with the arrow keys from the log (a roving focus), not with Tab:
  // a room's thousand lines are not a thousand tab stops.
  line.tabIndex = -1;
  if (message.type === "msg" && readSharedFile((message as FileMessage).file)) {
    line.dataset.fileId = readSharedFile((message as FileMessage).file)!.id;
  }
  if (own) line.classList.add("own");
  if (mention) line.classList.add("mention");
  // Time in a column of its own, so wrapped text lines up after it.
  const body = element("span", "body");
  line.append(timeElement(message.ts), " ", body);
  if (message.type === "msg" && message.quote) {
    // The start of the message this one answers, on a line of its own.
    line.dataset.quotes = String(message.quote.id);
    line.dataset.quotesFrom = message.quote.from;
    body.append(quoteElement(message.quote));
  }
  // Who says it, apart from what is said: a text of several lines is then
  // set in a column of its own, its further lines under its first.
  const who = element("span", "who");
  if (message.type === "msg" && message.me) {
    line.classList.add("action");
    who.append("* ", nickSpan(message.from), " ");
  } else {
    who.append(nickSpan(message.from));
    if (own) who.append(" ", element("span", "you", "you"));
    who.append(element("span", "colon", ": "));
  }
  body.append(who);
  const file = message.type === "msg"
    ? readSharedFile((message as FileMessage).file)
    : undefined;
  if (file) {
    line.classList.add("shared");
    body.append(fileCard(file));
  } else {
    body.append(textNode(message.text, !own));
    if (message.text.includes("\n")) body.classList.add("lines");
  }
  if (message.type === "msg") {
    lineMessages.set(line, message);
    line.append(replyButton(message.from));
  }
  return line;
}

/**
 * A room line's Reply button: shown while the pointer is over the line,
 * while the line has the focus, or once it was tapped (a phone). Its word
 * comes from the style sheet, so a copied line does not end in "Reply".
 */
function replyButton(from: string): HTMLButtonElement {
  const button = element("button", "reply-button");
  button.type = "button";
  button.tabIndex = -1;
  button.setAttribute("aria-label", `Reply to ${from}`);
  button.title = "Reply to this message (or focus it and press Enter)";
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute(
    "d",
    "M10 5.5V2L3 8.5 10 15v-3.6c5.2 0 8.4 1.6 10.5 5.6-.8-5.9-4-10.6-10.5-11.5Z",
  );
  svg.append(path);
  button.append(svg);
  return button;
}

/**
 * A reply's quote of what it answers: a button that shows the original (it
 * loads older history to reach it if need be), or, once the original is
 * recalled, plain words that cannot pass for what its sender wrote.
 */
function quoteElement(quote: Quote): HTMLElement {
  const words = quote.recalled ? "(recalled)" : quote.text;
  if (quote.recalled) {
    return element("span", "quote", `↪ ${quote.from}: ${words}`);
  }
  const button = element("button", "quote");
  button.type = "button";
  button.tabIndex = -1;
  button.title = `Show the message of ${quote.from} this answers`;
  button.append("↪ ", nickSpan(quote.from), `: ${words}`);
  return button;
}

/**
 * A recalled message leaves the page: its line reads "(bob recalled a
 * message)" in its place, and the quotes of it "(recalled)". False when the
 * view shows neither, so the recall is said as a notice instead.
 */
function takeBack(
  view: View,
  event: Extract<ServerEvent, { type: "recall" }>,
): boolean {
  const id = String(event.id);
  let found = false;
  for (const line of view.log.querySelectorAll<HTMLLIElement>("li.msg")) {
    if (line.dataset.id === id) {
      const time = line.querySelector("time");
      line.className = "line notice event recalled";
      line.replaceChildren(
        ...(time ? [time, " "] : []),
        element("span", "body", `(${recallText(event)})`),
      );
      found = true;
    } else if (line.dataset.quotes === id) {
      const from = line.dataset.quotesFrom ?? event.nick;
      line.querySelector(".quote")?.replaceWith(
        quoteElement({ id: event.id, from, text: "", recalled: true }),
      );
      found = true;
    }
  }
  if (view.reply?.id === event.id) {
    // The server would refuse the answer now (no_such_message): say so first.
    cancelReply(view);
    if (view === current) {
      showError(`${event.nick}'s message you were answering was recalled`);
    }
  }
  return found;
}

// ---------------------------------------------------------------------------
// Shared files: a card with name, size and a download link; a picture as a
// thumbnail that opens the full picture. Only links to this server are made.

const SVG = "http://www.w3.org/2000/svg";

/** The document icon of a file card (an SVG built node by node, no HTML). */
function fileIcon(): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon file-icon");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute(
    "d",
    "M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2Zm7 1.5V9h5.5ZM7 13h10v1.6H7Zm0 3.4h10V18H7Z",
  );
  svg.append(path);
  return svg;
}

function fileCard(file: SharedFile): HTMLSpanElement {
  const href = sameOriginUrl(file.url, location.href);
  const card = element("span", "file");
  if (href && isPicture(file)) {
    card.classList.add("picture");
    const link = element("a", "thumb");
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener";
    link.title = `${file.name}: open the full picture`;
    const image = element("img");
    image.alt = file.name;
    image.loading = "lazy";
    image.decoding = "async";
    image.src = href;
    // A picture grows its line as it loads: a reader at the end stays there.
    image.addEventListener("load", () => {
      if (stuckToBottom && image.closest("ol.log") === current?.log) {
        scrollToBottom();
      }
    });
    link.append(image);
    link.addEventListener("click", (event) => {
      // A plain click shows it here; Ctrl/⌘-click or a middle click, a new tab.
      if (event.button !== 0 || event.ctrlKey || event.metaKey) return;
      if (event.shiftKey || event.altKey) return;
      event.preventDefault();
      openViewer(file, href, link);
    });
    card.append(link);
  } else {
    card.append(fileIcon());
  }
  const about = element("span", "file-about");
  about.append(
    element("span", "file-name", file.name),
    element("span", "file-size", formatBytes(file.size)),
  );
  if (href) {
    const download = element("a", "file-download", "Download");
    download.href = href;
    download.download = file.name;
    download.setAttribute("aria-label", `Download ${file.name}`);
    about.append(download);
  } else {
    about.append(element("span", "file-size", "(no link on this server)"));
  }
  card.append(about);
  return card;
}

/** Where the focus goes back to when the picture viewer closes. */
let viewerOpener: HTMLElement | undefined;

function openViewer(file: SharedFile, href: string, opener: HTMLElement) {
  viewerOpener = opener;
  ui.viewerImage.src = href;
  ui.viewerImage.alt = file.name;
  ui.viewerName.textContent = `${file.name} · ${formatBytes(file.size)}`;
  ui.viewerDownload.href = href;
  ui.viewerDownload.download = file.name;
  ui.viewer.showModal();
  ui.viewerClose.focus();
}

function noticeLine(text: string, ts?: number, kind = "notice"): HTMLLIElement {
  const line = element("li", `line ${kind}`);
  if (ts !== undefined) line.append(timeElement(ts), " ");
  line.append(element("span", "body", text));
  return line;
}

function atBottom(): boolean {
  const box = ui.logBox;
  return box.scrollHeight - box.scrollTop - box.clientHeight < 40;
}

/** The reader is at the end of the log (as of the last scroll). */
let stuckToBottom = true;

function scrollToBottom(): void {
  ui.logBox.scrollTop = ui.logBox.scrollHeight;
  ui.jump.hidden = true;
  stuckToBottom = true;
}

/** Appends lines to a view; the shown one follows them if it was at the end. */
function appendLines(view: View, lines: HTMLLIElement[]): void {
  if (lines.length === 0) return;
  const shown = view === current;
  const follow = shown && atBottom();
  // Pending lines stay last, below what arrived.
  const firstPending = view.log.querySelector(".pending");
  for (const line of lines) view.log.insertBefore(line, firstPending);
  if (shown) {
    if (follow) scrollToBottom();
    else ui.jump.hidden = false;
  }
}

/** Shows a notice in a conversation (the shown one by default). */
function notice(text: string, view = current, ts?: number, kind?: string) {
  if (view) appendLines(view, [noticeLine(text, ts, kind)]);
}

/**
 * Adds room or private messages to a view, each once. `order` is `live`
 * for new ones (and a resume's), `older` for history.
 */
function addMessages(
  view: View,
  messages: readonly (RoomMessage | DirectMessage)[],
  order: "live" | "older",
): (RoomMessage | DirectMessage)[] {
  const conversation = view.conversation;
  const added: (RoomMessage | DirectMessage)[] = [];
  const atEnd: HTMLLIElement[] = [];
  const shown = view === current;
  const box = ui.logBox;
  const heightBefore = box.scrollHeight;
  const topBefore = box.scrollTop;
  let prepended = false;
  for (const message of messages) {
    const place = conversation.place(message.id, message.ts, order);
    if (place.at === "duplicate") continue;
    added.push(message);
    if (message.type === "msg") {
      conversation.noteSender(message.from, message.id);
    }
    const line = messageLine(message);
    if (place.at === "end") {
      atEnd.push(line);
      continue;
    }
    const next = view.log.querySelector(`li[data-id="${place.id}"]`);
    view.log.insertBefore(line, next);
    prepended = true;
  }
  // Keeping the reader's place when older lines appear above it.
  if (shown && prepended) {
    box.scrollTop = topBefore + (box.scrollHeight - heightBefore);
  }
  appendLines(view, atEnd);
  // The oldest lines go once there are too many, but not from under a
  // reader who scrolled up to them (nor as a history page brings them).
  if (order === "live" && (!shown || atBottom())) {
    for (const id of conversation.trim(KEEP_MESSAGES)) {
      view.log.querySelector(`li[data-id="${id}"]`)?.remove();
    }
  }
  if (shown && added.length > 0) renderTop();
  return added;
}

// ---------------------------------------------------------------------------
// Conversations

function viewFor(kind: "room" | "dm", name: string): View {
  const key = conversationKey(kind, name);
  let view = views.get(key);
  if (!view) {
    const log = element("ol", "log");
    log.setAttribute("aria-live", "polite");
    view = {
      conversation: new Conversation(kind, name),
      log,
      pending: new Set(),
      roles: new Map(),
    };
    views.set(key, view);
    renderSidebar();
  }
  return view;
}

function roomView(room: string): View | undefined {
  return views.get(conversationKey("room", room));
}

function roomViews(): View[] {
  return [...views.values()].filter((v) => v.conversation.kind === "room");
}

function targetOf(view: View): Target {
  const c = view.conversation;
  return c.kind === "room"
    ? { kind: "room", room: c.name }
    : { kind: "dm", nick: c.name };
}

/** Shows a conversation: its lines, its people, its place in the sidebar. */
function show(view: View): void {
  if (current && current !== view) current.scrollTop = ui.logBox.scrollTop;
  current = view;
  const old = ui.logBox.querySelector("ol.log");
  if (old !== view.log) {
    if (old) old.replaceWith(view.log);
    else ui.logBox.append(view.log);
  }
  view.conversation.unread = 0;
  view.conversation.unreadMentions = 0;
  if (view.scrollTop === undefined) scrollToBottom();
  else ui.logBox.scrollTop = view.scrollTop;
  ui.jump.hidden = atBottom();
  const c = view.conversation;
  ui.line.placeholder = c.kind === "room"
    ? `Message ${c.name} (Enter sends, /help)`
    : `Private message to ${c.name}`;
  closePanels();
  renderSidebar();
  renderPeople();
  renderPinned();
  renderTop();
  renderTitle();
  renderReplyBar();
  storeSaved();
  fillIfShort();
}

function removeView(view: View, next?: View): void {
  views.delete(view.conversation.key);
  if (current === view) {
    current = undefined;
    const then = next ?? roomViews()[0] ?? [...views.values()][0];
    if (then) show(then);
    else showNoRoom();
  }
  renderSidebar();
  storeSaved();
}

/** In no room and no conversation: an empty log that says what to do. */
function showNoRoom(): void {
  const empty = element("ol", "log");
  ui.logBox.querySelector("ol.log")?.replaceWith(empty);
  ui.logTop.textContent = "You are in no room now: /join ROOM to talk again.";
  ui.line.placeholder = "/join ROOM";
  renderReplyBar();
  renderPeople();
  renderTitle();
}

function sidebarEntry(view: View): HTMLLIElement {
  const c = view.conversation;
  const item = element("li", "entry");
  const open = element("button", "open");
  open.type = "button";
  open.append(element("span", "name", c.kind === "room" ? c.name : ""));
  if (c.kind === "dm") {
    open.firstElementChild!.append(nickSpan(c.name));
  }
  if (c.unread > 0) {
    const badge = element("span", "badge", String(c.unread));
    if (c.unreadMentions > 0) badge.classList.add("hot");
    badge.setAttribute(
      "aria-label",
      `${c.unread} unread${c.unreadMentions > 0 ? ", naming you" : ""}`,
    );
    open.append(badge);
  }
  if (view === current) open.setAttribute("aria-current", "true");
  open.addEventListener("click", () => {
    show(view);
    ui.line.focus();
  });
  item.append(open);
  const canClose = c.kind === "dm" || (multiRoom && roomViews().length > 1);
  if (canClose) {
    const close = element("button", "close", "×");
    close.type = "button";
    close.setAttribute(
      "aria-label",
      c.kind === "room"
        ? `Leave ${c.name}`
        : `Close conversation with ${c.name}`,
    );
    close.title = close.getAttribute("aria-label")!;
    close.addEventListener("click", () => {
      if (c.kind === "room") {
        perform({ kind: "send", frames: [{ type: "part", room: c.name }] }, "");
      } else removeView(view);
    });
    item.append(close);
  }
  return item;
}

function renderSidebar(): void {
  const rooms = [...views.values()].filter((v) =>
    v.conversation.kind === "room"
  );
  const dms = [...views.values()].filter((v) => v.conversation.kind === "dm");
  ui.rooms.replaceChildren(...rooms.map(sidebarEntry));
  ui.dms.replaceChildren(...dms.map(sidebarEntry));
  ui.dmsEmpty.hidden = dms.length > 0;
  const unread = otherUnread();
  ui.menuUnread.hidden = unread === 0;
  ui.menuUnread.textContent = String(unread);
}

/** Unread messages outside the conversation shown. */
function otherUnread(): number {
  let total = 0;
  for (const view of views.values()) {
    if (view !== current) total += view.conversation.unread;
  }
  return total;
}

function renderPeople(): void {
  const view = current;
  if (!view || view.conversation.kind !== "room") {
    ui.peopleTitle.textContent = view ? "Private conversation" : "People";
    ui.peopleList.replaceChildren();
    ui.peopleCount.textContent = "";
    if (view) {
      ui.peopleList.append(
        element(
          "li",
          "hint",
          `Only you and ${view.conversation.name} see this.`,
        ),
      );
    }
    return;
  }
  const c = view.conversation;
  ui.peopleTitle.textContent = `People in ${c.name} (${c.count})`;
  ui.peopleCount.textContent = String(c.count);
  const items: HTMLLIElement[] = [];
  for (const nick of c.users.slice(0, PEOPLE_SHOWN)) {
    const item = element("li", "entry");
    const role = view.roles.get(nickKey(nick));
    // The owner and admins: a mark by the name, as in the other clients.
    const mark = role ? [" ", element("span", `role ${role}`, role)] : [];
    if (isMe(nick)) {
      item.append(element("span", "person", ""));
      item.firstElementChild!.append(
        nickSpan(nick),
        ...mark,
        " ",
        element("span", "you", "you"),
      );
    } else {
      const open = element("button", "open person");
      open.type = "button";
      open.title = `Talk privately with ${nick}`;
      open.append(nickSpan(nick), ...mark);
      open.addEventListener("click", () => {
        show(viewFor("dm", nick));
        ui.line.focus();
      });
      item.append(open);
    }
    items.push(item);
  }
  if (c.count > items.length) {
    items.push(element("li", "hint", `and ${c.count - items.length} more`));
  }
  ui.peopleList.replaceChildren(...items);
}

/** The room's pinned notice above its messages, for the shown room. */
function renderPinned(): void {
  const pinned = current?.conversation.kind === "room"
    ? current.pinned
    : undefined;
  ui.pinned.hidden = pinned === undefined;
  ui.pinned.textContent = pinned
    ? `Notice (by ${pinned.by}): ${pinned.text}`
    : "";
}

/** The owner and admins of a room, as a welcome or a full `who` names them. */
function setRoles(
  view: View,
  roles: Readonly<Record<string, RoomRole>> | undefined,
): void {
  view.roles = new Map(
    Object.entries(roles ?? {}).map(([nick, role]) => [nickKey(nick), role]),
  );
}

function renderTop(): void {
  const c = current?.conversation;
  if (!c) return;
  if (c.kind === "dm") {
    ui.logTop.textContent =
      "Private messages are not kept: they are gone after a reload.";
  } else if (current?.seek) {
    ui.logTop.textContent =
      "Loading older messages, back to the search result…";
  } else if (c.loadingOlder) {
    ui.logTop.textContent = "Loading older messages…";
  } else if (c.size === 0) {
    ui.logTop.textContent = "";
  } else if (!c.hasOlder || historySupported === false) {
    ui.logTop.textContent = "The start of what this server keeps.";
  } else {
    ui.logTop.textContent = "Scroll up for older messages.";
  }
}

function renderTitle(): void {
  let unread = otherUnread();
  if (document.hidden && current) unread += current.conversation.unread;
  const name = current?.conversation.name ?? "";
  ui.title.textContent = name;
  if (me) {
    ui.whoami.replaceChildren(
      nickSpan(me),
      element("span", "server", `on ${serverName}`),
    );
  }
  document.title = `${unread > 0 ? `(${unread}) ` : ""}${
    name ? `${name} · ` : ""
  }${serverName}`;
}

function closePanels(): void {
  ui.chat.classList.remove("side-open", "people-open");
  ui.menu.setAttribute("aria-expanded", "false");
  ui.peopleToggle.setAttribute("aria-expanded", "false");
}

// ---------------------------------------------------------------------------
// Status, errors and the two screens

function setStatus(text: string, state: "online" | "offline" | "joining") {
  ui.status.textContent = text;
  ui.status.dataset.state = state;
}

function showError(text: string): void {
  ui.error.textContent = text;
  ui.asFile.hidden = true;
}

type LoginStep = "nick" | "password";

function showLogin(step: LoginStep, error = "", help?: string): void {
  ui.chat.hidden = true;
  ui.login.hidden = false;
  ui.loginOtherTab.hidden = true;
  ui.loginError.textContent = error;
  const field = ui.loginField;
  if (step === "password") {
    ui.loginLabel.textContent = "Password";
    ui.loginHelp.textContent = help ??
      `This server needs a password to join as ${wantedNick}.`;
    field.type = "password";
    field.setAttribute("autocomplete", "current-password");
    field.value = "";
  } else {
    ui.loginLabel.textContent = "Nickname";
    ui.loginHelp.textContent = "Choose a nickname to join.";
    field.type = "text";
    field.setAttribute("autocomplete", "nickname");
    field.value = wantedNick;
  }
  ui.loginField.dataset.step = step;
  ui.loginGo.disabled = false;
  field.disabled = false;
  field.focus();
}

function showChat(): void {
  if (!ui.chat.hidden) return;
  ui.login.hidden = true;
  ui.chat.hidden = false;
  // A draft kept across a reload may hold several lines.
  fitField();
  ui.line.focus();
}

// ---------------------------------------------------------------------------
// The connection

function socketUrl(): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

function connect(): void {
  clearTimeout(retryTimer);
  retryTimer = undefined;
  if (socket) return;
  phase = "joining";
  setStatus(everWelcomed ? "Reconnecting…" : "Connecting…", "joining");
  const ws = new WebSocket(socketUrl());
  socket = ws;
  ws.addEventListener("open", () => {
    if (socket !== ws) return;
    lastHeard = Date.now();
    sendHello();
  });
  ws.addEventListener("message", (message) => {
    if (socket !== ws || typeof message.data !== "string") return;
    lastHeard = Date.now();
    pingSentAt = undefined;
    // The first frame may be the banner line; every event is a JSON object.
    if (!message.data.startsWith("{")) return;
    let event: PageEvent;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    if (typeof event?.type === "string") handle(event);
  });
  ws.addEventListener("close", () => {
    if (socket !== ws) return;
    socket = undefined;
    disconnected();
  });
}

function send(
  frame: SendFrame | UploadFrame | { type: "hello" } & Record<string, unknown>,
) {
  socket?.send(JSON.stringify(frame));
}

function sendHello(): void {
  const saved = loadSaved();
  const shown = roomViews().map((v) => v.conversation.name);
  const rooms = (shown.length > 0 ? shown : saved.rooms).filter(isValidRoom);
  const savedCurrent = saved.current?.startsWith("#")
    ? saved.current.slice(1)
    : undefined;
  const room = current?.conversation.kind === "room"
    ? current.conversation.name
    : savedCurrent && rooms.includes(savedCurrent)
    ? savedCurrent
    : rooms[rooms.length - 1];
  const hello: Record<string, unknown> & { type: "hello" } = {
    type: "hello",
    nick: wantedNick,
  };
  if (password !== undefined) hello.password = password;
  // Back after a drop, each room resumes after the last message shown in
  // it; after a reload nothing is shown, so each gets its recent history.
  resumeRooms = new Set();
  resumeSince = new Map();
  const since = (name: string) => {
    const view = everWelcomed ? roomView(name) : undefined;
    if (view) resumeRooms.add(name);
    // A gap not filled yet (the link dropped meanwhile) is asked for again:
    // what of it is shown already comes once all the same.
    const id = view?.gap && !view.gap.finished
      ? view.gap.after
      : view?.conversation.newestId;
    if (id !== undefined) resumeSince.set(name, id);
    return id;
  };
  const others = rooms.filter((r) => r !== room);
  if (others.length > 0) {
    hello.rooms = others.map((name) => {
      const id = since(name);
      return id === undefined ? { room: name } : { room: name, since: id };
    });
  }
  if (room) {
    hello.room = room;
    const id = since(room);
    if (id !== undefined) hello.since = id;
  }
  // The hello's own room is welcomed last: then every room is in.
  helloRoom = room;
  send(hello);
  clearTimeout(helloTimer);
  helloTimer = setTimeout(() => {
    if (phase === "joining") socket?.close();
  }, CONNECT_DEFAULTS.helloTimeoutMs);
}

function disconnected(): void {
  clearTimeout(helloTimer);
  pingSentAt = undefined;
  uploads.disconnected();
  if (searching !== undefined) {
    searching = undefined;
    ui.searchStatus.textContent = "The connection dropped; search again.";
  }
  for (const view of views.values()) {
    view.seek = undefined;
    view.asked = undefined;
    view.conversation.loadingOlder = false;
    clearTimeout(view.gapTimer);
  }
  if (phase === "stopped") return;
  if (needPassword) {
    phase = "login";
    return showLogin(
      "password",
      password === undefined ? "" : "wrong password",
    );
  }
  if (!everWelcomed && phase === "login") return;
  if (!everWelcomed && !automatic) {
    // A first attempt can fail on a busy network: try twice more, quietly.
    if (loginRetries < LOGIN_RETRIES) {
      loginRetries++;
      phase = "offline";
      retryTimer = setTimeout(connect, 500 * loginRetries);
      return;
    }
    // Never got in: say so on the login screen and let the person retry.
    phase = "login";
    return showLogin("nick", "cannot reach the chat server; try again");
  }
  const wasMember = phase === "member";
  phase = "offline";
  if (wasMember) {
    notice("Connection lost; retrying.", current, undefined, "error");
  }
  scheduleRetry(backoff.next());
}

function scheduleRetry(ms: number): void {
  clearTimeout(retryTimer);
  retryAt = Date.now() + ms;
  showRetry();
  retryTimer = setTimeout(connect, ms);
}

/** Says when the next attempt is, in the bar (or on the login card). */
function showRetry(): void {
  const left = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
  setStatus(`Offline — retrying in ${left} s`, "offline");
  if (ui.chat.hidden) {
    ui.loginHelp.textContent =
      `Cannot reach the chat server; retrying in ${left} s.`;
  }
}

/** A quiet link is checked with a ping; no answer, and it is redialled. */
function checkAlive(): void {
  if (phase !== "member" || !socket) return;
  const now = Date.now();
  if (pingSentAt !== undefined) {
    if (now - pingSentAt > CONNECT_DEFAULTS.pingTimeoutMs) socket.close();
    return;
  }
  if (now - lastHeard > CONNECT_DEFAULTS.pingIntervalMs) {
    pingSentAt = now;
    send({ type: "ping" });
  }
}

// ---------------------------------------------------------------------------
// Events

function handle(event: PageEvent): void {
  switch (event.type) {
    case "welcome":
      return welcomed(event);
    case "msg":
      return roomMessage(event);
    case "dm":
      return directMessage(event);
    case "join":
      return joined(event);
    case "leave":
      return left(event);
    case "nick":
      return renamed(event);
    case "who": {
      const view = roomView(event.room);
      // A big room's reply is one page of 200: the full list is welcome's.
      const total = event.total ?? event.users.length;
      if (event.users.length === total) {
        view?.conversation.setUsers(event.users);
        if (view) setRoles(view, event.roles);
        if (view === current) renderPeople();
      }
      return notice(
        `In ${event.room} (${total}): ${
          event.users.map((u) => nickWithRole(u, event.roles?.[u])).join(", ")
        }${whoRest(event)}`,
      );
    }
    case "rooms":
      return notice(
        `Rooms: ${event.rooms.map((r) => `${r.name} (${r.users})`).join(", ")}`,
      );
    case "history":
      return olderMessages(event);
    case "search":
      return searchAnswered(event);
    case "upload_ready":
      return uploads.ready(event);
    case "part":
      return parted(event);
    case "error":
      return serverError(event.code, event.message);
    case "bye":
      if (phase === "member") {
        notice(`The server said goodbye: ${event.reason}`);
      }
      return;
    case "pong":
      return;
    // Running the group (README "Running the group"): shown as notices in
    // the room they concern, in the same words as the other clients.
    case "mod": {
      // An op or deop of yourself changes what /help offers you there.
      const view = roomView(event.room);
      if (view && event.nick !== undefined && isMe(event.nick)) {
        if (event.action === "op" && view.role !== "owner") {
          view.role = "admin";
        }
        if (event.action === "deop" && view.role === "admin") {
          view.role = undefined;
        }
      }
      if (view && event.nick !== undefined) {
        if (event.action === "op") view.roles.set(nickKey(event.nick), "admin");
        if (event.action === "deop") view.roles.delete(nickKey(event.nick));
        if (view === current) renderPeople();
      }
      return notice(event.text, view ?? current, event.ts);
    }
    case "notice": {
      const view = roomView(event.room);
      if (view) {
        view.pinned = event.text === "" ? undefined : event;
        if (view === current) renderPinned();
      }
      return notice(
        event.text === ""
          ? `${event.by} cleared the notice of ${event.room}`
          : `Notice of ${event.room} (by ${event.by}): ${event.text}`,
        view ?? current,
        event.ts,
      );
    }
    case "recall": {
      const view = roomView(event.room);
      if (view && takeBack(view, event)) return;
      return notice(recallText(event), view ?? current, event.ts);
    }
    case "bans":
      return notice(bansText(event));
    case "info":
      return notice(event.text);
  }
}

/** A server of several rooms at once says so: 0.2 and later. */
function isMultiRoom(event: Welcome): boolean {
  if (Array.isArray(event.rooms)) return true;
  const [major, minor] = (event.server?.version ?? "0.1").split(".").map(
    Number,
  );
  return major > 0 || minor >= 2;
}

function welcomed(event: Welcome): void {
  const first = phase !== "member";
  me = event.nick;
  wantedNick = event.nick;
  serverName = event.server?.name ?? serverName;
  multiRoom = isMultiRoom(event);
  if (first) {
    phase = "member";
    const rate = event.server?.rate ?? 0;
    pageBucket = new TokenBucket({
      rate: rate / 2,
      burst: Math.max(1, Math.floor((event.server?.burst ?? 1) / 2)),
    });
    clearTimeout(helloTimer);
    backoff.reset();
    takenRetries = 0;
    automatic = true;
    setStatus("Online", "online");
    showChat();
  }
  if (!multiRoom) {
    // One room at a time: entering this one left the others.
    for (const view of roomViews()) {
      if (view.conversation.name !== event.room) removeView(view);
    }
  }
  const view = viewFor("room", event.room);
  const isNew = view.log.childElementCount === 0;
  view.conversation.setUsers(event.users);
  view.role = event.role === "owner" || event.role === "admin"
    ? event.role
    : undefined;
  setRoles(view, event.roles);
  view.pinned = event.notice;
  if (view === current) renderPinned();
  const resumed = resumeRooms.delete(event.room);
  const history = event.history ?? [];
  if (history.length === 0 && !resumed) view.conversation.hasOlder = false;
  const others = event.users.filter((u) => !isMe(u));
  const company = others.length > 0
    ? ` with ${listNames(others.map((u) => nickWithRole(u, event.roles?.[u])))}`
    : ", alone for now";
  if (resumed) {
    notice(
      `Reconnected: back in ${event.room} as ${event.nick}.`,
      view,
      undefined,
      "notice strong",
    );
  } else if (
    !greeted && (helloRoom === undefined || helloRoom === event.room)
  ) {
    greeted = true;
    notice(
      `Welcome, ${event.nick}! You are in ${event.room}${company}. Type /help for commands.`,
      view,
      undefined,
      "notice strong",
    );
  } else if (isNew) {
    notice(
      `You are in ${event.room}${company}.`,
      view,
      undefined,
      "notice strong",
    );
  }
  if (view.role && isNew) {
    notice(
      `You are ${
        view.role === "owner" ? "the owner" : "an admin"
      } of ${event.room}: /help lists what you may do.`,
      view,
    );
  }
  if (event.mutedAll && (isNew || resumed)) {
    notice(
      `Everyone is muted in ${event.room}: only its owner and admins may speak.`,
      view,
    );
  }
  if (event.notice && (isNew || resumed)) {
    notice(
      `Notice (by ${event.notice.by}): ${event.notice.text}`,
      view,
      undefined,
      "notice strong",
    );
  }
  const added = addMessages(view, history, resumed ? "live" : "older");
  clearTimeout(view.gapTimer);
  view.gap = gapOf(event, resumed);
  view.away = undefined;
  if (resumed && (added.length > 0 || view.gap)) {
    const line = noticeLine("");
    appendLines(view, [line]);
    view.away = { line, count: added.length };
    renderAway(view);
    countUnread(view, added);
  }
  everWelcomed = true;
  // The hello's rooms are all in once its own room is welcomed (it comes
  // last); a /join's room is shown when its welcome comes.
  const helloDone = first
    ? helloRoom === undefined || helloRoom === event.room
    : helloRoom === event.room;
  if (helloDone) {
    helloRoom = undefined;
    if (!current || !views.has(current.conversation.key)) {
      const saved = loadSaved().current;
      show((saved && views.get(saved)) || view);
    }
    flushOutbox();
  }
  if (view.gap) askGapPage(view);
  if (switchTo !== undefined && switchTo === event.room) {
    switchTo = undefined;
    show(view);
  } else if (current === view) {
    renderPeople();
    renderTop();
  }
  renderSidebar();
  storeSaved();
}

/** You left a room (`part`): it goes from the list, and `current` shows. */
function parted(event: Extract<ServerEvent, { type: "part" }>): void {
  const next = event.current ? roomView(event.current) : undefined;
  for (const view of roomViews()) {
    const name = view.conversation.name;
    if (name === event.room || !event.rooms.includes(name)) {
      removeView(view, next);
    }
  }
  notice(
    event.rooms.length === 0
      ? `You left ${event.room}; you are in no room now: /join ROOM to talk again.`
      : `You left ${event.room}.`,
  );
}

function listNames(names: string[]): string {
  if (names.length <= 20) return names.join(", ");
  return `${names.slice(0, 20).join(", ")} and ${names.length - 20} others`;
}

function roomMessage(message: RoomMessage): void {
  // A server of one room at a time sends only its room's messages: one from
  // another room means this server keeps members in several at once.
  if (!roomView(message.room) && roomViews().length > 0) multiRoom = true;
  const view = viewFor("room", message.room);
  const added = addMessages(view, [message], "live");
  countUnread(view, added);
  if (isMe(message.from)) clearSentError();
}

function directMessage(message: DirectMessage): void {
  const outgoing = isMe(message.from);
  const other = outgoing ? message.to : message.from;
  const view = viewFor("dm", other);
  view.conversation.name = other;
  if (!outgoing) lastPrivateFrom = message.from;
  const added = addMessages(view, [message], "live");
  countUnread(view, added);
  if (outgoing) clearSentError();
}

/** Counts messages the reader has not seen, and tells the tab and the OS. */
function countUnread(view: View, messages: (RoomMessage | DirectMessage)[]) {
  const seen = view === current && !document.hidden;
  let changed = false;
  for (const message of messages) {
    if (isMe(message.from)) continue;
    const important = message.type === "dm" || mentions(message.text, me);
    if (!seen) {
      view.conversation.unread++;
      if (important) view.conversation.unreadMentions++;
      changed = true;
    }
    if (important && document.hidden) notifyBrowser(view, message);
  }
  if (changed) renderSidebar();
  renderTitle();
}

function notifyBrowser(view: View, message: RoomMessage | DirectMessage) {
  if (
    !("Notification" in globalThis) || Notification.permission !== "granted"
  ) {
    return;
  }
  const where = message.type === "dm"
    ? "privately"
    : `in ${view.conversation.name}`;
  try {
    const shown = new Notification(`${message.from} ${where}`, {
      body: message.text.slice(0, 200),
      tag: view.conversation.key,
    });
    shown.addEventListener("click", () => {
      globalThis.focus();
      show(view);
      shown.close();
    });
  } catch {
    // Some browsers allow notifications only from a service worker.
  }
}

function joined(event: Extract<ServerEvent, { type: "join" }>): void {
  let view = roomView(event.room);
  if (isMe(event.nick) && !event.others) {
    // A server of several rooms may announce our own arrival.
    view ??= viewFor("room", event.room);
    return;
  }
  if (!view) return;
  view.conversation.addUser(event.nick, event.users);
  if (event.role) view.roles.set(nickKey(event.nick), event.role);
  notice(
    `${
      whoSuffix(nickWithRole(event.nick, event.role), event.others)
    } joined ${event.room}${countSuffix(event.users)}`,
    view,
    event.ts,
    "notice event",
  );
  if (view === current) renderPeople();
}

function left(event: Extract<ServerEvent, { type: "leave" }>): void {
  const view = roomView(event.room);
  if (!view) return;
  if (isMe(event.nick) && !event.others) {
    removeView(view);
    return notice(`You left ${event.room}.`);
  }
  view.conversation.removeUser(event.nick, event.users);
  view.roles.delete(nickKey(event.nick));
  notice(
    `${whoSuffix(event.nick, event.others)} left ${event.room}${
      event.reason ? ` (${event.reason})` : ""
    }${countSuffix(event.users)}`,
    view,
    event.ts,
    "notice event",
  );
  if (view === current) renderPeople();
}

function countSuffix(users: number | undefined): string {
  return users === undefined ? "" : ` (${users} here)`;
}

function renamed(event: Extract<ServerEvent, { type: "nick" }>): void {
  const mine = isMe(event.old);
  if (mine) {
    me = event.new;
    wantedNick = event.new;
    storeSaved();
  }
  const text = mine
    ? `You are now ${event.new}.`
    : `${event.old} is now ${event.new}`;
  for (const view of roomViews()) {
    const role = view.roles.get(nickKey(event.old));
    if (role) {
      view.roles.delete(nickKey(event.old));
      view.roles.set(nickKey(event.new), role);
    }
    if (view.conversation.renameUser(event.old, event.new) || mine) {
      notice(text, view, event.ts, "notice event");
    }
  }
  const dm = views.get(conversationKey("dm", event.old));
  if (dm && !mine) {
    views.delete(dm.conversation.key);
    dm.conversation.name = event.new;
    views.set(dm.conversation.key, dm);
    notice(text, dm, event.ts, "notice event");
  }
  if (lastPrivateFrom && nickKey(lastPrivateFrom) === nickKey(event.old)) {
    lastPrivateFrom = event.new;
  }
  renderSidebar();
  renderPeople();
  renderTitle();
}

function olderMessages(event: HistoryEvent): void {
  historySupported = true;
  const view = roomView(event.room);
  if (!view) return;
  const messages = event.messages ?? event.history ?? [];
  const c = view.conversation;
  c.loadingOlder = false;
  const asked = view.asked;
  view.asked = undefined;
  if (asked === "gap" && view.gap) return gapPage(view, view.gap, event);
  // A gap waiting behind this page goes on from here.
  if (view.gap && !view.gap.finished) setTimeout(() => askGapPage(view));
  const added = addMessages(view, messages, "older");
  if (asked !== "seek") {
    const last = event.more === undefined
      ? messages.length < HISTORY_PAGE
      : !event.more;
    if (last || added.length === 0) c.hasOlder = false;
  }
  // A seek's range ends at the result; what is older than it is unknown.
  if (view.seek) {
    view.seek.loaded += added.length;
    return continueSeek(view, event.more === true && added.length > 0);
  }
  if (view === current) {
    renderTop();
    if (added.length > 0) fillIfShort();
  }
}

/**
 * What a welcome left out that the page fetches: after a resume, what was
 * said between its `since` and the welcome's first message (up to
 * `CONNECT_DEFAULTS.maxCatchUpMessages`); after a first welcome cut by its
 * bytes, the rest of the server's `--history`.
 */
function gapOf(event: Welcome, resumed: boolean): HistoryGap | undefined {
  return HistoryGap.ofWelcome(event, resumed, resumeSince.get(event.room));
}

/**
 * Asks for the gap's next page, paced by {@linkcode pageBucket}; one page
 * of a room is on its way at a time (a scrollback page or a seek first).
 */
function askGapPage(view: View): void {
  const gap = view.gap;
  clearTimeout(view.gapTimer);
  if (!gap || gap.finished || phase !== "member") return;
  if (view.conversation.loadingOlder) return;
  if (!pageBucket.take()) {
    view.gapTimer = setTimeout(() => askGapPage(view), GAP_PACE_MS);
    return;
  }
  view.conversation.loadingOlder = true;
  view.asked = "gap";
  send(gap.request());
  if (view === current) renderTop();
}

/** A page of the gap: its messages go in place, and the next is asked for. */
function gapPage(view: View, gap: HistoryGap, event: HistoryEvent): void {
  const c = view.conversation;
  const messages = event.messages ?? event.history ?? [];
  if (gap.take({ messages, more: event.more === true }) === "stale") {
    // The answer to a page asked twice: the one asked last is on its way.
    c.loadingOlder = true;
    view.asked = "gap";
    return;
  }
  view.gapAnswers = (view.gapAnswers ?? 0) + 1;
  const added = addMessages(view, messages, "older");
  if (view.away) {
    view.away.count += added.length;
    countUnread(view, added);
    renderAway(view);
  }
  if (!gap.finished) return askGapPage(view);
  if (view.seek) askSeekPage(view);
  if (view === current) {
    renderTop();
    fillIfShort();
  }
}

/**
 * The server refused a gap's page (`rate_limited`, perhaps for a line the
 * person sent): it is asked again in a moment, unless its answer came.
 */
function retryGapPage(view: View): void {
  const answers = view.gapAnswers;
  clearTimeout(view.gapTimer);
  view.gapTimer = setTimeout(() => {
    if (view.gapAnswers !== answers || view.asked !== "gap") return;
    view.conversation.loadingOlder = false;
    view.asked = undefined;
    askGapPage(view);
  }, CONNECT_DEFAULTS.historyRetryMs);
}

/** The resume's "N messages while you were away" line, as the gap fills. */
function renderAway(view: View): void {
  const away = view.away;
  if (!away) return;
  const gap = view.gap;
  let text = `${away.count} message${
    away.count === 1 ? "" : "s"
  } while you were away (above)`;
  if (gap && !gap.finished) text += "; loading the rest…";
  else if (gap?.cut) text += "; earlier ones are left out.";
  else text += ".";
  const body = away.line.querySelector(".body");
  if (body) body.textContent = text;
}

/**
 * Looks for a search result further back than the page shows: pages of
 * the room's history after the result's id and before the oldest message
 * shown, newest first, so the log stays whole (no gap between what was
 * shown and the result) and each message still comes once. Stops at the
 * result, at the end of the range, or after {@linkcode SEEK_LIMIT}.
 */
function seekMessage(
  view: View,
  id: number,
  why: "search" | "quote",
): void {
  view.seek = { id, loaded: 0, for: why };
  renderTop();
  // A page on its way is answered first; the seek goes on from there.
  if (!view.conversation.loadingOlder) askSeekPage(view);
}

function askSeekPage(view: View): void {
  const c = view.conversation;
  const seek = view.seek;
  if (!seek || phase !== "member") return;
  c.loadingOlder = true;
  view.asked = "seek";
  const frame: SendFrame = {
    type: "history",
    room: c.name,
    after: seek.id - 1,
    limit: SEEK_PAGE,
  };
  if (c.oldestId !== undefined) frame.before = c.oldestId;
  send(frame);
}

function continueSeek(view: View, more: boolean): void {
  const seek = view.seek!;
  if (revealMessage(view, seek.id)) {
    view.seek = undefined;
    return renderTop();
  }
  if (more && seek.loaded < SEEK_LIMIT) return askSeekPage(view);
  view.seek = undefined;
  renderTop();
  showError(
    seek.loaded >= SEEK_LIMIT
      ? `that message is more than ${SEEK_LIMIT} messages back${
        seek.for === "search" ? "; its text is in the search results" : ""
      }`
      : "that message is no longer kept (recalled or removed)",
  );
}

/**
 * Shows message `id` of `view`, scrolled to the middle and highlighted for
 * a moment; false when it is not among the lines shown.
 */
function revealMessage(view: View, id: number): boolean {
  const line = view.log.querySelector<HTMLLIElement>(
    `li[data-id="${Number(id)}"]`,
  );
  if (!line) return false;
  if (view !== current) show(view);
  for (const old of view.log.querySelectorAll(".found")) {
    old.classList.remove("found");
  }
  line.classList.add("found");
  line.tabIndex = -1;
  line.scrollIntoView({ block: "center" });
  line.focus({ preventScroll: true });
  stuckToBottom = atBottom();
  setTimeout(() => line.classList.remove("found"), FOUND_MS);
  return true;
}

/** A room whose lines do not fill the box cannot be scrolled: fetch more. */
function fillIfShort(): void {
  const box = ui.logBox;
  if (box.scrollHeight <= box.clientHeight + 8) requestOlder();
}

function requestOlder(): void {
  const view = current;
  const c = view?.conversation;
  if (!view || !c || c.kind !== "room" || phase !== "member") return;
  if (!c.hasOlder || c.loadingOlder || historySupported === false) return;
  if (view.seek || (view.gap && !view.gap.finished)) return;
  const before = c.oldestId;
  if (before === undefined) return;
  c.loadingOlder = true;
  view.asked = "page";
  send({ type: "history", room: c.name, before, limit: HISTORY_PAGE });
  renderTop();
}

const MESSAGE_ERRORS: ReadonlySet<ErrorCode> = new Set([
  "no_such_message",
  "rate_limited",
  "text_too_long",
  "no_such_user",
  "store_failed",
  "empty",
  "too_long",
]);

/** Codes that may answer an `upload` frame (the server's, and the hub's). */
function answersUpload(code: string): boolean {
  return code.startsWith("file") || code.startsWith("upload") ||
    UPLOAD_REFUSALS.has(code);
}

const UPLOAD_REFUSALS: ReadonlySet<string> = new Set([
  "rate_limited",
  "too_many_uploads",
  "not_in_room",
  "bad_frame",
  "unknown_type",
  "muted",
  "not_allowed",
  "banned",
  "store_failed",
  "empty",
]);

/** Codes that may answer a `search` frame. */
const SEARCH_REFUSALS: ReadonlySet<string> = new Set([
  "empty",
  "store_failed",
  "rate_limited",
  "bad_frame",
  "not_in_room",
  "unknown_type",
]);

function serverError(code: ErrorCode, message: string): void {
  if (phase !== "member") return helloRefused(code, message);
  if (
    code === "unknown_type" &&
    roomViews().some((v) => v.conversation.loadingOlder)
  ) {
    // A server without scrollback: stop asking, say where history starts.
    historySupported = false;
    for (const view of views.values()) {
      view.conversation.loadingOlder = false;
      if (view.seek) {
        view.seek = undefined;
        showError("this server cannot load older messages to show that one");
      }
    }
    renderTop();
    return;
  }
  if (code === "rate_limited") {
    for (const view of roomViews()) {
      if (view.asked === "gap") retryGapPage(view);
    }
  }
  // An upload or a search waiting for its answer: this is it.
  if (uploads.asking && answersUpload(code)) {
    // Its row, just above the field, says why in the server's words.
    if (uploads.refused(code, message) !== undefined) return;
  }
  if (searching !== undefined && SEARCH_REFUSALS.has(code)) {
    searching = undefined;
    ui.searchStatus.textContent = code === "unknown_type"
      ? "This server cannot search (it is older than search)."
      : message;
    return;
  }
  showError(message);
  // What the server refused is not lost: back in the field, if it is empty,
  // still answering what it answered (unless that is what is gone).
  if (
    MESSAGE_ERRORS.has(code) && lastSent && ui.line.value === "" &&
    Date.now() - lastSent.at < 10_000
  ) {
    setFieldText(lastSent.text);
    const answered = lastSent.reply;
    if (
      answered && code !== "no_such_message" && !answered.view.reply &&
      views.get(answered.view.conversation.key) === answered.view
    ) {
      answered.view.reply = answered.target;
      markReplied(answered.view);
      renderReplyBar();
    }
  }
  if (
    code === "room_invalid" || code === "nick_invalid" || code === "nick_taken"
  ) {
    switchTo = undefined;
  }
}

function clearSentError(): void {
  if (lastSent && Date.now() - lastSent.at < 10_000) {
    showError("");
    lastSent = undefined;
  }
}

/** The hello was refused: back to the login screen with the server's words. */
function helloRefused(code: ErrorCode, message: string): void {
  clearTimeout(helloTimer);
  if (code === "bad_password") {
    needPassword = true;
    phase = "login";
    // The server closes this connection in a second; the next hello goes
    // on a new one.
    return showLogin("password", password === undefined ? "" : message);
  }
  if (code === "account_password") {
    // A registered nickname, and no password given: ask for it. This
    // connection stays open; the next hello goes on a new one all the same.
    phase = "login";
    return showLogin("password", "", `${message}.`);
  }
  if (code === "room_invalid" && current === undefined) {
    // A stored room that is no longer valid: join the default one instead.
    saved0.rooms = [];
    saved0.current = undefined;
    try {
      localStorage.setItem(
        SAVED_KEY,
        JSON.stringify({ nick: wantedNick, rooms: [] }),
      );
    } catch {
      // Nothing stored, nothing to forget.
    }
    return sendHello();
  }
  if (code === "nick_taken" && automatic) return nickStillTaken(message);
  phase = "login";
  showLogin("nick", message);
}

/**
 * Our stored nickname is taken: another tab of this browser may be
 * chatting with it, or a reloaded page's old connection is still closing.
 */
function nickStillTaken(message: string): void {
  askOtherTabs().then((otherTab) => {
    if (otherTab) {
      phase = "login";
      showLogin("nick", `You are chatting as ${wantedNick} in another tab.`);
      ui.loginOtherTab.hidden = false;
      ui.loginTakeOver.focus();
      return;
    }
    if (takenRetries++ < TAKEN_RETRIES && socket) {
      setTimeout(() => {
        if (socket && phase === "joining") sendHello();
      }, 700);
      return;
    }
    phase = "login";
    automatic = false;
    showLogin("nick", message);
  });
}

// ---------------------------------------------------------------------------
// One tab at a time per nickname: the others step aside when asked.

const tabId = Math.random().toString(36).slice(2);
const tabs = "BroadcastChannel" in globalThis
  ? new BroadcastChannel("chat-tabs")
  : undefined;
let otherTabAnswered: (() => void) | undefined;

tabs?.addEventListener("message", (message) => {
  const data = message.data as { type: string; from: string; nick?: string };
  if (data.from === tabId) return;
  if (
    data.type === "anyone" && phase === "member" && data.nick && isMe(data.nick)
  ) {
    tabs?.postMessage({ type: "here", from: tabId });
  } else if (data.type === "here") {
    otherTabAnswered?.();
  } else if (
    data.type === "take-over" && phase === "member" && data.nick &&
    isMe(data.nick)
  ) {
    stepAside();
  }
});

function askOtherTabs(): Promise<boolean> {
  if (!tabs) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      otherTabAnswered = undefined;
      resolve(false);
    }, 400);
    otherTabAnswered = () => {
      clearTimeout(timer);
      otherTabAnswered = undefined;
      resolve(true);
    };
    tabs?.postMessage({ type: "anyone", from: tabId, nick: wantedNick });
  });
}

function stepAside(): void {
  phase = "stopped";
  socket?.close();
  socket = undefined;
  setStatus("Chatting in another tab", "offline");
  showLogin("nick", `You are now chatting as ${me} in another tab.`);
  ui.loginOtherTab.hidden = false;
}

function takeOver(): void {
  tabs?.postMessage({ type: "take-over", from: tabId, nick: wantedNick });
  ui.loginOtherTab.hidden = true;
  ui.loginError.textContent = "";
  takenRetries = 0;
  automatic = true;
  socket?.close();
  socket = undefined;
  // The other tab's connection takes a moment to close.
  setTimeout(connect, 300);
}

// ---------------------------------------------------------------------------
// Typing

function perform(
  action: ReturnType<typeof interpretLine>,
  typed: string,
): boolean {
  switch (action.kind) {
    case "error":
      showError(action.message);
      return false;
    case "help":
      for (const line of action.lines) {
        notice(line, current, undefined, "notice help");
      }
      return true;
    case "clear":
      if (current) {
        current.log.replaceChildren();
        current.conversation.clear();
        renderTop();
      }
      return true;
    case "attach":
      // Enter (or the click) that ran /send lets the page open the chooser.
      ui.fileInput.click();
      return true;
    case "get":
      return saveSharedFile(action.id);
    case "paste-file":
      shareText(action.text);
      if (action.text === refusedText) refusedText = undefined;
      return true;
    case "too-long":
      refusedText = action.text;
      showError(
        `not sent: ${action.problem}. It is still in the field: cut it down${
          current?.conversation.kind === "room"
            ? ", or send it as a text file"
            : ""
        }.`,
      );
      ui.asFile.hidden = current?.conversation.kind !== "room";
      return false;
    case "send":
      for (const frame of action.frames) {
        if (frame.type === "quit") {
          send(frame);
          phase = "stopped";
          setStatus("You left the chat", "offline");
          notice("You left the chat. Reload the page to join again.");
          return true;
        }
        if (frame.type === "join") switchTo = frame.room;
        if (frame.type === "search") {
          if (!startSearch(frame.text)) return false;
          continue;
        }
        if (phase === "member" && socket) send(frame);
        else if (!queue(frame, typed)) return false;
      }
      if (action.open) show(viewFor("dm", action.open));
      return true;
  }
}

/** Keeps a message typed while offline; false when it cannot wait. */
function queue(frame: SendFrame, typed: string): boolean {
  if (frame.type !== "say" && frame.type !== "me" && frame.type !== "dm") {
    showError("not connected: try again once back online");
    return false;
  }
  if (outbox.length >= CONNECT_DEFAULTS.maxPendingLines) {
    showError(`${outbox.length} lines already wait to be sent`);
    return false;
  }
  const view = frame.type === "dm"
    ? viewFor("dm", frame.to)
    : roomView(frame.room ?? "") ?? current;
  if (!view) return false;
  const line = noticeLine(`${typed}  (waiting to send)`, Date.now(), "pending");
  view.log.append(line);
  view.pending.add(line);
  if (view === current) scrollToBottom();
  outbox.push({ frame, key: view.conversation.key, line });
  return true;
}

function flushOutbox(): void {
  while (outbox.length > 0 && socket && phase === "member") {
    const item = outbox.shift()!;
    item.line.remove();
    views.get(item.key)?.pending.delete(item.line);
    send(item.frame);
  }
}

function submitLine(): void {
  const text = ui.line.value;
  if (text.trim() === "") return;
  const view = current;
  const action = interpretLine(text, {
    // In no room, only commands (and /join) make sense; the server says so.
    target: view ? targetOf(view) : { kind: "room", room: "" },
    lastPrivateFrom,
    multiRoom,
    role: view?.role,
    lastMessageOf: (nick) => view?.conversation.lastMessageOf(nick),
    refusedText,
  });
  const answered = view && answerWith(view, action);
  if (!perform(action, text)) return;
  showError("");
  if (action.kind === "send") {
    lastSent = {
      text,
      at: Date.now(),
      reply: answered ? { view: view!, target: answered } : undefined,
    };
  }
  if (answered) cancelReply(view);
  setFieldText("");
}

/**
 * Makes the message `action` sends answer the message picked in `view`
 * (the bar above the field), and returns what it answers. Only a plain
 * message to the room does: a command typed meanwhile leaves the reply
 * waiting for the message that follows.
 */
function answerWith(
  view: View,
  action: ReturnType<typeof interpretLine>,
): ReplyTarget | undefined {
  const reply = view.reply;
  if (!reply || action.kind !== "send" || action.frames.length !== 1) {
    return undefined;
  }
  const frame = action.frames[0];
  if (
    frame.type !== "say" || frame.reply_to !== undefined ||
    view.conversation.kind !== "room" || frame.room !== view.conversation.name
  ) {
    return undefined;
  }
  frame.reply_to = reply.id;
  return reply;
}

/** Puts `text` in the message field (and in the draft kept on reload). */
function setFieldText(text: string): void {
  ui.line.value = text;
  fieldChanged();
}

/** The field's text changed: keep the draft, and fit the field to it. */
function fieldChanged(): void {
  sessionSet(DRAFT_KEY, ui.line.value || undefined);
  fitField();
}

/**
 * The message field grows with its text, a line at a time, up to its
 * style sheet's `max-height`; beyond that it scrolls. A reader at the end
 * of the log stays there as the field grows.
 */
function fitField(): void {
  const field = ui.line;
  // Hidden (the login screen shows), it has no height to measure.
  if (field.offsetParent === null) return;
  const follow = atBottom();
  if (field.value === "") {
    // Empty, it is one line high, however long its placeholder.
    field.style.height = "";
    field.style.overflowY = "";
    if (follow) ui.logBox.scrollTop = ui.logBox.scrollHeight;
    return;
  }
  const style = getComputedStyle(field);
  const borders = parseFloat(style.borderTopWidth) +
    parseFloat(style.borderBottomWidth);
  field.style.height = "auto";
  const wanted = field.scrollHeight + borders;
  const max = parseFloat(style.maxHeight) || Infinity;
  field.style.height = `${Math.min(wanted, max)}px`;
  field.style.overflowY = wanted > max ? "auto" : "hidden";
  if (follow) ui.logBox.scrollTop = ui.logBox.scrollHeight;
}

/** Types `text` at the caret, as a key would (the browser's undo keeps it). */
function insertAtCaret(field: HTMLTextAreaElement, text: string): void {
  // execCommand is the one way to type into a field with undo; where a
  // browser has dropped it, the text goes in all the same.
  if (!document.execCommand("insertText", false, text)) {
    field.setRangeText(
      text,
      field.selectionStart,
      field.selectionEnd,
      "end",
    );
    fieldChanged();
  }
}

/** The last Tab's completion, so the next Tab offers the next name. */
let mentionCycle: MentionCycle | undefined;

/**
 * Tab after `@b` completes the name of someone in the room shown (or the
 * person of a private conversation); false when nothing matches, so Tab
 * moves the focus on as it always does.
 */
function completeInField(): boolean {
  const field = ui.line;
  const c = current?.conversation;
  if (!c || field.selectionStart !== field.selectionEnd) return false;
  const nicks = c.kind === "room" ? c.users.filter((u) => !isMe(u)) : [c.name];
  const done = completeMention(
    field.value,
    field.selectionEnd,
    nicks,
    mentionCycle,
  );
  mentionCycle = done?.cycle;
  if (!done) return false;
  field.value = done.text;
  field.setSelectionRange(done.caret, done.caret);
  fieldChanged();
  return true;
}

/** The keys of the message field (field_keys.ts says which does what). */
function wireMessageField(field: HTMLTextAreaElement): void {
  let composing = false;
  field.addEventListener("compositionstart", () => composing = true);
  field.addEventListener("compositionend", () => composing = false);
  field.addEventListener("keydown", (event) => {
    const action = fieldKeyAction(event, composing);
    switch (action) {
      case "ignore":
        return event.preventDefault();
      case "send":
        event.preventDefault();
        return submitLine();
      case "newline":
        event.preventDefault();
        return insertAtCaret(field, "\n");
      case "complete":
        if (completeInField()) event.preventDefault();
        return;
      case "cancel":
        if (!current?.reply) return;
        // Esc here cancels the reply only, not a panel or the search too.
        event.preventDefault();
        event.stopPropagation();
        return cancelReply();
      case "older":
      case "newer":
        if (pickReply(action)) event.preventDefault();
        return;
    }
  });
  field.addEventListener("input", () => {
    fieldChanged();
    if (ui.error.textContent) showError("");
  });
}

// ---------------------------------------------------------------------------
// Replies: a room message is picked with its Reply button, with Enter on it
// (the arrow keys walk the log), or with Alt-Up and Alt-Down from the field
// as in chat connect. The bar above the field says which; the next message
// sent in that room carries `reply_to`; Esc or the bar's ✕ cancels.

/** Answers the message `line` shows, in the conversation shown. */
function replyTo(line: HTMLLIElement): void {
  const view = current;
  const message = lineMessages.get(line);
  if (
    !view || view.conversation.kind !== "room" || !message ||
    !line.classList.contains("msg") || !view.log.contains(line)
  ) {
    return;
  }
  view.reply = {
    id: message.id,
    from: message.from,
    preview: previewOf(message.text),
  };
  markReplied(view);
  renderReplyBar();
}

/** Marks the line being answered, and no other. */
function markReplied(view: View): void {
  for (const old of view.log.querySelectorAll(".replied")) {
    old.classList.remove("replied");
  }
  const id = view.reply?.id;
  if (id !== undefined) {
    view.log.querySelector(`li.msg[data-id="${Number(id)}"]`)?.classList.add(
      "replied",
    );
  }
}

/** Sends the next message as a plain one again. */
function cancelReply(view = current): void {
  if (!view?.reply) return;
  view.reply = undefined;
  markReplied(view);
  if (view === current) renderReplyBar();
}

/** The bar above the field: "Replying to bob: did you push…  ✕". */
function renderReplyBar(): void {
  const reply = current?.reply;
  // The bar takes room from the log: a reader at its end stays there.
  const follow = atBottom();
  if (reply) {
    ui.replyingText.replaceChildren(
      element("span", "replying-label", "Replying to "),
      nickSpan(reply.from),
      element("span", "colon", ": "),
      reply.preview,
    );
  } else ui.replyingText.replaceChildren();
  ui.replying.hidden = reply === undefined;
  if (follow) ui.logBox.scrollTop = ui.logBox.scrollHeight;
}

/**
 * Alt-Up picks the message before the one being answered (the newest at
 * first), Alt-Down the one after it, and past the newest none: the keys
 * `chat connect` has. False when there is nothing to pick.
 */
function pickReply(direction: "older" | "newer"): boolean {
  const view = current;
  if (!view || view.conversation.kind !== "room") return false;
  const lines = [...view.log.querySelectorAll<HTMLLIElement>("li.msg")];
  const id = view.reply ? String(view.reply.id) : undefined;
  const at = id === undefined
    ? -1
    : lines.findIndex((l) => l.dataset.id === id);
  let next: HTMLLIElement | undefined;
  if (direction === "older") {
    next = at === -1 ? lines.at(-1) : lines[Math.max(0, at - 1)];
  } else if (view.reply) {
    next = at === -1 ? undefined : lines[at + 1];
    if (!next) {
      cancelReply(view);
      return true;
    }
  }
  if (!next) return false;
  replyTo(next);
  next.scrollIntoView({ block: "nearest" });
  stuckToBottom = atBottom();
  return true;
}

/** A quote was picked: its original, highlighted (loaded back to if need be). */
function showQuoted(line: HTMLLIElement): void {
  const id = Number(line.dataset.quotes);
  if (current && Number.isInteger(id)) goToMessage(current, id, "quote");
}

/** The room lines of the conversation shown that are on screen now. */
function linesInView(): HTMLLIElement[] {
  const box = ui.logBox.getBoundingClientRect();
  return [...(current?.log.querySelectorAll<HTMLLIElement>("li.msg") ?? [])]
    .filter((line) => {
      const rect = line.getBoundingClientRect();
      return rect.bottom > box.top && rect.top < box.bottom;
    });
}

/**
 * The keyboard in the log: Up and Down walk its messages (from the log
 * itself, the first key picks one on screen), Enter answers the one with
 * the focus. At either end the keys scroll as usual (up loads older ones).
 */
function onLogKey(event: KeyboardEvent): void {
  if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  const target = event.target as HTMLElement;
  const line = target.closest<HTMLLIElement>("li.msg");
  if (event.key === "Enter" && line && target === line) {
    event.preventDefault();
    replyTo(line);
    ui.line.focus();
    return;
  }
  if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
  // A link or button of a line keeps its own keys.
  if (target !== ui.logBox && target !== line) return;
  const up = event.key === "ArrowUp";
  let next: HTMLLIElement | undefined;
  if (line) {
    const lines = [...line.parentElement!.querySelectorAll<HTMLLIElement>(
      ":scope > li.msg",
    )];
    next = lines[lines.indexOf(line) + (up ? -1 : 1)];
  } else {
    const shown = linesInView();
    next = up ? shown.at(-1) : shown[0];
  }
  if (!next) return;
  event.preventDefault();
  next.focus({ preventScroll: true });
  next.scrollIntoView({ block: "nearest" });
}

/** A line's quote and Reply button are in the tab order while it has the focus. */
function setLineTabStops(line: Element, on: boolean): void {
  for (
    const control of line.querySelectorAll<HTMLButtonElement>(
      ":scope > .reply-button, :scope > .body > button.quote",
    )
  ) {
    control.tabIndex = on ? 0 : -1;
  }
}

/** Clicks in the log: a Reply button, a quote, or a tap on a line (a phone). */
function onLogClick(event: MouseEvent): void {
  const target = event.target as Element;
  const line = target.closest<HTMLLIElement>("li.msg");
  if (!line) return;
  if (target.closest(".reply-button")) {
    replyTo(line);
    ui.line.focus();
    return;
  }
  if (target.closest("button.quote")) return showQuoted(line);
  if (target.closest("a, button")) return;
  // A tap shows the line's Reply button, where there is no hover to; a
  // click that selected text is left alone.
  if (getSelection()?.isCollapsed === false) return;
  for (const old of ui.logBox.querySelectorAll(".tapped")) {
    if (old !== line) old.classList.remove("tapped");
  }
  line.classList.add("tapped");
  line.focus({ preventScroll: true });
}

function submitLogin(): void {
  const value = ui.loginField.value.trim();
  if (ui.loginField.dataset.step === "password") {
    if (value === "") return;
    password = ui.loginField.value;
    sessionSet(PASSWORD_KEY, password);
    needPassword = false;
  } else {
    if (!isValidNick(value)) {
      ui.loginError.textContent = value === ""
        ? "type a nickname first"
        : "a nickname is 1–24 letters, digits, _ or -";
      return;
    }
    wantedNick = value;
  }
  ui.loginError.textContent = "";
  ui.loginGo.disabled = true;
  ui.loginField.disabled = true;
  ui.loginHelp.textContent = `Joining as ${wantedNick}…`;
  automatic = false;
  takenRetries = 0;
  loginRetries = 0;
  if (socket && socket.readyState === WebSocket.OPEN && phase === "joining") {
    sendHello();
  } else {
    socket?.close();
    socket = undefined;
    connect();
  }
}

/**
 * Enter in a one-line field (the nickname, a room to join, the search)
 * acts, except while an input method is composing: then Enter picks a
 * candidate. `isComposing` says so in most browsers; Safari reports the
 * Enter that ends a composition after `compositionend`, as key code 229.
 * (The message field has more keys: wireMessageField, field_keys.ts.)
 */
function onEnter(field: HTMLInputElement, action: () => void): void {
  let composing = false;
  field.addEventListener("compositionstart", () => composing = true);
  field.addEventListener("compositionend", () => composing = false);
  field.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey) return;
    if (event.isComposing || event.keyCode === 229 || composing) return;
    event.preventDefault();
    action();
  });
}

// ---------------------------------------------------------------------------
// Search: the `search` frame, its answer listed newest first; a result
// opens its room at the message, loading older history to reach it.

/** The words of the search on its way, until its answer comes. */
let searching: string | undefined;

function openSearch(): void {
  ui.search.hidden = false;
  ui.searchToggle.setAttribute("aria-expanded", "true");
  closePanels();
  ui.searchField.focus();
  ui.searchField.select();
}

function closeSearch(): void {
  ui.search.hidden = true;
  ui.searchToggle.setAttribute("aria-expanded", "false");
}

/** Sends a search; false (with the reason shown) when it cannot go now. */
function startSearch(text: string): boolean {
  if (ui.search.hidden) openSearch();
  ui.searchField.value = text;
  if (text.trim() === "") {
    ui.searchStatus.textContent = "Type the words to look for.";
    return false;
  }
  if (phase !== "member" || !socket) {
    ui.searchStatus.textContent = "Not connected: search once back online.";
    return false;
  }
  searching = text;
  ui.searchStatus.textContent = `Searching for “${text.trim()}”…`;
  send({ type: "search", text });
  return true;
}

function searchAnswered(event: Extract<ServerEvent, { type: "search" }>) {
  searching = undefined;
  if (ui.search.hidden) openSearch();
  ui.searchField.value = event.text;
  const hits = newestFirst(
    (Array.isArray(event.results) ? event.results : []).flatMap((r) => {
      const hit = readHit(r);
      return hit ? [hit] : [];
    }),
  );
  const where = event.room ? ` in ${event.room}` : " in your rooms";
  ui.searchStatus.textContent = hits.length === 0
    ? `Nothing found for “${event.text}”${where}.`
    : `${
      hits.length === 1 ? "1 message" : `${hits.length} messages`
    } found for “${event.text}”${where}, newest first. Pick one to see it in its room.`;
  const words = searchWords(event.text);
  ui.searchResults.replaceChildren(
    ...hits.map((hit) => resultItem(hit, words)),
  );
}

function resultItem(hit: SearchHit, words: string[]): HTMLLIElement {
  const item = element("li");
  const button = element("button", "hit");
  button.type = "button";
  const head = element("span", "hit-head");
  const time = element("time", "time", searchTime(hit.ts));
  time.dateTime = new Date(hit.ts).toISOString();
  time.title = new Date(hit.ts).toLocaleString();
  head.append(
    element("span", "hit-room", hit.room),
    " ",
    time,
    " ",
    nickSpan(hit.from),
  );
  const text = element("span", "hit-text");
  for (const piece of markWords(hit.text, words)) {
    text.append(piece.marked ? element("mark", "", piece.text) : piece.text);
  }
  button.append(head, text);
  button.addEventListener("click", () => goToResult(hit));
  item.append(button);
  return item;
}

/** Whether the page is one column (a phone): the panel covers the log. */
function narrow(): boolean {
  return globalThis.matchMedia?.("(max-width: 48em)").matches ?? false;
}

/**
 * Opens a result's room at the message: scrolled to and highlighted when it
 * is shown; otherwise the room's history is loaded back to it.
 */
function goToResult(hit: SearchHit): void {
  const view = roomView(hit.room);
  if (!view) {
    ui.searchStatus.textContent =
      `You are no longer in ${hit.room}: /join ${hit.room} to read it there.`;
    return;
  }
  if (narrow()) closeSearch();
  if (view !== current) show(view);
  goToMessage(view, hit.id, "search");
}

/**
 * Shows message `id` of the room `view`, highlighted: at once when it is
 * shown, otherwise after loading the room's history back to it.
 */
function goToMessage(view: View, id: number, why: "search" | "quote"): void {
  showError("");
  if (revealMessage(view, id)) return;
  const c = view.conversation;
  const oldest = c.oldestId;
  if (oldest !== undefined && id > oldest) {
    return showError("that message is no longer shown (recalled or removed)");
  }
  if (!c.hasOlder || historySupported === false) {
    return showError(
      "that message is older than this server keeps, or it cannot load it",
    );
  }
  seekMessage(view, id, why);
}

// ---------------------------------------------------------------------------
// Uploads: the attach button, a pasted file or picture, or one dropped on
// the messages go up one at a time (upload_queue.ts), each shown with its
// progress beside the field until it is shared or says why not.

const uploads = new UploadQueue({
  ask(frame) {
    if (phase !== "member" || !socket) return false;
    send(frame);
    return true;
  },
  put: putFile,
}, renderUploads);

/**
 * `PUT`s a file to the URL the server gave, on this server only. An
 * XMLHttpRequest rather than `fetch`, for the same request with upload
 * progress, which `fetch` does not report.
 */
function putFile(
  url: string,
  body: Blob,
  progress: (sent: number) => void,
  signal: AbortSignal,
): Promise<PutResult> {
  const target = sameOriginUrl(url, location.href);
  if (!target) {
    return Promise.resolve({
      status: 400,
      text: "the server gave an upload address that is not its own",
    });
  }
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", target);
    request.upload.addEventListener("progress", (e) => progress(e.loaded));
    request.addEventListener(
      "load",
      () => resolve({ status: request.status, text: request.responseText }),
    );
    request.addEventListener("error", () => resolve({ status: 0, text: "" }));
    request.addEventListener("abort", () => reject(new Error("cancelled")));
    signal.addEventListener("abort", () => request.abort());
    request.send(body);
  });
}

/** The text last refused as too long: what `/paste-file` alone sends. */
let refusedText: string | undefined;

/** Text too long for a message goes up as a text file instead. */
function shareText(text: string): void {
  shareFiles([
    new File([text], pasteFileName(), { type: "text/plain;charset=utf-8" }),
  ]);
}

/**
 * `/get [ID]`: saves a shared file through the browser's own download, by
 * its id, or the newest of the conversation shown.
 */
function saveSharedFile(id: string | undefined): boolean {
  const lines = [
    ...(current?.log.querySelectorAll<HTMLLIElement>("li[data-file-id]") ??
      []),
  ];
  const line = id === undefined
    ? lines.at(-1)
    : lines.find((l) => l.dataset.fileId === id) ??
      [...views.values()].flatMap((v) => [
        ...v.log.querySelectorAll<HTMLLIElement>("li[data-file-id]"),
      ]).find((l) => l.dataset.fileId === id);
  const link = line?.querySelector<HTMLAnchorElement>("a.file-download");
  if (!link) {
    showError(
      id === undefined
        ? "no file shared here yet (or its link is not this server's)"
        : `no file ${id} is shown here`,
    );
    return false;
  }
  link.click();
  return true;
}

/** Files to share in the room shown. */
function shareFiles(files: readonly File[]): void {
  if (files.length === 0) return;
  const view = current;
  if (!view || view.conversation.kind !== "room") {
    return showError("files go to a room: open a room to share one");
  }
  if (phase !== "member" || !socket) {
    return showError("not connected: share it once back online");
  }
  showError("");
  for (const file of files) {
    // The server takes no empty file; say so here rather than ask.
    if (file.size === 0) {
      showError(`${file.name || "that file"} is empty: nothing to share`);
      continue;
    }
    uploads.add(file, view.conversation.name, mimeOf(file));
  }
}

/** Each upload's row, kept across redraws so a focused button stays. */
const uploadRows = new Map<number, {
  item: HTMLLIElement;
  bar: HTMLProgressElement;
  state: HTMLSpanElement;
  actions: HTMLSpanElement;
  phase?: string;
}>();

function renderUploads(): void {
  const items = uploads.items;
  const keys = new Set(items.map((u) => u.key));
  for (const [key, row] of uploadRows) {
    if (!keys.has(key)) {
      row.item.remove();
      uploadRows.delete(key);
    }
  }
  for (const upload of items) {
    let row = uploadRows.get(upload.key);
    if (!row) {
      const item = element("li", "upload");
      const name = element("span", "upload-name", upload.name);
      const size = element("span", "upload-size", formatBytes(upload.size));
      const bar = element("progress");
      bar.max = Math.max(1, upload.size);
      bar.setAttribute("aria-label", `${upload.name}: sent so far`);
      const state = element("span", "upload-state");
      const actions = element("span", "upload-actions");
      item.append(name, size, bar, state, actions);
      ui.uploads.append(item);
      row = { item, bar, state, actions };
      uploadRows.set(upload.key, row);
    }
    row.item.dataset.phase = upload.phase;
    row.bar.value = upload.sent;
    row.bar.hidden = upload.phase === "failed" || upload.phase === "done";
    row.state.textContent = uploadState(upload);
    if (row.phase !== upload.phase) {
      row.phase = upload.phase;
      row.actions.replaceChildren(...uploadActions(upload));
      if (upload.phase === "done") {
        // Shared: the card is in the log now; the row goes after a moment.
        setTimeout(() => uploads.dismiss(upload.key), 2500);
      }
    }
  }
  ui.uploads.hidden = items.length === 0;
}

function uploadState(upload: Upload): string {
  switch (upload.phase) {
    case "queued":
      return "waiting";
    case "asking":
      return `asking the server to share it in ${upload.room}…`;
    case "sending":
      return `sending, ${
        Math.floor(100 * upload.sent / Math.max(1, upload.size))
      } %`;
    case "done":
      return `shared in ${upload.room} ✓`;
    case "failed":
      return `not shared: ${upload.reason}`;
  }
}

function uploadActions(upload: Upload): HTMLButtonElement[] {
  const button = (text: string, label: string, action: () => void) => {
    const b = element("button", "", text);
    b.type = "button";
    b.setAttribute("aria-label", label);
    b.addEventListener("click", () => {
      action();
      ui.line.focus();
    });
    return b;
  };
  switch (upload.phase) {
    case "failed":
      return [
        ...(upload.retryable
          ? [button(
            "Retry",
            `Try ${upload.name} again`,
            () => uploads.retry(upload.key),
          )]
          : []),
        button(
          "×",
          `Dismiss ${upload.name}`,
          () => uploads.dismiss(upload.key),
        ),
      ];
    case "done":
      return [];
    default:
      return [
        button(
          "Cancel",
          `Cancel ${upload.name}`,
          () => uploads.cancel(upload.key),
        ),
      ];
  }
}

/** The files a paste or a drop carries, if any. */
function filesOf(data: DataTransfer | null): File[] {
  if (!data) return [];
  if (data.files.length > 0) return [...data.files];
  return [...data.items].flatMap((item) => {
    const file = item.kind === "file" ? item.getAsFile() : null;
    return file ? [file] : [];
  });
}

function carriesFiles(event: DragEvent): boolean {
  return event.dataTransfer?.types.includes("Files") ?? false;
}

// ---------------------------------------------------------------------------
// Wiring

wireMessageField(ui.line);
onEnter(ui.loginField, submitLogin);
onEnter(ui.joinField, joinFromSidebar);
ui.send.addEventListener("click", () => {
  submitLine();
  ui.line.focus();
});
ui.loginGo.addEventListener("click", submitLogin);
ui.loginTakeOver.addEventListener("click", takeOver);
ui.joinGo.addEventListener("click", joinFromSidebar);
ui.line.value = sessionGet(DRAFT_KEY) ?? "";
ui.replyingCancel.addEventListener("click", () => {
  cancelReply();
  ui.line.focus();
});
ui.logBox.addEventListener("keydown", onLogKey);
ui.logBox.addEventListener("click", onLogClick);
ui.logBox.addEventListener("focusin", (event) => {
  const line = (event.target as Element).closest("li.msg");
  if (line) setLineTabStops(line, true);
});
ui.logBox.addEventListener("focusout", (event) => {
  const line = (event.target as Element).closest("li.msg");
  const to = event.relatedTarget as Node | null;
  if (line && !(to && line.contains(to))) {
    setLineTabStops(line, false);
    line.classList.remove("tapped");
  }
});
globalThis.addEventListener("resize", fitField);

function joinFromSidebar(): void {
  const room = ui.joinField.value.trim().replace(/^#/, "");
  if (room === "") return;
  if (!isValidRoom(room)) {
    showError("a room name is 1–32 letters, digits, _ or -");
    return;
  }
  const existing = roomView(room);
  ui.joinField.value = "";
  if (existing) return show(existing);
  perform({ kind: "send", frames: [{ type: "join", room }] }, `/join ${room}`);
}

ui.menu.addEventListener("click", () => {
  const open = !ui.chat.classList.contains("side-open");
  closePanels();
  ui.chat.classList.toggle("side-open", open);
  ui.menu.setAttribute("aria-expanded", String(open));
  if (open) ui.side.querySelector<HTMLButtonElement>("button")?.focus();
});
ui.peopleToggle.addEventListener("click", () => {
  const open = !ui.chat.classList.contains("people-open");
  closePanels();
  ui.chat.classList.toggle("people-open", open);
  ui.peopleToggle.setAttribute("aria-expanded", String(open));
  if (open) ui.people.querySelector<HTMLButtonElement>("button")?.focus();
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || ui.viewer.open) return;
  const inSearch = ui.search.contains(document.activeElement);
  if (ui.chat.className.includes("-open")) {
    closePanels();
    ui.line.focus();
  } else if (current?.reply && !inSearch) {
    cancelReply();
    ui.line.focus();
  } else if (!ui.search.hidden) {
    closeSearch();
    ui.searchToggle.focus();
  }
});

ui.searchToggle.addEventListener("click", () => {
  if (ui.search.hidden) openSearch();
  else closeSearch();
});
ui.searchClose.addEventListener("click", () => {
  closeSearch();
  ui.searchToggle.focus();
});
onEnter(ui.searchField, () => startSearch(ui.searchField.value));
ui.searchGo.addEventListener("click", () => startSearch(ui.searchField.value));

ui.attach.addEventListener("click", () => ui.fileInput.click());
ui.asFile.addEventListener("click", () => {
  // What the field holds now: the refused text, perhaps edited since.
  const text = ui.line.value.trim() === "" ? refusedText : ui.line.value;
  if (text === undefined) return;
  shareText(text);
  refusedText = undefined;
  setFieldText("");
  showError("");
  ui.line.focus();
});
ui.fileInput.addEventListener("change", () => {
  shareFiles([...(ui.fileInput.files ?? [])]);
  // The same file may be picked again.
  ui.fileInput.value = "";
});
ui.line.addEventListener("paste", (event) => {
  const files = filesOf(event.clipboardData);
  if (files.length === 0) return;
  event.preventDefault();
  shareFiles(files);
});
let dragDepth = 0;
ui.main.addEventListener("dragenter", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  dragDepth++;
  const c = current?.conversation;
  ui.dropText.textContent = c?.kind === "room"
    ? `Drop to share in ${c.name}`
    : "Files go to a room: open one first";
  ui.drop.hidden = false;
});
ui.main.addEventListener("dragover", (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
});
ui.main.addEventListener("dragleave", () => {
  if (--dragDepth <= 0) {
    dragDepth = 0;
    ui.drop.hidden = true;
  }
});
ui.main.addEventListener("drop", (event) => {
  dragDepth = 0;
  ui.drop.hidden = true;
  const files = filesOf(event.dataTransfer);
  if (files.length === 0) return;
  event.preventDefault();
  shareFiles(files);
});
// A file dropped anywhere else is not opened in place of the chat.
for (const type of ["dragover", "drop"]) {
  document.addEventListener(type, (event) => {
    if (carriesFiles(event as DragEvent)) event.preventDefault();
  });
}

ui.viewerClose.addEventListener("click", () => ui.viewer.close());
ui.viewer.addEventListener("click", (event) => {
  // A click on the backdrop (the dialog itself, outside its content) closes it.
  if (event.target === ui.viewer) ui.viewer.close();
});
ui.viewer.addEventListener("close", () => {
  ui.viewerImage.removeAttribute("src");
  viewerOpener?.focus();
  viewerOpener = undefined;
});
ui.jump.addEventListener("click", () => {
  scrollToBottom();
  ui.line.focus();
});
ui.logBox.addEventListener("scroll", () => {
  stuckToBottom = atBottom();
  if (stuckToBottom) ui.jump.hidden = true;
  if (ui.logBox.scrollTop < 60) requestOlder();
});

if ("Notification" in globalThis && Notification.permission === "default") {
  ui.notify.hidden = false;
  ui.notify.addEventListener("click", async () => {
    const answer = await Notification.requestPermission();
    ui.notify.hidden = answer !== "default";
  });
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && current) {
    current.conversation.unread = 0;
    current.conversation.unreadMentions = 0;
    renderSidebar();
  }
  renderTitle();
});
globalThis.addEventListener("online", () => {
  if (phase === "offline") connect();
});
globalThis.addEventListener("pagehide", () => {
  // Closing at once frees the nickname for the reloaded page.
  socket?.close(1000);
});
setInterval(() => {
  checkAlive();
  if (phase === "offline" && retryTimer !== undefined) showRetry();
}, 1000);

if (wantedNick && isValidNick(wantedNick)) {
  // Back after a reload (or in a second tab): join as before, quietly.
  automatic = true;
  ui.loginHelp.textContent = `Joining as ${wantedNick}…`;
  ui.loginField.value = wantedNick;
  connect();
} else {
  showLogin("nick");
}
