//! Lua scripts that make fills and invalidations atomic on the Redis side.

use std::sync::LazyLock;

use fred::types::scripts::Script;

/// Stores a value only if its guard's generation is still the one the loader saw
/// before it read the database.
///
/// KEYS[1] entry, KEYS[2] guard; ARGV[1] expected generation ("" = none yet),
/// ARGV[2] value, ARGV[3] TTL in milliseconds. Returns 1 if stored, 0 if refused.
pub static FILL: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r"
local gen = redis.call('GET', KEYS[2]) or ''
if gen ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
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
