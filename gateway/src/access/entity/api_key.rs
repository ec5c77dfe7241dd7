//! An API key: stored hashed, scoped to roles, revocable and expiring.

use sea_orm::entity::prelude::*;

/// One API key. The secret itself is never stored, only its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// Public identifier, part of the key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_id: String,
    /// What the key is for.
    pub name: String,
    /// Hex SHA-256 of the whole key.
    pub secret_hash: String,
    /// Organisation the key acts for.
    pub organisation_code: String,
    /// JSON array of role names.
    pub roles: String,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    /// Principal that created it.
    pub created_by: String,
    /// Organisation of the principal that created it (empty for keys older than the column).
    pub created_by_organisation: String,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
