/**
 * The WebSocket seen as a connection of lines: what a member is written
 * reaches its browser as one text frame per line, and a tick's batch that
 * every member of a room is handed is framed once for all of them.
 */

import assert from "node:assert/strict";
import {
  MessageReader,
  WebSocketConn,
  type WebSocketEvent,
} from "../src/server/doors/web/websocket.ts";
import {
  sharedFrames,
  WebSocketLineConn,
} from "../src/server/doors/web/websocket_line_conn.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A connection that keeps what is written to it and never has anything to read. */
class RecordingConn {
  writes: Uint8Array[] = [];
  write(p: Uint8Array): Promise<number> {
    this.writes.push(p.slice());
    return Promise.resolve(p.length);
  }
  read(): Promise<number | null> {
    return Promise.resolve(null);
  }
  close(): void {}
}

/** A member's line connection over a recording socket. */
function member(): { lines: WebSocketLineConn; wire: RecordingConn } {
  const wire = new RecordingConn();
  const socket = new WebSocketConn(
    wire as unknown as Deno.Conn,
    new Uint8Array(0),
    { maxMessageBytes: 16 * 1024 },
  );
  return { lines: new WebSocketLineConn(socket), wire };
}

/** The text messages a browser reads from what was written. */
function received(wire: RecordingConn): string[] {
  const reader = new MessageReader({
    maxMessageBytes: 1 << 20,
    expectMasked: false,
  });
  const texts: string[] = [];
  for (const bytes of wire.writes) {
    reader.push(bytes, (event: WebSocketEvent) => {
      if (event.kind === "text") texts.push(decoder.decode(event.data));
    });
  }
  return texts;
}

Deno.test("each line written is one text frame; a line split across writes is one frame", async () => {
  const { lines, wire } = member();
  await lines.write(encoder.encode('{"type":"msg","text":"hel'));
  await lines.write(encoder.encode('lo"}\n\n{"type":"join"}\n{"ty'));
  await lines.write(encoder.encode('pe":"leave"}\n'));
  assert.deepEqual(received(wire), [
    '{"type":"msg","text":"hello"}',
    '{"type":"join"}',
    '{"type":"leave"}',
  ]);
});

Deno.test("the same batch written to many members is framed once and reaches each of them whole", async () => {
  const batch = encoder.encode(
    Array.from({ length: 50 }, (_, i) => `{"type":"msg","id":${i}}\n`).join(""),
  );
  const members = Array.from({ length: 3 }, member);
  // Each member's queue hands over its own view of the shared bytes.
  for (const { lines } of members) await lines.write(batch.subarray(0));
  const expected = Array.from(
    { length: 50 },
    (_, i) => `{"type":"msg","id":${i}}`,
  );
  for (const { wire } of members) assert.deepEqual(received(wire), expected);
  assert.equal(sharedFrames(batch.subarray(0)), sharedFrames(batch));
  // Other bytes of the same buffer are other frames.
  const tail = batch.subarray(batch.indexOf(0x0a) + 1);
  assert.notEqual(sharedFrames(tail).frames, sharedFrames(batch).frames);
  assert.equal(
    sharedFrames(tail).frames.length,
    sharedFrames(batch).frames.length - (batch.indexOf(0x0a) + 1) - 1,
  );
});
