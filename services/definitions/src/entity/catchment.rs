//! A weighted link between an organisation and an area it serves.

use sea_orm::entity::prelude::*;

/// One catchment link.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "catchments")]
pub struct Model {
    /// The organisation.
    #[sea_orm(primary_key, auto_increment = false)]
    pub organisation_code: String,
    /// The area served.
    #[sea_orm(primary_key, auto_increment = false)]
    pub area_code: String,
    /// Share of the area attributed to the organisation, 0 to 1.
    pub weight: f64,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
