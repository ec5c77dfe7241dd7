//! One version of a peer group.

use sea_orm::entity::prelude::*;

/// One peer group version; a new version is a new row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "peer_groups")]
pub struct Model {
    /// Stable code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// 1, 2, …
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    pub name: String,
    pub description: String,
    /// `area` or `organisation`.
    pub member_type: String,
    /// JSON array of member codes.
    pub members: String,
    /// Owning organisation.
    pub owner: String,
    pub created_at: DateTimeUtc,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
