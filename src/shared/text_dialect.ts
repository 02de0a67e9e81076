/**
 * The text dialect: how events read on `nc` and `telnet`, one line each.
 *
 * @module
 */

import type { EventEncoder, ServerEvent } from "../../protocol.ts";
import { ROOM_LIMITS } from "./limits.ts";

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

/** `alice`, or `alice and 41 others` for a big room's summary. */
export function whoSuffix(nick: string, others: number | undefined): string {
  if (!others) return nick;
  return `${nick} and ${others} ${others === 1 ? "other" : "others"}`;
}

/** Names the others in a welcome; a big room's list is cut short. */
function othersList(others: string[]): string {
  const shown = ROOM_LIMITS.welcomeNamesShown;
  if (others.length <= shown) return others.join(", ");
  return `${others.slice(0, shown).join(", ")} and ${
    others.length - shown
  } others`;
}

/**
 * Renders an event as the text dialect shows it: one or more complete lines,
 * each ending in `\n`. Text in events is already sanitised by the hub.
 *
 * @example
 * ```ts
 * renderText({ type: "pong" }); // → "* pong\n"
 * ```
 */
export function renderText(event: ServerEvent): string {
  switch (event.type) {
    case "msg":
      return event.me
        ? `${clockTime(event.ts)} * ${event.from} ${event.text}\n`
        : `${clockTime(event.ts)} ${event.from}: ${event.text}\n`;
    case "dm":
      return `${
        clockTime(event.ts)
      } [private] ${event.from} -> ${event.to}: ${event.text}\n`;
    case "join":
      return `${clockTime(event.ts)} * ${
        whoSuffix(event.nick, event.others)
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
      const others = event.users.filter((u) => u !== event.nick);
      let text = `* Welcome, ${event.nick}! You are in ${event.room}` +
        (others.length > 0
          ? ` with ${othersList(others)}.`
          : ", alone for now.") +
        " Type /help for commands.\n";
      if (event.history.length > 0) {
        text += `* Recent messages:\n`;
        for (const message of event.history) text += renderText(message);
      }
      return text;
    }
    case "who":
      return `* In ${event.room} (${event.users.length}): ${
        event.users.join(", ")
      }\n`;
    case "rooms":
      return `* Rooms: ${
        event.rooms.map((r) => `${r.name} (${r.users})`).join(", ")
      }\n`;
    case "error":
      return `! ${event.message}\n`;
    case "pong":
      return "* pong\n";
    case "bye":
      return `* Bye: ${event.reason}\n`;
  }
}

/** The text dialect as an encoder: how events read on `nc` and telnet. */
export const TEXT_LINES: EventEncoder = { id: "text", render: renderText };
