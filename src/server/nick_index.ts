/**
 * Who holds which nickname: the hub's index of connected names, by their
 * {@linkcode nickKey} (one name in any case or compatibility form) and by
 * their {@linkcode lookalikeKeys} (names that look alike, UTS #39). Pure.
 *
 * @module
 */

import { lookalikeKeys, nickKey } from "../shared/sanitize.ts";

/**
 * Connected nicknames and their holders; a holder is whatever the caller
 * keeps per member (the hub's `Session`).
 *
 * @example
 * ```ts
 * const index = new NickIndex<string>();
 * index.add("alice", "session 1");
 * index.find("ALICE"); // → "session 1"
 * index.conflict("\u0430lice"); // → "session 1" (Cyrillic а looks alike)
 * ```
 */
export class NickIndex<Holder> {
  #byKey = new Map<string, Holder>();
  #byLook = new Map<string, Holder>();

  /** How many nicknames are held. */
  get size(): number {
    return this.#byKey.size;
  }

  /** The holder of `nick` in any case or compatibility form. */
  find(nick: string): Holder | undefined {
    return this.#byKey.get(nickKey(nick));
  }

  /**
   * Someone other than `self` whose nickname is `nick` or looks like it,
   * or `undefined` when `nick` is free for `self`.
   */
  conflict(nick: string, self?: Holder): Holder | undefined {
    const same = this.#byKey.get(nickKey(nick));
    if (same !== undefined && same !== self) return same;
    for (const key of lookalikeKeys(nick)) {
      const holder = this.#byLook.get(key);
      if (holder !== undefined && holder !== self) return holder;
    }
    return undefined;
  }

  /** Records that `holder` holds `nick` (check {@linkcode conflict} first). */
  add(nick: string, holder: Holder): void {
    this.#byKey.set(nickKey(nick), holder);
    for (const key of lookalikeKeys(nick)) this.#byLook.set(key, holder);
  }

  /** Frees `nick` if `holder` holds it; true when it did. */
  remove(nick: string, holder: Holder): boolean {
    const key = nickKey(nick);
    if (this.#byKey.get(key) !== holder) return false;
    this.#byKey.delete(key);
    for (const look of lookalikeKeys(nick)) {
      if (this.#byLook.get(look) === holder) this.#byLook.delete(look);
    }
    return true;
  }
}
