//! Hand-made JWTs for attack tests: any header, any claims, any signature.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::Value;

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// `header.claims.signature`, where the signature is HMAC-SHA256 of the first
/// two segments under `secret` whatever algorithm the header names (so an
/// `RS256` or `HS512` header carries a signature the server *could* check with
/// its HS256 secret: the algorithm-confusion attack), or empty without one
/// (the `alg: none` attack).
pub fn forge(header: &Value, claims: &Value, secret: Option<&str>) -> String {
    let message = format!("{}.{}", b64(header), b64(claims));
    let signature = secret.map_or_else(String::new, |secret| {
        jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_secret(secret.as_bytes()),
            Algorithm::HS256,
        )
        .expect("HMAC signing cannot fail")
    });
    format!("{message}.{signature}")
}

/// A token properly signed with `secret` under `alg` (an HMAC algorithm).
pub fn signed_with(alg: Algorithm, claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HMAC signing cannot fail")
}

/// The JWT attacks every service must refuse, named for the attack, as
/// tokens for `sub` (a uuid string) signed (where signed) with `secret`.
pub fn attacks(sub: &str, secret: &str) -> Vec<(&'static str, String)> {
    use serde_json::json;
    let now = chrono_now();
    let hour = now + 3600;
    let good = json!({"sub": sub, "exp": hour});
    vec![
        ("garbage", "not-a-jwt".to_owned()),
        ("empty segments", "..".to_owned()),
        (
            "alg none",
            forge(&json!({"alg": "none", "typ": "JWT"}), &good, None),
        ),
        (
            "alg none with a signature",
            forge(&json!({"alg": "none", "typ": "JWT"}), &good, Some(secret)),
        ),
        (
            "HS512 with the right secret",
            signed_with(Algorithm::HS512, &good, secret),
        ),
        (
            "HS384 with the right secret",
            signed_with(Algorithm::HS384, &good, secret),
        ),
        (
            "RS256 header, HMAC signature (algorithm confusion)",
            forge(&json!({"alg": "RS256", "typ": "JWT"}), &good, Some(secret)),
        ),
        (
            "wrong signature",
            signed_with(Algorithm::HS256, &good, "not-the-secret"),
        ),
        (
            "missing exp",
            signed_with(Algorithm::HS256, &json!({"sub": sub}), secret),
        ),
        (
            "missing sub",
            signed_with(Algorithm::HS256, &json!({"exp": hour}), secret),
        ),
        (
            "non-uuid sub",
            signed_with(
                Algorithm::HS256,
                &json!({"sub": "admin", "exp": hour}),
                secret,
            ),
        ),
        (
            "expired",
            signed_with(
                Algorithm::HS256,
                &json!({"sub": sub, "exp": now - 1}),
                secret,
            ),
        ),
        (
            "iat far in the future",
            signed_with(
                Algorithm::HS256,
                &json!({"sub": sub, "exp": hour, "iat": now + 3600}),
                secret,
            ),
        ),
    ]
}

fn chrono_now() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_secs()).expect("seconds fit i64")
}
