//! A breakdown dimension (a code list).

use sea_orm::entity::prelude::*;

/// One dimension.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dimensions")]
pub struct Model {
    /// Stable code, for example `imd_decile`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Whether the codes form an ordered scale.
    pub ordered: bool,
    /// Organisation that created a custom list; none for built-in lists.
    pub owner: Option<String>,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
