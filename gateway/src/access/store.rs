//! Database access for API keys.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder,
};

use super::entity::api_key;

/// Inserts a key.
pub async fn insert(db: &impl ConnectionTrait, row: api_key::Model) -> Result<(), DbErr> {
    row.into_active_model().insert(db).await.map(|_| ())
}

/// Returns the number of keys ever created.
pub async fn count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    api_key::Entity::find().count(db).await
}

/// Returns one key by id.
pub async fn get(db: &impl ConnectionTrait, key_id: &str) -> Result<Option<api_key::Model>, DbErr> {
    api_key::Entity::find_by_id(key_id.to_owned()).one(db).await
}

/// Lists keys, of one organisation or all, newest first.
pub async fn list(db: &impl ConnectionTrait, organisation: Option<&str>) -> Result<Vec<api_key::Model>, DbErr> {
    let mut query = api_key::Entity::find();
    if let Some(organisation) = organisation {
        query = query.filter(api_key::Column::OrganisationCode.eq(organisation));
    }
    query.order_by_desc(api_key::Column::CreatedAt).all(db).await
}

/// Records that a key was used.
pub async fn touch(db: &impl ConnectionTrait, key_id: &str, at: chrono::DateTime<chrono::Utc>) -> Result<(), DbErr> {
    api_key::Entity::update_many()
        .col_expr(api_key::Column::LastUsedAt, sea_orm::sea_query::Expr::value(at))
        .filter(api_key::Column::KeyId.eq(key_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Marks a key revoked (unless it already is) and returns it as stored.
///
/// One plain UPDATE filtered by key, as `touch` is, then a read, rather than an active-model
/// `UPDATE … RETURNING`: CI once saw that update fail with an internal error on SQLite in the
/// split topology, where the authentication path writes the same row's `last_used_at`
/// concurrently (the cause was not confirmed; this form has no RETURNING step to come back empty).
pub async fn revoke(
    db: &impl ConnectionTrait,
    row: api_key::Model,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<api_key::Model, DbErr> {
    api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, sea_orm::sea_query::Expr::value(Some(at)))
        .filter(api_key::Column::KeyId.eq(row.key_id.as_str()))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    get(db, &row.key_id).await?.ok_or(DbErr::RecordNotFound(format!("API key {}", row.key_id)))
}
