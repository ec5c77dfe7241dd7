//! Creates the API key table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sharedmetrics_db::schema::{a, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(a("api_keys"))
                    .col(string(a("key_id")).primary_key())
                    .col(string(a("name")))
                    .col(string(a("secret_hash")))
                    .col(string(a("organisation_code")))
                    .col(text(a("roles")))
                    .col(timestamp_with_time_zone(a("created_at")))
                    .col(timestamp_with_time_zone_null(a("expires_at")))
                    .col(timestamp_with_time_zone_null(a("revoked_at")))
                    .col(timestamp_with_time_zone_null(a("last_used_at")))
                    .col(string(a("created_by")))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("api_keys", "api_keys_organisation_idx", &["organisation_code"])).await
    }
}
