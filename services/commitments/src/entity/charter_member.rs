//! An organisation's membership of a charter.

use sea_orm::entity::prelude::*;

/// One membership.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "charter_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub charter_code: String,
    /// ODS (or national body) code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub organisation_code: String,
    /// Role label (`member`, `admin`).
    pub role: String,
    pub joined_at: DateTimeUtc,
    /// Principal id of whoever added the organisation (or last changed its role).
    pub added_by: String,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
