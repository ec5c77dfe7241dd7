//! A commitment a charter asks its members to make.

use sea_orm::entity::prelude::*;

/// One template of a charter.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "charter_templates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub charter_code: String,
    /// Unique within the charter.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// Position in the charter, from 1.
    pub sort_order: i32,
    /// Commitment type label.
    pub commitment_type: String,
    pub title: String,
    pub description: String,
    pub metric_code: Option<String>,
    /// JSON of the local definition, when the template suggests one.
    pub local_definition: Option<String>,
    pub target_value: Option<f64>,
    /// ISO date.
    pub target_date: Option<String>,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
