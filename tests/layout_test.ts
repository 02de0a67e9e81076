/**
 * The layout is part of the design: the client never reaches into the
 * server's code, so `chat connect` can change without touching the server,
 * and what both need lives in `src/shared/` or `protocol.ts`.
 */

import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);

/** Relative imports of one file, resolved to paths from the project root. */
async function importsOf(path: string): Promise<string[]> {
  const source = await Deno.readTextFile(new URL(path, root));
  const found: string[] = [];
  for (const match of source.matchAll(/from\s+"(\.[^"]+)"/g)) {
    const url = new URL(match[1], new URL(path, root));
    found.push(url.pathname.slice(root.pathname.length));
  }
  return found;
}

/** The `.ts` files under a folder of the project, its subfolders included. */
async function filesUnder(folder: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(new URL(folder, root))) {
    if (entry.isDirectory) {
      files.push(...await filesUnder(`${folder}${entry.name}/`));
    } else if (entry.name.endsWith(".ts")) files.push(`${folder}${entry.name}`);
  }
  return files;
}

/** The terminal client and the web page (src/client/web/, the browser's). */
async function clientFiles(): Promise<string[]> {
  return ["client.ts", ...await filesUnder("src/client/")];
}

Deno.test("the client never imports server code", async () => {
  for (const file of await clientFiles()) {
    for (const target of await importsOf(file)) {
      assert.ok(
        !target.startsWith("src/server/") && target !== "server.ts",
        `${file} imports ${target}`,
      );
    }
  }
});

Deno.test("the web page is client code: the server embeds it built, never imports it", async () => {
  const page = await filesUnder("src/client/web/");
  assert.ok(page.includes("src/client/web/main.ts"));
  for (const file of await filesUnder("src/server/")) {
    for (const target of await importsOf(file)) {
      assert.ok(!target.startsWith("src/client/"), `${file} imports ${target}`);
    }
  }
});

Deno.test("shared code imports neither the client nor the server", async () => {
  for await (const entry of Deno.readDir(new URL("src/shared/", root))) {
    if (!entry.name.endsWith(".ts")) continue;
    const file = `src/shared/${entry.name}`;
    for (const target of await importsOf(file)) {
      assert.ok(
        target.startsWith("src/shared/") || target === "protocol.ts",
        `${file} imports ${target}`,
      );
    }
  }
});

Deno.test("a line door is one dialect module that reaches its socket only through DoorLink", async () => {
  const dialects = (await filesUnder("src/server/doors/")).filter((file) =>
    /_dialect(_door)?\.ts$/.test(file)
  );
  for (
    const door of [
      "irc/irc_dialect",
      "json/json_dialect",
      "text/text_dialect_door",
    ]
  ) {
    assert.ok(dialects.includes(`src/server/doors/${door}.ts`), door);
  }
  for (const file of dialects) {
    const source = await Deno.readTextFile(new URL(file, root));
    assert.match(source, /implements Dialect\b/, `${file} is no Dialect`);
    for (const target of await importsOf(file)) {
      assert.notEqual(
        target,
        "src/server/doors/connection.ts",
        `${file} imports the socket edge`,
      );
    }
  }
});

Deno.test("the README's file table names every source file, so a newcomer finds each part", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const start = readme.indexOf("## How it is built");
  const end = readme.indexOf("Where a new thing goes", start);
  assert.ok(start >= 0 && end > start, "README has its file table");
  const table = readme.slice(start, end);
  const sources = [
    "main.ts",
    "server.ts",
    "client.ts",
    "protocol.ts",
    ...await filesUnder("src/"),
  ];
  const unnamed = sources.filter((file) => {
    const name = file.slice(file.lastIndexOf("/") + 1);
    return !table.includes(`${name}\``);
  });
  assert.deepEqual(unnamed, [], "files missing from README's table");
});
