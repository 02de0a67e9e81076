/**
 * IRC messages: one line each, parsed and written as the "Modern IRC client
 * protocol" and the IRCv3 message-tags specification describe them.
 *
 * `@tag=value;tag2 :prefix COMMAND param param :trailing param`
 *
 * Pure: no sockets, no state.
 *
 * @module
 */

/** One IRC message. */
export interface IrcMessage {
  /** IRCv3 tags, unescaped (`msgid`, `time`, `batch` …). */
  tags?: Record<string, string>;
  /** The source (`nick!user@host` or the server name), without `:`. */
  prefix?: string;
  /** The command (upper case) or a three-digit numeric. */
  command: string;
  /** The parameters, the trailing one included, without its `:`. */
  params: string[];
}

const TAG_UNESCAPES: Record<string, string> = {
  ":": ";",
  "s": " ",
  "\\": "\\",
  "r": "\r",
  "n": "\n",
};

const TAG_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  ";": "\\:",
  " ": "\\s",
  "\r": "\\r",
  "\n": "\\n",
};

function unescapeTagValue(value: string): string {
  return value.replace(/\\(.?)/g, (_, c: string) => TAG_UNESCAPES[c] ?? c);
}

function escapeTagValue(value: string): string {
  return value.replace(/[\\; \r\n]/g, (c) => TAG_ESCAPES[c]);
}

/**
 * Parses one line (without its CR LF); `undefined` for a line with no
 * command. Commands are upper-cased: IRC commands are case-insensitive.
 *
 * @example
 * ```ts
 * parseIrcLine("PRIVMSG #lobby :hi there");
 * // → { command: "PRIVMSG", params: ["#lobby", "hi there"] }
 * ```
 */
export function parseIrcLine(line: string): IrcMessage | undefined {
  let rest = line.replace(/^ +/, "");
  let tags: Record<string, string> | undefined;
  if (rest.startsWith("@")) {
    const space = rest.indexOf(" ");
    if (space === -1) return undefined;
    tags = {};
    for (const item of rest.slice(1, space).split(";")) {
      if (item === "") continue;
      const eq = item.indexOf("=");
      if (eq === -1) tags[item] = "";
      else tags[item.slice(0, eq)] = unescapeTagValue(item.slice(eq + 1));
    }
    rest = rest.slice(space + 1).replace(/^ +/, "");
  }
  let prefix: string | undefined;
  if (rest.startsWith(":")) {
    const space = rest.indexOf(" ");
    if (space === -1) return undefined;
    prefix = rest.slice(1, space);
    rest = rest.slice(space + 1).replace(/^ +/, "");
  }
  const params: string[] = [];
  let command: string | undefined;
  while (rest !== "") {
    if (command !== undefined && rest.startsWith(":")) {
      params.push(rest.slice(1));
      break;
    }
    const space = rest.indexOf(" ");
    const word = space === -1 ? rest : rest.slice(0, space);
    rest = space === -1 ? "" : rest.slice(space + 1).replace(/^ +/, "");
    if (command === undefined) command = word.toUpperCase();
    else params.push(word);
  }
  if (command === undefined || command === "") return undefined;
  const message: IrcMessage = { command, params };
  if (tags) message.tags = tags;
  if (prefix !== undefined) message.prefix = prefix;
  return message;
}

/**
 * Writes one message as a line ending in CR LF. The last parameter gets a
 * `:` when it needs one (empty, has a space, or starts with `:`) and, after
 * another parameter, when it is a command's free text (`PRIVMSG #a :hi`);
 * the others must not contain spaces.
 *
 * @example
 * ```ts
 * formatIrcMessage({ prefix: "chat", command: "001", params: ["bob", "Welcome"] });
 * // → ":chat 001 bob Welcome\r\n"
 * ```
 */
export function formatIrcMessage(message: IrcMessage): string {
  let line = "";
  if (message.tags) {
    const items = Object.entries(message.tags).map(([key, value]) =>
      value === "" ? key : `${key}=${escapeTagValue(value)}`
    );
    if (items.length > 0) line += `@${items.join(";")} `;
  }
  if (message.prefix) line += `:${message.prefix} `;
  line += message.command;
  const { params } = message;
  for (let i = 0; i < params.length; i++) {
    const param = params[i];
    const last = i === params.length - 1;
    if (
      last &&
      (param === "" || param.includes(" ") || param[0] === ":" ||
        ((params.length > 1 || TEXT_ONLY.test(message.command)) &&
          TEXT_LAST.test(message.command)))
    ) {
      line += ` :${param}`;
    } else line += ` ${param}`;
  }
  return line + "\r\n";
}

/**
 * Commands whose last parameter is free text, written with its `:` always
 * (as servers do), so a client never has to guess where a one-word message
 * begins: messages, reasons and the numerics' human text.
 */
const TEXT_LAST =
  /^(PRIVMSG|NOTICE|PART|QUIT|KICK|TOPIC|AWAY|ERROR|PONG|\d{3})$/;

/** Commands whose only parameter is free text: `AWAY :lunch`, `QUIT :bye`. */
const TEXT_ONLY = /^(QUIT|AWAY|ERROR)$/;

const encoder = new TextEncoder();

function utf8Length(char: string): number {
  const code = char.codePointAt(0)!;
  return code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
}

/**
 * How many bytes `text` takes in UTF-8, without encoding it: NAMES measures
 * every name of a big room for every newcomer.
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      // A surrogate pair: one character of 4 bytes.
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Cuts `text` into pieces of at most `maxBytes` UTF-8 bytes each, never
 * inside a character (a Chinese character or an emoji stays whole), and
 * after a space when one is near the end, so words stay whole.
 */
export function splitForIrc(text: string, maxBytes: number): string[] {
  if (encoder.encode(text).length <= maxBytes) return [text];
  const pieces: string[] = [];
  let piece = "";
  let bytes = 0;
  let lastSpace = -1;
  for (const char of text) {
    const size = utf8Length(char);
    if (bytes + size > maxBytes && piece !== "") {
      // A space in the last fifth keeps a word whole; further back, cut hard.
      const cut = lastSpace > piece.length * 0.8 ? lastSpace : piece.length;
      pieces.push(piece.slice(0, cut));
      piece = piece.slice(cut);
      bytes = encoder.encode(piece).length;
      lastSpace = -1;
    }
    piece += char;
    bytes += size;
    if (char === " ") lastSpace = piece.length;
  }
  if (piece !== "") pieces.push(piece);
  return pieces;
}
