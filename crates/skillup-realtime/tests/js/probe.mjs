// A scripted Socket.IO client (the official socket.io-client) for the Rust tests.
//
//   node probe.mjs URL TOKEN [COURSE_ID,...]
//
// Prints one JSON object per line: connect_error | connected | ack | ready |
// event | disconnect. Subscribes to the given courses after connecting, prints
// `ready`, then reports every progress:updated / course:updated / resync event
// until stdin closes (the test is done with it) or 60 s pass.
import { io } from "socket.io-client";

const [url, token, courses = ""] = process.argv.slice(2);
const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const auth = token === "-" ? {} : { token };
// PROBE_TRANSPORT=polling: HTTP long-polling only (a request always pending on the server).
const transports = [process.env.PROBE_TRANSPORT || "websocket"];
const socket = io(url, { auth, transports, reconnection: false, timeout: 5000 });

socket.on("connect_error", (err) => {
  print({ type: "connect_error", message: err.message });
  process.exit(0);
});

socket.on("connect", async () => {
  print({ type: "connected", id: socket.id });
  for (const course_id of courses.split(",").filter(Boolean)) {
    const ack = await socket.timeout(5000).emitWithAck("course:subscribe", { course_id });
    print({ type: "ack", course_id, ack });
  }
  print({ type: "ready" });
});

for (const name of ["progress:updated", "course:updated", "resync"]) {
  socket.on(name, (data) => print({ type: "event", name, data }));
}
socket.on("disconnect", (reason) => print({ type: "disconnect", reason }));

process.stdin.on("end", () => {
  socket.close();
  process.exit(0);
});
process.stdin.resume();
setTimeout(() => process.exit(0), 60_000);
