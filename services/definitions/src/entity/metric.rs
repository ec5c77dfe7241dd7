//! A metric's stable identity; its content lives in immutable versions.

use sea_orm::entity::prelude::*;

/// One metric.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "metrics")]
pub struct Model {
    /// Stable code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// Set once the metric is deprecated.
    pub deprecated_at: Option<DateTimeUtc>,
    /// Why it was deprecated.
    pub deprecation_reason: Option<String>,
    /// When the code was first created.
    pub created_at: DateTimeUtc,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
