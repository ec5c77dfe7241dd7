//! One immutable version of a metric; list fields are JSON arrays of strings.

use sea_orm::entity::prelude::*;

/// One version. Rows are inserted, published (status and time) and deprecated, never edited.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "metric_versions")]
pub struct Model {
    /// The metric.
    #[sea_orm(primary_key, auto_increment = false)]
    pub metric_code: String,
    /// 1, 2, …
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// `draft`, `published` or `deprecated`.
    pub status: String,
    pub title: String,
    pub description: String,
    pub rationale: String,
    pub methodology: String,
    pub numerator_definition: String,
    pub numerator_source: String,
    pub denominator_definition: String,
    pub denominator_source: String,
    /// Value type label.
    pub value_type: String,
    pub multiplier: i32,
    pub unit: String,
    /// Polarity label.
    pub polarity: String,
    /// CI method label.
    pub ci_method: String,
    /// Period type label.
    pub period_type: String,
    /// JSON array of area type labels.
    pub area_types: String,
    /// JSON array of dimension codes.
    pub dimensions: String,
    /// Threshold as given; none means the default.
    pub disclosure_threshold: Option<i32>,
    /// JSON array of organisation codes.
    pub owners: String,
    /// Visibility label.
    pub visibility: String,
    /// JSON array of peer group codes.
    pub partner_groups: String,
    /// JSON array of tags.
    pub tags: String,
    pub valid_from: String,
    pub valid_to: Option<String>,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub published_at: Option<DateTimeUtc>,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
