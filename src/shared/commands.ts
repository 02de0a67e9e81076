/**
 * Slash commands as data: one table drives parsing, dispatch and `/help`, for
 * both the server's text dialect and the terminal client. The server's answer
 * to each command's frame is its entry in the handler table (see
 * `src/server/command_handlers.ts`).
 *
 * @module
 */

import type { CommandFrame, RoomRole } from "../../protocol.ts";
import { parseDuration } from "./duration.ts";

/** Who may use a command: see {@linkcode Command.role}. */
export type CommandRole = "everyone" | "admin" | "owner";

/** True when a member whose role in the room is `role` may use `command`. */
export function mayUse(command: Command, role: RoomRole | undefined): boolean {
  const needed = command.role ?? "everyone";
  if (needed === "everyone") return true;
  if (needed === "admin") return role === "admin" || role === "owner";
  return role === "owner";
}

/** `NICK` and the rest of the arguments, or `undefined` without a NICK. */
function splitNick(args: string): { nick: string; rest: string } | undefined {
  const match = /^(\S+)\s*(.*)$/s.exec(args.trim());
  return match ? { nick: match[1], rest: match[2].trim() } : undefined;
}

/** A command on `NICK [DURATION] [REASON]`; `reason` says whether it takes one. */
function nickDuration(
  type: "mute" | "ban",
  usage: string,
  reason: boolean,
): (args: string) => CommandFrame | string {
  return (args) => {
    const parts = splitNick(args);
    if (!parts) return `usage: ${usage}`;
    const [first = "", ...others] = parts.rest.split(/\s+/);
    const ms = first === "" ? undefined : parseDuration(first);
    const rest = ms === undefined ? parts.rest : others.join(" ");
    if (!reason && rest !== "") {
      return `usage: ${usage} (a duration is like 30s, 10m, 2h or 7d)`;
    }
    const frame: {
      type: "mute" | "ban";
      nick: string;
      seconds?: number;
      reason?: string;
    } = {
      type,
      nick: parts.nick,
    };
    if (ms !== undefined) frame.seconds = Math.round(ms / 1000);
    if (type === "ban" && rest !== "") frame.reason = rest;
    return frame as CommandFrame;
  };
}

/** A command on `NICK` alone. */
function onNick(
  type: "op" | "deop" | "unmute" | "unban",
): (args: string) => CommandFrame | string {
  return (args) => {
    const parts = splitNick(args);
    if (!parts || parts.rest !== "") return `usage: /${type} NICK`;
    return { type, nick: parts.nick };
  };
}

/** One slash command. */
export interface Command {
  /** The name, with its slash: `/nick`. */
  name: string;
  /** Other names for the same command. */
  aliases?: string[];
  /** The argument synopsis shown by `/help`: `NAME`. */
  args: string;
  /** One line of help. */
  help: string;
  /**
   * Which door alone has it: `"text"` for the server's text door (`nc`,
   * `telnet`), which answers it itself; `chat connect` does not offer it.
   * Absent: the chat client has it (and the text door too, with `toFrame`).
   */
  door?: "text";
  /**
   * Who may use it, in the room it acts on: `everyone` (the default), the
   * room's `admin`s and its owner, or the `owner` alone. The server checks
   * it; `/help` lists only what the caller may use.
   */
  role?: CommandRole;
  /** Its arguments hold a password: a client does not keep the line for up/down. */
  secret?: true;
  /**
   * Turns the argument text into a frame, or returns the usage error.
   * Commands without it are handled by the client alone (`/r`, `/clear`).
   */
  toFrame?: (args: string) => CommandFrame | string;
}

function required(
  usage: string,
  build: (value: string) => CommandFrame,
): (args: string) => CommandFrame | string {
  return (args) => args === "" ? `usage: ${usage}` : build(args);
}

/** Every command, in `/help` order. */
export const COMMANDS: readonly Command[] = [
  {
    name: "/help",
    aliases: ["/?"],
    args: "",
    help: "List the commands.",
  },
  {
    name: "/nick",
    args: "NAME",
    help: "Change your nickname.",
    toFrame: required("/nick NAME", (nick) => ({ type: "nick", nick })),
  },
  {
    name: "/msg",
    aliases: ["/dm", "/w"],
    args: "NICK TEXT",
    help: "Send a private message.",
    toFrame: (args) => {
      const space = args.indexOf(" ");
      if (space <= 0 || args.slice(space + 1).trim() === "") {
        return "usage: /msg NICK TEXT";
      }
      return {
        type: "dm",
        to: args.slice(0, space),
        text: args.slice(space + 1),
      };
    },
  },
  {
    name: "/r",
    args: "TEXT",
    help: "Reply privately to the last person who messaged you.",
  },
  {
    name: "/reply",
    args: "NICK TEXT",
    help:
      "Answer NICK's last message in this room; the answer shows a quote of it.",
  },
  {
    name: "/search",
    aliases: ["/find"],
    args: "WORDS",
    help: "Find messages of your rooms holding every word, newest first.",
    toFrame: required("/search WORDS", (text) => ({ type: "search", text })),
  },
  {
    name: "/me",
    args: "ACTION",
    help: "Say what you are doing: /me waves → * alice waves",
    toFrame: required("/me ACTION", (text) => ({ type: "me", text })),
  },
  {
    name: "/who",
    aliases: ["/names"],
    args: "[FROM]",
    help: "List the people in your room (a big room's from number FROM on).",
    toFrame: (args) => {
      if (args === "") return { type: "who" };
      if (!/^\d{1,9}$/.test(args)) return "usage: /who [FROM]";
      return { type: "who", offset: Number(args) };
    },
  },
  {
    name: "/join",
    aliases: ["/j"],
    args: "ROOM",
    help:
      "Join a room (made if missing) and make it current; you stay in the others.",
    toFrame: required("/join ROOM", (room) => ({ type: "join", room })),
  },
  {
    name: "/part",
    aliases: ["/leave"],
    args: "[ROOM]",
    help: "Leave a room (default: the current one), staying in the others.",
    toFrame: (room) => room === "" ? { type: "part" } : { type: "part", room },
  },
  {
    name: "/rooms",
    aliases: ["/list"],
    args: "",
    help: "List the rooms, how many are in each, and which are yours.",
    toFrame: () => ({ type: "rooms" }),
  },
  {
    name: "/register",
    args: "PASSWORD",
    help:
      "Register your nickname: from then on it needs this password to connect.",
    secret: true,
    toFrame: required("/register PASSWORD", (password) => ({
      type: "register",
      password,
    })),
  },
  {
    name: "/password",
    args: "OLD NEW",
    help: "Change your account's password.",
    secret: true,
    toFrame: (args) => {
      const [old, fresh, ...more] = args.split(/\s+/);
      if (!old || !fresh || more.length > 0) return "usage: /password OLD NEW";
      return { type: "password", old, new: fresh };
    },
  },
  {
    name: "/op",
    args: "NICK",
    help: "Make a registered member an admin of this room.",
    role: "owner",
    toFrame: onNick("op"),
  },
  {
    name: "/deop",
    args: "NICK",
    help: "Make an admin of this room an ordinary member again.",
    role: "owner",
    toFrame: onNick("deop"),
  },
  {
    name: "/mute",
    args: "NICK [DURATION]",
    help:
      "Let a member read but not speak here, for DURATION (30s, 10m, 2h, 7d; default 10m, at most 30d).",
    role: "admin",
    toFrame: nickDuration("mute", "/mute NICK [DURATION]", false),
  },
  {
    name: "/unmute",
    args: "NICK",
    help: "Let a muted member speak again.",
    role: "admin",
    toFrame: onNick("unmute"),
  },
  {
    name: "/muteall",
    args: "on|off",
    help: "Only the owner and admins may speak here while on.",
    role: "admin",
    toFrame: (args) => {
      const word = args.toLowerCase();
      if (word !== "on" && word !== "off") return "usage: /muteall on|off";
      return { type: "muteall", on: word === "on" };
    },
  },
  {
    name: "/kick",
    args: "NICK [REASON]",
    help: "Put a member out of this room (it may come back).",
    role: "admin",
    toFrame: (args) => {
      const parts = splitNick(args);
      if (!parts) return "usage: /kick NICK [REASON]";
      return parts.rest === ""
        ? { type: "kick", nick: parts.nick }
        : { type: "kick", nick: parts.nick, reason: parts.rest };
    },
  },
  {
    name: "/ban",
    args: "NICK [DURATION] [REASON]",
    help:
      "Put a member out of this room and keep it out (default: for ever; a guest by its address).",
    role: "admin",
    toFrame: nickDuration("ban", "/ban NICK [DURATION] [REASON]", true),
  },
  {
    name: "/unban",
    args: "NICK",
    help: "Let a banned member back in.",
    role: "admin",
    toFrame: onNick("unban"),
  },
  {
    name: "/bans",
    args: "",
    help: "List who is banned from this room.",
    role: "admin",
    toFrame: () => ({ type: "bans" }),
  },
  {
    name: "/notice",
    args: "[TEXT|clear]",
    help:
      "Show the room's pinned notice; the owner and admins pin one, or clear it.",
    toFrame: (args) =>
      args === ""
        ? { type: "notice" }
        : { type: "notice", text: args.toLowerCase() === "clear" ? "" : args },
  },
  {
    name: "/recall",
    args: "[ID|NICK]",
    help:
      "Take back your last message within 2 minutes; admins any (by ID, or NICK's last).",
    toFrame: (args) => {
      if (args === "") return { type: "recall" };
      if (/^#?\d+$/.test(args)) {
        return { type: "recall", id: Number(args.replace("#", "")) };
      }
      if (/\s/.test(args)) return "usage: /recall [ID|NICK]";
      return { type: "recall", nick: args };
    },
  },
  {
    name: "/send",
    args: "PATH",
    help: "Share a file (a photo, a PDF…) with this room.",
  },
  {
    name: "/get",
    args: "[ID]",
    help: "Save a shared file here (default: the newest).",
  },
  {
    name: "/paste-file",
    args: "[TEXT]",
    help: "Send TEXT (or the text refused as too long) as a file.",
  },
  {
    name: "/clear",
    args: "",
    help: "Clear the screen.",
  },
  {
    name: "/history",
    args: "[COUNT]",
    help:
      "Show the messages of your room before the oldest shown (COUNT of them, at most 1000).",
    door: "text",
  },
  {
    name: "/charset",
    args: "utf-8|gb18030|gbk",
    help:
      "Say how your terminal writes text (gb18030: a Chinese console; gbk: one that shows emoji as garbage).",
    door: "text",
  },
  {
    name: "/quit",
    aliases: ["/exit", "/q"],
    args: "[REASON]",
    help: "Leave the chat.",
    toFrame: (reason) =>
      reason === "" ? { type: "quit" } : { type: "quit", reason },
  },
];

/** Where a line is typed: `chat connect`, or the server's text door. */
export type Door = "client" | "text";

/** True when `command` is there for a line typed at `door`. */
function offeredAt(command: Command, door: Door): boolean {
  return command.door === undefined ? true : command.door === door;
}

/** Finds a command by name or alias (`/nick`, case-insensitive). */
export function findCommand(
  name: string,
  door: Door = "client",
): Command | undefined {
  const wanted = name.toLowerCase();
  return COMMANDS.find((c) =>
    offeredAt(c, door) && (c.name === wanted || c.aliases?.includes(wanted))
  );
}

/**
 * The role the command behind frames of `type` needs (`/kick` for `kick`),
 * from its entry: the server checks this, so each command's role is said
 * once, in the registry. `everyone` for a type no command sends.
 */
export function roleNeeded(type: CommandFrame["type"]): CommandRole {
  return findCommand(`/${type}`)?.role ?? "everyone";
}

/** True when a typed line is a command whose arguments hold a password. */
export function holdsPassword(line: string): boolean {
  const typed = parseTypedLine(line.trim());
  return typed.kind === "command" && typed.command.secret === true;
}

/** A line typed by a user, after the `/` rules are applied. */
export type TypedLine =
  | { kind: "say"; text: string }
  | { kind: "command"; command: Command; args: string }
  | { kind: "unknown"; name: string };

/**
 * Reads a typed line: `/name args` is a command, `//x` says `/x`, anything
 * else is a message.
 */
export function parseTypedLine(
  line: string,
  door: Door = "client",
): TypedLine {
  if (!line.startsWith("/") || line.startsWith("//")) {
    return { kind: "say", text: line.startsWith("//") ? line.slice(1) : line };
  }
  const space = line.indexOf(" ");
  const name = space === -1 ? line : line.slice(0, space);
  const args = space === -1 ? "" : line.slice(space + 1).trim();
  const command = findCommand(name, door);
  return command
    ? { kind: "command", command, args }
    : { kind: "unknown", name };
}

/** The `/help` text: one line per command. */
export function helpLines(
  include: (command: Command) => boolean = (c) => offeredAt(c, "client"),
): string[] {
  const rows = COMMANDS.filter(include).map((c) => {
    const usage = c.args ? `${c.name} ${c.args}` : c.name;
    const aliases = c.aliases ? ` (also ${c.aliases.join(", ")})` : "";
    return { usage, text: c.help + aliases };
  });
  const width = Math.max(...rows.map((r) => r.usage.length));
  return [
    ...rows.map((r) => `  ${r.usage.padEnd(width)}  ${r.text}`),
    "  //text" + " ".repeat(Math.max(0, width - 6)) +
    "  Send a line that starts with /.",
  ];
}
