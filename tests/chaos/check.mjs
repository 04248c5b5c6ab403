// The fault campaign's verdict (scripts/chaos.sh): reads what load.mjs recorded and
// the fault timeline, waits for quiescence, compares with Postgres and with fresh
// reads, prints a summary and writes report.json. Exit 1 when a check fails.
//
//   node check.mjs --run DIR --api URL --invalidator URL --redis-port N --prefix P
//                  --database-url URL --grace-ms N --campaign-start MS --config JSON
//
// Definitions (also in docs/reliability.md, "Checks"):
// - A write is acknowledged when it got a 2xx. Its outcome is unknown when it got a
//   5xx or no answer (timeout, reset); a 4xx wrote nothing. For every key a writer
//   touched (user × lesson for progress, user × course for enrollment) the database
//   must hold the value of the last acknowledged write, or that of an unknown-outcome
//   write issued after it. An enrollment acknowledged last must carry the
//   `enrolled_at` its 201 returned.
// - Outage window of a fault: from just before it is injected to when the dependency
//   answers again, plus --grace-ms. 503s and unanswered requests are allowed only
//   when the request overlaps the window of a Postgres fault (any request) or a Redis
//   fault (writes: their revocation check needs Redis). Any other 5xx fails.
// - Every progress PUT answered 200 has its event (stored in the PUT's transaction,
//   published by the invalidator, replayed by the nodes). A socket, across its
//   reconnections, must receive once each one of its own user sent after it first
//   connected and, for staff (the admin), each one of a course it follows sent after
//   it first followed it; through every fault, with no exemption. Events are matched
//   by (user, lesson, completed, completed_lessons); a received event that matches
//   no request, or one received twice (same offset), fails; a student receiving
//   another student's progress fails; any resync fails.
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].slice(2)] = process.argv[i + 1];
const RUN = args.run;
const API = args.api;
const GRACE = Number(args["grace-ms"] ?? 5000);
const PREFIX = args.prefix;
const config = JSON.parse(args.config ?? "{}");

const readNdjson = (file) =>
  fs.existsSync(file)
    ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))
    : [];
const plan = JSON.parse(fs.readFileSync(path.join(RUN, "plan.json"), "utf8"));
const load = JSON.parse(fs.readFileSync(path.join(RUN, "load.json"), "utf8"));
const requests = readNdjson(path.join(RUN, "requests.ndjson"));
const socketLog = readNdjson(path.join(RUN, "sockets.ndjson"));
const faults = readNdjson(path.join(RUN, "faults.ndjson"));
const tokens = new Map(
  fs.readFileSync(path.join(RUN, "tokens.tsv"), "utf8").trim().split("\n").map((l) => l.split("\t")),
);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const checks = [];
const check = (name, pass, detail) => checks.push({ name, pass: Boolean(pass), detail });
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function sql(query) {
  const out = execFileSync("psql", [args["database-url"], "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", query], {
    encoding: "utf8",
    timeout: 30_000,
  });
  return JSON.parse(out.trim() || "null");
}
function redisDel(keys) {
  for (let i = 0; i < keys.length; i += 100) {
    execFileSync("redis-cli", ["-p", args["redis-port"], "DEL", ...keys.slice(i, i + 100)], { timeout: 10_000 });
  }
}
async function get(pathname, user) {
  const headers = user ? { authorization: `Bearer ${tokens.get(user)}` } : {};
  const res = await fetch(API + pathname, { headers, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, cache: res.headers.get("x-cache"), body: res.status === 200 ? JSON.parse(text) : text };
}
const pct = (list, p) => {
  if (list.length === 0) return null;
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
// µs since the epoch of an RFC 3339 time with up to 9 fraction digits.
function micros(text) {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)$/.exec(text);
  if (!m) return null;
  const frac = (m[2] ?? "").padEnd(6, "0").slice(0, 6);
  return BigInt(Date.parse(m[1] + m[3])) * 1000n + BigInt(frac);
}

const isWrite = (r) => r.method !== "GET";
const isUnknown = (r) => r.status === 0 || r.status >= 500;
const isOk = (r) => r.status >= 200 && r.status < 300;

// ---- quiescence --------------------------------------------------------------------
async function quiesce() {
  const start = Date.now();
  let last = null;
  while (Date.now() - start < 60_000) {
    try {
      const res = await fetch(`${args.invalidator}/health`, { signal: AbortSignal.timeout(2000) });
      last = await res.json();
      if (last.status === "ok" && last.outbox?.backlog === 0) return { ms: Date.now() - start, health: last };
    } catch (e) {
      last = String(e);
    }
    await sleep(100);
  }
  return { ms: null, health: last };
}
const quiescence = await quiesce();
check("invalidator backlog empty after the load", quiescence.ms !== null, quiescence.ms === null ? quiescence.health : `in ${quiescence.ms} ms`);
await sleep(300);

// ---- 1. statuses and outage windows ---------------------------------------------------
const statusByKind = {};
for (const r of requests) {
  const k = (statusByKind[r.kind] ??= {});
  const s = r.status === 0 ? `error:${r.error}` : String(r.status);
  k[s] = (k[s] ?? 0) + 1;
}
const windows = faults.map((f) => ({ ...f, from: f.start, to: f.end + GRACE }));
const overlaps = (r, w) => r.t0 <= w.to && r.t1 >= w.from;
// Host stalls the load generator measured, widened by a second: the services stall
// with it, not necessarily at the same instant.
const stalls = load.stalls ?? [];
const stallWindows = stalls.map((s) => ({ from: s.from - 1000, to: s.to + 1000 }));
const inStall = [];
const unexplained = [];
const other5xx = [];
const refused = [];
const failuresByFault = new Map(faults.map((f) => [f, { read: 0, write: 0, last_t1: null }]));
for (const r of requests) {
  if (r.status >= 500 && r.status !== 503) other5xx.push(r);
  if (r.status === 401) refused.push(r);
  if (r.status !== 503 && r.status !== 0) continue;
  const w = windows.find((w) => overlaps(r, w) && (w.fault === "postgres" || (w.fault === "redis" && isWrite(r))));
  if (!w) {
    if (stallWindows.some((s) => overlaps(r, s))) inStall.push(r);
    else unexplained.push(r);
    continue;
  }
  const tally = failuresByFault.get(faults[windows.indexOf(w)]);
  tally[isWrite(r) ? "write" : "read"] += 1;
  tally.last_t1 = Math.max(tally.last_t1 ?? 0, r.t1);
}
const brief = (r) => ({ t0: r.t0, t1: r.t1, method: r.method, path: r.path, status: r.status, error: r.error ?? r.error_code });
check("no 5xx but 503", other5xx.length === 0, other5xx.length ? other5xx.slice(0, 5).map(brief) : "none");
check(
  "503s and unanswered requests only in outage windows",
  unexplained.length === 0,
  unexplained.length
    ? { count: unexplained.length, first: unexplained.slice(0, 5).map(brief) }
    : `${requests.filter((r) => r.status === 503 || r.status === 0).length - inStall.length} inside outage windows (grace ${GRACE} ms)` +
        (inStall.length ? `, ${inStall.length} inside host stalls (see below)` : ""),
);
check("no valid token refused (401)", refused.length === 0, refused.length ? refused.slice(0, 5).map(brief) : "none");

// Course details the load never writes to (no writer's churn course) are only
// ever expired, never invalidated: once cached, a Postgres outage must answer
// them STALE, not 503. "Cached" = answered 200 since the last Redis round
// ended (a Redis restart empties it) and before the failure.
const churned = new Set(plan.writers.map((w) => w.churn));
const redisEnds = windows.filter((w) => w.fault === "redis").map((w) => w.to);
const lastOk = new Map();
const staleAnswers = { count: 0 };
const failedCached = [];
for (const r of [...requests].sort((a, b) => a.t0 - b.t0)) {
  if (r.kind !== "course") continue;
  const id = r.path.split("/")[3];
  if (churned.has(id)) continue;
  if (r.status === 200) {
    lastOk.set(r.path, r.t1);
    if (r.cache === "STALE") staleAnswers.count += 1;
    continue;
  }
  const inPg = windows.some((w) => w.fault === "postgres" && overlaps(r, w));
  const since = lastOk.get(r.path);
  const afterRedis = Math.max(0, ...redisEnds.filter((t) => t <= r.t0));
  if (inPg && since !== undefined && since > afterRedis && since < r.t0) failedCached.push(r);
}
check(
  "cached course reads survive the Postgres outage (STALE)",
  failedCached.length === 0,
  failedCached.length ? failedCached.slice(0, 5).map(brief) : `${staleAnswers.count} answered STALE, none failed`,
);

// ---- 2. acknowledged writes in Postgres -----------------------------------------------
const writers = plan.writers;
const writerIds = writers.map((w) => w.id).filter((id) => uuid.test(id));
const idList = writerIds.map((id) => `'${id}'`).join(",");
const dbEnrollments = new Map(
  (sql(`SELECT coalesce(json_agg(json_build_object('k', user_id || '|' || course_id, 'at',
           to_char(enrolled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))), '[]')
         FROM enrollments WHERE user_id IN (${idList})`)).map((e) => [e.k, e.at]),
);
const dbProgress = new Set(
  sql(`SELECT coalesce(json_agg(user_id || '|' || lesson_id), '[]') FROM lesson_progress WHERE user_id IN (${idList})`),
);
const keyed = new Map(); // key -> attempts in issue order
for (const r of requests.filter(isWrite).sort((a, b) => a.t0 - b.t0)) {
  let key, value;
  if (r.kind === "progress") {
    const [, course, lesson] = /^\/api\/courses\/([^/]+)\/lessons\/([^/]+)\/progress$/.exec(r.path);
    key = `progress|${r.user}|${lesson}`;
    value = r.body.completed;
    r.course = course;
  } else {
    const [, course] = /^\/api\/courses\/([^/]+)\/enroll$/.exec(r.path);
    key = `enrollment|${r.user}|${course}`;
    value = r.method === "POST";
  }
  r.value = value;
  if (!keyed.has(key)) keyed.set(key, []);
  keyed.get(key).push(r);
}
const ackedByKind = { progress: 0, enroll: 0, unenroll: 0 };
let lastWord = 0;
let superseded = 0;
let exact = 0;
let ambiguous = 0;
const lost = [];
for (const [key, attempts] of keyed) {
  const acked = attempts.filter(isOk);
  for (const r of acked) ackedByKind[r.kind] += 1;
  const lastIdx = attempts.findLastIndex(isOk);
  if (lastIdx < 0) continue;
  lastWord += 1;
  superseded += acked.length - 1;
  const last = attempts[lastIdx];
  const later = attempts.slice(lastIdx + 1).filter(isUnknown);
  const allowed = new Set([last.value, ...later.map((r) => r.value)]);
  const [kind, user, id] = key.split("|");
  const actual = kind === "progress" ? dbProgress.has(`${user}|${id}`) : dbEnrollments.has(`${user}|${id}`);
  if (later.length) ambiguous += 1;
  else exact += 1;
  let ok = allowed.has(actual);
  let why = `database has ${actual}, acknowledged ${last.value}${later.length ? ` (or ${later.map((r) => r.value)})` : ""}`;
  if (ok && kind === "enrollment" && last.method === "POST" && later.length === 0) {
    const at = dbEnrollments.get(`${user}|${id}`);
    ok = micros(at) === micros(last.res.enrolled_at);
    why = `enrolled_at ${at} in the database, ${last.res.enrolled_at} acknowledged`;
  }
  if (!ok) lost.push({ key, why, acknowledged_at: last.t1 });
}
const ackedTotal = ackedByKind.progress + ackedByKind.enroll + ackedByKind.unenroll;
const durability = {
  acknowledged: ackedTotal,
  by_kind: ackedByKind,
  keys_with_an_acknowledged_write: lastWord,
  superseded_by_a_later_acknowledged_write: superseded,
  keys_exact: exact,
  keys_with_later_unknown_outcome: ambiguous,
  found: lastWord - lost.length,
  lost: lost.length,
  lost_examples: lost.slice(0, 10),
};
check("every acknowledged write is in Postgres", lost.length === 0, `${lastWord - lost.length}/${lastWord} keys hold their last acknowledged write (${ackedTotal} acknowledged writes, ${superseded} superseded)`);

// ---- 3. no stale cached read --------------------------------------------------------------
const stale = [];
let compared = 0;
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
async function compareFresh(what, pathname, key, user, extra) {
  const cached = await get(pathname, user);
  redisDel([PREFIX + key]);
  // The API's near cache drops the key when Redis's invalidation push reaches it:
  // a delete by another client is visible within the contract's second, not at
  // once (a read racing the push on a busy host answered HIT).
  await sleep(100);
  const fresh = await get(pathname, user);
  compared += 1;
  const problems = [];
  if (cached.status !== 200 || fresh.status !== 200) problems.push(`status ${cached.status}/${fresh.status}`);
  else {
    if (fresh.cache !== "MISS") problems.push(`fresh read answered X-Cache ${fresh.cache}`);
    if (!same(cached.body, fresh.body)) problems.push(`cached (${cached.cache}) differs from a fresh read`);
    problems.push(...(extra?.(fresh.body, cached.body) ?? []));
  }
  if (problems.length) stale.push({ what, path: pathname, cache: cached.cache, problems });
}
const courseFacts = new Map(
  sql(`SELECT json_agg(json_build_object('id', c.id, 'title', c.title,
         'enrollment_count', (SELECT count(*) FROM enrollments e WHERE e.course_id = c.id))) FROM courses c WHERE c.published`)
    .map((c) => [c.id, c]),
);
for (const id of plan.courses) {
  const facts = courseFacts.get(id);
  await compareFresh("course", `/api/courses/${id}`, `course:${id}`, undefined, (fresh, cached) =>
    [fresh, cached].flatMap((b, i) =>
      b.enrollment_count !== facts.enrollment_count || b.title !== facts.title
        ? [`${i ? "cached" : "fresh"} enrollment_count ${b.enrollment_count} / title vs SQL ${facts.enrollment_count}`]
        : [],
    ),
  );
}
const total = courseFacts.size;
for (let page = 1; page <= Math.max(1, Math.ceil(total / 20)); page++) {
  await compareFresh("listing", `/api/courses?page=${page}&per_page=20`, `courses:published:${page}:20`, undefined, (fresh) =>
    fresh.total === total ? [] : [`total ${fresh.total}, SQL ${total}`],
  );
}
const meFacts = new Map(
  sql(`SELECT coalesce(json_agg(json_build_object('user', e.user_id, 'course', e.course_id, 'done',
         (SELECT count(*) FROM lesson_progress p JOIN lessons l ON l.id = p.lesson_id JOIN modules m ON m.id = l.module_id
           WHERE p.user_id = e.user_id AND m.course_id = e.course_id))), '[]')
       FROM enrollments e WHERE e.user_id IN (${idList})`).map((e) => [`${e.user}|${e.course}`, e.done]),
);
for (const w of writers) {
  await compareFresh("me", "/api/me", `user:${w.id}`, w.id, (fresh) => {
    const mine = [...meFacts.keys()].filter((k) => k.startsWith(`${w.id}|`));
    const problems = [];
    if (fresh.enrollments.length !== mine.length) problems.push(`${fresh.enrollments.length} enrollments, SQL ${mine.length}`);
    for (const e of fresh.enrollments) {
      const done = meFacts.get(`${w.id}|${e.course_id}`);
      if (done !== e.completed_lessons) problems.push(`course ${e.course_id}: completed ${e.completed_lessons}, SQL ${done}`);
    }
    return problems;
  });
}
check("no stale cached read after quiescence", stale.length === 0, stale.length ? stale.slice(0, 5) : `${compared} reads (course details, listing pages, /api/me) equal fresh reads and SQL`);

// ---- 4. socket delivery -------------------------------------------------------------------
// A socket is one client for the whole campaign, across its reconnections (the
// killed node's sockets come back with their offsets). It is owed, once and in
// no other copy: every progress PUT answered 200 by its own user, sent after it
// first connected; and, for staff (the admin), every other user's PUT answered 200
// in a course, sent after it first followed that course. A student receiving
// another student's progress is a privacy failure. No fault is exempt: pub/sub
// loses nothing that committed, because nodes replay from the stream.
const killed = faults.filter((f) => f.fault === "realtime");
const killedNodes = new Set(killed.map((f) => f.node));
const puts = requests.filter((r) => r.kind === "progress");
const eventKey = (user, lesson, completed, done) => `${user}|${lesson}|${completed}|${done}`;
for (const r of puts) {
  r.lesson = r.path.split("/")[5];
  r.course = r.path.split("/")[3];
  r.partial = `${r.user}|${r.lesson}|${r.body.completed}`;
  if (r.status === 200) r.key = eventKey(r.user, r.res.lesson_id, r.res.completed, r.res.completed_lessons);
}
const staff = new Set([plan.sockets.find((s) => s.name.startsWith("admin@"))?.user].filter(Boolean));
const bySocket = new Map(plan.sockets.map((s) => [s.name, { spec: s, log: [] }]));
for (const e of socketLog) bySocket.get(e.sock)?.log.push(e);
const socketResults = [];
const latencies = [];
const liveLatencies = [];
let eventsExpected = 0;
let eventsMatched = 0;
const privacy = [];
const resyncs = [];
const sessionsEnded = [];
for (const { spec, log } of bySocket.values()) {
  const isStaff = staff.has(spec.user);
  const firstConnect = log.find((e) => e.type === "connect")?.t ?? Infinity;
  const closed = log.find((e) => e.type === "close")?.t ?? Infinity;
  const followedSince = new Map();
  for (const e of log) if (e.type === "subscribed" && !followedSince.has(e.course_id)) followedSince.set(e.course_id, e.t);
  const disconnects = log.filter((e) => e.type === "disconnect");
  const connects = log.filter((e) => e.type === "connect").length;
  const connectedAt = (t) => !disconnects.some((d) => d.t <= t && !log.some((c) => c.type === "connect" && c.t > d.t && c.t <= t));
  const events = log.filter((e) => e.type === "event" && e.name === "progress:updated");
  resyncs.push(...log.filter((e) => e.type === "event" && e.name === "resync").map((e) => `${spec.name}: ${JSON.stringify(e.data)}`));
  sessionsEnded.push(...log.filter((e) => e.type === "event" && e.name === "session:ended").map((e) => `${spec.name}: ${JSON.stringify(e.data)}`));
  const owedFor = (r) =>
    r.user === spec.user
      ? r.t0 >= firstConnect
      : isStaff && followedSince.has(r.course) && r.t0 >= followedSince.get(r.course);
  const expected = new Map();
  const optionalExact = new Map();
  const optionalPartial = new Map();
  const bump = (m, k, r) => (m.has(k) ? m.get(k).push(r) : m.set(k, [r]));
  let nExpected = 0;
  for (const r of puts) {
    const mine = r.user === spec.user || (isStaff && followedSince.has(r.course));
    if (!mine) continue;
    if (r.status === 200 && owedFor(r) && r.t1 <= closed) {
      bump(expected, r.key, r);
      nExpected += 1;
    } else if (r.status === 200) bump(optionalExact, r.key, r);
    else if (isUnknown(r)) bump(optionalPartial, r.partial, r);
  }
  let matched = 0;
  const unexpected = [];
  const offsets = new Set();
  let repeated = 0;
  for (const e of events) {
    const d = e.data;
    if (d.user_id !== spec.user && !isStaff) privacy.push(`${spec.name} received ${d.user_id}'s progress`);
    if (offsets.has(d.offset)) repeated += 1;
    offsets.add(d.offset);
    const k = eventKey(d.user_id, d.lesson_id, d.completed, d.completed_lessons);
    const take = (m, key) => m.get(key)?.shift() ?? null;
    const hit = take(expected, k);
    if (hit) {
      matched += 1;
      latencies.push(e.t - hit.t0);
      if (connectedAt(hit.t0)) liveLatencies.push(e.t - hit.t0);
    } else if (!take(optionalExact, k) && !take(optionalPartial, `${d.user_id}|${d.lesson_id}|${d.completed}`)) {
      unexpected.push(d);
    }
  }
  const missing = [...expected.values()].flat();
  eventsExpected += nExpected;
  eventsMatched += matched;
  socketResults.push({
    socket: spec.name,
    node: spec.node,
    staff: isStaff,
    killed_node: killedNodes.has(spec.node),
    connections: connects,
    disconnects: disconnects.length,
    expected: nExpected,
    received: events.length,
    matched,
    missing: missing.length,
    missing_examples: missing.slice(0, 3).map(brief),
    repeated,
    unexpected: unexpected.length,
    unexpected_examples: unexpected.slice(0, 3),
  });
}
const surviving = socketResults.filter((s) => !s.killed_node);
const missingTotal = socketResults.reduce((a, s) => a + s.missing, 0);
const unexpectedTotal = socketResults.reduce((a, s) => a + s.unexpected + s.repeated, 0);
check(
  "surviving node's sockets stayed connected",
  surviving.every((s) => s.disconnects <= 1 && s.connections === 1),
  surviving.filter((s) => s.connections !== 1).map((s) => s.socket).join(", ") || `${surviving.length} sockets, one session each`,
);
check(
  "every socket got every progress event it may see, through every fault",
  missingTotal === 0,
  `${eventsMatched}/${eventsExpected} expected deliveries over ${socketResults.length} sockets (killed node's: ${socketResults.filter((s) => s.killed_node).reduce((a, s) => a + s.matched, 0)}/${socketResults.filter((s) => s.killed_node).reduce((a, s) => a + s.expected, 0)})`,
);
check("no duplicate or phantom event", unexpectedTotal === 0, `${unexpectedTotal} unmatched or repeated events`);
check("no student saw another student's progress", privacy.length === 0, privacy.slice(0, 5).join("; ") || "none did");
check("no resync was needed", resyncs.length === 0, resyncs.slice(0, 5).join("; ") || "none");
check("no session ended", sessionsEnded.length === 0, sessionsEnded.slice(0, 5).join("; ") || "none");
const pgWindows = windows.filter((w) => w.fault === "postgres");
const badSubscriptions = socketLog.filter((e) => e.type === "subscribe_failed" && !pgWindows.some((w) => e.t >= w.from && e.t <= w.to));
check(
  "every course:subscribe acknowledged (outside Postgres outages)",
  badSubscriptions.length === 0,
  badSubscriptions.length ? badSubscriptions.slice(0, 5).map((e) => `${e.sock}: ${JSON.stringify(e.ack)}`) : `${socketLog.filter((e) => e.type === "ready").length} socket sessions subscribed`,
);

// ---- 5. recovery per fault ---------------------------------------------------------------
const firstAfter = (list, t) => list.filter((x) => x >= t).sort((a, b) => a - b)[0];
const okReads = requests.filter((r) => !isWrite(r) && isOk(r));
const okWrites = requests.filter((r) => isWrite(r) && isOk(r));
const recovery = faults.map((f) => {
  const tally = failuresByFault.get(f);
  const out = {
    fault: f.fault,
    round: f.round,
    outage_ms: f.end - f.start,
    failed_reads: tally.read,
    failed_writes: tally.write,
    last_failure_after_end_ms: tally.last_t1 === null ? null : tally.last_t1 - f.end,
    first_ok_read_after_end_ms: (firstAfter(okReads.filter((r) => r.t0 >= f.end).map((r) => r.t1), f.end) ?? NaN) - f.end,
    first_ok_write_after_end_ms: (firstAfter(okWrites.filter((r) => r.t0 >= f.end).map((r) => r.t1), f.end) ?? NaN) - f.end,
  };
  const eventTimes = (pred) =>
    socketLog.filter((e) => e.type === "event" && e.name === "progress:updated" && pred(bySocket.get(e.sock)?.spec)).map((e) => e.t);
  if (f.fault === "redis") {
    out.first_event_after_end_ms = (firstAfter(eventTimes(() => true), f.end) ?? NaN) - f.end;
  }
  if (f.fault === "invalidator") {
    out.backlog_at_restart = f.backlog_at_restart;
    out.backlog_drained_after_end_ms = f.drained === null ? null : f.drained - f.end;
  }
  if (f.fault === "realtime") {
    const onNode = (s) => s?.node === f.node;
    const readies = new Map();
    // After the kill: a socket may be back a few ms before chaos.sh saw the port open.
    for (const e of socketLog) if (e.type === "ready" && e.t >= f.start && onNode(bySocket.get(e.sock)?.spec) && !readies.has(e.sock)) readies.set(e.sock, e.t);
    const nodeSockets = plan.sockets.filter(onNode).length;
    out.sockets_back = `${readies.size}/${nodeSockets}`;
    out.all_sockets_back_after_end_ms = readies.size === nodeSockets ? Math.max(...readies.values()) - f.end : null;
    out.first_event_on_restarted_node_after_end_ms = (firstAfter(eventTimes(onNode), f.end) ?? NaN) - f.end;
    out.first_event_on_surviving_node_after_start_ms = (firstAfter(eventTimes((s) => s && !onNode(s)), f.start) ?? NaN) - f.start;
  }
  for (const [k, v] of Object.entries(out)) if (typeof v === "number" && Number.isNaN(v)) out[k] = null;
  return out;
});
const realtimeBack = recovery.filter((r) => r.fault === "realtime");
check(
  "the restarted realtime node's sockets reconnected and receive again",
  realtimeBack.every((r) => r.all_sockets_back_after_end_ms !== null && r.first_event_on_restarted_node_after_end_ms !== null),
  realtimeBack.map((r) => `round ${r.round}: ${r.sockets_back} back`).join("; "),
);
const kinds = ["redis", "invalidator", "postgres", "realtime"];
check("every fault was injected", kinds.every((k) => faults.some((f) => f.fault === k)), faults.map((f) => f.fault).join(", "));

// ---- report ----------------------------------------------------------------------------------
const ended = Math.max(...requests.map((r) => r.t1), Number(args["campaign-start"]));
const report = {
  date: new Date().toISOString(),
  config: { ...config, grace_ms: GRACE },
  campaign_seconds: Math.round((ended - Number(args["campaign-start"])) / 100) / 10,
  requests: { sent: requests.length, by_kind_and_status: statusByKind },
  faults_injected: faults.length,
  host_stalls: {
    count: stalls.length,
    longest_ms: stalls.length ? Math.max(...stalls.map((s) => s.to - s.from)) : 0,
    failures_inside: inStall.length,
    failures_inside_examples: inStall.slice(0, 10).map(brief),
    stalls,
  },
  writes: durability,
  sockets: {
    count: socketResults.length,
    nodes: plan.nodes.length,
    expected_deliveries: eventsExpected,
    matched: eventsMatched,
    missing: missingTotal,
    unexpected: unexpectedTotal,
    latency_sent_to_received_ms: { p50: pct(latencies, 50), p99: pct(latencies, 99), max: latencies.length ? Math.max(...latencies) : null },
    // Only requests sent while the socket was connected: the live path, without replays.
    live_latency_ms: { p50: pct(liveLatencies, 50), p99: pct(liveLatencies, 99) },
    per_socket: socketResults,
  },
  stale_reads: { compared, stale: stale.length, examples: stale.slice(0, 10) },
  recovery,
  quiescence_ms: quiescence.ms,
  checks,
  pass: checks.every((c) => c.pass),
};
fs.writeFileSync(path.join(RUN, "report.json"), JSON.stringify(report, null, 1));

const line = (cells, widths) => cells.map((c, i) => String(c ?? "—").padEnd(widths[i])).join("  ");
const ms = (v) => (v === null || v === undefined ? "—" : `${v} ms`);
console.log(`\nChaos campaign ${report.date}: ${report.campaign_seconds} s of load, ${requests.length} requests, ${faults.length} faults, ${socketResults.length} sockets on ${plan.nodes.length} realtime nodes`);
console.log("\nrequests by kind and status:");
for (const [kind, statuses] of Object.entries(statusByKind)) {
  console.log(`  ${kind.padEnd(9)} ${Object.entries(statuses).map(([s, n]) => `${s}×${n}`).join("  ")}`);
}
console.log(`\nwrites: ${ackedTotal} acknowledged (progress ${ackedByKind.progress}, enroll ${ackedByKind.enroll}, unenroll ${ackedByKind.unenroll}); ` +
  `${lastWord} keys whose last acknowledged write must be in Postgres: ${durability.found} found, ${lost.length} lost ` +
  `(${ambiguous} followed by an unknown-outcome attempt); ${superseded} superseded`);
console.log(`events: ${eventsMatched}/${eventsExpected} expected deliveries, ${missingTotal} missing, ${unexpectedTotal} unexpected; ` +
  `sent→received p50 ${report.sockets.latency_sent_to_received_ms.p50} ms, p99 ${report.sockets.latency_sent_to_received_ms.p99} ms ` +
  `(sent while connected: p50 ${report.sockets.live_latency_ms.p50} ms, p99 ${report.sockets.live_latency_ms.p99} ms)`);
console.log("\nrecovery (failed = 503 or no answer; times from the end of the outage: dependency answering again / process back):");
const w = [14, 10, 13, 14, 15, 15, 40];
console.log(line(["fault", "outage", "failed r/w", "last failure", "first ok read", "first ok write", "other"], w));
for (const r of recovery) {
  const other =
    r.fault === "redis" ? `first event ${ms(r.first_event_after_end_ms)}`
    : r.fault === "invalidator" ? `backlog ${r.backlog_at_restart} drained ${ms(r.backlog_drained_after_end_ms)}`
    : r.fault === "realtime" ? `sockets ${r.sockets_back} back ${ms(r.all_sockets_back_after_end_ms)}, first event ${ms(r.first_event_on_restarted_node_after_end_ms)}`
    : "";
  console.log(line([`${r.fault}#${r.round}`, ms(r.outage_ms), `${r.failed_reads}/${r.failed_writes}`, ms(r.last_failure_after_end_ms),
    ms(r.first_ok_read_after_end_ms), ms(r.first_ok_write_after_end_ms), other], w));
}
if (stalls.length) {
  console.log(`\nhost stalls (the load's event loop over 500 ms late): ${stalls.length}, longest ${report.host_stalls.longest_ms} ms; ` +
    `${inStall.length} failed requests (503 or no answer) outside the outage windows fell in them (report.json: host_stalls)`);
}
console.log("\nchecks:");
for (const c of checks) {
  const detail = typeof c.detail === "string" ? c.detail : JSON.stringify(c.detail);
  console.log(`  ${c.pass ? "PASS" : "FAIL"}  ${c.name}: ${detail.length > 300 ? detail.slice(0, 300) + "…" : detail}`);
}
console.log(`\n${report.pass ? "PASS" : "FAIL"}: report in ${path.relative(process.cwd(), path.join(RUN, "report.json"))}`);
process.exit(report.pass ? 0 : 1);
