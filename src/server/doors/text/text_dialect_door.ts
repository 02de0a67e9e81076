/**
 * The text door: a person on `nc` or telnet, or a tutorial program. The
 * server greets with a banner, asks `Nickname?` (and `Password?` when one is
 * needed), then reads lines of chat and slash commands; events read as the
 * text dialect renders them (src/shared/text_dialect.ts), a room other than
 * the current one named on each line.
 *
 * It is also where a connection starts when the door router saw nothing
 * decisive: its first line that is not blank decides, and a `{` hands the
 * connection to the JSON dialect (a client that waited for the banner).
 *
 * A tutorial program that sends without newlines (its lines cut by the
 * idle rule, src/server/doors/unframed.ts) is named by its first send, or
 * given a guest name, has its own name prefix and its quit words
 * understood, and reads short replies and a short history.
 *
 * @module
 */

import {
  type ErrorCode,
  type EventEncoder,
  nickErrorMessage,
} from "../../../../protocol.ts";
import { helpLines, mayUse, parseTypedLine } from "../../../shared/commands.ts";
import {
  TEXT_LINES,
  TEXT_LINES_OTHER_ROOM,
} from "../../../shared/text_dialect.ts";
import { COMPAT_LIMITS } from "../../../shared/limits.ts";
import { cleanText } from "../../../shared/sanitize.ts";
import { COMMAND_COSTS } from "../../admission.ts";
import { GuestNames } from "../../guest_names.ts";
import { Outgoing, type OutgoingBatch } from "../../hub.ts";
import type { Dialect, DoorLink } from "../dialect.ts";
import { JsonDialect } from "../json/json_dialect.ts";
import {
  isQuitWord,
  nameFirstSend,
  shortHistory,
  stripOwnPrefix,
} from "../unframed.ts";

const encoder = new TextEncoder();
/** Guest names when the server passes no generator of its own. */
const defaultGuests = new GuestNames();

/** The text door on one connection, from its banner on. */
export class TextDialectDoor implements Dialect {
  #link: DoorLink;
  /** False until the first line that is not blank chose text or JSON. */
  #chosen = false;
  /** Before the hello: asking the nickname, or that nickname's password. */
  #stage: "nick" | "password" = "nick";
  #pendingNick = "";
  /** Its input came unframed: replies are cut small, history is short. */
  #unframedPeer = false;
  /** The name an unframed client chose, kept to strip it as a prefix. */
  #chosenNick = "";
  #bannerRest: string | undefined;
  /**
   * The oldest message id shown in each room (by its welcome or a page of
   * `/history`): where the next `/history` goes on from.
   */
  #oldestShown = new Map<string, number>();
  #bannerTimer: ReturnType<typeof setTimeout> | undefined;
  /** A person's terminal: telnet may be negotiated, GB18030 guessed. */
  readonly readsLegacyText = true;

  /** @param link the connection it speaks on. */
  constructor(link: DoorLink) {
    this.#link = link;
  }

  /** True once the peer sent unframed: writes then fit a `recv(1024)`. */
  get writesSmall(): boolean {
    return this.#unframedPeer;
  }

  /**
   * The banner line; with `--compat`, `NICK` goes first as a write of its
   * own (the tutorial client answers only a read that is exactly `NICK`),
   * and the rest of the same line follows after a short wait or as soon as
   * the client speaks, so line readers still see one banner line.
   */
  greet(): void {
    const settings = this.#link.settings;
    if (!settings.nickFirst) return this.#link.writeLine(settings.banner);
    this.#link.enqueue(encoder.encode("NICK"));
    this.#bannerRest = ` - ${settings.banner}`;
    this.#bannerTimer = setTimeout(
      () => this.#sendBannerRest(),
      COMPAT_LIMITS.nickWaitMs,
    );
  }

  /** The first bytes from the peer: the rest of the banner, at once. */
  heard(): void {
    this.#sendBannerRest();
  }

  #sendBannerRest(): void {
    clearTimeout(this.#bannerTimer);
    if (this.#bannerRest === undefined) return;
    this.#link.writeLine(this.#bannerRest);
    this.#bannerRest = undefined;
  }

  /** One line: the nickname, the password, or chat once a member. */
  receiveLine(line: string, unframed: boolean): void {
    if (!this.#chosen) {
      if (line.trim() === "") return; // Blank lines before a nick are noise.
      this.#chosen = true;
      if (line.trimStart().startsWith("{")) {
        const json = new JsonDialect(this.#link);
        this.#link.switchDialect(json);
        return json.receiveLine(line);
      }
    }
    if (unframed) this.#receiveUnframed(line);
    else this.#receiveText(line);
  }

  /** Queues one event as text (a tutorial program gets a short history). */
  deliver(out: Outgoing): void {
    if (this.#unframedPeer && out.event.type === "welcome") {
      // A program reads a short history and has no use for /history.
      const { more: _more, ...event } = out.event;
      out = new Outgoing(shortHistory(event, COMPAT_LIMITS.unframedHistory));
    }
    this.#noteOldest(out.event);
    const room = out.event.type === "msg" ? out.event.room : undefined;
    for (const part of out.parts(this.#encoderFor(room))) {
      this.#link.enqueue(part);
    }
  }

  /** Remembers the oldest message a welcome or a page of history showed. */
  #noteOldest(event: Outgoing["event"]): void {
    if (event.type !== "welcome" && event.type !== "history") return;
    const shown = event.type === "welcome" ? event.history : event.messages;
    const oldest = shown[0]?.id;
    if (oldest === undefined) return;
    // A welcome starts the room over; a page goes further back.
    const known = this.#oldestShown.get(event.room);
    if (event.type === "welcome" || known === undefined || oldest < known) {
      this.#oldestShown.set(event.room, oldest);
    }
  }

  /** Queues a tick's room messages as one chunk. */
  deliverBatch(batch: OutgoingBatch): void {
    this.#link.enqueue(batch.bytes(this.#encoderFor(batch.room)), true);
  }

  /** The refusal, then the question again. */
  helloRefused(code: ErrorCode, message: string): void {
    this.#stage = "nick";
    this.#link.sendError(code, message);
    this.#link.writeLine("Nickname?");
  }

  /** Stops the banner's timer. */
  close(): void {
    clearTimeout(this.#bannerTimer);
  }

  /**
   * The encoder for a room message of `room`: another room than the
   * member's current one is named on each line, a second encoding shared
   * by every member reading it from elsewhere.
   */
  #encoderFor(room: string | undefined): EventEncoder {
    const session = this.#link.session;
    return room !== undefined && session !== undefined && room !== session.room
      ? TEXT_LINES_OTHER_ROOM
      : TEXT_LINES;
  }

  #receiveText(line: string): void {
    const link = this.#link;
    if (link.session) return this.#receiveCommand(line);
    // Before the nickname too: a line of GBK may have settled it wrongly.
    const typed = this.#stage === "nick" && parseTypedLine(line.trim(), "text");
    if (typed && typed.kind === "command" && typed.command.door === "text") {
      return this.#chooseCharset(typed.args);
    }
    const policy = link.policy;
    if (this.#stage === "nick") {
      const nick = line.trim();
      const refusal = link.settings.hub.checkNick(nick);
      if (refusal) {
        if (!policy.allow(COMMAND_COSTS.invalid)) return;
        link.sendError(refusal, nickErrorMessage(refusal, nick));
        return link.writeLine("Nickname?");
      }
      if (policy.needsPassword(nick)) {
        this.#pendingNick = nick;
        this.#stage = "password";
        link.hideInput(true);
        return link.writeLine("Password?");
      }
      return policy.hello({ nick });
    }
    link.hideInput(false);
    const nick = this.#pendingNick;
    policy.signIn({ nick }, line.trim(), nick);
  }

  #receiveCommand(line: string): void {
    if (line.trim() === "") return;
    const link = this.#link;
    const policy = link.policy;
    const typed = parseTypedLine(line, "text");
    if (typed.kind === "say") {
      return policy.command({ type: "say", text: typed.text });
    }
    if (typed.kind === "unknown") {
      if (!policy.allow(COMMAND_COSTS.invalid)) return;
      return link.sendError(
        "unknown_command",
        `unknown command ${cleanText(typed.name.slice(0, 40))} (try /help)`,
      );
    }
    if (typed.command.name === "/help") {
      if (!policy.allow(COMMAND_COSTS.help)) return;
      const role = link.settings.hub.roleIn(link.session!);
      return link.writeLine(
        [
          "* Commands:",
          ...helpLines((c) =>
            (c.toFrame !== undefined || c.door === "text") && mayUse(c, role)
          ),
        ].join("\n"),
      );
    }
    if (typed.command.name === "/charset") {
      return this.#chooseCharset(typed.args);
    }
    if (typed.command.name === "/history") return this.#history(typed.args);
    if (!typed.command.toFrame) {
      if (!policy.allow(COMMAND_COSTS.invalid)) return;
      return link.sendError(
        "unknown_command",
        `${typed.command.name} works in the chat client only`,
      );
    }
    const frame = typed.command.toFrame(typed.args);
    if (typeof frame === "string") {
      if (!policy.allow(COMMAND_COSTS.invalid)) return;
      return link.sendError("bad_frame", frame);
    }
    policy.command(frame);
  }

  /**
   * `/history [COUNT]`: the messages of the current room before the oldest
   * this connection was shown; again, the ones before those.
   */
  #history(args: string): void {
    const link = this.#link;
    if (args !== "" && !/^\d{1,4}$/.test(args)) {
      if (!link.policy.allow(COMMAND_COSTS.invalid)) return;
      return link.sendError("bad_frame", "usage: /history [COUNT]");
    }
    const room = link.session!.room;
    const before = room === undefined ? undefined : this.#oldestShown.get(room);
    link.policy.command({
      type: "history",
      ...(room === undefined ? {} : { room }),
      ...(before === undefined ? {} : { before }),
      ...(args === "" ? {} : { limit: Math.max(1, Number(args)) }),
    });
  }

  /** `/charset NAME`: the user says how their terminal writes text. */
  #chooseCharset(args: string): void {
    const link = this.#link;
    if (!link.policy.allow(COMMAND_COSTS.help)) return;
    const result = link.charset.command(args);
    if ("usage" in result) return link.sendError("bad_frame", result.usage);
    link.writeLine(result.notice);
  }

  #receiveUnframed(line: string): void {
    this.#unframedPeer = true;
    const link = this.#link;
    if (link.session) return this.#receiveUnframedMessage(line);
    // With a password the ordinary handshake runs: a guest cannot prove it.
    if (this.#stage !== "nick" || link.settings.password !== undefined) {
      return this.#receiveText(line);
    }
    const text = line.trim();
    if (text === "") return;
    const hub = link.settings.hub;
    const named = nameFirstSend(
      text,
      (nick) => hub.checkNick(nick),
      link.settings.guests ?? defaultGuests,
    );
    if (named.chosenNick !== undefined) {
      this.#chosenNick = named.chosenNick;
      return link.policy.hello({ nick: named.nick });
    }
    link.policy.hello(
      { nick: named.nick },
      () => this.#receiveUnframedMessage(line),
    );
  }

  /** A message from an unframed peer: its own name prefix off, quit words. */
  #receiveUnframedMessage(line: string): void {
    const link = this.#link;
    const text = stripOwnPrefix(line, [link.session!.nick, this.#chosenNick]);
    if (isQuitWord(text)) {
      return link.close("quit", { type: "bye", reason: "goodbye" });
    }
    this.#receiveCommand(text);
  }
}
