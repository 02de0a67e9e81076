/**
 * Files and pictures against the real server: an upload is asked for in the
 * JSON dialect, its bytes go up with `PUT /upload/TOKEN`, the room gets a
 * message with a link, and `GET /f/ID/NAME` serves the bytes back, in a way
 * that cannot run script.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { RoomMessage } from "../protocol.ts";
import { runChat, ServerProcess, tempDir, TestClient } from "./helpers.ts";
import {
  askRefused,
  askUpload,
  exchange,
  folderContents,
  get,
  pdfBytes,
  pngBytes,
  put,
  sha256,
  shareBytes,
} from "./file_helpers.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

Deno.test("a PNG picture and a PDF go up and come down byte for byte, also after a restart; the picture shows inline, the PDF is an attachment", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/class.db`;
  let server = await ServerProcess.start(["--db", db, "--rate", "0"]);
  const png = pngBytes(300_000);
  const pdf = pdfBytes(1_200_000);
  try {
    const alice = await TestClient.join(server.port, "alice");
    const bob = await TestClient.join(server.port, "bob");
    const picture = await shareBytes(
      server.port,
      alice.client,
      "作业 page 1.png",
      png,
      "image/png",
    );
    assert.equal(picture.from, "alice");
    assert.deepEqual(
      { ...picture.file, id: "" },
      {
        id: "",
        name: "作业 page 1.png",
        size: png.length,
        mime: "image/png",
        url: `/f/${picture.file!.id}/${encodeURIComponent("作业 page 1.png")}`,
        inline: true,
      },
    );
    assert.match(picture.file!.id, /^[a-z0-9]{12}$/);
    assert.equal(
      picture.text,
      `📎 作业 page 1.png (293 KB) http://127.0.0.1:${server.port}${
        picture.file!.url
      }`,
    );
    // Bob, in the room, gets the same message.
    const seen = await bob.client.waitFor((e) =>
      e.type === "msg" && e.file !== undefined
    ) as RoomMessage;
    assert.deepEqual(seen, picture);

    const shown = await get(server.port, picture.file!.url);
    assert.equal(shown.status, 200);
    assert.equal(await sha256(shown.body), await sha256(png));
    assert.equal(shown.headers.get("content-type"), "image/png");
    assert.equal(shown.headers.get("x-content-type-options"), "nosniff");
    assert.equal(
      shown.headers.get("content-security-policy"),
      "default-src 'none'; sandbox",
    );
    assert.equal(
      shown.headers.get("content-disposition"),
      `inline; filename="__ page 1.png"; filename*=UTF-8''${
        encodeURIComponent("作业 page 1.png")
      }`,
    );

    const document = await shareBytes(
      server.port,
      bob.client,
      "notes.pdf",
      pdf,
      "application/pdf",
    );
    assert.equal(document.file!.mime, "application/pdf");
    assert.equal(document.file!.inline, undefined);
    const fetched = await get(server.port, document.file!.url);
    assert.equal(fetched.status, 200);
    assert.equal(await sha256(fetched.body), await sha256(pdf));
    assert.equal(
      fetched.headers.get("content-type"),
      "application/octet-stream",
    );
    assert.match(
      fetched.headers.get("content-disposition")!,
      /^attachment; filename="notes\.pdf"/,
    );
    // HEAD: the headers alone; /f/ID without the name works too.
    const head = await get(server.port, `/f/${document.file!.id}`, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(pdf.length));
    assert.equal(head.body.length, 0);
    // Another name for the same id is not the file.
    const wrongName = await get(server.port, `/f/${document.file!.id}/x.pdf`);
    assert.equal(wrongName.status, 404);

    // Stored beside the database: two files, their exact bytes.
    const folder = await folderContents(`${dir.path}/files`);
    assert.deepEqual(
      folder.names,
      [picture.file!.id, document.file!.id].sort(),
    );
    assert.equal(folder.bytes, png.length + pdf.length);
    await alice.client.close();
    await bob.client.close();

    // A restart keeps the files and their messages.
    await server.stop();
    server = await ServerProcess.start(["--db", db]);
    const carol = await TestClient.join(server.port, "carol");
    const history = carol.welcome.history.filter((m) => m.file);
    assert.deepEqual(history.map((m) => m.file!.id), [
      picture.file!.id,
      document.file!.id,
    ]);
    const again = await get(server.port, picture.file!.url);
    assert.equal(await sha256(again.body), await sha256(png));
    await carol.client.close();
  } finally {
    await server.stop();
    await dir.remove();
  }
});

Deno.test("an upload over the limits is refused before a byte is stored: too large, over the quota, a Content-Length that is not the announced size, or none; the folder and the quota stay as they were", async () => {
  const dir = await tempDir();
  const server = await ServerProcess.start([
    "--db",
    `${dir.path}/chat.db`,
    "--rate",
    "0",
    "--max-file-size",
    "1000",
    "--files-quota",
    "2500",
  ]);
  try {
    const { client } = await TestClient.join(server.port, "alice");
    const tooLarge = await askRefused(client, { name: "big.bin", size: 1001 });
    assert.equal(tooLarge.code, "file_too_large");
    assert.match(tooLarge.message, /big\.bin is 1001 bytes/);
    assert.match(tooLarge.message, /up to 1000 bytes/);

    const one = new Uint8Array(1000).fill(1);
    await shareBytes(server.port, client, "one.bin", one, "");
    await shareBytes(server.port, client, "two.bin", one, "");
    const stored = await folderContents(`${dir.path}/files`);
    assert.equal(stored.bytes, 2000);

    const full = await askRefused(client, { name: "three.bin", size: 1000 });
    assert.equal(full.code, "files_quota_full");
    assert.match(full.message, /\(2 KB of 2\.4 KB used, --files-quota\)/);

    // A granted upload whose Content-Length differs: 413 before the body.
    const ready = await askUpload(client, { name: "small.bin", size: 400 });
    const mismatch = await exchange(
      server.port,
      `PUT ${ready.url} HTTP/1.1\r\nHost: x\r\nContent-Length: 401`,
      undefined,
      "never",
    );
    assert.equal(mismatch.status, 413);
    assert.equal(
      decoder.decode(mismatch.body),
      "Payload Too Large: Content-Length 401 is not the 400 bytes the upload announced\n",
    );
    // Over the per-file limit, announced or not: 413 at once.
    const ready2 = await askUpload(client, { name: "small.bin", size: 400 });
    const over = await exchange(
      server.port,
      `PUT ${ready2.url} HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000`,
      undefined,
      "never",
    );
    assert.equal(over.status, 413);
    assert.match(decoder.decode(over.body), /over this server's 1000 bytes/);
    // No Content-Length (a chunked body): 411.
    const ready3 = await askUpload(client, { name: "small.bin", size: 400 });
    const chunked = await exchange(
      server.port,
      `PUT ${ready3.url} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked`,
      undefined,
      "never",
    );
    assert.equal(chunked.status, 411);
    // A token never given: 404; one refused above is spent: 410.
    const unknown = await put(server.port, "/upload/abcdefgh", one);
    assert.equal(unknown.status, 404);
    const spent = await put(server.port, ready.url, new Uint8Array(400));
    assert.equal(spent.status, 410);

    // Nothing of the refused uploads was kept, not even a temporary file…
    assert.deepEqual(await folderContents(`${dir.path}/files`), stored);
    // …and the quota they held was given back: exactly 500 bytes still fit.
    await shareBytes(server.port, client, "last.bin", new Uint8Array(500), "");
    assert.equal((await folderContents(`${dir.path}/files`)).bytes, 2500);
    const nothingLeft = await askRefused(client, { name: "b.bin", size: 1 });
    assert.equal(nothingLeft.code, "files_quota_full");
    await client.close();
  } finally {
    await server.stop();
    await dir.remove();
  }
});

Deno.test("a file link cannot run script: HTML and SVG are octet-stream attachments, sandboxed and nosniff; HTML named .png and sent as image/png is not shown inline", async () => {
  const server = await ServerProcess.start(["--rate", "0"]);
  try {
    const { client } = await TestClient.join(server.port, "mallory");
    const html = encoder.encode(
      "<!doctype html><script>alert(document.cookie)</script>",
    );
    const svg = encoder.encode(
      '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    );
    for (
      const [name, bytes, mime] of [
        ["page.html", html, "text/html"],
        ["drawing.svg", svg, "image/svg+xml"],
        ["cat.png", html, "image/png"],
      ] as const
    ) {
      const message = await shareBytes(server.port, client, name, bytes, mime);
      assert.equal(message.file!.inline, undefined, name);
      assert.notEqual(message.file!.mime, "image/png", name);
      const served = await get(server.port, message.file!.url);
      assert.equal(served.status, 200);
      assert.equal(
        served.headers.get("content-type"),
        "application/octet-stream",
        name,
      );
      assert.equal(served.headers.get("x-content-type-options"), "nosniff");
      assert.equal(
        served.headers.get("content-security-policy"),
        "default-src 'none'; sandbox",
      );
      assert.match(
        served.headers.get("content-disposition")!,
        new RegExp(`^attachment; filename="${name.replace(".", "\\.")}"`),
      );
      assert.deepEqual(served.body, bytes);
    }
    // A name cannot climb out of the folder or hide its real extension.
    const sneaky = await shareBytes(
      server.port,
      client,
      "../../etc/evil\u202Egnp.exe",
      html,
      "image/png",
    );
    assert.equal(sneaky.file!.name, "evilgnp.exe");
    await client.close();
  } finally {
    await server.stop();
  }
});

Deno.test("recalling a file's message deletes the file: its link answers 410, the folder no longer holds it, and its quota is free again", async () => {
  const dir = await tempDir();
  const server = await ServerProcess.start([
    "--db",
    `${dir.path}/chat.db`,
    "--files-quota",
    "1500",
  ]);
  try {
    const alice = await TestClient.join(server.port, "alice");
    const bob = await TestClient.join(server.port, "bob");
    const message = await shareBytes(
      server.port,
      alice.client,
      "photo.png",
      pngBytes(1000),
      "image/png",
    );
    assert.equal((await get(server.port, message.file!.url)).status, 200);
    alice.client.send({ type: "recall", id: message.id });
    const recall = await bob.client.waitFor((e) => e.type === "recall");
    assert.equal(recall.type === "recall" && recall.id, message.id);
    const gone = await get(server.port, message.file!.url);
    assert.equal(gone.status, 410);
    assert.equal(
      decoder.decode(gone.body),
      "Gone: this file was recalled or removed\n",
    );
    assert.deepEqual((await folderContents(`${dir.path}/files`)).names, []);
    // An id never given is 404, not 410.
    assert.equal((await get(server.port, "/f/aaaaaaaaaaaa/x.png")).status, 404);
    // Its 1,024 bytes of the 1,500 are free again.
    await shareBytes(
      server.port,
      alice.client,
      "again.png",
      pngBytes(1000),
      "image/png",
    );
    await alice.client.close();
    await bob.client.close();
  } finally {
    await server.stop();
    await dir.remove();
  }
});

Deno.test("an nc member reads a shared file's message with a link it can open; it cannot ask for an upload itself", async () => {
  const server = await ServerProcess.start(["--rate", "0"]);
  try {
    const nc = await TestClient.connect(server.port);
    await nc.waitForLine("Please choose a nickname");
    nc.write("carol\n");
    await nc.waitForLine("Welcome, carol!");
    const { client } = await TestClient.join(server.port, "alice");
    const message = await shareBytes(
      server.port,
      client,
      "作业.pdf",
      pdfBytes(5000),
      "application/pdf",
    );
    const line = await nc.waitForLine("📎");
    const link = `http://127.0.0.1:${server.port}/f/${message.file!.id}/${
      encodeURIComponent("作业.pdf")
    }`;
    assert.match(line, /^\d\d:\d\d alice: 📎 作业\.pdf \(4\.9 KB\) /);
    assert.ok(line.endsWith(link), line);
    const fetched = await get(server.port, new URL(link).pathname);
    assert.equal(fetched.status, 200);
    assert.equal(fetched.body.length, message.file!.size);
    nc.write("/send homework.pdf\n");
    assert.match(
      await nc.waitForLine("chat client only"),
      /\/send works in the chat client only/,
    );
    await nc.close();
    await client.close();
  } finally {
    await server.stop();
  }
});

Deno.test("only a member who may speak in the room may upload: muted, muted-all and not-in-room are refused, and an upload granted before a mute is not shared", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  const made = await runChat(
    ["account", "add", "olga", "--role", "owner", "--db", db],
    "olga-pass\n",
  );
  assert.equal(made.code, 0, made.stderr);
  const server = await ServerProcess.start(["--db", db, "--rate", "0"]);
  try {
    const olga = await TestClient.join(server.port, "olga", {
      password: "olga-pass",
    });
    const { client } = await TestClient.join(server.port, "alice");
    const elsewhere = await askRefused(client, {
      name: "a.txt",
      size: 3,
      room: "class",
    });
    assert.equal(elsewhere.code, "not_in_room");
    assert.equal(
      (await askRefused(client, { name: "a.txt", size: 0 })).code,
      "bad_frame",
    );
    assert.equal(
      (await askRefused(client, { name: "a.txt" })).code,
      "bad_frame",
    );

    olga.client.send({ type: "mute", nick: "alice" });
    await client.waitFor((e) => e.type === "mod" && e.action === "mute");
    const muted = await askRefused(client, { name: "a.txt", size: 3 });
    assert.equal(muted.code, "muted");
    olga.client.send({ type: "unmute", nick: "alice" });
    await client.waitFor((e) => e.type === "mod" && e.action === "unmute");

    // Granted, then muted before the bytes arrive: not shared, not kept.
    const ready = await askUpload(client, { name: "late.txt", size: 5 });
    olga.client.send({ type: "mute", nick: "alice" });
    await client.waitFor((e) => e.type === "mod" && e.action === "mute");
    const refused = await put(server.port, ready.url, encoder.encode("hello"));
    assert.equal(refused.status, 403);
    assert.match(
      decoder.decode(refused.body),
      /^Not shared: you are muted in lobby/,
    );
    assert.deepEqual((await folderContents(`${dir.path}/files`)).names, []);

    olga.client.send({ type: "unmute", nick: "alice" });
    olga.client.send({ type: "muteall", on: true });
    await client.waitFor((e) => e.type === "mod" && e.action === "muteall");
    const all = await askRefused(client, { name: "a.txt", size: 3 });
    assert.equal(all.code, "muted");
    assert.match(all.message, /everyone is muted in lobby/);
    // The owner still may.
    await shareBytes(
      server.port,
      olga.client,
      "rules.txt",
      encoder.encode("be kind"),
      "text/plain",
    );
    await client.close();
    await olga.client.close();
  } finally {
    await server.stop();
    await dir.remove();
  }
});

Deno.test("--max-file-size 0 turns uploads off; --uploads-per-minute paces a member", async () => {
  const off = await ServerProcess.start(["--max-file-size", "0"]);
  try {
    const { client } = await TestClient.join(off.port, "alice");
    const refused = await askRefused(client, { name: "a.txt", size: 3 });
    assert.equal(refused.code, "uploads_off");
    await client.close();
  } finally {
    await off.stop();
  }
  const paced = await ServerProcess.start([
    "--uploads-per-minute",
    "2",
    "--rate",
    "0",
  ]);
  try {
    const { client } = await TestClient.join(paced.port, "alice");
    await shareBytes(paced.port, client, "1.txt", encoder.encode("one"), "");
    await shareBytes(paced.port, client, "2.txt", encoder.encode("two"), "");
    const third = await askRefused(client, { name: "3.txt", size: 5 });
    assert.equal(third.code, "too_many_uploads");
    assert.match(third.message, /2 files a minute/);
    await client.close();
  } finally {
    await paced.stop();
  }
});

Deno.test("pipe mode sends a line too long for a message as a text file, nothing lost, between the lines around it, and exits 0", async () => {
  const server = await ServerProcess.start(["--rate", "0"]);
  try {
    const { client } = await TestClient.join(server.port, "bob");
    const long = "作业 ".repeat(2000) + "END";
    const piped = await runChat(
      ["connect", `127.0.0.1:${server.port}`, "--nick", "ci-bot"],
      `before\n${long}\nafter\n`,
    );
    assert.equal(piped.code, 0, piped.stderr);
    assert.match(
      piped.stderr,
      /a line of 6003 characters was too long for a message: sent as paste-[\d-]+\.txt/,
    );
    const messages: RoomMessage[] = [];
    while (messages.length < 3) {
      messages.push(
        await client.waitFor((e) => e.type === "msg") as RoomMessage,
      );
    }
    assert.deepEqual(messages.map((m) => m.text.slice(0, 6)), [
      "before",
      "📎 pas",
      "after",
    ]);
    const file = await get(server.port, messages[1].file!.url);
    assert.equal(decoder.decode(file.body), long);
    await client.close();
  } finally {
    await server.stop();
  }
});

Deno.test("a file whose message --keep-days removes is deleted with it: its link answers 410 and the folder no longer holds it", async () => {
  const dir = await tempDir();
  const db = `${dir.path}/chat.db`;
  let server = await ServerProcess.start(["--db", db]);
  let message: RoomMessage;
  try {
    const { client } = await TestClient.join(server.port, "alice");
    message = await shareBytes(
      server.port,
      client,
      "old.png",
      pngBytes(500),
      "image/png",
    );
    await client.close();
  } finally {
    await server.stop();
  }
  // As if it had been sent a year ago.
  const database = new DatabaseSync(db);
  database.prepare("UPDATE messages SET ts = 0 WHERE id = ?").run(message.id);
  database.close();
  server = await ServerProcess.start(["--db", db, "--keep-days", "30"]);
  try {
    let status = 0;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      status = (await get(server.port, message.file!.url)).status;
      if (status === 410) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(status, 410);
    assert.deepEqual((await folderContents(`${dir.path}/files`)).names, []);
    assert.match(server.log, /files: removed 1 whose message is gone/);
  } finally {
    await server.stop();
    await dir.remove();
  }
});
