//! The `sharedmetrics` command: `serve`, `migrate`, `import-reference-data`, `submit`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sharedmetrics::config::{Config, Target};
use sharedmetrics::submit::{self, SubmitArgs};
use sharedmetrics_definitions::import::Folder;

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
        /// Folder with geography/ and organisations/ (default: the configured reference_data.dir, else built in).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Folder with dimensions.json and metrics.json (default: reference_data.catalogue_dir, else built in).
        #[arg(long)]
        catalogue: Option<PathBuf>,
    },
    /// Streams a CSV of observations to the gateway as one submission and prints the receipt.
    ///
    /// Rows are sent in chunks over SubmissionsService/StreamObservations; the submission is applied
    /// only when the whole file has been sent. Rejected rows, with their reasons, are written to
    /// <input stem>.rejects.csv next to the input.
    #[command(after_help = "Run with --help for the CSV columns and exit statuses.", after_long_help = submit::CSV_HELP)]
    Submit(SubmitArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    // A failure is one line, the causes joined by ": " (the file, the line and the problem for
    // bad reference data), with no backtrace: it is read by operators, not developers.
    match run().await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the command line and runs its command.
async fn run() -> anyhow::Result<ExitCode> {
    // Usage errors exit with 1, not clap's 2: `submit` keeps 2 for "committed with rejected rows".
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return Ok(ExitCode::from(if error.use_stderr() { 1 } else { 0 }));
        }
    };
    let command = match cli.command {
        // A client of the gateway: it needs none of the server's configuration, and keeps stdout
        // for the receipt (so no log subscriber either).
        Command::Submit(args) => return Ok(submit_command(args).await),
        command => command,
    };
    let config = Config::load(cli.config.as_deref())?;
    let _telemetry = sharedmetrics_telemetry::init(&config.telemetry)?;
    match command {
        Command::Serve { targets } => {
            // The bootstrap key's only copy is its 0600 file: never standard output, never a log.
            let key_file = config.bootstrap.admin_key_file.clone();
            if config.bootstrap.create_admin_key && key_file.as_os_str().is_empty() {
                anyhow::bail!(
                    "bootstrap.admin_key_file is empty, but the bootstrap admin key is written only to that file: \
                     set it (SHAREDMETRICS__BOOTSTRAP__ADMIN_KEY_FILE) or set bootstrap.create_admin_key=false"
                );
            }
            let platform = sharedmetrics::start(config, &targets).await?;
            if platform.admin_key.is_some() {
                println!("\nadmin API key created: read it from {} (mode 0600)\n", key_file.display());
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
            platform.run_until_signal().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let db = sharedmetrics_db::connect(&config.database).await?;
            sharedmetrics::migrate(&db, &Target::ROLES).await?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::ImportReferenceData { dir, catalogue } => {
            let db = sharedmetrics_db::connect(&config.database).await?;
            sharedmetrics::migrate(&db, &Target::ROLES).await?;
            let reference = &config.reference_data;
            let dir = dir.unwrap_or(reference.dir.clone());
            let catalogue = catalogue.unwrap_or(reference.catalogue_dir.clone());
            sharedmetrics::import_reference_data(
                &db,
                &Folder::reference_data(Some(&dir)),
                &Folder::catalogue(Some(&catalogue)),
            )
            .await?;
            sharedmetrics::import_reference_values(&db, &Folder::values(Some(&reference.values_dir))).await?;
            println!("reference data and catalogue are loaded");
            Ok(ExitCode::SUCCESS)
        }
        Command::Submit(args) => Ok(submit_command(args).await),
    }
}

/// Runs `submit`; an error is printed (with the service's stable reason) and exits with 1.
async fn submit_command(args: SubmitArgs) -> ExitCode {
    match submit::run(args).await {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(error) => {
            eprintln!("error: {}", submit::describe_error(&error));
            ExitCode::from(1)
        }
    }
}
