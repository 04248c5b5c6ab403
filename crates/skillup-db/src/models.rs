//! Row and response types of the course reads. They serialize to exactly the JSON
//! the spec fixes, so the API caches `serde_json::to_vec` of them as is.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// The instructor as shown on a course.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct InstructorRef {
    pub id: Uuid,
    pub display_name: String,
}

/// One course in a listing.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct CourseSummary {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub price_cents: i32,
    pub instructor: InstructorRef,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A page of published courses, newest first.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct CoursePage {
    pub items: Vec<CourseSummary>,
    pub page: u32,
    pub per_page: u32,
    /// Published courses in all pages.
    pub total: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct LessonView {
    pub id: Uuid,
    pub position: i32,
    pub title: String,
    pub duration_seconds: i32,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct ModuleView {
    pub id: Uuid,
    pub position: i32,
    pub title: String,
    /// Ordered by position.
    pub lessons: Vec<LessonView>,
}

/// The course detail (`GET /api/courses/{id}`, cached as `course:{id}`).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct CourseDetail {
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub price_cents: i32,
    pub published: bool,
    pub instructor: InstructorRef,
    pub enrollment_count: i64,
    /// Ordered by position.
    pub modules: Vec<ModuleView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
