/**
 * The room messages the terminal client has shown lately, per room, in id
 * order: what a reply can answer without typing an id. `/reply NICK` takes
 * NICK's last one; Alt-Up and Alt-Down walk back and forth through them.
 * Pure and bounded: only the start of each text is kept.
 *
 * @module
 */

import type { RoomMessage } from "../../protocol.ts";
import { CONNECT_DEFAULTS } from "../shared/limits.ts";
import { nickKey } from "../shared/sanitize.ts";

/** A message a reply may answer, as the client keeps it. */
export interface SeenMessage {
  id: number;
  room: string;
  from: string;
  /** Its first characters on one line, `…` when cut. */
  preview: string;
}

/** How much of a text is kept: enough for the "replying to" line. */
const PREVIEW_CHARS = 60;

/**
 * The start of `text` on one line, `…` when cut: what the "replying to"
 * line shows of the message being answered (here and in the web page).
 */
export function previewOf(text: string): string {
  const chars = [...text.replaceAll("\n", " ")];
  return chars.length > PREVIEW_CHARS
    ? chars.slice(0, PREVIEW_CHARS - 1).join("") + "…"
    : chars.join("");
}

/**
 * The latest messages of each room.
 *
 * @example
 * ```ts
 * const recent = new RecentMessages();
 * recent.note({ type: "msg", id: 7, ts: 0, room: "lobby", from: "bob", text: "hi" });
 * recent.before("lobby", undefined)?.id; // → 7 (the newest)
 * recent.before("lobby", 7); // → undefined (nothing older)
 * ```
 */
export class RecentMessages {
  #rooms = new Map<string, SeenMessage[]>();
  #perRoom: number;

  /** @param perRoom messages kept per room. @default {500} */
  constructor(perRoom: number = CONNECT_DEFAULTS.recentMessagesPerRoom) {
    this.#perRoom = perRoom;
  }

  /** Keeps a message shown (live, or replayed in a welcome or history), once. */
  note(message: RoomMessage): void {
    let list = this.#rooms.get(message.room);
    if (!list) this.#rooms.set(message.room, list = []);
    const seen: SeenMessage = {
      id: message.id,
      room: message.room,
      from: message.from,
      preview: previewOf(message.text),
    };
    // Live messages come in id order; a page of older history does not.
    let at = list.length;
    while (at > 0 && list[at - 1].id > message.id) at--;
    if (list[at - 1]?.id === message.id) return;
    list.splice(at, 0, seen);
    if (list.length > this.#perRoom) {
      list.splice(0, list.length - this.#perRoom);
    }
  }

  /** Forgets a recalled message. */
  forget(room: string, id: number): void {
    const list = this.#rooms.get(room);
    const at = list?.findIndex((m) => m.id === id) ?? -1;
    if (at !== -1) list!.splice(at, 1);
  }

  /** The message `id` of `room`, if kept. */
  find(room: string, id: number): SeenMessage | undefined {
    return this.#rooms.get(room)?.find((m) => m.id === id);
  }

  /** `nick`'s last message in `room` (any case or compatibility form). */
  lastFrom(room: string, nick: string): SeenMessage | undefined {
    const key = nickKey(nick);
    return this.#rooms.get(room)?.findLast((m) => nickKey(m.from) === key);
  }

  /** The newest message of `room` older than `id` (the newest of all without one). */
  before(room: string, id: number | undefined): SeenMessage | undefined {
    const list = this.#rooms.get(room) ?? [];
    return id === undefined ? list.at(-1) : list.findLast((m) => m.id < id);
  }

  /** The oldest message of `room` newer than `id`, if any. */
  after(room: string, id: number): SeenMessage | undefined {
    return this.#rooms.get(room)?.find((m) => m.id > id);
  }
}
