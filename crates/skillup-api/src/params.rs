//! Request values parsed into domain types at the edge; anything malformed is a 400
//! naming the parameter.

use serde::Deserialize;
use skillup_common::{CourseId, LessonId, ModuleId};
use utoipa::IntoParams;

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

/// The query as sent, before validation (documented in the OpenAPI description).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PagingQuery {
    /// 1-based page number (1..=100000, default 1).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100000)]
    pub page: Option<String>,
    /// Items per page (1..=100, default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
}

impl Paging {
    /// Parses a raw query string; unknown parameters are ignored.
    pub fn from_query(query: &str) -> Result<Self, ApiError> {
        let raw = actix_web::web::Query::<PagingQuery>::from_query(query)
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?
            .into_inner();
        Ok(Self {
            page: bounded("page", raw.page.as_deref(), 1, 1, MAX_PAGE)?,
            per_page: bounded(
                "per_page",
                raw.per_page.as_deref(),
                DEFAULT_PER_PAGE,
                1,
                MAX_PER_PAGE,
            )?,
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

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            Paging::from_query("").unwrap(),
            Paging {
                page: 1,
                per_page: 20
            }
        );
        assert_eq!(
            Paging::from_query("page=3&per_page=100&x=y").unwrap(),
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
            assert!(Paging::from_query(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn the_error_names_the_parameter() {
        let err = Paging::from_query("per_page=abc").unwrap_err();
        assert!(err.to_string().starts_with("per_page"), "{err}");
    }
}
