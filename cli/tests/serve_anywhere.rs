//! The binary carries its reference data: `sharedmetrics serve` started in an empty folder, with
//! no configuration but its listeners, imports England and answers; a bad reference file named
//! in the configuration stops start-up with one line naming the file, the line and the problem.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use sharedmetrics_proto::sharedmetrics::benchmarking::v1::GetAreaProfileRequest;
use sharedmetrics_proto::sharedmetrics::benchmarking::v1::benchmarking_service_client::BenchmarkingServiceClient;
use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;

/// An empty folder of the test's own, removed when dropped.
struct EmptyFolder(PathBuf);

impl EmptyFolder {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let path = std::env::temp_dir().join(format!("sharedmetrics-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("a scratch folder");
        Self(path)
    }
}

impl Drop for EmptyFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary, run in `dir` with none of the caller's SHAREDMETRICS settings and listeners on
/// free ports.
fn serve_in(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sharedmetrics"));
    command.arg("serve").current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("SHAREDMETRICS") {
            command.env_remove(key);
        }
    }
    command
        .env("SHAREDMETRICS__GATEWAY__GRPC_ADDR", "127.0.0.1:0")
        .env("SHAREDMETRICS__GATEWAY__HTTP_ADDR", "127.0.0.1:0")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null());
    command
}

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_from_an_empty_folder_imports_england_and_answers_an_area_profile() {
    let folder = EmptyFolder::new("anywhere");
    let mut server = Server(serve_in(&folder.0).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("it runs"));
    // The start-up banner names the gRPC address: read it off standard output.
    let stdout = server.0.stdout.take().expect("piped");
    let (sender, addresses) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.trim().strip_prefix("gRPC") {
                let _ = sender.send(addr.split_whitespace().next().unwrap_or_default().to_owned());
            }
        }
    });
    let grpc = addresses.recv_timeout(Duration::from_secs(180)).expect("the server starts and prints its address");
    let key = std::fs::read_to_string(folder.0.join("data/admin-api-key")).expect("the bootstrap key file");

    let channel = tonic::transport::Channel::from_shared(format!("http://{grpc}")).unwrap().connect().await.unwrap();
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {}", key.trim()).parse().unwrap();
    let mut benchmarking =
        BenchmarkingServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
            request.metadata_mut().insert("authorization", bearer.clone());
            Ok(request)
        });
    let profile = benchmarking
        .get_area_profile(GetAreaProfileRequest { area_code: "E01000001".into(), ..Default::default() })
        .await
        .expect("an area profile")
        .into_inner();
    assert_eq!(profile.area_name, "City of London 001A", "the LSOA comes from the built-in reference data");
    assert_eq!(profile.area_type, AreaType::Lsoa as i32);
    assert_eq!(profile.benchmark_code, "E92000001", "benchmarked against England");
    assert!(profile.total_size > 0, "the built-in catalogue's LSOA metrics are listed");
}

#[test]
fn a_malformed_reference_file_stops_start_up_with_one_line_naming_it() {
    let folder = EmptyFolder::new("malformed");
    // Newer files in a folder of the deployment's own, one of them with a bad rank on line 3.
    let data = folder.0.join("reference");
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    for section in ["geography", "organisations"] {
        std::fs::create_dir_all(data.join(section)).unwrap();
        for file in std::fs::read_dir(repository.join(section)).unwrap() {
            let file = file.unwrap();
            std::fs::copy(file.path(), data.join(section).join(file.file_name())).unwrap();
        }
    }
    std::fs::write(
        data.join("geography/lsoa11_imd2019.csv"),
        "lsoa11cd,lsoa11nm,lad19cd,lad19nm,imd2019_rank,imd2019_decile,population_mid2015\n\
         E01000001,City of London 001A,E09000001,City of London,29199,9,1296\n\
         E01000002,City of London 001B,E09000001,City of London,high,10,1156\n",
    )
    .unwrap();
    let output = serve_in(&folder.0)
        .env("SHAREDMETRICS__REFERENCE_DATA__DIR", &data)
        .env("SHAREDMETRICS__TELEMETRY__LOG_FILTER", "off")
        .output()
        .expect("it runs");
    assert!(!output.status.success(), "start-up stops");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one line: {stderr}");
    let expected = format!("{} line 3: field 5 (imd2019_rank)", data.join("geography/lsoa11_imd2019.csv").display());
    assert!(errors[0].contains(&expected), "names the file, the line and the field: {stderr}");
    assert!(errors[0].contains("invalid digit"), "and the problem: {stderr}");
    assert!(!stderr.contains("backtrace"), "no backtrace: {stderr}");
}
