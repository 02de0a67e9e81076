/**
 * Whether the kernel holds bytes a TCP connection's peer sent that the
 * server has not read yet: Linux's `/proc/net/tcp` (and `tcp6`) shows each
 * socket's receive queue.
 *
 * The door router asks before it takes a connection for a silent one. Deno
 * offers no way to peek at a socket, and on a server busy with a burst of
 * connections it can hand over a socket's first read seconds after the
 * bytes arrived (src/server/doors/peer_silence.ts); the kernel knows at
 * once. Elsewhere (macOS, Windows, no permission to read `/proc`) the
 * answer is "unknown" and the router falls back on its round trips.
 *
 * One scan of the table serves everyone who asked before it began; those
 * who ask during a scan wait for the next, so an answer is never older
 * than the question.
 *
 * @module
 */

/** A connection's two ends, as `Deno.Conn` gives them. */
export interface ConnEnds {
  localAddr: Deno.Addr;
  remoteAddr: Deno.Addr;
}

/** Receive-queue sizes by connection, `local remote` in /proc's hex form. */
type Scan = Map<string, number>;

/** Reads the kernel's TCP tables; `undefined` when they cannot be read. */
export type TableReader = () => Promise<string[] | undefined>;

const TABLES = ["/proc/net/tcp", "/proc/net/tcp6"];

async function readProcTables(): Promise<string[] | undefined> {
  if (Deno.build.os !== "linux") return undefined;
  try {
    return await Promise.all(TABLES.map((path) => Deno.readTextFile(path)));
  } catch {
    return undefined;
  }
}

/** The kernel's view of what waits unread in the server's sockets. */
export class WaitingBytes {
  #read: TableReader;
  /** Off once the tables could not be read: no use trying each time. */
  #available = true;
  #scanning: Promise<Scan | undefined> | undefined;
  #next: PromiseWithResolvers<Scan | undefined> | undefined;

  /** @param read how the tables are read (tests give their own). */
  constructor(read: TableReader = readProcTables) {
    this.#read = read;
  }

  /**
   * True when bytes from the peer wait unread in the kernel, false when
   * none do, `undefined` when the kernel cannot tell (not Linux, no
   * permission, or the connection is not in the table).
   */
  async waiting(conn: ConnEnds): Promise<boolean | undefined> {
    const key = connectionKey(conn);
    if (key === undefined || !this.#available) return undefined;
    const scan = await this.#scan();
    const bytes = scan?.get(key);
    return bytes === undefined ? undefined : bytes > 0;
  }

  #scan(): Promise<Scan | undefined> {
    if (!this.#next) {
      this.#next = Promise.withResolvers();
      // Those who ask in the same turn share the scan.
      if (!this.#scanning) queueMicrotask(() => this.#start());
    }
    return this.#next.promise;
  }

  #start(): void {
    const waiting = this.#next!;
    this.#next = undefined;
    this.#scanning = this.#read().then((tables) => {
      if (tables === undefined) {
        this.#available = false;
        return undefined;
      }
      return parseTables(tables);
    }, () => undefined);
    this.#scanning.then((scan) => {
      this.#scanning = undefined;
      waiting.resolve(scan);
      if (this.#next) queueMicrotask(() => this.#start());
    });
  }
}

/**
 * Every socket's receive queue in `/proc/net/tcp`-format tables: the key
 * is the local and remote address as the table writes them
 * (`0100007F:1E61 0100007F:D431`), the value the `rx_queue` in bytes.
 */
export function parseTables(tables: readonly string[]): Scan {
  const scan: Scan = new Map();
  for (const table of tables) {
    let at = table.indexOf("\n") + 1; // The header line.
    while (at > 0 && at < table.length) {
      const end = table.indexOf("\n", at);
      const line = table.slice(at, end === -1 ? table.length : end);
      at = end === -1 ? table.length : end + 1;
      // `   0: LOCAL REMOTE ST TX:RX …`
      const fields = line.trim().split(/\s+/, 5);
      if (fields.length < 5) continue;
      const queues = fields[4];
      const colon = queues.indexOf(":");
      if (colon === -1) continue;
      const rx = parseInt(queues.slice(colon + 1), 16);
      if (Number.isNaN(rx)) continue;
      scan.set(`${fields[1]} ${fields[2]}`, rx);
    }
  }
  return scan;
}

/**
 * A connection's key as the tables write it, or `undefined` for one that
 * is not TCP over IPv4 or IPv6. Addresses are in the machine's byte order,
 * 32 bits at a time (little-endian on every machine Deno runs Linux on);
 * ports in hex, big-endian.
 */
export function connectionKey(conn: ConnEnds): string | undefined {
  const local = procAddress(conn.localAddr);
  const remote = procAddress(conn.remoteAddr);
  return local && remote ? `${local} ${remote}` : undefined;
}

function procAddress(addr: Deno.Addr): string | undefined {
  if (addr.transport !== "tcp") return undefined;
  const port = hex(addr.port, 4);
  const v4 = ipv4Bytes(addr.hostname);
  if (v4) return `${littleEndianWords(v4)}:${port}`;
  const v6 = ipv6Bytes(addr.hostname);
  if (!v6) return undefined;
  return `${littleEndianWords(v6)}:${port}`;
}

function hex(value: number, digits: number): string {
  return value.toString(16).toUpperCase().padStart(digits, "0");
}

/** The bytes, 32 bits at a time, each word written least significant byte first. */
function littleEndianWords(bytes: readonly number[]): string {
  let text = "";
  for (let word = 0; word < bytes.length; word += 4) {
    for (let i = 3; i >= 0; i--) text += hex(bytes[word + i], 2);
  }
  return text;
}

function ipv4Bytes(hostname: string): number[] | undefined {
  const parts = hostname.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = parts.map(Number);
  return bytes.every((b, i) => /^\d{1,3}$/.test(parts[i]) && b <= 255)
    ? bytes
    : undefined;
}

function ipv6Bytes(hostname: string): number[] | undefined {
  let text = hostname.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (!text.includes(":")) return undefined;
  // An IPv4 tail (`::ffff:127.0.0.1`) is the last two groups.
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = ipv4Bytes(v4[2]);
    if (!b) return undefined;
    text = `${v4[1]}${hex((b[0] << 8) | b[1], 1)}:${
      hex((b[2] << 8) | b[3], 1)
    }`;
  }
  let groups: string[];
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  if (halves.length === 2) {
    const left = halves[0] === "" ? [] : halves[0].split(":");
    const right = halves[1] === "" ? [] : halves[1].split(":");
    if (left.length + right.length > 7) return undefined;
    const zeros = Array(8 - left.length - right.length).fill("0");
    groups = [...left, ...zeros, ...right];
  } else groups = text.split(":");
  if (groups.length !== 8) return undefined;
  const bytes: number[] = [];
  for (const group of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    const value = parseInt(group, 16);
    bytes.push(value >> 8, value & 0xff);
  }
  return bytes;
}
