/**
 * Durations as people type them (`30s`, `10m`, `2h`, `7d`) and as the room
 * reads them ("10 minutes"). Pure.
 *
 * @module
 */

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Reads `N` followed by `s`, `m`, `h` or `d` into milliseconds; a bare
 * number is minutes. `undefined` for anything else.
 *
 * @example
 * ```ts
 * parseDuration("10m"); // → 600000
 * parseDuration("2s"); // → 2000
 * ```
 */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,7})([smhd]?)$/i.exec(text.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  if (amount === 0) return undefined;
  return amount * UNIT_MS[(match[2] || "m").toLowerCase()];
}

/** True when `text` reads as a duration (so `/ban bob spam` has no duration). */
export function isDuration(text: string): boolean {
  return parseDuration(text) !== undefined;
}

/**
 * A duration in words, in its largest whole unit: "2 seconds", "10 minutes",
 * "1 hour", "7 days". A time left that rounds up to the next unit reads in
 * it: 59 minutes 59 seconds is "1 hour", not "60 minutes".
 */
export function formatDuration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, "day"],
    [3_600_000, "hour"],
    [60_000, "minute"],
    [1000, "second"],
  ];
  for (const [index, [size, name]] of units.entries()) {
    if (ms >= size) {
      const count = Math.round(ms / size);
      const larger = units[index - 1];
      if (larger && count * size >= larger[0]) {
        return formatDuration(larger[0] * Math.round(count * size / larger[0]));
      }
      return `${count} ${name}${count === 1 ? "" : "s"}`;
    }
  }
  return "a moment";
}
