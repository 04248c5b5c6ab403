// The durable stream's benchmark (not a test), against the real services:
//
//   node stream-bench.mjs --mode e2e    --api URL --realtime URL --users FILE [--rate 1000] [--seconds 10]
//   node stream-bench.mjs --mode replay --api URL --users FILE --node-bin PATH --node-port PORT [--rate 1000] [--outage-ms 2000]
//   node stream-bench.mjs --mode logout --api URL --realtime URL,URL --users FILE [--sessions 1000]
//
// FILE: one line per user, `user_id<TAB>course_id<TAB>lesson_id,lesson_id,…` (users
// enrolled in that course). JWT_SECRET signs tokens. Prints a JSON summary on the
// last line.
//
// - e2e: one socket per user (its own room), progress PUTs through the API at
//   --rate for --seconds; PUT answered → event on the socket, p50/p99, and loss.
// - replay: the same sockets on a node this tool starts (--node-bin, --node-port),
//   which it kills with SIGKILL; PUTs continue for --outage-ms; then it restarts the
//   node. Clients reconnect by themselves with their last offset (auth callback).
//   Measured: restart → every socket caught up (got every event of its user written
//   meanwhile), and the node's Postgres queries (its db_queries_total).
// - logout: --sessions sockets, each its own session, spread over the nodes; each
//   session is signed out through the API in turn; logout sent → session:ended.
import { createHmac, randomUUID } from "node:crypto";
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { io } from "socket.io-client";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const mode = args.mode;
const api = args.api;
const rate = Number(args.rate ?? 1000);
const seconds = Number(args.seconds ?? 10);
const secret = process.env.JWT_SECRET;
if (!mode || !api || !secret || !args.users) throw new Error("--mode, --api, --users and JWT_SECRET are required");
const users = readFileSync(args.users, "utf8").trim().split("\n").map((l) => {
  const [id, course, lessons] = l.split("\t");
  return { id, course, lessons: lessons.split(",") };
});

const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");
function token(sub, session) {
  const head = b64({ alg: "HS256", typ: "JWT" });
  const claims = { sub, exp: Math.floor(Date.now() / 1000) + 3600 };
  if (session) claims.session_id = session;
  const body = b64(claims);
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stderr.write(`[${mode}] ${msg}\n`);
const pct = (list, p) => {
  const s = [...list].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.round((s.length - 1) * p))] : null;
};
const done = (summary) => {
  console.log(JSON.stringify(summary));
  process.exit(0);
};

/** One socket per user, reconnecting with its last offset; resolves once all are connected. */
async function connectAll(url, list, onEvent, extra = {}) {
  const states = [];
  for (let i = 0; i < list.length; i += 250) {
    await Promise.all(
      list.slice(i, i + 250).map(
        (u) =>
          new Promise((resolve) => {
            const st = { user: u, offset: undefined, connects: 0 };
            const tok = token(u.id, extra.session?.(u));
            const s = io(url, {
              auth: (cb) => cb(st.offset ? { token: tok, offset: st.offset } : { token: tok }),
              transports: ["websocket"],
              reconnection: extra.reconnection ?? false,
              reconnectionDelay: 200,
              reconnectionDelayMax: 1000,
              timeout: 20000,
            });
            st.socket = s;
            s.on("connect", () => { st.connects++; resolve(); });
            s.on("connect_error", () => resolve());
            for (const name of ["progress:updated", "session:ended", "resync"]) {
              s.on(name, (data) => {
                if (data?.offset && (!st.offset || data.offset > st.offset)) st.offset = data.offset;
                onEvent(st, name, data);
              });
            }
            states.push(st);
          }),
      ),
    );
  }
  return states;
}

/** Progress PUTs at `rate` for `ms`, open loop; calls `answered(user, body, sentAt, answeredAt)`. */
async function writeLoad(list, ms, answered) {
  let sent = 0;
  let failed = 0;
  const inflight = new Set();
  const start = Date.now();
  const toggles = new Map();
  while (Date.now() - start < ms) {
    const due = Math.floor(((Date.now() - start) / 1000) * rate);
    for (; sent < due; sent++) {
      const u = list[Math.floor(Math.random() * list.length)];
      const lesson = u.lessons[Math.floor(Math.random() * u.lessons.length)];
      const key = `${u.id}|${lesson}`;
      const completed = !toggles.get(key);
      toggles.set(key, completed);
      const t0 = Date.now();
      const p = fetch(`${api}/api/courses/${u.course}/lessons/${lesson}/progress`, {
        method: "PUT",
        headers: { authorization: `Bearer ${token(u.id)}`, "content-type": "application/json" },
        body: JSON.stringify({ completed }),
      })
        .then(async (res) => {
          const t1 = Date.now();
          if (res.status === 200) answered(u, await res.json(), t0, t1);
          else failed++;
        })
        .catch(() => failed++)
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await sleep(5);
  }
  await Promise.all(inflight);
  return { sent, failed, seconds: (Date.now() - start) / 1000 };
}

/** A Prometheus histogram's buckets (cumulative counts by upper bound) from /metrics. */
async function histogram(url, name) {
  if (!url) return null;
  const text = await (await fetch(`${url}/metrics`)).text();
  const buckets = new Map();
  for (const line of text.split("\n")) {
    const m = line.match(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)`));
    if (m) buckets.set(m[1], Number(m[2]));
  }
  return buckets;
}
/** Quantile `q` of the observations between two bucket snapshots: the upper bound of its bucket. */
function bucketQuantile(before, after, q) {
  if (!after) return null;
  const rows = [...after.entries()].map(([le, n]) => [le, n - (before?.get(le) ?? 0)]);
  const total = rows.find(([le]) => le === "+Inf")?.[1] ?? 0;
  if (!total) return null;
  const hit = rows.find(([, n]) => n >= q * total);
  return hit ? (hit[0] === "+Inf" ? "+Inf" : `≤ ${Number(hit[0]) * 1000} ms`) : null;
}

const keyOf = (user, d) => `${user}|${d.lesson_id}|${d.completed}|${d.completed_lessons}`;

if (mode === "e2e") {
  const pending = new Map(); // key → [answeredAt, sentAt]
  const early = new Map(); // events that beat their PUT's answer: key → receivedAt
  const answeredToEvent = [];
  const sentToEvent = [];
  let received = 0;
  const states = await connectAll(args.realtime, users, (st, name, d) => {
    if (name !== "progress:updated") return;
    received++;
    const k = keyOf(st.user.id, d);
    const list = pending.get(k);
    if (list?.length) {
      const [t1, t0] = list.shift();
      answeredToEvent.push(Math.max(0, Date.now() - t1));
      sentToEvent.push(Date.now() - t0);
    } else early.set(k, [...(early.get(k) ?? []), Date.now()]);
  });
  log(`${states.filter((s) => s.socket.connected).length} sockets connected`);
  await sleep(1000);
  const lagBefore = await histogram(args.invalidator, "invalidation_lag_seconds");
  const deliveryBefore = await histogram(args.realtime, "realtime_delivery_lag_seconds");
  let answered = 0;
  const load = await writeLoad(users, seconds * 1000, (u, body, t0, t1) => {
    answered++;
    const k = keyOf(u.id, body);
    const beat = early.get(k);
    if (beat?.length) {
      // The event arrived before the HTTP answer: 0 ms after it.
      beat.shift();
      answeredToEvent.push(0);
      sentToEvent.push(Math.max(0, t1 - t0));
    } else pending.set(k, [...(pending.get(k) ?? []), [t1, t0]]);
  });
  await sleep(3000);
  const lagAfter = await histogram(args.invalidator, "invalidation_lag_seconds");
  const deliveryAfter = await histogram(args.realtime, "realtime_delivery_lag_seconds");
  const missing = [...pending.values()].reduce((a, l) => a + l.length, 0);
  done({
    mode, sockets: states.length, rate, ...load, answered, received, missing,
    // Server side, from the services' histograms (bucket bounds): outbox record
    // written → batch applied (invalidator), and the PUT's `at` → emitted (node).
    record_to_applied: { p50: bucketQuantile(lagBefore, lagAfter, 0.5), p99: bucketQuantile(lagBefore, lagAfter, 0.99) },
    put_to_emitted: { p50: bucketQuantile(deliveryBefore, deliveryAfter, 0.5), p99: bucketQuantile(deliveryBefore, deliveryAfter, 0.99) },
    put_answered_to_event_ms: { p50: pct(answeredToEvent, 0.5), p99: pct(answeredToEvent, 0.99), max: pct(answeredToEvent, 1) },
    put_sent_to_event_ms: { p50: pct(sentToEvent, 0.5), p99: pct(sentToEvent, 0.99) },
  });
}

async function waitPort(port, ms = 30000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, "127.0.0.1", () => { s.end(); r(true); });
      s.on("error", () => r(false));
    });
    if (ok) return true;
    await sleep(20);
  }
  return false;
}

if (mode === "replay") {
  const port = Number(args["node-port"]);
  const outage = Number(args["outage-ms"] ?? 2000);
  const startNode = () => spawn(args["node-bin"], [], { env: { ...process.env, PORT: String(port) }, stdio: "ignore" });
  if (await waitPort(port, 100)) throw new Error(`port ${port} is taken`);
  let node = startNode();
  process.on("exit", () => node.kill("SIGKILL"));
  await waitPort(port);
  const url = `http://127.0.0.1:${port}`;
  const owed = new Map(); // user → keys written during the outage
  let caughtUp = 0;
  let resyncs = 0;
  let restartedAt = null;
  const lastCatchUp = [];
  const states = await connectAll(url, users, (st, name, d) => {
    if (name === "resync") resyncs++;
    if (name !== "progress:updated" || !st.owed) return;
    st.owed.delete(keyOf(st.user.id, d));
    if (st.owed.size === 0 && !st.caught) {
      st.caught = true;
      caughtUp++;
      if (restartedAt) lastCatchUp.push(Date.now() - restartedAt);
    }
  }, { reconnection: true });
  log(`${states.filter((s) => s.socket.connected).length} sockets connected; killing the node`);
  await sleep(1000);
  // One event each, so every socket has an offset to come back with: one
  // statement in SQL (DATABASE_URL) touching a lesson of every bench user
  // (bench-stream.sh names them 'bench N').
  for (const st of states) st.owed = null;
  execFileSync("psql", [process.env.DATABASE_URL, "-Xq", "-v", "ON_ERROR_STOP=1", "-c",
    `INSERT INTO lesson_progress (user_id, lesson_id)
       SELECT e.user_id, (SELECT l.id FROM lessons l JOIN modules m ON m.id = l.module_id
                           WHERE m.course_id = e.course_id ORDER BY l.id DESC LIMIT 1)
       FROM enrollments e JOIN profiles p ON p.id = e.user_id WHERE p.display_name LIKE 'bench %'
     ON CONFLICT (user_id, lesson_id) DO UPDATE SET completed_at = now()`]);
  const offered = Date.now();
  while (states.some((s) => !s.offset) && Date.now() - offered < 30_000) await sleep(50);
  const withOffset = states.filter((s) => s.offset).length;
  node.kill("SIGKILL");
  const load = await writeLoad(users, outage, (u, body) => {
    owed.set(u.id, [...(owed.get(u.id) ?? []), keyOf(u.id, body)]);
  });
  for (const st of states) {
    st.owed = new Set(owed.get(st.user.id) ?? []);
    st.caught = st.owed.size === 0;
    if (st.caught) caughtUp++;
  }
  const owedSockets = states.filter((s) => !s.caught).length;
  const owedEvents = [...owed.values()].reduce((a, l) => a + l.length, 0);
  node = startNode();
  await waitPort(port);
  restartedAt = Date.now();
  const deadline = Date.now() + 60_000;
  while (caughtUp < states.length && Date.now() < deadline) await sleep(20);
  const allCaughtUpMs = caughtUp === states.length ? Date.now() - restartedAt : null;
  await sleep(500);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const queryLines = metrics.split("\n").filter((l) => l.startsWith("db_queries_total"));
  const queries = queryLines.reduce((a, l) => a + Number(l.split(" ").pop()), 0);
  if (!queryLines.length) log("the node's /metrics has no db_queries_total");
  const reconnected = states.filter((s) => s.connects >= 2).length;
  node.kill("SIGTERM");
  done({
    mode, sockets: states.length, with_offset: withOffset, outage_ms: outage, events_missed: owedEvents,
    sockets_owed_events: owedSockets, reconnected, caught_up: caughtUp, resyncs,
    restart_to_all_caught_up_ms: allCaughtUpMs,
    restart_to_caught_up_ms: { p50: pct(lastCatchUp, 0.5), p99: pct(lastCatchUp, 0.99) },
    node_postgres_queries_after_restart: queries, writes_during_outage: load.sent,
  });
}

if (mode === "logout") {
  const nodes = args.realtime.split(",");
  const n = Number(args.sessions ?? 1000);
  const list = Array.from({ length: n }, (_, i) => ({ ...users[i % users.length], session: randomUUID(), i }));
  const ended = new Map();
  const states = [];
  for (const [k, url] of nodes.entries()) {
    const mine = list.filter((u) => u.i % nodes.length === k);
    states.push(...(await connectAll(url, mine, (st, name, d) => {
      if (name === "session:ended" && d.reason === "revoked") ended.set(st.user.session, Date.now());
    }, { session: (u) => u.session })));
  }
  log(`${states.filter((s) => s.socket.connected).length} sessions connected on ${nodes.length} nodes`);
  await sleep(1000);
  const latencies = [];
  let failed = 0;
  for (const st of states) {
    const t0 = Date.now();
    const res = await fetch(`${api}/api/auth/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${token(st.user.id, st.user.session)}` },
    });
    if (res.status !== 204) { failed++; continue; }
    const end = Date.now() + 5000;
    while (!ended.has(st.user.session) && Date.now() < end) await sleep(1);
    if (ended.has(st.user.session)) latencies.push(ended.get(st.user.session) - t0);
  }
  await sleep(500);
  const disconnected = states.filter((s) => !s.socket.connected).length;
  done({
    mode, sessions: states.length, nodes: nodes.length, logouts_failed: failed, ended: latencies.length, disconnected,
    logout_to_session_ended_ms: { p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), max: pct(latencies, 1) },
  });
}
