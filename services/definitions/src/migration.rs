//! The definitions service's migrations, recorded in its own `definitions_migrations` table.

use sea_orm_migration::prelude::*;

mod m20261123_000001_create_definitions;
mod m20261207_000002_area_also_types;
mod m20261207_000003_catchment_area_type;
mod m20261207_000004_area_vintages;
mod m20261207_000005_area_validity;

/// Runs the definitions service's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migration_table_name() -> DynIden {
        Alias::new("definitions_migrations").into_iden()
    }

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_definitions::Migration),
            Box::new(m20261207_000002_area_also_types::Migration),
            Box::new(m20261207_000003_catchment_area_type::Migration),
            Box::new(m20261207_000004_area_vintages::Migration),
            Box::new(m20261207_000005_area_validity::Migration),
        ]
    }
}
