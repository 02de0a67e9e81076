/**
 * The servers the benchmark measures: `chat serve` itself (its TCP doors and
 * its WebSocket) and its peers (ngircd, an idiomatic Deno server, an
 * idiomatic Node `net` server, a Node `ws` server). Each is
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
   * How members reach it: plain TCP, or a WebSocket at `/ws` carrying the
   * dialect one frame per message, as a browser does. @default {"tcp"}
   */
  transport?: "tcp" | "ws";
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
  /**
   * An old revision of chat (`--baseline REV`): measured beside chat, its
   * losses reported, not judged. @default {false}
   */
  baseline?: boolean;
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
 * An old revision of chat, extracted for `--baseline REV` so it runs beside
 * today's in the same run of the machine: comparing two runs means
 * comparing the machine's load, ±15 % here.
 */
export interface Baseline {
  /** The revision as asked for: `762c15c`, `main~3`. */
  rev: string;
  /** Its commit's short hash. */
  commit: string;
  /** Where its tree is. */
  root: string;
  /** The flags its `chat serve --help` lists: its command line may differ. */
  flags: Set<string>;
  /** Removes the extracted tree. */
  dispose(): Promise<void>;
}

/** Runs a command to its end; its stdout, or an error with its stderr. */
async function run(command: string, args: string[], cwd = ROOT) {
  const out = await new Deno.Command(command, {
    args,
    cwd,
    env: CHILD_ENV,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${command} ${args.join(" ")}: ${decoder.decode(out.stderr).trim()}`,
    );
  }
  return decoder.decode(out.stdout);
}

/**
 * Extracts revision `rev` of this repository into a temporary folder with
 * `git archive` (which leaves the repository and its worktrees as they
 * are), and reads which `serve` flags it knows.
 */
export async function extractBaseline(rev: string): Promise<Baseline> {
  if (!which("git")) throw new Error("--baseline needs git on PATH");
  const commit = (await run("git", [
    "rev-parse",
    "--verify",
    "--quiet",
    "--short",
    `${rev}^{commit}`,
  ]).catch(() => "")).trim();
  if (commit === "") throw new Error(`--baseline: no commit "${rev}"`);
  const dir = await Deno.makeTempDir({ prefix: "chat_baseline_" });
  const dispose = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  try {
    const root = `${dir}/tree`;
    await Deno.mkdir(root);
    await run("git", ["archive", "--output", `${dir}/tree.tar`, commit]);
    await run("tar", ["-xf", `${dir}/tree.tar`, "-C", root]);
    // Also fetches and compiles its modules once, before anything is timed.
    const help = await run(
      Deno.execPath(),
      ["run", "--allow-all", `${root}/main.ts`, "serve", "--help"],
      root,
    );
    const flags = new Set(help.match(/--[a-z][a-z-]*/g) ?? []);
    return { rev, commit, root: `${root}/`, flags, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/**
 * `chat serve`, storage on (a temp file), rate limit off, no per-address
 * limits (every load-generator connection comes from 127.0.0.1), members in
 * `dialect` (JSON, text as `nc` users speak it, or IRC), or, for `ws`, JSON
 * over the web door's WebSocket as the browser page speaks it. With
 * `baseline`, that old revision of it, given the same flags where it has
 * them.
 */
function chatTarget(
  dialect: "json" | "text" | "irc" | "ws",
  baseline?: Baseline,
): Target {
  const names = {
    json: "chat",
    text: "chat-text",
    irc: "chat-irc",
    ws: "chat-ws",
  };
  const wire = {
    json: "JSON dialect",
    text: "text dialect",
    irc: "IRC dialect",
    ws: "JSON over its WebSocket (/ws, as the web page)",
  };
  const root = baseline?.root ?? ROOT;
  const knows = (flag: string) => baseline?.flags.has(flag) ?? true;
  return {
    name: names[dialect] + (baseline ? "-before" : ""),
    description: `chat serve (${
      baseline
        ? `this project at ${baseline.rev}, commit ${baseline.commit}`
        : "this project"
    }): ${wire[dialect]}, SQLite storage on, --rate 0${
      knows("--max-per-address") ? ", --max-per-address 0" : ""
    }`,
    dialect: dialectFor(dialect === "ws" ? "json" : dialect),
    baseline: baseline !== undefined,
    transport: dialect === "ws" ? "ws" : "tcp",
    // 200 handshakes at once kept the server's event loop busy for 300 to
    // 600 ms, past the door router's 200 ms wait for a silent socket, so it
    // sent the text door's banner to requests it had not read yet, and those
    // upgrades failed (72 of the first 200, most runs). A page load's socket
    // is one at a time; the scenario measures fan-out, not that burst.
    connectConcurrency: dialect === "ws" ? 50 : undefined,
    // The text dialect differs in what each member holds, so it is measured
    // where that shows: idle connections. The IRC door is measured beside
    // ngircd, which speaks only IRC: fan-out and idle connections; the WebSocket
    // in its own scenario, beside TCP and a Node `ws` server.
    defaultScenarios: dialect === "text"
      ? ["d"]
      : dialect === "irc"
      ? ["a", "b", "c", "d"]
      : dialect === "ws"
      ? ["w"]
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
          `${root}main.ts`,
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
          ...(knows("--max-per-address") ? ["--max-per-address", "0"] : []),
          // IRC members land in the default room before they JOIN: make it
          // the bench's room, so the JOIN finds them there already.
          ...(dialect === "irc" ? ["--room", ROOM] : []),
        ],
        /listening on [^\n]*:(\d+)/,
        undefined,
        root,
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

/** The folder of the Node peers, whose package.json pins `ws`. */
const PEERS = `${ROOT}bench/peers`;
/** The `ws` version bench/peers/package.json pins. */
async function pinnedWsVersion(): Promise<string> {
  const manifest = JSON.parse(await Deno.readTextFile(`${PEERS}/package.json`));
  return manifest.dependencies.ws;
}

/** The `ws` version installed in bench/peers/node_modules, if any. */
async function installedWsVersion(): Promise<string | undefined> {
  try {
    const manifest = JSON.parse(
      await Deno.readTextFile(`${PEERS}/node_modules/ws/package.json`),
    );
    return manifest.version;
  } catch {
    return undefined;
  }
}

/**
 * The common Node way to serve WebSockets (bench/peers/node_ws.cjs): the
 * `ws` package, one `ws.send` per member. `ws` is a benchmark-only
 * dependency, pinned with its integrity in bench/peers/package-lock.json and
 * installed there with `npm ci` on first use.
 */
function nodeWsPeer(install: boolean): Target {
  return {
    name: "node-ws",
    description:
      "common Node WebSocket server: npm:ws (bench/peers/package.json), ws.send per member, no storage",
    dialect: dialectFor("json"),
    transport: "ws",
    defaultScenarios: ["w"],
    async unavailable() {
      if (!which("node")) return "node is not on PATH";
      const pinned = await pinnedWsVersion();
      if (await installedWsVersion() === pinned) return undefined;
      if (!install) return `ws ${pinned} is not installed (--no-install given)`;
      const npm = which("npm");
      if (!npm) return `ws ${pinned} is not installed and npm is missing`;
      console.error(`# installing ws ${pinned} (npm ci in bench/peers) …`);
      const out = await new Deno.Command(npm, {
        args: ["ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd: PEERS,
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!out.success) {
        return `npm ci failed: ${
          new TextDecoder().decode(out.stderr).slice(-300)
        }`;
      }
      return await installedWsVersion() === pinned
        ? undefined
        : `ws ${pinned} did not install`;
    },
    start: (pin) =>
      spawnServer(
        [...pin, which("node")!, `${PEERS}/node_ws.cjs`, "0"],
        /listening on (\d+)/,
        undefined,
        PEERS,
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

/**
 * Every target, chat first; with a `baseline`, its revision of chat right
 * after today's in each dialect it has (it may predate the IRC door and the
 * WebSocket).
 */
export function allTargets(install: boolean, baseline?: Baseline): Target[] {
  const before = (dialect: "json" | "text") =>
    baseline ? [chatTarget(dialect, baseline)] : [];
  return [
    chatTarget("json"),
    ...before("json"),
    chatTarget("text"),
    ...before("text"),
    chatTarget("irc"),
    chatTarget("ws"),
    ngircdTarget(install),
    denoPeer(),
    nodePeer(),
    nodeWsPeer(install),
    denoBare(),
  ];
}
