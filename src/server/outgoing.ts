/**
 * Events on their way out, encoded at most once per wire encoding however
 * many members receive them.
 *
 * The hub speaks events; each door brings an {@linkcode EventEncoder} that
 * turns an event into its wire text (JSON lines, `nc` lines, IRC lines…).
 * An {@linkcode Outgoing} caches the bytes per encoder `id`, so a room of a
 * thousand JSON members and ten `nc` members costs two encodings, not a
 * thousand and ten, and the hub never names a dialect.
 *
 * @module
 */

import type { EventEncoder, ServerEvent } from "../../protocol.ts";

export type { EventEncoder };

const textEncoder = new TextEncoder();

/** Bytes already encoded for one encoder, handed in by whoever had them cheaper. */
export interface PreEncoded {
  /** The {@linkcode EventEncoder.id} these bytes are for. */
  encoderId: string;
  /** The bytes, in pieces that may be shared with other events. */
  parts: readonly Uint8Array[];
}

/**
 * An event on its way out, encoded at most once per encoder however many
 * members receive it.
 */
export class Outgoing {
  // Most events go out in one encoding: the first is kept in fields, the
  // rest in a map made only when a second encoding is asked for.
  #firstId: string | undefined;
  #firstBytes: Uint8Array | undefined;
  #cache: Map<string, Uint8Array> | undefined;
  #preEncoded?: PreEncoded;

  /**
   * @param event the event to send.
   * @param preEncoded its bytes for one encoder, when the caller has them
   * cheaper than rendering (a big room's welcome shares the roster's JSON);
   * the same bytes in the end.
   */
  constructor(readonly event: ServerEvent, preEncoded?: PreEncoded) {
    this.#preEncoded = preEncoded;
  }

  /** The event's bytes for `encoder`, computed on first use. */
  bytes(encoder: EventEncoder): Uint8Array {
    if (this.#firstId === encoder.id) return this.#firstBytes!;
    let bytes = this.#cache?.get(encoder.id);
    if (bytes === undefined) {
      bytes = this.#preEncoded?.encoderId === encoder.id
        ? concatBytes(this.#preEncoded.parts)
        : textEncoder.encode(encoder.render(this.event));
      this.#remember(encoder.id, bytes);
    }
    return bytes;
  }

  #remember(id: string, bytes: Uint8Array): void {
    if (this.#firstId === undefined) {
      this.#firstId = id;
      this.#firstBytes = bytes;
    } else (this.#cache ??= new Map()).set(id, bytes);
  }

  /**
   * The same bytes as pieces that may be shared with other events: what a
   * connection queues, so a welcome does not copy a big room's member list.
   */
  parts(encoder: EventEncoder): readonly Uint8Array[] {
    const pre = this.#preEncoded;
    if (
      pre?.encoderId === encoder.id && this.#firstId !== encoder.id &&
      !this.#cache?.has(encoder.id)
    ) {
      return pre.parts;
    }
    return [this.bytes(encoder)];
  }
}

/**
 * The room messages of one flush, for every member of one room: encoded once
 * per encoder into a single buffer, so a member costs one queue entry and one
 * write per room per tick however many messages the tick carries.
 */
export class OutgoingBatch {
  #firstId: string | undefined;
  #firstBytes: Uint8Array | undefined;
  #cache: Map<string, Uint8Array> | undefined;

  /**
   * @param items the events, in order.
   * @param room the room they were said in (a member elsewhere may read
   * them in an encoding that names it).
   */
  constructor(readonly items: readonly Outgoing[], readonly room: string) {}

  /** Every event's bytes for `encoder`, back to back, computed on first use. */
  bytes(encoder: EventEncoder): Uint8Array {
    if (this.#firstId === encoder.id) return this.#firstBytes!;
    let bytes = this.#cache?.get(encoder.id);
    if (bytes === undefined) {
      bytes = this.#join(encoder);
      if (this.#firstId === undefined) {
        this.#firstId = encoder.id;
        this.#firstBytes = bytes;
      } else (this.#cache ??= new Map()).set(encoder.id, bytes);
    }
    return bytes;
  }

  #join(encoder: EventEncoder): Uint8Array {
    if (this.items.length === 1) return this.items[0].bytes(encoder);
    // One string and one encode: cheaper than concatenating byte arrays.
    let lines = "";
    for (const item of this.items) lines += encoder.render(item.event);
    return textEncoder.encode(lines);
  }
}

/** Joins byte arrays into one. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

/** The sending side of a connection, as the hub sees it. */
export interface Recipient {
  /** Queues an event for this connection; must not block. */
  deliver(out: Outgoing): void;
  /**
   * Queues a batch as one write. Optional: a recipient without it gets each
   * event through {@linkcode Recipient.deliver}.
   */
  deliverBatch?(batch: OutgoingBatch): void;
}
