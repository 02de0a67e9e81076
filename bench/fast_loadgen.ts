/**
 * The load generator `bench/run.ts` starts: the C one (bench/loadgen.c),
 * compiled here with the machine's `cc` into a temporary folder, or, without
 * a compiler, `bench/load.ts`.
 *
 * Both count the same way and print the same JSON line. The C one exists
 * because one Deno process on one core cannot read as fast as chat writes:
 * with 1,000 members load.ts was the bottleneck, and had to hold the senders
 * back to what it could read (its shared backlog bound), so a server that
 * could not keep up with fast readers was never shown to be one.
 *
 * @module
 */

import { ROOT, which } from "./targets.ts";

/** How the benchmark runs its load generator. */
export interface LoadGenerator {
  /** `c` or `deno`. */
  kind: "c" | "deno";
  /** For the legend: what it is, and why the Deno one if so. */
  description: string;
  /** The command line, before the scenario's flags. */
  command: string[];
  /**
   * Unread copies the senders may have outstanding in all, passed as
   * `--backlog` (0: no bound, the senders go as fast as their own echoes
   * come back); `undefined` leaves the generator's default.
   */
  backlog?: number;
  /** Removes what was built. */
  dispose(): Promise<void>;
}

/** The Deno load generator: no compiler needed, but slower than chat. */
function denoLoadGenerator(why: string): LoadGenerator {
  return {
    kind: "deno",
    description: `bench/load.ts (one Deno process; ${why}), ` +
      "senders held to what it can read",
    command: [Deno.execPath(), "run", "--allow-all", `${ROOT}bench/load.ts`],
    // load.ts's own bound: four windows, at most 4,000 unread copies.
    backlog: undefined,
    dispose: () => Promise.resolve(),
  };
}

/**
 * Compiles bench/loadgen.c with `cc` (or `$CC`); falls back to load.ts, and
 * says why, when there is no compiler or the build fails. `prefer` "deno"
 * skips the build.
 */
export async function loadGenerator(
  prefer: "c" | "deno",
): Promise<LoadGenerator> {
  if (prefer === "deno") return denoLoadGenerator("--loadgen deno");
  const cc = which(Deno.env.get("CC") ?? "cc") ?? which("gcc") ??
    which("clang");
  if (!cc) return denoLoadGenerator("no C compiler (cc) on PATH");
  const dir = await Deno.makeTempDir({ prefix: "chat_loadgen_" });
  const binary = `${dir}/loadgen`;
  const out = await new Deno.Command(cc, {
    args: ["-O2", "-o", binary, `${ROOT}bench/loadgen.c`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    const error = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    return denoLoadGenerator(`cc failed: ${error.slice(0, 120)}`);
  }
  return {
    kind: "c",
    description: `bench/loadgen.c (C, epoll, one thread; built with ${cc}), ` +
      "senders flat out",
    command: [binary],
    backlog: 0,
    dispose: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}
