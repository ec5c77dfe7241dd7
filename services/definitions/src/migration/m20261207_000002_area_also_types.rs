//! Adds `also_types` to areas: the other area types an area counts as (a unitary authority is a
//! district and an upper-tier authority under one GSS code).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sharedmetrics_db::schema::a;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(a("areas")).add_column(string_null(a("also_types"))).to_owned()).await
    }
}
