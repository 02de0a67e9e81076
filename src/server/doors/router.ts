/**
 * The door router: every connection on the one port is told apart by its
 * first bytes, before the server sends anything.
 *
 * A browser opens with an HTTP method (`GET /`), an IRC client with its
 * registration (`CAP LS`, `NICK`, `USER`, `PASS`), `chat connect` and bots
 * with a JSON hello (`{`), and TLS with a handshake record (0x16). Anything
 * else, or silence for {@linkcode ROUTER_TIMINGS.openingWaitMs}, is a person
 * or a tutorial program on the text door, which gets the banner; on a busy
 * server, silence counts only once the server has read what was waiting
 * (src/server/doors/peer_silence.ts). The opening sequence is documented in
 * docs/protocol.md ("Opening").
 *
 * @module
 */

import { ROUTER_TIMINGS } from "../../shared/limits.ts";

/** Which door a connection's first bytes ask for. */
export type DoorKind = "tls" | "http" | "irc" | "json" | "text";

/** The first byte of every TLS connection: a handshake record. */
const TLS_HANDSHAKE_RECORD = 0x16;

/**
 * Openings that name a door, each ending in the space that follows the
 * token: `NICKY` is a nickname typed on `nc`, `NICK alice` is IRC.
 * Upper case only, as every IRC client and browser sends them; a person
 * typing `nick alice` as a nickname stays on the text door.
 */
const OPENINGS: readonly { prefix: Uint8Array; door: DoorKind }[] = [
  ..."GET HEAD POST PUT DELETE OPTIONS PATCH".split(" ").map((method) => ({
    prefix: new TextEncoder().encode(method + " "),
    door: "http" as const,
  })),
  ..."CAP NICK USER PASS".split(" ").map((command) => ({
    prefix: new TextEncoder().encode(command + " "),
    door: "irc" as const,
  })),
];

const OPEN_BRACE = 0x7b;

function isBlank(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a;
}

/**
 * The door `bytes` (everything the peer has sent so far) ask for, or
 * `undefined` while they are a strict prefix of an opening and more bytes
 * would decide (`GE`, `NIC`, a blank line before a JSON hello).
 *
 * @example
 * ```ts
 * classifyOpening(new TextEncoder().encode("GET / HTTP/1.1\r\n"), false); // "http"
 * classifyOpening(new TextEncoder().encode("alice\n"), false); // "text"
 * ```
 */
export function classifyOpening(
  bytes: Uint8Array,
  tls: boolean,
): DoorKind | undefined {
  if (bytes.length === 0) return undefined;
  if (tls && bytes[0] === TLS_HANDSHAKE_RECORD) return "tls";
  let undecided = false;
  for (const { prefix, door } of OPENINGS) {
    const n = Math.min(prefix.length, bytes.length);
    let same = true;
    for (let i = 0; i < n && same; i++) same = bytes[i] === prefix[i];
    if (!same) continue;
    if (bytes.length >= prefix.length) return door;
    undecided = true;
  }
  if (undecided) return undefined;
  // JSON may follow blank lines: the text door always skipped them too.
  let i = 0;
  while (i < bytes.length && isBlank(bytes[i])) i++;
  if (i === bytes.length) return undefined;
  return bytes[i] === OPEN_BRACE ? "json" : "text";
}

/** What a door takes over from the router. */
export interface Opening {
  /** Bytes already read, to be handled first (empty for a silent peer). */
  bytes: Uint8Array;
  /**
   * A read still under way when the router handed over (the peer was
   * silent, or undecided, when the wait ran out): the door awaits it before
   * reading again. Resolves to the bytes read, or `null` at end of input.
   */
  pending?: Promise<Uint8Array | null>;
}

/** The result of {@linkcode readOpening}. */
export interface RoutedOpening extends Opening {
  /** The door, or `undefined` when the peer said nothing decisive in time. */
  door: DoorKind | undefined;
  /** True when the peer closed before deciding (no pending read). */
  ended: boolean;
}

/** Bytes the router reads at most before deciding: the longest opening and then some. */
const OPENING_READ_BYTES = 4096;

/**
 * Confirms that a peer the router has heard nothing from is silent: resolves
 * once the server has read what was waiting in its sockets
 * (`PeerSilence.confirm` in peer_silence.ts). Without one, the wait's end
 * decides.
 */
export type SilenceCheck = () => Promise<void>;

/**
 * Reads from `conn` until its bytes name a door, or `waitMs` passes (and
 * `confirmSilence`, if given, agrees nothing is waiting to be read), or the
 * peer closes. Never writes. A read error rejects, like any read.
 */
export async function readOpening(
  conn: Pick<Deno.Conn, "read">,
  tls: boolean,
  waitMs: number = ROUTER_TIMINGS.openingWaitMs,
  confirmSilence?: SilenceCheck,
): Promise<RoutedOpening> {
  let bytes: Uint8Array = new Uint8Array(0);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const read = readChunk(conn);
    // Handed to the door when the wait runs out; if the door closes
    // without awaiting it, its failure must not be an unhandled rejection.
    read.catch(() => {});
    const chunk = await readOrSilence(read, deadline, confirmSilence);
    if (chunk === "silent") {
      return {
        bytes: own(bytes),
        pending: read,
        door: undefined,
        ended: false,
      };
    }
    if (chunk === null) {
      return { bytes: own(bytes), door: undefined, ended: true };
    }
    bytes = bytes.length === 0 ? chunk : concat(bytes, chunk);
    const door = classifyOpening(bytes, tls);
    if (door !== undefined || bytes.length >= OPENING_READ_BYTES) {
      return { bytes: own(bytes), door: door ?? "text", ended: false };
    }
  }
}

/**
 * The read's bytes, or `"silent"` once the deadline has passed and the
 * silence is confirmed with the read still pending. A busy server's timer
 * can fire before reads that were ready are delivered: the check gives
 * them their turn.
 */
async function readOrSilence(
  read: Promise<Uint8Array | null>,
  deadline: number,
  confirmSilence: SilenceCheck | undefined,
): Promise<Uint8Array | null | "silent"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"silent">((resolve) => {
    timer = setTimeout(
      () => resolve("silent"),
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    const first = await Promise.race([read, timeout]);
    if (first !== "silent" || !confirmSilence) return first;
  } finally {
    clearTimeout(timer);
  }
  return await Promise.race([
    read,
    confirmSilence().then(() => "silent" as const),
  ]);
}

async function readChunk(
  conn: Pick<Deno.Conn, "read">,
): Promise<Uint8Array | null> {
  const buffer = new Uint8Array(OPENING_READ_BYTES);
  const n = await conn.read(buffer);
  return n === null ? null : buffer.subarray(0, n);
}

/**
 * The bytes in a buffer of their own: a hello read into a 4 KiB buffer kept
 * the whole buffer alive for as long as the connection lived (the door holds
 * its opening), 4 KiB of every idle connection's memory.
 */
function own(bytes: Uint8Array): Uint8Array {
  return bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}
