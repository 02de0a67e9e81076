/**
 * The seam between a connection's socket and the wire dialect it speaks.
 *
 * A {@linkcode Connection} (connection.ts) is the socket edge: it reads
 * bytes, which its `LineReader` (line_reader.ts) frames into lines (telnet,
 * charset, the unframed idle rule), queues what the hub hands it and closes. What a line *means* and how an
 * event *reads* belongs to one {@linkcode Dialect} per connection: the text
 * door (text/text_dialect_door.ts), JSON lines (json/json_dialect.ts) or
 * IRC (irc/irc_dialect.ts). A dialect talks back through the
 * {@linkcode DoorLink} its connection gives it, and decides nothing about
 * who may join, how fast or with which password: it asks the link's
 * {@linkcode DoorPolicy} (door_policy.ts), the one copy of those steps for
 * every dialect.
 *
 * A new line dialect is one module implementing {@linkcode Dialect}, chosen
 * in `Connection.run` from what the door router saw (router.ts).
 *
 * @module
 */

import type { ErrorCode, ServerEvent } from "../../../protocol.ts";
import type { Ticket } from "../admission.ts";
import type { Outgoing, OutgoingBatch, Recipient, Session } from "../hub.ts";
import type { ConnectionSettings } from "./connection.ts";
import type { DoorPolicy } from "./door_policy.ts";
import type { LineRefusal } from "./line_reader.ts";
import type { TextCharset } from "./text_charset.ts";

/** One wire dialect on one connection: lines in, the hub's events out. */
export interface Dialect {
  /**
   * True when the peer may be a telnet client or a terminal writing
   * GB18030 (the text door): telnet negotiation may start and an
   * undecodable line may be guessed GB18030. JSON lines are UTF-8 by the
   * protocol, and the IRC door says `UTF8ONLY`, so those peers get neither.
   */
  readonly readsLegacyText: boolean;
  /**
   * True once the peer showed it is a tutorial program (it sends without
   * newlines): the connection then writes in pieces a `recv(1024)` takes.
   */
  readonly writesSmall: boolean;
  /** Greets a peer that has not spoken yet (the text door's banner). */
  greet(): void;
  /** The peer's first bytes arrived, before any of them is read as a line. */
  heard(): void;
  /**
   * Handles one decoded line. `unframed`: it came without a newline and
   * the idle rule cut it (src/server/doors/unframed.ts). The connection
   * has already held it during a wait and dropped it after a refusal.
   */
  receiveLine(line: string, unframed: boolean): void;
  /** Queues one event for this member, in this dialect's wire form. */
  deliver(out: Outgoing): void;
  /** Queues a tick's room messages as one chunk. */
  deliverBatch(batch: OutgoingBatch): void;
  /**
   * Tells the peer a line was refused before it could be read (see
   * `LineLink.refuseLine`), given its bytes where they are known. Optional:
   * without it the refusal is the dialect's `error` event.
   */
  refuseLine?(
    code: LineRefusal,
    message: string | undefined,
    bytes: Uint8Array | undefined,
  ): void;
  /**
   * Tells the peer a hello was refused: by the hub (a nickname taken
   * meanwhile, the room full…) or by its address's hello pacing.
   */
  helloRefused(code: ErrorCode, message: string): void;
  /** The connection is closing: stop the dialect's timers. */
  close(): void;
}

/**
 * What a connection offers its dialect and its {@linkcode DoorPolicy}: the
 * way to the peer, the hub's member once it joined, and the pause that a
 * hello or a password waiting its turn puts on reading.
 */
export interface DoorLink extends Recipient {
  /** The server's settings. */
  readonly settings: ConnectionSettings;
  /** Where the peer is, for logs. */
  readonly peer: string;
  /** The connection's place in admission (src/server/admission.ts). */
  readonly ticket: Ticket;
  /** The hub's member, once a hello made the connection one. */
  readonly session: Session | undefined;
  /** Hellos, passwords and the flood allowance, for every dialect. */
  readonly policy: DoorPolicy;
  /** The dialect spoken now. */
  readonly dialect: Dialect;
  /** How the peer's text is written (UTF-8, or GB18030 once it shows it). */
  readonly charset: TextCharset;
  /** True once the connection is closing or closed. */
  readonly closed: boolean;
  /** Why it closed, once it did. */
  readonly closeReason: string;
  /** When the peer last sent bytes, ms since the epoch. */
  readonly lastHeardAt: number;
  /** Queues bytes for the peer; `fromRoom` marks room traffic (backpressure). */
  enqueue(bytes: Uint8Array, fromRoom?: boolean): void;
  /** Queues one line of plain text and its newline. */
  writeLine(text: string): void;
  /** Sends an `error` event in the dialect spoken. */
  sendError(code: ErrorCode, message?: string): void;
  /** Ends the connection, saying `event` last (a `bye`) when given. */
  close(reason: string, event?: ServerEvent): void;
  /**
   * Runs `then` after `ms` with reading paused, every line that arrives
   * meanwhile held for after it; at once (no timer) when `ms` is 0.
   */
  wait(ms: number, then: () => void): void;
  /** The same pause, until `result` settles; `then` gets its value. */
  waitFor<T>(result: Promise<T>, then: (value: T) => void): void;
  /** The hello went through: the connection is the hub's member `session`. */
  admitted(session: Session): void;
  /** Hides a telnet client's typing (a password), or shows it again. */
  hideInput(on: boolean): void;
  /** Hands the connection to another dialect (the text door's JSON hello). */
  switchDialect(dialect: Dialect): void;
}
