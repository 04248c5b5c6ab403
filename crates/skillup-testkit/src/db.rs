//! A database of each test's own, created on the shared Postgres and migrated.

use skillup_common::config::DatabaseConfig;
use sqlx::{Connection, PgConnection, PgPool};

/// Prefix of every database the tests create; `scripts/test.sh` drops leftovers.
pub const TEST_DB_PREFIX: &str = "skillup_test_";

/// `TEST_DATABASE_URL`, or `postgres://postgres@127.0.0.1:5432/postgres`: the
/// server and the maintenance database the tests' databases are created from.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database created for one test and migrated.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDatabase {
    pub fn config(&self) -> DatabaseConfig {
        let env: std::collections::HashMap<&str, &str> =
            [("DATABASE_URL", self.url.as_str())].into_iter().collect();
        DatabaseConfig::from_env(&env).expect("test database url is valid")
    }

    /// Drops the database while the app may still hold connections: Postgres is
    /// gone as far as anything using it can tell.
    pub async fn drop_now(&self) {
        self.pool.close().await;
        let mut admin = PgConnection::connect(&server_url())
            .await
            .expect("connect to postgres");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE \"{}\" WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await
        .expect("drop test database");
    }
}

/// Creates `skillup_test_{uuid}` and applies the migrations.
pub async fn fresh_database() -> TestDatabase {
    let name = format!("{TEST_DB_PREFIX}{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&server_url())
        .await
        .expect("connect to postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let mut url = url::Url::parse(&server_url()).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    let url = url.to_string();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .connect(&url)
        .await
        .expect("connect to test database");
    skillup_db::migrate::run(&pool)
        .await
        .expect("migrate test database");
    TestDatabase { name, url, pool }
}

/// A pool on the server's maintenance database (for `pg_stat_activity` and such).
pub async fn admin_pool() -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&server_url())
        .await
        .expect("connect to postgres")
}
