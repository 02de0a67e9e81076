/**
 * `chat connect`: the terminal client on a terminal, pipe mode otherwise.
 *
 * @module
 */

import { LineStream, type ServerEvent, type UploadFrame } from "./protocol.ts";
import { ChatLink, LinkError, withTimeout } from "./src/client/chat_link.ts";
import {
  pasteFileName,
  shareFile,
  textFile,
  type UploadAnswer,
} from "./src/client/file_sharing.ts";
import { PROTOCOL_LIMITS } from "./src/shared/limits.ts";
import { characterCount, lineCount } from "./src/shared/sanitize.ts";
import type { ConnectOptions } from "./src/client/connect_options.ts";
import { TokenBucket } from "./src/shared/rate_limiter.ts";
import { runTerminalClient } from "./src/client/terminal_client.ts";
import { renderText } from "./src/shared/text_dialect.ts";

export type { ConnectOptions };

/** Runs `chat connect`; returns the process exit code. */
export async function connect(options: ConnectOptions): Promise<number> {
  if (Deno.stdin.isTerminal() && Deno.stdout.isTerminal()) {
    return await runTerminalClient(options);
  }
  return await runPipeClient(options);
}

const encoder = new TextEncoder();
/**
 * Pipe mode reads lines this long: a line longer than a message goes up as
 * a text file, so nothing is lost up to the server's --max-file-size.
 */
const PIPE_MAX_LINE_BYTES = 64 * 1024 * 1024;
/** How long the server may take to answer an `upload`. */
const UPLOAD_ANSWER_MS = 15_000;

/** True when a line cannot be one message: it goes as a text file instead. */
function overMessageLimits(line: string): boolean {
  return (line.length > PROTOCOL_LIMITS.maxTextChars &&
    characterCount(line) > PROTOCOL_LIMITS.maxTextChars) ||
    lineCount(line) > PROTOCOL_LIMITS.maxTextLines;
}

/**
 * Pipe mode: each stdin line is sent as a message (a line too long for one
 * is sent as a text file), events are printed one per line, and at EOF the
 * client waits for the echo of every message it sent (the server's
 * receipt) before it exits 0.
 */
export async function runPipeClient(options: ConnectOptions): Promise<number> {
  const print = (event: ServerEvent, raw?: string) => {
    const text = options.json
      ? (raw ?? JSON.stringify(event)) + "\n"
      : renderText(event);
    Deno.stdout.writeSync(encoder.encode(text));
  };
  if (!options.nick) {
    console.error("chat: --nick is needed when stdin is not a terminal");
    return 2;
  }
  let link: ChatLink;
  try {
    link = await ChatLink.open(options);
  } catch (error) {
    console.error(`chat: ${(error as Error).message}`);
    return 1;
  }
  try {
    const welcome = await link.hello({
      nick: options.nick,
      room: options.room,
      password: options.password,
    });
    if (welcome.type === "error") {
      console.error(`chat: ${refusalWording(welcome, options)}`);
      link.close();
      return 1;
    }
    print(welcome);
    const me = welcome.nick;
    let outstanding = 0;
    let inputDone = false;
    /** Lines that could not be sent even as a file: the exit code says so. */
    let failed = 0;
    const uploadWaiters: PromiseWithResolvers<UploadAnswer>[] = [];
    const askUpload = async (frame: UploadFrame): Promise<UploadAnswer> => {
      const waiter = Promise.withResolvers<UploadAnswer>();
      uploadWaiters.push(waiter);
      try {
        await link.send(frame);
        return await withTimeout(
          waiter.promise,
          UPLOAD_ANSWER_MS,
          () => new Error("the server did not answer the upload"),
        );
      } catch (error) {
        return { type: "error", message: (error as Error).message };
      } finally {
        const at = uploadWaiters.indexOf(waiter);
        if (at !== -1) uploadWaiters.splice(at, 1);
      }
    };
    const allEchoed = Promise.withResolvers<void>();
    const checkDone = () => {
      if (inputDone && outstanding === 0) allEchoed.resolve();
    };

    const reading = (async () => {
      for (;;) {
        const event = await link.next();
        if (event === undefined) return "closed";
        if (typeof event === "string") {
          console.error(event);
          continue;
        }
        // The answer to an upload goes to the line that asked.
        if (
          (event.type === "upload_ready" || event.type === "error") &&
          uploadWaiters.length > 0
        ) {
          uploadWaiters.shift()!.resolve(event);
          continue;
        }
        print(event);
        if (event.type === "msg" && event.from === me) outstanding--;
        if (event.type === "error" && outstanding > 0) outstanding--;
        if (event.type === "bye") return "bye";
        checkDone();
      }
    })();

    const bucket = new TokenBucket({
      rate: welcome.server.rate ?? 0,
      burst: welcome.server.burst ?? 1,
    });
    const sending = (async () => {
      const lines = Deno.stdin.readable.pipeThrough(
        new LineStream(PIPE_MAX_LINE_BYTES),
      );
      for await (const line of lines) {
        if (line.trim() === "") continue;
        while (!bucket.take()) await sleep(50);
        outstanding++;
        if (!overMessageLimits(line)) {
          await link.send({ type: "say", text: line });
          continue;
        }
        const name = pasteFileName();
        try {
          await shareFile(
            options,
            askUpload,
            textFile(line, name),
            options.room,
          );
          console.error(
            `chat: a line of ${
              characterCount(line)
            } characters was too long for a message: sent as ${name}`,
          );
        } catch (error) {
          outstanding--;
          failed++;
          console.error(
            `chat: a line of ${characterCount(line)} characters was not sent: ${
              (error as Error).message
            }`,
          );
        }
      }
      inputDone = true;
      checkDone();
    })();

    const outcome = await Promise.race([
      reading,
      sending.then(() => allEchoed.promise).then(() => "done" as const),
    ]);
    if (outcome === "done") {
      await link.send({ type: "quit" }).catch(() => {});
      await Promise.race([reading, sleep(2000)]);
      link.close();
      return failed > 0 ? 1 : 0;
    }
    link.close();
    if (outstanding > 0 || !inputDone) {
      console.error(
        `chat: the server closed the connection${
          outstanding > 0 ? `; ${outstanding} message(s) not confirmed` : ""
        }`,
      );
      return 1;
    }
    return 0;
  } catch (error) {
    link.close();
    if (error instanceof LinkError) {
      console.error(`chat: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

/**
 * Why the hello was refused, for a bot's log: a password that is needed
 * (a registered nickname's, or the server's) says how to give it, since
 * pipe mode cannot ask for it.
 */
function refusalWording(
  refusal: Extract<ServerEvent, { type: "error" }>,
  options: ConnectOptions,
): string {
  const give = "give it with --password PW or in the CHAT_PASSWORD variable";
  if (refusal.code === "account_password") return `${refusal.message}; ${give}`;
  if (refusal.code === "bad_password" && options.password === undefined) {
    return `this server needs a password: ${give}`;
  }
  return refusal.message;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
