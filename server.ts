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
import { Connection } from "./src/server/doors/connection.ts";
import { GuestNames } from "./src/server/guest_names.ts";
import { Hub } from "./src/server/hub.ts";
import { SAFETY_TIMINGS, SERVE_DEFAULTS } from "./src/shared/limits.ts";
import { acceptTls, TlsContext } from "./src/server/tls_conn.ts";
import { checkTlsPair, readTlsFiles } from "./src/server/tls_setup.ts";
import { SqliteStore } from "./src/server/store.ts";
import { HistoryPruner } from "./src/server/history_pruner.ts";
import { StoreFailureLog } from "./src/server/store_failure_log.ts";
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
  history: number;
  rate: number;
  burst: number;
  maxQueueBytes: number;
  handshakeSeconds: number;
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
  const pruner = new HistoryPruner(store, { keepDays, maxDbMb, log });
  const storeFailures = new StoreFailureLog(log);
  let flushScheduled = false;
  const hub = new Hub({
    store,
    defaultRoom: options.room,
    history: options.history,
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
        hub.flush();
      });
    },
    onStoreError: (error, messages) => storeFailures.failed(error, messages),
    onStored: () => {
      storeFailures.succeeded();
      pruner.noteAppended();
    },
    requestNotices: (delayMs) => {
      noticeTimer = setTimeout(() => hub.flushNotices(), delayMs);
    },
  });
  let noticeTimer: ReturnType<typeof setTimeout> | undefined;
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: options.host, port: options.port });
  } catch (error) {
    store.close();
    throw error;
  }
  pruner.start();
  const connections = new Set<Connection>();
  /** TLS connections still in their handshake; they count toward the cap. */
  const handshaking = new Set<Deno.Conn>();
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
    handshakeMs: options.handshakeSeconds * 1000,
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
      log,
    }).then((door) => {
      udp = door;
    })
    : Promise.resolve();

  async function acceptLoop(): Promise<void> {
    for await (const conn of listener) {
      const full = connections.size + handshaking.size >= options.maxClients;
      if (tlsContext) {
        admitTls(conn, tlsContext, full).catch((error) =>
          log(`TLS connection error: ${error}`)
        );
      } else if (full) refuseFull(conn, options.maxClients, log);
      else serveConnection(conn);
    }
  }

  function serveConnection(conn: Deno.Conn): void {
    const connection = new Connection(conn, settings);
    connections.add(connection);
    connection.run().finally(() => connections.delete(connection));
  }

  /** TLS first, within its deadline; only then is it a chat connection. */
  async function admitTls(
    tcp: Deno.TcpConn,
    context: TlsContext,
    full: boolean,
  ): Promise<void> {
    if (!full) handshaking.add(tcp);
    const result = await acceptTls(tcp, context, tlsHandshakeMs);
    handshaking.delete(tcp);
    if (typeof result === "string") {
      const addr = tcp.remoteAddr;
      return log(`disconnect ${addr.hostname}:${addr.port}: ${result}`);
    }
    if (stopping) return closeQuietly(result);
    // The "server full" line goes inside TLS, where the client can read it.
    if (full) return refuseFull(result, options.maxClients, log);
    serveConnection(result);
  }

  const accepting = acceptLoop().catch((error) => {
    if (!stopping) log(`listener error: ${error}`);
  });

  async function shutdown(reason = "server shutting down"): Promise<void> {
    if (stopping) return;
    stopping = true;
    listener.close();
    for (const conn of handshaking) closeQuietly(conn);
    clearTimeout(noticeTimer);
    hub.close();
    for (const connection of connections) {
      connection.close(reason, { type: "bye", reason });
    }
    await udp?.close(reason);
    await Promise.all([...connections].map((c) => c.drained));
    await accepting;
    pruner.stop();
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

function refuseFull(
  conn: Deno.Conn,
  maxClients: number,
  log: (line: string) => void,
): void {
  const addr = conn.remoteAddr as Deno.NetAddr;
  log(`full ${addr.hostname}:${addr.port}: refused (${maxClients} clients)`);
  const text =
    `Sorry, this server is full (${maxClients} clients). Try again later.\n`;
  // Over TLS the write waits for a handshake that may never come: give up.
  const timer = setTimeout(() => closeQuietly(conn), REFUSAL_LINGER_MS);
  conn.write(new TextEncoder().encode(text)).catch(() => {}).finally(() => {
    clearTimeout(timer);
    closeQuietly(conn);
  });
}

/** How long a refused newcomer has to read the "server full" line. */
const REFUSAL_LINGER_MS = 2000;

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
    if (tls) {
      lines.push(`  chat connect --tls ${formatHost(address)}:${port}`);
      lines.push(
        `  openssl s_client -quiet -connect ${formatHost(address)}:${port}`,
      );
    } else {
      lines.push(`  chat connect ${formatHost(address)}:${port}`);
      lines.push(`  nc ${address} ${port}`);
    }
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
