//! Database access for API keys.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
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

/// Marks a key revoked.
pub async fn revoke(
    db: &impl ConnectionTrait,
    row: api_key::Model,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<api_key::Model, DbErr> {
    let mut active = row.into_active_model();
    active.revoked_at = Set(Some(at));
    active.update(db).await
}
