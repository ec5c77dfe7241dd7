//! A versioned reference value (the real Living Wage rate for a year, UK or London), loaded from
//! data files. A published data version is never edited; a correction is a new version.

use sea_orm::entity::prelude::*;

/// One value of one data version.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "reference_values")]
pub struct Model {
    /// For example `real_living_wage`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    /// For example `uk` or `london`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope: String,
    /// Period code the value is in force for, for example `2024/25`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub valid_period: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub data_version: i32,
    pub value: f64,
    pub unit: String,
    pub source: String,
    /// ISO date the data version was published.
    pub published: String,
    pub imported_at: DateTimeUtc,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
