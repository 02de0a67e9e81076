/**
 * Test helpers: start the real `main.ts serve` process on an ephemeral port
 * and talk to it over real TCP.
 *
 * @module
 */

import net from "node:net";
import {
  LineSplitter,
  parseServerEvent,
  type ServerEvent,
} from "../protocol.ts";

/** The repository root, for spawning `main.ts`. */
export const ROOT = new URL("../", import.meta.url).pathname;

/** Environment for every deno a test starts: never look up outside hosts. */
export const TEST_ENV = { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" };

/** A running `chat serve` child process. */
export class ServerProcess {
  #child: Deno.ChildProcess;
  #stderr = "";
  #stderrDone: Promise<void>;
  /** The port it listens on. */
  readonly port: number;
  /** Everything it printed on stdout before it was ready. */
  readonly startup: string;

  private constructor(
    child: Deno.ChildProcess,
    port: number,
    startup: string,
    stdoutRest: ReadableStreamDefaultReader<Uint8Array>,
  ) {
    this.#child = child;
    this.port = port;
    this.startup = startup;
    // Keep draining stdout so the child never blocks on a full pipe.
    (async () => {
      try {
        while (!(await stdoutRest.read()).done) { /* drain */ }
      } catch { /* closed */ }
    })();
    this.#stderrDone = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of child.stderr) {
          this.#stderr += decoder.decode(chunk, { stream: true });
        }
      } catch { /* closed */ }
    })();
  }

  /**
   * Starts `main.ts serve --host 127.0.0.1 --port 0` with `args` (pass
   * `--db`; the default is `:memory:`) and waits until it listens. `chat`
   * replaces `deno run main.ts`, to start a compiled binary instead.
   */
  static async start(
    args: string[] = [],
    chat: string[] = [Deno.execPath(), "run", "--allow-all", `${ROOT}main.ts`],
  ): Promise<ServerProcess> {
    const hasDb = args.includes("--db");
    const child = new Deno.Command(chat[0], {
      args: [
        ...chat.slice(1),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        ...(hasDb ? [] : ["--db", ":memory:"]),
        ...args,
      ],
      env: TEST_ENV,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      const match = text.match(/listening on \S+:(\d+)/);
      if (match && text.includes("Press Ctrl-C")) {
        return new ServerProcess(child, Number(match[1]), text, reader);
      }
    }
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    throw new Error(`server did not start: ${text}`);
  }

  /** The server's log so far (stderr). */
  get log(): string {
    return this.#stderr;
  }

  /** The child's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Sends a signal and waits for the exit status. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill(signal);
    } catch { /* already gone */ }
    const status = await this.#child.status;
    await this.#stderrDone;
    return status;
  }
}

const encoder = new TextEncoder();

/** A raw TCP client that reads lines and parses JSON events. */
export class TestClient {
  #conn: Deno.Conn;
  #lines: string[] = [];
  #waiters: (() => void)[] = [];
  #closed = false;
  #reading: Promise<void>;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#reading = this.#readLoop();
  }

  /** Connects to 127.0.0.1:port. */
  static async connect(
    port: number,
    hostname = "127.0.0.1",
  ): Promise<TestClient> {
    return new TestClient(await Deno.connect({ hostname, port }));
  }

  /**
   * Connects to 127.0.0.1:port from another loopback address (127.0.0.2,
   * 127.0.0.3 …), for per-address limits: `Deno.connect` cannot choose its
   * source address, `node:net` can.
   */
  static async connectFrom(
    localAddress: string,
    port: number,
  ): Promise<TestClient> {
    return new TestClient(await NodeSocketConn.connect(localAddress, port));
  }

  /** Connects and says hello in the JSON dialect; returns after `welcome`. */
  static async join(
    port: number,
    nick: string,
    extra: Record<string, unknown> = {},
    from?: string,
  ): Promise<
    { client: TestClient; welcome: ServerEvent & { type: "welcome" } }
  > {
    const client = from === undefined
      ? await TestClient.connect(port)
      : await TestClient.connectFrom(from, port);
    // As chat connect does: the hello first, so the router sends no banner.
    client.send({ type: "hello", nick, ...extra });
    const welcome = await client.waitFor((e) =>
      e.type === "welcome" || e.type === "error"
    );
    if (welcome.type !== "welcome") {
      client.close();
      throw new Error(`hello refused: ${JSON.stringify(welcome)}`);
    }
    return { client, welcome };
  }

  async #readLoop(): Promise<void> {
    const splitter = new LineSplitter(1 << 24);
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        splitter.push(buffer.subarray(0, n), (piece) => {
          if (piece.kind === "line") {
            this.#lines.push(decoder.decode(piece.bytes));
          }
        });
        this.#wake();
      }
    } catch { /* closed or reset */ }
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** True once the server closed the connection. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a JSON frame (or any object) as one line. */
  send(frame: unknown): void {
    this.write(JSON.stringify(frame) + "\n");
  }

  /** Writes raw text or bytes. */
  write(data: string | Uint8Array): void {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    this.#conn.write(bytes).catch(() => {});
  }

  /** Writes and waits until the bytes are handed to the socket. */
  async writeAll(data: string | Uint8Array): Promise<void> {
    let bytes = typeof data === "string" ? encoder.encode(data) : data;
    while (bytes.length > 0) {
      bytes = bytes.subarray(await this.#conn.write(bytes));
    }
  }

  /** The next line, waiting up to `timeoutMs`. */
  async nextLine(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0) {
      if (this.#closed) {
        throw new Error("connection closed while waiting for a line");
      }
      await this.#wait(deadline);
    }
    return this.#lines.shift()!;
  }

  /**
   * Waits for the first event matching `match`, skipping (and keeping in
   * `skipped`) the others. Throws after `timeoutMs` or when closed.
   */
  async waitFor(
    match: (event: ServerEvent) => boolean,
    timeoutMs = 5000,
    skipped: ServerEvent[] = [],
  ): Promise<ServerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#lines.length > 0) {
        const line = this.#lines.shift()!;
        const event = parseServerEvent(line);
        if (event === undefined) continue;
        if (match(event)) return event;
        skipped.push(event);
      }
      if (this.#closed) {
        throw new Error("connection closed while waiting for an event");
      }
      await this.#wait(deadline);
    }
  }

  /** Waits for a line containing `text`; returns it. */
  async waitForLine(text: string | RegExp, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#lines.length > 0) {
        const line = this.#lines.shift()!;
        if (typeof text === "string" ? line.includes(text) : text.test(line)) {
          return line;
        }
      }
      if (this.#closed) {
        throw new Error(`connection closed while waiting for ${text}`);
      }
      await this.#wait(deadline);
    }
  }

  /** Events received so far and not yet consumed, without waiting. */
  drainEvents(): ServerEvent[] {
    const events = this.#lines.map(parseServerEvent).filter((e) =>
      e !== undefined
    );
    this.#lines = [];
    return events as ServerEvent[];
  }

  /** Waits until the server closes the connection (or the timeout). */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed && Date.now() < deadline) {
      await this.#wait(deadline).catch(() => {});
    }
    return this.#closed;
  }

  #wait(deadline: number): Promise<void> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      return Promise.reject(new Error("timed out waiting for the server"));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        reject(new Error("timed out waiting for the server"));
      }, remaining);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.push(wake);
    });
  }

  /** Closes the socket and waits for the read loop to end. */
  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    await this.#reading;
  }
}

/**
 * A `node:net` socket with the part of `Deno.Conn` that {@linkcode TestClient}
 * uses (`read`, `write`, `close`), so it can connect from a chosen address.
 */
class NodeSocketConn {
  #socket: net.Socket;
  #chunks: Uint8Array[] = [];
  #ended = false;
  #wake: (() => void) | undefined;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (data: Uint8Array) => {
      this.#chunks.push(new Uint8Array(data));
      this.#wake?.();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on("error", () => {/* seen as the close that follows */});
  }

  static connect(localAddress: string, port: number): Promise<Deno.Conn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port, localAddress });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new NodeSocketConn(socket) as unknown as Deno.Conn);
      });
    });
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
    const chunk = this.#chunks[0];
    const n = Math.min(chunk.length, buffer.length);
    buffer.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    return n;
  }

  write(bytes: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#socket.write(
        bytes,
        (error) => error ? reject(error) : resolve(bytes.length),
      );
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** Runs `main.ts` with args, stdin text and more environment; returns code and output. */
export async function runChat(
  args: string[],
  stdin = "",
  timeoutMs = 30_000,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${ROOT}main.ts`, ...args],
    env: { ...TEST_ENV, ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(stdin));
  await writer.close();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  const output = await child.output();
  clearTimeout(timer);
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A temporary directory removed by the returned function. */
export async function tempDir(): Promise<
  { path: string; remove: () => Promise<void> }
> {
  const path = await Deno.makeTempDir({ prefix: "chat_test_" });
  return { path, remove: () => Deno.remove(path, { recursive: true }) };
}

/** Runs `run` against a fresh `chat serve` started with `args`, then stops it. */
export async function withServer(
  run: (server: ServerProcess) => Promise<void>,
  args: string[] = [],
): Promise<void> {
  const server = await ServerProcess.start(args);
  try {
    await run(server);
  } finally {
    await server.stop();
  }
}
