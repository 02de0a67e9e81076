/**
 * Telnet's in-band commands (RFC 854, 855): a streaming parser that takes
 * `IAC` sequences out of what a client sends, wherever they fall, also
 * across TCP reads, and hands the rest on as data. Pure.
 *
 * A connection counts as telnet only once it sends a well-formed command
 * (`IAC` and a command byte). Until then every byte passes untouched, so an
 * `nc` user or a tutorial program that never sends 0xFF sees no change, and
 * the check costs one `indexOf` per read.
 *
 * @module
 */

/** Telnet command bytes (RFC 854). */
export const TELNET = {
  /** End of file (RFC 1184). */
  EOF: 236,
  /** Suspend: Ctrl-Z (RFC 1184). */
  SUSP: 237,
  /** Abort: Ctrl-\\ (RFC 1184). */
  ABORT: 238,
  /** End of subnegotiation. */
  SE: 240,
  NOP: 241,
  /** Data mark: the end of a Synch. */
  DM: 242,
  /** Break. */
  BRK: 243,
  /** Interrupt process: Ctrl-C in line mode. */
  IP: 244,
  /** Abort output. */
  AO: 245,
  /** Are you there. */
  AYT: 246,
  /** Erase character. */
  EC: 247,
  /** Erase line. */
  EL: 248,
  /** Go ahead. */
  GA: 249,
  /** Start of subnegotiation. */
  SB: 250,
  WILL: 251,
  WONT: 252,
  DO: 253,
  DONT: 254,
  /** Interpret as command; `IAC IAC` is a literal 0xFF. */
  IAC: 255,
} as const;

/** An option verb: what a side will or will not do, or asks the other to. */
export type Verb = "WILL" | "WONT" | "DO" | "DONT";

/** A command without an option: `IAC IP`, `IAC AYT` … */
export type Signal =
  | "EOF"
  | "SUSP"
  | "ABORT"
  | "NOP"
  | "DM"
  | "BRK"
  | "IP"
  | "AO"
  | "AYT"
  | "EC"
  | "EL"
  | "GA";

/** One command found in the input. */
export type TelnetCommand =
  | { type: "option"; verb: Verb; option: number }
  | { type: "subnegotiation"; option: number; data: Uint8Array }
  | { type: "signal"; signal: Signal };

/** Where the parser puts what it finds, in input order. */
export interface IacSink {
  /** Bytes that are not commands (a view into the chunk where possible). */
  data(bytes: Uint8Array): void;
  /** The connection just showed it speaks telnet (once, before its first command). */
  start(): void;
  /** A complete command. */
  command(command: TelnetCommand): void;
}

const VERBS: Record<number, Verb> = {
  [TELNET.WILL]: "WILL",
  [TELNET.WONT]: "WONT",
  [TELNET.DO]: "DO",
  [TELNET.DONT]: "DONT",
};

const SIGNALS: Record<number, Signal> = {
  [TELNET.EOF]: "EOF",
  [TELNET.SUSP]: "SUSP",
  [TELNET.ABORT]: "ABORT",
  [TELNET.NOP]: "NOP",
  [TELNET.DM]: "DM",
  [TELNET.BRK]: "BRK",
  [TELNET.IP]: "IP",
  [TELNET.AO]: "AO",
  [TELNET.AYT]: "AYT",
  [TELNET.EC]: "EC",
  [TELNET.EL]: "EL",
  [TELNET.GA]: "GA",
};

/**
 * Subnegotiation bytes kept: NAWS needs 4, and nothing we accept needs more.
 * The rest of a longer one is read and dropped, so it costs no memory.
 */
const MAX_SUBNEGOTIATION_BYTES = 64;

/** Where the parser is inside a command. */
const State = {
  Data: 0,
  /** Saw `IAC`. */
  Command: 1,
  /** Saw `IAC WILL/WONT/DO/DONT`: the option byte comes next. */
  Option: 2,
  /** Saw `IAC SB`: the option byte comes next. */
  SubOption: 3,
  /** Inside `IAC SB option … IAC SE`. */
  Sub: 4,
  /** Saw `IAC` inside a subnegotiation. */
  SubCommand: 5,
} as const;
type State = typeof State[keyof typeof State];

const HELD_IAC = new Uint8Array([TELNET.IAC]);

/**
 * True for a byte that makes `IAC byte` a telnet command: EOF, SUSP and
 * ABORT (RFC 1184, which Linux telnet sends for Ctrl-D, Ctrl-Z and Ctrl-\),
 * and NOP to DONT.
 */
function isCommandByte(byte: number): boolean {
  return (byte >= TELNET.EOF && byte <= TELNET.ABORT) ||
    (byte >= TELNET.NOP && byte <= TELNET.DONT);
}

/**
 * Splits a client's bytes into data and telnet commands.
 *
 * @example
 * ```ts
 * const parser = new IacParser();
 * const seen: string[] = [];
 * const sink = {
 *   data: (b: Uint8Array) => seen.push(new TextDecoder().decode(b)),
 *   start: () => seen.push("start"),
 *   command: (c: TelnetCommand) => seen.push(c.type),
 * };
 * parser.push(new Uint8Array([0x68, 0x69, 0xff, 0xf4]), sink); // "hi", IAC IP
 * seen; // → ["hi", "start", "signal"]
 * ```
 */
export class IacParser {
  #active = false;
  /** Before the connection is telnet: a chunk ended in `IAC`. */
  #heldIac = false;
  #state: State = State.Data;
  #verb: Verb = "WILL";
  #subOption = 0;
  #sub = new Uint8Array(0);
  #subLength = 0;

  /** True once the peer sent a telnet command. */
  get active(): boolean {
    return this.#active;
  }

  /** True while a read that ended in `IAC` waits for the next one. */
  get holding(): boolean {
    return this.#heldIac;
  }

  /** Feeds one read; calls `sink` for each piece, in order. */
  push(chunk: Uint8Array, sink: IacSink): void {
    if (this.#active) return this.#parse(chunk, 0, sink);
    let from = 0;
    if (this.#heldIac && chunk.length > 0) {
      this.#heldIac = false;
      if (isCommandByte(chunk[0])) {
        return this.#begin(chunk, 0, sink);
      }
      sink.data(HELD_IAC);
    }
    for (;;) {
      const iac = chunk.indexOf(TELNET.IAC, from);
      if (iac === -1) {
        if (from < chunk.length) {
          sink.data(from === 0 ? chunk : chunk.subarray(from));
        }
        return;
      }
      if (iac === chunk.length - 1) {
        // The command byte may be in the next read: hold the IAC until then.
        if (iac > from) sink.data(chunk.subarray(from, iac));
        this.#heldIac = true;
        return;
      }
      if (isCommandByte(chunk[iac + 1])) {
        if (iac > from) sink.data(chunk.subarray(from, iac));
        return this.#begin(chunk, iac + 1, sink);
      }
      // IAC and a byte that is no command: not telnet, just bytes (which
      // the line check then refuses as invalid text).
      const next = iac + 1;
      sink.data(chunk.subarray(from, next));
      from = next;
    }
  }

  /** At the end of input: a held `IAC` was data after all. */
  end(sink: IacSink): void {
    if (!this.#heldIac) return;
    this.#heldIac = false;
    sink.data(HELD_IAC);
  }

  /** The connection turned out to be telnet: `chunk[at]` follows an IAC. */
  #begin(chunk: Uint8Array, at: number, sink: IacSink): void {
    this.#active = true;
    sink.start();
    this.#state = State.Command;
    this.#parse(chunk, at, sink);
  }

  #parse(chunk: Uint8Array, at: number, sink: IacSink): void {
    // Fast path: plain data with no command in it is passed on as it is.
    if (this.#state === State.Data && at === 0) {
      if (chunk.indexOf(TELNET.IAC) === -1) {
        if (chunk.length > 0) sink.data(chunk);
        return;
      }
    }
    let dataStart = at;
    for (let i = at; i < chunk.length; i++) {
      const byte = chunk[i];
      switch (this.#state) {
        case State.Data:
          if (byte === TELNET.IAC) {
            if (i > dataStart) sink.data(chunk.subarray(dataStart, i));
            this.#state = State.Command;
          }
          continue;
        case State.Command:
          this.#state = State.Data;
          dataStart = i + 1;
          if (byte === TELNET.IAC) {
            // A literal 0xFF: it starts the next run of data.
            dataStart = i;
          } else if (VERBS[byte]) {
            this.#verb = VERBS[byte];
            this.#state = State.Option;
          } else if (byte === TELNET.SB) {
            this.#state = State.SubOption;
          } else if (SIGNALS[byte]) {
            sink.command({ type: "signal", signal: SIGNALS[byte] });
          } else if (byte !== TELNET.SE) {
            // IAC and no command byte: RFC 854 gives it no meaning; the
            // byte is kept as data and the IAC dropped.
            dataStart = i;
          }
          continue;
        case State.Option:
          this.#state = State.Data;
          dataStart = i + 1;
          sink.command({ type: "option", verb: this.#verb, option: byte });
          continue;
        case State.SubOption:
          this.#subOption = byte;
          this.#subLength = 0;
          this.#state = State.Sub;
          continue;
        case State.Sub:
          if (byte === TELNET.IAC) this.#state = State.SubCommand;
          else this.#keepSub(byte);
          continue;
        case State.SubCommand:
          if (byte === TELNET.IAC) {
            this.#keepSub(byte);
            this.#state = State.Sub;
          } else if (byte === TELNET.SE) {
            this.#state = State.Data;
            dataStart = i + 1;
            sink.command({
              type: "subnegotiation",
              option: this.#subOption,
              data: this.#sub.slice(0, this.#subLength),
            });
          } else {
            // A command inside a subnegotiation means the client lost its
            // place (RFC 855 leaves it undefined): end the subnegotiation
            // and read the command as one.
            this.#state = State.Command;
            i--;
          }
          continue;
      }
    }
    if (this.#state === State.Data && dataStart < chunk.length) {
      sink.data(chunk.subarray(dataStart));
    }
  }

  #keepSub(byte: number): void {
    if (this.#subLength >= MAX_SUBNEGOTIATION_BYTES) return;
    if (this.#sub.length === 0) {
      this.#sub = new Uint8Array(MAX_SUBNEGOTIATION_BYTES);
    }
    this.#sub[this.#subLength++] = byte;
  }
}
