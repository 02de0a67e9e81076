/**
 * The door router against the real server: each kind of client is told
 * apart by its first bytes, before the server says anything.
 */

import assert from "node:assert/strict";
import { TestClient, withServer } from "./helpers.ts";

Deno.test("a JSON hello sent at once is answered by welcome, with no banner before it", async () => {
  await withServer(async (server) => {
    const client = await TestClient.connect(server.port);
    client.send({ type: "hello", nick: "bot" });
    const first = JSON.parse(await client.nextLine());
    assert.equal(first.type, "welcome");
    assert.equal(first.nick, "bot");
    await client.close();
  });
});

Deno.test("a silent nc user gets the banner within a fifth of a second or so", async () => {
  await withServer(async (server) => {
    const client = await TestClient.connect(server.port);
    const started = Date.now();
    assert.match(await client.nextLine(), /^Welcome to chat .*nickname:$/);
    const waited = Date.now() - started;
    assert.ok(
      waited >= 150,
      `banner after ${waited} ms: the router waits first`,
    );
    assert.ok(waited < 3000, `banner after ${waited} ms`);
    client.write("carol\n");
    await client.waitForLine("Welcome, carol!");
    await client.close();
  });
});

Deno.test("a text user who types before the banner still gets it, then their welcome", async () => {
  await withServer(async (server) => {
    const client = await TestClient.connect(server.port);
    client.write("dave\n");
    assert.match(await client.nextLine(), /^Welcome to chat /);
    await client.waitForLine("Welcome, dave!");
    await client.close();
  });
});

Deno.test("an HTTP request gets an HTTP answer, never the chat banner", async () => {
  await withServer(async (server) => {
    const client = await TestClient.connect(server.port);
    client.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    const status = await client.nextLine();
    assert.match(status, /^HTTP\/1\.1 \d{3} /);
    let rest = "";
    while (!(await client.waitClosed(50))) {
      try {
        rest += (await client.nextLine(2000)) + "\n";
      } catch {
        break;
      }
    }
    assert.ok(!rest.includes("Please choose a nickname"), rest);
    await client.close();
  });
});

Deno.test("an HTTP request split across writes is still HTTP", async () => {
  await withServer(async (server) => {
    const client = await TestClient.connect(server.port);
    await client.writeAll("GE");
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.write("T / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert.match(await client.nextLine(), /^HTTP\/1\.1 \d{3} /);
    await client.close();
  });
});

Deno.test("an IRC registration is answered in IRC: 001 first, then the lobby's JOIN", async () => {
  await withServer(async (server) => {
    // chat serve says how to join from an IRC client.
    assert.match(
      server.startup,
      new RegExp(`/connect 127\\.0\\.0\\.1 ${server.port} `),
    );
    const client = await TestClient.connect(server.port);
    client.write("NICK erin\r\nUSER erin 0 * :Erin\r\n");
    assert.match(await client.nextLine(), /^:chat 001 erin :Welcome/);
    await client.waitForLine(/^:erin!erin@chat JOIN #lobby\r?$/);
    await client.close();
  });
});

Deno.test("after a page load from an address, its silent socket waits for a late request instead of getting the banner", async () => {
  await withServer(async (server) => {
    const page = await TestClient.connect(server.port);
    page.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert.match(await page.nextLine(), /^HTTP\/1\.1 200 /);
    await page.close();
    // A preconnected socket: the request comes a second later.
    const early = await TestClient.connect(server.port);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    early.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert.match(await early.nextLine(), /^HTTP\/1\.1 200 /);
    await early.close();
  });
});
