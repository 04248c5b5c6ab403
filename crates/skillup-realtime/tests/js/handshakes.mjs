// Tries one Socket.IO handshake per token with the official socket.io-client, in
// order, and prints one JSON line per token: {"i":N,"type":"connected"} or
// {"i":N,"type":"connect_error","message":...}. A null token means no `auth.token`
// at all. Tokens come as a JSON array on stdin (they can be long).
//
//   echo '["tok", null]' | node handshakes.mjs URL
import { io } from "socket.io-client";

const [url] = process.argv.slice(2);
let input = "";
for await (const chunk of process.stdin) input += chunk;
const tokens = JSON.parse(input);

const attempt = (token) =>
  new Promise((resolve) => {
    const auth = token === null ? {} : { token };
    const socket = io(url, { auth, transports: ["websocket"], reconnection: false, timeout: 5000, forceNew: true });
    const done = (line) => {
      socket.close();
      resolve(line);
    };
    socket.on("connect", () => done({ type: "connected" }));
    socket.on("connect_error", (err) => done({ type: "connect_error", message: err.message }));
  });

for (const [i, token] of tokens.entries()) {
  const line = await attempt(token);
  process.stdout.write(JSON.stringify({ i, ...line }) + "\n");
}
process.exit(0);
