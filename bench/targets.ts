/**
 * The servers the benchmark measures: `chat serve` itself and its peers
 * (ngircd, an idiomatic Deno server, an idiomatic Node `net` server). Each is
 * started as its own process on 127.0.0.1, on an ephemeral port, pinned to
 * the server core when `taskset` exists.
 *
 * @module
 */

import type { WireDialect } from "./wire_dialect.ts";
import { dialectFor, ROOM } from "./wire_dialect.ts";

/** The repository root. */
export const ROOT = new URL("../", import.meta.url).pathname;

/** Environment for every child: never look up outside hosts. */
const CHILD_ENV = { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" };

/** How long a server may take to start listening. */
const START_TIMEOUT_MS = 20_000;
/** How long a server may take to stop after SIGTERM before SIGKILL. */
const STOP_TIMEOUT_MS = 3000;

/** A server under test, running. */
export interface RunningTarget {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** A server the benchmark knows how to start. */
export interface Target {
  /** Short name used in tables and flags. */
  name: string;
  /** What it is, for the table's legend. */
  description: string;
  dialect: WireDialect;
  /**
   * Only accepts and reads: measured connected and idle (scenario d), never
   * sent to. @default {false}
   */
  idleOnly?: boolean;
  /**
   * The scenarios it runs in unless `--targets` names it. @default {all}
   */
  defaultScenarios?: string[];
  /** Connections the load generator opens at once. @default {200} */
  connectConcurrency?: number;
  /** Why it cannot run here, or `undefined` if it can. */
  unavailable(): Promise<string | undefined>;
  start(pin: string[], maxClients: number): Promise<RunningTarget>;
}

/** Finds an executable on PATH (or an absolute path), or `undefined`. */
export function which(name: string): string | undefined {
  if (name.startsWith("/")) return exists(name) ? name : undefined;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir && exists(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  for (const dir of ["/usr/sbin", "/sbin"]) {
    if (exists(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** A free TCP port on 127.0.0.1 (for servers that cannot take port 0). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Spawns `command`, waits until a line of its stdout matches `portPattern`
 * (or, without one, until `port` accepts connections), and keeps draining
 * its output so it never blocks on a full pipe.
 */
async function spawnServer(
  command: string[],
  portPattern: RegExp | undefined,
  fixedPort: number | undefined,
  cwd = ROOT,
): Promise<RunningTarget> {
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    cwd,
    env: CHILD_ENV,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let tail = "";
  const keepTail = (text: string) => tail = (tail + text).slice(-2000);
  const portFound = Promise.withResolvers<number>();
  // Only awaited when the port comes from stdout; never unhandled.
  portFound.promise.catch(() => {});
  const drain = async (stream: ReadableStream<Uint8Array>, match: boolean) => {
    const decoder = new TextDecoder();
    let lineBuffer = "";
    try {
      for await (const chunk of stream) {
        const text = decoder.decode(chunk, { stream: true });
        keepTail(text);
        if (match && portPattern) {
          lineBuffer = (lineBuffer + text).slice(-4000);
          const found = lineBuffer.match(portPattern);
          if (found) portFound.resolve(Number(found[1]));
        }
      }
    } catch {
      // The child is gone.
    }
  };
  const drained = Promise.all([
    drain(child.stdout, true),
    drain(child.stderr, false),
  ]);
  const exited = child.status.then((status) => {
    portFound.reject(
      new Error(`exited with code ${status.code} before listening: ${tail}`),
    );
    return status;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`not listening after ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
  });
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      exited,
      new Promise((resolve) => {
        killTimer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // Already gone.
          }
          resolve(undefined);
        }, STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(killTimer);
    await exited;
    await drained;
  };
  try {
    const port = fixedPort === undefined
      ? await Promise.race([portFound.promise, timeout])
      : await Promise.race([
        waitForPort(fixedPort),
        exited.then(() => {
          throw new Error(`exited before listening: ${tail}`);
        }),
        timeout,
      ]);
    return { port, pid: child.pid, stop };
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function waitForPort(port: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return port;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`port ${port} never opened`);
}

/**
 * `chat serve`, storage on (a temp file), rate limit off, no per-address
 * limits (every load-generator connection comes from 127.0.0.1), members in
 * `dialect` (JSON, text as `nc` users speak it, or IRC).
 */
function chatTarget(dialect: "json" | "text" | "irc"): Target {
  const names = { json: "chat", text: "chat-text", irc: "chat-irc" };
  const wire = { json: "JSON", text: "text", irc: "IRC" };
  return {
    name: names[dialect],
    description: `chat serve (this project): ${
      wire[dialect]
    } dialect, SQLite storage on, --rate 0, --max-per-address 0`,
    dialect: dialectFor(dialect),
    // The text dialect differs in what each member holds, so it is measured
    // where that shows: idle connections. The IRC door is measured beside
    // ngircd, which speaks only IRC: fan-out and idle connections.
    defaultScenarios: dialect === "text"
      ? ["d"]
      : dialect === "irc"
      ? ["a", "b", "c", "d"]
      : undefined,
    unavailable: () => Promise.resolve(undefined),
    async start(pin, maxClients) {
      const dir = await Deno.makeTempDir({ prefix: "chat_bench_" });
      const running = await spawnServer(
        [
          ...pin,
          Deno.execPath(),
          "run",
          "--allow-all",
          `${ROOT}main.ts`,
          "serve",
          "--host",
          "127.0.0.1",
          "--port",
          "0",
          "--db",
          `${dir}/bench.db`,
          "--rate",
          "0",
          "--max-clients",
          String(maxClients),
          "--max-per-address",
          "0",
          // IRC members land in the default room before they JOIN: make it
          // the bench's room, so the JOIN finds them there already.
          ...(dialect === "irc" ? ["--room", ROOM] : []),
        ],
        /listening on [^\n]*:(\d+)/,
        undefined,
      );
      return {
        ...running,
        stop: async () => {
          await running.stop();
          await Deno.remove(dir, { recursive: true }).catch(() => {});
        },
      };
    },
  };
}

/** The idiomatic Deno peer (bench/peers/deno_streams.ts). */
function denoPeer(): Target {
  return {
    name: "deno-streams",
    description:
      "idiomatic Deno: Web streams per connection, awaited write per recipient, no storage",
    dialect: dialectFor("json"),
    unavailable: () => Promise.resolve(undefined),
    start: (pin) =>
      spawnServer(
        [
          ...pin,
          Deno.execPath(),
          "run",
          "--allow-net",
          `${ROOT}bench/peers/deno_streams.ts`,
          "0",
        ],
        /listening on (\d+)/,
        undefined,
      ),
  };
}

/** The floor: a Deno server that only accepts and reads (bench/peers/deno_bare.ts). */
function denoBare(): Target {
  return {
    name: "deno-bare",
    description:
      "the floor: a Deno server that only accepts and reads (256-byte buffer), idle scenario only",
    dialect: dialectFor("json"),
    idleOnly: true,
    unavailable: () => Promise.resolve(undefined),
    start: (pin) =>
      spawnServer(
        [
          ...pin,
          Deno.execPath(),
          "run",
          "--allow-net",
          `${ROOT}bench/peers/deno_bare.ts`,
          "0",
          "256",
        ],
        /listening on (\d+)/,
        undefined,
      ),
  };
}

/** The idiomatic Node peer (bench/peers/node_net.mjs). */
function nodePeer(): Target {
  return {
    name: "node-net",
    description:
      "idiomatic Node: net.createServer, socket.write per recipient, no storage",
    dialect: dialectFor("json"),
    unavailable: () =>
      Promise.resolve(
        which("node") ? undefined : "node is not on PATH",
      ),
    start: (pin) =>
      spawnServer(
        [...pin, which("node")!, `${ROOT}bench/peers/node_net.mjs`, "0"],
        /listening on (\d+)/,
        undefined,
      ),
  };
}

/** ngircd, the C IRC server, from Debian's package. */
function ngircdTarget(install: boolean): Target {
  return {
    name: "ngircd",
    description:
      "ngircd (C IRC server, Debian package), IRC, penalties off (MaxPenaltyTime = 0)",
    dialect: dialectFor("irc"),
    // ngircd listens with a backlog of 10 (compiled in): more connects at
    // once overflow its accept queue, and the dropped ones wait out SYN
    // retransmits (1 s, 3 s, 7 s…); 200 at once had 70 of 1,000 still
    // waiting after 30 s.
    connectConcurrency: 10,
    async unavailable() {
      if (which("ngircd")) return undefined;
      if (!install) return "ngircd is not installed (--no-install given)";
      if (!which("apt-get")) {
        return "ngircd is not installed and apt-get is missing";
      }
      console.error("# installing ngircd (apt-get install ngircd) …");
      for (
        const args of [["update", "-qq"], [
          "install",
          "-y",
          "-qq",
          "--no-install-recommends",
          "ngircd",
        ]]
      ) {
        const out = await new Deno.Command("apt-get", {
          args,
          env: { DEBIAN_FRONTEND: "noninteractive" },
          stdout: "null",
          stderr: "piped",
        }).output();
        if (!out.success) {
          return `apt-get ${args[0]} failed: ${
            new TextDecoder().decode(out.stderr).slice(-300)
          }`;
        }
      }
      return which("ngircd") ? undefined : "ngircd did not install";
    },
    async start(pin) {
      const dir = await Deno.makeTempDir({ prefix: "ngircd_bench_" });
      const port = freePort();
      await Deno.writeTextFile(`${dir}/ngircd.conf`, ngircdConfig(port, dir));
      await Deno.writeTextFile(`${dir}/motd`, "benchmark\n");
      const running = await spawnServer(
        [
          ...pin,
          which("ngircd")!,
          "--nodaemon",
          "--config",
          `${dir}/ngircd.conf`,
        ],
        undefined,
        port,
        dir,
      );
      return {
        ...running,
        stop: async () => {
          await running.stop();
          await Deno.remove(dir, { recursive: true }).catch(() => {});
        },
      };
    },
  };
}

function ngircdConfig(port: number, dir: string): string {
  return `[Global]
  Name = bench.local
  Info = chat benchmark peer
  Listen = 127.0.0.1
  Ports = ${port}
  MotdFile = ${dir}/motd
  PidFile = ${dir}/ngircd.pid
[Limits]
  MaxConnections = 0
  MaxConnectionsIP = 0
  MaxJoins = 0
  MaxNickLength = 16
  MaxPenaltyTime = 0
  PingTimeout = 600
  PongTimeout = 600
[Options]
  DNS = no
  Ident = no
  PAM = no
[Channel]
  Name = #bench
  Modes = +n
`;
}

/** Every target, chat first. */
export function allTargets(install: boolean): Target[] {
  return [
    chatTarget("json"),
    chatTarget("text"),
    chatTarget("irc"),
    ngircdTarget(install),
    denoPeer(),
    nodePeer(),
    denoBare(),
  ];
}
