/**
 * Telnet option negotiation (RFC 855), by the Q method of RFC 1143: each
 * option has a state per side, so no answer is ever answered again and the
 * two ends can never loop, whatever the client sends. Pure: replies go to a
 * sink.
 *
 * The server will do ECHO (RFC 857) and SUPPRESS-GO-AHEAD (RFC 858); it
 * lets the client do NAWS (RFC 1073, the window size) and
 * SUPPRESS-GO-AHEAD; everything else is refused. TIMING-MARK (RFC 860) is
 * no state at all: a `DO TIMING-MARK` gets a `WILL TIMING-MARK` once per
 * interrupt or keys ({@linkcode OptionNegotiator.heardInput}), so a client
 * that answers our `WILL` with another `DO` is not answered again.
 *
 * @module
 */

import { TELNET, type Verb } from "./iac_parser.ts";

/** Option numbers this server knows by name. */
export const OPTION = {
  BINARY: 0,
  ECHO: 1,
  SUPPRESS_GO_AHEAD: 3,
  STATUS: 5,
  TIMING_MARK: 6,
  TERMINAL_TYPE: 24,
  NAWS: 31,
  TERMINAL_SPEED: 32,
  LINEMODE: 34,
  NEW_ENVIRON: 39,
} as const;

/** Which end an option is about: `us` (the server) or `him` (the client). */
export type Side = "us" | "him";

/** Where the negotiator sends replies and reports changes. */
export interface NegotiationSink {
  /** Send `IAC verb option`. */
  send(verb: Verb, option: number): void;
  /** An option became enabled or disabled on one side. */
  changed(side: Side, option: number, enabled: boolean): void;
}

/** The options each side may enable. */
export interface NegotiationPolicy {
  /** Options the server agrees to perform (`WILL`). */
  us: ReadonlySet<number>;
  /** Options the server lets the client perform (`DO`). */
  him: ReadonlySet<number>;
}

/** The server's policy: echo and go-ahead suppression; the window size. */
export const SERVER_POLICY: NegotiationPolicy = {
  us: new Set([OPTION.ECHO, OPTION.SUPPRESS_GO_AHEAD]),
  him: new Set([OPTION.NAWS, OPTION.SUPPRESS_GO_AHEAD]),
};

// RFC 1143 states. WANT* wait for an answer; OPPOSITE remembers a change of
// mind made while waiting, to be asked once the answer came.
const NO = 0;
const YES = 1;
const WANTNO = 2;
const WANTYES = 3;
type QState = typeof NO | typeof YES | typeof WANTNO | typeof WANTYES;

interface OptionState {
  state: QState;
  opposite: boolean;
  /** The peer refused or turned it off: never offered again unasked. */
  refused: boolean;
}

/** What each verb means for one side. */
const SIDES = {
  us: { enable: "WILL", disable: "WONT" },
  him: { enable: "DO", disable: "DONT" },
} as const;

const IAC_BYTES: Record<Verb, number> = {
  WILL: TELNET.WILL,
  WONT: TELNET.WONT,
  DO: TELNET.DO,
  DONT: TELNET.DONT,
};

/** The three bytes `IAC verb option`. */
export function optionBytes(verb: Verb, option: number): Uint8Array {
  return new Uint8Array([TELNET.IAC, IAC_BYTES[verb], option]);
}

/**
 * Both sides' option states for one connection.
 *
 * @example
 * ```ts
 * const sent: string[] = [];
 * const q = new OptionNegotiator(SERVER_POLICY, {
 *   send: (verb, option) => sent.push(`${verb} ${option}`),
 *   changed: () => {},
 * });
 * q.receive("DO", OPTION.ECHO); // the client asks the server to echo
 * q.receive("DO", OPTION.ECHO); // asked again: already on, no answer
 * q.receive("DO", OPTION.LINEMODE);
 * sent; // → ["WILL 1", "WONT 34"]
 * ```
 */
export class OptionNegotiator {
  #policy: NegotiationPolicy;
  #sink: NegotiationSink;
  #us = new Map<number, OptionState>();
  #him = new Map<number, OptionState>();
  /** A `WILL TIMING-MARK` went out, and nothing but options came since. */
  #markAnswered = false;

  constructor(policy: NegotiationPolicy, sink: NegotiationSink) {
    this.#policy = policy;
    this.#sink = sink;
  }

  /** True when `option` is enabled on `side`. */
  enabled(side: Side, option: number): boolean {
    return this.#table(side).get(option)?.state === YES;
  }

  /** True when the peer refused `option` on `side` (or turned it off). */
  refused(side: Side, option: number): boolean {
    return this.#table(side).get(option)?.refused ?? false;
  }

  /** Handles `IAC verb option` from the client. */
  receive(verb: Verb, option: number): void {
    if (option === OPTION.TIMING_MARK && verb === "DO") {
      // "I have read everything you sent before this": never kept as a
      // state, or the second Ctrl-C would go unanswered and leave the
      // client discarding output. But a `DO` with nothing new before it is
      // an answer to our `WILL` (a client that says yes to everything):
      // answering it too would go on for ever.
      if (this.#markAnswered) return;
      this.#markAnswered = true;
      return this.#sink.send("WILL", option);
    }
    const side: Side = verb === "DO" || verb === "DONT" ? "us" : "him";
    if (verb === "WILL" || verb === "DO") this.#peerEnables(side, option);
    else this.#peerDisables(side, option);
  }

  /**
   * The client sent keys or a command that is not an option (Ctrl-C's
   * `IAC IP`): its next `DO TIMING-MARK` is a new one, to be answered.
   */
  heardInput(): void {
    this.#markAnswered = false;
  }

  /**
   * Asks to turn `option` on or off on `side` (RFC 1143 §7). An option the
   * peer refused is not offered again: it would only be refused again.
   */
  request(side: Side, option: number, enable: boolean): void {
    const entry = this.#entry(side, option);
    const verbs = SIDES[side];
    if (enable) {
      if (entry.refused || !this.#allowed(side, option)) return;
      switch (entry.state) {
        case NO:
          entry.state = WANTYES;
          return this.#sink.send(verbs.enable, option);
        case WANTNO:
          entry.opposite = true;
          return;
        case WANTYES:
          entry.opposite = false;
          return;
      }
    } else {
      switch (entry.state) {
        case YES:
          entry.state = WANTNO;
          return this.#sink.send(verbs.disable, option);
        case WANTNO:
          entry.opposite = false;
          return;
        case WANTYES:
          entry.opposite = true;
          return;
      }
    }
  }

  /** `WILL` (him) or `DO` (us) from the client. */
  #peerEnables(side: Side, option: number): void {
    const entry = this.#entry(side, option);
    const verbs = SIDES[side];
    switch (entry.state) {
      case NO:
        if (this.#allowed(side, option)) {
          entry.state = YES;
          this.#sink.send(verbs.enable, option);
          return this.#sink.changed(side, option, true);
        }
        return this.#sink.send(verbs.disable, option);
      case YES:
        return;
      case WANTNO:
        // Our "turn it off" was answered "on": RFC 1143 calls that an error
        // of the peer's; take the answer and do not ask again.
        if (entry.opposite) {
          entry.opposite = false;
          entry.state = YES;
          return this.#sink.changed(side, option, true);
        }
        entry.state = NO;
        return this.#sink.changed(side, option, false);
      case WANTYES:
        if (entry.opposite) {
          entry.opposite = false;
          entry.state = WANTNO;
          return this.#sink.send(verbs.disable, option);
        }
        entry.state = YES;
        return this.#sink.changed(side, option, true);
    }
  }

  /** `WONT` (him) or `DONT` (us) from the client. */
  #peerDisables(side: Side, option: number): void {
    const entry = this.#entry(side, option);
    const verbs = SIDES[side];
    entry.refused = true;
    switch (entry.state) {
      case NO:
        return;
      case YES:
        entry.state = NO;
        this.#sink.send(verbs.disable, option);
        return this.#sink.changed(side, option, false);
      case WANTNO:
        if (entry.opposite) {
          entry.opposite = false;
          entry.state = WANTYES;
          return this.#sink.send(verbs.enable, option);
        }
        entry.state = NO;
        return this.#sink.changed(side, option, false);
      case WANTYES:
        entry.opposite = false;
        entry.state = NO;
        return;
    }
  }

  #allowed(side: Side, option: number): boolean {
    return (side === "us" ? this.#policy.us : this.#policy.him).has(option);
  }

  #table(side: Side): Map<number, OptionState> {
    return side === "us" ? this.#us : this.#him;
  }

  #entry(side: Side, option: number): OptionState {
    const table = this.#table(side);
    let entry = table.get(option);
    if (!entry) {
      entry = { state: NO, opposite: false, refused: false };
      table.set(option, entry);
    }
    return entry;
  }
}
