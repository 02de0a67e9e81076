/**
 * The interactive client, when stdin and stdout are a terminal: the thin I/O
 * edge that joins the pure parts. Keys come from a raw-mode stdin through the
 * {@linkcode KeyDecoder} into the {@linkcode LineEditor}; events come from a
 * {@linkcode ChatSession} through the renderer; the {@linkcode Screen} turns
 * both into bytes for stdout.
 *
 * The terminal is restored however the client ends: `finally`, an `unload`
 * or `error` handler, or a signal (see {@linkcode RawTerminal}).
 *
 * @module
 */

import type { ConnectOptions } from "./connect_options.ts";
import {
  type CommandFrame,
  NICK_PROBLEM_MESSAGES,
  type RoomMessage,
  type ServerEvent,
} from "../../protocol.ts";
import { formatTarget } from "./chat_link.ts";
import {
  ChatSession,
  type LinkState,
  type SessionEnd,
  type WelcomeEvent,
} from "./chat_session.ts";
import {
  COMMANDS,
  helpLines,
  holdsPassword,
  mayUse,
  parseTypedLine,
} from "../shared/commands.ts";
import { KeyDecoder, type KeyEvent } from "./key_decoder.ts";
import { CONNECT_DEFAULTS } from "../shared/limits.ts";
import { LineEditor } from "./line_editor.ts";
import { runPlainClient } from "./plain_client.ts";
import {
  EMOJI_WIDTH_PROBES,
  type EmojiWidths,
  emojiWidthsFromProbes,
  MODERN_EMOJI_WIDTHS,
  setEmojiWidths,
} from "../shared/text_width.ts";
import { characterCount, lineCount, nickProblem } from "../shared/sanitize.ts";
import { PROTOCOL_LIMITS } from "../shared/limits.ts";
import { RecentMessages, type SeenMessage } from "./recent_messages.ts";
import { Screen } from "./screen.ts";
import {
  describeFile,
  type FileSource,
  getFile,
  localFile,
  pasteFileName,
  SeenFiles,
  sendPath,
  shareFile,
  textFile,
} from "./file_sharing.ts";
import { formatFileSize } from "../shared/file_names.ts";
import {
  errorLine,
  type Line,
  noticeLine,
  pendingLine,
  renderEvent,
  renderSwitch,
  renderWelcome,
  replyBarLine,
  type WelcomeKind,
  withRecall,
} from "./terminal_render.ts";

const encoder = new TextEncoder();

/** Writes all of `text` to stdout, synchronously (a terminal is fast). */
function writeOut(text: string): void {
  if (text === "") return;
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // No --allow-env: behave as if unset.
  }
}

/** How the terminal may be drawn on, from NO_COLOR and TERM. */
export function terminalAbilities(
  env: { NO_COLOR?: string; TERM?: string },
): { fullScreen: boolean; colour: boolean } {
  const term = env.TERM ?? "";
  const dumb = term === "" || term === "dumb";
  // https://no-color.org: set and not empty means no colour.
  const colour = !dumb && !(env.NO_COLOR !== undefined && env.NO_COLOR !== "");
  return { fullScreen: !dumb, colour };
}

/** Runs the interactive client until the user quits; returns the exit code. */
export async function runTerminalClient(
  options: ConnectOptions,
): Promise<number> {
  const abilities = terminalAbilities({
    NO_COLOR: readEnv("NO_COLOR"),
    TERM: readEnv("TERM"),
  });
  if (!abilities.fullScreen) return await runPlainClient(options);
  const terminal = new RawTerminal();
  let end: SessionEnd;
  try {
    const size = Deno.consoleSize();
    const screen = new Screen({
      columns: size.columns,
      rows: size.rows,
      colour: abilities.colour,
    });
    terminal.start(screen.leave());
    end = await new FullScreenClient(options, screen).run();
  } finally {
    terminal.restore();
  }
  if (end.message) console.error(`chat: ${end.message}`);
  return end.code;
}

/**
 * Raw mode and the way back. {@linkcode RawTerminal.restore} is idempotent and
 * is also called on `unload`, on an uncaught error and on SIGTERM, SIGHUP and
 * SIGINT, so a crash never leaves the shell without echo.
 */
class RawTerminal {
  #active = false;
  #leave = "";
  #signals: [Deno.Signal, () => void][] = [];

  /** Enters raw mode; `leave` is written to restore the screen. */
  start(leave: string): void {
    this.#leave = leave;
    Deno.stdin.setRaw(true);
    this.#active = true;
    globalThis.addEventListener("unload", this.restore);
    globalThis.addEventListener("error", this.restore);
    globalThis.addEventListener("unhandledrejection", this.restore);
    const exitCodes: [Deno.Signal, number][] = [
      ["SIGTERM", 143],
      ["SIGHUP", 129],
      ["SIGINT", 130],
    ];
    for (const [signal, code] of exitCodes) {
      const handler = () => {
        this.restore();
        Deno.exit(code);
      };
      Deno.addSignalListener(signal, handler);
      this.#signals.push([signal, handler]);
    }
  }

  /** Leaves raw mode and the alternate screen; safe to call twice. */
  restore = (): void => {
    if (!this.#active) return;
    this.#active = false;
    try {
      writeOut(this.#leave);
    } catch { /* stdout gone: nothing to restore on it */ }
    try {
      Deno.stdin.setRaw(false);
    } catch { /* stdin gone */ }
    globalThis.removeEventListener("unload", this.restore);
    globalThis.removeEventListener("error", this.restore);
    globalThis.removeEventListener("unhandledrejection", this.restore);
    for (const [signal, handler] of this.#signals) {
      Deno.removeSignalListener(signal, handler);
    }
    this.#signals = [];
  };
}

/** The pinned-input-line client: editor, screen and session together. */
class FullScreenClient {
  #options: ConnectOptions;
  #screen: Screen;
  #session: ChatSession;
  #decoder = new KeyDecoder();
  #chatEditor: LineEditor;
  #nickEditor = new LineEditor();
  #nickAnswer: PromiseWithResolvers<string | undefined> | undefined;
  /** What a password is typed into: never drawn, never kept for Up. */
  #passwordEditor = new LineEditor({ keepInHistory: () => false });
  #passwordAnswer: PromiseWithResolvers<string | undefined> | undefined;
  #quit = Promise.withResolvers<string | undefined>();
  #crashed = Promise.withResolvers<never>();
  #state: LinkState = { kind: "connecting", attempt: 1 };
  #lastReason = "";
  #lastDmFrom: string | undefined;
  /** Each room's latest messages, for `/reply NICK` and Alt-Up. */
  #recent = new RecentMessages();
  /** The message the next line answers, picked with Alt-Up. */
  #replyTo: SeenMessage | undefined;
  #toldAboutReply = false;
  /** Files shared in the rooms, for `/get`. */
  #seenFiles = new SeenFiles();
  #toldAboutGet = false;
  /** The last text refused as too long: what `/paste-file` alone sends. */
  #refusedText: string | undefined;
  /** A file going up or coming down, for the status line: `photo.jpg 45%`. */
  #transfer: string | undefined;
  #statusTimer: ReturnType<typeof setInterval> | undefined;
  #escapeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set once run() returns: late events must not draw on the restored terminal. */
  #done = false;
  #onCursorReport: ((column: number) => void) | undefined;

  constructor(options: ConnectOptions, screen: Screen) {
    this.#options = options;
    this.#screen = screen;
    this.#crashed.promise.catch(() => {}); // Handled by run()'s race.
    this.#chatEditor = new LineEditor({
      keepInHistory: (line) => !holdsPassword(line),
      completions: () => ({
        nicks: this.#session.users.filter((u) => u !== this.#session.nick),
        commands: COMMANDS.filter((c) => c.door === undefined).map((c) =>
          c.name
        ),
      }),
    });
    this.#session = new ChatSession({
      target: options,
      nick: options.nick,
      room: options.room,
      password: options.password,
    }, {
      welcome: (event, kind, history) => this.#onWelcome(event, kind, history),
      event: (event) => this.#onEvent(event),
      notice: (text) => this.#show([noticeLine(text)]),
      state: (state) => this.#onState(state),
      sent: () => this.#drawStatus(),
      askNick: (reason) => this.#askNick(reason),
      askPassword: (reason) => this.#askPassword(reason),
    });
  }

  get #editor(): LineEditor {
    if (this.#passwordAnswer) return this.#passwordEditor;
    return this.#nickAnswer ? this.#nickEditor : this.#chatEditor;
  }

  /** True while the client asks for a nickname or a password. */
  get #asking(): boolean {
    return this.#nickAnswer !== undefined || this.#passwordAnswer !== undefined;
  }

  async run(): Promise<SessionEnd> {
    // A bug in key handling ends run() with the error, terminal restored.
    this.#readKeys().catch((error) => this.#crashed.reject(error));
    setEmojiWidths(await this.#measureEmoji());
    this.#write(this.#screen.enter());
    this.#drawStatus();
    this.#drawInput();
    const onResize = () => {
      try {
        const size = Deno.consoleSize();
        this.#write(this.#screen.resize(size.columns, size.rows));
      } catch { /* not a terminal any more */ }
    };
    Deno.addSignalListener("SIGWINCH", onResize);
    try {
      const running = this.#session.run();
      const outcome = await Promise.race([
        running.then((end) => ({ end })),
        this.#quit.promise.then((reason) => ({ reason })),
        this.#crashed.promise,
      ]);
      if ("end" in outcome) return outcome.end;
      this.#nickAnswer?.resolve(undefined);
      this.#passwordAnswer?.resolve(undefined);
      await this.#session.quit(outcome.reason);
      return { code: 0 };
    } finally {
      this.#done = true;
      Deno.removeSignalListener("SIGWINCH", onResize);
      clearInterval(this.#statusTimer);
      clearTimeout(this.#escapeTimer);
    }
  }

  /**
   * Draws each of {@linkcode EMOJI_WIDTH_PROBES} and asks the terminal where
   * the cursor ended up (`ESC [ 6 n`), to learn how wide it draws emoji
   * sequences. A terminal that does not answer gets the modern defaults.
   */
  async #measureEmoji(): Promise<EmojiWidths> {
    const columns: number[] = [];
    const answered = Promise.withResolvers<void>();
    this.#onCursorReport = (column) => {
      columns.push(column - 1);
      if (columns.length === EMOJI_WIDTH_PROBES.length) answered.resolve();
    };
    let probes = "\x1b[?1049h\x1b[?25l";
    for (const probe of EMOJI_WIDTH_PROBES) {
      probes += `\x1b[1;1H\x1b[2K${probe}\x1b[6n`;
    }
    this.#write(probes + "\x1b[1;1H\x1b[2K");
    const timer = setTimeout(
      answered.resolve,
      CONNECT_DEFAULTS.terminalAnswerMs,
    );
    await answered.promise;
    clearTimeout(timer);
    this.#onCursorReport = undefined;
    return columns.length === EMOJI_WIDTH_PROBES.length
      ? emojiWidthsFromProbes(columns)
      : MODERN_EMOJI_WIDTHS;
  }

  /** Reads stdin for as long as the process lives; EOF counts as quitting. */
  async #readKeys(): Promise<void> {
    const buffer = new Uint8Array(4096);
    for (;;) {
      let n: number | null;
      try {
        n = await Deno.stdin.read(buffer);
      } catch {
        n = null; // stdin closed under us: same as EOF.
      }
      if (n === null) break;
      clearTimeout(this.#escapeTimer);
      for (const event of this.#decoder.push(buffer.subarray(0, n))) {
        this.#onKey(event);
      }
      if (this.#decoder.hasPending) {
        this.#escapeTimer = setTimeout(() => {
          try {
            for (const event of this.#decoder.flush()) this.#onKey(event);
          } catch (error) {
            this.#crashed.reject(error);
          }
        }, CONNECT_DEFAULTS.escapeTimeoutMs);
      }
    }
    this.#quit.resolve(undefined);
  }

  #onKey(event: KeyEvent): void {
    if (event.type === "cursor") return this.#onCursorReport?.(event.column);
    if (event.type === "paste" && event.truncated) {
      this.#show([errorLine(
        `paste cut at ${CONNECT_DEFAULTS.maxPasteChars} characters`,
      )]);
    }
    if (
      event.type === "key" && event.key.startsWith("alt-") && !this.#asking
    ) {
      return this.#switchTo(Number(event.key.slice(4)));
    }
    if (event.type === "key" && !this.#asking) {
      if (event.key === "message-up") return this.#pickReply("older");
      if (event.key === "message-down") return this.#pickReply("newer");
      if (event.key === "escape" && this.#replyTo) return this.#setReply();
      if (event.key === "ctrl-s") return this.#sendInputAsFile();
    }
    const action = this.#editor.handle(event);
    switch (action.type) {
      case "none":
        return;
      case "changed":
        if (action.full) this.#write("\x07");
        return this.#drawInput();
      case "redraw":
        return this.#write(this.#screen.redraw());
      case "quit":
        return this.#quit.resolve(undefined);
      case "submit":
        for (const line of action.lines) this.#submit(line);
        return this.#drawInput();
    }
  }

  #submit(line: string): void {
    if (this.#passwordAnswer) return this.#answerPassword(line.trim());
    if (this.#nickAnswer) return this.#answerNick(line.trim());
    const typed = parseTypedLine(line);
    if (typed.kind === "command" && typed.command.name === "/paste-file") {
      return this.#pasteFile(typed.args === "" ? undefined : line);
    }
    if (!this.#fitsOneMessage(line)) return;
    if (typed.kind === "say") {
      const reply_to = this.#replyTo?.id;
      if (reply_to !== undefined) this.#setReply();
      return this.#send({ type: "say", text: typed.text, reply_to }, line);
    }
    if (typed.kind === "unknown") {
      return this.#show([
        errorLine(`unknown command ${typed.name} (try /help)`),
      ]);
    }
    const { command, args } = typed;
    switch (command.name) {
      case "/help":
        return this.#show([
          noticeLine("Commands:"),
          ...helpLines((c) =>
            c.door === undefined && mayUse(c, this.#session.role)
          ).map((text) => noticeLine(text)),
          noticeLine(
            "Keys: Tab completes nicknames and commands, Up/Down recall sent lines,",
          ),
          noticeLine(
            "  Ctrl-A/E start/end, Ctrl-W/U delete word/line, Ctrl-L redraw, Ctrl-C quit.",
          ),
          noticeLine(
            "  Alt-Enter or Ctrl-J adds a line break; a paste is one message. @ then Tab completes a mention.",
          ),
          noticeLine(
            "  Alt-1..9 switch to your first..ninth room (/join ROOM too). Ctrl-S sends the line as a file.",
          ),
          noticeLine(
            "  Alt-Up/Alt-Down (or Ctrl-Up/Down) pick a message to reply to; Enter sends the reply, Esc cancels.",
          ),
        ]);
      case "/clear":
        return this.#write(this.#screen.clear());
      case "/quit":
        return this.#quit.resolve(args === "" ? undefined : args);
      case "/reply":
        return this.#reply(args, line);
      case "/send":
        return this.#sendFile(args);
      case "/get":
        return this.#getFile(args);
      case "/r":
        if (this.#lastDmFrom === undefined) {
          return this.#show([
            errorLine("no one has messaged you privately yet"),
          ]);
        }
        if (args === "") return this.#show([errorLine("usage: /r TEXT")]);
        return this.#send(
          { type: "dm", to: this.#lastDmFrom, text: args },
          line,
        );
    }
    const frame = command.toFrame?.(args);
    if (frame === undefined) return;
    if (typeof frame === "string") return this.#show([errorLine(frame)]);
    this.#send(frame, line);
  }

  /**
   * Nothing typed is lost: a line longer than a message may be (4000
   * characters, 50 lines) goes back into the input line, with an error
   * saying by how much, to be cut down or split, instead of being sent to be
   * refused.
   */
  #fitsOneMessage(line: string): boolean {
    const chars = line.length > PROTOCOL_LIMITS.maxTextChars
      ? characterCount(line)
      : 0;
    const lines = lineCount(line);
    // `/msg NICK ` and `/reply NICK ` are not part of the message.
    const slack = line.startsWith("/") ? 60 : 0;
    let problem: string | undefined;
    if (chars > PROTOCOL_LIMITS.maxTextChars + slack) {
      problem =
        `${chars} characters, a message holds at most ${PROTOCOL_LIMITS.maxTextChars}`;
    } else if (lines > PROTOCOL_LIMITS.maxTextLines) {
      problem =
        `${lines} lines, a message holds at most ${PROTOCOL_LIMITS.maxTextLines}`;
    }
    if (problem === undefined) return true;
    this.#editor.setText(line);
    this.#refusedText = line;
    this.#show([errorLine(
      `not sent: ${problem}. It is still in the input line: Ctrl-S sends it as a text file; or cut it down.`,
    )]);
    return false;
  }

  /** Ctrl-S: the input line, whatever its length, goes up as a text file. */
  #sendInputAsFile(): void {
    const text = this.#chatEditor.text;
    if (text.trim() === "") {
      return this.#show([errorLine(
        "Ctrl-S sends what is in the input line as a text file; it is empty",
      )]);
    }
    this.#chatEditor.setText("");
    this.#drawInput();
    this.#shareText(text);
  }

  /**
   * `/paste-file TEXT` sends TEXT as a text file; `/paste-file` alone, the
   * text last refused as too long.
   */
  #pasteFile(line: string | undefined): void {
    if (line !== undefined) {
      return this.#shareText(line.replace(/^\/paste-file\s?/, ""));
    }
    const text = this.#refusedText;
    if (text === undefined) {
      return this.#show([errorLine(
        "usage: /paste-file TEXT (alone it sends the text last refused as too long)",
      )]);
    }
    this.#shareText(text);
  }

  /**
   * Sends text as a file. Nothing typed is lost: if it cannot go, the text
   * comes back into the input line (before anything typed meanwhile).
   */
  #shareText(text: string): void {
    const source = textFile(text, pasteFileName());
    this.#upload(source, () => {
      const typedSince = this.#chatEditor.text;
      this.#chatEditor.setText(
        typedSince === "" ? text : `${text}\n${typedSince}`,
      );
      this.#drawInput();
      this.#show([noticeLine("Your text is back in the input line.")]);
    }, () => {
      if (this.#refusedText === text) this.#refusedText = undefined;
    });
  }

  /** `/send PATH`: a file from disk to the current room. */
  #sendFile(args: string): void {
    if (args === "") return this.#show([errorLine("usage: /send PATH")]);
    const path = sendPath(args);
    localFile(path).then(
      (source) => this.#upload(source),
      (error) => this.#show([errorLine(`not sent: ${error.message}`)]),
    );
  }

  /** Uploads `source` to the current room, with progress in the status line. */
  #upload(
    source: FileSource,
    failed?: () => void,
    sent?: () => void,
  ): void {
    if (this.#transfer !== undefined) {
      this.#show([errorLine(
        `wait for ${this.#transfer} to finish, then send ${source.name}`,
      )]);
      return failed?.();
    }
    const what = describeFile(source);
    this.#show([noticeLine(`uploading ${what}…`)]);
    this.#setTransfer(`sending ${source.name}`);
    shareFile(
      this.#session.target,
      (frame) => this.#session.requestUpload(frame),
      source,
      this.#session.room,
      (done, total) =>
        this.#setTransfer(
          `sending ${source.name} ${percent(done, total)}`,
        ),
    ).then(() => {
      this.#setTransfer(undefined);
      this.#show([noticeLine(`sent ${what}`)]);
      sent?.();
    }, (error) => {
      this.#setTransfer(undefined);
      this.#show([errorLine(`not sent: ${error.message}`)]);
      failed?.();
    });
  }

  /** `/get [ID]`: a shared file into the current folder, never overwriting. */
  #getFile(args: string): void {
    if (this.#transfer !== undefined) {
      return this.#show([errorLine(`wait for ${this.#transfer} to finish`)]);
    }
    const id = args.trim() === "" ? undefined : args.trim();
    this.#setTransfer(`fetching ${id ?? "the newest file"}`);
    let dir: string;
    try {
      dir = Deno.cwd();
    } catch {
      dir = ".";
    }
    getFile(
      this.#session.target,
      this.#seenFiles,
      id,
      this.#session.room,
      dir,
      (done, total) =>
        this.#setTransfer(`fetching ${id ?? "file"} ${percent(done, total)}`),
    ).then((saved) => {
      this.#setTransfer(undefined);
      this.#show([noticeLine(
        `saved ${saved.name} (${formatFileSize(saved.size)}) as ${saved.path}`,
      )]);
    }, (error) => {
      this.#setTransfer(undefined);
      this.#show([errorLine(`not saved: ${error.message}`)]);
    });
  }

  #setTransfer(text: string | undefined): void {
    this.#transfer = text;
    this.#drawStatus();
    this.#drawInput();
  }

  /** `/reply NICK TEXT`: answers NICK's last message in the current room. */
  #reply(args: string, line: string): void {
    const space = args.indexOf(" ");
    if (space <= 0 || args.slice(space + 1).trim() === "") {
      return this.#show([errorLine("usage: /reply NICK TEXT")]);
    }
    const nick = args.slice(0, space).replace(/^@/, "");
    const room = this.#session.room;
    const id = room === undefined
      ? undefined
      : this.#recent.lastFrom(room, nick)?.id;
    if (id === undefined) {
      return this.#show([errorLine(
        `no message from ${nick} in ${room ?? "this room"} to reply to yet`,
      )]);
    }
    this.#send(
      { type: "say", text: args.slice(space + 1), reply_to: id },
      line,
    );
  }

  /**
   * Alt-Up and Alt-Down: picks the message of the current room one further
   * back (or forward) for the next line to answer; marks it on screen and
   * says so above the input line. Forward past the newest puts it down.
   */
  #pickReply(direction: "older" | "newer"): void {
    const room = this.#session.room;
    if (room === undefined) return;
    const from = this.#replyTo;
    const next = direction === "older"
      ? this.#recent.before(room, from?.id)
      : from === undefined
      ? undefined
      : this.#recent.after(room, from.id);
    if (next === undefined && direction === "older") {
      if (from) return this.#write("\x07"); // already the oldest kept
      return this.#show([errorLine(
        `no message in ${room} to reply to yet`,
      )]);
    }
    this.#setReply(next);
  }

  /** Sets (or, with none, puts down) the message the next line answers. */
  #setReply(target?: SeenMessage): void {
    this.#replyTo = target;
    this.#write(this.#screen.setBar(target && replyBarLine(target)));
    this.#write(this.#screen.mark(target?.id));
  }

  /** A pick of another room's message is put down when the room changes. */
  #keepReplyInRoom(): void {
    if (this.#replyTo && this.#replyTo.room !== this.#session.room) {
      this.#setReply();
    }
  }

  /** Alt-N: the N-th room joined becomes current. */
  #switchTo(position: number): void {
    const room = this.#session.rooms[position - 1];
    if (!room) {
      return this.#show([errorLine(
        `you are in ${this.#session.rooms.length} room(s); /join ROOM joins another`,
      )]);
    }
    this.#session.switchTo(room.name);
    this.#showSwitch();
  }

  #showSwitch(): void {
    this.#keepReplyInRoom();
    const room = this.#session.room ?? "";
    this.#show(renderSwitch(room, this.#session.users, this.#viewer().me));
    this.#drawStatus();
    this.#drawInput();
  }

  #send(frame: CommandFrame, typed: string): void {
    switch (this.#session.send(frame, typed)) {
      case "switched":
        return this.#showSwitch();
      case "queued":
        this.#show([pendingLine(typed, this.#viewer(), Date.now())]);
        break;
      case "full":
        this.#show([errorLine(
          `${CONNECT_DEFAULTS.maxPendingLines} lines are already waiting; this one was not kept`,
        )]);
        break;
      case "offline":
        this.#show([errorLine(
          "not connected: try that again once the client has reconnected",
        )]);
        break;
      case "sent":
        break;
    }
    this.#drawStatus();
  }

  #askNick(reason: string | undefined): Promise<string | undefined> {
    this.#nickAnswer = Promise.withResolvers();
    const lines: Line[] = [];
    if (reason) lines.push(errorLine(reason));
    lines.push(noticeLine(
      "Choose a nickname (1-24 letters, digits, _ or -) and press Enter:",
      { bold: true },
    ));
    this.#show(lines);
    this.#drawStatus();
    this.#drawInput();
    return this.#nickAnswer.promise;
  }

  #answerNick(nick: string): void {
    const problem = nickProblem(nick);
    if (problem) return this.#show([errorLine(NICK_PROBLEM_MESSAGES[problem])]);
    const answer = this.#nickAnswer!;
    this.#nickAnswer = undefined;
    answer.resolve(nick);
    this.#drawStatus();
  }

  /** Asks for a password on the input line, which shows none of it. */
  #askPassword(reason: string): Promise<string | undefined> {
    this.#passwordAnswer = Promise.withResolvers();
    this.#show([
      errorLine(reason),
      noticeLine(
        `Type the password for ${
          this.#session.nick ?? "your nickname"
        } and press Enter (it is not shown; Ctrl-C leaves):`,
        { bold: true },
      ),
    ]);
    this.#drawStatus();
    this.#drawInput();
    return this.#passwordAnswer.promise;
  }

  #answerPassword(password: string): void {
    if (password === "") return;
    const answer = this.#passwordAnswer!;
    this.#passwordAnswer = undefined;
    answer.resolve(password);
    this.#drawStatus();
    this.#drawInput();
  }

  #viewer(): { me: string; room?: string } {
    return { me: this.#session.nick ?? "", room: this.#session.room };
  }

  #onWelcome(
    event: WelcomeEvent,
    kind: WelcomeKind,
    history: RoomMessage[],
  ): void {
    for (const message of history) {
      this.#recent.note(message);
      this.#seenFiles.note(message);
    }
    this.#keepReplyInRoom();
    const rendered = renderWelcome(event, kind, history, this.#session.room);
    this.#show(rendered.lines);
    if (rendered.bell) this.#write("\x07");
    this.#drawStatus();
    this.#drawInput();
  }

  #onEvent(event: ServerEvent): void {
    const viewer = this.#viewer();
    if (event.type === "msg") {
      this.#recent.note(event);
      this.#seenFiles.note(event);
    }
    if (event.type === "history") {
      for (const message of event.messages) {
        this.#recent.note(message);
        this.#seenFiles.note(message);
      }
    }
    if (event.type === "part") this.#keepReplyInRoom();
    if (event.type === "recall" && this.#onRecall(event)) return;
    const rendered = renderEvent(event, viewer);
    const lines = [...rendered.lines];
    if (
      event.type === "msg" && event.file && event.from !== viewer.me &&
      !this.#toldAboutGet
    ) {
      this.#toldAboutGet = true;
      lines.push(noticeLine(
        `(save it here with /get ${event.file.id}, or open the link)`,
        { dim: true },
      ));
    }
    if (event.type === "dm" && event.from !== viewer.me) {
      this.#lastDmFrom = event.from;
      if (!this.#toldAboutReply) {
        this.#toldAboutReply = true;
        lines.push(noticeLine("(answer with /r TEXT)", { dim: true }));
      }
    }
    this.#show(lines);
    if (rendered.bell) this.#write("\x07");
    if (
      event.type === "nick" || event.type === "join" ||
      event.type === "leave" || event.type === "who" ||
      event.type === "part" ||
      (event.type === "msg" && event.room !== this.#session.room)
    ) {
      this.#drawStatus();
      this.#drawInput();
    }
  }

  /**
   * A recalled message is taken off the screen where it still is (and its
   * quotes read "(recalled)"); true when that said it, so no notice line
   * is needed.
   */
  #onRecall(event: Extract<ServerEvent, { type: "recall" }>): boolean {
    this.#recent.forget(event.room, event.id);
    if (this.#replyTo?.id === event.id) {
      this.#setReply();
      this.#show([errorLine(
        "the message you were replying to was recalled; your line was kept",
      )]);
    }
    const redrawn = this.#screen.rewrite((lines) => withRecall(lines, event));
    if (redrawn === undefined) return false;
    this.#write(redrawn);
    return true;
  }

  #onState(state: LinkState): void {
    this.#state = state;
    clearInterval(this.#statusTimer);
    if (state.kind === "offline") {
      if (state.reason !== this.#lastReason) {
        this.#lastReason = state.reason;
        this.#show([errorLine(`${state.reason}; retrying`)]);
      }
      // Count down to the next attempt.
      this.#statusTimer = setInterval(() => this.#drawStatus(), 1000);
    } else if (state.kind === "online") {
      this.#lastReason = "";
    }
    this.#drawStatus();
  }

  #write(text: string): void {
    if (!this.#done) writeOut(text);
  }

  #show(lines: Line[]): void {
    this.#write(this.#screen.addLines(lines));
  }

  #drawStatus(): void {
    this.#write(this.#screen.setStatus(noticeStatus(this.#statusText())));
  }

  #statusText(): string {
    const where = formatTarget(this.#options);
    const pending = this.#session.pending;
    const waiting = (pending > 0 ? ` | ${pending} waiting to send` : "") +
      (this.#transfer === undefined ? "" : ` | ${this.#transfer}`);
    if (this.#nickAnswer) return ` ${where} | choose a nickname`;
    if (this.#passwordAnswer) {
      return ` ${where} | password for ${this.#session.nick ?? ""}`;
    }
    const state = this.#state;
    switch (state.kind) {
      case "connecting":
        return ` connecting to ${where}...${waiting}`;
      case "online": {
        const room = this.#session.room;
        if (room === undefined) {
          return ` ${this.#session.nick} | in no room: /join ROOM | ${where}${waiting}`;
        }
        const users = this.#session.userCount;
        return ` [${room}] ${this.#session.nick} | ${users} here${
          otherRooms(this.#session.rooms, room)
        } | ${where}${waiting}`;
      }
      case "offline": {
        const seconds = Math.max(
          0,
          Math.ceil((state.retryAt - Date.now()) / 1000),
        );
        return ` offline, retrying in ${seconds}s (attempt ${
          state.attempt + 1
        })${waiting} | ${state.reason}`;
      }
      case "closed":
        return ` disconnected${waiting}`;
    }
  }

  /** The room the prompt names: the current one, or where the client is headed. */
  #promptRoom(): string {
    const room = this.#session.room;
    if (room !== undefined) return room;
    return this.#state.kind === "online"
      ? "no room"
      : this.#options.room ?? "chat";
  }

  #drawInput(): void {
    if (this.#passwordAnswer) {
      // No echo: the prompt alone, whatever has been typed.
      return this.#write(
        this.#screen.setInput({ prompt: "password> ", cells: [], cursor: 0 }),
      );
    }
    const editor = this.#editor;
    const prompt = this.#nickAnswer
      ? "nickname> "
      : `[${this.#promptRoom()}] ${this.#session.nick ?? ""}> `;
    this.#write(this.#screen.setInput({
      prompt,
      cells: editor.cells,
      cursor: editor.cursor,
    }));
  }
}

/** `45%`: how far a transfer is. */
function percent(done: number, total: number): string {
  return total > 0 ? `${Math.floor((done / total) * 100)}%` : "";
}

/** `| also class (2 unread), games`: the rooms besides the current one. */
function otherRooms(
  rooms: readonly { name: string; unread: number }[],
  current: string | undefined,
): string {
  const others = rooms.filter((r) => r.name !== current);
  if (others.length === 0) return "";
  return ` | also ${
    others.map((r) => r.unread > 0 ? `${r.name} (${r.unread} unread)` : r.name)
      .join(", ")
  }`;
}

function noticeStatus(text: string): Line {
  return { spans: [{ text }], indent: 0 };
}
