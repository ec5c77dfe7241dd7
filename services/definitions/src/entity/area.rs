//! An official geography (LSOA, ward, district, ICB, region, England).

use sea_orm::entity::prelude::*;

/// One area, with its parent on the statistical hierarchy and its deprivation.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "areas")]
pub struct Model {
    /// ONS GSS code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// Official name.
    pub name: String,
    /// Area type label (`lsoa`, `ward`, …).
    pub area_type: String,
    /// Parent on the LSOA → ward → district → region → England hierarchy.
    pub parent_code: Option<String>,
    /// Parent on the NHS hierarchy (an LSOA's sub-ICB location, which lies in an ICB, in an NHS
    /// region): the column keeps its first name, from when LSOAs linked to their ICB directly.
    pub icb_code: Option<String>,
    /// IMD 2019 rank (LSOAs only).
    pub imd_rank: Option<i32>,
    /// IMD 2019 decile (LSOAs only).
    pub imd_decile: Option<i32>,
    /// Resident population.
    pub population: Option<i64>,
    /// Other area types the area counts as, as `,label,label,` (a unitary authority is a
    /// district and an upper-tier authority), or none.
    pub also_types: Option<String>,
    /// The vintage of the boundaries the area belongs to (`2011` for LSOAs, `2019` for wards and
    /// districts, `2021` for upper tiers, `2022` for the NHS geography).
    pub vintage: Option<String>,
    /// The areas that replaced it, as `,code,code,` (a district abolished since its vintage).
    pub successor_codes: Option<String>,
    /// The areas it replaced, as `,code,code,`.
    pub predecessor_codes: Option<String>,
    /// The boundary vintage a new authority was introduced in (its boundaries take effect on
    /// 1 April of that year); None for an area that existed before the files' vintages.
    pub introduced_in: Option<String>,
    /// The first boundary vintage the area is no longer part of; None while it is current.
    pub replaced_in: Option<String>,
}

/// No declared relations: joins are written in the store.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
