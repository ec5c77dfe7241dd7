//! Creates the definitions tables.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sharedmetrics_db::schema::{a, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_areas(manager).await?;
        create_area_ancestors(manager).await?;
        create_organisations(manager).await?;
        create_organisation_parents(manager).await?;
        create_catchments(manager).await?;
        create_dimensions(manager).await?;
        create_dimension_codes(manager).await?;
        create_metrics(manager).await?;
        create_metric_versions(manager).await?;
        create_peer_groups(manager).await?;
        Ok(())
    }
}

/// Creates the area table, indexed for listing by type and for walking down from a parent.
async fn create_areas(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(a("areas"))
                .col(string(a("code")).primary_key())
                .col(string(a("name")))
                .col(string(a("area_type")))
                .col(string_null(a("parent_code")))
                .col(string_null(a("icb_code")))
                .col(integer_null(a("imd_rank")))
                .col(integer_null(a("imd_decile")))
                .col(big_integer_null(a("population")))
                .to_owned(),
        )
        .await?;
    manager.create_index(index("areas", "areas_type_idx", &["area_type", "code"])).await?;
    manager.create_index(index("areas", "areas_parent_idx", &["parent_code"])).await?;
    Ok(())
}

/// Creates the closure of the area hierarchies, indexed so an ancestor finds its descendants.
async fn create_area_ancestors(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(a("area_ancestors"))
                .col(string(a("area_code")))
                .col(string(a("ancestor_code")))
                .col(integer(a("depth")))
                .primary_key(Index::create().col(a("area_code")).col(a("ancestor_code")))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(index("area_ancestors", "area_ancestors_ancestor_idx", &["ancestor_code", "area_code"]))
        .await?;
    Ok(())
}

/// Creates the organisation table (trusts, ICBs, NHS regions, councils, national bodies).
async fn create_organisations(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(a("organisations"))
                .col(string(a("code")).primary_key())
                .col(string(a("name")))
                .col(string(a("organisation_type")))
                .col(string_null(a("town")))
                .col(string_null(a("postcode")))
                .col(string_null(a("area_code")))
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the organisation hierarchy's links, indexed so a parent finds its children.
async fn create_organisation_parents(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(a("organisation_parents"))
                .col(string(a("organisation_code")))
                .col(string(a("parent_code")))
                .primary_key(Index::create().col(a("organisation_code")).col(a("parent_code")))
                .to_owned(),
        )
        .await?;
    manager.create_index(index("organisation_parents", "organisation_parents_parent_idx", &["parent_code"])).await?;
    Ok(())
}

/// Creates the weighted areas each organisation serves.
async fn create_catchments(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(a("catchments"))
                .col(string(a("organisation_code")))
                .col(string(a("area_code")))
                .col(double(a("weight")))
                .primary_key(Index::create().col(a("organisation_code")).col(a("area_code")))
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the breakdown dimension table.
async fn create_dimensions(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(a("dimensions"))
                .col(string(a("code")).primary_key())
                .col(string(a("title")))
                .col(text(a("description")))
                .col(boolean(a("ordered")))
                .col(string_null(a("owner")))
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates each dimension's codes, with the order an ordered dimension's gradient follows.
async fn create_dimension_codes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(a("dimension_codes"))
                .col(string(a("dimension_code")))
                .col(string(a("code")))
                .col(string(a("label")))
                .col(integer(a("sort_order")))
                .primary_key(Index::create().col(a("dimension_code")).col(a("code")))
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the metric table: what every version of a metric shares.
async fn create_metrics(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(a("metrics"))
                .col(string(a("code")).primary_key())
                .col(timestamp_with_time_zone_null(a("deprecated_at")))
                .col(text_null(a("deprecation_reason")))
                .col(timestamp_with_time_zone(a("created_at")))
                .to_owned(),
        )
        .await?;
    Ok(())
}

/// Creates the metric version table, one row per version of a metric's definition.
async fn create_metric_versions(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let mut versions = Table::create();
    versions
        .table(a("metric_versions"))
        .col(string(a("metric_code")))
        .col(integer(a("version")))
        .col(string(a("status")));
    for column in [
        "title",
        "description",
        "rationale",
        "methodology",
        "numerator_definition",
        "numerator_source",
        "denominator_definition",
        "denominator_source",
    ] {
        versions.col(text(a(column)));
    }
    versions
        .col(string(a("value_type")))
        .col(integer(a("multiplier")))
        .col(string(a("unit")))
        .col(string(a("polarity")))
        .col(string(a("ci_method")))
        .col(string(a("period_type")))
        .col(text(a("area_types")))
        .col(text(a("dimensions")))
        .col(integer_null(a("disclosure_threshold")))
        .col(text(a("owners")))
        .col(string(a("visibility")))
        .col(text(a("partner_groups")))
        .col(text(a("tags")))
        .col(string(a("valid_from")))
        .col(string_null(a("valid_to")))
        .col(timestamp_with_time_zone(a("created_at")))
        .col(string(a("created_by")))
        .col(timestamp_with_time_zone_null(a("published_at")))
        .primary_key(Index::create().col(a("metric_code")).col(a("version")))
        .foreign_key(ForeignKey::create().from(a("metric_versions"), a("metric_code")).to(a("metrics"), a("code")));
    manager.create_table(versions.to_owned()).await?;
    Ok(())
}

/// Creates the peer group table, one row per version of a group.
async fn create_peer_groups(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(a("peer_groups"))
                .col(string(a("code")))
                .col(integer(a("version")))
                .col(string(a("name")))
                .col(text(a("description")))
                .col(string(a("member_type")))
                .col(text(a("members")))
                .col(string(a("owner")))
                .col(timestamp_with_time_zone(a("created_at")))
                .primary_key(Index::create().col(a("code")).col(a("version")))
                .to_owned(),
        )
        .await?;
    Ok(())
}
