//! Request values parsed into domain types at the edge; anything malformed is a 400
//! naming the parameter.

use skillup_common::{CourseId, LessonId, ModuleId};

use crate::error::ApiError;

/// Parses a path segment as a course id.
pub fn course_id(raw: &str) -> Result<CourseId, ApiError> {
    id("course", raw)
}

pub fn module_id(raw: &str) -> Result<ModuleId, ApiError> {
    id("module", raw)
}

pub fn lesson_id(raw: &str) -> Result<LessonId, ApiError> {
    id("lesson", raw)
}

/// Parses a path segment as a hyphenated uuid of `what`.
fn id<T: std::str::FromStr>(what: &str, raw: &str) -> Result<T, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::bad_request(format!("{what} id {raw:?} is not a uuid")))
}

pub const MAX_PAGE: u32 = 100_000;
pub const MAX_PER_PAGE: u32 = 100;
pub const DEFAULT_PER_PAGE: u32 = 20;

/// `?page=1&per_page=20`, validated: `page` in 1..=100000, `per_page` in 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: u32,
    pub per_page: u32,
}

impl Paging {
    /// Validates `page` and `per_page` as sent (absent: the defaults).
    pub fn from_raw(page: Option<&str>, per_page: Option<&str>) -> Result<Self, ApiError> {
        Ok(Self {
            page: bounded("page", page, 1, 1, MAX_PAGE)?,
            per_page: bounded("per_page", per_page, DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)?,
        })
    }
}

fn bounded(
    name: &str,
    raw: Option<&str>,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, ApiError> {
    let Some(raw) = raw else { return Ok(default) };
    match raw.parse::<u32>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(ApiError::bad_request(format!(
            "{name} must be an integer from {min} to {max}, got {raw:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Paging as the listing's query parser reads it.
    fn paging(query: &str) -> Result<Paging, ApiError> {
        crate::catalogue::Listing::from_query(query).map(|l| l.paging)
    }

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            paging("").unwrap(),
            Paging {
                page: 1,
                per_page: 20
            }
        );
        assert_eq!(
            paging("page=3&per_page=100&x=y").unwrap(),
            Paging {
                page: 3,
                per_page: 100
            }
        );
        for bad in [
            "page=0",
            "page=-1",
            "page=100001",
            "per_page=0",
            "per_page=101",
            "per_page=ten",
            "page=1.5",
            "page=99999999999999999999",
            "page=1&page=2",
        ] {
            assert!(paging(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn the_error_names_the_parameter() {
        let err = paging("per_page=abc").unwrap_err();
        assert!(err.to_string().starts_with("per_page"), "{err}");
    }

    /// Property tests (`PROPTEST_CASES`, default 256): the parsers accept exactly
    /// what docs/api.md documents and never panic.
    mod properties {
        use proptest::prelude::*;
        use uuid::Uuid;

        use super::*;

        /// A decimal integer, optionally `+`-signed (as `u32::from_str` reads it).
        fn integer(s: &str) -> Option<u128> {
            let digits = s.strip_prefix('+').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(digits.bytes().fold(0u128, |n, d| {
                n.saturating_mul(10).saturating_add(u128::from(d - b'0'))
            }))
        }

        fn in_range(raw: &str, min: u32, max: u32) -> bool {
            integer(raw).is_some_and(|n| (u128::from(min)..=u128::from(max)).contains(&n))
        }

        fn hyphenated_uuid(s: &str) -> bool {
            s.len() == 36
                && s.bytes().enumerate().all(|(i, b)| match i {
                    8 | 13 | 18 | 23 => b == b'-',
                    _ => b.is_ascii_hexdigit(),
                })
        }

        /// Query values as clients send them: numbers near the bounds, signs,
        /// decimals, huge values, junk, and percent-encoded bytes.
        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                (0u64..200_000).prop_map(|n| n.to_string()),
                any::<u64>().prop_map(|n| n.to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                "[+-]?[0-9]{1,25}(\\.[0-9]{0,3})?",
                "[0-9a-zA-Z%+ .-]{0,12}",
                any::<String>(),
            ]
        }

        proptest! {
            #[test]
            fn any_query_string_is_parsed_or_refused_without_panic(query in any::<String>()) {
                let _ = paging(&query);
            }

            #[test]
            fn page_and_per_page_accept_exactly_their_ranges(page in value(), per_page in value()) {
                let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
                let query = format!("page={}&per_page={}", enc(&page), enc(&per_page));
                let got = paging(&query);
                let ok = in_range(&page, 1, MAX_PAGE) && in_range(&per_page, 1, MAX_PER_PAGE);
                prop_assert_eq!(got.is_ok(), ok, "{} -> {:?}", query, got);
                if let Ok(p) = got {
                    prop_assert_eq!(Some(u128::from(p.page)), integer(&page));
                    prop_assert_eq!(Some(u128::from(p.per_page)), integer(&per_page));
                }
            }

            #[test]
            fn ids_are_exactly_hyphenated_uuids(
                raw in prop_oneof![
                    any::<String>(),
                    "[0-9a-fA-F-]{30,40}",
                    any::<u128>().prop_map(|n| Uuid::from_u128(n).hyphenated().to_string()),
                    any::<u128>().prop_map(|n| Uuid::from_u128(n).simple().to_string()),
                    any::<u128>().prop_map(|n| Uuid::from_u128(n).braced().to_string()),
                    any::<u128>().prop_map(|n| Uuid::from_u128(n).urn().to_string()),
                    any::<u128>().prop_map(|n| Uuid::from_u128(n).hyphenated().to_string().to_uppercase()),
                ]
            ) {
                let ok = hyphenated_uuid(&raw);
                for parsed in [
                    course_id(&raw).map(|id| id.to_string()),
                    module_id(&raw).map(|id| id.to_string()),
                    lesson_id(&raw).map(|id| id.to_string()),
                ] {
                    prop_assert_eq!(parsed.is_ok(), ok, "{:?}", raw);
                    if let Ok(canonical) = parsed {
                        prop_assert_eq!(canonical, raw.to_lowercase());
                    }
                }
            }
        }
    }
}
