//! Adds `area_type` to catchments: an acute trust's catchment is given both by lower-tier
//! authority and by ICB, and each is used on its own hierarchy.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sharedmetrics_db::schema::a;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(a("catchments")).add_column(string_null(a("area_type"))).to_owned())
            .await
    }
}
