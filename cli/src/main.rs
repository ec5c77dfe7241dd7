//! The `sharedmetrics` command: `serve`, `migrate`, `import-reference-data`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sharedmetrics::config::{Config, Target};

/// The sharedmetrics platform: shared health-inequality indicators, benchmarking and anchor commitments.
#[derive(Parser)]
#[command(name = "sharedmetrics", version)]
struct Cli {
    /// TOML configuration file (optional; SHAREDMETRICS__SECTION__KEY variables override it).
    #[arg(long, global = true, env = "SHAREDMETRICS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves one or more roles: all (default), gateway, definitions, submissions, benchmarking, commitments.
    Serve {
        /// A role to run; repeat for several.
        #[arg(long = "target", default_value = "all")]
        targets: Vec<Target>,
    },
    /// Runs every service's pending migrations and exits.
    Migrate,
    /// Imports the reference data and the starter catalogue into an empty store and exits.
    ImportReferenceData {
        /// Folder with geography/ and organisations/ (default: the configured reference_data.dir).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Folder with dimensions.json and metrics.json (default: reference_data.catalogue_dir).
        #[arg(long)]
        catalogue: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref())?;
    let _telemetry = sharedmetrics_telemetry::init(&config.telemetry)?;
    match cli.command {
        Command::Serve { targets } => {
            let platform = sharedmetrics::start(config, &targets).await?;
            if let Some(key) = &platform.admin_key {
                // Printed, never logged: logs must not carry secrets.
                println!(
                    "\nadmin API key (shown once; also saved to the configured bootstrap.admin_key_file):\n  {key}\n"
                );
            }
            if let (Some(grpc), Some(http)) = (platform.grpc_addr, platform.http_addr) {
                println!(
                    "sharedmetrics is serving (ready in {} ms)\n  gRPC  {grpc}   (all services; reflection and health on)\n  HTTP  http://{http}/health/readyz\n",
                    platform.startup.as_millis()
                );
            }
            for (role, addr) in &platform.service_addrs {
                println!("{} service serving gRPC on {addr}", role.name());
            }
            platform.run_until_signal().await
        }
        Command::Migrate => {
            let db = sharedmetrics_db::connect(&config.database).await?;
            sharedmetrics::migrate(&db, &Target::ROLES).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::ImportReferenceData { dir, catalogue } => {
            let db = sharedmetrics_db::connect(&config.database).await?;
            sharedmetrics::migrate(&db, &Target::ROLES).await?;
            let dir = dir.unwrap_or(config.reference_data.dir.clone());
            let catalogue = catalogue.unwrap_or(config.reference_data.catalogue_dir.clone());
            sharedmetrics::import_reference_data(&db, &dir, &catalogue).await?;
            sharedmetrics::import_reference_values(&db, &config.reference_data.values_dir).await?;
            println!("reference data and catalogue are loaded");
            Ok(())
        }
    }
}
