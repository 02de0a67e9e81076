/**
 * The JSON door: one JSON frame a line in, one JSON event a line out
 * (docs/protocol.md). `chat connect`, bots and the browser's WebSocket
 * speak it; a connection becomes JSON when its first line is a `{`.
 *
 * @module
 */

import {
  type ErrorCode,
  JSON_LINES,
  parseClientFrame,
} from "../../../../protocol.ts";
import { COMMAND_COSTS } from "../../admission.ts";
import type { HelloRequest, Outgoing, OutgoingBatch } from "../../hub.ts";
import type { Dialect, DoorLink } from "../dialect.ts";

/** A JSON-lines connection's dialect. */
export class JsonDialect implements Dialect {
  #link: DoorLink;
  /** JSON is UTF-8 by the protocol: no telnet, no guessing. */
  readonly readsLegacyText = false;
  /** A JSON client frames its lines: its replies are never cut small. */
  readonly writesSmall = false;

  /** @param link the connection it speaks on. */
  constructor(link: DoorLink) {
    this.#link = link;
  }

  /** A JSON client speaks first: no banner. */
  greet(): void {}

  /** Nothing waits for a JSON client's first bytes. */
  heard(): void {}

  /** One line: a frame, the hello first. */
  receiveLine(line: string): void {
    if (line.trim() === "") return;
    const link = this.#link;
    const policy = link.policy;
    const parsed = parseClientFrame(line);
    if (!parsed.ok) {
      if (!policy.allow(COMMAND_COSTS.invalid)) return;
      return link.sendError(parsed.code, parsed.message);
    }
    const frame = parsed.frame;
    if (frame.type === "hello") {
      if (link.session) {
        if (!policy.allow(COMMAND_COSTS.invalid)) return;
        return link.sendError("already_joined");
      }
      const request: HelloRequest = {
        nick: frame.nick,
        room: frame.room,
        since: frame.since,
        rooms: frame.rooms,
      };
      const account = link.settings.hub.accounts.find(frame.nick.trim());
      if (account && !frame.password) {
        // No password at all is no guess: the client is told what is
        // needed, on a connection that stays open for a hello that has it,
        // so `chat connect` can ask its user (only a wrong one is slowed).
        if (!policy.allow(COMMAND_COSTS.invalid)) return;
        return link.sendError(
          "account_password",
          `${account.nick} is a registered nickname: its password is needed`,
        );
      }
      return policy.signIn(request, frame.password ?? "", frame.nick.trim());
    }
    if (!link.session) {
      if (!policy.allow(COMMAND_COSTS.invalid)) return;
      return link.sendError("not_ready");
    }
    policy.command(frame);
  }

  /** Queues one event as a JSON line. */
  deliver(out: Outgoing): void {
    for (const part of out.parts(JSON_LINES)) this.#link.enqueue(part);
  }

  /** Queues a tick's room messages, JSON lines back to back. */
  deliverBatch(batch: OutgoingBatch): void {
    this.#link.enqueue(batch.bytes(JSON_LINES), true);
  }

  /** The `error` event says it all: the client may send another hello. */
  helloRefused(code: ErrorCode, message: string): void {
    this.#link.sendError(code, message);
  }

  /** No timers of its own. */
  close(): void {}
}
