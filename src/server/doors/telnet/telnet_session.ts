/**
 * Telnet on a text connection: the parser, the option negotiation and the
 * line editor of one client, behind the two calls a connection makes —
 * {@linkcode TelnetSession.receive} for what it reads and
 * {@linkcode TelnetSession.outgoing} for what it writes.
 *
 * Nothing changes for a client until it sends a telnet command, so `nc`
 * users and tutorial programs see the same bytes as before. From its first
 * command on, a client's lines end only at Enter (never at a pause, as
 * unframed input does), `\n` goes out as telnet's `\r\n`, Ctrl-C (`IAC IP`,
 * `IAC BRK`, or 0x03) clears the line and a second one within 2 s leaves,
 * `IAC AYT` is answered, and a client that negotiates (Windows telnet,
 * PuTTY, `mode character`) is offered server echo: in character mode the
 * server edits the line ({@linkcode CharLineEditor}).
 *
 * @module
 */

import {
  IacParser,
  type IacSink,
  type Signal,
  TELNET,
  type TelnetCommand,
} from "./iac_parser.ts";
import {
  OPTION,
  optionBytes,
  OptionNegotiator,
  SERVER_POLICY,
} from "./negotiation.ts";
import { CharLineEditor, type CharLineSink } from "./char_line_editor.ts";
import type { TextCharset } from "../text_charset.ts";
import { PROTOCOL_LIMITS, TELNET_LIMITS } from "../../../shared/limits.ts";

/** What a {@linkcode TelnetSession} needs from its connection. */
export interface TelnetSessionOptions {
  /** The connection's charset: keys are decoded and echo encoded with it. */
  charset: TextCharset;
  /** Queues bytes for the client exactly as given (commands, echo). */
  send(bytes: Uint8Array): void;
  /** Shows the client a line of its own (above the line being typed). */
  print(line: string): void;
  /** A line the client finished. */
  line(text: string): void;
  /** A line over the length limit was dropped. */
  tooLong(): void;
  /** Ctrl-C twice: the client leaves. */
  leave(): void;
  /** False where a connection must stay as it is (the JSON dialect). */
  mayStart(): boolean;
  /** Takes the bytes read before telnet began that are no line yet. */
  takePending(): Uint8Array | undefined;
  /** The clock, for the second Ctrl-C. @default {Date.now} */
  now?: () => number;
}

/**
 * The byte each command stands for when Linux telnet (inetutils) sent it in
 * place of one. Until binary mode is agreed, which it never asks for on a
 * port other than 23, it compares the low seven bits of every byte typed
 * with the terminal's special keys and sends the key's command instead:
 * 0x9C (in 在, 有, 月) is Ctrl-\ (`IAC BRK` or `IAC ABORT`), 0x9A (的, 会)
 * Ctrl-Z (`IAC SUSP`), 0x83 (心, 能) Ctrl-C (`IAC IP`), 0x8F (可, 小) Ctrl-O
 * (`IAC AO`), 0x95 (长, 法) Ctrl-U (`IAC EL`), 0x84 (然, 意) Ctrl-D (`IAC
 * EOF`), and 0x88 (我, 到) Ctrl-H (`IAC EC`) where that is the erase key:
 * most Chinese lines lost a character, and many read as Ctrl-C. No key is
 * pressed inside a character, so such a command between a character's bytes
 * is that byte.
 */
const STRIPPED_KEYS: Partial<Record<Signal, number>> = {
  BRK: 0x9c,
  ABORT: 0x9c,
  SUSP: 0x9a,
  IP: 0x83,
  AO: 0x8f,
  EL: 0x95,
  EOF: 0x84,
  EC: 0x88,
};

const encoder = new TextEncoder();
const LF = 0x0a;
const CR = 0x0d;

/**
 * Telnet for one connection.
 *
 * @example
 * ```ts
 * const sent: Uint8Array[] = [];
 * const telnet = new TelnetSession({
 *   charset: new TextCharset(() => {}),
 *   send: (bytes) => sent.push(bytes),
 *   print: () => {},
 *   line: (text) => console.log(text),
 *   tooLong: () => {},
 *   leave: () => {},
 *   mayStart: () => true,
 *   takePending: () => undefined,
 * });
 * // Linux telnet's Ctrl-C: IAC IP, IAC DO TIMING-MARK.
 * telnet.receive(new Uint8Array([255, 244, 255, 253, 6]), () => {});
 * sent[0]; // → IAC WILL TIMING-MARK: Uint8Array [255, 251, 6]
 * ```
 */
export class TelnetSession {
  #options: TelnetSessionOptions;
  #parser = new IacParser();
  #editor: CharLineEditor | undefined;
  #negotiator: OptionNegotiator | undefined;
  #plain: ((bytes: Uint8Array) => void) | undefined;
  /** The client negotiated an option (not just Ctrl-C's timing mark). */
  #negotiates = false;
  #offered = false;
  #lastInterruptAt: number | undefined;
  #leaving = false;
  /** Lines to show once a read is handled, after its commands are answered. */
  #notices: string[] = [];
  #parserSink: IacSink;
  #editorSink: CharLineSink;

  constructor(options: TelnetSessionOptions) {
    this.#options = options;
    this.#parserSink = {
      data: (bytes) => this.#data(bytes),
      start: () => this.#start(),
      command: (command) => this.#command(command),
    };
    this.#editorSink = {
      echo: (text) => options.send(options.charset.encodeText(text)),
      line: (text) => options.line(text),
      interrupt: () => this.#interrupt(),
      tooLong: () => options.tooLong(),
    };
  }

  /** True once the client sent a telnet command. */
  get active(): boolean {
    return this.#parser.active;
  }

  /** True while the server echoes and edits the line (character mode). */
  get characterMode(): boolean {
    return this.#editor?.echoing ?? false;
  }

  /** Hides what is typed from now on (a password), or shows it again. */
  hideInput(on: boolean): void {
    if (this.#editor) this.#editor.secret = on;
  }

  /**
   * True when `chunk` could begin telnet (it holds 0xFF): until one does,
   * a connection needs no session at all.
   */
  static mayBegin(chunk: Uint8Array): boolean {
    return chunk.indexOf(TELNET.IAC) !== -1;
  }

  /**
   * Reads one chunk. Bytes of a client that is not telnet go to `plain`
   * untouched (a read without 0xFF costs one `indexOf`); a telnet client's
   * lines come back through the options' `line`.
   */
  receive(chunk: Uint8Array, plain: (bytes: Uint8Array) => void): void {
    if (!this.#parser.active) {
      if (!this.#parser.holding && chunk.indexOf(TELNET.IAC) === -1) {
        return plain(chunk);
      }
      if (!this.#options.mayStart()) return plain(chunk);
    }
    this.#plain = plain;
    try {
      this.#parser.push(chunk, this.#parserSink);
    } finally {
      this.#plain = undefined;
    }
    this.#afterRead();
  }

  /** At the end of input: what the parser still holds goes to `plain`. */
  end(plain: (bytes: Uint8Array) => void): void {
    this.#parser.end({ ...this.#parserSink, data: plain });
  }

  /**
   * What the connection writes, made ready for a telnet client: `\n` as
   * `\r\n`, and in character mode the line being typed taken off the screen
   * before and drawn again after. Unchanged for other clients.
   */
  outgoing(utf8: Uint8Array): Uint8Array {
    if (!this.#parser.active) return utf8;
    const body = withCrLf(utf8);
    const editor = this.#editor!;
    if (!editor.showing) return body;
    const before = encoder.encode(editor.hide());
    const after = encoder.encode(editor.show());
    const out = new Uint8Array(before.length + body.length + after.length);
    out.set(before);
    out.set(body, before.length);
    out.set(after, before.length + body.length);
    return out;
  }

  #data(bytes: Uint8Array): void {
    if (!this.#parser.active) return this.#plain!(bytes);
    this.#negotiator!.heardInput();
    const text = this.#options.charset.decodeKeys(bytes);
    if (text !== "") this.#editor!.feed(text, this.#editorSink);
  }

  #start(): void {
    this.#editor = new CharLineEditor({
      maxBytes: PROTOCOL_LIMITS.maxFrameBytes,
      width: TELNET_LIMITS.defaultWidth,
    });
    this.#negotiator = new OptionNegotiator(SERVER_POLICY, {
      send: (verb, option) => this.#options.send(optionBytes(verb, option)),
      changed: (side, option, enabled) => {
        if (side !== "us" || option !== OPTION.ECHO) return;
        this.#editor!.echoing = enabled;
        // The banner went out before the client said it was telnet, with a
        // bare \n: a terminal in character mode (PuTTY's) moved down
        // without going back to the first column. The line is
        // drawn from there, and what was typed before the echo began is
        // shown now.
        if (enabled) this.#editorSink.echo("\r" + this.#editor!.show());
      },
    });
    // A line begun before the first command is finished in the editor.
    const pending = this.#options.takePending();
    if (pending && pending.length > 0) this.#data(pending);
  }

  #command(command: TelnetCommand): void {
    const editor = this.#editor!;
    switch (command.type) {
      case "option":
        if (command.option !== OPTION.TIMING_MARK) this.#negotiates = true;
        return this.#negotiator!.receive(command.verb, command.option);
      case "subnegotiation":
        if (
          command.option === OPTION.NAWS && command.data.length >= 4 &&
          this.#negotiator!.enabled("him", OPTION.NAWS)
        ) {
          editor.width = command.data[0] << 8 | command.data[1];
        }
        return;
      case "signal": {
        const stripped = STRIPPED_KEYS[command.signal];
        if (stripped !== undefined && this.#options.charset.midCharacter) {
          // A byte Linux telnet took for a key (see STRIPPED_KEYS): it goes
          // back in.
          return this.#data(new Uint8Array([stripped]));
        }
        this.#negotiator!.heardInput();
        switch (command.signal) {
          case "IP":
          case "BRK":
          case "ABORT":
            editor.clear(this.#editorSink);
            return this.#interrupt();
          case "AYT":
            this.#notices.push("[yes, still here]");
            return;
          case "EC":
            return editor.eraseCharacter(this.#editorSink);
          case "EL":
            return editor.clear(this.#editorSink);
        }
        return;
      }
    }
  }

  /** Ctrl-C: the first one says how to leave, a second one soon after leaves. */
  #interrupt(): void {
    const now = (this.#options.now ?? Date.now)();
    const last = this.#lastInterruptAt;
    // In line mode the client's terminal showed `^C` where the cursor was:
    // what follows starts a line of its own. In character mode the line was
    // just taken off the screen.
    const start = this.characterMode ? "" : "\n";
    if (last !== undefined && now - last <= TELNET_LIMITS.interruptWindowMs) {
      if (start) this.#notices.push("");
      this.#leaving = true;
      return;
    }
    this.#lastInterruptAt = now;
    this.#notices.push(
      `${start}* Ctrl-C: press it again to leave, or type /quit`,
    );
  }

  /**
   * After a read: offer echo to a client that negotiates, then show notices
   * and leave. These wait for the end of the read so they follow the answer
   * to `DO TIMING-MARK`: telnet discards output from Ctrl-C until then.
   */
  #afterRead(): void {
    if (!this.#parser.active) return;
    if (this.#negotiates && !this.#offered) {
      this.#offered = true;
      this.#negotiator!.request("us", OPTION.SUPPRESS_GO_AHEAD, true);
      this.#negotiator!.request("us", OPTION.ECHO, true);
      // The width, to erase a line typed across rows (Linux telnet tells it
      // only when asked; PuTTY offers it).
      this.#negotiator!.request("him", OPTION.NAWS, true);
    }
    const notices = this.#notices;
    this.#notices = [];
    for (const notice of notices) this.#options.print(notice);
    if (this.#leaving) {
      this.#leaving = false;
      this.#options.leave();
    }
  }
}

/** `bytes` with every bare `\n` written as `\r\n`. */
export function withCrLf(bytes: Uint8Array): Uint8Array {
  let bare = 0;
  for (let i = bytes.indexOf(LF); i !== -1; i = bytes.indexOf(LF, i + 1)) {
    if (i === 0 || bytes[i - 1] !== CR) bare++;
  }
  if (bare === 0) return bytes;
  const out = new Uint8Array(bytes.length + bare);
  let written = 0;
  let from = 0;
  for (let i = bytes.indexOf(LF); i !== -1; i = bytes.indexOf(LF, i + 1)) {
    if (i > 0 && bytes[i - 1] === CR) continue;
    out.set(bytes.subarray(from, i), written);
    written += i - from;
    out[written++] = CR;
    from = i;
  }
  out.set(bytes.subarray(from), written);
  return out;
}
