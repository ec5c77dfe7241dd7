//! An organisation: NHS trust, ICB, NHS region, council or national body.

use sea_orm::entity::prelude::*;

/// One organisation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organisations")]
pub struct Model {
    /// ODS code, or a short code for a national body without one.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// Name.
    pub name: String,
    /// Organisation type label (`nhs_trust`, `icb`, …).
    pub organisation_type: String,
    /// Town of the registered address.
    pub town: Option<String>,
    /// Postcode of the registered address.
    pub postcode: Option<String>,
    /// GSS code of the area the organisation governs, if any.
    pub area_code: Option<String>,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
