// Socket.IO load tool (not a test): N websocket clients in user rooms, progress
// events published to Redis at a fixed rate with a send timestamp in each, and
// the delivery figures, plus the server's RSS per connection and CPU.
//
//   node socket-bench.mjs --url http://127.0.0.1:5101 --pid PID --prefix bench: \
//        [--sockets 10000] [--rate 10000] [--seconds 10] [--redis 127.0.0.1:6379] [--label ours]
//        [--stream EPOCH:LAST]
//
// With --stream (the node's database's realtime_sequence: epoch and last_seq) every
// event carries the next offset of that stream, as the invalidator numbers them, so
// the node orders, keeps and indexes each one as in production; without it the
// events are another publisher's, relayed live only.
// JWT_SECRET signs the clients' tokens (HS256, as Supabase would). Prints a JSON
// summary on the last line. Loopback only; bounded in time and event count.
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import net from "node:net";
import { io } from "socket.io-client";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const url = args.url;
const pid = Number(args.pid);
const prefix = args.prefix ?? "skillup:";
const sockets = Number(args.sockets ?? 10000);
const rate = Number(args.rate ?? 10000);
const seconds = Number(args.seconds ?? 10);
const [redisHost, redisPort] = (args.redis ?? "127.0.0.1:6379").split(":");
const label = args.label ?? url;
const [streamEpoch, streamLast] = (args.stream ?? ":").split(":");
let nextSeq = streamEpoch ? BigInt(streamLast) + 1n : null;
const offset = () => `${streamEpoch}-${(nextSeq++).toString(16).padStart(16, "0")}`;
const secret = process.env.JWT_SECRET;
if (!url || !pid || !secret) throw new Error("--url, --pid and JWT_SECRET are required");

const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");
function token(sub) {
  const head = b64({ alg: "HS256", typ: "JWT" });
  const body = b64({ sub, exp: Math.floor(Date.now() / 1000) + 3600 });
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

function rssKb(p) {
  const line = readFileSync(`/proc/${p}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line.split(/\s+/)[1]);
}
function cpuTicks(p) {
  const fields = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in 1/100 s
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stderr.write(`[${label}] ${msg}\n`);

// --- connect -------------------------------------------------------------
const baselineRss = rssKb(pid);
const users = Array.from({ length: sockets }, () => randomUUID());
const latencies = [];
let delivered = 0;
let connected = 0;
let refused = 0;
const clients = [];
const t0 = Date.now();
for (let i = 0; i < sockets; i += 250) {
  const batch = users.slice(i, i + 250).map(
    (user) =>
      new Promise((resolve) => {
        const s = io(url, { auth: { token: token(user) }, transports: ["websocket"], reconnection: false, timeout: 20000 });
        s.on("connect", () => { connected++; resolve(); });
        s.on("connect_error", () => { refused++; resolve(); });
        s.on("progress:updated", (p) => {
          delivered++;
          latencies.push(Date.now() - p.sent_at_ms);
        });
        clients.push(s);
      }),
  );
  await Promise.all(batch);
}
log(`${connected} connected, ${refused} refused in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
await sleep(1000);
const connectedRss = rssKb(pid);

// --- publish over a raw RESP connection ------------------------------------
const redis = net.createConnection({ host: redisHost, port: Number(redisPort) });
redis.on("data", () => {});
await new Promise((r) => redis.once("connect", r));
const channel = `${prefix}events:progress`;
const resp = (...parts) => `*${parts.length}\r\n` + parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join("");

const cpuStart = cpuTicks(pid);
const start = Date.now();
let sent = 0;
const tickMs = 10;
const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
const total = rate * seconds;
while (sent < total) {
  const due = Math.min(total, Math.floor(((Date.now() - start) / 1000) * rate) + perTick);
  let chunk = "";
  for (; sent < due; sent++) {
    const user = users[(sent * 7919) % sockets];
    const now = Date.now();
    const event = {
      course_id: "0123b6d1-fe4b-4cec-84e3-08312f2a32e5", lesson_id: randomUUID(), completed: true,
      completed_lessons: 1, total_lessons: 40, percent: 2.5, user_id: user, at: new Date(now).toISOString(), sent_at_ms: now,
    };
    if (nextSeq !== null) event.offset = offset();
    chunk += resp("PUBLISH", channel, JSON.stringify(event));
  }
  if (chunk) redis.write(chunk);
  await sleep(tickMs);
}
const publishSeconds = (Date.now() - start) / 1000;
await sleep(2000); // let the last events arrive
const cpuSeconds = (cpuTicks(pid) - cpuStart) / 100;
const elapsed = (Date.now() - start) / 1000;

latencies.sort((a, b) => a - b);
const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.round((latencies.length - 1) * p))] : null;
const summary = {
  label,
  sockets_requested: sockets,
  connections_held: clients.filter((c) => c.connected).length,
  events_sent: sent,
  events_delivered: delivered,
  events_lost: sent - delivered,
  delivered_per_s: Math.round(delivered / publishSeconds),
  latency_ms: { p50: pct(0.5), p95: pct(0.95), p99: pct(0.99), max: latencies.at(-1) ?? null },
  server_rss_mb: Math.round(connectedRss / 1024),
  server_rss_per_socket_kb: Number(((connectedRss - baselineRss) / Math.max(1, connected)).toFixed(1)),
  server_cpu_percent_of_a_core: Number(((cpuSeconds / elapsed) * 100).toFixed(1)),
};
console.log(JSON.stringify(summary));
redis.end();
for (const c of clients) c.close();
process.exit(0);
