/**
 * The text dialect: how events read on `nc` and `telnet`, one line each.
 *
 * @module
 */

import type {
  EventEncoder,
  Quote,
  RoomRole,
  ServerEvent,
} from "../../protocol.ts";
import { ROOM_LIMITS } from "./limits.ts";
import { textWidth } from "./text_width.ts";
import { companyOf } from "./welcome_company.ts";

/**
 * What a welcome or a page of history says when it left older messages out
 * (its count, or its 64 KiB): how to see them.
 */
export const OLDER_LEFT_OUT =
  "Older messages were left out: /history shows the ones before.";

/** `HH:MM` in the server's local time. */
export function clockTime(ts: number): string {
  const date = new Date(ts);
  return `${String(date.getHours()).padStart(2, "0")}:${
    String(date.getMinutes()).padStart(2, "0")
  }`;
}

function countSuffix(users: number | undefined): string {
  return users === undefined ? "" : ` (${users} here)`;
}

/** `12-01 21:14`: a search result may be from any day. */
export function searchTime(ts: number): string {
  const date = new Date(ts);
  return `${String(date.getMonth() + 1).padStart(2, "0")}-${
    String(date.getDate()).padStart(2, "0")
  } ${clockTime(ts)}`;
}

/** `alice`, or `alice and 41 others` for a big room's summary. */
export function whoSuffix(nick: string, others: number | undefined): string {
  if (!others) return nick;
  return `${nick} and ${others} ${others === 1 ? "other" : "others"}`;
}

/**
 * Names the others in a welcome; a big room's list is cut short. Reads only
 * the names it shows (see src/shared/welcome_company.ts).
 */
function othersList(event: ServerEvent & { type: "welcome" }): string {
  const company = companyOf(event);
  if (company.count === 0) return "";
  const shown = ROOM_LIMITS.welcomeNamesShown;
  const names = company.firstOthers(shown).map((u) => withRole(u, event.roles))
    .join(", ");
  if (company.count <= shown) return names;
  return `${names} and ${company.count - shown} others`;
}

/** A nickname with its role in the room: `alice (owner)`, `bob (admin)`, `carol`. */
export function withRole(
  nick: string,
  roles: Readonly<Record<string, RoomRole>> | undefined,
): string {
  return nickWithRole(nick, roles?.[nick]);
}

/** `alice (owner)` for `role` "owner", `carol` for none. */
export function nickWithRole(nick: string, role: RoomRole | undefined): string {
  return role ? `${nick} (${role})` : nick;
}

/**
 * The lines a `bans` event reads as, without their `* ` or styling. A ban
 * ending on another day than `now`'s names its day too (`until 12-08 15:04`).
 */
export function bansText(
  event: Extract<ServerEvent, { type: "bans" }>,
  now: number = Date.now(),
): string {
  if (event.bans.length === 0) return `No one is banned from ${event.room}.`;
  const today = new Date(now).toDateString();
  const until = (ts: number) =>
    new Date(ts).toDateString() === today ? clockTime(ts) : searchTime(ts);
  return `Banned from ${event.room} (${event.bans.length}): ${
    event.bans.map((b) =>
      `${b.nick} (by ${b.by}${
        b.until === undefined ? ", for ever" : `, until ${until(b.until)}`
      }${b.reason ? `: ${b.reason}` : ""})`
    ).join("; ")
  }`;
}

/** "bob recalled a message", or who recalled it when it was someone else. */
export function recallText(
  event: Extract<ServerEvent, { type: "recall" }>,
): string {
  return event.by === event.nick
    ? `${event.nick} recalled a message`
    : `${event.by} recalled a message of ${event.nick}`;
}

/** How the text is read. */
export interface TextView {
  /**
   * Name the room on each room message (`21:14 [class] bob: hi`): for a
   * member whose current room is another one. Join, leave and welcome lines
   * name their room anyway.
   */
  showRoom?: boolean;
}

/**
 * `head` then `text`, a multi-line text's further lines indented under its
 * first: a continuation line can never look like a message of its own.
 */
export function withContinuation(head: string, text: string): string {
  if (!text.includes("\n")) return `${head}${text}\n`;
  const indent = " ".repeat(Math.min(textWidth(head), 40));
  return `${head}${text.split("\n").join(`\n${indent}`)}\n`;
}

/** A reply's quote on one line: `↪ alice: "did you push…" `. */
/**
 * What a reply's line starts with: `↪ alice: "did you push…" `, or
 * `↪ alice: (recalled) ` once the original was recalled (not quoted, so it
 * cannot pass for words alice wrote).
 */
export function quotePrefix(quote: Quote | undefined): string {
  if (!quote) return "";
  return quote.recalled
    ? `↪ ${quote.from}: ${quote.text} `
    : `↪ ${quote.from}: "${quote.text}" `;
}

function yourRooms(rooms: readonly string[], current: string): string {
  return rooms.map((r) => r === current ? `${r} (current)` : r).join(", ");
}

/** What a page of `who` leaves out: ` and 4,800 more (/who 200 for the next)`. */
export function whoRest(
  event: Extract<ServerEvent, { type: "who" }>,
): string {
  if (event.next === undefined) return "";
  const left = event.total - event.next;
  return ` and ${
    left.toLocaleString("en-US")
  } more (/who ${event.next} for the next)`;
}

/**
 * Renders an event as the text dialect shows it: one or more complete lines,
 * each ending in `\n`. Text in events is already sanitised by the hub.
 *
 * @example
 * ```ts
 * renderText({ type: "pong" }); // → "* pong\n"
 * renderText(
 *   { type: "msg", id: 7, ts: 0, room: "class", from: "bob", text: "hi" },
 *   { showRoom: true },
 * ); // → "21:14 [class] bob: hi\n" (HH:MM in local time)
 * ```
 */
export function renderText(event: ServerEvent, view: TextView = {}): string {
  switch (event.type) {
    case "msg": {
      const tag = view.showRoom ? `[${event.room}] ` : "";
      return event.me
        ? withContinuation(
          `${clockTime(event.ts)} ${tag}* ${event.from} `,
          event.text,
        )
        : withContinuation(
          `${clockTime(event.ts)} ${tag}${event.from}: `,
          quotePrefix(event.quote) + event.text,
        );
    }
    case "dm":
      return withContinuation(
        `${clockTime(event.ts)} [private] ${event.from} -> ${event.to}: `,
        event.text,
      );
    case "join":
      return `${clockTime(event.ts)} * ${
        whoSuffix(nickWithRole(event.nick, event.role), event.others)
      } joined ${event.room}${countSuffix(event.users)}\n`;
    case "leave":
      return `${clockTime(event.ts)} * ${
        whoSuffix(event.nick, event.others)
      } left ${event.room}${event.reason ? ` (${event.reason})` : ""}${
        countSuffix(event.users)
      }\n`;
    case "nick":
      return `${clockTime(event.ts)} * ${event.old} is now ${event.new}\n`;
    case "welcome": {
      const others = othersList(event);
      const company = others ? ` with ${others}.` : ", alone for now.";
      // A welcome into a further room says so, and that the others are kept.
      let text = (event.rooms?.length ?? 1) > 1
        ? `* Now in ${event.room}${company} Your rooms: ${
          yourRooms(event.rooms!, event.room)
        }; /part leaves one.\n`
        : `* Welcome, ${event.nick}! You are in ${event.room}${company}` +
          " Type /help for commands.\n";
      if (event.role) {
        text += `* You are ${
          event.role === "owner" ? "the owner" : "an admin"
        } of ${event.room}: /help lists what you may do.\n`;
      }
      if (event.notice) {
        text += `* Notice (by ${event.notice.by}): ${event.notice.text}\n`;
      }
      if (event.mutedAll) {
        text +=
          `* Everyone is muted in ${event.room}: only its owner and admins may speak.\n`;
      }
      if (event.history.length > 0) {
        text += `* Recent messages:\n`;
        for (const message of event.history) text += renderText(message);
      }
      if (event.more && event.history.length > 0) {
        text += `* ${OLDER_LEFT_OUT}\n`;
      }
      return text;
    }
    case "part":
      return event.current === undefined
        ? `* You left ${event.room}. You are in no room now: /join ROOM to talk again.\n`
        : `* You left ${event.room}. Your rooms: ${
          yourRooms(event.rooms, event.current)
        }.\n`;
    case "who":
      return `* In ${event.room} (${event.total}): ${
        event.users.map((u) => withRole(u, event.roles)).join(", ")
      }${whoRest(event)}\n`;
    case "history": {
      if (event.messages.length === 0) {
        return `* No earlier messages in ${event.room}.\n`;
      }
      let text = `* Earlier messages in ${event.room}:\n`;
      for (const message of event.messages) text += renderText(message);
      if (event.more) text += `* ${OLDER_LEFT_OUT}\n`;
      return text;
    }
    case "mod":
      return `${clockTime(event.ts)} * ${event.text}\n`;
    case "bans":
      return `* ${bansText(event)}\n`;
    case "info":
      return `* ${event.text}\n`;
    case "notice":
      return event.text === ""
        ? `* ${event.by} cleared the notice of ${event.room}.\n`
        : `* Notice of ${event.room} (by ${event.by}): ${event.text}\n`;
    case "recall":
      return `${clockTime(event.ts)} * ${recallText(event)}\n`;
    case "rooms": {
      const joined = new Set(event.joined);
      const mark = (name: string) =>
        name === event.current
          ? ", current"
          : joined.has(name)
          ? ", joined"
          : "";
      return `* Rooms: ${
        event.rooms.map((r) => `${r.name} (${r.users}${mark(r.name)})`).join(
          ", ",
        )
      }\n`;
    }
    case "upload_ready":
      return `* Send the bytes of ${event.name}: PUT ${event.url} within ${event.expires_in} s\n`;
    case "search": {
      const where = event.room ? ` in ${event.room}` : "";
      if (event.results.length === 0) {
        return `* Search "${event.text}"${where}: nothing found.\n`;
      }
      let text =
        `* Search "${event.text}"${where}: ${event.results.length} found, newest first:\n`;
      for (const hit of event.results) {
        text += withContinuation(
          `  ${searchTime(hit.ts)} [${hit.room}] ${hit.from}: `,
          hit.text,
        );
      }
      return text;
    }
    case "error":
      return `! ${event.message}\n`;
    case "pong":
      return "* pong\n";
    case "away":
      // IRC clients ask for it (away-notify); a room on nc is not told.
      return "";
    case "bye":
      return `* Bye: ${event.reason}\n`;
  }
}

/** The text dialect as an encoder: how events read on `nc` and telnet. */
export const TEXT_LINES: EventEncoder = { id: "text", render: renderText };

/**
 * The text dialect for room messages of a room other than the reader's
 * current one: the same lines, each message naming its room.
 */
export const TEXT_LINES_OTHER_ROOM: EventEncoder = {
  id: "text+room",
  render: (event) => renderText(event, { showRoom: true }),
};
