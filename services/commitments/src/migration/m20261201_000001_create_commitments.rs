//! Creates the charters, commitments, progress and reference-value tables.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sharedmetrics_db::schema::{a, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Parents before children, so each foreign key names a table that already exists.
        create_charters(manager).await?;
        create_charter_members(manager).await?;
        create_charter_templates(manager).await?;
        create_commitments(manager).await?;
        create_commitment_progress(manager).await?;
        create_reference_values(manager).await?;
        Ok(())
    }
}

/// Creates the charters table, the parent of members, templates and charter commitments.
async fn create_charters(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(a("charters"))
                .col(string(a("code")).primary_key())
                .col(string(a("name")))
                .col(string(a("place_area_code")))
                .col(text(a("place_ancestors")))
                .col(text(a("description")))
                .col(string(a("visibility")))
                .col(timestamp_with_time_zone(a("created_at")))
                .col(string(a("created_by")))
                .to_owned(),
        )
        .await
}

/// Creates the charter members table, indexed by organisation to find the charters one belongs to.
async fn create_charter_members(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(a("charter_members"))
                .col(string(a("charter_code")))
                .col(string(a("organisation_code")))
                .col(string(a("role")))
                .col(timestamp_with_time_zone(a("joined_at")))
                .col(string(a("added_by")))
                .primary_key(Index::create().col(a("charter_code")).col(a("organisation_code")))
                .foreign_key(
                    ForeignKey::create().from(a("charter_members"), a("charter_code")).to(a("charters"), a("code")),
                )
                .to_owned(),
        )
        .await?;
    manager.create_index(index("charter_members", "charter_members_organisation_idx", &["organisation_code"])).await
}

/// Creates the charter templates table: the commitments a charter asks its members to make.
async fn create_charter_templates(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(a("charter_templates"))
                .col(string(a("charter_code")))
                .col(string(a("code")))
                .col(integer(a("sort_order")))
                .col(string(a("commitment_type")))
                .col(string(a("title")))
                .col(text(a("description")))
                .col(string_null(a("metric_code")))
                .col(text_null(a("local_definition")))
                .col(double_null(a("target_value")))
                .col(string_null(a("target_date")))
                .primary_key(Index::create().col(a("charter_code")).col(a("code")))
                .foreign_key(
                    ForeignKey::create().from(a("charter_templates"), a("charter_code")).to(a("charters"), a("code")),
                )
                .to_owned(),
        )
        .await
}

/// Creates the commitments table, indexed by organisation and by charter, the two ways they are listed.
async fn create_commitments(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let mut commitments = Table::create();
    commitments
        .table(a("commitments"))
        .col(string(a("id")).primary_key())
        .col(string(a("organisation_code")))
        .col(string_null(a("charter_code")))
        .col(string_null(a("template_code")))
        .col(string(a("commitment_type")))
        .col(string(a("title")))
        .col(text(a("description")))
        .col(string_null(a("metric_code")))
        .col(string(a("measure")))
        .col(string(a("polarity")))
        .col(string(a("unit")))
        .col(string(a("reporting_period_type")))
        .col(text_null(a("local_definition")))
        .col(double(a("baseline_value")))
        .col(string(a("baseline_period")))
        .col(double(a("target_value")))
        .col(string(a("target_date")))
        .col(string(a("trajectory_shape")))
        .col(text(a("trajectory_points")))
        .col(double_null(a("tolerance")))
        .col(text(a("evidence")))
        .col(string(a("owner")))
        .col(timestamp_with_time_zone(a("created_at")))
        .col(string(a("created_by")))
        .col(timestamp_with_time_zone(a("updated_at")))
        .foreign_key(ForeignKey::create().from(a("commitments"), a("charter_code")).to(a("charters"), a("code")));
    manager.create_table(commitments.to_owned()).await?;
    manager.create_index(index("commitments", "commitments_organisation_idx", &["organisation_code"])).await?;
    manager.create_index(index("commitments", "commitments_charter_idx", &["charter_code"])).await
}

/// Creates the progress table, whose unique key keeps one row per revision of a period's report.
async fn create_commitment_progress(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(a("commitment_progress"))
                .col(string(a("id")).primary_key())
                .col(string(a("commitment_id")))
                .col(string(a("period_code")))
                .col(integer(a("revision")))
                .col(double_null(a("numerator")))
                .col(double_null(a("denominator")))
                .col(double(a("value")))
                .col(text(a("note")))
                .col(string(a("source")))
                .col(string(a("reported_by")))
                .col(timestamp_with_time_zone(a("reported_at")))
                .col(timestamp_with_time_zone_null(a("data_version")))
                .col(text_null(a("local_definition")))
                .col(text(a("reference_values")))
                .col(timestamp_with_time_zone_null(a("superseded_at")))
                .foreign_key(
                    ForeignKey::create()
                        .from(a("commitment_progress"), a("commitment_id"))
                        .to(a("commitments"), a("id")),
                )
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            index(
                "commitment_progress",
                "commitment_progress_revision_key",
                &["commitment_id", "period_code", "revision"],
            )
            .unique()
            .to_owned(),
        )
        .await
}

/// Creates the reference values table, keyed so each data version of a value is kept beside the others.
async fn create_reference_values(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(a("reference_values"))
                .col(string(a("kind")))
                .col(string(a("scope")))
                .col(string(a("valid_period")))
                .col(integer(a("data_version")))
                .col(double(a("value")))
                .col(string(a("unit")))
                .col(string(a("source")))
                .col(string(a("published")))
                .col(timestamp_with_time_zone(a("imported_at")))
                .primary_key(
                    Index::create().col(a("kind")).col(a("scope")).col(a("valid_period")).col(a("data_version")),
                )
                .to_owned(),
        )
        .await
}
