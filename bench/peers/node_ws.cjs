// A chat server written the common Node way for WebSockets, as a benchmark
// peer: the `ws` package (pinned in bench/peers/package.json), a
// WebSocketServer on its own HTTP server, and for every message one
// `ws.send` to each member. It speaks the same subset of our JSON dialect as
// node_net.mjs, one event per text message: `hello` → `welcome` and `join`,
// `say` → `msg` to everyone (sender included); a member that goes is
// announced with `leave`. No storage. The endpoint is `/ws`, as chat's is.
//
// CommonJS because `deno check .` resolves an ES module's imports against
// the project's own import map, where `ws` is not (and should not be).
//
// Usage: node bench/peers/node_ws.cjs PORT   (0 picks one)
"use strict";
const http = require("node:http");
const { WebSocketServer } = require("ws");

const members = new Set();
let nextId = 1;

function broadcast(event, except) {
  const text = JSON.stringify(event);
  for (const member of members) {
    if (member !== except) member.socket.send(text);
  }
}

const server = http.createServer((_request, response) => {
  response.writeHead(426, { "Content-Type": "text/plain" });
  response.end("WebSocket only, at /ws\n");
});
const wss = new WebSocketServer({ server, path: "/ws" });

wss.on("connection", (socket) => {
  let member;
  socket.on("message", (data, isBinary) => {
    if (isBinary) return;
    let frame;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      return;
    }
    if (frame.type === "hello" && !member) {
      member = { nick: String(frame.nick), socket };
      members.add(member);
      socket.send(JSON.stringify({
        type: "welcome",
        nick: member.nick,
        room: "bench",
        users: [...members].map((m) => m.nick),
        history: [],
        server: { name: "node-ws", version: "0" },
      }));
      broadcast({
        type: "join",
        ts: Date.now(),
        room: "bench",
        nick: member.nick,
        users: members.size,
      }, member);
    } else if (frame.type === "say" && member) {
      broadcast({
        type: "msg",
        id: nextId++,
        ts: Date.now(),
        room: "bench",
        from: member.nick,
        text: String(frame.text),
      });
    }
  });
  const gone = () => {
    if (member && members.delete(member)) {
      broadcast({
        type: "leave",
        ts: Date.now(),
        room: "bench",
        nick: member.nick,
        users: members.size,
      });
    }
  };
  socket.on("close", gone);
  socket.on("error", gone);
});

server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(`listening on ${server.address().port}`);
});
process.on("SIGTERM", () => process.exit(0));
