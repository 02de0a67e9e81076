/**
 * Builds the single `chat` executable with `deno compile`, for this machine
 * or for every supported target (`--all`).
 *
 * The permissions baked in are the ones chat needs: the network, reading and
 * writing its database file, environment (NO_COLOR, TERM) and the network
 * interface list (to print the addresses to share).
 *
 * @module
 */

/** The permission flags baked into the binary. */
export const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys=networkInterfaces,hostname",
];

/** Targets of `deno task compile:all`, with their output names. */
export const TARGETS = [
  { target: "x86_64-unknown-linux-gnu", output: "chat-linux-x64" },
  { target: "aarch64-unknown-linux-gnu", output: "chat-linux-arm64" },
  { target: "x86_64-apple-darwin", output: "chat-macos-x64" },
  { target: "aarch64-apple-darwin", output: "chat-macos-arm64" },
  { target: "x86_64-pc-windows-msvc", output: "chat-windows-x64.exe" },
];

const root = new URL("../", import.meta.url).pathname;

/** Runs one `deno compile`; returns its exit code and stderr. */
export async function compile(
  output: string,
  target?: string,
): Promise<{ code: number; stderr: string }> {
  const args = [
    "compile",
    ...PERMISSIONS,
    ...(target ? ["--target", target] : []),
    "--output",
    output,
    `${root}main.ts`,
  ];
  const result = await new Deno.Command(Deno.execPath(), {
    args,
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdout: "inherit",
    stderr: "piped",
  }).output();
  return { code: result.code, stderr: new TextDecoder().decode(result.stderr) };
}

/** One line saying why a compile failed, for the user. */
export function compileFailure(stderr: string): string {
  if (
    /dns error|failed to lookup|error sending request|Download/i.test(stderr)
  ) {
    return "deno compile could not download its runtime base (denort) on this machine: no network";
  }
  return stderr.trim().split("\n").find((l) => /error/i.test(l)) ??
    stderr.trim().split("\n")[0] ?? "unknown error";
}

if (import.meta.main) {
  const all = Deno.args.includes("--all");
  const jobs = all
    ? TARGETS.map((t) => ({
      target: t.target,
      output: `${root}dist/${t.output}`,
    }))
    : [{ target: undefined, output: `${root}dist/chat` }];
  let failed = 0;
  for (const job of jobs) {
    const { code, stderr } = await compile(job.output, job.target);
    if (code === 0) {
      console.log(`built ${job.output}`);
    } else {
      failed++;
      console.error(
        `chat: cannot build ${job.target ?? "this machine"}: ${
          compileFailure(stderr)
        }`,
      );
    }
  }
  Deno.exit(failed === 0 ? 0 : 1);
}
