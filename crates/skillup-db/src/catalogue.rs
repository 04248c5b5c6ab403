//! The catalogue: pages of published courses, searched, filtered and sorted.
//!
//! One builder writes the `WHERE` clause of both the page and its `total`, so the
//! two can never disagree on what matches. Every value is a bound parameter.

use skillup_common::UserId;
use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::DbError;
use crate::courses::SummaryRow;
use crate::models::CoursePage;

/// The order of a catalogue page. Every order ends in `created_at DESC, id DESC`,
/// so equal keys keep a stable order and pages never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sort {
    /// Newest first: the default without a search.
    #[default]
    Newest,
    /// Best match first (`ts_rank_cd`, title above description): the default with a
    /// search. Without one every course ranks the same, so this is `Newest`.
    Relevance,
    /// By title, A to Z.
    Title,
    /// Cheapest first.
    PriceAsc,
    /// Dearest first.
    PriceDesc,
}

impl Sort {
    /// Every order, by its name in the query string.
    pub const ALL: [(&'static str, Sort); 5] = [
        ("newest", Sort::Newest),
        ("relevance", Sort::Relevance),
        ("title", Sort::Title),
        ("price_asc", Sort::PriceAsc),
        ("price_desc", Sort::PriceDesc),
    ];

    /// The name of this order in the query string.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("newest", |(name, _)| name)
    }

    /// The order named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }
}

/// What a catalogue page holds, beyond "published". Build it with already
/// validated values (the API's query parser does that).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Filter {
    /// Full-text search, in `websearch_to_tsquery` syntax (words, `"a phrase"`,
    /// `or`, `-word`), English stemming, over title and description. `None` or
    /// blank: no search. A search of stop words only ("the") matches nothing.
    pub q: Option<String>,
    /// Only courses this instructor teaches.
    pub instructor: Option<UserId>,
    /// Prices in cents, inclusive. A minimum above the maximum matches nothing.
    pub min_price_cents: Option<i32>,
    pub max_price_cents: Option<i32>,
    pub sort: Sort,
}

impl Filter {
    /// Whether this is the plain listing: everything published, newest first.
    pub fn is_plain(&self) -> bool {
        self.q.is_none()
            && self.instructor.is_none()
            && self.min_price_cents.is_none()
            && self.max_price_cents.is_none()
            && matches!(self.sort, Sort::Newest | Sort::Relevance)
    }

    /// Appends `WHERE …` (courses aliased `c`) for this filter.
    fn push_where(&self, sql: &mut QueryBuilder<Postgres>) {
        sql.push(" WHERE c.published");
        if let Some(q) = &self.q {
            sql.push(" AND c.search @@ websearch_to_tsquery('english', ")
                .push_bind(q.as_str())
                .push(")");
        }
        if let Some(instructor) = self.instructor {
            sql.push(" AND c.instructor_id = ").push_bind(instructor.0);
        }
        if let Some(min) = self.min_price_cents {
            sql.push(" AND c.price_cents >= ").push_bind(min);
        }
        if let Some(max) = self.max_price_cents {
            sql.push(" AND c.price_cents <= ").push_bind(max);
        }
    }

    /// Appends `ORDER BY …`.
    fn push_order(&self, sql: &mut QueryBuilder<Postgres>) {
        sql.push(" ORDER BY ");
        match (self.sort, &self.q) {
            (Sort::Relevance, Some(q)) => {
                sql.push("ts_rank_cd(c.search, websearch_to_tsquery('english', ")
                    .push_bind(q.as_str())
                    .push(")) DESC, ");
            }
            (Sort::Relevance | Sort::Newest, _) => {}
            (Sort::Title, _) => {
                sql.push("c.title ASC, ");
            }
            (Sort::PriceAsc, _) => {
                sql.push("c.price_cents ASC, ");
            }
            (Sort::PriceDesc, _) => {
                sql.push("c.price_cents DESC, ");
            }
        }
        sql.push("c.created_at DESC, c.id DESC");
    }
}

/// One page of the published courses `filter` selects, in its order, with the
/// number of all such courses. `page` starts at 1.
///
/// The plain listing walks `courses_published_listing_idx`; a search reads the
/// matches from `courses_search_idx`.
pub async fn page(
    pool: &PgPool,
    filter: &Filter,
    page: u32,
    per_page: u32,
) -> Result<CoursePage, DbError> {
    let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
    let mut rows = QueryBuilder::new(
        "SELECT c.id, c.slug, c.title, c.description, c.price_cents, \
                p.id AS instructor_id, p.display_name AS instructor_name, c.created_at, c.updated_at \
         FROM courses c JOIN profiles p ON p.id = c.instructor_id",
    );
    filter.push_where(&mut rows);
    filter.push_order(&mut rows);
    rows.push(" LIMIT ")
        .push_bind(i64::from(per_page))
        .push(" OFFSET ")
        .push_bind(offset);
    let rows: Vec<SummaryRow> = rows.build_query_as().fetch_all(pool).await?;

    let mut total = QueryBuilder::new("SELECT count(*) FROM courses c");
    filter.push_where(&mut total);
    let total: i64 = total.build_query_scalar().fetch_one(pool).await?;
    Ok(CoursePage {
        items: rows.into_iter().map(Into::into).collect(),
        page,
        per_page,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_names_round_trip() {
        for (name, sort) in Sort::ALL {
            assert_eq!(Sort::from_name(name), Some(sort));
            assert_eq!(sort.name(), name);
        }
        assert_eq!(Sort::from_name("NEWEST"), None);
    }

    #[test]
    fn plain_means_no_filter_in_the_default_order() {
        assert!(Filter::default().is_plain());
        let relevance = Filter {
            sort: Sort::Relevance,
            ..Filter::default()
        };
        assert!(relevance.is_plain(), "relevance without a search is newest");
        let by_title = Filter {
            sort: Sort::Title,
            ..Filter::default()
        };
        assert!(!by_title.is_plain());
        let cheap = Filter {
            max_price_cents: Some(0),
            ..Filter::default()
        };
        assert!(!cheap.is_plain());
    }

    #[test]
    fn page_and_total_share_the_where_clause() {
        let filter = Filter {
            q: Some("bread".into()),
            instructor: Some(UserId(uuid::Uuid::nil())),
            min_price_cents: Some(1),
            max_price_cents: Some(2),
            sort: Sort::Relevance,
        };
        let mut sql = QueryBuilder::<Postgres>::new("SELECT");
        filter.push_where(&mut sql);
        filter.push_order(&mut sql);
        assert_eq!(
            sql.into_string(),
            "SELECT WHERE c.published AND c.search @@ websearch_to_tsquery('english', $1) \
             AND c.instructor_id = $2 AND c.price_cents >= $3 AND c.price_cents <= $4 \
             ORDER BY ts_rank_cd(c.search, websearch_to_tsquery('english', $5)) DESC, \
             c.created_at DESC, c.id DESC"
        );
    }
}
