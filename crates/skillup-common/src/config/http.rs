//! A service's HTTP listener: `HOST`, `PORT`, `SHUTDOWN_GRACE_SECS`.

use std::net::IpAddr;
use std::time::Duration;

use super::env::{ConfigError, EnvSource, parse_or, seconds_or};

/// `HOST` and `PORT` of a service's HTTP listener.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub host: IpAddr,
    pub port: u16,
    /// `SHUTDOWN_GRACE_SECS` (default 10): how long in-flight work may take after SIGTERM.
    pub shutdown_grace: Duration,
}

impl HttpConfig {
    pub fn from_env(env: &dyn EnvSource, default_port: u16) -> Result<Self, ConfigError> {
        Ok(Self {
            host: parse_or(env, "HOST", IpAddr::from([0, 0, 0, 0]))?,
            port: parse_or(env, "PORT", default_port)?,
            shutdown_grace: seconds_or(env, "SHUTDOWN_GRACE_SECS", 10)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env::test_env as env;

    #[test]
    fn defaults_follow_the_spec() {
        let http = HttpConfig::from_env(&env(&[]), 5000).expect("defaults are valid");
        assert_eq!(http.port, 5000);
        assert_eq!(http.host.to_string(), "0.0.0.0");
        assert_eq!(http.shutdown_grace, Duration::from_secs(10));
    }

    #[test]
    fn bad_port_names_the_variable() {
        let err = HttpConfig::from_env(&env(&[("PORT", "70000")]), 5000).unwrap_err();
        assert!(err.to_string().starts_with("PORT="), "{err}");
    }
}
