/**
 * The pure parts of shared files, without sockets: file names, sizes,
 * picture sniffing, the upload desk's checks and tokens, the headers a file
 * is served with, and where its link points.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { parseClientFrame } from "../protocol.ts";
import {
  cleanFileName,
  cleanMimeType,
  formatFileSize,
  mimeTypeFor,
  numberedName,
} from "../src/shared/file_names.ts";
import { pictureType } from "../src/server/picture_type.ts";
import { FileShelf } from "../src/server/file_shelf.ts";
import { MemoryVault } from "../src/server/file_vault.ts";
import { UploadDesk } from "../src/server/upload_desk.ts";
import {
  contentDisposition,
  fileHeaders,
} from "../src/server/doors/web/file_routes.ts";
import { linkOrigin } from "../src/server/doors/web/web_door.ts";
import { parseRequestHead } from "../src/server/doors/web/http_request.ts";
import { dispositionName } from "../src/client/file_transfer.ts";
import { sendPath } from "../src/client/file_sharing.ts";
import { FILE_LIMITS } from "../src/shared/limits.ts";

Deno.test("a file name keeps its letters in every script and loses folders, controls, bidi tricks and leading dots", () => {
  assert.equal(cleanFileName("数学 作业.pdf"), "数学 作业.pdf");
  assert.equal(cleanFileName("../../etc/passwd"), "passwd");
  assert.equal(cleanFileName("C:\\Users\\me\\photo.jpg"), "photo.jpg");
  assert.equal(cleanFileName("invoice\u202Efdp.exe"), "invoicefdp.exe");
  assert.equal(cleanFileName("a\u0000b\u001b[31mc\u0085.txt"), "ab[31mc.txt");
  assert.equal(cleanFileName("zero\u200Bwidth.txt"), "zerowidth.txt");
  assert.equal(cleanFileName(".bashrc"), "bashrc");
  assert.equal(cleanFileName(".."), "file");
  assert.equal(cleanFileName(""), "file");
  assert.equal(cleanFileName("what?<>|.txt"), "what____.txt");
  assert.equal(cleanFileName("nul.txt"), "_nul.txt");
  assert.equal(cleanFileName("trailing. . "), "trailing");
  assert.equal(cleanFileName("tab\there.txt"), "tab here.txt");
  const long = cleanFileName("长".repeat(500) + ".pdf");
  assert.equal([...long].length, FILE_LIMITS.maxNameChars);
  assert.ok(long.endsWith("长.pdf"));
});

Deno.test("sizes read as people read them, and a taken name gets a number before its extension", () => {
  assert.equal(formatFileSize(1), "1 byte");
  assert.equal(formatFileSize(1000), "1000 bytes");
  assert.equal(formatFileSize(1024), "1 KB");
  assert.equal(formatFileSize(123_456), "121 KB");
  assert.equal(formatFileSize(1_258_291), "1.2 MB");
  assert.equal(formatFileSize(10 * 1024 * 1024), "10 MB");
  assert.equal(formatFileSize(3 * 1024 ** 3), "3 GB");
  assert.equal(numberedName("notes.pdf", 1), "notes.1.pdf");
  assert.equal(numberedName("README", 2), "README.2");
  assert.equal(numberedName("archive.tar.gz", 1), "archive.tar.1.gz");
});

Deno.test("a declared media type is kept only when well formed; the client declares by extension", () => {
  assert.equal(cleanMimeType("Image/PNG; charset=x"), "image/png");
  assert.equal(cleanMimeType("text/html\r\nX: y"), "application/octet-stream");
  assert.equal(cleanMimeType(undefined), "application/octet-stream");
  assert.equal(cleanMimeType("nonsense"), "application/octet-stream");
  assert.equal(mimeTypeFor("photo.JPG"), "image/jpeg");
  assert.equal(mimeTypeFor("notes.pdf"), "application/pdf");
  assert.equal(mimeTypeFor("mystery"), "application/octet-stream");
});

Deno.test("a picture is told by its first bytes: PNG, JPEG, GIF and WebP, never SVG, HTML or a renamed file", () => {
  const bytes = (...values: number[]) => new Uint8Array(values);
  const text = (s: string) => new TextEncoder().encode(s);
  assert.equal(
    pictureType(bytes(0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10, 0)),
    "image/png",
  );
  assert.equal(pictureType(bytes(0xff, 0xd8, 0xff, 0xe0)), "image/jpeg");
  assert.equal(pictureType(text("GIF89a....")), "image/gif");
  assert.equal(pictureType(text("GIF87a....")), "image/gif");
  assert.equal(pictureType(text("RIFF\x10\0\0\0WEBPVP8 ")), "image/webp");
  assert.equal(pictureType(text("RIFF\x10\0\0\0WAVEfmt ")), undefined);
  assert.equal(pictureType(text("<svg xmlns=")), undefined);
  assert.equal(pictureType(text("<!doctype html>")), undefined);
  assert.equal(pictureType(bytes(0x89, 0x50, 0x4e)), undefined);
  assert.equal(pictureType(new Uint8Array(0)), undefined);
});

Deno.test("the upload frame is parsed by its fields' types", () => {
  assert.deepEqual(
    parseClientFrame(
      '{"type":"upload","room":"lobby","name":"photo.jpg","size":123456,"mime":"image/jpeg","reply_to":4}',
    ),
    {
      ok: true,
      frame: {
        type: "upload",
        name: "photo.jpg",
        size: 123456,
        mime: "image/jpeg",
        room: "lobby",
        reply_to: 4,
      },
    },
  );
  for (
    const bad of [
      '{"type":"upload","name":"a"}',
      '{"type":"upload","name":"a","size":-1}',
      '{"type":"upload","name":"a","size":1.5}',
      '{"type":"upload","name":7,"size":1}',
      '{"type":"upload","name":"a","size":1,"mime":3}',
    ]
  ) {
    const parsed = parseClientFrame(bad);
    assert.equal(parsed.ok, false, bad);
    assert.equal(!parsed.ok && parsed.code, "bad_frame", bad);
  }
});

/** A desk over an in-memory shelf, with a clock the test moves. */
function makeDesk(
  options: { max?: number; quota?: number; perMinute?: number } = {},
) {
  let now = 1_000_000;
  const clock = () => now;
  const shelf = new FileShelf(new DatabaseSync(":memory:"), new MemoryVault(), {
    quotaBytes: options.quota ?? 10_000,
    now: clock,
  });
  const desk = new UploadDesk<string>(shelf, {
    maxFileBytes: options.max ?? 5000,
    uploadsPerMinute: options.perMinute ?? 0,
    now: clock,
  });
  const ask = (member: string, size: number) =>
    desk.request(member, member, {
      room: "lobby",
      name: "a.bin",
      size,
      mime: "application/octet-stream",
    });
  return { shelf, desk, ask, advance: (ms: number) => (now += ms) };
}

Deno.test("the desk holds a granted upload's size of the quota until it ends, or its token expires unused", () => {
  const { shelf, desk, ask, advance } = makeDesk({ quota: 6000 });
  const first = ask("alice", 4000);
  assert.ok(first.ok);
  assert.equal(shelf.reservedBytes, 4000);
  const second = ask("bob", 3000);
  assert.equal(!second.ok && second.code, "files_quota_full");
  // Unused, the token expires and gives its share back.
  advance(FILE_LIMITS.tokenSeconds * 1000 + 1);
  assert.ok(first.ok && desk.peek(first.ticket.token) === "expired");
  assert.equal(shelf.reservedBytes, 0);
  const third = ask("bob", 3000);
  assert.ok(third.ok);
  // Being received, it does not expire; once ended unstored, the share is back.
  assert.ok(third.ok && typeof desk.take(third.ticket.token) !== "string");
  advance(FILE_LIMITS.tokenSeconds * 1000 + 1);
  assert.ok(ask("carol", 1000).ok);
  assert.equal(shelf.reservedBytes, 4000);
  assert.ok(third.ok && desk.take(third.ticket.token) === "used");
  desk.end(third.ticket, false);
  assert.equal(shelf.reservedBytes, 1000);
});

Deno.test("the desk refuses a file over the limit, a fourth upload on its way, and a member over its pace", () => {
  const { desk, ask, advance } = makeDesk({ max: 5000, perMinute: 2 });
  const big = ask("alice", 5001);
  assert.equal(!big.ok && big.code, "file_too_large");
  assert.equal(
    !big.ok && big.message,
    "a.bin is 5001 bytes; this server takes files up to 5000 bytes (--max-file-size); nothing was sent",
  );
  const empty = ask("alice", 0);
  assert.equal(!empty.ok && empty.code, "bad_frame");
  assert.ok(ask("alice", 10).ok);
  assert.ok(ask("alice", 10).ok);
  const paced = ask("alice", 10);
  assert.equal(!paced.ok && paced.code, "too_many_uploads");
  assert.ok(ask("bob", 10).ok, "another member has its own pace");
  advance(30_000);
  assert.ok(ask("alice", 10).ok, "one upload back after half a minute");
  // Three on their way is the most.
  const pending = ask("alice", 10);
  assert.equal(!pending.ok && pending.code, "too_many_uploads");
  assert.match(!pending.ok ? pending.message : "", /3 uploads on their way/);
  assert.equal(desk.outstanding, 4);
});

Deno.test("the shelf counts stored bytes against the quota, and a discarded file is gone, not unknown", async () => {
  const { shelf } = makeDesk({ quota: 3000 });
  const sink = await shelf.vault.create();
  await sink.write(new Uint8Array(2000).fill(7));
  await sink.commit("abc123");
  shelf.record({
    id: "abc123",
    room: "lobby",
    uploader: "alice",
    name: "a.bin",
    size: 2000,
    mime: "application/octet-stream",
    created: 1,
  });
  assert.equal(shelf.storedBytes, 2000);
  assert.equal(shelf.reserve(1001), false);
  assert.equal(shelf.reserve(1000), true);
  shelf.release(1000);
  assert.equal(await shelf.vault.size(), 2000);
  assert.equal(shelf.discard("abc123"), true);
  assert.equal(shelf.find("abc123"), "gone");
  assert.equal(shelf.find("never"), undefined);
  assert.equal(shelf.storedBytes, 0);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(await shelf.vault.size(), 0);
});

Deno.test("a served file is inline only as a proved picture; its name survives in Content-Disposition", () => {
  const file = {
    id: "abc",
    room: "lobby",
    uploader: "a",
    size: 3,
    created: 0,
  };
  const picture = new Map(
    fileHeaders({
      ...file,
      name: "猫.png",
      mime: "image/png",
      inline: "image/png",
    }),
  );
  assert.equal(picture.get("Content-Type"), "image/png");
  assert.equal(
    picture.get("Content-Disposition"),
    "inline; filename=\"_.png\"; filename*=UTF-8''%E7%8C%AB.png",
  );
  const page = new Map(
    fileHeaders({ ...file, name: 'a"b.html', mime: "text/html" }),
  );
  assert.equal(page.get("Content-Type"), "application/octet-stream");
  assert.match(
    page.get("Content-Disposition")!,
    /^attachment; filename="a_b\.html"/,
  );
  for (const headers of [picture, page]) {
    assert.equal(headers.get("X-Content-Type-Options"), "nosniff");
    assert.equal(
      headers.get("Content-Security-Policy"),
      "default-src 'none'; sandbox",
    );
  }
  // The client reads the real name back.
  assert.equal(
    dispositionName(contentDisposition("attachment", "作业 (1).pdf")),
    "作业 (1).pdf",
  );
});

Deno.test("a file's link starts with the Host the uploader used when it names this server, else the address it came in on", () => {
  const conn = {
    localAddr: { transport: "tcp", hostname: "192.168.1.23", port: 7777 },
  } as unknown as Deno.Conn;
  const origin = (host: string | undefined, secure = false) => {
    const text = `PUT /upload/x HTTP/1.1\r\n${
      host === undefined ? "" : `Host: ${host}\r\n`
    }\r\n`;
    const parsed = parseRequestHead(new TextEncoder().encode(text));
    assert.equal(parsed.kind, "head");
    return linkOrigin(
      (parsed as { head: Parameters<typeof linkOrigin>[0] }).head,
      conn,
      secure,
    );
  };
  assert.equal(origin("192.168.1.23:7777"), "http://192.168.1.23:7777");
  assert.equal(origin("chat.school.lan:7777"), "http://chat.school.lan:7777");
  assert.equal(
    origin("chat.school.lan:7777", true),
    "https://chat.school.lan:7777",
  );
  // Another address, another port, no port, nonsense: the local address.
  for (
    const host of [
      "10.0.0.9:7777",
      "chat.lan:8080",
      "chat.lan",
      "a b",
      undefined,
    ]
  ) {
    assert.equal(origin(host), "http://192.168.1.23:7777", String(host));
  }
});

Deno.test("/send takes a path as a terminal types it: quoted, with escaped spaces, or from ~", () => {
  assert.equal(
    sendPath("'/tmp/my photo.png'", "/home/me"),
    "/tmp/my photo.png",
  );
  assert.equal(
    sendPath('"/tmp/my photo.png"', "/home/me"),
    "/tmp/my photo.png",
  );
  if (Deno.build.os !== "windows") {
    assert.equal(
      sendPath("/tmp/my\\ photo.png", "/home/me"),
      "/tmp/my photo.png",
    );
  }
  assert.equal(sendPath("~/作业.pdf", "/home/me"), "/home/me/作业.pdf");
});
