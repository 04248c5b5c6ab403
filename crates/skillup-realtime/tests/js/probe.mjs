// A scripted Socket.IO client (the official socket.io-client) for the Rust tests.
//
//   node probe.mjs URL TOKEN [COURSE_ID,...]
//
// Prints one JSON object per line: connect_error | connected | ack | ready |
// event | disconnect. Subscribes to the given courses on every connect (with
// the offset of the last event received), prints `ready`, then reports every
// event until stdin closes or 60 s pass.
//
// The client follows the pattern docs/api.md recommends: `auth` is a callback,
// so each (re)connection sends the current token and the last offset.
//
// Environment: PROBE_TRANSPORT=polling (HTTP long-polling only), PROBE_RECONNECT=1
// (let the client reconnect by itself; default: no reconnection),
// PROBE_OFFSET=<offset> (the offset of the first connection).
//
// Commands on stdin, one per line:
//   drop              close the transport as a network failure would (the client reconnects)
//   connect           connect again (after the server disconnected the socket)
//   token JWT         the token of the next connection
//   offset OFFSET     the offset of the next connection and subscriptions
//   subscribe ID      course:subscribe now, with the last offset
//   unsubscribe ID    course:unsubscribe now
import { io } from "socket.io-client";
import { createInterface } from "node:readline";

const [url, initialToken, courses = ""] = process.argv.slice(2);
const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

let token = initialToken;
let offset = process.env.PROBE_OFFSET || undefined;
const wanted = courses.split(",").filter(Boolean);

// PROBE_TRANSPORT=polling: HTTP long-polling only (a request always pending on the server).
const transports = [process.env.PROBE_TRANSPORT || "websocket"];
const reconnection = process.env.PROBE_RECONNECT === "1";
const auth = (cb) => {
  if (token === "-") return cb({});
  cb(offset ? { token, offset } : { token });
};
const socket = io(url, {
  auth,
  transports,
  reconnection,
  reconnectionDelay: 100,
  reconnectionDelayMax: 500,
  timeout: 5000,
});

async function subscribe(course_id) {
  const ack = await socket
    .timeout(5000)
    .emitWithAck("course:subscribe", offset ? { course_id, offset } : { course_id })
    .catch((e) => ({ timeout: String(e) }));
  print({ type: "ack", course_id, ack });
}

socket.on("connect_error", (err) => {
  print({ type: "connect_error", message: err.message });
  if (!reconnection) process.exit(0);
});

socket.on("connect", async () => {
  print({ type: "connected", id: socket.id, offset: offset ?? null });
  for (const course_id of wanted) await subscribe(course_id);
  print({ type: "ready" });
});

const names = ["progress:updated", "course:updated", "resync", "session:ended", "course:unsubscribed"];
for (const name of names) {
  socket.on(name, (data) => {
    if (data && typeof data.offset === "string") offset = data.offset;
    print({ type: "event", name, data });
  });
}
socket.on("disconnect", (reason) => print({ type: "disconnect", reason }));

const commands = createInterface({ input: process.stdin });
commands.on("line", async (line) => {
  const [command, arg] = line.trim().split(/\s+/, 2);
  if (command === "drop") socket.io.engine.close();
  else if (command === "connect") socket.connect();
  else if (command === "token") token = arg;
  else if (command === "offset") offset = arg;
  else if (command === "subscribe") { wanted.push(arg); await subscribe(arg); }
  else if (command === "unsubscribe") {
    const ack = await socket.timeout(5000).emitWithAck("course:unsubscribe", { course_id: arg });
    print({ type: "ack", course_id: arg, ack });
  }
});
commands.on("close", () => {
  socket.close();
  process.exit(0);
});
setTimeout(() => process.exit(0), 60_000);
