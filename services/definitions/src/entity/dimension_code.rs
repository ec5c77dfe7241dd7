//! One category of a dimension.

use sea_orm::entity::prelude::*;

/// One category.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dimension_codes")]
pub struct Model {
    /// The dimension.
    #[sea_orm(primary_key, auto_increment = false)]
    pub dimension_code: String,
    /// The category code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// Label.
    pub label: String,
    /// Position on the scale.
    pub sort_order: i32,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
