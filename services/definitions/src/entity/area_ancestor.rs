//! The closure of the area hierarchies: every (area, ancestor) pair, so "all LSOAs in a region"
//! is one indexed join.

use sea_orm::entity::prelude::*;

/// One area and one of its ancestors.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "area_ancestors")]
pub struct Model {
    /// The descendant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub area_code: String,
    /// The ancestor.
    #[sea_orm(primary_key, auto_increment = false)]
    pub ancestor_code: String,
    /// Steps from the area to the ancestor (1 = parent).
    pub depth: i32,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
