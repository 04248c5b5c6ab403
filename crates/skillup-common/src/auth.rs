//! JWTs as Supabase issues them: HS256 with `JWT_SECRET`, `sub` = profile id,
//! `exp` required, `email` and `session_id` optional.
//!
//! Rules (all a 401 in the API, `unauthorized` in the realtime handshake): the
//! header must say HS256 (`none`, HS384/HS512 and every asymmetric algorithm are
//! refused, whatever the signature), the signature must match, `exp` and `sub`
//! (a uuid) are required, `exp` has no leeway, and a token that claims to come
//! from the future — `iat` or `nbf` more than [`MAX_CLOCK_SKEW_SECS`] ahead of
//! this server's clock — is refused.
//!
//! Verification lives here so the API and the realtime service apply exactly the
//! same rules; `skillupctl token` uses [`JwtKeys::mint`] for development tokens.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::JwtConfig;
use crate::ids::UserId;

/// The claims SkillUp reads. Other claims (Supabase's `aud`, `role`, …) are ignored;
/// in particular the role always comes from `profiles.role`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user's profile id.
    pub sub: Uuid,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not before, seconds since the epoch (Supabase does not set it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Supabase's session id; logout revokes it (else the token's hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

impl Claims {
    pub fn user_id(&self) -> UserId {
        UserId(self.sub)
    }

    /// The id under which logout revokes this token's session
    /// (`session:revoked:{sid}`): the `session_id` claim when it is a uuid (in its
    /// hyphenated lower-case form), else the sha256 hex of `session_id`, and with no
    /// `session_id` the sha256 hex of the whole token.
    ///
    /// Only uuid and hex characters ever reach the Redis key, whatever the token
    /// holds. The API and the realtime service must agree on this, hence it lives here.
    pub fn revocation_id(&self, token: &str) -> String {
        match &self.session_id {
            Some(sid) => match Uuid::try_parse(sid) {
                Ok(uuid) => uuid.hyphenated().to_string(),
                Err(_) => sha256_hex(sid),
            },
            None => sha256_hex(token),
        }
    }
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Why a token was refused. Every variant maps to 401; the text is safe to show.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token signature is invalid")]
    BadSignature,
    #[error("the token is dated in the future (iat or nbf)")]
    FromTheFuture,
    #[error("the token is malformed: {0}")]
    Malformed(String),
}

/// How far ahead of this server's clock a token's `iat` or `nbf` may be: the
/// clock skew tolerated between the issuer (Supabase) and us. Anything later is a
/// token minted with a wrong clock or forged to outlive its issuer's rotation.
pub const MAX_CLOCK_SKEW_SECS: i64 = 60;

/// Signing and verification keys derived once from `JWT_SECRET`.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(cfg: &JwtConfig) -> Self {
        let secret = cfg.secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        // Supabase sets `aud: "authenticated"`; SkillUp does not depend on it.
        validation.validate_aud = false;
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Checks algorithm (HS256 only), signature, expiry and that the token is not
    /// dated in the future (see the module doc).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                _ => TokenError::Malformed(e.to_string()),
            })?;
        let latest = chrono::Utc::now()
            .timestamp()
            .saturating_add(MAX_CLOCK_SKEW_SECS);
        if claims.iat.into_iter().chain(claims.nbf).any(|t| t > latest) {
            return Err(TokenError::FromTheFuture);
        }
        Ok(claims)
    }

    /// Mints a token for `user` valid for `ttl`, as Supabase would issue it.
    pub fn mint(&self, user: UserId, ttl: Duration, session_id: Option<String>) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user.0,
            exp: now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            iat: Some(now),
            nbf: None,
            email: None,
            session_id,
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims (tests use it for expired or odd tokens).
    pub fn sign<T: Serialize>(&self, claims: &T) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of serializable claims cannot fail")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn keys(secret: &str) -> JwtKeys {
        JwtKeys::new(&JwtConfig {
            secret: SecretString::from(secret.to_owned()),
        })
    }

    #[test]
    fn minted_tokens_verify() {
        let k = keys("s");
        let user = UserId::new_random();
        let claims = k
            .verify(&k.mint(user, Duration::from_secs(60), None))
            .unwrap();
        assert_eq!(claims.user_id(), user);
    }

    #[test]
    fn wrong_secret_expired_and_garbage_are_refused() {
        let user = UserId::new_random();
        let token = keys("a").mint(user, Duration::from_secs(60), None);
        assert_eq!(keys("b").verify(&token), Err(TokenError::BadSignature));
        let expired = keys("a").sign(&serde_json::json!({"sub": user.0, "exp": 1}));
        assert_eq!(keys("a").verify(&expired), Err(TokenError::Expired));
        assert!(matches!(
            keys("a").verify("nope"),
            Err(TokenError::Malformed(_))
        ));
        let no_exp = keys("a").sign(&serde_json::json!({"sub": user.0}));
        assert!(matches!(
            keys("a").verify(&no_exp),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn tokens_dated_more_than_a_minute_ahead_are_refused() {
        let k = keys("s");
        let user = UserId::new_random();
        let now = chrono::Utc::now().timestamp();
        let exp = now + 3600;
        for (claim, offset, ok) in [
            ("iat", 0, true),
            ("iat", -86_400, true),
            ("iat", MAX_CLOCK_SKEW_SECS - 5, true),
            ("iat", MAX_CLOCK_SKEW_SECS + 5, false),
            ("iat", 10 * 365 * 86_400, false),
            ("nbf", MAX_CLOCK_SKEW_SECS - 5, true),
            ("nbf", MAX_CLOCK_SKEW_SECS + 5, false),
        ] {
            let token =
                k.sign(&serde_json::json!({"sub": user.0, "exp": exp, claim: now + offset}));
            let got = k.verify(&token);
            if ok {
                assert!(got.is_ok(), "{claim} now{offset:+}: {got:?}");
            } else {
                assert_eq!(got, Err(TokenError::FromTheFuture), "{claim} now{offset:+}");
            }
        }
        let huge = k.sign(&serde_json::json!({"sub": user.0, "exp": exp, "iat": i64::MAX}));
        assert_eq!(k.verify(&huge), Err(TokenError::FromTheFuture));
        let not_a_number = k.sign(&serde_json::json!({"sub": user.0, "exp": exp, "iat": "now"}));
        assert!(matches!(
            k.verify(&not_a_number),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn revocation_ids_are_uuids_or_hex() {
        let k = keys("s");
        let user = UserId::new_random();
        let sid = Uuid::new_v4();
        let upper = sid.hyphenated().to_string().to_uppercase();
        let token = k.mint(user, Duration::from_secs(60), Some(upper));
        let claims = k.verify(&token).unwrap();
        assert_eq!(claims.revocation_id(&token), sid.hyphenated().to_string());

        let token = k.mint(user, Duration::from_secs(60), Some("x:*\n".to_owned()));
        let id = k.verify(&token).unwrap().revocation_id(&token);
        assert_eq!(id.len(), 64);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));

        let token = k.mint(user, Duration::from_secs(60), None);
        let other = k.mint(UserId::new_random(), Duration::from_secs(60), None);
        let id = k.verify(&token).unwrap().revocation_id(&token);
        assert_eq!(id, sha256_hex(&token));
        assert_ne!(id, k.verify(&other).unwrap().revocation_id(&other));
    }

    /// Property tests (`PROPTEST_CASES`, default 256): whatever text arrives as a
    /// token, verification never panics and accepts only what this secret signed
    /// under the rules.
    mod properties {
        use proptest::prelude::*;

        use super::*;

        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

        fn now() -> i64 {
            chrono::Utc::now().timestamp()
        }

        proptest! {
            #[test]
            fn arbitrary_text_is_never_a_token(text in any::<String>()) {
                prop_assert!(keys("s").verify(&text).is_err());
            }

            #[test]
            fn jwt_shaped_noise_is_never_a_token(
                text in "[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,60}"
            ) {
                prop_assert!(keys("s").verify(&text).is_err());
            }

            /// Any one-character change to a valid token breaks it: header,
            /// claims and signature are all covered by the HMAC, and base64url
            /// decoding is canonical.
            #[test]
            fn a_token_changed_anywhere_is_refused(at in any::<prop::sample::Index>(), with in 0..B64.len() + 1) {
                let k = keys("s");
                let token = k.mint(UserId::new_random(), Duration::from_secs(600), Some("sid".into()));
                let i = at.index(token.len());
                let replacement = if with == B64.len() { b'.' } else { B64[with] };
                prop_assume!(token.as_bytes()[i] != replacement);
                let mut bytes = token.into_bytes();
                bytes[i] = replacement;
                let changed = String::from_utf8(bytes).unwrap();
                prop_assert!(k.verify(&changed).is_err(), "accepted {changed}");
            }

            /// Signed with the right secret, claims are accepted exactly when
            /// `sub` is a uuid, `exp` is in the future and `iat` is not more than
            /// the skew ahead.
            #[test]
            fn signed_claims_are_accepted_exactly_by_the_rules(
                sub in prop_oneof![
                    Just(Uuid::new_v4().to_string()),
                    any::<String>(),
                    "[0-9a-f-]{36}",
                ],
                exp_offset in prop_oneof![-100_000i64..100_000, any::<i64>().prop_map(|x| x / 4)],
                iat_offset in proptest::option::of(prop_oneof![-1_000i64..1_000, any::<i64>().prop_map(|x| x / 4)]),
            ) {
                let k = keys("s");
                let now = now();
                let exp = now.saturating_add(exp_offset);
                let mut claims = serde_json::json!({"sub": sub, "exp": exp});
                if let Some(iat) = iat_offset {
                    claims["iat"] = now.saturating_add(iat).into();
                }
                let token = k.sign(&claims);
                // One second of slack either side: the clock may tick between
                // signing and verifying.
                let sub_ok = Uuid::try_parse(&sub).is_ok();
                let exp_ok = exp_offset > 1;
                let exp_bad = exp_offset < -1;
                let iat_ok = iat_offset.is_none_or(|o| o < MAX_CLOCK_SKEW_SECS);
                let iat_bad = iat_offset.is_some_and(|o| o > MAX_CLOCK_SKEW_SECS + 1);
                let got = k.verify(&token);
                if sub_ok && exp_ok && iat_ok {
                    prop_assert!(got.is_ok(), "{claims}: {got:?}");
                }
                if !sub_ok || exp_bad || iat_bad {
                    prop_assert!(got.is_err(), "{claims} accepted");
                }
                prop_assert!(keys("other").verify(&token).is_err());
            }
        }
    }
}
