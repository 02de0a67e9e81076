/**
 * CPU time from /proc, for the benchmark's "server CPU", "load generator CPU"
 * and "other CPU" columns. Where /proc is missing every figure is 0.
 *
 * @module
 */

/** CPU seconds (user + system) a process has used, from /proc (0 when unknown). */
export function cpuSeconds(pid: number | "self"): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces) start at ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds the whole machine spent busy, from /proc/stat. */
export function machineBusySeconds(): number {
  try {
    const fields = Deno.readTextFileSync("/proc/stat").split("\n")[0]
      .split(/\s+/).slice(1, 9).map(Number);
    const idle = fields[3] + fields[4];
    return (fields.reduce((a, b) => a + b, 0) - idle) / 100;
  } catch {
    return 0;
  }
}
