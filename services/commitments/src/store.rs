//! Database access for the commitments service: functions taking a connection (or transaction)
//! and returning entity models. Handlers never touch entities directly; they call these.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};

use crate::entity::{charter, charter_member, charter_template, commitment, progress, reference_value};

/// Rows per `IN (…)` list: well under SQLite's and PostgreSQL's bound-parameter limits.
const CHUNK: usize = 500;

/// Returns one charter.
pub async fn get_charter(db: &impl ConnectionTrait, code: &str) -> Result<Option<charter::Model>, DbErr> {
    charter::Entity::find_by_id(code.to_owned()).one(db).await
}

/// Returns every charter, by code.
pub async fn list_charters(db: &impl ConnectionTrait) -> Result<Vec<charter::Model>, DbErr> {
    charter::Entity::find().order_by_asc(charter::Column::Code).all(db).await
}

/// Returns the members of the given charters, by charter then joining time.
pub async fn members_of(db: &impl ConnectionTrait, codes: &[String]) -> Result<Vec<charter_member::Model>, DbErr> {
    let mut rows = Vec::new();
    for chunk in codes.chunks(CHUNK) {
        rows.extend(
            charter_member::Entity::find()
                .filter(charter_member::Column::CharterCode.is_in(chunk.to_vec()))
                .order_by_asc(charter_member::Column::CharterCode)
                .order_by_asc(charter_member::Column::JoinedAt)
                .order_by_asc(charter_member::Column::OrganisationCode)
                .all(db)
                .await?,
        );
    }
    Ok(rows)
}

/// Returns the templates of the given charters, by charter then position.
pub async fn templates_of(db: &impl ConnectionTrait, codes: &[String]) -> Result<Vec<charter_template::Model>, DbErr> {
    let mut rows = Vec::new();
    for chunk in codes.chunks(CHUNK) {
        rows.extend(
            charter_template::Entity::find()
                .filter(charter_template::Column::CharterCode.is_in(chunk.to_vec()))
                .order_by_asc(charter_template::Column::CharterCode)
                .order_by_asc(charter_template::Column::SortOrder)
                .all(db)
                .await?,
        );
    }
    Ok(rows)
}

/// Inserts a charter with its first member and its templates.
pub async fn insert_charter(
    db: &impl ConnectionTrait,
    row: charter::Model,
    first_member: charter_member::Model,
    templates: Vec<charter_template::Model>,
) -> Result<(), DbErr> {
    row.into_active_model().insert(db).await?;
    first_member.into_active_model().insert(db).await?;
    if !templates.is_empty() {
        charter_template::Entity::insert_many(templates.into_iter().map(IntoActiveModel::into_active_model))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Adds a member, or changes the role of an existing one (keeping when it joined).
pub async fn upsert_member(db: &impl ConnectionTrait, row: charter_member::Model) -> Result<(), DbErr> {
    let existing =
        charter_member::Entity::find_by_id((row.charter_code.clone(), row.organisation_code.clone())).one(db).await?;
    match existing {
        Some(existing) => {
            let mut active = existing.into_active_model();
            active.role = Set(row.role);
            active.added_by = Set(row.added_by);
            active.update(db).await?;
        }
        None => {
            row.into_active_model().insert(db).await?;
        }
    }
    Ok(())
}

/// Returns one commitment.
pub async fn get_commitment(db: &impl ConnectionTrait, id: &str) -> Result<Option<commitment::Model>, DbErr> {
    commitment::Entity::find_by_id(id.to_owned()).one(db).await
}

/// Filters for listing commitments; each set filter must match.
#[derive(Debug, Default)]
pub struct CommitmentFilter<'a> {
    /// Organisation code.
    pub organisation: Option<&'a str>,
    /// Charter code.
    pub charter: Option<&'a str>,
    /// Commitment type label.
    pub commitment_type: Option<&'a str>,
    /// Metric code.
    pub metric: Option<&'a str>,
}

/// Lists commitments matching a filter, oldest first.
pub async fn list_commitments(
    db: &impl ConnectionTrait,
    filter: &CommitmentFilter<'_>,
) -> Result<Vec<commitment::Model>, DbErr> {
    let mut query = commitment::Entity::find();
    if let Some(organisation) = filter.organisation {
        query = query.filter(commitment::Column::OrganisationCode.eq(organisation));
    }
    if let Some(charter) = filter.charter {
        query = query.filter(commitment::Column::CharterCode.eq(charter));
    }
    if let Some(kind) = filter.commitment_type {
        query = query.filter(commitment::Column::CommitmentType.eq(kind));
    }
    if let Some(metric) = filter.metric {
        query = query.filter(commitment::Column::MetricCode.eq(metric));
    }
    query.order_by_asc(commitment::Column::CreatedAt).order_by_asc(commitment::Column::Id).all(db).await
}

/// Inserts a commitment.
pub async fn insert_commitment(db: &impl ConnectionTrait, row: commitment::Model) -> Result<(), DbErr> {
    row.into_active_model().insert(db).await.map(|_| ())
}

/// Returns the current (not superseded) figures of the given commitments.
pub async fn current_progress(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<progress::Model>, DbErr> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        rows.extend(
            progress::Entity::find()
                .filter(progress::Column::CommitmentId.is_in(chunk.to_vec()))
                .filter(progress::Column::SupersededAt.is_null())
                .all(db)
                .await?,
        );
    }
    Ok(rows)
}

/// Returns the latest revision of one period's figure, current or not.
pub async fn latest_revision(
    db: &impl ConnectionTrait,
    commitment_id: &str,
    period_code: &str,
) -> Result<Option<progress::Model>, DbErr> {
    progress::Entity::find()
        .filter(progress::Column::CommitmentId.eq(commitment_id))
        .filter(progress::Column::PeriodCode.eq(period_code))
        .order_by_desc(progress::Column::Revision)
        .one(db)
        .await
}

/// Records a figure, marking the one it replaces (if any) superseded at the same time.
pub async fn record_progress(
    db: &impl ConnectionTrait,
    replaced: Option<progress::Model>,
    row: progress::Model,
) -> Result<(), DbErr> {
    if let Some(replaced) = replaced
        && replaced.superseded_at.is_none()
    {
        let mut active = replaced.into_active_model();
        active.superseded_at = Set(Some(row.reported_at));
        active.update(db).await?;
    }
    row.into_active_model().insert(db).await.map(|_| ())
}

/// Returns the values of `kind` in force for `valid_period`, from the latest data version of
/// each scope.
pub async fn reference_values(
    db: &impl ConnectionTrait,
    kind: &str,
    valid_period: &str,
) -> Result<Vec<reference_value::Model>, DbErr> {
    let rows = reference_value::Entity::find()
        .filter(reference_value::Column::Kind.eq(kind))
        .filter(reference_value::Column::ValidPeriod.eq(valid_period))
        .order_by_asc(reference_value::Column::Scope)
        .order_by_desc(reference_value::Column::DataVersion)
        .all(db)
        .await?;
    let mut latest: Vec<reference_value::Model> = Vec::new();
    for row in rows {
        if latest.last().is_none_or(|last| last.scope != row.scope) {
            latest.push(row);
        }
    }
    Ok(latest)
}

/// Returns one stored reference value of one data version.
pub async fn get_reference_value(
    db: &impl ConnectionTrait,
    kind: &str,
    scope: &str,
    valid_period: &str,
    data_version: i32,
) -> Result<Option<reference_value::Model>, DbErr> {
    reference_value::Entity::find_by_id((kind.to_owned(), scope.to_owned(), valid_period.to_owned(), data_version))
        .one(db)
        .await
}

/// Inserts a reference value.
pub async fn insert_reference_value(db: &impl ConnectionTrait, row: reference_value::Model) -> Result<(), DbErr> {
    row.into_active_model().insert(db).await.map(|_| ())
}
