//! Database access for the submissions service. Observations are append-only: a revision is a
//! new row, and the row it supersedes only gets its `valid_to_us` set. The hot paths (bulk
//! insert, current-version lookup, the per-reader latest-version query) are hand-written SQL
//! behind these functions; submissions use the entity.

use sea_orm::sea_query::ArrayType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QueryResult, Statement, StreamTrait, Value,
};

use crate::entity::submission;
use crate::validate::ValidRow;

/// Columns of `observations` in the order the functions here read them.
const COLUMNS: &str = "o.id, o.area_code, o.period_code, o.period_start, o.breakdown_key, o.numerator, o.denominator, \
    o.value, o.lower_ci_95, o.upper_ci_95, o.observation_status, o.confidentiality_status, o.note, o.submission_id, \
    o.organisation_code, o.deleted, o.valid_from_us, o.valid_to_us";

/// Values per IN list.
const IN_CHUNK: usize = 5_000;

/// One stored version of an observation: the key and values it was written with, and who
/// wrote it when.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRow {
    pub id: i64,
    /// The key and values, in the shape validation gave them.
    pub values: ValidRow,
    pub submission_id: String,
    pub organisation_code: String,
    /// A retraction record: the key has no value from `valid_from_us`.
    pub deleted: bool,
    pub valid_from_us: i64,
    pub valid_to_us: Option<i64>,
}

/// A stored row reads as its key and values.
impl std::ops::Deref for StoredRow {
    type Target = ValidRow;

    fn deref(&self) -> &ValidRow {
        &self.values
    }
}

impl StoredRow {
    /// Returns whether the stored values equal a validated row's (a resubmission that changes nothing).
    pub fn same_values(&self, row: &ValidRow) -> bool {
        !self.deleted
            && self.numerator == row.numerator
            && self.denominator == row.denominator
            && self.value == row.value
            && self.lower_ci_95 == row.lower_ci_95
            && self.upper_ci_95 == row.upper_ci_95
            && self.observation_status == row.observation_status
            && self.confidentiality_status == row.confidentiality_status
            && self.note == row.note
    }

    /// Returns the values of a retraction of this row's key: no figures, status missing, and
    /// `note` (the reason, when one was given).
    pub fn tombstone(&self, note: &str) -> ValidRow {
        ValidRow {
            numerator: None,
            denominator: None,
            value: None,
            lower_ci_95: None,
            upper_ci_95: None,
            observation_status: "missing".into(),
            confidentiality_status: "free".into(),
            note: note.to_owned(),
            ..self.values.clone()
        }
    }

    fn from_result(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.try_get("", "id")?,
            values: ValidRow {
                area_code: row.try_get("", "area_code")?,
                period_code: row.try_get("", "period_code")?,
                period_start: row.try_get("", "period_start")?,
                breakdown_key: row.try_get("", "breakdown_key")?,
                numerator: row.try_get("", "numerator")?,
                denominator: row.try_get("", "denominator")?,
                value: row.try_get("", "value")?,
                lower_ci_95: row.try_get("", "lower_ci_95")?,
                upper_ci_95: row.try_get("", "upper_ci_95")?,
                observation_status: row.try_get("", "observation_status")?,
                confidentiality_status: row.try_get("", "confidentiality_status")?,
                note: row.try_get("", "note")?,
            },
            submission_id: row.try_get("", "submission_id")?,
            organisation_code: row.try_get("", "organisation_code")?,
            deleted: row.try_get("", "deleted")?,
            valid_from_us: row.try_get("", "valid_from_us")?,
            valid_to_us: row.try_get("", "valid_to_us")?,
        })
    }
}

/// A row to append: values, and who wrote it when.
#[derive(Debug, Clone)]
pub struct NewRow {
    pub row: ValidRow,
    pub submission_id: String,
    pub organisation_code: String,
    pub deleted: bool,
    pub valid_from_us: i64,
}

/// Returns `sql` with `$N` placeholders rewritten for the backend (SQLite numbers them `?N`).
fn statement(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Statement {
    let backend = db.get_database_backend();
    let sql = if backend == DbBackend::Sqlite { sql.replace('$', "?") } else { sql.to_owned() };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Returns `$from, $from+1, …` for `count` values.
fn placeholders(from: usize, count: usize) -> String {
    (from..from + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Returns the current versions (retraction records included) of exactly the given keys
/// (area, period, breakdown). On PostgreSQL the keys of each period are joined, as an `UNNEST`,
/// to that period's partition (the ingest transaction forbids sequential scans, so the plan
/// stays index-driven even on a freshly loaded table without statistics); SQLite uses the
/// period/area lookup.
pub async fn current_rows_for_keys(
    db: &impl ConnectionTrait,
    metric: &str,
    version: i32,
    keys: &[(String, String, String)],
) -> Result<Vec<StoredRow>, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        let mut periods: Vec<String> = keys.iter().map(|k| k.1.clone()).collect();
        periods.sort();
        periods.dedup();
        let mut areas: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        areas.sort();
        areas.dedup();
        return current_rows(db, metric, version, &periods, Some(&areas)).await;
    }
    // One query per period: the period's first day (the partition key) is then a constant, so
    // the query is planned against that one partition, and the keys join its partial index.
    let mut by_period: std::collections::BTreeMap<&str, Vec<&(String, String, String)>> = Default::default();
    for key in keys {
        by_period.entry(key.1.as_str()).or_default().push(key);
    }
    let mut out = Vec::new();
    for (period, keys) in by_period {
        let start =
            sharedmetrics_periods::Period::parse(period).map(|p| p.start_date().to_string()).unwrap_or_default();
        for chunk in keys.chunks(UNNEST_CHUNK) {
            let values: Vec<Value> = vec![
                metric.into(),
                version.into(),
                start.clone().into(),
                period.into(),
                text_array(chunk.iter().map(|k| k.0.clone())),
                text_array(chunk.iter().map(|k| k.2.clone())),
            ];
            let sql = format!(
                "SELECT {COLUMNS} FROM observations o JOIN UNNEST($5::text[], $6::text[]) AS k(a, b) \
                 ON o.area_code = k.a AND o.breakdown_key = k.b \
                 WHERE o.metric_code = $1 AND o.metric_version = $2 AND o.period_start = $3 AND o.period_code = $4 \
                 AND o.valid_to_us IS NULL"
            );
            for row in db.query_all_raw(statement(db, &sql, values)).await? {
                out.push(StoredRow::from_result(&row)?);
            }
        }
    }
    Ok(out)
}

/// Returns the current (latest, not superseded) versions of a metric version's rows in the
/// given periods and areas, retraction records included.
pub async fn current_rows(
    db: &impl ConnectionTrait,
    metric: &str,
    version: i32,
    periods: &[String],
    areas: Option<&[String]>,
) -> Result<Vec<StoredRow>, DbErr> {
    let mut out = Vec::new();
    if db.get_database_backend() == DbBackend::Postgres {
        // One array parameter each: planning a query with thousands of IN-list values is what
        // costs, not running it.
        let mut values: Vec<Value> = vec![metric.into(), version.into(), text_array(periods.iter().cloned())];
        let area_clause = match areas {
            Some(areas) => {
                values.push(text_array(areas.iter().cloned()));
                " AND o.area_code = ANY($4)"
            }
            None => "",
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM observations o WHERE o.metric_code = $1 AND o.metric_version = $2 \
             AND o.valid_to_us IS NULL AND o.period_code = ANY($3){area_clause}"
        );
        for row in db.query_all_raw(statement(db, &sql, values)).await? {
            out.push(StoredRow::from_result(&row)?);
        }
        return Ok(out);
    }
    let area_chunks: Vec<&[String]> = match areas {
        Some([]) => return Ok(out),
        Some(areas) => areas.chunks(IN_CHUNK).collect(),
        None => vec![&[]],
    };
    for periods in periods.chunks(1_000) {
        for areas in &area_chunks {
            let mut values: Vec<Value> = vec![metric.into(), version.into()];
            let period_list = placeholders(3, periods.len());
            values.extend(periods.iter().map(|p| Value::from(p.clone())));
            let area_clause = if areas.is_empty() {
                String::new()
            } else {
                let list = placeholders(values.len() + 1, areas.len());
                values.extend(areas.iter().map(|a| Value::from(a.clone())));
                format!(" AND o.area_code IN ({list})")
            };
            let sql = format!(
                "SELECT {COLUMNS} FROM observations o WHERE o.metric_code = $1 AND o.metric_version = $2 \
                 AND o.valid_to_us IS NULL AND o.period_code IN ({period_list}){area_clause}"
            );
            for row in db.query_all_raw(statement(db, &sql, values)).await? {
                out.push(StoredRow::from_result(&row)?);
            }
        }
    }
    Ok(out)
}

const INSERT_COLUMNS: &str = "metric_code, metric_version, area_code, period_code, period_start, breakdown_key, \
    numerator, denominator, value, lower_ci_95, upper_ci_95, observation_status, confidentiality_status, note, \
    submission_id, organisation_code, deleted, valid_from_us, valid_to_us";

fn insert_values(metric: &str, version: i32, new: &NewRow) -> [Value; 19] {
    let r = &new.row;
    [
        Value::from(metric.to_owned()),
        Value::from(version),
        r.area_code.clone().into(),
        r.period_code.clone().into(),
        r.period_start.clone().into(),
        r.breakdown_key.clone().into(),
        r.numerator.into(),
        r.denominator.into(),
        r.value.into(),
        r.lower_ci_95.into(),
        r.upper_ci_95.into(),
        r.observation_status.clone().into(),
        r.confidentiality_status.clone().into(),
        r.note.clone().into(),
        new.submission_id.clone().into(),
        new.organisation_code.clone().into(),
        new.deleted.into(),
        new.valid_from_us.into(),
        Value::BigInt(None),
    ]
}

/// Appends rows to a metric version. On SQLite one prepared statement runs per row inside the
/// caller's transaction (statement reuse is SQLite's fast path; huge multi-row statements are
/// slow to prepare there); on PostgreSQL rows go in as column arrays through `UNNEST`.
pub async fn insert_rows(db: &impl ConnectionTrait, metric: &str, version: i32, rows: &[NewRow]) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Sqlite {
        let sql = format!("INSERT INTO observations ({INSERT_COLUMNS}) VALUES ({})", placeholders(1, 19));
        for new in rows {
            db.execute_raw(statement(db, &sql, insert_values(metric, version, new).to_vec())).await?;
        }
        return Ok(());
    }
    // PostgreSQL: one INSERT … SELECT FROM UNNEST of column arrays per chunk, so a chunk is one
    // statement with 16 parameters however many rows it holds.
    for chunk in rows.chunks(UNNEST_CHUNK) {
        let text = |f: &dyn Fn(&NewRow) -> String| text_array(chunk.iter().map(f));
        // Array elements cannot be NULL through the driver, so a missing number travels as NaN
        // (validation refuses non-finite numbers, so NaN means only "missing") and becomes NULL.
        let double = |f: &dyn Fn(&NewRow) -> Option<f64>| {
            Value::Array(
                ArrayType::Double,
                Some(Box::new(chunk.iter().map(|r| Value::Double(Some(f(r).unwrap_or(f64::NAN)))).collect())),
            )
        };
        let values: Vec<Value> = vec![
            metric.into(),
            version.into(),
            text(&|r| r.row.area_code.clone()),
            text(&|r| r.row.period_code.clone()),
            text(&|r| r.row.period_start.clone()),
            text(&|r| r.row.breakdown_key.clone()),
            double(&|r| r.row.numerator),
            double(&|r| r.row.denominator),
            double(&|r| r.row.value),
            double(&|r| r.row.lower_ci_95),
            double(&|r| r.row.upper_ci_95),
            text(&|r| r.row.observation_status.clone()),
            text(&|r| r.row.confidentiality_status.clone()),
            text(&|r| r.row.note.clone()),
            text(&|r| r.submission_id.clone()),
            text(&|r| r.organisation_code.clone()),
            Value::Array(ArrayType::Bool, Some(Box::new(chunk.iter().map(|r| Value::Bool(Some(r.deleted))).collect()))),
            Value::Array(
                ArrayType::BigInt,
                Some(Box::new(chunk.iter().map(|r| Value::BigInt(Some(r.valid_from_us))).collect())),
            ),
        ];
        let sql = format!(
            "INSERT INTO observations ({INSERT_COLUMNS}) \
             SELECT $1, $2, t.a, t.p, t.ps, t.b, NULLIF(t.n, 'NaN'), NULLIF(t.d, 'NaN'), NULLIF(t.v, 'NaN'), \
             NULLIF(t.l, 'NaN'), NULLIF(t.u, 'NaN'), t.os, t.cs, t.note, t.s, t.o, t.del, t.vf, NULL \
             FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[], $9::float8[], \
             $10::float8[], $11::float8[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], \
             $17::bool[], $18::int8[]) AS t(a, p, ps, b, n, d, v, l, u, os, cs, note, s, o, del, vf)"
        );
        db.execute_raw(statement(db, &sql, values)).await?;
    }
    Ok(())
}

/// Rows per UNNEST insert on PostgreSQL.
const UNNEST_CHUNK: usize = 10_000;

/// Returns a PostgreSQL text[] parameter.
fn text_array(items: impl Iterator<Item = String>) -> Value {
    Value::Array(ArrayType::String, Some(Box::new(items.map(|s| Value::String(Some(s))).collect())))
}

/// Marks rows superseded at `at`.
pub async fn close_rows(db: &impl ConnectionTrait, ids: &[i64], at: i64) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    if db.get_database_backend() == DbBackend::Postgres {
        let ids =
            Value::Array(ArrayType::BigInt, Some(Box::new(ids.iter().map(|id| Value::BigInt(Some(*id))).collect())));
        let sql = "UPDATE observations SET valid_to_us = $1 WHERE id = ANY($2)";
        db.execute_raw(statement(db, sql, vec![at.into(), ids])).await?;
        return Ok(());
    }
    for chunk in ids.chunks(IN_CHUNK) {
        let mut values: Vec<Value> = vec![at.into()];
        values.extend(chunk.iter().map(|id| Value::from(*id)));
        let sql = format!("UPDATE observations SET valid_to_us = $1 WHERE id IN ({})", placeholders(2, chunk.len()));
        db.execute_raw(statement(db, &sql, values)).await?;
    }
    Ok(())
}

/// Who is reading, for the latest-version query.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Sees every version, published or not (metric owners and the national role).
    pub insider: bool,
    /// Also sees its own organisation's unpublished versions.
    pub organisation: String,
}

/// The filters of a read.
#[derive(Debug, Clone)]
pub struct Read {
    pub metric: String,
    pub version: i32,
    pub as_of_us: i64,
    /// The server's clock: an embargo lifts at this time, never at the caller's `as_of`.
    pub now_us: i64,
    pub viewer: Viewer,
    pub areas: Option<Vec<String>>,
    /// Inclusive bounds on the period's first day.
    pub period_start_from: Option<String>,
    pub period_start_to: Option<String>,
}

/// A stored row with its submission's publication facts.
#[derive(Debug, Clone)]
pub struct VisibleRow {
    pub row: StoredRow,
    pub state: String,
    pub visible_from_us: Option<i64>,
}

impl VisibleRow {
    fn from_result(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            row: StoredRow::from_result(row)?,
            state: row.try_get("", "state")?,
            visible_from_us: row.try_get("", "visible_from_us")?,
        })
    }

    /// Reads a row of the latest-version query, whose `valid_to_us` is the one the viewer may
    /// know (see [`latest_visible`]).
    fn from_latest(row: &QueryResult) -> Result<Self, DbErr> {
        let mut visible = Self::from_result(row)?;
        visible.row.valid_to_us = row.try_get("", "shown_valid_to_us")?;
        Ok(visible)
    }
}

/// Returns, for each key, the latest version the viewer may see as of `as_of_us` (retraction
/// records included): a version is visible to outsiders once its submission is published and
/// past any embargo at the server's `now_us` (an `as_of` later than now reveals nothing more),
/// so a draft revision never hides the published value from them. An outsider's `valid_to_us`
/// is when a version it may see replaced the row (none if only a hidden revision did), so the
/// end of a published row never betrays an unpublished revision. Rows come ordered by period,
/// area and breakdown, so the cells of one (area, period) are adjacent.
pub async fn latest_visible(db: &impl ConnectionTrait, read: &Read) -> Result<Vec<VisibleRow>, DbErr> {
    let Some(statement) = latest_visible_statement(db, read) else { return Ok(Vec::new()) };
    db.query_all_raw(statement).await?.iter().map(VisibleRow::from_latest).collect()
}

/// [`latest_visible`] read as the database sends it, row by row, so a reader of any size holds
/// one row at a time here rather than the whole answer.
pub fn latest_visible_stream<'a, C>(
    db: &'a C,
    read: &Read,
) -> impl futures::Stream<Item = Result<VisibleRow, DbErr>> + Send + 'a
where
    C: ConnectionTrait + StreamTrait,
{
    use futures::{StreamExt, TryStreamExt};
    let statement = latest_visible_statement(db, read);
    futures::stream::once(async move {
        match statement {
            Some(statement) => db
                .stream_raw(statement)
                .await
                .map(|rows| rows.map(|r| r.and_then(|r| VisibleRow::from_latest(&r))).left_stream()),
            None => Ok(futures::stream::empty().right_stream()),
        }
    })
    .try_flatten()
}

/// The query of [`latest_visible`], or none when it can match nothing (an empty area list).
fn latest_visible_statement(db: &impl ConnectionTrait, read: &Read) -> Option<Statement> {
    let mut values: Vec<Value> = vec![
        read.metric.clone().into(),
        read.version.into(),
        read.as_of_us.into(),
        read.viewer.insider.into(),
        read.viewer.organisation.clone().into(),
        // Publication is judged at the earlier of `as_of` and the server's clock: a caller's
        // future `as_of` must never lift an embargo that holds now.
        read.as_of_us.min(read.now_us).into(),
    ];
    let mut filters = String::new();
    if let Some(from) = &read.period_start_from {
        values.push(from.clone().into());
        filters.push_str(&format!(" AND o.period_start >= ${}", values.len()));
    }
    if let Some(to) = &read.period_start_to {
        values.push(to.clone().into());
        filters.push_str(&format!(" AND o.period_start <= ${}", values.len()));
    }
    if let Some(areas) = &read.areas {
        if areas.is_empty() {
            return None;
        }
        let list = placeholders(values.len() + 1, areas.len());
        values.extend(areas.iter().map(|a| Value::from(a.clone())));
        filters.push_str(&format!(" AND o.area_code IN ({list})"));
    }
    // period_code follows period_start in the order because two periods can start on the same
    // day (a financial year and its first quarter): each (area, period) must stay adjacent.
    // An outsider's row that a later version closed shows the start of the next version it
    // may see (published by now, or its own), or no end at all: the subquery runs only for a
    // closed row, along `observations_read_idx` (period_start, area, breakdown, valid_from), and
    // insiders see the stored end.
    let sql = format!(
        "SELECT t.*, CASE WHEN t.valid_to_us IS NULL OR $4 THEN t.valid_to_us ELSE (
                SELECT MIN(n.valid_from_us) FROM observations n JOIN submissions ns ON ns.id = n.submission_id
                WHERE n.metric_code = $1 AND n.metric_version = $2 AND n.period_start = t.period_start
                  AND n.period_code = t.period_code AND n.area_code = t.area_code
                  AND n.breakdown_key = t.breakdown_key
                  AND n.valid_from_us > t.valid_from_us
                  AND (n.organisation_code = $5 OR (ns.visible_from_us IS NOT NULL AND ns.visible_from_us <= $6))
            ) END AS shown_valid_to_us
         FROM (
            SELECT {COLUMNS}, s.state AS state, s.visible_from_us AS visible_from_us,
                ROW_NUMBER() OVER (PARTITION BY o.area_code, o.period_code, o.breakdown_key
                                   ORDER BY o.valid_from_us DESC, o.id DESC) AS latest
            FROM observations o JOIN submissions s ON s.id = o.submission_id
            WHERE o.metric_code = $1 AND o.metric_version = $2 AND o.valid_from_us <= $3
              AND ($4 OR o.organisation_code = $5 OR (s.visible_from_us IS NOT NULL AND s.visible_from_us <= $6))
              {filters}
        ) t WHERE t.latest = 1 ORDER BY t.period_start, t.period_code, t.area_code, t.breakdown_key"
    );
    Some(statement(db, &sql, values))
}

/// Returns every version of one key, oldest first, with its submission's publication facts.
pub async fn history(
    db: &impl ConnectionTrait,
    metric: &str,
    version: i32,
    area: &str,
    period: &str,
    breakdown_key: &str,
) -> Result<Vec<VisibleRow>, DbErr> {
    let sql = format!(
        "SELECT {COLUMNS}, s.state AS state, s.visible_from_us AS visible_from_us
         FROM observations o JOIN submissions s ON s.id = o.submission_id
         WHERE o.metric_code = $1 AND o.metric_version = $2 AND o.area_code = $3 AND o.period_code = $4
           AND o.breakdown_key = $5
         ORDER BY o.valid_from_us, o.id"
    );
    let values: Vec<Value> = vec![metric.into(), version.into(), area.into(), period.into(), breakdown_key.into()];
    let rows = db.query_all_raw(statement(db, &sql, values)).await?;
    rows.iter().map(VisibleRow::from_result).collect()
}

/// Returns the current rows written by a submission.
pub async fn current_rows_of_submission(
    db: &impl ConnectionTrait,
    submission_id: &str,
) -> Result<Vec<StoredRow>, DbErr> {
    let sql = format!(
        "SELECT {COLUMNS} FROM observations o WHERE o.submission_id = $1 AND o.valid_to_us IS NULL AND NOT o.deleted"
    );
    let rows = db.query_all_raw(statement(db, &sql, vec![submission_id.into()])).await?;
    rows.iter().map(StoredRow::from_result).collect()
}

/// Inserts a submission.
pub async fn insert_submission(db: &impl ConnectionTrait, row: submission::Model) -> Result<(), DbErr> {
    row.into_active_model().insert(db).await.map(|_| ())
}

/// Returns a submission by id.
pub async fn get_submission(db: &impl ConnectionTrait, id: &str) -> Result<Option<submission::Model>, DbErr> {
    submission::Entity::find_by_id(id.to_owned()).one(db).await
}

/// Returns an organisation's submission with an idempotency key.
pub async fn find_by_idempotency_key(
    db: &impl ConnectionTrait,
    organisation: &str,
    key: &str,
) -> Result<Option<submission::Model>, DbErr> {
    submission::Entity::find()
        .filter(submission::Column::OrganisationCode.eq(organisation))
        .filter(submission::Column::IdempotencyKey.eq(key))
        .one(db)
        .await
}

/// Lists submissions, newest first, optionally of one metric and one organisation.
pub async fn list_submissions(
    db: &impl ConnectionTrait,
    metric: Option<&str>,
    organisation: Option<&str>,
) -> Result<Vec<submission::Model>, DbErr> {
    let mut query = submission::Entity::find();
    if let Some(metric) = metric {
        query = query.filter(submission::Column::MetricCode.eq(metric));
    }
    if let Some(organisation) = organisation {
        query = query.filter(submission::Column::OrganisationCode.eq(organisation));
    }
    query.order_by_desc(submission::Column::SubmittedAtUs).all(db).await
}

/// Saves a changed submission.
pub async fn update_submission(db: &impl ConnectionTrait, row: submission::Model) -> Result<submission::Model, DbErr> {
    let mut active = row.into_active_model();
    for column in [
        submission::Column::State,
        submission::Column::VisibleFromUs,
        submission::Column::PublishedAtUs,
        submission::Column::PublishedBy,
        submission::Column::RetractedAtUs,
        submission::Column::RetractedBy,
        submission::Column::RetractionReason,
    ] {
        active.reset(column);
    }
    active.update(db).await
}
