//! Lua scripts that make fills and invalidations atomic on the Redis side.

use std::sync::LazyLock;

use fred::types::scripts::Script;

/// Stores a value only if its guard's generation is still the one the loader saw
/// before it read the database, and releases the loader's lease either way.
///
/// KEYS[1] entry, KEYS[2] guard, KEYS[3] lease, optional KEYS[4] the family's
/// index set (the entry is added to it, and the set kept alive at least as long
/// as the entry); ARGV[1] expected generation ("" = none yet), ARGV[2] value,
/// ARGV[3] TTL in milliseconds, ARGV[4] the lease token ("" = no lease held).
/// Returns 1 if stored, 0 if refused.
pub static FILL: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) == ARGV[4] then
  redis.call('DEL', KEYS[3])
end
local gen = redis.call('GET', KEYS[2]) or ''
if gen ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if KEYS[4] then
  redis.call('SADD', KEYS[4], KEYS[1])
  if redis.call('PTTL', KEYS[4]) < tonumber(ARGV[3]) then
    redis.call('PEXPIRE', KEYS[4], ARGV[3])
  end
end
return 1
",
    )
});

/// Before a load: reads the guard's generation and tries to take the key's
/// lease, so that one process across all of them loads a cold key.
///
/// A guard that invalidations find with `SCAN` (listing pages on a cluster) must
/// exist before its loader reads the database: it is created at "0" when
/// missing, and its TTL renewed on every call, so the guard outlives the load
/// that read it. Were it to expire mid-load, another loader could create it
/// again at "0" after an invalidation's `SCAN` missed it, and the first loader's
/// stale fill would match.
///
/// A fresh entry found here means another process filled the key since this
/// one missed it: no lease is taken then, and the caller reads the entry
/// instead of loading it again. (Without this check, a fill landing between a
/// process's miss and its lease request would hand it a free lease and a second
/// load.) Freshness is read from the entry's header (`envelope.rs`: byte 0
/// `0xE1`, bytes 3–10 the fresh-until unix ms, big-endian) against Redis' clock;
/// a value without the header counts as fresh, as `Envelope::read` has it.
///
/// KEYS[1] guard, KEYS[2] lease, KEYS[3] entry; ARGV[1] guard TTL in seconds,
/// ARGV[2] this loader's token, ARGV[3] lease TTL in milliseconds ("0": take
/// none), ARGV[4] "1" if the guard must exist. Returns {generation ("" = none
/// yet), 1 if the lease was taken, 1 if a fresh entry is there}.
pub static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
local gen = redis.call('GET', KEYS[1])
if ARGV[4] == '1' then
  if gen then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
  else
    gen = '0'
    redis.call('SET', KEYS[1], gen, 'EX', ARGV[1])
  end
end
local head = redis.call('GETRANGE', KEYS[3], 0, 9)
if head ~= '' then
  if string.byte(head, 1) ~= 0xE1 or #head < 10 then return {gen or '', 0, 1} end
  local fresh_until = 0
  for i = 3, 10 do fresh_until = fresh_until * 256 + string.byte(head, i) end
  local now = redis.call('TIME')
  if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) < fresh_until then
    return {gen or '', 0, 1}
  end
end
local won = false
if ARGV[3] ~= '0' then
  won = redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3])
end
return {gen or '', won and 1 or 0, 0}
",
    )
});

/// Gives a lease back after a load that stores nothing (it failed, or found
/// nothing worth caching), so a waiting process loads at once.
///
/// KEYS[1] lease; ARGV[1] the token it was taken with. Returns 1 if released.
pub static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// Invalidates a family of entries registered in an index set (listing pages):
/// bumps the family's guard, deletes every member and the set, and returns the
/// names deleted. Members are not declared in KEYS, so this runs only on a
/// single Redis (on a cluster the family is found with `SCAN` instead).
///
/// KEYS[1] guard, KEYS[2] index set; ARGV[1] guard TTL in seconds.
pub static INVALIDATE_FAMILY: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
local members = redis.call('SMEMBERS', KEYS[2])
for i = 1, #members, 1000 do
  redis.call('UNLINK', unpack(members, i, math.min(i + 999, #members)))
end
redis.call('DEL', KEYS[2])
return members
",
    )
});

/// Bumps each guard's generation and deletes each entry, so a fill that read the
/// database before this call can no longer store its value.
///
/// KEYS alternate entry, guard, entry, guard…; ARGV[1] guard TTL in seconds
/// (it must outlive any load in flight). Returns the number of entries deleted.
pub static INVALIDATE: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
local deleted = 0
for i = 1, #KEYS, 2 do
  redis.call('INCR', KEYS[i + 1])
  redis.call('EXPIRE', KEYS[i + 1], ARGV[1])
  deleted = deleted + redis.call('UNLINK', KEYS[i])
end
return deleted
",
    )
});

/// Revokes a session and tells every realtime node, atomically: a node that
/// checks the key before this script finds it unset and gets the message after.
///
/// KEYS[1] `session:revoked:{sid}`; ARGV[1] TTL in seconds ("" = for good),
/// ARGV[2] the control channel, ARGV[3] the message.
pub static REVOKE: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
if ARGV[1] == '' then
  redis.call('SET', KEYS[1], '1')
else
  redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
",
    )
});
