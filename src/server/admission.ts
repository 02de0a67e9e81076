/**
 * Admission: who may come in, how many at once, how fast, and how much each
 * may send. Every door (TCP text, JSON and unframed, TLS, UDP, IRC, HTTP and
 * WebSocket) asks this one module, by the peer's address, so a limit added
 * here holds everywhere.
 *
 * It is pure and synchronous with an injectable clock: the doors do the I/O
 * (the refusal line, the timer of a hello that waits its turn) and this
 * module only decides. Nothing here runs per delivery; per message it is one
 * token-bucket take, O(1) and allocation-free.
 *
 * **What an address is.** The peer's IP without its port. IPv4 addresses
 * count one by one. IPv6 ones count by their /64 prefix, because one home or
 * one phone is normally given a whole /64 and may pick any address in it; an
 * IPv4 address mapped into IPv6 (`::ffff:1.2.3.4`, what a server on `::`
 * sees) counts as that IPv4 address.
 *
 * **Per address** ({@linkcode Admission.open}, at accept): connections at once
 * (`--max-per-address`), counted from accept to close, so silent, half-open
 * and TLS-handshaking ones count; connections still joining, not yet members
 * (`--max-unauth-per-address`); new connections per second
 * (`--connects-per-second`). A refused newcomer costs one line and a close,
 * and a newcomer from another address is never refused for them.
 *
 * **Per connection** ({@linkcode Ticket}): its flood allowance (`--rate`,
 * `--burst`), which starts where the address's last closed connection left
 * it, so quitting and reconnecting buys no fresh burst (while simultaneous
 * connections of one address, a lab behind one NAT, each keep their own);
 * its hello, paced per address (`--hellos-per-second`: one waits its turn,
 * which also bounds join and leave notices); its password checks, at most
 * two a second per address and backing off after each wrong one.
 *
 * `--max-per-address 0` turns the per-address limits off (connections,
 * joining, connects and hellos per second): for a benchmark, or a lab behind
 * one address. The flood allowance and the password backoff stay.
 *
 * @module
 */

import { REFUSAL_PREFIX } from "../../protocol.ts";
import { ADMISSION_LIMITS } from "../shared/limits.ts";
import { TokenBucket } from "../shared/rate_limiter.ts";

/** Options for {@linkcode Admission}; `chat serve` passes its flags. */
export interface AdmissionOptions {
  /** Connections at once, all addresses together (`--max-clients`). */
  maxClients: number;
  /** Connections one address may hold at once; 0 turns every per-address limit off. */
  maxPerAddress: number;
  /** Connections of one address still joining (not yet members); 0 = no limit. */
  maxUnauthPerAddress: number;
  /** New connections per second from one address; 0 = no limit. */
  connectsPerSecond: number;
  /** Hellos per second from one address; 0 = no limit. */
  hellosPerSecond: number;
  /** A connection's flood allowance: tokens per second (0 = no limit)… */
  rate: number;
  /** …and the most it may send at once. */
  burst: number;
  /** The clock, in ms. @default {Date.now} */
  now?: () => number;
}

/** Why a newcomer was refused at the door. */
export type RefusalReason = "full" | "busy" | "joining" | "too_fast";

/** A newcomer turned away: the line it reads, and whether to log it now. */
export interface Refusal {
  readonly reason: RefusalReason;
  /** One plain line for the client (no newline), then the door closes. */
  readonly line: string;
  /** For the log: why, without the client's port. */
  readonly why: string;
  /**
   * True when this refusal should be logged: refusals of one address are
   * logged at most once a second, so a flood of them is not a flood of log.
   */
  readonly log: boolean;
  /** Refusals of this address left out of the log since the last logged one. */
  readonly unlogged: number;
}

/**
 * What each command costs from the flood allowance: every one counts, since
 * each is work and a reply; `ping` is cheap, `quit` ends the connection.
 * Lines that only earn an error (bad JSON, bad UTF-8, unknown commands)
 * cost as much as a message.
 */
export const COMMAND_COSTS = {
  say: 1,
  me: 1,
  dm: 1,
  nick: 1,
  join: 1,
  part: 1,
  who: 1,
  rooms: 1,
  search: 1,
  /** A page of history: its reply is bounded (64 KiB), like a `who`. */
  history: 1,
  help: 1,
  // Hashing a password costs about 50 ms of the server's time: at most one
  // a second per connection at the default rate.
  register: 5,
  password: 5,
  op: 1,
  deop: 1,
  mute: 1,
  unmute: 1,
  muteall: 1,
  kick: 1,
  ban: 1,
  unban: 1,
  bans: 1,
  notice: 1,
  recall: 1,
  /** Asking costs a message; the bytes have their own pace (`--uploads-per-minute`). */
  upload: 1,
  ping: 0.25,
  /** IRC's AWAY, which every member sharing a room is told of, like a rename. */
  away: 1,
  quit: 0,
  invalid: 1,
} as const;

/** Everything one address has: counters, pacing, memory of its last connection. */
class AddressRecord {
  /** Connections open now. */
  open = 0;
  /** Of those, the ones that are not members yet. */
  joining = 0;
  /** Pacing of new connections and hellos: each one's theoretical time (GCRA). */
  connectAt = 0;
  helloAt = 0;
  /** The flood allowance the last closed connection left, and when. */
  floodTokens = Infinity;
  floodAt = 0;
  /** Wrong passwords in a row, the last one's time, and when the next check may be. */
  failures = 0;
  lastFailureAt = 0;
  nextCheckAt = 0;
  /** Refusals not logged since the last logged one, and when that was. */
  unlogged = 0;
  loggedAt = -Infinity;

  constructor(readonly key: string) {}
}

/** The settings and counts every ticket shares. */
interface Policy {
  readonly options: Required<AdmissionOptions>;
  readonly perAddress: boolean;
  open: number;
}

/**
 * The admission policy. Call {@linkcode Admission.open} at accept; the ticket
 * it returns goes with the connection and is released when it ends.
 *
 * @example
 * ```ts
 * const admission = new Admission({
 *   maxClients: 1000, maxPerAddress: 20, maxUnauthPerAddress: 10,
 *   connectsPerSecond: 10, hellosPerSecond: 2, rate: 5, burst: 10,
 * });
 * const ticket = admission.open("192.168.1.23");
 * if (ticket instanceof Ticket) {
 *   ticket.take(COMMAND_COSTS.say); // → true: the message may go
 *   ticket.release();
 * }
 * ```
 */
export class Admission {
  #policy: Policy;
  #records = new Map<string, AddressRecord>();

  /** @param options the limits; see {@linkcode AdmissionOptions}. */
  constructor(options: AdmissionOptions) {
    const full = { now: Date.now, ...options };
    this.#policy = {
      options: full,
      perAddress: full.maxPerAddress > 0,
      open: 0,
    };
  }

  /** Connections holding a ticket now, every address together. */
  get size(): number {
    return this.#policy.open;
  }

  /** Addresses remembered now (for tests of the bound). */
  get trackedAddresses(): number {
    return this.#records.size;
  }

  /** Connections open now from the address of `hostname`. */
  openFrom(hostname: string): number {
    return this.#records.get(addressKey(hostname))?.open ?? 0;
  }

  /**
   * A newcomer from `hostname` (an IP, as the socket reports it): a ticket
   * that counts it until released, or the refusal to send it.
   */
  open(hostname: string): Ticket | Refusal {
    const policy = this.#policy;
    const options = policy.options;
    const now = options.now();
    this.#forgetIdle(now);
    const record = this.#record(addressKey(hostname));
    if (policy.open >= options.maxClients) {
      return refuse(
        record,
        now,
        "full",
        `${REFUSAL_PREFIX}this server is full (${options.maxClients} clients). Try again later.`,
        `server full (${options.maxClients} clients)`,
      );
    }
    if (policy.perAddress) {
      if (record.open >= options.maxPerAddress) {
        return refuse(
          record,
          now,
          "busy",
          `${REFUSAL_PREFIX}too many connections from your address (${options.maxPerAddress} at once). Try again later.`,
          `${options.maxPerAddress} connections from ${record.key} already`,
        );
      }
      if (
        options.maxUnauthPerAddress > 0 &&
        record.joining >= options.maxUnauthPerAddress
      ) {
        return refuse(
          record,
          now,
          "joining",
          `${REFUSAL_PREFIX}too many connections from your address are still joining (${options.maxUnauthPerAddress}). Try again later.`,
          `${options.maxUnauthPerAddress} connections from ${record.key} still joining`,
        );
      }
      if (options.connectsPerSecond > 0) {
        const interval = 1000 / options.connectsPerSecond;
        const burst = Math.max(
          1,
          Math.round(
            options.connectsPerSecond * ADMISSION_LIMITS.connectBurstSeconds,
          ),
        );
        const start = Math.max(record.connectAt, now);
        if (start - (burst - 1) * interval > now) {
          return refuse(
            record,
            now,
            "too_fast",
            `${REFUSAL_PREFIX}your address is connecting too fast (${options.connectsPerSecond} a second). Try again in a moment.`,
            `${record.key} connecting faster than ${options.connectsPerSecond} a second`,
          );
        }
        record.connectAt = start + interval;
      }
    }
    record.open++;
    record.joining++;
    policy.open++;
    const bucket = new TokenBucket({
      rate: options.rate,
      burst: options.burst,
      now: options.now,
      tokens: rememberedTokens(record, now, options),
    });
    return new Ticket(policy, record, bucket);
  }

  #record(key: string): AddressRecord {
    let record = this.#records.get(key);
    if (!record) this.#records.set(key, record = new AddressRecord(key));
    return record;
  }

  /**
   * Looks at the two longest-remembered addresses: one with nothing left to
   * remember is forgotten, one still in use goes to the back of the line.
   * Amortised over arrivals, this keeps the map to the addresses that matter
   * (and, past `maxTrackedAddresses`, drops the oldest idle ones regardless).
   */
  #forgetIdle(now: number): void {
    for (let step = 0; step < 2; step++) {
      const oldest = this.#records.values().next().value;
      if (oldest === undefined) return;
      this.#records.delete(oldest.key);
      const forget = oldest.open === 0 &&
        (this.#records.size >= ADMISSION_LIMITS.maxTrackedAddresses ||
          isForgettable(oldest, now, this.#policy.options));
      if (!forget) this.#records.set(oldest.key, oldest);
    }
  }
}

/**
 * One admitted connection's place: it counts against its address until
 * {@linkcode Ticket.release}, carries the connection's flood allowance, and
 * paces its hello and password checks.
 */
export class Ticket {
  #policy: Policy;
  #record: AddressRecord;
  #bucket: TokenBucket;
  #joining = true;
  #released = false;

  /** Made by {@linkcode Admission.open}. */
  constructor(policy: Policy, record: AddressRecord, bucket: TokenBucket) {
    this.#policy = policy;
    this.#record = record;
    this.#bucket = bucket;
  }

  /** The address this ticket counts against (an IP, or an IPv6 /64). */
  get address(): string {
    return this.#record.key;
  }

  /** True until {@linkcode Ticket.admitted}: the connection is still joining. */
  get joining(): boolean {
    return this.#joining;
  }

  /**
   * Takes `cost` (see {@linkcode COMMAND_COSTS}) from the flood allowance:
   * true when the command may run, false when over the limit.
   */
  take(cost: number): boolean {
    return this.#bucket.take(cost);
  }

  /** How long the connection has been over its allowance, ms (0 if not). */
  floodingFor(): number {
    return this.#bucket.floodingFor();
  }

  /** The connection is a member now: it no longer counts as joining. */
  admitted(): void {
    if (!this.#joining || this.#released) return;
    this.#joining = false;
    this.#record.joining--;
  }

  /**
   * A hello from this connection wants in: the ms it must wait for its
   * address's turn (0 = now; the turn is taken), or `undefined` when the
   * wait would be longer than `maxWaitMs` and the hello is refused (no turn
   * is taken). A door that cannot hold a hello (UDP) passes 0.
   */
  helloWait(
    maxWaitMs: number = ADMISSION_LIMITS.helloMaxWaitMs,
  ): number | undefined {
    const options = this.#policy.options;
    if (!this.#policy.perAddress || options.hellosPerSecond <= 0) return 0;
    const now = options.now();
    const interval = 1000 / options.hellosPerSecond;
    const start = Math.max(this.#record.helloAt, now);
    const wait = Math.max(
      0,
      start - (ADMISSION_LIMITS.helloBurst - 1) * interval - now,
    );
    if (wait > maxWaitMs) return undefined;
    this.#record.helloAt = start + interval;
    return wait;
  }

  /**
   * A password is to be checked: 0 when it may be checked now (the address's
   * turn is taken; report the result with {@linkcode Ticket.passwordFailed}
   * or {@linkcode Ticket.passwordSucceeded}), else the ms to wait before
   * asking again, or `undefined` when that wait is too long and the attempt
   * is refused unchecked.
   */
  passwordWait(): number | undefined {
    const record = this.#record;
    const now = this.#policy.options.now();
    if (
      record.failures > 0 &&
      now - record.lastFailureAt >= ADMISSION_LIMITS.passwordForgetMs
    ) {
      record.failures = 0;
    }
    const wait = record.nextCheckAt - now;
    if (wait > ADMISSION_LIMITS.passwordMaxWaitMs) return undefined;
    if (wait > 0) return wait;
    record.nextCheckAt = now + checkSpacing(record.failures);
    return 0;
  }

  /** The password was wrong: the address's next check waits longer. */
  passwordFailed(): void {
    const record = this.#record;
    const now = this.#policy.options.now();
    record.failures++;
    record.lastFailureAt = now;
    record.nextCheckAt = Math.max(
      record.nextCheckAt,
      now + checkSpacing(record.failures),
    );
  }

  /** The password was right: the address's wrong ones are forgotten. */
  passwordSucceeded(): void {
    const record = this.#record;
    record.failures = 0;
    // The turn was taken expecting the worst; the next may come sooner.
    record.nextCheckAt = Math.min(
      record.nextCheckAt,
      this.#policy.options.now() + checkSpacing(0),
    );
  }

  /**
   * The connection ended, at whatever stage: its counts are given back and
   * its flood allowance is remembered for its address's next connection.
   * Safe to call more than once.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const record = this.#record;
    const policy = this.#policy;
    record.open--;
    policy.open--;
    if (this.#joining) record.joining--;
    if (policy.options.rate > 0) {
      const now = policy.options.now();
      record.floodTokens = Math.min(
        rememberedTokens(record, now, policy.options),
        this.#bucket.tokens,
      );
      record.floodAt = now;
    }
  }
}

function refuse(
  record: AddressRecord,
  now: number,
  reason: RefusalReason,
  line: string,
  why: string,
): Refusal {
  const log = now - record.loggedAt >= ADMISSION_LIMITS.refusalLogIntervalMs;
  const unlogged = record.unlogged;
  if (log) {
    record.loggedAt = now;
    record.unlogged = 0;
  } else record.unlogged++;
  return { reason, line, why, log, unlogged: log ? unlogged : 0 };
}

/** The flood allowance an address's last closed connection left, refilled to now. */
function rememberedTokens(
  record: AddressRecord,
  now: number,
  options: Required<AdmissionOptions>,
): number {
  if (record.floodTokens === Infinity || options.rate <= 0) {
    return options.burst;
  }
  return Math.min(
    options.burst,
    record.floodTokens + ((now - record.floodAt) / 1000) * options.rate,
  );
}

/** True when forgetting this idle address loses nothing: all its pacing has caught up. */
function isForgettable(
  record: AddressRecord,
  now: number,
  options: Required<AdmissionOptions>,
): boolean {
  if (record.connectAt > now || record.helloAt > now) return false;
  if (record.nextCheckAt > now) return false;
  if (
    record.failures > 0 &&
    now - record.lastFailureAt < ADMISSION_LIMITS.passwordForgetMs
  ) {
    return false;
  }
  if (now - record.loggedAt < ADMISSION_LIMITS.refusalLogIntervalMs) {
    return false;
  }
  return rememberedTokens(record, now, options) >= Math.max(1, options.burst);
}

/** The wait between two password checks of an address after `failures` wrong ones. */
function checkSpacing(failures: number): number {
  if (failures === 0) return 1000 / ADMISSION_LIMITS.passwordChecksPerSecond;
  return Math.min(
    ADMISSION_LIMITS.passwordBackoffStartMs * 2 ** (failures - 1),
    ADMISSION_LIMITS.passwordBackoffMaxMs,
  );
}

/**
 * The address a peer counts as: the IP itself for IPv4, the /64 prefix for
 * IPv6 (as `2001:db8:1:2::/64`), the IPv4 address for an IPv4-mapped IPv6
 * one. A zone (`%eth0`) or brackets are ignored.
 *
 * @example
 * ```ts
 * addressKey("192.168.1.23"); // → "192.168.1.23"
 * addressKey("2001:db8:1:2:aaaa::1"); // → "2001:db8:1:2::/64"
 * addressKey("::ffff:10.0.0.7"); // → "10.0.0.7"
 * ```
 */
export function addressKey(hostname: string): string {
  let host = hostname;
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const zone = host.indexOf("%");
  if (zone !== -1) host = host.slice(0, zone);
  if (!host.includes(":")) return host;
  const groups = ipv6Groups(host);
  if (!groups) return host.toLowerCase();
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 255, groups[7] >> 8, groups[7] & 255]
      .join(".");
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, or `undefined` if it is not one. */
function ipv6Groups(text: string): number[] | undefined {
  const halves = text.toLowerCase().split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === "") return [];
    const groups: number[] = [];
    const pieces = part.split(":");
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes(".")) {
        const octets = piece.split(".").map(Number);
        if (
          octets.length !== 4 ||
          octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)
        ) {
          return undefined;
        }
        groups.push(octets[0] << 8 | octets[1], octets[2] << 8 | octets[3]);
      } else {
        if (!/^[0-9a-f]{1,4}$/.test(piece)) return undefined;
        groups.push(parseInt(piece, 16));
      }
    }
    return groups;
  };
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return undefined;
  return [...head, ...new Array(missing).fill(0), ...tail];
}
