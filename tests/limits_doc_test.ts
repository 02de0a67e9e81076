/**
 * The README's "Limits and safety" table, `chat serve --help` and
 * src/shared/limits.ts say the same thing; docs/protocol.md lists every error code.
 */

import assert from "node:assert/strict";
import { ERROR_MESSAGES } from "../protocol.ts";
import {
  ADMISSION_LIMITS,
  BACKPRESSURE,
  COMPAT_LIMITS,
  FILE_LIMITS,
  MODERATION_LIMITS,
  PROTOCOL_LIMITS,
  SAFETY_TIMINGS,
  SERVE_DEFAULTS,
  WEB_LIMITS,
} from "../src/shared/limits.ts";
import { ROOT, runChat } from "./helpers.ts";

/** Each table row, by its limit name, and the value its default cell states. */
const EXPECTED: Record<string, { flag: string; value: number }> = {
  "message rate": { flag: "--rate", value: SERVE_DEFAULTS.rate },
  "burst": { flag: "--burst", value: SERVE_DEFAULTS.burst },
  "flooding": { flag: "--flood-seconds", value: SERVE_DEFAULTS.floodSeconds },
  "slow reader": { flag: "--max-queue", value: SERVE_DEFAULTS.maxQueueBytes },
  "slow reader, soft": {
    flag: "--soft-queue",
    value: SERVE_DEFAULTS.softQueueBytes,
  },
  "soft limit time": {
    flag: "--soft-queue-seconds",
    value: SERVE_DEFAULTS.softQueueSeconds,
  },
  "backpressure": {
    flag: "--backpressure-seconds",
    value: SERVE_DEFAULTS.backpressureSeconds,
  },
  "history reply": { flag: "fixed", value: PROTOCOL_LIMITS.maxHistoryBytes },
  "unread replies": { flag: "fixed", value: BACKPRESSURE.maxRepliesWaiting },
  "`who` reply": { flag: "fixed", value: PROTOCOL_LIMITS.maxWhoNames },
  "connections": { flag: "--max-clients", value: SERVE_DEFAULTS.maxClients },
  "rooms per member": {
    flag: "--max-rooms-per-member",
    value: SERVE_DEFAULTS.maxRoomsPerMember,
  },
  "rooms on the server": {
    flag: "--max-rooms",
    value: SERVE_DEFAULTS.maxRooms,
  },
  "hello deadline": {
    flag: "--handshake-seconds",
    value: SERVE_DEFAULTS.handshakeSeconds,
  },
  "IRC keepalive": {
    flag: "--ping-seconds",
    value: SERVE_DEFAULTS.pingSeconds,
  },
  "silent newcomer": {
    flag: "--first-bytes-seconds",
    value: SERVE_DEFAULTS.firstBytesSeconds,
  },
  "TLS handshake": {
    flag: "--handshake-seconds",
    value: SAFETY_TIMINGS.tlsHandshakeMaxMs / 1000,
  },
  "history age": { flag: "--keep-days", value: SERVE_DEFAULTS.keepDays },
  "history size": { flag: "--max-db-mb", value: SERVE_DEFAULTS.maxDbMb },
  "HTTP request head": { flag: "fixed", value: WEB_LIMITS.maxHeadBytes },
  "WebSocket message": { flag: "fixed", value: PROTOCOL_LIMITS.maxFrameBytes },
  "idle web connection": {
    flag: "fixed",
    value: WEB_LIMITS.keepAliveIdleMs / 1000,
  },
  "line length": { flag: "fixed", value: PROTOCOL_LIMITS.maxFrameBytes },
  "message length": { flag: "fixed", value: PROTOCOL_LIMITS.maxTextChars },
  "message lines": { flag: "fixed", value: PROTOCOL_LIMITS.maxTextLines },
  "@all calls": {
    flag: "--max-at-all-per-day",
    value: SERVE_DEFAULTS.maxAtAllPerDay,
  },
  "mentions": { flag: "fixed", value: PROTOCOL_LIMITS.maxMentions },
  "file size": {
    flag: "--max-file-size",
    value: SERVE_DEFAULTS.maxFileSize,
  },
  "files quota": { flag: "--files-quota", value: SERVE_DEFAULTS.filesQuota },
  "upload pace": {
    flag: "--uploads-per-minute",
    value: SERVE_DEFAULTS.uploadsPerMinute,
  },
  "upload token": { flag: "fixed", value: FILE_LIMITS.tokenSeconds },
  "file name": { flag: "fixed", value: FILE_LIMITS.maxNameChars },
  "search": { flag: "fixed", value: PROTOCOL_LIMITS.searchResults },
  "UDP replies": { flag: "fixed", value: COMPAT_LIMITS.udpSendRate },
  "UDP first reply": {
    flag: "fixed",
    value: COMPAT_LIMITS.udpFirstReplyFactor,
  },
  "connections from one address": {
    flag: "--max-per-address",
    value: SERVE_DEFAULTS.maxPerAddress,
  },
  "still joining": {
    flag: "--max-unauth-per-address",
    value: SERVE_DEFAULTS.maxUnauthPerAddress,
  },
  "new connections": {
    flag: "--connects-per-second",
    value: SERVE_DEFAULTS.connectsPerSecond,
  },
  "joins": {
    flag: "--hellos-per-second",
    value: SERVE_DEFAULTS.hellosPerSecond,
  },
  "password guesses": {
    flag: "fixed",
    value: ADMISSION_LIMITS.passwordChecksPerSecond,
  },
  "open files": { flag: "fixed", value: ADMISSION_LIMITS.spareOpenFiles },
  "mute length": {
    flag: "fixed",
    value: MODERATION_LIMITS.defaultMuteMs / 60_000,
  },
  "recall window": {
    flag: "fixed",
    value: MODERATION_LIMITS.recallWindowMs / 60_000,
  },
  "account password": {
    flag: "fixed",
    value: MODERATION_LIMITS.minPasswordChars,
  },
  "pinned notice": { flag: "fixed", value: MODERATION_LIMITS.maxNoticeChars },
  "kick or ban reason": {
    flag: "fixed",
    value: MODERATION_LIMITS.maxReasonChars,
  },
  "ban list": { flag: "fixed", value: MODERATION_LIMITS.bansListed },
  "recalled quotes": {
    flag: "fixed",
    value: MODERATION_LIMITS.recallQuoteScanRows,
  },
};

/** Further numbers a row's default cell states, beside its main value. */
const ALSO_STATED: Record<string, number[]> = {
  "new connections": [
    SERVE_DEFAULTS.connectsPerSecond * ADMISSION_LIMITS.connectBurstSeconds,
  ],
  "joins": [ADMISSION_LIMITS.helloBurst],
  "search": [PROTOCOL_LIMITS.searchScanRows],
  "history reply": [
    PROTOCOL_LIMITS.maxResumeHistory,
    PROTOCOL_LIMITS.historyBudgetMs,
  ],
  "files quota": [SERVE_DEFAULTS.memoryFilesQuota],
  "upload pace": [FILE_LIMITS.maxPendingPerMember],
  "upload token": [FILE_LIMITS.uploadIdleMs / 1000],
  "mute length": [MODERATION_LIMITS.maxDurationMs / 86_400_000],
  "account password": [MODERATION_LIMITS.maxPasswordChars],
  "password guesses": [
    ADMISSION_LIMITS.passwordBackoffStartMs / 1000,
    ADMISSION_LIMITS.passwordBackoffMaxMs / 1000,
  ],
};

/** Every row of the tables in the README's "Limits and safety" section. */
function limitsTable(readme: string): Map<string, string[]> {
  const section = readme.split(/^## /m).find((s) =>
    s.startsWith("Limits and safety")
  );
  assert.ok(section, 'README has a "Limits and safety" section');
  const rows = new Map<string, string[]>();
  for (const line of section.split("\n")) {
    if (!line.startsWith("|") || line.startsWith("| ---")) continue;
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    if (cells[0] !== "limit") rows.set(cells[0], cells);
  }
  return rows;
}

Deno.test("the README's limits table states the defaults of src/shared/limits.ts", async () => {
  const rows = limitsTable(await Deno.readTextFile(`${ROOT}README.md`));
  for (const [name, { flag, value }] of Object.entries(EXPECTED)) {
    const row = rows.get(name);
    assert.ok(row, `a row for "${name}"`);
    const [, flagCell, defaultCell, clientSees] = row;
    assert.equal(flagCell.replaceAll("`", ""), flag, `flag of "${name}"`);
    for (const stated of [value, ...ALSO_STATED[name] ?? []]) {
      assert.match(defaultCell, new RegExp(`(^|\\D)${stated}(\\D|$)`), name);
    }
    assert.ok(clientSees.length > 0, `"${name}" says what the client sees`);
  }
});

/** README rows whose default is a word, not a number (checked by their own tests). */
const WITHOUT_A_NUMBER = new Set([
  "password",
  "full disk",
  "reconnecting",
  "bytes that are not text",
  "control characters",
  "look-alike nicknames",
  "invisible nicknames",
  "vanished peers",
]);

Deno.test("every row of the README's limits tables is checked against src/shared/limits.ts, or states no number", async () => {
  const rows = limitsTable(await Deno.readTextFile(`${ROOT}README.md`));
  for (const name of rows.keys()) {
    assert.ok(
      name in EXPECTED || WITHOUT_A_NUMBER.has(name),
      `"${name}" has its number checked here`,
    );
  }
  for (const name of WITHOUT_A_NUMBER) {
    assert.ok(rows.has(name), `a row for "${name}"`);
  }
});

Deno.test("chat serve --help documents every limit flag with its default", async () => {
  const help = await runChat(["serve", "--help"]);
  assert.equal(help.code, 0);
  const rows = limitsTable(await Deno.readTextFile(`${ROOT}README.md`));
  const tableFlags = new Set(
    [...rows.values()].map((r) => r[1].replaceAll("`", "")).filter((f) =>
      f.startsWith("--")
    ),
  );
  for (const flag of [...tableFlags, "--tls-cert", "--tls-key"]) {
    assert.match(help.stdout, new RegExp(`^  ${flag} `, "m"), flag);
  }
  for (const { flag, value } of Object.values(EXPECTED)) {
    if (flag === "fixed" || value === SAFETY_TIMINGS.tlsHandshakeMaxMs / 1000) {
      continue;
    }
    const entry = help.stdout.slice(help.stdout.indexOf(`  ${flag} `));
    const nextFlag = entry.slice(1).search(/\n {2}-/);
    assert.match(
      entry.slice(0, nextFlag === -1 ? undefined : nextFlag + 1),
      new RegExp(`\\(default ${value}\\)`),
      `${flag} shows its default`,
    );
  }
  // Every flag of the help's "Limits:" and "Per address" parts is in a table.
  for (const heading of ["\nLimits:\n", "\nPer address"]) {
    const part = help.stdout.split(heading)[1]?.split("\n\n")[0] ?? "";
    assert.ok(part.length > 0, `the help has ${JSON.stringify(heading)}`);
    for (const match of part.matchAll(/^ {2}(--[a-z-]+)/gm)) {
      assert.ok(tableFlags.has(match[1]), `${match[1]} is in a README table`);
    }
  }
});

Deno.test("the help and docs/protocol.md state the per-address numbers of src/shared/limits.ts", async () => {
  const help = (await runChat(["serve", "--help"])).stdout;
  const doc = await Deno.readTextFile(`${ROOT}docs/protocol.md`);
  const security = doc.split(/^## /m).find((s) => s.startsWith("Security"));
  assert.ok(security, "docs/protocol.md has a Security section");
  for (
    const flag of [
      "--max-per-address",
      "--max-unauth-per-address",
      "--connects-per-second",
      "--hellos-per-second",
    ]
  ) {
    assert.ok(security.includes(`\`${flag}\``), `Security names ${flag}`);
  }
  for (
    const [what, value] of [
      ["password checks a second", ADMISSION_LIMITS.passwordChecksPerSecond],
      ["backoff start (s)", ADMISSION_LIMITS.passwordBackoffStartMs / 1000],
      ["backoff most (s)", ADMISSION_LIMITS.passwordBackoffMaxMs / 1000],
      ["hello burst", ADMISSION_LIMITS.helloBurst],
    ] as const
  ) {
    const number = new RegExp(`(^|\\D)${value}(\\D|$)`);
    assert.match(help.split("\nPer address")[1] ?? "", number, `help: ${what}`);
    assert.match(security, number, `protocol.md: ${what}`);
  }
});

Deno.test("docs/protocol.md lists every error code", async () => {
  const doc = await Deno.readTextFile(`${ROOT}docs/protocol.md`);
  for (const code of Object.keys(ERROR_MESSAGES)) {
    assert.match(doc, new RegExp(`^\\| \`${code}\` `, "m"), code);
  }
});
