/**
 * The interactive client for a terminal (first version: line mode).
 *
 * @module
 */

import { LineStream } from "../protocol.ts";
import type { ConnectOptions } from "../client.ts";
import { ChatLink } from "./chat_link.ts";
import { helpLines, parseTypedLine } from "./commands.ts";
import { renderText } from "./text_dialect.ts";

/** Runs the interactive client until the user quits; returns the exit code. */
export async function runTerminalClient(
  options: ConnectOptions,
): Promise<number> {
  let link: ChatLink;
  try {
    link = await ChatLink.open(options);
  } catch (error) {
    console.error(`chat: ${(error as Error).message}`);
    return 1;
  }
  const input = Deno.stdin.readable.pipeThrough(new LineStream()).getReader();
  let nick = options.nick;
  for (;;) {
    if (!nick) {
      Deno.stdout.writeSync(new TextEncoder().encode("Nickname: "));
      const { value, done } = await input.read();
      if (done) return 0;
      nick = value.trim();
    }
    const welcome = await link.hello({
      nick,
      room: options.room,
      password: options.password,
    });
    if (welcome.type === "welcome") {
      Deno.stdout.writeSync(new TextEncoder().encode(renderText(welcome)));
      break;
    }
    console.error(`! ${welcome.message}`);
    if (welcome.code === "bad_password") return 1;
    nick = undefined;
  }
  const reading = (async () => {
    for (;;) {
      const event = await link.next();
      if (event === undefined) return;
      const text = typeof event === "string" ? event + "\n" : renderText(event);
      Deno.stdout.writeSync(new TextEncoder().encode(text));
    }
  })();
  for (;;) {
    const { value, done } = await input.read();
    if (done) break;
    if (value.trim() === "") continue;
    const typed = parseTypedLine(value);
    if (typed.kind === "say") {
      await link.send({ type: "say", text: typed.text });
    } else if (typed.kind === "unknown") {
      console.error(`! unknown command ${typed.name}`);
    } else if (typed.command.name === "/help") {
      console.log(helpLines().join("\n"));
    } else if (typed.command.toFrame) {
      const frame = typed.command.toFrame(typed.args);
      if (typeof frame === "string") console.error(`! ${frame}`);
      else {
        await link.send(frame);
        if (frame.type === "quit") break;
      }
    }
  }
  await Promise.race([reading, new Promise((r) => setTimeout(r, 1000))]);
  link.close();
  return 0;
}
