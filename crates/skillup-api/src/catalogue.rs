//! `GET /api/courses`'s query: paging, search, filters and order, parsed once
//! into a [`Listing`]; its canonical form (which names the cached page) and its
//! `Link` header (RFC 8288).
//!
//! Choices where the contract is silent, also in docs/api.md:
//! - `q` is trimmed, lower-cased, and every run of white space or control
//!   characters becomes one space (Postgres text holds no NUL, and equal searches
//!   should share one cached page); a blank `q` is no search.
//! - `sort=relevance` without `q` is `newest` (every course ranks the same).
//! - `min_price_cents` above `max_price_cents` is an empty range, not an error:
//!   each value alone is valid.
//! - The `Link` targets carry the canonical values, not the raw ones, and leave
//!   out unknown parameters and a `sort` equal to the default.

use serde::Deserialize;
use skillup_common::UserId;
use skillup_db::catalogue::{Filter, Sort};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::params::Paging;

/// The longest search accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// The path the `Link` targets name.
const PATH: &str = "/api/courses";

/// The query as sent, before validation (documented in the OpenAPI description).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListingQuery {
    /// 1-based page number (1..=100000, default 1).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100000)]
    pub page: Option<String>,
    /// Items per page (1..=100, default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
    /// Full-text search over title and description, English stemming
    /// ("fermentation" finds "Fermentations"), at most 200 characters. Web search
    /// syntax: words (all must match), `"a phrase"`, `or`, `-word`. Blank: no search.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Only the courses of this instructor (a hyphenated uuid).
    #[param(value_type = Option<uuid::Uuid>)]
    pub instructor_id: Option<String>,
    /// Lowest price in cents, inclusive.
    #[param(value_type = Option<i32>, minimum = 0, maximum = 2147483647)]
    pub min_price_cents: Option<String>,
    /// Highest price in cents, inclusive (below `min_price_cents`: nothing matches).
    #[param(value_type = Option<i32>, minimum = 0, maximum = 2147483647)]
    pub max_price_cents: Option<String>,
    /// Order: `relevance` by default with `q`, else `newest`. Ties: newest first.
    #[param(value_type = Option<SortName>)]
    pub sort: Option<String>,
}

/// The orders `sort` takes (for the OpenAPI description; parsed by name).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortName {
    Newest,
    Relevance,
    Title,
    PriceAsc,
    PriceDesc,
}

/// A validated listing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub paging: Paging,
    pub filter: Filter,
    /// Whether `sort` was sent: a `Link` keeps it only then.
    sort_sent: bool,
}

impl Listing {
    /// Parses a raw query string; unknown parameters are ignored, a repeated one
    /// or any bad value is a 400 naming it.
    pub fn from_query(query: &str) -> Result<Self, ApiError> {
        let raw = actix_web::web::Query::<ListingQuery>::from_query(query)
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?
            .into_inner();
        let paging = Paging::from_raw(raw.page.as_deref(), raw.per_page.as_deref())?;
        let q = raw.q.as_deref().map(search).transpose()?.flatten();
        let instructor = raw
            .instructor_id
            .as_deref()
            .map(|id| {
                id.parse::<UserId>().map_err(|_| {
                    ApiError::bad_request(format!("instructor_id {id:?} is not a uuid"))
                })
            })
            .transpose()?;
        let min_price_cents = price("min_price_cents", raw.min_price_cents.as_deref())?;
        let max_price_cents = price("max_price_cents", raw.max_price_cents.as_deref())?;
        let sent = raw
            .sort
            .as_deref()
            .map(|name| {
                Sort::from_name(name).ok_or_else(|| {
                    let names: Vec<_> = Sort::ALL.iter().map(|(n, _)| *n).collect();
                    ApiError::bad_request(format!(
                        "sort must be one of {}, got {name:?}",
                        names.join(", ")
                    ))
                })
            })
            .transpose()?;
        let sort = match (sent, &q) {
            (Some(Sort::Relevance) | None, None) => Sort::Newest,
            (None, Some(_)) => Sort::Relevance,
            (Some(sort), _) => sort,
        };
        Ok(Self {
            paging,
            filter: Filter {
                q,
                instructor,
                min_price_cents,
                max_price_cents,
                sort,
            },
            sort_sent: sent.is_some(),
        })
    }

    /// What selects this page's courses, in one spelling per meaning: the cache
    /// names a filtered page by its digest. Paging is not part of it.
    pub fn canonical_filter(&self) -> String {
        self.filter_pairs()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect()
    }

    /// `Link: <…>; rel="first", …` for a listing of `total` courses.
    pub fn link_header(&self, total: u64) -> String {
        let Paging { page, per_page } = self.paging;
        let last = u32::try_from(total.div_ceil(u64::from(per_page)))
            .unwrap_or(u32::MAX)
            .max(1);
        let mut links = vec![(1, "first")];
        if page > 1 {
            links.push((page.saturating_sub(1).min(last), "prev"));
        }
        if page < last {
            links.push((page + 1, "next"));
        }
        links.push((last, "last"));
        links
            .into_iter()
            .map(|(target, rel)| format!("<{}>; rel=\"{rel}\"", self.url(target)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The listing's URL at `page`, with this request's other parameters.
    fn url(&self, page: u32) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.filter_pairs() {
            if k != "sort" || self.sort_sent {
                query.append_pair(k, &v);
            }
        }
        query.append_pair("page", &page.to_string());
        query.append_pair("per_page", &self.paging.per_page.to_string());
        format!("{PATH}?{}", query.finish())
    }

    fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        let f = &self.filter;
        let mut pairs = Vec::new();
        if let Some(q) = &f.q {
            pairs.push(("q", q.clone()));
        }
        if let Some(id) = f.instructor {
            pairs.push(("instructor_id", id.to_string()));
        }
        if let Some(min) = f.min_price_cents {
            pairs.push(("min_price_cents", min.to_string()));
        }
        if let Some(max) = f.max_price_cents {
            pairs.push(("max_price_cents", max.to_string()));
        }
        pairs.push(("sort", f.sort.name().to_owned()));
        pairs
    }
}

/// `q` normalised (see the module doc); `None` when blank.
fn search(raw: &str) -> Result<Option<String>, ApiError> {
    let chars = raw.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(ApiError::bad_request(format!(
            "q must be at most {MAX_QUERY_CHARS} characters, got {chars}"
        )));
    }
    let words: Vec<String> = raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    Ok((!words.is_empty()).then(|| words.join(" ")))
}

fn price(name: &str, raw: Option<&str>) -> Result<Option<i32>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    match raw.parse::<i32>() {
        Ok(cents) if cents >= 0 => Ok(Some(cents)),
        _ => Err(ApiError::bad_request(format!(
            "{name} must be an integer from 0 to {}, got {raw:?}",
            i32::MAX
        ))),
    }
}

/// The `total` of a serialized course page: its last field (`…,"total":N}`), read
/// from the cached bytes so that a hit needs no parse. A quote inside a JSON
/// string is escaped, so `"total":` there can only be the field.
pub fn total_of(page: &[u8]) -> Option<u64> {
    const FIELD: &[u8] = b"\"total\":";
    let at = page.windows(FIELD.len()).rposition(|w| w == FIELD)? + FIELD.len();
    let digits = &page[at..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(query: &str) -> Listing {
        Listing::from_query(query).unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    #[test]
    fn defaults_are_the_plain_listing() {
        let l = listing("");
        assert!(l.filter.is_plain());
        assert_eq!(l.filter.sort, Sort::Newest);
        assert!(listing("sort=relevance").filter.is_plain());
        assert!(
            listing("q=%20%20").filter.is_plain(),
            "a blank q is no search"
        );
        assert!(!listing("sort=title").filter.is_plain());
    }

    #[test]
    fn a_search_ranks_by_relevance_unless_told() {
        assert_eq!(listing("q=bread").filter.sort, Sort::Relevance);
        assert_eq!(listing("q=bread&sort=newest").filter.sort, Sort::Newest);
        assert_eq!(
            listing("q=bread&sort=price_desc").filter.sort,
            Sort::PriceDesc
        );
    }

    #[test]
    fn equal_searches_share_one_canonical_form() {
        let a = listing("q=%20Sour%0A%00Dough%09bread&sort=relevance");
        let b = listing("q=sour+dough+bread");
        assert_eq!(a.filter.q.as_deref(), Some("sour dough bread"));
        assert_eq!(a.canonical_filter(), b.canonical_filter());
        assert_ne!(
            a.canonical_filter(),
            listing("q=sour+dough").canonical_filter()
        );
        assert_ne!(
            listing("min_price_cents=1").canonical_filter(),
            listing("max_price_cents=1").canonical_filter()
        );
    }

    #[test]
    fn every_bad_value_names_its_parameter() {
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        for (query, name) in [
            (format!("q={long}"), "q"),
            ("instructor_id=42".to_owned(), "instructor_id"),
            (
                "instructor_id=00000000000000000000000000000000".to_owned(),
                "instructor_id",
            ),
            ("min_price_cents=-1".to_owned(), "min_price_cents"),
            ("min_price_cents=1.5".to_owned(), "min_price_cents"),
            ("max_price_cents=2147483648".to_owned(), "max_price_cents"),
            ("max_price_cents=".to_owned(), "max_price_cents"),
            ("sort=cheapest".to_owned(), "sort"),
            ("sort=NEWEST".to_owned(), "sort"),
            ("page=0".to_owned(), "page"),
        ] {
            let err = Listing::from_query(&query).expect_err(&query).to_string();
            assert!(err.starts_with(name), "{query}: {err}");
        }
        let ok = "é".repeat(MAX_QUERY_CHARS);
        assert!(
            Listing::from_query(&format!("q={ok}")).is_ok(),
            "characters, not bytes"
        );
        assert!(Listing::from_query("q=a&q=b").is_err(), "repeated");
    }

    #[test]
    fn link_names_first_last_and_neighbours_with_the_other_parameters() {
        let first = listing("q=Bread&page=1&per_page=10&x=y").link_header(25);
        assert_eq!(
            first,
            "</api/courses?q=bread&page=1&per_page=10>; rel=\"first\", \
             </api/courses?q=bread&page=2&per_page=10>; rel=\"next\", \
             </api/courses?q=bread&page=3&per_page=10>; rel=\"last\""
        );
        let middle = listing("page=2&per_page=10&sort=price_asc&min_price_cents=5").link_header(25);
        assert_eq!(
            middle,
            "</api/courses?min_price_cents=5&sort=price_asc&page=1&per_page=10>; rel=\"first\", \
             </api/courses?min_price_cents=5&sort=price_asc&page=1&per_page=10>; rel=\"prev\", \
             </api/courses?min_price_cents=5&sort=price_asc&page=3&per_page=10>; rel=\"next\", \
             </api/courses?min_price_cents=5&sort=price_asc&page=3&per_page=10>; rel=\"last\""
        );
        let last = listing("page=3&per_page=10").link_header(25);
        assert!(!last.contains("rel=\"next\""), "{last}");
        assert!(last.contains("page=2&per_page=10>; rel=\"prev\""), "{last}");
        let empty = listing("").link_header(0);
        assert_eq!(
            empty,
            "</api/courses?page=1&per_page=20>; rel=\"first\", \
             </api/courses?page=1&per_page=20>; rel=\"last\""
        );
        let beyond = listing("page=9&per_page=10").link_header(25);
        assert!(
            beyond.contains("page=3&per_page=10>; rel=\"prev\""),
            "{beyond}"
        );
        let spaced = listing("q=sour%20dough").link_header(1);
        assert!(spaced.contains("q=sour+dough&"), "{spaced}");
    }

    #[test]
    fn total_is_read_from_the_serialized_page() {
        assert_eq!(
            total_of(br#"{"items":[],"page":1,"per_page":20,"total":0}"#),
            Some(0)
        );
        let tricky = br#"{"items":[{"title":"\"total\":9"}],"page":1,"per_page":20,"total":1234}"#;
        assert_eq!(total_of(tricky), Some(1234));
        assert_eq!(total_of(b"{}"), None);
    }
}
