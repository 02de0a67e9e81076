/**
 * The `chat` command: parses the command line and runs `serve` or `connect`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { VERSION } from "./protocol.ts";
import { DatabaseInUseError, StoreOpenError } from "./src/server/store.ts";
import { connect, type ConnectOptions } from "./client.ts";
import { serve, type ServeOptions } from "./server.ts";
import { runAccountCommand } from "./src/server/account_command.ts";
import { readCaFile, TlsSetupError } from "./src/server/tls_setup.ts";
import {
  ADMISSION_LIMITS,
  COMPAT_LIMITS,
  CONNECT_DEFAULTS,
  SAFETY_TIMINGS,
  SERVE_DEFAULTS,
} from "./src/shared/limits.ts";

/** A mistake on the command line: printed as one line, exit code 2. */
export class UsageError extends Error {}

const MAIN_HELP =
  `chat ${VERSION}: a group chat for the terminal, in one binary.

Usage:
  chat serve [options]            start a server others can join
  chat connect [HOST[:PORT]] [options]
                                  join a server (or use: nc HOST PORT)
  chat account COMMAND            registered nicknames, the owner and admins
  chat --version                  print the version
  chat COMMAND --help             options of serve or connect
`;

const UDP_EXPIRY_MINUTES = COMPAT_LIMITS.udpExpiryMs / 60_000;

const SERVE_HELP = `Usage: chat serve [options]

Start a chat server. It prints the \`chat connect\` lines to share.

Options:
  --host HOST          address to listen on (default ${SERVE_DEFAULTS.host}; :: for IPv6)
  --port PORT          TCP port, 0 picks a free one (default ${SERVE_DEFAULTS.port})
  --room NAME          the room newcomers join (default ${SERVE_DEFAULTS.room})
  --db PATH            SQLite file for history, one server per file (it is
                       locked); :memory: keeps nothing (default ${SERVE_DEFAULTS.db})
  --name NAME          server name shown to clients (default ${SERVE_DEFAULTS.name})
  --password PW        require this password to join
  --max-clients N      connections at once; more are told "server full" (default ${SERVE_DEFAULTS.maxClients})
  --history N          messages a newcomer sees (default ${SERVE_DEFAULTS.history})

Limits:
  --rate N             messages per second per client, 0 = off (default ${SERVE_DEFAULTS.rate})
  --burst N            messages a client may send at once (default ${SERVE_DEFAULTS.burst})
  --flood-seconds N    flooding this long disconnects (default ${SERVE_DEFAULTS.floodSeconds})
  --max-queue BYTES    hard limit: bytes queued for a client that does not
                       read before it is dropped at once (default ${SERVE_DEFAULTS.maxQueueBytes})
  --soft-queue BYTES   soft limit: a client with more queued than this for a
                       while (--soft-queue-seconds) is dropped, 0 = off
                       (default ${SERVE_DEFAULTS.softQueueBytes})
  --soft-queue-seconds N  how long a client may stay over --soft-queue (default ${SERVE_DEFAULTS.softQueueSeconds})
  --backpressure-seconds N  longest a room stops reading its senders while a
                       member catches up, 0 = never (default ${SERVE_DEFAULTS.backpressureSeconds})
  --handshake-seconds N  time to send a nickname once a client has sent bytes (default ${SERVE_DEFAULTS.handshakeSeconds})
  --ping-seconds N     an IRC client or browser quiet this long is pinged, and
                       dropped after as long again without an answer (default ${SERVE_DEFAULTS.pingSeconds})
  --first-bytes-seconds N  time a new connection may stay silent, waiting for
                       a person to type (default ${SERVE_DEFAULTS.firstBytesSeconds})
  --keep-days N        messages older than N days are removed, 0 = keep for
                       ever (default ${SERVE_DEFAULTS.keepDays})
  --max-db-mb N        history the database may hold, in MB; the oldest
                       messages go first, 0 = no cap (default ${SERVE_DEFAULTS.maxDbMb})
  --max-rooms-per-member N  rooms one member may be in at once (default ${SERVE_DEFAULTS.maxRoomsPerMember})
  --max-rooms N        rooms the server keeps at once; the default room is
                       always open (default ${SERVE_DEFAULTS.maxRooms})
  --max-at-all-per-day N  @all messages one room may send a day (UTC), 0 = @all
                       off (default ${SERVE_DEFAULTS.maxAtAllPerDay})
  --max-file-size BYTES  largest file a member may share (/send, the page's
                       attach button); K, M, G suffixes work (10M); 0 turns
                       uploads off (default ${SERVE_DEFAULTS.maxFileSize})
  --files-quota BYTES  what all shared files together may hold, in a files/
                       folder beside --db (in memory with --db :memory:, then
                       ${SERVE_DEFAULTS.memoryFilesQuota} by default) (default ${SERVE_DEFAULTS.filesQuota})
  --uploads-per-minute N  files one member may start sending a minute, 0 = no
                       limit (default ${SERVE_DEFAULTS.uploadsPerMinute})

Per address (an IP; for IPv6 its /64), so one machine cannot crowd out the rest:
  --max-per-address N  connections at once from one address, silent and
                       joining ones included; 0 turns every per-address limit
                       off, e.g. a lab behind one NAT (default ${SERVE_DEFAULTS.maxPerAddress})
  --max-unauth-per-address N  of those, how many may still be joining, not yet
                       members, 0 = no limit (default ${SERVE_DEFAULTS.maxUnauthPerAddress})
  --connects-per-second N  new connections a second from one address, bursts
                       of ${ADMISSION_LIMITS.connectBurstSeconds} s, 0 = no limit (default ${SERVE_DEFAULTS.connectsPerSecond})
  --hellos-per-second N  joins a second from one address (bursts of ${ADMISSION_LIMITS.helloBurst}); more
                       wait their turn, 0 = no limit (default ${SERVE_DEFAULTS.hellosPerSecond})
  Reconnecting does not refill --burst: a new connection starts with what the
  address's last one left. Every command counts against --rate, ping a quarter.
  Password checks: at most ${ADMISSION_LIMITS.passwordChecksPerSecond} a second per address; after a wrong one
  the next waits ${
  ADMISSION_LIMITS.passwordBackoffStartMs / 1000
} s, doubling up to ${ADMISSION_LIMITS.passwordBackoffMaxMs / 1000} s.

Compatibility door, for programs from socket tutorials (docs/protocol.md):
  Always on: a TCP client that never sends a newline is read anyway (what it
  sends, then pauses ${COMPAT_LIMITS.unframedIdleMs} ms, is one message); if its first send
  is not a valid nickname it gets a guest name and the send is its first
  message. Its own "name: " prefix is dropped; exit, quit or q ends it.
  --compat             send NICK alone first, then the rest of the banner line
                       (after ${COMPAT_LIMITS.nickWaitMs} ms or at the client's first bytes)
  --udp                also serve UDP on the same port number, one member per
                       address and port. Off by default: UDP senders can be
                       forged, so only addresses heard in the last ${UDP_EXPIRY_MINUTES} minutes
                       are sent to, at most ${COMPAT_LIMITS.udpSendRate} datagrams a second per IP
                       address (all its ports), and a new member's first
                       reply is at most ${COMPAT_LIMITS.udpFirstReplyFactor}x the size of its datagram
                       (not with --password: a datagram cannot give it)

TLS (encrypted; clients join with chat connect --tls):
  --tls-cert FILE      PEM certificate (chain) to serve TLS with
  --tls-key FILE       PEM private key of that certificate
                       (the TLS handshake gets ${
  SAFETY_TIMINGS.tlsHandshakeMaxMs / 1000
} s, or --handshake-seconds if less)
  -h, --help           show this help
`;

const CONNECT_HELP = `Usage: chat connect [HOST[:PORT]] [options]

Join a chat server (default ${CONNECT_DEFAULTS.host}:${CONNECT_DEFAULTS.port}). IPv6: [::1]:7777.
On a terminal it is interactive; with stdin from a pipe, each input line is
sent as a message and the client exits once the server confirmed them all.

Options:
  --nick NAME          your nickname (asked for on a terminal if missing)
  --room NAME          room to join (default: the server's)
  --password PW        the server's password, if it has one, or your registered
                       nickname's (on a terminal it is asked for when needed)
  --json               pipe mode: print raw protocol events (for bots)
  --tls                connect with TLS (the server runs with --tls-cert)
  --ca FILE            trust this PEM certificate too (a self-signed server's
                       certificate file); implies --tls
  -h, --help           show this help

Environment: CHAT_PASSWORD stands in for --password (other users' ps shows
the command line, not the environment).
`;

function parsePort(text: string, flag: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new UsageError(
      `${flag} must be a port number 0–65535, not "${text}"`,
    );
  }
  return port;
}

function parseCount(
  text: string | undefined,
  flag: string,
  fallback: number,
): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) {
    throw new UsageError(`${flag} must be a whole number, not "${text}"`);
  }
  return Number(text);
}

/** A size in bytes: digits, optionally with K, M or G (powers of 1024). */
function parseBytes(
  text: string | undefined,
  flag: string,
  fallback: number | undefined,
): number | undefined {
  if (text === undefined) return fallback;
  const match = /^(\d+)([KMG])?(i?B)?$/i.exec(text.trim());
  if (!match || (match[3] !== undefined && match[2] === undefined)) {
    throw new UsageError(
      `${flag} must be a number of bytes (like 10485760 or 10M), not "${text}"`,
    );
  }
  const unit = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[
    (match[2] ?? "").toLowerCase() as "k" | "m" | "g"
  ] ?? 1;
  return Number(match[1]) * unit;
}

function parseFlags<
  T extends Record<string, { type: "string" | "boolean"; short?: string }>,
>(
  args: string[],
  options: T,
) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error as Error).message
      .replace(/\. To specify a positional argument.*$/s, "")
      .replace(/^Unknown option '(.*?)'.*/s, "unknown option $1");
    throw new UsageError(message);
  }
}

/** Reads `chat serve` flags. */
export function parseServeArgs(args: string[]): ServeOptions | "help" {
  const { values, positionals } = parseFlags(args, {
    host: { type: "string" },
    port: { type: "string" },
    room: { type: "string" },
    db: { type: "string" },
    name: { type: "string" },
    password: { type: "string" },
    "max-clients": { type: "string" },
    "max-rooms-per-member": { type: "string" },
    "max-rooms": { type: "string" },
    history: { type: "string" },
    rate: { type: "string" },
    burst: { type: "string" },
    "flood-seconds": { type: "string" },
    "max-queue": { type: "string" },
    "soft-queue": { type: "string" },
    "soft-queue-seconds": { type: "string" },
    "backpressure-seconds": { type: "string" },
    "handshake-seconds": { type: "string" },
    "ping-seconds": { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "first-bytes-seconds": { type: "string" },
    "keep-days": { type: "string" },
    "max-db-mb": { type: "string" },
    "max-per-address": { type: "string" },
    "max-unauth-per-address": { type: "string" },
    "connects-per-second": { type: "string" },
    "hellos-per-second": { type: "string" },
    "max-at-all-per-day": { type: "string" },
    "max-file-size": { type: "string" },
    "files-quota": { type: "string" },
    "uploads-per-minute": { type: "string" },
    compat: { type: "boolean" },
    udp: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return "help";
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"`);
  }
  const rate = values.rate === undefined
    ? SERVE_DEFAULTS.rate
    : Number(values.rate);
  if (!Number.isFinite(rate) || rate < 0) {
    throw new UsageError(`--rate must be a number ≥ 0, not "${values.rate}"`);
  }
  const options: ServeOptions = {
    host: values.host ?? SERVE_DEFAULTS.host,
    port: values.port === undefined
      ? SERVE_DEFAULTS.port
      : parsePort(values.port, "--port"),
    room: values.room ?? SERVE_DEFAULTS.room,
    db: values.db ?? SERVE_DEFAULTS.db,
    name: values.name ?? SERVE_DEFAULTS.name,
    password: values.password,
    maxClients: parseCount(
      values["max-clients"],
      "--max-clients",
      SERVE_DEFAULTS.maxClients,
    ),
    maxRoomsPerMember: parseCount(
      values["max-rooms-per-member"],
      "--max-rooms-per-member",
      SERVE_DEFAULTS.maxRoomsPerMember,
    ),
    maxRooms: parseCount(
      values["max-rooms"],
      "--max-rooms",
      SERVE_DEFAULTS.maxRooms,
    ),
    history: parseCount(values.history, "--history", SERVE_DEFAULTS.history),
    rate,
    burst: parseCount(values.burst, "--burst", SERVE_DEFAULTS.burst),
    floodSeconds: parseCount(
      values["flood-seconds"],
      "--flood-seconds",
      SERVE_DEFAULTS.floodSeconds,
    ),
    maxQueueBytes: parseCount(
      values["max-queue"],
      "--max-queue",
      SERVE_DEFAULTS.maxQueueBytes,
    ),
    softQueueBytes: parseCount(
      values["soft-queue"],
      "--soft-queue",
      SERVE_DEFAULTS.softQueueBytes,
    ),
    softQueueSeconds: parseCount(
      values["soft-queue-seconds"],
      "--soft-queue-seconds",
      SERVE_DEFAULTS.softQueueSeconds,
    ),
    backpressureSeconds: parseCount(
      values["backpressure-seconds"],
      "--backpressure-seconds",
      SERVE_DEFAULTS.backpressureSeconds,
    ),
    handshakeSeconds: parseCount(
      values["handshake-seconds"],
      "--handshake-seconds",
      SERVE_DEFAULTS.handshakeSeconds,
    ),
    pingSeconds: parseCount(
      values["ping-seconds"],
      "--ping-seconds",
      SERVE_DEFAULTS.pingSeconds,
    ),
    firstBytesSeconds: parseCount(
      values["first-bytes-seconds"],
      "--first-bytes-seconds",
      SERVE_DEFAULTS.firstBytesSeconds,
    ),
    keepDays: parseCount(
      values["keep-days"],
      "--keep-days",
      SERVE_DEFAULTS.keepDays,
    ),
    maxDbMb: parseCount(
      values["max-db-mb"],
      "--max-db-mb",
      SERVE_DEFAULTS.maxDbMb,
    ),
    compat: values.compat ?? false,
    udp: values.udp ?? false,
    maxPerAddress: parseCount(
      values["max-per-address"],
      "--max-per-address",
      SERVE_DEFAULTS.maxPerAddress,
    ),
    maxUnauthPerAddress: parseCount(
      values["max-unauth-per-address"],
      "--max-unauth-per-address",
      SERVE_DEFAULTS.maxUnauthPerAddress,
    ),
    connectsPerSecond: parseCount(
      values["connects-per-second"],
      "--connects-per-second",
      SERVE_DEFAULTS.connectsPerSecond,
    ),
    hellosPerSecond: parseCount(
      values["hellos-per-second"],
      "--hellos-per-second",
      SERVE_DEFAULTS.hellosPerSecond,
    ),
    maxAtAllPerDay: parseCount(
      values["max-at-all-per-day"],
      "--max-at-all-per-day",
      SERVE_DEFAULTS.maxAtAllPerDay,
    ),
    maxFileSize: parseBytes(
      values["max-file-size"],
      "--max-file-size",
      SERVE_DEFAULTS.maxFileSize,
    ),
    // Absent: the server picks (less for files kept in memory).
    filesQuota: parseBytes(values["files-quota"], "--files-quota", undefined),
    uploadsPerMinute: parseCount(
      values["uploads-per-minute"],
      "--uploads-per-minute",
      SERVE_DEFAULTS.uploadsPerMinute,
    ),
  };
  if (!/^[\p{L}\p{M}\p{N}_-]{1,32}$/u.test(options.room)) {
    throw new UsageError(
      `--room must be 1–32 letters, digits, _ or -, not "${options.room}"`,
    );
  }
  if (
    (values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)
  ) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  if (options.udp && options.password !== undefined) {
    // A datagram has no password step: anyone could join by UDP.
    throw new UsageError(
      "--udp and --password do not go together: a UDP datagram cannot give the password",
    );
  }
  options.tlsCert = values["tls-cert"];
  options.tlsKey = values["tls-key"];
  if (options.maxClients < 1) {
    throw new UsageError("--max-clients must be at least 1");
  }
  if (options.maxRoomsPerMember! < 1) {
    throw new UsageError("--max-rooms-per-member must be at least 1");
  }
  if (options.maxRooms! < 1) {
    throw new UsageError("--max-rooms must be at least 1");
  }
  if (options.maxQueueBytes < 1) {
    throw new UsageError("--max-queue must be at least 1");
  }
  return options;
}

/** Splits `HOST[:PORT]`, `[v6]:PORT` or a bare IPv6 address. */
export function parseTarget(
  text: string | undefined,
): { host: string; port: number } {
  if (text === undefined || text === "") {
    return { host: CONNECT_DEFAULTS.host, port: CONNECT_DEFAULTS.port };
  }
  const bracketed = text.match(/^\[([^\]]+)\](?::(.*))?$/);
  if (bracketed) {
    return {
      host: bracketed[1],
      port: bracketed[2] === undefined
        ? CONNECT_DEFAULTS.port
        : parsePort(bracketed[2], "port"),
    };
  }
  const colons = text.split(":").length - 1;
  if (colons === 1) {
    const [host, port] = text.split(":");
    return {
      host: host || CONNECT_DEFAULTS.host,
      port: parsePort(port, "port"),
    };
  }
  return { host: text, port: CONNECT_DEFAULTS.port };
}

/** An environment variable, or `undefined` when unset, empty or not allowed. */
function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads `chat connect` flags. A password not given with `--password` is read
 * from `CHAT_PASSWORD` (through `env`), which `ps` does not show.
 */
export function parseConnectArgs(
  args: string[],
  env: (name: string) => string | undefined = readEnv,
): ConnectOptions | "help" {
  const { values, positionals } = parseFlags(args, {
    nick: { type: "string" },
    room: { type: "string" },
    password: { type: "string" },
    json: { type: "boolean" },
    tls: { type: "boolean" },
    ca: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return "help";
  if (positionals.length > 1) {
    throw new UsageError(`unexpected argument "${positionals[1]}"`);
  }
  const target = parseTarget(positionals[0]);
  if (target.port === 0) throw new UsageError("port must be 1–65535");
  return {
    ...target,
    nick: values.nick,
    room: values.room,
    password: values.password ?? env("CHAT_PASSWORD"),
    json: values.json ?? false,
    tls: (values.tls ?? false) || values.ca !== undefined,
    caCerts: values.ca === undefined ? undefined : [readCaFile(values.ca)],
  };
}

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "serve": {
        const options = parseServeArgs(rest);
        if (options === "help") return print(SERVE_HELP);
        await serve(options);
        return 0;
      }
      case "connect": {
        const options = parseConnectArgs(rest);
        if (options === "help") return print(CONNECT_HELP);
        return await connect(options);
      }
      case "account":
        return await runAccountCommand(rest);
      case "--version":
      case "-V":
      case "version":
        return print(`chat ${VERSION}\n`);
      case undefined:
      case "--help":
      case "-h":
      case "help":
        return print(MAIN_HELP);
      default:
        throw new UsageError(`unknown command "${command}" (try: chat --help)`);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof TlsSetupError) {
      console.error(`chat: ${error.message}`);
      return 2;
    }
    if (
      error instanceof StoreOpenError || error instanceof DatabaseInUseError
    ) {
      console.error(`chat: ${error.message}`);
      return 1;
    }
    if (error instanceof Deno.errors.AddrInUse) {
      console.error(
        `chat: that port is already in use (try --port 0 or another port)`,
      );
      return 1;
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      console.error(`chat: ${(error as Error).message.split("\n")[0]}`);
      return 1;
    }
    if (error instanceof Deno.errors.AddrNotAvailable) {
      console.error(
        `chat: cannot listen on that address: ${(error as Error).message}`,
      );
      return 1;
    }
    throw error;
  }
}

function print(text: string): number {
  console.log(text.trimEnd());
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
