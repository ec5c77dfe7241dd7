//! One organisation's commitment. Its status is never stored: it is computed from the progress
//! rows on every read, so it cannot go stale.

use sea_orm::entity::prelude::*;

/// One commitment.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "commitments")]
pub struct Model {
    /// UUID assigned by the service.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub organisation_code: String,
    pub charter_code: Option<String>,
    pub template_code: Option<String>,
    /// Commitment type label.
    pub commitment_type: String,
    pub title: String,
    pub description: String,
    pub metric_code: Option<String>,
    /// Measure label (`percentage`, `total`).
    pub measure: String,
    /// Polarity label (`high_is_good`, `low_is_good`).
    pub polarity: String,
    pub unit: String,
    /// Period type label progress is reported in.
    pub reporting_period_type: String,
    /// JSON of the local definition, if any.
    pub local_definition: Option<String>,
    pub baseline_value: f64,
    pub baseline_period: String,
    pub target_value: f64,
    /// ISO date.
    pub target_date: String,
    /// Trajectory shape label (`linear`, `stepped`).
    pub trajectory_shape: String,
    /// JSON array of `{period_code, value}`.
    pub trajectory_points: String,
    pub tolerance: Option<f64>,
    /// JSON array of `{reference, date, description}`.
    pub evidence: String,
    /// Principal id of the person accountable.
    pub owner: String,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub updated_at: DateTimeUtc,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
