//! Compiles the protos with the vendored protoc on every build, so the generated code can never
//! drift from the .proto files, and writes the descriptor set used by reflection and transcoding.

use std::path::PathBuf;

/// The contract, one file per service package.
const PROTOS: &[&str] = &[
    "sharedmetrics/common/v1/common.proto",
    "sharedmetrics/definitions/v1/definitions.proto",
    "sharedmetrics/submissions/v1/submissions.proto",
    "sharedmetrics/benchmarking/v1/benchmarking.proto",
    "sharedmetrics/commitments/v1/commitments.proto",
    "sharedmetrics/access/v1/access.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let well_known = protoc_bin_vendored::include_path()?;

    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);

    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("sharedmetrics_descriptor.bin"))
        .include_file("sharedmetrics_includes.rs")
        .compile_with_config(config, PROTOS, &[".", well_known.to_str().expect("utf-8 path")])?;
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    println!("cargo:rerun-if-changed=google");
    Ok(())
}
