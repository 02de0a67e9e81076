/**
 * Who else is in a welcome's room, for renderers that show only a few
 * names and a head count (the text dialect: `with alice, bob and 41
 * others`).
 *
 * The hub's welcome copies a big room's whole member list when its `users`
 * is read (JSON members get the roster's shared bytes instead). A text
 * renderer that read `users` to show 20 names made 5,000 text members
 * joining one room copy 12.5 million names, and cost 16 KB of server memory
 * per idle text connection. So the hub describes the company here and
 * renderers ask here first.
 *
 * @module
 */

import type { ServerEvent } from "../../protocol.ts";

/** Who else is in a welcome's room. */
export interface WelcomeCompany {
  /** The first `count` others at most, in join order. */
  firstOthers(count: number): readonly string[];
  /** How many others there are in all. */
  count: number;
}

const companies = new WeakMap<ServerEvent, WelcomeCompany>();

/** Records who else is in `welcome`'s room, for {@linkcode companyOf}. */
export function describeCompany(
  welcome: ServerEvent,
  company: WelcomeCompany,
): void {
  companies.set(welcome, company);
}

/**
 * Who else is in a welcome's room: as described by the hub, or else read
 * from its `users`.
 *
 * @example
 * ```ts
 * const welcome = {
 *   type: "welcome", nick: "ann", room: "lobby", users: ["bob", "ann", "cy"],
 *   history: [], server: { name: "chat", version: "1" },
 * } as const;
 * companyOf(welcome).count; // → 2
 * companyOf(welcome).firstOthers(1); // → ["bob"]
 * ```
 */
export function companyOf(
  welcome: ServerEvent & { type: "welcome" },
): WelcomeCompany {
  const known = companies.get(welcome);
  if (known) return known;
  const others = welcome.users.filter((u) => u !== welcome.nick);
  return {
    firstOthers: (count) => others.slice(0, count),
    count: others.length,
  };
}
