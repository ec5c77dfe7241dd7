//! The organisations an organisation is listed under (a trust's ICBs, an ICB's NHS region).

use sea_orm::entity::prelude::*;

/// One listing.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organisation_parents")]
pub struct Model {
    /// The organisation.
    #[sea_orm(primary_key, auto_increment = false)]
    pub organisation_code: String,
    /// The organisation it is listed under.
    #[sea_orm(primary_key, auto_increment = false)]
    pub parent_code: String,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
