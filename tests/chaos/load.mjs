// The fault campaign's load (scripts/chaos.sh): a realistic mix of course reads,
// enrollments and progress writes over HTTP, and Socket.IO clients (the official
// socket.io-client) on every realtime node, each following courses. Everything is
// recorded for tests/chaos/check.mjs:
//
//   plan.json         who writes what, which socket follows which courses
//   requests.ndjson   one line per request: t0/t1 (ms since epoch), status, X-Cache,
//                     and for writes what was written and the answer
//   sockets.ndjson    one line per socket happening: connect, ready (subscriptions
//                     acknowledged), disconnect, every event received, with time
//
//   node load.mjs --db db.json --tokens tokens.tsv --api URL --realtime URL1,URL2 --out DIR
//                 [--rate 120] [--max-requests 50000] [--max-seconds 900]
//                 [--writers 40] [--readers 6]
//
// Bounded: at most --rate requests/s and --max-requests in all, and it stops by
// itself after --max-seconds. SIGTERM (or SIGINT) stops the load: requests in
// flight finish, events get two more seconds to arrive, sockets close, files flush.
import { io } from "socket.io-client";
import fs from "node:fs";
import path from "node:path";

const args = parseArgs(process.argv.slice(2));
const API = args.api;
const NODES = args.realtime.split(",");
const RATE = Number(args.rate ?? 120);
const MAX_REQUESTS = Number(args["max-requests"] ?? 50_000);
const MAX_SECONDS = Number(args["max-seconds"] ?? 900);
const WRITERS = Number(args.writers ?? 40);
const READERS = Number(args.readers ?? 6);
const OBSERVERS = Number(args.observers ?? 8);
const OUT = args.out;
const REQUEST_TIMEOUT_MS = 10_000;
const DRAIN_MS = 3_000;

function parseArgs(list) {
  const out = {};
  for (let i = 0; i < list.length; i += 2) {
    if (!list[i].startsWith("--")) throw new Error(`unexpected argument ${list[i]}`);
    out[list[i].slice(2)] = list[i + 1];
  }
  for (const need of ["db", "tokens", "api", "realtime", "out"]) {
    if (!out[need]) throw new Error(`--${need} is required`);
  }
  return out;
}

// Deterministic choices, so two runs issue the same kind of load.
let seed = Number(args.seed ?? 20261127);
function random() {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}
const pick = (list) => list[Math.floor(random() * list.length)];

// ---- the plan: who writes where, who follows what ----------------------------
const db = JSON.parse(fs.readFileSync(args.db, "utf8"));
const tokens = new Map(
  fs.readFileSync(args.tokens, "utf8").trim().split("\n").map((line) => line.split("\t")),
);
const token = (id) => {
  const t = tokens.get(id);
  if (!t) throw new Error(`no token for ${id}`);
  return t;
};
const published = db.courses; // [{id, lessons:[id]}], published only
const lessonsOf = new Map(published.map((c) => [c.id, c.lessons]));
const students = db.students; // [{id, enrolled:[course id]}] in seed order

// Writers keep their seeded enrollments ("stable": never left, so their progress
// writes always apply) and churn one more course, enrolling and leaving it.
const writers = students.slice(0, WRITERS).map((s, i) => {
  const stable = s.enrolled.filter((c) => lessonsOf.has(c));
  const candidates = published.filter((c) => !s.enrolled.includes(c.id));
  return { id: s.id, stable, churn: candidates[(i * 5) % candidates.length].id };
});
const observers = students.slice(students.length - OBSERVERS).map((s) => ({
  id: s.id,
  courses: s.enrolled.filter((c) => lessonsOf.has(c)),
}));
const followed = [...new Set(writers.flatMap((w) => [...w.stable, w.churn]))];

// Sockets, spread over the nodes: on every node an admin following every course
// the writers touch, a share of the writers (their own room, their stable courses)
// and of the observers (students who only watch their courses).
const socketSpecs = [];
NODES.forEach((url, node) => {
  socketSpecs.push({ name: `admin@${node}`, node, url, user: db.admin_id, courses: followed });
});
writers.forEach((w, i) => {
  if (i % 2 === 0) {
    const node = (i / 2) % NODES.length;
    socketSpecs.push({ name: `writer${i}@${node}`, node, url: NODES[node], user: w.id, courses: w.stable });
  }
});
observers.forEach((o, i) => {
  const node = i % NODES.length;
  socketSpecs.push({ name: `observer${i}@${node}`, node, url: NODES[node], user: o.id, courses: o.courses });
});

fs.mkdirSync(OUT, { recursive: true });
fs.writeFileSync(
  path.join(OUT, "plan.json"),
  JSON.stringify({ api: API, nodes: NODES, writers, observers, readers: READERS, sockets: socketSpecs, courses: published.map((c) => c.id) }, null, 1),
);
const requestsLog = fs.createWriteStream(path.join(OUT, "requests.ndjson"));
const socketsLog = fs.createWriteStream(path.join(OUT, "sockets.ndjson"));
const logSocket = (obj) => socketsLog.write(JSON.stringify({ t: Date.now(), ...obj }) + "\n");

// ---- sockets -------------------------------------------------------------------
// The careful client of docs/api.md: `auth` is a callback, so every reconnection
// carries a token and the offset to resume from; each room resumes from the
// greatest offset received while it was live (offsets of one stream compare as
// strings), and a subscription refused for a while (Postgres down) is retried
// with the offset from when its course stopped being live, so nothing is owed
// twice or lost between.
const sockets = socketSpecs.map((spec) => {
  const state = { spec, socket: null, ready: false, offset: undefined, resume: undefined, following: new Set(), courseResume: new Map() };
  const auth = (cb) => {
    const from = state.resume ?? state.offset;
    cb(from ? { token: token(spec.user), offset: from } : { token: token(spec.user) });
  };
  const socket = io(spec.url, {
    auth,
    transports: ["websocket"],
    reconnection: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 2000,
    timeout: 5000,
  });
  state.socket = socket;
  async function subscribe(course_id) {
    const offset = state.courseResume.get(course_id) ?? state.offset;
    let ack;
    try {
      ack = await socket.timeout(5000).emitWithAck("course:subscribe", offset ? { course_id, offset } : { course_id });
    } catch (e) {
      ack = { ok: false, error: `no ack: ${e.message}` };
    }
    if (ack?.ok) {
      state.following.add(course_id);
      state.courseResume.delete(course_id);
      logSocket({ sock: spec.name, type: "subscribed", course_id, recovered: ack.recovered ?? null });
    } else logSocket({ sock: spec.name, type: "subscribe_failed", course_id, ack });
    return Boolean(ack?.ok);
  }
  socket.on("connect", async () => {
    state.resume = undefined;
    logSocket({ sock: spec.name, type: "connect", id: socket.id });
    const ok = [];
    for (const course_id of spec.courses) if (await subscribe(course_id)) ok.push(course_id);
    if (socket.connected) {
      state.ready = true;
      logSocket({ sock: spec.name, type: "ready", courses: ok });
    }
  });
  // Subscriptions refused (Postgres down during a reconnect) are tried again.
  setInterval(async () => {
    if (!socket.connected || !state.ready) return;
    for (const course_id of spec.courses) if (!state.following.has(course_id)) await subscribe(course_id);
  }, 1000).unref();
  socket.on("disconnect", (reason) => {
    state.ready = false;
    state.resume = state.offset;
    for (const c of state.following) if (!state.courseResume.has(c)) state.courseResume.set(c, state.offset);
    state.following.clear();
    logSocket({ sock: spec.name, type: "disconnect", reason });
  });
  socket.on("connect_error", (err) => logSocket({ sock: spec.name, type: "connect_error", message: err.message }));
  for (const name of ["progress:updated", "course:updated", "resync", "session:ended", "course:unsubscribed"]) {
    socket.on(name, (data) => {
      if (typeof data?.offset === "string" && (!state.offset || data.offset > state.offset)) state.offset = data.offset;
      logSocket({ sock: spec.name, type: "event", name, data });
    });
  }
  return state;
});

// ---- HTTP ----------------------------------------------------------------------
let sent = 0;
let nextSlot = Date.now();
let stopping = false;
const counts = {};

/** Waits for the next request slot; false once the load must stop. */
async function slot() {
  if (stopping || sent >= MAX_REQUESTS) return false;
  const now = Date.now();
  nextSlot = Math.max(nextSlot + 1000 / RATE, now);
  if (nextSlot > now) await sleep(nextSlot - now);
  if (stopping || sent >= MAX_REQUESTS) return false;
  sent += 1;
  return true;
}

async function request(vu, kind, method, pathname, { user, body } = {}) {
  const headers = { accept: "application/json" };
  if (user) headers.authorization = `Bearer ${token(user)}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const rec = { vu, kind, method, path: pathname, user: user ?? null, t0: Date.now() };
  if (body !== undefined) rec.body = body;
  try {
    const res = await fetch(API + pathname, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    rec.t1 = Date.now();
    rec.status = res.status;
    rec.cache = res.headers.get("x-cache");
    if (method !== "GET" && res.status < 300 && text) rec.res = JSON.parse(text);
    if (res.status >= 400) {
      try {
        rec.error_code = JSON.parse(text).error?.code;
      } catch {
        rec.error_code = "not-json";
      }
    }
  } catch (e) {
    rec.t1 = Date.now();
    rec.status = 0;
    rec.error = e.name === "TimeoutError" ? "timeout" : `${e.name}: ${e.cause?.code ?? e.message}`;
  }
  requestsLog.write(JSON.stringify(rec) + "\n");
  const key = `${kind} ${rec.status}`;
  counts[key] = (counts[key] ?? 0) + 1;
  return rec;
}

async function read(vu, user) {
  const r = random();
  if (r < 0.75) await request(vu, "course", "GET", `/api/courses/${pick(published).id}`, { user });
  else await request(vu, "listing", "GET", `/api/courses?page=${1 + Math.floor(random() * 2)}&per_page=20`, { user });
}

async function writerLoop(w, vu) {
  // What this writer believes about its churn enrollment; null = unknown (an
  // answer was lost), then the next attempt finds out.
  let enrolled = false;
  while (await slot()) {
    const r = random();
    if (r < 0.35) {
      await read(vu, random() < 0.2 ? w.id : undefined);
    } else if (r < 0.42) {
      await request(vu, "me", "GET", "/api/me", { user: w.id });
    } else if (r < 0.82) {
      const onChurn = enrolled !== false && random() < 0.25;
      const course = onChurn ? w.churn : pick(w.stable);
      const lesson = pick(lessonsOf.get(course));
      const rec = await request(vu, "progress", "PUT", `/api/courses/${course}/lessons/${lesson}/progress`, {
        user: w.id,
        body: { completed: random() < 0.6 },
      });
      if (onChurn && rec.status === 403) enrolled = false;
      else if (onChurn && rec.status === 200) enrolled = true;
    } else {
      const method = enrolled === false ? "POST" : enrolled === true ? "DELETE" : random() < 0.5 ? "POST" : "DELETE";
      const rec = await request(vu, method === "POST" ? "enroll" : "unenroll", method, `/api/courses/${w.churn}/enroll`, {
        user: w.id,
      });
      if ([201, 409].includes(rec.status)) enrolled = true;
      else if (rec.status === 204 || (method === "DELETE" && rec.status === 404)) enrolled = false;
      else if (rec.status === 0 || rec.status >= 500) enrolled = null;
    }
  }
}

async function readerLoop(vu) {
  while (await slot()) await read(vu);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Host stalls: this process's event loop is checked every 50 ms, and a tick more
// than 500 ms late is recorded. On a machine shared with heavier work every process
// of the campaign stalls together (a trivial SQL statement then takes seconds, and a
// 250 ms Redis timeout makes the API refuse writes); check.mjs reports failures in
// such a stall apart from the outages it caused on purpose.
const stalls = [];
let lastTick = Date.now();
const ticker = setInterval(() => {
  const now = Date.now();
  if (now - lastTick > 550) stalls.push({ from: lastTick + 50, to: now });
  lastTick = now;
}, 50);

async function main() {
  const started = Date.now();
  // Every socket connected and subscribed before the first request.
  while (!sockets.every((s) => s.ready)) {
    if (Date.now() - started > 30_000) {
      const late = sockets.filter((s) => !s.ready).map((s) => s.spec.name);
      console.error(`sockets not ready after 30 s: ${late.join(", ")}`);
      process.exit(2);
    }
    await sleep(50);
  }
  fs.writeFileSync(path.join(OUT, "load.ready"), String(Date.now()));
  console.error(`load: ${sockets.length} sockets ready on ${NODES.length} nodes; ${WRITERS} writers, ${READERS} readers at ${RATE} req/s`);
  const deadline = setTimeout(() => stop("max-seconds"), MAX_SECONDS * 1000);
  const loops = [
    ...writers.map((w, i) => writerLoop(w, `w${i}`)),
    ...Array.from({ length: READERS }, (_, i) => readerLoop(`r${i}`)),
  ];
  await Promise.all(loops);
  clearTimeout(deadline);
  clearInterval(ticker);
  const stoppedAt = Date.now();
  await sleep(DRAIN_MS);
  for (const s of sockets) logSocket({ sock: s.spec.name, type: "close" });
  for (const s of sockets) s.socket.close();
  await Promise.all([requestsLog, socketsLog].map((stream) => new Promise((resolve) => stream.end(resolve))));
  fs.writeFileSync(
    path.join(OUT, "load.json"),
    JSON.stringify({ started, stopped: stoppedAt, requests: sent, rate: RATE, max_requests: MAX_REQUESTS, counts, stalls }, null, 1),
  );
  console.error(`load: ${sent} requests sent; stopped`);
  process.exit(0);
}

function stop(why) {
  if (!stopping) console.error(`load: stopping (${why})`);
  stopping = true;
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
