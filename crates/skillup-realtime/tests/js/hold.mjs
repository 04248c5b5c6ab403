// Holds N idle websocket clients on a node until killed (memory profiling; not a test).
//   node hold.mjs URL N     (JWT_SECRET signs the tokens; prints "held N" when connected)
import { createHmac, randomUUID } from "node:crypto";
import { io } from "socket.io-client";

const [url, n] = [process.argv[2], Number(process.argv[3] ?? 10000)];
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const token = (sub) => {
  const h = b64({ alg: "HS256", typ: "JWT" });
  const b = b64({ sub, exp: Math.floor(Date.now() / 1000) + 3600 });
  return `${h}.${b}.${createHmac("sha256", process.env.JWT_SECRET).update(`${h}.${b}`).digest("base64url")}`;
};
let held = 0;
for (let i = 0; i < n; i += 250) {
  await Promise.all(Array.from({ length: Math.min(250, n - i) }, () => new Promise((resolve) => {
    const s = io(url, { auth: { token: token(randomUUID()) }, transports: ["websocket"], reconnection: false, timeout: 20000 });
    s.on("connect", () => { held++; resolve(); });
    s.on("connect_error", resolve);
  })));
}
console.log(`held ${held}`);
setInterval(() => {}, 1 << 30);
