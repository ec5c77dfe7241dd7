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
    /// Share of the organisation's patients (a trust's admissions) from the area, 0 to 1.
    pub weight: f64,
    /// The area's type label: the shares of one type sum to 1 per organisation.
    pub area_type: Option<String>,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
