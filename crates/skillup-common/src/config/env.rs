//! Reading the environment: where values come from ([`EnvSource`]), the error
//! that names a bad variable ([`ConfigError`]), the parsers every section shares,
//! and [`SecretUrl`], a connection URL that never shows its password.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

/// Where configuration values come from: the process environment or, in tests, a map.
pub trait EnvSource {
    /// The raw value of `var`, if set. Empty values count as unset.
    fn var(&self, var: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, var: &str) -> Option<String> {
        std::env::var(var).ok().filter(|v| !v.is_empty())
    }
}

impl EnvSource for HashMap<String, String> {
    fn var(&self, var: &str) -> Option<String> {
        self.get(var).filter(|v| !v.is_empty()).cloned()
    }
}

impl EnvSource for HashMap<&str, &str> {
    fn var(&self, var: &str) -> Option<String> {
        self.get(var)
            .filter(|v| !v.is_empty())
            .map(|v| (*v).to_owned())
    }
}

/// A configuration value that cannot be used. The message is one line naming the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is required but not set{hint}")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var}={value:?} is invalid: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: String,
    },
}

/// A [`ConfigError::Invalid`] for `var`, whose value was `value`.
pub(super) fn invalid(var: &'static str, value: &str, reason: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        var,
        value: value.to_owned(),
        reason: reason.to_string(),
    }
}

/// Parses `var` with `FromStr`, falling back to `default` when unset.
pub(super) fn parse_or<T>(
    env: &dyn EnvSource,
    var: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match env.var(var) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|e| invalid(var, &raw, e)),
    }
}

/// An integer setting of at least `min`, `default` when unset; anything else names
/// the variable. For services' own settings beyond the shared sections.
pub fn integer_at_least(
    env: &dyn EnvSource,
    var: &'static str,
    default: u64,
    min: u64,
) -> Result<u64, ConfigError> {
    let value: u64 = parse_or(env, var, default)?;
    if value < min {
        return Err(invalid(
            var,
            &value.to_string(),
            format!("must be at least {min}"),
        ));
    }
    Ok(value)
}

/// A number of seconds that must be at least 1.
pub(super) fn seconds_or(
    env: &dyn EnvSource,
    var: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    let secs: u64 = parse_or(env, var, default)?;
    if secs == 0 {
        return Err(invalid(var, "0", "must be at least 1 second"));
    }
    Ok(Duration::from_secs(secs))
}

/// A number of milliseconds that must be at least 1.
pub(super) fn millis_or(
    env: &dyn EnvSource,
    var: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    let ms: u64 = parse_or(env, var, default)?;
    if ms == 0 {
        return Err(invalid(var, "0", "must be at least 1 millisecond"));
    }
    Ok(Duration::from_millis(ms))
}

/// A URL (`default` when unset) of one of `schemes`, with a host.
pub(super) fn url_or(
    env: &dyn EnvSource,
    var: &'static str,
    default: &str,
    schemes: &[&str],
) -> Result<SecretUrl, ConfigError> {
    let raw = env.var(var).unwrap_or_else(|| default.to_owned());
    let url = Url::parse(&raw).map_err(|e| invalid(var, &redact(&raw), e))?;
    if !schemes.contains(&url.scheme()) {
        return Err(invalid(
            var,
            &redact(&raw),
            format!("scheme must be one of {}", schemes.join(", ")),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(var, &redact(&raw), "a host is required"));
    }
    Ok(SecretUrl(url))
}

/// Hides a password in a URL-like string so it can appear in an error or log line.
pub(super) fn redact(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => raw.to_owned(),
    }
}

/// A connection URL whose password never reaches `Debug` or `Display`.
#[derive(Clone)]
pub struct SecretUrl(Url);

impl SecretUrl {
    /// The full URL, password included: pass it to a client, never to a log.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact(self.0.as_str())
    }

    /// The parsed URL (password included).
    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// A map as an [`EnvSource`], for the sections' tests.
#[cfg(test)]
pub(super) fn test_env(
    pairs: &[(&'static str, &'static str)],
) -> HashMap<&'static str, &'static str> {
    pairs.iter().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_env as env;

    #[test]
    fn service_integers_have_defaults_and_floors() {
        assert_eq!(integer_at_least(&env(&[]), "X_BATCH", 500, 1).unwrap(), 500);
        assert_eq!(
            integer_at_least(&env(&[("X_BATCH", " 7 ")]), "X_BATCH", 500, 1).unwrap(),
            7
        );
        for bad in ["0", "-1", "many", "1.5"] {
            let err = integer_at_least(&env(&[("X_BATCH", bad)]), "X_BATCH", 500, 1).unwrap_err();
            assert!(err.to_string().starts_with("X_BATCH="), "{err}");
        }
    }
}
