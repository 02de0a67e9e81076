/**
 * What the terminal client shows for each event: styled lines, built once and
 * laid out by the screen. Pure.
 *
 * Every piece of text from the server passes through {@linkcode safeText}, so
 * no byte from another user reaches the terminal as a control sequence; the
 * only escapes on screen are the ones the screen itself writes.
 *
 * @module
 */

import type { Quote, RoomMessage, ServerEvent } from "../../protocol.ts";
import { cleanText, nickKey } from "../shared/sanitize.ts";
import {
  bansText,
  clockTime,
  nickWithRole,
  recallText,
  searchTime,
  whoRest,
  whoSuffix,
  withRole,
} from "../shared/text_dialect.ts";
import { mentionPattern, mentions } from "../shared/mentions.ts";
import { nickColour } from "../shared/nick_colour.ts";
import { textWidth } from "../shared/text_width.ts";

/** How a span looks. Colours are SGR foreground codes (31–37, 91–96). */
export interface Style {
  colour?: number;
  bold?: boolean;
  dim?: boolean;
  underline?: boolean;
  reverse?: boolean;
}

/** A run of text in one style. */
export interface Span {
  text: string;
  style?: Style;
}

/** One logical line of the conversation; the screen wraps it. */
export interface Line {
  spans: Span[];
  /** Columns wrapped rows are indented by, so text lines up after `HH:MM `. */
  indent: number;
  /**
   * The room message this line shows part of (its first line, its quote,
   * its further lines), so the screen can mark it for a reply and a recall
   * can take it off.
   */
  message?: { id: number; ts: number };
  /** The message a reply's quote line quotes, so a recall can show it recalled. */
  quotes?: { id: number; from: string };
}

/** Lines for an event, and whether it should ring the bell. */
export interface Rendered {
  lines: Line[];
  bell: boolean;
}

/** Who is looking: the renderer marks their lines and mentions. */
export interface Viewer {
  /** The viewer's nickname. */
  me: string;
  /** The viewer's current room: messages of any other room are tagged `[room]`. */
  room?: string;
}

const TIME_INDENT = 6; // "HH:MM "
const NOTICE_INDENT = 3; // "-- "

const DIM: Style = { dim: true };
const ERROR: Style = { colour: 31, bold: true };
const PRIVATE: Style = { colour: 35, bold: true };
const MENTION: Style = { colour: 33, bold: true, reverse: true };
const ROOM_TAG: Style = { bold: true };

/**
 * Strips everything a terminal could read as a command: C0 and C1 controls
 * (ESC, CSI, BEL, backspace, newlines), DEL and bidi overrides. Tabs become
 * spaces.
 *
 * @example
 * ```ts
 * safeText("hi\x1b]0;pwned\x07"); // → "hi]0;pwned"
 * ```
 */
export function safeText(text: string): string {
  return cleanText(text);
}

/** The colour of a nickname (src/shared/nick_colour.ts, shared with the web page). */
export { nickColour };

function nickSpan(nick: string, extra: Style = {}): Span {
  return {
    text: safeText(nick),
    style: { colour: nickColour(nick), ...extra },
  };
}

function timeSpan(ts: number): Span {
  return { text: clockTime(ts) + " ", style: DIM };
}

/** True when `text` names `me` (src/shared/mentions.ts, shared with the web page). */
export { mentions };

/** The text as spans, each mention of `me` highlighted. */
function textSpans(rawText: string, me: string, highlight: boolean): Span[] {
  const text = safeText(rawText);
  const pattern = highlight ? mentionPattern(me) : undefined;
  if (!pattern) return [{ text }];
  const spans: Span[] = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) spans.push({ text: text.slice(last, match.index) });
    spans.push({ text: match[0], style: MENTION });
    last = match.index + match[0].length;
  }
  if (last < text.length) spans.push({ text: text.slice(last) });
  return spans;
}

function isMe(nick: string, viewer: Viewer): boolean {
  return nickKey(nick) === nickKey(viewer.me);
}

/**
 * A room message: `HH:MM bob: text`; the viewer's own as `HH:MM alice> text`
 * (the prompt they typed it at); `/me` as `HH:MM * bob waves`. A mention of
 * the viewer by someone else is highlighted and rings the bell. A message
 * of a room other than the viewer's current one reads `HH:MM [class] bob:
 * text`.
 */
export function renderMessage(message: RoomMessage, viewer: Viewer): Rendered {
  const own = isMe(message.from, viewer);
  const named = !own && (message.all === true ||
    message.mentions?.some((nick) => isMe(nick, viewer)) === true);
  const bell = named || (!own && mentions(message.text, viewer.me));
  const [first, ...more] = message.text.split("\n");
  const text = textSpans(first, viewer.me, !own);
  const spans: Span[] = [timeSpan(message.ts)];
  const elsewhere = viewer.room !== undefined && message.room !== viewer.room;
  if (elsewhere) {
    spans.push({ text: `[${safeText(message.room)}] `, style: ROOM_TAG });
  }
  if (message.me) {
    spans.push({ text: "* " }, nickSpan(message.from, { bold: own }));
    spans.push({ text: " " }, ...text);
  } else if (own) {
    spans.push(nickSpan(message.from, { bold: true }), { text: "> " }, ...text);
  } else {
    spans.push(nickSpan(message.from), { text: ": " }, ...text);
  }
  const lines: Line[] = [];
  // A mention from another room would scroll by unseen: say where it is.
  if (named && elsewhere) {
    lines.push(noticeLine(
      `${message.from} ${
        message.all ? "called everyone" : "mentioned you"
      } in ${message.room} (/join ${message.room} to go there)`,
      MENTION,
    ));
  }
  if (message.quote) {
    lines.push(quoteLine(message.quote));
  }
  const head = spans.slice(0, spans.length - text.length);
  const indent = Math.min(
    head.reduce((width, span) => width + textWidth(span.text), 0),
    40,
  );
  lines.push({ spans, indent: TIME_INDENT });
  // Continuation lines of a multi-line message, under the first line's text.
  for (const line of more) {
    lines.push({
      spans: [
        { text: " ".repeat(indent) },
        ...textSpans(line, viewer.me, !own),
      ],
      indent,
    });
  }
  const tag = { id: message.id, ts: message.ts };
  return { lines: lines.map((line) => ({ ...line, message: tag })), bell };
}

/** A reply's quote, on a line above it: `↪ bob: did you push…`. */
function quoteLine(quote: Quote): Line {
  return {
    spans: [{
      text: " ".repeat(TIME_INDENT) + `↪ ${safeText(quote.from)}: ` +
        (quote.recalled ? "(recalled)" : safeText(quote.text)),
      style: DIM,
    }],
    indent: TIME_INDENT + 2,
    quotes: { id: quote.id, from: quote.from },
  };
}

/**
 * The conversation once a message was recalled: the lines that showed it
 * become one dimmed `HH:MM -- (bob recalled a message)`, and the quotes of
 * replies to it read `↪ bob: (recalled)`. `undefined` when no line shows or
 * quotes it (it scrolled out of what the screen keeps, or never came).
 */
export function withRecall(
  lines: readonly Line[],
  event: Extract<ServerEvent, { type: "recall" }>,
): Line[] | undefined {
  let changed = false;
  let replacedLast = false; // A message's lines are together: one stands for all.
  const out: Line[] = [];
  for (const line of lines) {
    const recalled = line.message?.id === event.id;
    if (recalled && !replacedLast) {
      out.push(dimmedEvent(line.message!.ts, `(${recallText(event)})`));
    } else if (line.quotes?.id === event.id) {
      const { from } = line.quotes;
      out.push({
        ...quoteLine({ id: event.id, from, text: "", recalled: true }),
        message: line.message,
      });
    } else if (!recalled) {
      out.push(line);
    }
    replacedLast = recalled;
    changed ||= recalled || line.quotes?.id === event.id;
  }
  return changed ? out : undefined;
}

/**
 * The line above the input while a reply is being written to a message
 * picked with Alt-Up: what it answers, and how to change or cancel it.
 */
export function replyBarLine(target: { from: string; preview: string }): Line {
  return {
    spans: [
      { text: "↪ replying to ", style: DIM },
      nickSpan(target.from, { bold: true }),
      { text: `: ${safeText(target.preview)}` },
      {
        text: "  (Enter sends, Esc cancels, Alt-Up/Down picks another)",
        style: DIM,
      },
    ],
    indent: 0,
  };
}

/** Search results: one line each, with date, time, room and sender. */
function renderSearch(
  event: Extract<ServerEvent, { type: "search" }>,
): Line[] {
  const where = event.room ? ` in ${event.room}` : "";
  if (event.results.length === 0) {
    return [noticeLine(`Search "${event.text}"${where}: nothing found.`)];
  }
  const lines = [noticeLine(
    `Search "${event.text}"${where}: ${event.results.length} found, newest first:`,
  )];
  for (const hit of event.results) {
    const head = `   ${searchTime(hit.ts)} [${safeText(hit.room)}] `;
    lines.push({
      spans: [
        { text: head, style: DIM },
        nickSpan(hit.from),
        { text: ": " + safeText(hit.text.replaceAll("\n", " ⏎ ")) },
      ],
      indent: textWidth(head),
    });
  }
  return lines;
}

/** A line of the client's own: `-- text`. */
export function noticeLine(text: string, style?: Style): Line {
  return {
    spans: [{ text: "-- " + safeText(text), style }],
    indent: NOTICE_INDENT,
  };
}

/** An error: `! text`, in red where colour is on. */
export function errorLine(text: string): Line {
  return { spans: [{ text: "! " + safeText(text), style: ERROR }], indent: 2 };
}

/** A line typed while offline, shown dimmed until it can be sent. */
export function pendingLine(text: string, viewer: Viewer, ts: number): Line {
  return {
    spans: [
      timeSpan(ts),
      {
        text: `${safeText(viewer.me)}> ${
          safeText(text.replaceAll("\n", " ↵ "))
        }`,
        style: DIM,
      },
      { text: "  (waiting to send)", style: { dim: true, bold: true } },
    ],
    indent: TIME_INDENT,
  };
}

function dimmedEvent(ts: number, text: string): Line {
  return {
    spans: [timeSpan(ts), { text: "-- " + safeText(text), style: DIM }],
    indent: TIME_INDENT,
  };
}

function countSuffix(users: number | undefined): string {
  return users === undefined ? "" : ` (${users} here)`;
}

function listNicks(nicks: readonly string[]): string {
  return nicks.map(safeText).join(", ");
}

/** `lobby (current), class`: a member's rooms, the current one marked. */
function listRooms(rooms: readonly string[], current: string | undefined) {
  return rooms.map((r) => safeText(r) + (r === current ? " (current)" : ""))
    .join(", ");
}

/**
 * Renders any event but `welcome` (see {@linkcode renderWelcome}) and `pong`
 * (nothing to show).
 */
export function renderEvent(event: ServerEvent, viewer: Viewer): Rendered {
  const quiet = (lines: Line[]): Rendered => ({ lines, bell: false });
  switch (event.type) {
    case "msg":
      return renderMessage(event, viewer);
    case "dm": {
      const outgoing = isMe(event.from, viewer);
      const other = outgoing ? event.to : event.from;
      const [first, ...more] = event.text.split("\n");
      const spans: Span[] = [
        timeSpan(event.ts),
        { text: outgoing ? "[private to " : "[private from ", style: PRIVATE },
        nickSpan(other, { bold: true }),
        { text: "] ", style: PRIVATE },
        ...textSpans(first, viewer.me, false),
      ];
      const lines: Line[] = [{ spans, indent: TIME_INDENT }];
      for (const line of more) {
        lines.push({
          spans: [{ text: " ".repeat(TIME_INDENT + 2) }, {
            text: safeText(line),
          }],
          indent: TIME_INDENT + 2,
        });
      }
      return { lines, bell: !outgoing };
    }
    case "join":
      return quiet([dimmedEvent(
        event.ts,
        `${
          whoSuffix(nickWithRole(event.nick, event.role), event.others)
        } joined ${event.room}${countSuffix(event.users)}`,
      )]);
    case "leave":
      return quiet([dimmedEvent(
        event.ts,
        `${whoSuffix(event.nick, event.others)} left ${event.room}${
          event.reason ? ` (${event.reason})` : ""
        }${countSuffix(event.users)}`,
      )]);
    case "nick":
      return quiet([dimmedEvent(
        event.ts,
        isMe(event.new, viewer)
          ? `you are now ${event.new}`
          : `${event.old} is now ${event.new}`,
      )]);
    case "who":
      return quiet([noticeLine(
        `In ${event.room} (${event.total ?? event.users.length}): ${
          listNicks(event.users.map((u) => withRole(u, event.roles)))
        }${whoRest(event)}`,
      )]);
    case "history": {
      const lines = [noticeLine(`Earlier messages in ${event.room}:`, DIM)];
      for (const message of event.messages) {
        lines.push(...renderMessage(message, viewer).lines);
      }
      return quiet(lines);
    }
    case "mod":
      // Bold: the room's owner or an admin acted, and everyone should see it.
      return quiet([noticeLine(`${clockTime(event.ts)} ${event.text}`, {
        bold: true,
      })]);
    case "bans":
      return quiet([noticeLine(bansText(event))]);
    case "info":
      return quiet([noticeLine(event.text)]);
    case "notice":
      return quiet([noticeLine(
        event.text === ""
          ? `${event.by} cleared the notice of ${event.room}`
          : `Notice of ${event.room} (by ${event.by}): ${event.text}`,
        { bold: true },
      )]);
    case "recall":
      return quiet([dimmedEvent(event.ts, recallText(event))]);
    case "part":
      return quiet([noticeLine(
        event.rooms.length === 0
          ? `You left ${event.room}. You are in no room now: /join ROOM to talk again.`
          : `You left ${event.room}. Your rooms: ${
            listRooms(event.rooms, viewer.room ?? event.current)
          }.`,
      )]);
    case "rooms": {
      // The client may have switched rooms on its own: its current room is
      // the one to mark, not the server's idea of it.
      const current = viewer.room ?? event.current;
      const joined = new Set(event.joined);
      const mark = (name: string) =>
        name === current ? ", current" : joined.has(name) ? ", joined" : "";
      return quiet([noticeLine(
        `Rooms: ${
          event.rooms.map((r) =>
            `${safeText(r.name)} (${r.users}${mark(r.name)})`
          )
            .join(", ")
        }`,
      )]);
    }
    case "search":
      return quiet(renderSearch(event));
    case "error":
      return quiet([errorLine(event.message)]);
    case "bye":
      return quiet([noticeLine(`the server said goodbye: ${event.reason}`)]);
    case "welcome":
      return renderWelcome(event, "first", event.history);
    case "pong":
    case "upload_ready":
      // Handled by the client's /send, which waits for it.
    case "away":
      // Away marks are for IRC clients that ask for them.
      return quiet([]);
  }
}

/** Why a welcome arrived: first join, back after a drop, or `/join`. */
export type WelcomeKind = "first" | "resumed" | "room";

/**
 * The lines for a `welcome`. `history` is what is left to show after the
 * caller dropped messages already on screen. `current` is the viewer's
 * current room once the welcome is read (a resumed room other than it keeps
 * its messages tagged with their room).
 */
export function renderWelcome(
  event: Extract<ServerEvent, { type: "welcome" }>,
  kind: WelcomeKind,
  history: readonly RoomMessage[],
  current: string = event.room,
): Rendered {
  const viewer = { me: event.nick, room: current };
  const others = event.users.filter((u) => !isMe(u, viewer)).map((u) =>
    withRole(u, event.roles)
  );
  const company = others.length > 0
    ? `with ${listNicks(others)}`
    : "alone for now";
  const lines: Line[] = [];
  // What introduces the history comes after the room's own lines (your
  // role, its notice), right above the messages it introduces.
  let heading: Line | undefined;
  if (kind === "first") {
    lines.push(
      noticeLine(
        `Welcome, ${event.nick}! You are in ${event.room}, ${company}.`,
        { bold: true },
      ),
      noticeLine("Type /help for commands. Tab completes nicknames."),
    );
    if (history.length > 0) heading = noticeLine("Recent messages:", DIM);
  } else if (kind === "resumed") {
    lines.push(
      noticeLine(
        `Reconnected: back in ${event.room} as ${event.nick}, ${company}.`,
        { bold: true },
      ),
    );
    const count = `${history.length} message${history.length === 1 ? "" : "s"}`;
    // A welcome's history is bounded: after a long absence the server sends
    // the newest messages and says there were more.
    if (event.more) {
      heading = noticeLine(
        `the last ${count} while you were away (earlier ones are not shown):`,
      );
    } else if (history.length > 0) {
      heading = noticeLine(`${count} while you were away:`);
    }
  } else {
    lines.push(noticeLine(`You are in ${event.room}, ${company}.`, {
      bold: true,
    }));
    const others = (event.rooms ?? []).filter((r) => r !== event.room);
    if (others.length > 0) {
      lines.push(noticeLine(
        `Also in ${
          listRooms(others, undefined)
        }: /join ROOM or Alt-1..9 switches, /part leaves.`,
      ));
    }
  }
  if (event.role) {
    lines.push(noticeLine(
      `You are ${
        event.role === "owner" ? "the owner" : "an admin"
      } of ${event.room}: /help lists what you may do.`,
    ));
  }
  if (event.notice) {
    lines.push(noticeLine(
      `Notice (by ${event.notice.by}): ${event.notice.text}`,
      { bold: true },
    ));
  }
  if (event.mutedAll) {
    lines.push(noticeLine(
      `Everyone is muted in ${event.room}: only its owner and admins may speak.`,
    ));
  }
  if (heading) lines.push(heading);
  let bell = false;
  for (const message of history) {
    const rendered = renderMessage(message, viewer);
    lines.push(...rendered.lines);
    // Missed mentions ring once; old history never does.
    if (kind === "resumed") bell ||= rendered.bell;
  }
  return { lines, bell };
}

/** What a switch to another room the viewer is in shows. */
export function renderSwitch(
  room: string,
  users: readonly string[],
  me: string,
): Line[] {
  const others = users.filter((u) => !isMe(u, { me }));
  return [noticeLine(
    `Now in ${room}, ${
      others.length > 0 ? `with ${listNicks(others)}` : "alone for now"
    }.`,
    { bold: true },
  )];
}

/** A line as plain text, no styling (for terminals without escapes). */
export function plainText(line: Line): string {
  return line.spans.map((span) => safeText(span.text)).join("");
}
