/**
 * A room's nicknames in join order, kept ready for `welcome` and `who`.
 *
 * Every newcomer's welcome lists the whole room, so 5,000 people joining one
 * room means 12.5 million names to list. Building each list from the members
 * and serialising it name by name took much of the server's time while 5,000
 * connected, and the lists' garbage doubled its heap; here a join appends one
 * name to an array and to a JSON byte buffer, which every JSON welcome shares.
 *
 * @module
 */

const encoder = new TextEncoder();

/** The nicknames of one room, as a list and as JSON bytes. */
export class NickRoster {
  /**
   * Append-only while shared: a join pushes, while a leave or rename
   * replaces the array once a snapshot may still read it. So the first `n`
   * entries of an array a snapshot holds never change, and a snapshot is the
   * array and a length, with no copy until someone reads it.
   */
  #list: string[] = [];
  /** True once a snapshot holds `#list`: it must not change in place. */
  #shared = false;
  /**
   * `"a","b"`: the JSON array items, valid up to #jsonLength. Bytes once
   * written never change (a rebuild takes a new buffer), so welcomes still
   * queued may share them.
   */
  #json = new Uint8Array(256);
  #jsonLength = 0;
  #jsonValid = true;

  /** How many names. */
  get size(): number {
    return this.#list.length;
  }

  /**
   * The names now, oldest member first, as a function that copies them
   * when first called (JSON welcomes never call it: they use
   * {@linkcode NickRoster.jsonItems}).
   */
  snapshot(): () => string[] {
    const list = this.#list;
    const length = list.length;
    this.#shared = true;
    let copy: string[] | undefined;
    return () => copy ??= list.slice(0, length);
  }

  /**
   * The first `count` names other than `except`, oldest first: what a text
   * welcome shows, without copying the rest of a big room's list.
   */
  firstOthers(count: number, except: string): string[] {
    const names: string[] = [];
    for (const nick of this.#list) {
      if (names.length >= count) break;
      if (nick !== except) names.push(nick);
    }
    return names;
  }

  /** The names from `start` to `end` (exclusive), oldest member first. */
  slice(start: number, end: number): string[] {
    return this.#list.slice(start, end);
  }

  /** Adds a member's name at the end. */
  add(nick: string): void {
    this.#list.push(nick);
    if (this.#jsonValid) this.#appendJson(nick, this.#list.length > 1);
  }

  /** Removes a member's name. */
  remove(nick: string): void {
    const index = this.#list.indexOf(nick);
    if (index === -1) return;
    // In place when no snapshot holds the array: 5,000 members leaving at
    // once (a shutdown, a network blip) would otherwise copy the list 5,000
    // times.
    if (this.#shared) this.#unshare();
    this.#list.splice(index, 1);
    // Rebuilt when next needed: a wave of leaves costs one rebuild, not one
    // per leave.
    this.#jsonValid = false;
  }

  /** Replaces a member's name in place. */
  rename(old: string, nick: string): void {
    if (this.#shared) this.#unshare();
    const index = this.#list.indexOf(old);
    if (index !== -1) this.#list[index] = nick;
    this.#jsonValid = false;
  }

  /** Gives `#list` a copy of its own, leaving snapshots the old array. */
  #unshare(): void {
    this.#list = this.#list.slice();
    this.#shared = false;
  }

  /**
   * The names as JSON array items (`"a","b"`, no brackets). The bytes never
   * change afterwards: share them, do not copy them.
   */
  jsonItems(): Uint8Array {
    if (!this.#jsonValid) {
      this.#json = new Uint8Array(this.#json.length);
      this.#jsonLength = 0;
      this.#jsonValid = true;
      this.#list.forEach((nick, i) => this.#appendJson(nick, i > 0));
    }
    return this.#json.subarray(0, this.#jsonLength);
  }

  #appendJson(nick: string, comma: boolean): void {
    const text = (comma ? "," : "") + JSON.stringify(nick);
    // UTF-8 needs at most 3 bytes per UTF-16 unit.
    const needed = this.#jsonLength + text.length * 3;
    if (needed > this.#json.length) {
      const grown = new Uint8Array(Math.max(needed, this.#json.length * 2));
      grown.set(this.#json.subarray(0, this.#jsonLength));
      this.#json = grown;
    }
    this.#jsonLength += encoder.encodeInto(
      text,
      this.#json.subarray(this.#jsonLength),
    ).written;
  }
}
