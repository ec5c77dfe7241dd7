//! The gateway's access migrations, recorded in its own `access_migrations` table.

use sea_orm_migration::prelude::*;

mod m20261123_000001_create_api_keys;
mod m20261123_000002_create_audit_events;
mod m20261204_000003_api_key_creator_organisation;

/// Runs the access migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migration_table_name() -> DynIden {
        Alias::new("access_migrations").into_iden()
    }

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_api_keys::Migration),
            Box::new(m20261123_000002_create_audit_events::Migration),
            Box::new(m20261204_000003_api_key_creator_organisation::Migration),
        ]
    }
}
