/**
 * One conversation of the web page, as data: a room you are in or a private
 * exchange with one person. It remembers which messages are shown (by id, so
 * a message replayed by a resume, a rejoin or a history page appears once),
 * where a new one goes, how many arrived unseen, and who is in the room.
 * Pure: the page keeps the DOM beside it.
 *
 * @module
 */

import { nickKey } from "../../shared/sanitize.ts";

/** A room (`#name`) or a private conversation (`@nick`). */
export type ConversationKind = "room" | "dm";

/** Where a new message goes among those shown. */
export type Placement =
  /** Already shown: skip it. */
  | { at: "duplicate" }
  /** After every shown message. */
  | { at: "end" }
  /** Before the shown message with this id. */
  | { at: "before"; id: number };

/** The key of a conversation: `#room` or `@nick` (case-folded). */
export function conversationKey(kind: ConversationKind, name: string): string {
  return kind === "room" ? `#${name}` : `@${nickKey(name)}`;
}

/** A conversation's state. */
export class Conversation {
  /** A room or a private conversation. */
  readonly kind: ConversationKind;
  /** The room's name, or the other person's nickname as last seen. */
  name: string;
  /** Messages that arrived while it was not looked at. */
  unread = 0;
  /** Of those, the ones that name you (or are private to you). */
  unreadMentions = 0;
  /** True while older messages may exist on the server (scrollback). */
  hasOlder = true;
  /** True while a history page is on its way. */
  loadingOlder = false;
  /** Ids shown, in display order, and their `id:ts` keys beside them. */
  #ids: number[] = [];
  #keys: string[] = [];
  #shown = new Set<string>();
  #users: string[] = [];
  /** Each sender's newest message id, for `/reply` (the newest 500 senders). */
  #lastOf = new Map<string, number>();
  /** The room's head count as the server last said (big rooms). */
  #count: number | undefined;

  /** @param kind room or private. @param name its name. */
  constructor(kind: ConversationKind, name: string) {
    this.kind = kind;
    this.name = name;
  }

  /** `#room` or `@nick`. */
  get key(): string {
    return conversationKey(this.kind, this.name);
  }

  /** The oldest message id shown, for the next history page. */
  get oldestId(): number | undefined {
    return this.#ids[0];
  }

  /** The newest message id shown, for `since` on a resume. */
  get newestId(): number | undefined {
    return this.#ids[this.#ids.length - 1];
  }

  /** How many messages are shown. */
  get size(): number {
    return this.#ids.length;
  }

  /**
   * Records a message and says where it goes. A message is known by its id
   * and time, so a server that restarted with an empty store (ids from 1
   * again) is not taken for old news. Ids grow, so a `live` message (or a
   * resume's) goes at the end; an `older` one (history) goes in id order.
   */
  place(id: number, ts: number, order: "live" | "older"): Placement {
    const key = `${id}:${ts}`;
    if (this.#shown.has(key)) return { at: "duplicate" };
    this.#shown.add(key);
    const ids = this.#ids;
    if (order === "live" || ids.length === 0 || id > ids[ids.length - 1]) {
      ids.push(id);
      this.#keys.push(key);
      return { at: "end" };
    }
    // Binary search for the first shown id greater than this one.
    let low = 0;
    let high = ids.length - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (ids[middle] > id) high = middle;
      else low = middle + 1;
    }
    const next = ids[low];
    ids.splice(low, 0, id);
    this.#keys.splice(low, 0, key);
    return { at: "before", id: next };
  }

  /**
   * Remembers that `nick` sent message `id`, so `/reply NICK` finds their
   * newest; a history page's older messages do not displace a newer one.
   */
  noteSender(nick: string, id: number): void {
    const key = nickKey(nick);
    const known = this.#lastOf.get(key);
    if (known !== undefined && known >= id) return;
    this.#lastOf.delete(key);
    this.#lastOf.set(key, id);
    if (this.#lastOf.size > 500) {
      this.#lastOf.delete(this.#lastOf.keys().next().value!);
    }
  }

  /** The id of `nick`'s newest message seen here, if any. */
  lastMessageOf(nick: string): number | undefined {
    return this.#lastOf.get(nickKey(nick));
  }

  /** True when message `id` is shown. */
  shows(id: number): boolean {
    return this.#ids.includes(id);
  }

  /** Forgets the oldest shown messages beyond `keep`; returns their ids. */
  trim(keep: number): number[] {
    if (this.#ids.length <= keep) return [];
    const count = this.#ids.length - keep;
    const dropped = this.#ids.splice(0, count);
    for (const key of this.#keys.splice(0, count)) this.#shown.delete(key);
    this.hasOlder = true;
    return dropped;
  }

  /** Forgets every shown message (`/clear`); they may be shown again. */
  clear(): void {
    this.#ids = [];
    this.#keys = [];
    this.#shown.clear();
    this.hasOlder = true;
  }

  /** The people in the room, in the server's order. */
  get users(): readonly string[] {
    return this.#users;
  }

  /** How many are in the room: the server's count where it gave one. */
  get count(): number {
    return Math.max(this.#count ?? 0, this.#users.length);
  }

  /** Replaces the member list (`welcome`, `who`). */
  setUsers(users: readonly string[]): void {
    this.#users = [...users];
    this.#count = users.length;
  }

  /** Someone arrived; `users` is the room's size after it, if known. */
  addUser(nick: string, users?: number): void {
    const key = nickKey(nick);
    if (!this.#users.some((u) => nickKey(u) === key)) this.#users.push(nick);
    if (users !== undefined) this.#count = users;
  }

  /** Someone left; `users` is the room's size after it, if known. */
  removeUser(nick: string, users?: number): void {
    const key = nickKey(nick);
    this.#users = this.#users.filter((u) => nickKey(u) !== key);
    if (users !== undefined) this.#count = users;
  }

  /** Renames a member; true when they were in this room. */
  renameUser(old: string, nick: string): boolean {
    const key = nickKey(old);
    const index = this.#users.findIndex((u) => nickKey(u) === key);
    if (index === -1) return false;
    this.#users[index] = nick;
    return true;
  }

  /** True when `nick` is in the room. */
  hasUser(nick: string): boolean {
    const key = nickKey(nick);
    return this.#users.some((u) => nickKey(u) === key);
  }
}
