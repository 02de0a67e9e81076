/**
 * The UDP side of the compatibility door (`chat serve --udp`): each source
 * address is a member of the default room, in the same hub as everyone else.
 *
 * A first datagram that is a valid nickname names the member, any other is a
 * guest's first message. Every datagram a member sends gets exactly one
 * direct reply datagram (its welcome, or the echo of its message, or an
 * error), because some tutorial clients block in `recvfrom` until it comes;
 * the room's other events reach a member one datagram each.
 *
 * UDP source addresses can be forged, so the door is off by default, never
 * sends to an address that has not spoken for `COMPAT_LIMITS.udpExpiryMs`,
 * never sends one IP address more than `udpSendRate` datagrams a second
 * (all its ports together, across quits and rejoins: {@link ./udp_budget.ts}),
 * and makes a new member's first reply no bigger than `udpFirstReplyFactor`
 * times the datagram that made it one: a spoofed datagram must not turn the
 * server into an amplifier against the forged address. Datagrams are at most
 * 1,024 bytes, cut on a character boundary.
 *
 * {@linkcode UdpDoor} holds the decisions and takes a `send` function;
 * {@linkcode startUdpDoor} binds the socket (`node:dgram`, which needs no
 * unstable flag).
 *
 * @module
 */

import dgram from "node:dgram";
import { errorEvent, type ServerEvent } from "../../../protocol.ts";
import { type Admission, Ticket } from "../admission.ts";
import { GuestNames } from "../guest_names.ts";
import { type Hub, Outgoing, type Recipient, type Session } from "../hub.ts";
import { COMPAT_LIMITS } from "../../shared/limits.ts";
import { TokenBucket } from "../../shared/rate_limiter.ts";
import { renderText, TEXT_LINES } from "../../shared/text_dialect.ts";
import { UdpBudgets } from "./udp_budget.ts";
import {
  isQuitWord,
  nameFirstSend,
  shortHistory,
  stripOwnPrefix,
} from "./unframed.ts";
import { truncateUtf8 } from "./utf8_chunks.ts";

/** Sends one datagram; must not block. */
export type SendDatagram = (
  bytes: Uint8Array,
  port: number,
  address: string,
) => void;

/** Options for {@linkcode UdpDoor}. */
export interface UdpDoorOptions {
  hub: Hub;
  /**
   * Messages per second one IP address may send, all its members together,
   * and the burst (the rate a TCP client has).
   */
  rate: number;
  burst: number;
  /** Members at once; datagrams from further addresses get "server full". */
  maxMembers: number;
  /** Where guest names come from (shared with TCP). */
  guests?: GuestNames;
  /**
   * The per-address policy shared with TCP: each member counts as a
   * connection of its IP (against `--max-per-address` and `--max-clients`)
   * and its joins are paced. Without it, only `maxMembers` bounds members.
   */
  admission?: Admission;
  /** Writes one log line. */
  log: (line: string) => void;
  /** The clock. @default {Date.now} */
  now?: () => number;
}

const encoder = new TextEncoder();
/** How long closing waits for the last datagrams to be handed to the OS. */
const UDP_CLOSE_WAIT_MS = 500;

/** One source address and port, as a member of the hub. */
class UdpMember implements Recipient {
  session: Session | undefined;
  /** The name this address chose, kept to strip it as a prefix. */
  chosenNick = "";
  lastHeardAt: number;
  /**
   * The most bytes the first datagram to this member may hold, until it is
   * sent (see `COMPAT_LIMITS.udpFirstReplyFactor`); then `undefined`.
   */
  firstReplyLimit: number | undefined;
  /**
   * A guest whose first datagram was a message gets its welcome and that
   * message's echo in one reply datagram: the welcome waits here.
   */
  heldWelcome: Uint8Array[] | undefined;
  holding = false;
  /** Its place in admission, when the door has one. */
  ticket: Ticket | undefined;

  constructor(
    readonly address: string,
    readonly port: number,
    readonly door: UdpDoor,
    now: () => number,
    firstDatagramBytes: number,
  ) {
    this.lastHeardAt = now();
    this.firstReplyLimit = firstReplyLimit(firstDatagramBytes);
  }

  /** Called by the hub: one event, one datagram. */
  deliver(out: Outgoing): void {
    const event = out.event;
    const choices = event.type === "welcome"
      ? welcomeRenditions(event)
      : event.type === "part" && event.current === undefined
      // Kicked or banned out of its one room: a UDP client has no /join.
      ? [encoder.encode(
        `* You are out of ${event.room}: your next message takes you back in, if you may come back.\n`,
      )]
      : [out.bytes(TEXT_LINES)];
    if (this.holding) {
      if (event.type === "welcome") {
        this.heldWelcome = choices;
        return;
      }
      if (this.#answersHeld(event)) {
        this.holding = false;
        const held = this.heldWelcome ?? [new Uint8Array(0)];
        this.heldWelcome = undefined;
        return this.door.sendTo(
          this,
          held.map((welcome) => concat(welcome, choices[0])),
        );
      }
    }
    this.door.sendTo(this, choices);
  }

  /** The event that answers a guest's first message: its echo or an error. */
  #answersHeld(event: ServerEvent): boolean {
    return event.type === "error" || event.type === "bye" ||
      (event.type === "msg" && event.from === this.session?.nick);
  }
}

/** The members reached over UDP, and what each datagram does. */
export class UdpDoor {
  #members = new Map<string, UdpMember>();
  #options: UdpDoorOptions;
  #send: SendDatagram;
  #now: () => number;
  #guests: GuestNames;
  #decoder = new TextDecoder("utf-8", { fatal: true });
  #budgets: UdpBudgets;
  /** Replies to addresses that are not members ("server full"), all told. */
  #strangerReplies = new TokenBucket({
    rate: COMPAT_LIMITS.udpSendRate,
    burst: COMPAT_LIMITS.udpSendBurst,
  });

  /** @param send hands one datagram to the socket. */
  constructor(options: UdpDoorOptions, send: SendDatagram) {
    this.#options = options;
    this.#send = send;
    this.#now = options.now ?? Date.now;
    this.#guests = options.guests ?? new GuestNames();
    this.#budgets = new UdpBudgets({
      rate: options.rate,
      burst: options.burst,
      now: this.#now,
    });
  }

  /** How many addresses and ports are members now. */
  get size(): number {
    return this.#members.size;
  }

  /** How many IP addresses have a send and message budget now. */
  get budgetCount(): number {
    return this.#budgets.size;
  }

  /** Handles one datagram from `address`:`port`. */
  receive(data: Uint8Array, address: string, port: number): void {
    const key = `${address}|${port}`;
    let text: string | undefined;
    try {
      // Some clients end a datagram with a newline; it is not part of it.
      text = this.#decoder.decode(data).replace(/\r?\n$/, "");
    } catch {
      text = undefined;
    }
    const member = this.#members.get(key);
    if (member) {
      member.lastHeardAt = this.#now();
      if (text === undefined) {
        return member.deliver(new Outgoing(errorEvent("invalid_utf8")));
      }
      return this.#message(member, text);
    }
    // A stranger's datagram that says nothing makes no member and no reply.
    if (text === undefined || text.trim() === "") return;
    if (this.#members.size >= this.#options.maxMembers) {
      if (!this.#strangerReplies.take()) return;
      if (!this.#budgets.of(address).outbound.take()) return;
      const full = encoder.encode(renderText(errorEvent("server_full")));
      return this.#send(
        truncateUtf8(full, firstReplyLimit(data.length)),
        port,
        address,
      );
    }
    // The per-address limits shared with TCP: this IP's other ports and
    // connections count, and its joins are paced.
    const ticket = this.#options.admission?.open(address);
    if (ticket !== undefined && !(ticket instanceof Ticket)) {
      return this.#refuseStranger(
        ticket.line + "\n",
        data.length,
        port,
        address,
      );
    }
    if (ticket !== undefined && ticket.helloWait(0) === undefined) {
      // A datagram cannot wait its turn: this join is refused.
      ticket.release();
      const slow = errorEvent(
        "rate_limited",
        "too many joins from your address at once; try again in a moment",
      );
      return this.#refuseStranger(renderText(slow), data.length, port, address);
    }
    this.#join(key, address, port, text, data.length, ticket);
  }

  /** One refusal datagram to a would-be member, within the budgets. */
  #refuseStranger(
    text: string,
    datagramBytes: number,
    port: number,
    address: string,
  ): void {
    if (!this.#strangerReplies.take()) return;
    if (!this.#budgets.of(address).outbound.take()) return;
    this.#send(
      truncateUtf8(encoder.encode(text), firstReplyLimit(datagramBytes)),
      port,
      address,
    );
  }

  /**
   * Drops members silent for longer than the expiry, and the budgets of
   * addresses that would start afresh anyway; call now and then.
   */
  sweep(): void {
    const now = this.#now();
    for (const [key, member] of this.#members) {
      if (now - member.lastHeardAt < COMPAT_LIMITS.udpExpiryMs) continue;
      this.#members.delete(key);
      this.#leave(member, "timed out");
    }
    this.#budgets.sweep();
  }

  /** Says `bye` to every member and removes them all. */
  closeAll(reason: string): void {
    for (const member of this.#members.values()) {
      member.deliver(new Outgoing({ type: "bye", reason }));
      this.#leave(member, reason);
    }
    this.#members.clear();
  }

  /**
   * Sends a member one datagram, the first of `choices` (longest first) that
   * fits, unless the address has been silent too long or its IP address has
   * had its share of datagrams this second.
   */
  sendTo(member: UdpMember, choices: Uint8Array[]): void {
    if (this.#now() - member.lastHeardAt >= COMPAT_LIMITS.udpExpiryMs) return;
    if (!this.#budgets.of(member.address).outbound.take()) return;
    const limit = Math.min(
      member.firstReplyLimit ?? COMPAT_LIMITS.maxReplyBytes,
      COMPAT_LIMITS.maxReplyBytes,
    );
    member.firstReplyLimit = undefined;
    const bytes = choices.find((choice) => choice.length <= limit) ??
      choices[choices.length - 1];
    this.#send(truncateUtf8(bytes, limit), member.port, member.address);
  }

  #join(
    key: string,
    address: string,
    port: number,
    text: string,
    datagramBytes: number,
    ticket: Ticket | undefined,
  ): void {
    const hub = this.#options.hub;
    const member = new UdpMember(address, port, this, this.#now, datagramBytes);
    // As over unframed TCP: a nickname, or a guest's first message.
    const { nick, chosenNick } = nameFirstSend(
      text.trim(),
      (wanted) => hub.checkNick(wanted),
      this.#guests,
    );
    let firstMessage: string | undefined;
    if (chosenNick !== undefined) member.chosenNick = chosenNick;
    else {
      firstMessage = text;
      member.holding = true;
    }
    const request = { nick, address: ticket?.address ?? member.address };
    const result = hub.hello(member, request);
    if (typeof result === "string") {
      ticket?.release();
      member.holding = false;
      const refusal = errorEvent(
        result,
        hub.helloRefusalMessage(result, request),
      );
      return this.sendTo(member, [encoder.encode(renderText(refusal))]);
    }
    member.session = result;
    member.ticket = ticket;
    ticket?.admitted();
    this.#members.set(key, member);
    this.#options.log(`udp join ${nick} ${formatAddress(address, port)}`);
    if (firstMessage !== undefined) this.#message(member, firstMessage);
  }

  #message(member: UdpMember, raw: string): void {
    const session = member.session!;
    const text = stripOwnPrefix(raw, [session.nick, member.chosenNick]);
    if (isQuitWord(text)) {
      member.deliver(new Outgoing({ type: "bye", reason: "goodbye" }));
      this.#members.delete(`${member.address}|${member.port}`);
      return this.#leave(member, "quit");
    }
    // One budget per IP address: more ports, or rejoining, gives no more.
    if (!this.#budgets.of(member.address).inbound.take()) {
      return member.deliver(new Outgoing(errorEvent("rate_limited")));
    }
    const hub = this.#options.hub;
    if (session.rooms.size === 0) {
      // Put out by a kick, a member may come back: a UDP client has no
      // /join, so its next message takes it back. Its welcome waits for the
      // message's echo (one reply per datagram); a ban's refusal is the reply.
      member.holding = true;
      hub.handle(session, { type: "join", room: hub.defaultRoom });
      if (session.rooms.size === 0) return;
    }
    hub.handle(session, { type: "say", text });
  }

  #leave(member: UdpMember, reason: string): void {
    member.ticket?.release();
    if (!member.session) return;
    this.#options.hub.leave(member.session, reason);
    this.#options.log(
      `udp leave ${member.session.nick} ${
        formatAddress(member.address, member.port)
      }: ${reason}`,
    );
  }
}

/** A running UDP door. */
export interface RunningUdpDoor {
  /** The door's members and decisions. */
  door: UdpDoor;
  /** Says `bye` to every member, then closes the socket. */
  close(reason: string): Promise<void>;
}

/**
 * Binds UDP on `hostname`:`port` (the TCP port's number) and serves the door.
 * Rejects with `Deno.errors.AddrInUse` when the port is taken for UDP.
 */
export function startUdpDoor(
  hostname: string,
  port: number,
  options: UdpDoorOptions,
): Promise<RunningUdpDoor> {
  const socket = dgram.createSocket(hostname.includes(":") ? "udp6" : "udp4");
  let pending = 0;
  let allSent: (() => void) | undefined;
  const door = new UdpDoor(options, (bytes, toPort, toAddress) => {
    pending++;
    socket.send(bytes, toPort, toAddress, (error) => {
      if (error) options.log(`udp send to ${toAddress}: ${error.message}`);
      if (--pending === 0) allSent?.();
    });
  });
  socket.on("message", (data: Uint8Array, from: dgram.RemoteInfo) => {
    door.receive(data, from.address, from.port);
  });
  const sweeper = setInterval(() => door.sweep(), COMPAT_LIMITS.udpSweepMs);
  const bound = Promise.withResolvers<RunningUdpDoor>();
  socket.once("error", (error: Error & { code?: string }) => {
    clearInterval(sweeper);
    socket.close();
    bound.reject(
      error.code === "EADDRINUSE"
        ? new Deno.errors.AddrInUse(`UDP port ${port} is already in use`)
        : error,
    );
  });
  socket.bind(port, hostname, () => {
    // After binding, a socket error is logged, never fatal.
    socket.removeAllListeners("error");
    socket.on("error", (error: Error) => options.log(`udp error: ${error}`));
    bound.resolve({
      door,
      close: async (reason) => {
        clearInterval(sweeper);
        door.closeAll(reason);
        if (pending > 0) {
          // The last byes go out before the socket closes (briefly at most).
          let timer: ReturnType<typeof setTimeout> | undefined;
          await new Promise<void>((resolve) => {
            allSent = resolve;
            timer = setTimeout(resolve, UDP_CLOSE_WAIT_MS);
          });
          clearTimeout(timer);
        }
        socket.close();
      },
    });
  });
  return bound.promise;
}

/**
 * The most bytes a new member's first reply may hold when the datagram that
 * made it a member held `datagramBytes`: `udpFirstReplyFactor` times as many
 * on the wire, where each datagram also carries its IP and UDP headers.
 */
function firstReplyLimit(datagramBytes: number): number {
  const header = COMPAT_LIMITS.udpHeaderBytes;
  return COMPAT_LIMITS.udpFirstReplyFactor * (datagramBytes + header) - header;
}

/**
 * A welcome as a member sees it, longest first: with the recent messages,
 * its first line alone, then shorter, so the first reply to a new address
 * can say at least `* Welcome, NAME!` within its size limit.
 */
function welcomeRenditions(
  event: Extract<ServerEvent, { type: "welcome" }>,
): Uint8Array[] {
  const full = renderText(shortHistory(event, COMPAT_LIMITS.unframedHistory));
  return [
    full,
    full.slice(0, full.indexOf("\n") + 1),
    `* Welcome, ${event.nick}! You are in ${event.room}.\n`,
    `* Welcome, ${event.nick}!\n`,
  ].map((text) => encoder.encode(text));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function formatAddress(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}
