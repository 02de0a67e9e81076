/**
 * Helpers for the hostile-input, load and TLS tests: memory of the server
 * process, unsafe-character checks, a text-dialect client, certificates.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ServerProcess, TestClient } from "./helpers.ts";

/** Resident memory of a process in KiB, from /proc (undefined elsewhere). */
export function rssKiB(pid: number): number | undefined {
  return procStatusKiB(pid, "VmRSS");
}

/** Peak resident memory of a process in KiB, from /proc. */
export function peakRssKiB(pid: number): number | undefined {
  return procStatusKiB(pid, "VmHWM");
}

function procStatusKiB(pid: number, field: string): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The timer column of the server's end of a TCP connection, from /proc. */
export function serverSocketTimer(
  serverPort: number,
  clientPort: number,
): string | undefined {
  return serverSocketFields(serverPort, clientPort)?.[5]?.split(":")[0];
}

/**
 * Bytes the kernel holds unsent (or unacknowledged) on the server's end of
 * a TCP connection, from /proc: what a client that does not read has left
 * in the server's send buffer.
 */
export function serverSendQueue(
  serverPort: number,
  clientPort: number,
): number | undefined {
  const queues = serverSocketFields(serverPort, clientPort)?.[4];
  return queues === undefined ? undefined : parseInt(queues.split(":")[0], 16);
}

/**
 * Bytes the kernel holds that the server has not read yet on its end of a
 * TCP connection, from /proc: requests a server that stopped reading a
 * client left in its socket.
 */
export function serverReceiveQueue(
  serverPort: number,
  clientPort: number,
): number | undefined {
  const queues = serverSocketFields(serverPort, clientPort)?.[4];
  return queues === undefined ? undefined : parseInt(queues.split(":")[1], 16);
}

/** The /proc/net/tcp row of the server's end of a connection, split. */
function serverSocketFields(
  serverPort: number,
  clientPort: number,
): string[] | undefined {
  const hex = (port: number) =>
    port.toString(16).toUpperCase().padStart(4, "0");
  let table: string;
  try {
    table = Deno.readTextFileSync("/proc/net/tcp");
  } catch {
    return undefined;
  }
  for (const line of table.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (
      fields[1]?.endsWith(`:${hex(serverPort)}`) &&
      fields[2]?.endsWith(`:${hex(clientPort)}`)
    ) {
      return fields;
    }
  }
  return undefined;
}

// Everything the server promises never to pass from one user to another:
// C0 controls (tab included: it becomes a space), DEL, C1 controls, and the
// bidi embeddings, overrides and isolates.
// deno-lint-ignore no-control-regex
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

/** Fails if `text` holds a character the server must have removed. */
export function assertSafe(text: string, what: string): void {
  const match = text.match(UNSAFE);
  assert.equal(
    match,
    null,
    `${what} holds U+${
      match?.[0].codePointAt(0)?.toString(16).padStart(4, "0")
    }: ${JSON.stringify(text)}`,
  );
}

/** Connects in the text dialect (as `nc` would) and picks `nick`. */
export async function joinText(
  port: number,
  nick: string,
): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.nextLine(); // banner
  client.write(`${nick}\n`);
  await client.waitForLine(`Welcome, ${nick}!`);
  return client;
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when the `openssl` command runs here. */
export async function hasOpenssl(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("openssl", {
      args: ["version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/**
 * Makes a self-signed certificate for localhost, 127.0.0.1 and ::1 in `dir`.
 * It is not a CA (rustls refuses a CA certificate as a server's own), so a
 * client trusts it by naming the same file with `--ca`.
 */
export async function makeSelfSignedCert(
  dir: string,
): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/cert.pem`;
  const key = `${dir}/key.pem`;
  const { success, stderr } = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`openssl failed: ${new TextDecoder().decode(stderr)}`);
  }
  return { cert, key };
}

/**
 * Waits until the server's log matches `pattern`: its stderr is read on its
 * own schedule, so a line can arrive after the socket event that followed it.
 */
export async function waitForLog(
  server: ServerProcess,
  pattern: RegExp,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(server.log)) {
    if (Date.now() > deadline) {
      assert.fail(`the server log never matched ${pattern}:\n${server.log}`);
    }
    await sleep(20);
  }
}
