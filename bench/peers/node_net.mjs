// A chat server written the idiomatic Node way, as a benchmark peer:
// net.createServer, text lines split by hand, and for every message a
// socket.write to each member. It speaks the smallest useful subset of our
// JSON dialect: `hello` → `welcome` and `join`, `say` → `msg` to everyone
// (sender included), and `leave`. No storage.
//
// Usage: node bench/peers/node_net.mjs PORT   (0 picks one)
import net from "node:net";

const members = new Set();
let nextId = 1;

function broadcast(event, except) {
  const line = JSON.stringify(event) + "\n";
  for (const member of members) {
    if (member !== except) member.socket.write(line);
  }
}

const server = net.createServer((socket) => {
  socket.setEncoding("utf8");
  socket.setNoDelay(true);
  socket.write("Welcome (node net peer)\n");
  let partial = "";
  let member;
  socket.on("data", (chunk) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop();
    for (const line of lines) {
      let frame;
      try {
        frame = JSON.parse(line);
      } catch {
        continue;
      }
      if (frame.type === "hello" && !member) {
        member = { nick: String(frame.nick), socket };
        members.add(member);
        socket.write(
          JSON.stringify({
            type: "welcome",
            nick: member.nick,
            room: "bench",
            users: [...members].map((m) => m.nick),
            history: [],
            server: { name: "node-net", version: "0" },
          }) + "\n",
        );
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
