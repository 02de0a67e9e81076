/**
 * A member for hub tests: records every event the hub hands it.
 *
 * @module
 */

import type { ServerEvent } from "../protocol.ts";
import type { Outgoing, OutgoingBatch, Recipient } from "../src/server/hub.ts";

/** Records what the hub delivered, as events and as the Outgoing objects. */
export class FakeMember implements Recipient {
  /** Events not yet taken. */
  readonly events: ServerEvent[] = [];
  /** Every Outgoing delivered, to check encoding is shared. */
  readonly outgoing: Outgoing[] = [];

  deliver(out: Outgoing): void {
    this.outgoing.push(out);
    this.events.push(out.event);
  }

  /** Takes (and forgets) the events received so far, of one type if given. */
  take(type?: ServerEvent["type"]): ServerEvent[] {
    const taken = this.events.filter((e) => !type || e.type === type);
    this.events.length = 0;
    return taken;
  }
}

/** A member that takes a tick's room messages as batches, as a connection does. */
export class BatchMember extends FakeMember {
  /** Every batch delivered, in order. */
  readonly batches: OutgoingBatch[] = [];

  deliverBatch(batch: OutgoingBatch): void {
    this.batches.push(batch);
  }
}
