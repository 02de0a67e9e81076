/**
 * The web page's pure parts for files and search, without a browser: how a
 * shared file from the wire is read and linked, how uploads go up one at a
 * time and say why when they do not, and how search results are marked.
 */

import assert from "node:assert/strict";
import { formatFileSize as formatBytes } from "../src/shared/file_names.ts";
import {
  isPicture,
  mimeOf,
  readSharedFile,
  sameOriginUrl,
} from "../src/client/web/attachment.ts";
import {
  failureText,
  type PutResult,
  type UploadFrame,
  UploadQueue,
  type UploadTransport,
} from "../src/client/web/upload_queue.ts";
import {
  markWords,
  newestFirst,
  readHit,
  searchWords,
} from "../src/client/web/search_results.ts";

const page = "http://192.168.1.23:7777/";

Deno.test("a shared file's link is kept only when it points at the page's own server", () => {
  assert.equal(
    sameOriginUrl("/f/7/photo.jpg", page),
    "http://192.168.1.23:7777/f/7/photo.jpg",
  );
  assert.equal(
    sameOriginUrl("http://192.168.1.23:7777/f/8/a%20b.pdf", page),
    "http://192.168.1.23:7777/f/8/a%20b.pdf",
  );
  for (
    const hostile of [
      "javascript:alert(1)",
      "JaVaScRiPt:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "//evil.example/f/1/x.png",
      "http://evil.example/f/1/x.png",
      "http://192.168.1.23:7778/f/1/x.png",
      "https://192.168.1.23:7777/f/1/x.png",
    ]
  ) {
    assert.equal(sameOriginUrl(hostile, page), undefined, hostile);
  }
});

Deno.test("a shared file from the wire is read by shape; only an inline picture is a picture, SVG and HTML never", () => {
  const file = readSharedFile({
    id: 7,
    name: "作业.png",
    size: 1234,
    mime: "image/png",
    url: "/f/7/x.png",
    inline: true,
  });
  assert.deepEqual(file, {
    id: "7",
    name: "作业.png",
    size: 1234,
    mime: "image/png",
    url: "/f/7/x.png",
    inline: true,
  });
  assert.equal(isPicture(file!), true);
  // Only what the server serves inline (its bytes proved a picture).
  assert.equal(isPicture({ ...file!, inline: false }), false);
  assert.equal(
    readSharedFile({ id: 7, name: "a", size: 1, mime: "image/png", url: "/" })
      ?.inline,
    false,
  );
  for (const mime of ["image/jpeg", "image/gif", "image/webp", "IMAGE/PNG"]) {
    assert.equal(isPicture({ ...file!, mime }), true, mime);
  }
  for (
    const mime of [
      "image/svg+xml",
      "text/html",
      "application/pdf",
      "image/x-icon",
    ]
  ) {
    assert.equal(isPicture({ ...file!, mime }), false, mime);
  }
  assert.equal(readSharedFile(undefined), undefined);
  assert.equal(readSharedFile({ ...file, size: "12" }), undefined);
  assert.equal(readSharedFile({ ...file, url: 5 }), undefined);
  assert.equal(readSharedFile({ ...file, size: -1 }), undefined);
});

Deno.test("sizes read as people read them", () => {
  assert.equal(formatBytes(0), "0 bytes");
  assert.equal(formatBytes(1), "1 byte");
  assert.equal(formatBytes(1023), "1023 bytes");
  assert.equal(formatBytes(1024), "1 KB");
  assert.equal(formatBytes(1536), "1.5 KB");
  assert.equal(formatBytes(123_456), "121 KB");
  assert.equal(formatBytes(10 * 1024 * 1024), "10 MB");
  assert.equal(mimeOf({ type: "" }), "application/octet-stream");
  assert.equal(mimeOf({ type: "image/png" }), "image/png");
});

/** A transport that records what the queue asks and answers when told. */
class FakeTransport implements UploadTransport {
  connected = true;
  asked: UploadFrame[] = [];
  puts: {
    url: string;
    body: Blob;
    progress: (sent: number) => void;
    finish: (result: PutResult) => void;
    aborted: boolean;
  }[] = [];

  ask(frame: UploadFrame): boolean {
    if (!this.connected) return false;
    this.asked.push(frame);
    return true;
  }

  put(
    url: string,
    body: Blob,
    progress: (sent: number) => void,
    signal: AbortSignal,
  ): Promise<PutResult> {
    return new Promise((resolve, reject) => {
      const entry = { url, body, progress, finish: resolve, aborted: false };
      signal.addEventListener("abort", () => {
        entry.aborted = true;
        reject(new Error("aborted"));
      });
      this.puts.push(entry);
    });
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const file = (name: string, bytes: number) =>
  new File([new Uint8Array(bytes)], name, { type: "image/png" });

Deno.test("uploads go up one at a time: ask, PUT to the URL given, then the next", async () => {
  const transport = new FakeTransport();
  let changes = 0;
  const queue = new UploadQueue(transport, () => changes++);
  queue.add(file("a.png", 10), "lobby", "image/png");
  queue.add(file("b.png", 20), "lobby", "image/png");
  // Only the first is asked for.
  assert.deepEqual(transport.asked, [{
    type: "upload",
    room: "lobby",
    name: "a.png",
    size: 10,
    mime: "image/png",
  }]);
  assert.deepEqual(queue.items.map((u) => u.phase), ["asking", "queued"]);
  assert.equal(queue.asking, true);
  queue.ready({
    type: "upload_ready",
    token: "t1",
    url: "/upload/t1",
    expires_in: 60,
  });
  assert.equal(transport.puts[0].url, "/upload/t1");
  assert.equal(transport.puts[0].body.size, 10);
  transport.puts[0].progress(4);
  assert.equal(queue.items[0].sent, 4);
  assert.equal(queue.items[0].phase, "sending");
  // The second waits until the first is stored.
  assert.equal(transport.asked.length, 1);
  transport.puts[0].finish({
    status: 201,
    text: '{"id":"1","url":"/f/1/a.png"}',
  });
  await tick();
  assert.deepEqual(queue.items.map((u) => u.phase), ["done", "asking"]);
  assert.equal(transport.asked[1].name, "b.png");
  queue.ready({ type: "upload_ready", token: "t2", url: "/upload/t2" });
  transport.puts[1].finish({ status: 201, text: "{}" });
  await tick();
  assert.deepEqual(queue.items.map((u) => u.phase), ["done", "done"]);
  queue.dismiss(queue.items[0].key);
  assert.equal(queue.items.length, 1);
  assert.ok(changes > 5);
});

Deno.test("an upload the server refuses says why in its words, and the next one goes on", async () => {
  const transport = new FakeTransport();
  const queue = new UploadQueue(transport, () => {});
  queue.add(file("big.png", 30), "lobby", "image/png");
  queue.add(file("small.png", 3), "lobby", "image/png");
  // The error that answers the asking upload is its refusal.
  assert.equal(
    queue.refused("file_too_large", "files may be at most 10 MiB"),
    "files may be at most 10 MiB",
  );
  assert.equal(queue.items[0].phase, "failed");
  assert.equal(queue.items[0].reason, "files may be at most 10 MiB");
  // The same file would be refused again: it is not tried again.
  assert.equal(queue.items[0].retryable, false);
  queue.retry(queue.items[0].key);
  assert.equal(queue.items[0].phase, "failed");
  assert.equal(queue.items[1].phase, "asking");
  // A PUT that fails keeps the server's wording, too.
  queue.ready({ type: "upload_ready", token: "t", url: "/upload/t" });
  transport.puts[0].finish({
    status: 413,
    text: '{"error":"file_too_large","message":"over the quota"}',
  });
  await tick();
  assert.equal(queue.items[1].phase, "failed");
  assert.equal(queue.items[1].reason, "over the quota");
  assert.equal(queue.asking, false);
  // An error while nothing asks is no upload's.
  assert.equal(queue.refused("rate_limited", "slow down"), undefined);
  // Retried, it starts again from the question (a token is used once).
  queue.retry(queue.items[1].key);
  assert.equal(transport.asked.length, 3);
  assert.equal(transport.asked[2].name, "small.png");
  queue.refused("unknown_type", 'unknown frame type "upload"');
  assert.match(queue.items[1].reason!, /does not take files/);
});

Deno.test("an upload cancelled is aborted and forgotten; one asked offline, or cut off, fails with the reason", async () => {
  const transport = new FakeTransport();
  const queue = new UploadQueue(transport, () => {});
  queue.add(file("a.png", 10), "lobby", "image/png");
  queue.ready({ type: "upload_ready", token: "t", url: "/upload/t" });
  queue.cancel(queue.items[0].key);
  await tick();
  assert.equal(transport.puts[0].aborted, true);
  assert.equal(queue.items.length, 0);

  queue.add(file("b.png", 10), "lobby", "image/png");
  queue.disconnected();
  assert.equal(queue.items[0].phase, "failed");
  assert.match(queue.items[0].reason!, /connection dropped/);

  transport.connected = false;
  queue.add(file("c.png", 10), "lobby", "image/png");
  assert.equal(queue.items[1].phase, "failed");
  assert.match(queue.items[1].reason!, /not connected/);

  transport.connected = true;
  queue.retry(queue.items[1].key);
  queue.ready({ type: "upload_ready", token: "u", url: "/upload/u" });
  transport.puts[1].finish({ status: 0, text: "" });
  await tick();
  assert.match(queue.items[1].reason!, /cut off/);
});

Deno.test("an upload cancelled while its question is out: its answer is not taken for the next one's", async () => {
  const transport = new FakeTransport();
  const queue = new UploadQueue(transport, () => {});
  queue.add(file("first.png", 10), "lobby", "image/png");
  queue.add(file("second.png", 20), "lobby", "image/png");
  queue.cancel(queue.items[0].key);
  // Gone from sight, but the next waits for the first one's answer.
  assert.deepEqual(queue.items.map((u) => u.name), ["second.png"]);
  assert.equal(transport.asked.length, 1);
  queue.ready({
    type: "upload_ready",
    token: "t1",
    url: "/upload/t1",
    size: 10,
  });
  assert.equal(transport.puts.length, 0);
  assert.equal(transport.asked[1].name, "second.png");
  // A late answer naming another size is not this one's either.
  queue.ready({
    type: "upload_ready",
    token: "tx",
    url: "/upload/tx",
    size: 10,
  });
  assert.equal(transport.puts.length, 0);
  queue.ready({
    type: "upload_ready",
    token: "t2",
    url: "/upload/t2",
    size: 20,
  });
  assert.equal(transport.puts[0].url, "/upload/t2");
  transport.puts[0].finish({ status: 201, text: "{}" });
  await tick();
  assert.equal(queue.items[0].phase, "done");
});

Deno.test("an upload with no answer from the server fails after the wait", async () => {
  const transport = new FakeTransport();
  const queue = new UploadQueue(transport, () => {}, { answerTimeoutMs: 20 });
  queue.add(file("a.png", 10), "lobby", "image/png");
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(queue.items[0].phase, "failed");
  assert.match(queue.items[0].reason!, /did not answer/);
});

Deno.test("a failed PUT's reason: the server's message, its text, or the status", () => {
  assert.equal(
    failureText({ status: 413, text: '{"message":"too big"}' }),
    "too big",
  );
  assert.equal(
    failureText({ status: 410, text: "upload token expired\n" }),
    "upload token expired",
  );
  assert.equal(
    failureText({ status: 500, text: "<html>oops</html>" }),
    "the server refused the upload (HTTP 500)",
  );
  assert.match(failureText({ status: 0, text: "" }), /cut off/);
});

Deno.test("search results mark every word searched, in any case and in Chinese", () => {
  assert.deepEqual(markWords("数学作业做完了吗？作业好多", ["作业"]), [
    { text: "数学", marked: false },
    { text: "作业", marked: true },
    { text: "做完了吗？", marked: false },
    { text: "作业", marked: true },
    { text: "好多", marked: false },
  ]);
  assert.deepEqual(markWords("Homework page 12", ["homework", "PAGE"]), [
    { text: "Homework", marked: true },
    { text: " ", marked: false },
    { text: "page", marked: true },
    { text: " 12", marked: false },
  ]);
  // Words are text, not patterns.
  assert.deepEqual(markWords("a+b (c)", ["a+b", "(c)"]), [
    { text: "a+b", marked: true },
    { text: " ", marked: false },
    { text: "(c)", marked: true },
  ]);
  assert.deepEqual(markWords("nothing here", []), [
    { text: "nothing here", marked: false },
  ]);
  assert.deepEqual(searchWords("  作业  page 作业 "), ["作业", "page"]);
});

Deno.test("search results are listed newest first, and malformed ones dropped", () => {
  const hit = (id: number) => ({
    id,
    ts: 1000 + id,
    room: "lobby",
    from: "bob",
    text: `m${id}`,
  });
  assert.deepEqual(newestFirst([hit(3), hit(9), hit(5)]).map((h) => h.id), [
    9,
    5,
    3,
  ]);
  assert.deepEqual(readHit(hit(1)), hit(1));
  assert.equal(readHit({ ...hit(1), text: 5 }), undefined);
  assert.equal(readHit(null), undefined);
});
