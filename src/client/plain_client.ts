/**
 * The interactive client for a terminal that cannot move its cursor
 * (`TERM=dumb`, or no TERM): the terminal's own line editing, and each event
 * printed as one plain line, with no escape sequence at all. It shares the
 * session (reconnect, resume, outbox) and the commands with the full-screen
 * client.
 *
 * @module
 */

import type { ConnectOptions } from "./connect_options.ts";
import { LineStream, NICK_PROBLEM_MESSAGES } from "../../protocol.ts";
import { formatTarget } from "./chat_link.ts";
import { ChatSession } from "./chat_session.ts";
import { helpLines, parseTypedLine } from "../shared/commands.ts";
import { characterCount, lineCount, nickProblem } from "../shared/sanitize.ts";
import { PROTOCOL_LIMITS } from "../shared/limits.ts";
import { formatFileSize } from "../shared/file_names.ts";
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
import {
  errorLine,
  type Line,
  noticeLine,
  pendingLine,
  plainText,
  renderEvent,
  renderSwitch,
  renderWelcome,
} from "./terminal_render.ts";

const encoder = new TextEncoder();

function print(lines: Line[], bell = false): void {
  const text = lines.map((line) => plainText(line) + "\n").join("");
  Deno.stdout.writeSync(encoder.encode(text + (bell ? "\x07" : "")));
}

/**
 * What was typed with echo off (raw mode, so the terminal edits nothing):
 * Backspace takes back a character and Ctrl-U the line; `undefined` for
 * Ctrl-C or Ctrl-D, which leave.
 *
 * @example
 * ```ts
 * typedInRaw("secrx\x7ft"); // → "secret"
 * ```
 */
export function typedInRaw(keys: string): string | undefined {
  let typed: string[] = [];
  for (const key of keys) {
    if (key === "\x03" || key === "\x04") return undefined;
    if (key === "\x7f" || key === "\b") typed.pop();
    else if (key === "\x15") typed = [];
    else if (key >= " ") typed.push(key);
  }
  return typed.join("");
}

/** Runs the line-mode client; returns the exit code. */
export async function runPlainClient(options: ConnectOptions): Promise<number> {
  // While a password is typed the terminal is in raw mode, so nothing is
  // echoed; Enter then sends CR alone, which ends the line as LF would.
  let hiding = false;
  const input = Deno.stdin.readable
    .pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          if (!hiding) return controller.enqueue(chunk);
          // Ctrl-C and Ctrl-D end the line too: they leave at once.
          const bytes: number[] = [];
          for (const b of chunk) {
            if (b === 0x0d) bytes.push(0x0a);
            else if (b === 0x03 || b === 0x04) bytes.push(b, 0x0a);
            else bytes.push(b);
          }
          controller.enqueue(new Uint8Array(bytes));
        },
      }),
    )
    .pipeThrough(new LineStream()).getReader();
  const readLine = async (): Promise<string | undefined> => {
    const { value, done } = await input.read();
    return done ? undefined : value;
  };
  const setEcho = (on: boolean) => {
    hiding = !on;
    try {
      Deno.stdin.setRaw(!on);
    } catch { /* not a terminal: nothing to hide from */ }
  };
  let lastReason = "";
  let leaving = false;
  let lastDmFrom: string | undefined;
  /** The last line refused as too long: what `/paste-file` alone sends. */
  let refusedText: string | undefined;
  const seenFiles = new SeenFiles();
  let nickAnswer: PromiseWithResolvers<string | undefined> | undefined;
  let passwordAnswer: PromiseWithResolvers<string | undefined> | undefined;
  const session: ChatSession = new ChatSession({
    target: options,
    nick: options.nick,
    room: options.room,
    password: options.password,
  }, {
    welcome: (event, kind, history) => {
      for (const message of history) seenFiles.note(message);
      const rendered = renderWelcome(event, kind, history, session.room);
      print(rendered.lines, rendered.bell);
    },
    event: (event) => {
      if (leaving && event.type === "bye") return; // the user knows
      if (event.type === "msg") seenFiles.note(event);
      const rendered = renderEvent(event, {
        me: session.nick ?? "",
        room: session.room,
      });
      if (event.type === "dm" && event.from !== session.nick) {
        lastDmFrom = event.from;
      }
      print(rendered.lines, rendered.bell);
    },
    notice: (text) => print([noticeLine(text)]),
    state: (state) => {
      if (state.kind === "offline" && state.reason !== lastReason) {
        lastReason = state.reason;
        print([errorLine(`${state.reason}; retrying`)]);
      } else if (state.kind === "online") {
        lastReason = "";
      }
    },
    sent: () => {},
    askNick: (reason) => {
      if (reason) print([errorLine(reason)]);
      Deno.stdout.writeSync(encoder.encode("Nickname: "));
      nickAnswer = Promise.withResolvers();
      return nickAnswer.promise;
    },
    askPassword: (reason) => {
      print([errorLine(reason)]);
      Deno.stdout.writeSync(
        encoder.encode(`Password for ${session.nick ?? ""} (not shown): `),
      );
      setEcho(false);
      passwordAnswer = Promise.withResolvers();
      return passwordAnswer.promise;
    },
  });
  print([noticeLine(`connecting to ${formatTarget(options)}...`)]);
  const running = session.run();
  const typing = (async () => {
    for (;;) {
      const line = await readLine();
      if (line === undefined) {
        nickAnswer?.resolve(undefined);
        passwordAnswer?.resolve(undefined);
        return undefined;
      }
      if (passwordAnswer) {
        setEcho(true);
        Deno.stdout.writeSync(encoder.encode("\n"));
        const answer = passwordAnswer;
        passwordAnswer = undefined;
        const password = typedInRaw(line)?.trim();
        if (password === undefined) {
          answer.resolve(undefined);
          return undefined;
        }
        answer.resolve(password);
        continue;
      }
      if (nickAnswer) {
        // One reader for both: the session is asking for a nickname.
        const problem = nickProblem(line.trim());
        if (problem) {
          print([errorLine(NICK_PROBLEM_MESSAGES[problem])]);
          Deno.stdout.writeSync(encoder.encode("Nickname: "));
          continue;
        }
        const answer = nickAnswer;
        nickAnswer = undefined;
        answer.resolve(line.trim());
        continue;
      }
      if (line.trim() === "") continue;
      const typed = parseTypedLine(line);
      if (typed.kind === "command" && typed.command.name === "/paste-file") {
        const text = typed.args === ""
          ? refusedText
          : line.replace(/^\/paste-file\s?/, "");
        if (text === undefined) {
          print([errorLine("usage: /paste-file TEXT")]);
        } else {
          upload(textFile(text, pasteFileName()));
          if (text === refusedText) refusedText = undefined;
        }
        continue;
      }
      const problem = tooLong(line);
      if (problem) {
        refusedText = line;
        print([errorLine(
          `not sent: ${problem}. /paste-file sends it as a text file.`,
        )]);
        continue;
      }
      if (typed.kind === "command" && typed.command.name === "/send") {
        if (typed.args === "") print([errorLine("usage: /send PATH")]);
        else {
          localFile(sendPath(typed.args)).then(
            upload,
            (error) => print([errorLine(`not sent: ${error.message}`)]),
          );
        }
        continue;
      }
      if (typed.kind === "command" && typed.command.name === "/get") {
        const id = typed.args === "" ? undefined : typed.args;
        print([noticeLine(`fetching ${id ?? "the newest file"}…`)]);
        getFile(session.target, seenFiles, id, session.room, Deno.cwd()).then(
          (saved) =>
            print([noticeLine(
              `saved ${saved.name} (${
                formatFileSize(saved.size)
              }) as ${saved.path}`,
            )]),
          (error) => print([errorLine(`not saved: ${error.message}`)]),
        );
        continue;
      }
      if (typed.kind === "say") {
        send({ type: "say", text: typed.text }, line);
      } else if (typed.kind === "unknown") {
        print([errorLine(`unknown command ${typed.name} (try /help)`)]);
      } else if (typed.command.name === "/help") {
        print(helpLines().map((text) => noticeLine(text)));
      } else if (typed.command.name === "/quit") {
        return typed.args === "" ? undefined : typed.args;
      } else if (typed.command.name === "/r") {
        if (lastDmFrom === undefined || typed.args === "") {
          print([errorLine("usage: /r TEXT, after someone messaged you")]);
        } else {
          send({ type: "dm", to: lastDmFrom, text: typed.args }, line);
        }
      } else if (typed.command.toFrame) {
        const frame = typed.command.toFrame(typed.args);
        if (typeof frame === "string") print([errorLine(frame)]);
        else send(frame, line);
      }
    }
  })();
  /** Shares a file with the current room, saying how it went. */
  function upload(source: FileSource): void {
    const what = describeFile(source);
    print([noticeLine(`uploading ${what}…`)]);
    shareFile(
      session.target,
      (frame) => session.requestUpload(frame),
      source,
      session.room,
    ).then(
      () => print([noticeLine(`sent ${what}`)]),
      (error) => print([errorLine(`not sent: ${error.message}`)]),
    );
  }
  function send(
    frame: Parameters<ChatSession["send"]>[0],
    typed: string,
  ): void {
    const result = session.send(frame, typed);
    if (result === "switched") {
      print(
        renderSwitch(session.room ?? "", session.users, session.nick ?? ""),
      );
    } else if (result === "queued") {
      print([pendingLine(typed, { me: session.nick ?? "" }, Date.now())]);
    } else if (result === "full") {
      print([errorLine("too many lines waiting; this one was not kept")]);
    } else if (result === "offline") {
      print([errorLine("not connected: try that again once reconnected")]);
    }
  }
  const outcome = await Promise.race([
    running.then((end) => ({ end })),
    typing.then((reason) => ({ reason })),
  ]);
  if (hiding) setEcho(true);
  if ("end" in outcome) {
    if (outcome.end.message) console.error(`chat: ${outcome.end.message}`);
    return outcome.end.code;
  }
  leaving = true;
  await session.quit(outcome.reason);
  return 0;
}

/** Why a typed line cannot be one message, or `undefined` when it can. */
function tooLong(line: string): string | undefined {
  const chars = line.length > PROTOCOL_LIMITS.maxTextChars
    ? characterCount(line)
    : 0;
  // `/msg NICK ` and `/reply NICK ` are not part of the message.
  const slack = line.startsWith("/") ? 60 : 0;
  if (chars > PROTOCOL_LIMITS.maxTextChars + slack) {
    return `${chars} characters, a message holds at most ${PROTOCOL_LIMITS.maxTextChars}`;
  }
  const lines = lineCount(line);
  if (lines > PROTOCOL_LIMITS.maxTextLines) {
    return `${lines} lines, a message holds at most ${PROTOCOL_LIMITS.maxTextLines}`;
  }
  return undefined;
}
