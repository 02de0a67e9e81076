/**
 * `chat serve`: the listener, the connection set and the hub's clock.
 *
 * A message's whole path: {@linkcode Connection} reads a line and hands the
 * frame to the {@linkcode Hub}; the hub queues it; once per tick the server
 * calls `hub.flush()`, which stores the batch and hands every recipient the
 * same encoded bytes; each connection writes what it was handed in one call.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { VERSION } from "./protocol.ts";
import { Admission, type Refusal, Ticket } from "./src/server/admission.ts";
import { Connection } from "./src/server/doors/connection.ts";
import { GuestNames } from "./src/server/guest_names.ts";
import { Hub } from "./src/server/hub.ts";
import { dirname, join } from "node:path";
import {
  ADMISSION_LIMITS,
  FILE_LIMITS,
  SAFETY_TIMINGS,
  SERVE_DEFAULTS,
} from "./src/shared/limits.ts";
import { FileShelf } from "./src/server/file_shelf.ts";
import {
  type FileVault,
  FolderVault,
  MemoryVault,
} from "./src/server/file_vault.ts";
import { UploadDesk } from "./src/server/upload_desk.ts";
import { FileRoutes } from "./src/server/doors/web/file_routes.ts";
import type { Session } from "./src/server/hub.ts";
import {
  acceptTls,
  PLAIN_CLIENT_NOTICE,
  TlsContext,
} from "./src/server/tls_conn.ts";
import { readOpening, type RoutedOpening } from "./src/server/doors/router.ts";
import { serveWeb } from "./src/server/doors/web/web_door.ts";
import { RecentBrowsers } from "./src/server/doors/recent_browsers.ts";
import { PeerSilence } from "./src/server/doors/peer_silence.ts";
import { checkTlsPair, readTlsFiles } from "./src/server/tls_setup.ts";
import { SqliteStore } from "./src/server/store.ts";
import { HistoryPruner } from "./src/server/history_pruner.ts";
import { SearchIndexer } from "./src/server/search_indexer.ts";
import { StoreFailureLog } from "./src/server/store_failure_log.ts";
import { IdleReclaimer } from "./src/server/idle_reclaim.ts";
import {
  type RunningUdpDoor,
  startUdpDoor,
} from "./src/server/doors/udp_door.ts";

/** Options for {@linkcode startServer}; every field has a default in limits.ts. */
export interface ServeOptions {
  host: string;
  port: number;
  room: string;
  db: string;
  name: string;
  password?: string;
  maxClients: number;
  /** Rooms one member may be in at once. @default {SERVE_DEFAULTS.maxRoomsPerMember} */
  maxRoomsPerMember?: number;
  /** Rooms the server keeps at once. @default {SERVE_DEFAULTS.maxRooms} */
  maxRooms?: number;
  /** `@all` messages one room may send a day. @default {SERVE_DEFAULTS.maxAtAllPerDay} */
  maxAtAllPerDay?: number;
  history: number;
  rate: number;
  burst: number;
  maxQueueBytes: number;
  /** The soft limit on a connection's queue (0: none), and its seconds. */
  softQueueBytes: number;
  softQueueSeconds: number;
  /** Longest a room waits for a member that fell behind (0: never). */
  backpressureSeconds: number;
  handshakeSeconds: number;
  /** IRC keepalive: quiet this long, a client is pinged. @default {SERVE_DEFAULTS.pingSeconds} */
  pingSeconds?: number;
  floodSeconds: number;
  /** PEM certificate chain file: serve TLS (with `tlsKey`). */
  tlsCert?: string;
  /** PEM private key file for `tlsCert`. */
  tlsKey?: string;
  /** Seconds a connection may stay silent before its first byte. @default {handshakeSeconds} */
  firstBytesSeconds?: number;
  /** Send `NICK` first, for the tutorial client that waits for it. @default {false} */
  compat?: boolean;
  /** Also take UDP datagrams on the same port number. @default {false} */
  udp?: boolean;
  /** Days messages are kept; 0 = for ever. @default {SERVE_DEFAULTS.keepDays} */
  keepDays?: number;
  /** Megabytes the history may use, oldest out first; 0 = no cap. @default {SERVE_DEFAULTS.maxDbMb} */
  maxDbMb?: number;
  /**
   * Connections one address may hold at once; 0 turns every per-address
   * limit off. @default {SERVE_DEFAULTS.maxPerAddress}
   */
  maxPerAddress?: number;
  /** Connections of one address still joining. @default {SERVE_DEFAULTS.maxUnauthPerAddress} */
  maxUnauthPerAddress?: number;
  /** New connections per second from one address. @default {SERVE_DEFAULTS.connectsPerSecond} */
  connectsPerSecond?: number;
  /** Hellos per second from one address. @default {SERVE_DEFAULTS.hellosPerSecond} */
  hellosPerSecond?: number;
  /** Largest shared file, in bytes; 0 turns uploads off. @default {SERVE_DEFAULTS.maxFileSize} */
  maxFileSize?: number;
  /**
   * Bytes all shared files may hold. @default {SERVE_DEFAULTS.filesQuota},
   * or {SERVE_DEFAULTS.memoryFilesQuota} with `db` `:memory:`
   */
  filesQuota?: number;
  /** Uploads a member may start a minute; 0 = no limit. @default {SERVE_DEFAULTS.uploadsPerMinute} */
  uploadsPerMinute?: number;
}

/**
 * Where shared files are kept: the `files/` folder beside the database, or
 * memory when the history is in memory too.
 */
export function filesPlace(db: string): string | undefined {
  return db === ":memory:" ? undefined : join(dirname(db), "files");
}

/** A running server. */
export interface RunningServer {
  /** Where it listens, with the real port. */
  addr: Deno.NetAddr;
  /** Says `bye` to everyone, flushes storage and stops listening. */
  shutdown(reason?: string): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
  /** Resolves once every door is open (the UDP one binds asynchronously). */
  ready: Promise<void>;
}

/** Writes a timestamped log line on stderr. */
function logLine(line: string): void {
  const time = new Date().toISOString().slice(11, 19);
  console.error(`${time} ${line}`);
}

/** Binds the port and starts serving; the returned server knows its real port. */
export function startServer(
  options: ServeOptions,
  log: (line: string) => void = logLine,
): RunningServer {
  // Bad TLS files are the owner's mistake: refuse before touching the db.
  const tlsFiles = options.tlsCert !== undefined && options.tlsKey !== undefined
    ? readTlsFiles(options.tlsCert, options.tlsKey)
    : undefined;
  if (tlsFiles) checkTlsPair(options.host, tlsFiles);
  const tlsContext = tlsFiles ? new TlsContext(tlsFiles) : undefined;
  const keepDays = options.keepDays ?? SERVE_DEFAULTS.keepDays;
  const maxDbMb = options.maxDbMb ?? SERVE_DEFAULTS.maxDbMb;
  // Opening locks the database: a second server on it stops here.
  const store = new SqliteStore(options.db, {
    keepDays,
    maxBytes: maxDbMb * 1024 * 1024,
  });
  const pruner = new HistoryPruner(store, {
    keepDays,
    maxDbMb,
    log,
    onPruned: () => sweepFiles(),
  });
  const indexer = new SearchIndexer(store, { log });
  const storeFailures = new StoreFailureLog(log);
  const filesDir = filesPlace(options.db);
  const vault: FileVault = filesDir === undefined
    ? new MemoryVault()
    : new FolderVault(filesDir);
  const shelf = new FileShelf(store.database, vault, {
    quotaBytes: options.filesQuota ??
      (filesDir === undefined
        ? SERVE_DEFAULTS.memoryFilesQuota
        : SERVE_DEFAULTS.filesQuota),
  });
  const desk = new UploadDesk<Session>(shelf, {
    maxFileBytes: options.maxFileSize ?? SERVE_DEFAULTS.maxFileSize,
    uploadsPerMinute: options.uploadsPerMinute ??
      SERVE_DEFAULTS.uploadsPerMinute,
  });
  let flushScheduled = false;
  /** Ticks and accepted connections: the idle reclaimer's sign of work. */
  let work = 0;
  const hub = new Hub({
    store,
    database: store.database,
    log,
    defaultRoom: options.room,
    history: options.history,
    maxRoomsPerMember: options.maxRoomsPerMember,
    maxRooms: options.maxRooms,
    maxAtAllPerDay: options.maxAtAllPerDay,
    name: options.name,
    rate: options.rate,
    burst: options.burst,
    requestFlush: () => {
      if (flushScheduled) return;
      flushScheduled = true;
      // After this turn's reads, not in a microtask: every line read in this
      // turn of the event loop joins the same transaction (group commit).
      // setImmediate rather than setTimeout(0), which in Deno waits 2.1 ms
      // on average on an idle machine (setImmediate: 5 µs); every message
      // paid that wait before its fan-out.
      setImmediate(() => {
        flushScheduled = false;
        work++;
        hub.flush();
      });
    },
    onStoreError: (error, messages) => storeFailures.failed(error, messages),
    onStored: () => {
      storeFailures.succeeded();
      pruner.noteAppended();
      indexer.noteAppended();
    },
    requestNotices: (delayMs) => {
      noticeTimer = setTimeout(() => hub.flushNotices(), delayMs);
    },
    files: { desk, shelf },
  });
  const fileRoutes = new FileRoutes({
    desk,
    shelf,
    share: (ticket, file, text, done) =>
      hub.shareFile(ticket, file, text, done),
    log,
  });
  // Files whose message was pruned go too, off the hot path.
  const sweepFiles = () => {
    shelf.sweep().then((removed) => {
      if (removed > 0) log(`files: removed ${removed} whose message is gone`);
    }).catch((error) => log(`files: sweep failed: ${errorText(error)}`));
  };
  let noticeTimer: ReturnType<typeof setTimeout> | undefined;
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: options.host, port: options.port });
  } catch (error) {
    store.close();
    throw error;
  }
  pruner.start();
  indexer.start();
  sweepFiles();
  const fileSweeper = setInterval(sweepFiles, FILE_LIMITS.sweepEveryMs);
  // After a burst (thousands joining), the heap it grew goes back once idle.
  const reclaimer = new IdleReclaimer({ activity: () => work });
  const connections = new Set<Connection>();
  /** TLS connections still in their handshake (their tickets count them). */
  const handshaking = new Set<Deno.Conn>();
  /** Browsers' HTTP connections, before any WebSocket (tickets count them too). */
  const browsing = new Set<Deno.Conn>();
  const admission = new Admission({
    maxClients: options.maxClients,
    maxPerAddress: options.maxPerAddress ?? SERVE_DEFAULTS.maxPerAddress,
    maxUnauthPerAddress: options.maxUnauthPerAddress ??
      SERVE_DEFAULTS.maxUnauthPerAddress,
    connectsPerSecond: options.connectsPerSecond ??
      SERVE_DEFAULTS.connectsPerSecond,
    hellosPerSecond: options.hellosPerSecond ?? SERVE_DEFAULTS.hellosPerSecond,
    rate: options.rate,
    burst: options.burst,
  });
  const refusals = new Refusals(log);
  warnIfFewOpenFiles(options.maxClients, log);
  const tlsHandshakeMs = Math.min(
    SAFETY_TIMINGS.tlsHandshakeMaxMs,
    options.handshakeSeconds * 1000,
  );
  const banner =
    `Welcome to ${options.name} (chat ${VERSION}). Please choose a nickname:`;
  const settings = {
    hub,
    password: options.password,
    rate: options.rate,
    burst: options.burst,
    maxQueueBytes: options.maxQueueBytes,
    softQueueBytes: options.softQueueBytes,
    softQueueMs: options.softQueueSeconds * 1000,
    backpressureMs: options.backpressureSeconds * 1000,
    handshakeMs: options.handshakeSeconds * 1000,
    pingMs: (options.pingSeconds ?? SERVE_DEFAULTS.pingSeconds) * 1000,
    serverName: options.name,
    startedAt: Date.now(),
    floodMs: options.floodSeconds * 1000,
    banner,
    log,
    firstBytesMs: (options.firstBytesSeconds ?? options.handshakeSeconds) *
      1000,
    nickFirst: options.compat ?? false,
    guests: new GuestNames(),
  };
  let stopping = false;
  let udp: RunningUdpDoor | undefined;
  const ready = options.udp
    ? startUdpDoor(options.host, (listener.addr as Deno.NetAddr).port, {
      hub,
      rate: options.rate,
      burst: options.burst,
      maxMembers: options.maxClients,
      guests: settings.guests,
      admission,
      log,
    }).then((door) => {
      udp = door;
    })
    : Promise.resolve();

  /**
   * Accepts until the server stops. An accept error (too many open files,
   * most often) never ends it: it is logged, and the loop waits a little,
   * longer while errors repeat, then goes on.
   */
  async function acceptLoop(): Promise<void> {
    let retryMs = 0;
    while (!stopping) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (stopping) return;
        retryMs = Math.min(
          SAFETY_TIMINGS.acceptRetryMaxMs,
          Math.max(SAFETY_TIMINGS.acceptRetryStartMs, retryMs * 2),
        );
        log(`accept error: ${errorText(error)}; retrying in ${retryMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, retryMs));
        continue;
      }
      retryMs = 0;
      if (stopping) return closeQuietly(conn);
      accepted(conn);
    }
  }

  function accepted(conn: Deno.TcpConn): void {
    work++;
    const ticket = admission.open(conn.remoteAddr.hostname);
    if (!(ticket instanceof Ticket)) {
      return refusals.refuse(conn, ticket, tlsContext);
    }
    route(conn, ticket).catch((error) => {
      ticket.release();
      closeQuietly(conn);
      log(`connection error: ${errorText(error)}`);
    });
  }

  /**
   * Reads the first bytes and hands the connection to its door (the door
   * router, docs/protocol.md "Opening"); over TLS, the handshake first, then
   * the same inside it. Until a door has it, shutdown closes it here.
   */
  const browsers = new RecentBrowsers();
  // A silent peer gets the banner only once it is known to be silent: on a
  // busy server an IRC client's NICK can sit unread past the opening wait.
  const silence = new PeerSilence();

  async function route(tcp: Deno.TcpConn, ticket: Ticket): Promise<void> {
    handshaking.add(tcp);
    let conn: Deno.Conn = tcp;
    let opening: RoutedOpening;
    try {
      if (tlsContext) {
        // A TLS client speaks first: wait for its handshake as long as TLS
        // allows, and tell a plain-text client what to use instead.
        const started = Date.now();
        const outer = await readOpening(
          tcp,
          true,
          tlsHandshakeMs,
          () => silence.confirm(tcp),
        );
        if (outer.door !== "tls") {
          ticket.release();
          const addr = tcp.remoteAddr;
          const why = await refusePlainOnTls(tcp, outer);
          return log(`disconnect ${addr.hostname}:${addr.port}: ${why}`);
        }
        const left = tlsHandshakeMs - (Date.now() - started);
        const secured = await acceptTls(tcp, tlsContext, left, outer.bytes);
        if (typeof secured === "string") {
          ticket.release();
          const addr = tcp.remoteAddr;
          return log(`disconnect ${addr.hostname}:${addr.port}: ${secured}`);
        }
        conn = secured;
      }
      opening = await readOpening(
        conn,
        false,
        browsers.openingWaitMs(ticket.address),
        () => silence.confirm(tcp),
      );
    } finally {
      handshaking.delete(tcp);
    }
    if (stopping) {
      ticket.release();
      return closeQuietly(conn);
    }
    if (opening.door === "http") {
      browsers.saw(ticket.address);
      return await serveBrowser(conn, ticket, opening);
    }
    serveConnection(conn, ticket, opening);
  }

  function serveConnection(
    conn: Deno.Conn,
    ticket: Ticket,
    opening: RoutedOpening,
  ): void {
    const connection = new Connection(conn, settings, ticket);
    connections.add(connection);
    connection.run(opening).finally(() => connections.delete(connection));
  }

  /**
   * The web door: the page's files, or a WebSocket, which becomes a chat
   * connection like any other (a JSON one: no banner) and keeps the
   * connection's ticket. Until then, shutdown closes it here.
   */
  async function serveBrowser(
    conn: Deno.Conn,
    ticket: Ticket,
    opening: RoutedOpening,
  ): Promise<void> {
    let chatting = false;
    browsing.add(conn);
    try {
      await serveWeb(conn, opening.bytes, {
        startChat: (socket) => {
          chatting = true;
          serveConnection(socket, ticket, WEBSOCKET_OPENING);
        },
        requestTimeoutMs: settings.handshakeMs,
        pingMs: settings.pingMs,
        log,
        files: fileRoutes,
        secure: tlsContext !== undefined,
      });
    } finally {
      browsing.delete(conn);
      if (!chatting) ticket.release();
    }
  }

  const accepting = acceptLoop().catch((error) => {
    if (!stopping) log(`listener error: ${error}`);
  });

  async function shutdown(reason = "server shutting down"): Promise<void> {
    if (stopping) return;
    stopping = true;
    reclaimer.close();
    clearInterval(fileSweeper);
    listener.close();
    for (const conn of handshaking) closeQuietly(conn);
    for (const conn of browsing) closeQuietly(conn);
    clearTimeout(noticeTimer);
    hub.close();
    for (const connection of connections) {
      connection.close(reason, { type: "bye", reason });
    }
    await udp?.close(reason);
    await Promise.all([...connections].map((c) => c.drained));
    await accepting;
    await silence.close();
    pruner.stop();
    indexer.stop();
    store.close();
  }

  const finished = Promise.withResolvers<void>();
  return {
    addr: listener.addr as Deno.NetAddr,
    shutdown: (reason) => shutdown(reason).then(finished.resolve),
    finished: finished.promise,
    ready,
  };
}

/**
 * Turns newcomers away cheaply: one plain line (inside TLS on a TLS server,
 * where the client can read it), one log line (at most one a second per
 * address, counting the rest), then close. No `Connection` is made. Only so
 * many TLS refusals, which need a handshake, are made at once; beyond that a
 * refused socket is closed at once, so a flood of them cannot hold the
 * server's open files.
 */
class Refusals {
  #log: (line: string) => void;
  #tlsInFlight = 0;

  constructor(log: (line: string) => void) {
    this.#log = log;
  }

  refuse(conn: Deno.TcpConn, refusal: Refusal, tls?: TlsContext): void {
    const addr = conn.remoteAddr;
    if (refusal.log) {
      const more = refusal.unlogged > 0
        ? ` (and ${refusal.unlogged} more since the last line)`
        : "";
      this.#log(
        `refused ${
          formatHost(addr.hostname)
        }:${addr.port}: ${refusal.why}${more}`,
      );
    }
    if (!tls) return void this.#write(conn, refusal.line, undefined);
    if (this.#tlsInFlight >= ADMISSION_LIMITS.maxTlsRefusalsInFlight) {
      return closeQuietly(conn);
    }
    this.#tlsInFlight++;
    this.#write(conn, refusal.line, tls).finally(() => this.#tlsInFlight--);
  }

  async #write(
    tcp: Deno.TcpConn,
    line: string,
    tls: TlsContext | undefined,
  ): Promise<void> {
    // A peer that never reads (or never finishes TLS) gets a short while.
    let conn: Deno.Conn = tcp;
    const timer = setTimeout(() => closeQuietly(conn), REFUSAL_LINGER_MS);
    try {
      if (tls) {
        const result = await acceptTls(tcp, tls, REFUSAL_LINGER_MS);
        if (typeof result === "string") return;
        conn = result;
      }
      await conn.write(new TextEncoder().encode(line + "\n"));
    } catch {
      // Gone already.
    } finally {
      clearTimeout(timer);
      closeQuietly(conn);
    }
  }
}

/** A browser's WebSocket speaks JSON from its first message, with no banner. */
const WEBSOCKET_OPENING: RoutedOpening = {
  bytes: new Uint8Array(0),
  door: "json",
  ended: false,
};

/**
 * Plain text on a TLS port: one line saying to use TLS (a browser gets it
 * as an HTTP answer naming https://), then close; returns what to log.
 */
async function refusePlainOnTls(
  tcp: Deno.TcpConn,
  opening: RoutedOpening,
): Promise<string> {
  if (opening.bytes.length === 0) {
    closeQuietly(tcp);
    return opening.ended ? "closed before TLS" : "no TLS handshake in time";
  }
  const answer = opening.door === "http"
    ? httpResponse(
      "400 Bad Request",
      "This chat server speaks TLS: open the same address with https://\n",
    )
    : PLAIN_CLIENT_NOTICE;
  await writeAndClose(tcp, answer);
  return "plain text on the TLS port";
}

function httpResponse(status: string, body: string): Uint8Array {
  const bytes = new TextEncoder().encode(body);
  return new TextEncoder().encode(
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${bytes.length}\r\nConnection: close\r\n` +
      `X-Content-Type-Options: nosniff\r\n\r\n${body}`,
  );
}

/** Writes a last answer within a short while, then closes. */
async function writeAndClose(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  const timer = setTimeout(() => closeQuietly(conn), REFUSAL_LINGER_MS);
  try {
    await conn.write(bytes);
  } catch {
    // Gone already.
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

/** How long a refused newcomer has to read its line. */
const REFUSAL_LINGER_MS = 2000;

/**
 * Warns (one line) when the open-file limit cannot hold `maxClients`
 * connections plus what the server needs beside them: past it, accepting
 * fails with "too many open files" and newcomers wait.
 */
async function warnIfFewOpenFiles(
  maxClients: number,
  log: (line: string) => void,
): Promise<void> {
  const limit = await openFileLimit();
  const needed = maxClients + ADMISSION_LIMITS.spareOpenFiles;
  if (limit === undefined || limit >= needed) return;
  log(
    `warning: the open-file limit (ulimit -n) is ${limit}, too low for --max-clients ${maxClients}; raise it to ${needed} or more (ulimit -n ${needed}) or lower --max-clients`,
  );
}

/**
 * This process's soft limit on open files: from /proc/self/limits on Linux,
 * else from `ulimit -n` if running `sh` is allowed (never asking for a
 * permission); `undefined` when it cannot be told.
 */
export async function openFileLimit(): Promise<number | undefined> {
  const parse = (text: string) =>
    text === "unlimited"
      ? Infinity
      : /^\d+$/.test(text)
      ? Number(text)
      : undefined;
  try {
    const path = "/proc/self/limits";
    if (
      Deno.permissions.querySync({ name: "read", path }).state === "granted"
    ) {
      const match = Deno.readTextFileSync(path).match(
        /^Max open files\s+(\S+)/m,
      );
      if (match) return parse(match[1]);
    }
  } catch {
    // Not Linux: ask the shell.
  }
  if (Deno.build.os === "windows") return undefined;
  try {
    const run = Deno.permissions.querySync({ name: "run", command: "sh" });
    if (run.state !== "granted") return undefined;
    const output = await new Deno.Command("sh", {
      args: ["-c", "ulimit -n"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return parse(new TextDecoder().decode(output.stdout).trim());
  } catch {
    return undefined;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already gone.
  }
}

/** The IPv4 addresses others on the network can reach this machine at. */
export function shareableAddresses(host: string): string[] {
  if (host !== "0.0.0.0" && host !== "::") return [host];
  try {
    const addresses = Deno.networkInterfaces()
      .filter((i) => i.family === "IPv4" && !i.address.startsWith("127."))
      .map((i) => i.address);
    return addresses.length > 0 ? [...new Set(addresses)] : ["127.0.0.1"];
  } catch {
    return ["127.0.0.1"];
  }
}

/** Runs `chat serve` until SIGINT or SIGTERM; prints how to join. */
export async function serve(options: ServeOptions): Promise<void> {
  const server = startServer(options);
  try {
    await server.ready;
  } catch (error) {
    await server.shutdown();
    throw error;
  }
  const { port } = server.addr;
  const tls = options.tlsCert !== undefined;
  const lines = [
    `chat ${VERSION}: "${options.name}" listening on ${
      formatHost(server.addr.hostname)
    }:${port}${tls ? " with TLS" : ""}`,
    `history: ${
      options.db === ":memory:" ? "in memory (not kept)" : options.db
    }, ${describeRetention(options)}`,
    "Classmates can join with one of:",
  ];
  for (const address of shareableAddresses(options.host)) {
    lines.push(
      `  ${tls ? "https" : "http"}://${formatHost(address)}:${port}/` +
        "   (in a browser)",
    );
    if (tls) {
      lines.push(`  chat connect --tls ${formatHost(address)}:${port}`);
      lines.push(
        `  openssl s_client -quiet -connect ${formatHost(address)}:${port}`,
      );
    } else {
      lines.push(`  chat connect ${formatHost(address)}:${port}`);
      lines.push(`  nc ${address} ${port}`);
    }
    lines.push(
      `  /connect ${tls ? "-tls " : ""}${address} ${port}` +
        "   (in irssi, WeeChat or HexChat)",
    );
  }
  if (tls) {
    lines.push(
      `A self-signed certificate? Give them ${options.tlsCert} and add: --ca ${options.tlsCert}`,
    );
  }
  if (options.compat || options.udp) {
    lines.push(
      `Tutorial socket programs: TCP port ${port}${
        options.compat ? " (NICK handshake on)" : ""
      }${options.udp ? `, UDP port ${port}` : ""}.`,
    );
  }
  lines.push("Press Ctrl-C to stop.");
  console.log(lines.join("\n"));

  let stopping = false;
  const stop = () => {
    // A second Ctrl-C (or a signal forwarded twice by a wrapper such as
    // `deno task`) must not start a second shutdown or a second timer.
    if (stopping) return;
    stopping = true;
    logLine("shutting down");
    server.shutdown().then(() => Deno.exit(0));
    // Never hang on exit: storage is committed per tick already.
    setTimeout(() => Deno.exit(0), 1800);
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
}

function describeRetention(options: ServeOptions): string {
  const keepDays = options.keepDays ?? SERVE_DEFAULTS.keepDays;
  const maxDbMb = options.maxDbMb ?? SERVE_DEFAULTS.maxDbMb;
  const age = keepDays === 0 ? "kept for ever" : `kept ${keepDays} days`;
  const size = maxDbMb === 0 ? "no size cap" : `at most ${maxDbMb} MB`;
  return `${age}, ${size}`;
}

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
