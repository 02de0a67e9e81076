/**
 * What a line typed into the web page's message field does: the same slash
 * commands as the text dialect and `chat connect` (one table,
 * src/shared/commands.ts), turned into JSON frames, plus what only a page
 * can do (`/clear`, `/r`, `/part` naming the room shown). Pure.
 *
 * @module
 */

import type { CommandFrame, RoomRole } from "../../../protocol.ts";
import {
  type Command,
  COMMANDS,
  mayUse,
  parseTypedLine,
} from "../../shared/commands.ts";
import { PROTOCOL_LIMITS } from "../../shared/limits.ts";
import { characterCount, lineCount } from "../../shared/sanitize.ts";

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
  /** Your role in the room shown, if you are its owner or an admin. */
  role?: RoomRole;
  /** The id of `nick`'s last message in the room shown, for `/reply`. */
  lastMessageOf?: (nick: string) => number | undefined;
  /** The text last refused as too long, for `/paste-file` alone. */
  refusedText?: string;
}

/** What to do with a typed line. */
export type LineAction =
  /** Send these frames; `open` names a private conversation to show. */
  | { kind: "send"; frames: SendFrame[]; open?: string }
  /** Show these lines of help. */
  | { kind: "help"; lines: string[] }
  /** Clear the conversation shown. */
  | { kind: "clear" }
  /** `/send`: choose files to share with this room. */
  | { kind: "attach" }
  /** `/get [ID]`: save shared file ID (default: the newest in the room shown). */
  | { kind: "get"; id?: string }
  /** Share `text` with `room` as a text file (`/paste-file`). */
  | { kind: "paste-file"; text: string; room: string }
  /**
   * Not sent: the text is longer than a message may be. It stays in the
   * field; `problem` says by how much, and it may go as a text file.
   */
  | { kind: "too-long"; text: string; problem: string }
  /** Refuse, with this wording next to the field. */
  | { kind: "error"; message: string };

/**
 * A frame the page sends: the protocol's frames, which name their room (the
 * page shows one room while the server may keep another current), the
 * scrollback request (`history`) among them.
 */
export type SendFrame = CommandFrame;

/** Commands with no frame of their own that the page carries out itself. */
const PAGE_COMMANDS: ReadonlySet<string> = new Set([
  "/help",
  "/clear",
  "/r",
  "/reply",
  "/send",
  "/get",
  "/paste-file",
]);

/**
 * True when the page offers `command` to a member whose role in the room
 * shown is `role`: the commands `chat connect` has that the page can carry
 * out (not the text door's own `/charset`), filtered by role as the
 * server's `/help` is (`mayUse`).
 */
export function pageOffers(command: Command, role?: RoomRole): boolean {
  if (command.door !== undefined) return false;
  if (!command.toFrame && !PAGE_COMMANDS.has(command.name)) return false;
  return mayUse(command, role);
}

/**
 * The `/help` lines for the room shown: a heading, every command your role
 * there allows, then `//text`.
 */
export function pageHelp(role?: RoomRole, room?: string): string[] {
  const heading = role && room
    ? `Commands (you are ${
      role === "owner" ? "the owner" : "an admin"
    } of ${room}):`
    : "Commands:";
  const lines = COMMANDS.filter((c) => pageOffers(c, role)).map((c) => {
    const usage = c.args ? `${c.name} ${c.args}` : c.name;
    const aliases = c.aliases ? ` (also ${c.aliases.join(", ")})` : "";
    return `${usage}: ${c.help}${aliases}`;
  });
  lines.push("//text: Send a line that starts with /.");
  return [heading, ...lines];
}

/** Frames that act in a room: they name the room shown, not the server's current one. */
const ROOM_FRAMES: ReadonlySet<CommandFrame["type"]> = new Set([
  "me",
  "who",
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
]);

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
  const action = interpretCommand(line, context);
  if (action.kind !== "send") return action;
  // Nothing typed is lost: what a message cannot hold is not sent to be
  // refused, it stays in the field (and may go as a text file).
  for (const frame of action.frames) {
    if (!("text" in frame) || typeof frame.text !== "string") continue;
    if (frame.type !== "say" && frame.type !== "me" && frame.type !== "dm") {
      continue;
    }
    const problem = lengthProblem(frame.text);
    if (problem) return { kind: "too-long", text: frame.text, problem };
  }
  return action;
}

/** Why `text` cannot be one message, or `undefined` when it can. */
export function lengthProblem(text: string): string | undefined {
  const { maxTextChars, maxTextLines } = PROTOCOL_LIMITS;
  const chars = text.length > maxTextChars ? characterCount(text) : 0;
  if (chars > maxTextChars) {
    return `${chars} characters, a message holds at most ${maxTextChars}`;
  }
  const lines = lineCount(text);
  if (lines > maxTextLines) {
    return `${lines} lines, a message holds at most ${maxTextLines}`;
  }
  return undefined;
}

function interpretCommand(line: string, context: LineContext): LineAction {
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
      return {
        kind: "help",
        lines: pageHelp(
          context.role,
          target.kind === "room" ? target.room : undefined,
        ),
      };
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
    case "/reply":
      return reply(args, context);
    case "/send":
      return target.kind === "room" && target.room !== ""
        ? { kind: "attach" }
        : { kind: "error", message: "files go to a room: open one to share" };
    case "/get":
      return args === ""
        ? { kind: "get" }
        : { kind: "get", id: args.replace(/^#/, "") };
    case "/paste-file": {
      if (target.kind !== "room" || target.room === "") {
        return {
          kind: "error",
          message: "files go to a room: open one to share",
        };
      }
      const text = args === "" ? context.refusedText : args;
      if (text === undefined || text.trim() === "") {
        return {
          kind: "error",
          message:
            "usage: /paste-file TEXT (alone it sends the text last refused as too long)",
        };
      }
      return { kind: "paste-file", text, room: target.room };
    }
  }
  if (command.name === "/part") return part(args, context);
  const frame = command.toFrame?.(args);
  if (frame === undefined) {
    return { kind: "error", message: `${command.name} is not available here` };
  }
  if (typeof frame === "string") return { kind: "error", message: frame };
  if (frame.type === "me" && target.kind !== "room") {
    return { kind: "error", message: "/me works in a room" };
  }
  if (frame.type === "dm") {
    return { kind: "send", frames: [frame], open: frame.to };
  }
  // The page shows one room while the server may keep another current: a
  // command that acts in a room acts in the one shown (a `/kick` typed in
  // class must not kick from the lobby).
  if (
    ROOM_FRAMES.has(frame.type) && target.kind === "room" && target.room !== ""
  ) {
    return {
      kind: "send",
      frames: [{ ...frame, room: target.room } as CommandFrame],
    };
  }
  return { kind: "send", frames: [frame] };
}

/** `/reply NICK TEXT`: answers NICK's last message in the room shown. */
function reply(args: string, context: LineContext): LineAction {
  const space = args.indexOf(" ");
  if (space <= 0 || args.slice(space + 1).trim() === "") {
    return { kind: "error", message: "usage: /reply NICK TEXT" };
  }
  const target = context.target;
  if (target.kind !== "room" || target.room === "") {
    return { kind: "error", message: "/reply works in a room" };
  }
  const nick = args.slice(0, space).replace(/^@/, "");
  const id = context.lastMessageOf?.(nick);
  if (id === undefined) {
    return {
      kind: "error",
      message: `no message from ${nick} in ${target.room} to reply to yet`,
    };
  }
  return {
    kind: "send",
    frames: [{
      type: "say",
      text: args.slice(space + 1),
      room: target.room,
      reply_to: id,
    }],
  };
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
