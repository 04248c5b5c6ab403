//! The token secret: `JWT_SECRET`.

use secrecy::SecretString;

use super::env::{ConfigError, EnvSource};

/// `JWT_SECRET`: the HS256 secret tokens are signed with (Supabase's "JWT secret").
#[derive(Clone)]
pub struct JwtConfig {
    pub secret: SecretString,
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtConfig { secret: *** }")
    }
}

impl JwtConfig {
    pub fn from_env(env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let secret = env.var("JWT_SECRET").ok_or(ConfigError::Missing {
            var: "JWT_SECRET",
            hint: " (the HS256 secret tokens are signed with)",
        })?;
        Ok(Self {
            secret: SecretString::from(secret),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env::test_env as env;

    #[test]
    fn jwt_secret_is_required_and_never_debug_printed() {
        let err = JwtConfig::from_env(&env(&[])).unwrap_err();
        assert!(
            err.to_string().starts_with("JWT_SECRET is required"),
            "{err}"
        );
        let cfg = JwtConfig::from_env(&env(&[("JWT_SECRET", "s3cret")])).unwrap();
        assert!(!format!("{cfg:?}").contains("s3cret"));
    }
}
