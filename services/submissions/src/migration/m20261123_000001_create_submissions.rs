//! Creates the submissions and the append-only, bitemporal observations tables.

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sharedmetrics_db::schema::{a, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The first and last years with their own partition; periods outside go to the default one.
const FIRST_PARTITION_YEAR: i32 = 1990;
const LAST_PARTITION_YEAR: i32 = 2040;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(a("submissions"))
                    .col(string(a("id")).primary_key())
                    .col(string(a("metric_code")))
                    .col(integer(a("metric_version")))
                    .col(string(a("mode")))
                    .col(boolean(a("atomic")))
                    .col(string(a("idempotency_key")))
                    .col(string(a("payload_hash")))
                    .col(text(a("replace_scope")))
                    .col(string(a("source_system")))
                    .col(string(a("submitter")))
                    .col(string(a("key_id")))
                    .col(string(a("organisation_code")))
                    .col(binary(a("receipt")))
                    .col(string(a("state")))
                    .col(big_integer(a("submitted_at_us")))
                    .col(big_integer_null(a("visible_from_us")))
                    .col(big_integer_null(a("published_at_us")))
                    .col(string_null(a("published_by")))
                    .col(big_integer_null(a("retracted_at_us")))
                    .col(string_null(a("retracted_by")))
                    .col(text_null(a("retraction_reason")))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("submissions", "submissions_metric_idx", &["metric_code", "submitted_at_us"]))
            .await?;

        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX submissions_idempotency_idx ON submissions (organisation_code, idempotency_key)
                    WHERE idempotency_key <> ''",
            )
            .await?;

        // Observations are written and read with hand-written SQL (bulk insert, window queries),
        // so the table is declared in SQL too. Timestamps are microseconds since the epoch in
        // BIGINT columns: the same comparisons and indexes work on both backends.
        let db = manager.get_connection();
        let postgres = db.get_database_backend() == DbBackend::Postgres;
        let (id, double, key, partitioning) = if postgres {
            // On PostgreSQL the table is range-partitioned by the period's first day, one
            // partition a year (and a default one), so reads of a period range touch only their
            // years' indexes and old years can be detached and archived whole.
            (
                "id BIGINT GENERATED ALWAYS AS IDENTITY",
                "DOUBLE PRECISION",
                ", PRIMARY KEY (id, period_start)",
                " PARTITION BY RANGE (period_start)",
            )
        } else {
            ("id INTEGER PRIMARY KEY AUTOINCREMENT", "REAL", "", "")
        };
        db.execute_unprepared(&format!(
            "CREATE TABLE observations (
                {id},
                metric_code TEXT NOT NULL,
                metric_version INTEGER NOT NULL,
                area_code TEXT NOT NULL,
                period_code TEXT NOT NULL,
                period_start TEXT NOT NULL,
                breakdown_key TEXT NOT NULL,
                numerator {double},
                denominator {double},
                value {double},
                lower_ci_95 {double},
                upper_ci_95 {double},
                observation_status TEXT NOT NULL,
                confidentiality_status TEXT NOT NULL,
                note TEXT NOT NULL,
                submission_id TEXT NOT NULL,
                organisation_code TEXT NOT NULL,
                deleted BOOLEAN NOT NULL,
                valid_from_us BIGINT NOT NULL,
                valid_to_us BIGINT{key}
            ){partitioning}"
        ))
        .await?;
        if postgres {
            db.execute_unprepared("CREATE TABLE observations_default PARTITION OF observations DEFAULT").await?;
            for year in FIRST_PARTITION_YEAR..=LAST_PARTITION_YEAR {
                db.execute_unprepared(&format!(
                    "CREATE TABLE observations_y{year} PARTITION OF observations \
                     FOR VALUES FROM ('{year}-01-01') TO ('{}-01-01')",
                    year + 1
                ))
                .await?;
            }
        }
        // The write path's lookup: the current version of given keys.
        db.execute_unprepared(
            "CREATE INDEX observations_current_idx ON observations
                (metric_code, metric_version, period_code, area_code, breakdown_key) WHERE valid_to_us IS NULL",
        )
        .await?;
        // The read path: every version of a metric's keys in a period range, newest first.
        db.execute_unprepared(
            "CREATE INDEX observations_read_idx ON observations
                (metric_code, metric_version, period_start, area_code, breakdown_key, valid_from_us)",
        )
        .await?;
        db.execute_unprepared("CREATE INDEX observations_submission_idx ON observations (submission_id)").await?;
        Ok(())
    }
}
