//! An anchor network's shared pledge for a place.

use sea_orm::entity::prelude::*;

/// One charter; its members and templates live in their own tables.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "charters")]
pub struct Model {
    /// Stable code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub name: String,
    /// GSS code of the place.
    pub place_area_code: String,
    /// JSON array of the place's ancestors' GSS codes, so "charters within a region" needs no
    /// call to the definitions service.
    pub place_ancestors: String,
    pub description: String,
    /// Visibility label (`public`, `members_only`).
    pub visibility: String,
    pub created_at: DateTimeUtc,
    /// Principal id of the creator.
    pub created_by: String,
}

/// No declared relations: joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
