/**
 * The short quote a reply carries of the message it answers. Pure; the hub
 * calls it once per reply, never per recipient.
 *
 * @module
 */

import type { Quote, RoomMessage } from "../../protocol.ts";
import { PROTOCOL_LIMITS } from "../shared/limits.ts";

/**
 * The quote a reply to `original` carries: its sender and the first
 * characters of its text on one line (line breaks become spaces), `…` when
 * cut.
 */
export function quoteOf(original: RoomMessage): Quote {
  const chars = [...original.text.replaceAll("\n", " ")];
  const max = PROTOCOL_LIMITS.quoteChars;
  const text = chars.length > max
    ? chars.slice(0, max - 1).join("") + "…"
    : chars.join("");
  return { id: original.id, from: original.from, text };
}
