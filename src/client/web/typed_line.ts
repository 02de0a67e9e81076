/**
 * What a line typed into the web page's message field does: the same slash
 * commands as the text dialect and `chat connect` (one table,
 * src/shared/commands.ts), turned into JSON frames, plus what only a page
 * can do (`/clear`, `/r`, `/part` naming the room shown). Pure.
 *
 * @module
 */

import type { CommandFrame } from "../../../protocol.ts";
import { COMMANDS, parseTypedLine } from "../../shared/commands.ts";

/** Where the message field sends plain text. */
export type Target =
  | { kind: "room"; room: string }
  | { kind: "dm"; nick: string };

/** What the page knows that a typed line may depend on. */
export interface LineContext {
  /** The conversation shown. */
  target: Target;
  /** Who sent the last private message, for `/r`. */
  lastPrivateFrom?: string;
  /** The server keeps members in several rooms at once (0.2 and later). */
  multiRoom: boolean;
}

/** What to do with a typed line. */
export type LineAction =
  /** Send these frames; `open` names a private conversation to show. */
  | { kind: "send"; frames: SendFrame[]; open?: string }
  /** Show these lines of help. */
  | { kind: "help"; lines: string[] }
  /** Clear the conversation shown. */
  | { kind: "clear" }
  /** Refuse, with this wording next to the field. */
  | { kind: "error"; message: string };

/**
 * A frame the page sends: the protocol's frames, which name their room (the
 * page shows one room while the server may keep another current), the
 * scrollback request (`history`) among them.
 */
export type SendFrame = CommandFrame;

/** The `/help` lines: every shared command, then `//text`. */
export function pageHelp(): string[] {
  const lines = COMMANDS.map((c) => {
    const usage = c.args ? `${c.name} ${c.args}` : c.name;
    const aliases = c.aliases ? ` (also ${c.aliases.join(", ")})` : "";
    return `${usage}: ${c.help}${aliases}`;
  });
  lines.push("//text: Send a line that starts with /.");
  return lines;
}

/**
 * Reads a typed line.
 *
 * @example
 * ```ts
 * interpretLine("/me waves", { target: { kind: "room", room: "lobby" }, multiRoom: false });
 * // → { kind: "send", frames: [{ type: "me", text: "waves", room: "lobby" }] }
 * ```
 */
export function interpretLine(line: string, context: LineContext): LineAction {
  const target = context.target;
  if (line.trim() === "") return { kind: "error", message: "" };
  const typed = parseTypedLine(line);
  if (typed.kind === "say") return plainText(typed.text, target);
  if (typed.kind === "unknown") {
    return {
      kind: "error",
      message: `unknown command ${typed.name.slice(0, 40)} (try /help)`,
    };
  }
  const { command, args } = typed;
  switch (command.name) {
    case "/help":
      return { kind: "help", lines: pageHelp() };
    case "/clear":
      return { kind: "clear" };
    case "/r": {
      if (!context.lastPrivateFrom) {
        return { kind: "error", message: "no private message to reply to" };
      }
      if (args === "") return { kind: "error", message: "usage: /r TEXT" };
      return {
        kind: "send",
        frames: [{ type: "dm", to: context.lastPrivateFrom, text: args }],
        open: context.lastPrivateFrom,
      };
    }
  }
  if (command.name === "/part") return part(args, context);
  const frame = command.toFrame?.(args);
  if (frame === undefined) {
    return { kind: "error", message: `${command.name} is not available here` };
  }
  if (typeof frame === "string") return { kind: "error", message: frame };
  switch (frame.type) {
    case "me":
      if (target.kind !== "room") {
        return { kind: "error", message: "/me works in a room" };
      }
      return target.room === ""
        ? { kind: "send", frames: [frame] }
        : { kind: "send", frames: [{ ...frame, room: target.room }] };
    case "who":
      return target.kind === "room" && target.room !== ""
        ? { kind: "send", frames: [{ ...frame, room: target.room }] }
        : { kind: "send", frames: [frame] };
    case "dm":
      return { kind: "send", frames: [frame], open: frame.to };
    default:
      return { kind: "send", frames: [frame] };
  }
}

function plainText(text: string, target: Target): LineAction {
  if (target.kind === "dm") {
    return {
      kind: "send",
      frames: [{ type: "dm", to: target.nick, text }],
    };
  }
  return {
    kind: "send",
    frames: [
      target.room === ""
        ? { type: "say", text }
        : { type: "say", text, room: target.room },
    ],
  };
}

function part(room: string, context: LineContext): LineAction {
  const named = room ||
    (context.target.kind === "room" ? context.target.room : "");
  if (named === "") return { kind: "error", message: "usage: /part ROOM" };
  if (!context.multiRoom) {
    return {
      kind: "error",
      message:
        "this server keeps you in one room at a time: /join another room",
    };
  }
  return { kind: "send", frames: [{ type: "part", room: named }] };
}
