//! One figure of a commitment for one period. A second report for the same period inserts a new
//! revision and marks the previous one superseded, so nothing reported is ever lost.

use sea_orm::entity::prelude::*;

/// One revision of one period's figure.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "commitment_progress")]
pub struct Model {
    /// UUID assigned by the service.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub commitment_id: String,
    pub period_code: String,
    /// 1 for the first report of the period; unique with the commitment and period, so two
    /// concurrent reports cannot both become current.
    pub revision: i32,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub value: f64,
    pub note: String,
    /// Progress source label (`reported`, `metric_observations`).
    pub source: String,
    pub reported_by: String,
    pub reported_at: DateTimeUtc,
    /// Data version of the observations a derived figure came from.
    pub data_version: Option<DateTimeUtc>,
    /// JSON of the commitment's local definition when the figure was recorded.
    pub local_definition: Option<String>,
    /// JSON array of the reference values the figure was checked against.
    pub reference_values: String,
    /// Set when a later report for the same period replaced this one.
    pub superseded_at: Option<DateTimeUtc>,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
