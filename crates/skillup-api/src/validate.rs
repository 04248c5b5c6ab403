//! Validation of authoring input beyond what the JSON types enforce. Each check
//! returns a 400 naming the field and the rule.
//!
//! Rules (also in docs/api.md, "Validation"): titles are trimmed and 1–200 characters;
//! descriptions at most 20 000 characters; no control characters except newline,
//! carriage return and tab in descriptions (Postgres cannot store NUL, and titles
//! are single lines); `price_cents` 0–100 000 000; positions 0–1 000 000;
//! `duration_seconds` 0–604 800 (one week); slugs 3–80 characters of `a-z`, `0-9`
//! and single inner hyphens.

use serde::Deserialize;

use crate::error::ApiError;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
pub const MAX_PRICE_CENTS: i32 = 100_000_000;
pub const MAX_POSITION: i32 = 1_000_000;
pub const MAX_DURATION_SECONDS: i32 = 7 * 24 * 3600;
pub const SLUG_CHARS: std::ops::RangeInclusive<usize> = 3..=80;

/// The title of a course, module or lesson: trimmed, 1–[`MAX_TITLE_CHARS`]
/// characters, one line with no control characters.
///
/// Bodies take it as a field type, so a handler only ever holds a valid title:
/// it is checked while the body is parsed, and a failure is the body's 400
/// naming the field (`invalid JSON body at `title`: …`). Its OpenAPI schema
/// states the same rule once, as the `Title` component every body refers to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Title(String);

/// JSON Schema's form of the title rule (ECMA-262 regex): no C0, DEL or C1
/// control character anywhere, and at least one character that is neither
/// whitespace nor control, so the trimmed title is not empty. (`maxLength`
/// counts the untrimmed string, so it may refuse a padded title the API accepts.)
const TITLE_PATTERN: &str =
    r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

impl Title {
    /// Trims `raw` and checks the rule; the error says which part failed.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let t = raw.trim();
        if t.is_empty() {
            return Err("must not be empty".to_owned());
        }
        if t.chars().count() > MAX_TITLE_CHARS {
            return Err(format!("must be at most {MAX_TITLE_CHARS} characters"));
        }
        if t.chars().any(char::is_control) {
            return Err("must not contain control characters".to_owned());
        }
        Ok(Self(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Title {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl utoipa::PartialSchema for Title {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX_TITLE_CHARS))
            .pattern(Some(TITLE_PATTERN))
            .description(Some(
                "A title: trimmed, 1–200 characters, no control characters.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Title {}

pub fn description(raw: &str) -> Result<&str, ApiError> {
    if raw.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::bad_request(format!(
            "description must be at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    if raw
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::bad_request(
            "description must not contain control characters other than newlines and tabs",
        ));
    }
    Ok(raw)
}

/// `value` within `0..=max`.
pub fn bounded(field: &str, value: i32, max: i32) -> Result<i32, ApiError> {
    if (0..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::bad_request(format!(
            "{field} must be from 0 to {max}, got {value}"
        )))
    }
}

pub fn price_cents(value: i32) -> Result<i32, ApiError> {
    bounded("price_cents", value, MAX_PRICE_CENTS)
}

pub fn position(value: i32) -> Result<i32, ApiError> {
    bounded("position", value, MAX_POSITION)
}

pub fn duration_seconds(value: i32) -> Result<i32, ApiError> {
    bounded("duration_seconds", value, MAX_DURATION_SECONDS)
}

/// A client-given slug: lower-case ASCII letters and digits in groups joined by
/// single hyphens, 3–80 characters.
pub fn slug(raw: &str) -> Result<&str, ApiError> {
    let well_formed = SLUG_CHARS.contains(&raw.len())
        && raw.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if well_formed {
        Ok(raw)
    } else {
        Err(ApiError::bad_request(format!(
            "slug must be 3 to 80 characters of a-z, 0-9 and single hyphens between them, got {raw:?}"
        )))
    }
}

/// A slug derived from a title: ASCII letters and digits lower-cased, every other
/// run of characters one hyphen, at most 80 characters; `None` when fewer than 3
/// usable characters remain (e.g. a title in a non-Latin script).
pub fn slugify(title: &str) -> Option<String> {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(*SLUG_CHARS.end());
    let out = out.trim_end_matches('-').to_owned();
    (out.len() >= *SLUG_CHARS.start()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_checked_while_the_body_is_parsed() {
        let title: Title = serde_json::from_str(r#"" Intro ""#).unwrap();
        assert_eq!(title.as_str(), "Intro");
        let err = serde_json::from_str::<Title>(r#""\t""#).unwrap_err();
        assert!(err.to_string().contains("must not be empty"), "{err}");
    }

    #[test]
    fn slugs() {
        for good in ["abc", "rust-101", "a1-b2-c3", &"a".repeat(80)] {
            assert!(slug(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "ab",
            "-abc",
            "abc-",
            "a--b",
            "ABC",
            "ab c",
            "héllo",
            "a_b",
            &"a".repeat(81),
        ] {
            assert!(slug(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugify_makes_valid_slugs() {
        assert_eq!(
            slugify("Rust for Beginners!").as_deref(),
            Some("rust-for-beginners")
        );
        assert_eq!(slugify("  --C++ & Go--  ").as_deref(), Some("c-go"));
        assert_eq!(slugify("日本語"), None);
        let long = slugify(&"ab ".repeat(100)).unwrap();
        assert!(slug(&long).is_ok(), "{long}");
        assert!(long.len() <= 80);
    }

    #[test]
    fn titles_and_descriptions() {
        assert_eq!(Title::parse("  Hi  ").unwrap().as_str(), "Hi");
        assert!(Title::parse("   ").is_err());
        assert!(Title::parse("a\u{0}b").is_err());
        assert!(Title::parse(&"é".repeat(200)).is_ok());
        assert!(Title::parse(&"é".repeat(201)).is_err());
        assert!(description("line\nline\ttab").is_ok());
        assert!(description("nul\u{0}").is_err());
        assert!(price_cents(-1).is_err());
        assert!(duration_seconds(-1).is_err());
        assert!(position(0).is_ok());
    }
}
