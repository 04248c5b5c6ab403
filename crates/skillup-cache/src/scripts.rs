//! Lua scripts that make fills and invalidations atomic on the Redis side.

use std::sync::LazyLock;

use fred::types::scripts::Script;

/// Stores a value only if its guard's generation is still the one the loader saw
/// before it read the database.
///
/// KEYS[1] entry, KEYS[2] guard, optional KEYS[3] the family's index set (the
/// entry is added to it, and the set kept alive at least as long as the entry);
/// ARGV[1] expected generation ("" = none yet), ARGV[2] value, ARGV[3] TTL in
/// milliseconds. Returns 1 if stored, 0 if refused.
pub static FILL: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
local gen = redis.call('GET', KEYS[2]) or ''
if gen ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if KEYS[3] then
  redis.call('SADD', KEYS[3], KEYS[1])
  if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[3]) then
    redis.call('PEXPIRE', KEYS[3], ARGV[3])
  end
end
return 1
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

/// Makes sure a guard exists before its loader reads the database, and returns
/// its generation: an invalidation that finds guards with `SCAN` (listing pages
/// on a cluster) can only bump a guard that exists.
///
/// A missing guard is created at "0". The TTL is renewed on every call, so the
/// guard outlives the load that read it: were it to expire mid-load, another
/// loader could create it again at "0" after an invalidation's `SCAN` missed it,
/// and the first loader's stale fill would match.
///
/// KEYS[1] guard; ARGV[1] guard TTL in seconds. Returns the generation.
pub static ENSURE_GUARD: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
local gen = redis.call('GET', KEYS[1])
if gen then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  return gen
end
redis.call('SET', KEYS[1], '0', 'EX', ARGV[1])
return '0'
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
