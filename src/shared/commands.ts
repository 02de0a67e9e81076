/**
 * Slash commands as data: one table drives parsing, dispatch and `/help`, for
 * both the server's text dialect and the terminal client.
 *
 * @module
 */

import type { CommandFrame } from "../../protocol.ts";

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
    args: "",
    help: "List the people in your room.",
    toFrame: () => ({ type: "who" }),
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
    name: "/clear",
    args: "",
    help: "Clear the screen.",
  },
  {
    name: "/charset",
    args: "utf-8|gb18030",
    help:
      "Say how your terminal writes text (gb18030: a Chinese Windows console).",
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
