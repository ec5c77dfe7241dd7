//! The reference files the platform needs: England's geography and organisations (`data/geography`,
//! `data/organisations`, gzip-compressed copies of `../shared/data`), the starter catalogue
//! (`data/catalogue`) and versioned reference values (`data/reference`).
//!
//! Every file is built into the binary, so `sharedmetrics serve` needs no working directory and
//! no data beside it. A deployment with newer files points a [`Folder`] at a directory of its
//! own: there a file is read as `name` or, failing that, as the gzip-compressed `name.gz`.
//! Every failure is one [`FileError`] line naming the file, the line (where there is one) and the
//! problem.

use std::io::Read;
use std::path::{Path, PathBuf};

/// A file built into the binary: its path below the repository's `data/` and its bytes.
struct Builtin {
    path: &'static str,
    bytes: &'static [u8],
}

/// Declares the built-in files, each read from the repository's `data/` at compile time.
macro_rules! builtin {
    ($($path:literal),* $(,)?) => {
        &[$(Builtin { path: $path, bytes: include_bytes!(concat!("../../../data/", $path)) }),*]
    };
}

/// Every file the binary carries.
static BUILTIN: &[Builtin] = builtin![
    "geography/lad18_region18.csv.gz",
    "geography/lsoa11_imd2019.csv.gz",
    "geography/lsoa11_lsoa21_ltla22.csv.gz",
    "geography/lsoa11_sicbl22_icb22_ltla22.csv.gz",
    "geography/lsoa11_ward19.csv.gz",
    "geography/ltla21_utla21.csv.gz",
    "geography/ltla23_utla23.csv.gz",
    "organisations/icb_local_authorities.csv.gz",
    "organisations/icb_trusts.csv.gz",
    "organisations/icbs.csv.gz",
    "organisations/nhs_england_regions.csv.gz",
    "organisations/nhs_trusts.csv.gz",
    "organisations/trust_catchments_icb22.csv.gz",
    "organisations/trust_catchments_ltla21.csv.gz",
    "catalogue/dimensions.json",
    "catalogue/metrics.json",
    "reference/real_living_wage.json",
];

/// A reference file that could not be read or parsed: one line naming the file, the line (when
/// the problem has one) and the problem.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {problem}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct FileError {
    /// The file, as a path or as `built-in data/…`.
    pub file: String,
    /// The 1-based line of the problem, when it has one.
    pub line: Option<u64>,
    /// What is wrong.
    pub problem: String,
}

impl FileError {
    /// Returns an error about `file` at `line` (or about the whole file).
    pub fn new(file: impl Into<String>, line: Option<u64>, problem: impl Into<String>) -> Self {
        Self { file: file.into(), line, problem: problem.into() }
    }
}

/// Where one group of reference files comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// The copies built into the binary, below this section of `data/`.
    Builtin(&'static str),
    /// A folder of the deployment's own.
    Dir(PathBuf),
}

/// A group of reference files (the geography and organisations, the catalogue, or the reference
/// values), read from the binary's own copies or from a configured folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    source: Source,
}

impl Folder {
    /// The geography and organisations: `geography/…` and `organisations/…` below `dir`, or the
    /// built-in copies when `dir` is `None`.
    pub fn reference_data(dir: Option<&Path>) -> Self {
        Self::new(dir, "")
    }

    /// The starter catalogue (`dimensions.json`, `metrics.json`) in `dir`, or built in.
    pub fn catalogue(dir: Option<&Path>) -> Self {
        Self::new(dir, "catalogue")
    }

    /// The versioned reference values (`real_living_wage.json`) in `dir`, or built in.
    pub fn values(dir: Option<&Path>) -> Self {
        Self::new(dir, "reference")
    }

    /// A folder of `dir`, or the built-in `section` when `dir` is `None` or empty (the
    /// configuration's default).
    fn new(dir: Option<&Path>, section: &'static str) -> Self {
        let source = match dir.filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => Source::Dir(dir.to_owned()),
            None => Source::Builtin(section),
        };
        Self { source }
    }

    /// Says where the files come from, for logs and errors.
    pub fn describe(&self) -> String {
        match &self.source {
            Source::Builtin(section) => format!("the built-in data/{section}"),
            Source::Dir(dir) => dir.display().to_string(),
        }
    }

    /// Returns how `name` is named in errors: its path, or `built-in data/…`.
    pub fn name_of(&self, name: &str) -> String {
        match &self.source {
            Source::Builtin(section) => format!("built-in data/{}", join(section, name)),
            Source::Dir(dir) => dir.join(name).display().to_string(),
        }
    }

    /// Reads `name` (for example `geography/lsoa11_imd2019.csv`), decompressing `name.gz` when
    /// only that exists.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, FileError> {
        self.read_named(name).map(|(_, bytes)| bytes)
    }

    /// Reads `name` (or `name.gz`); returns the bytes and how the file read is named in errors.
    fn read_named(&self, name: &str) -> Result<(String, Vec<u8>), FileError> {
        let gz = format!("{name}.gz");
        let unzip = |bytes: &[u8]| {
            let file = self.name_of(&gz);
            gunzip(bytes).map(|b| (file.clone(), b)).map_err(|e| FileError::new(file, None, e.to_string()))
        };
        match &self.source {
            Source::Builtin(section) => {
                let find = |n: &str| BUILTIN.iter().find(|b| b.path == join(section, n));
                if let Some(file) = find(name) {
                    return Ok((self.name_of(name), file.bytes.to_vec()));
                }
                let file = find(&gz).ok_or_else(|| FileError::new(self.name_of(name), None, "not built in"))?;
                unzip(file.bytes)
            }
            Source::Dir(dir) => match std::fs::read(dir.join(name)) {
                Ok(bytes) => Ok((self.name_of(name), bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir.join(&gz).exists() => {
                    let bytes = std::fs::read(dir.join(&gz))
                        .map_err(|e| FileError::new(self.name_of(&gz), None, e.to_string()))?;
                    unzip(&bytes)
                }
                Err(e) => Err(FileError::new(self.name_of(name), None, e.to_string())),
            },
        }
    }

    /// Reads `name` as UTF-8 text.
    pub fn read_text(&self, name: &str) -> Result<String, FileError> {
        let (file, bytes) = self.read_named(name)?;
        String::from_utf8(bytes).map_err(|e| FileError::new(file, None, e.to_string()))
    }

    /// Reads `name` as JSON into `T`.
    pub fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, FileError> {
        let (file, bytes) = self.read_named(name)?;
        serde_json::from_slice(&bytes).map_err(|e| FileError::new(file, Some(e.line() as u64), e.to_string()))
    }

    /// Reads `name` as CSV with a header row, each record into `T`; the first bad record is
    /// named by its line.
    pub fn read_csv<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Vec<T>, FileError> {
        let (file, bytes) = self.read_named(name)?;
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let headers = reader.headers().cloned().unwrap_or_default();
        reader
            .deserialize()
            .map(|row| {
                row.map_err(|e| {
                    let line = e.position().map(|p| p.line());
                    let problem = match e.kind() {
                        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
                            Some(field) => {
                                let column = headers.get(field as usize).unwrap_or("?");
                                format!("field {} ({column}): {}", field + 1, err.kind())
                            }
                            None => err.kind().to_string(),
                        },
                        _ => e.to_string(),
                    };
                    FileError::new(file.clone(), line, problem)
                })
            })
            .collect()
    }
}

/// Joins a section of `data/` and a name within it.
fn join(section: &str, name: &str) -> String {
    if section.is_empty() { name.to_owned() } else { format!("{section}/{name}") }
}

fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Row {
        #[allow(dead_code)]
        code: String,
        count: u32,
    }

    #[test]
    fn every_builtin_file_is_read_whole() {
        let geography = Folder::reference_data(None);
        let lsoas = geography.read_text("geography/lsoa11_imd2019.csv").expect("built in");
        // A header and every LSOA in England.
        assert_eq!(lsoas.lines().count(), 32_845);
        let catalogue = Folder::catalogue(None);
        assert!(catalogue.read_text("metrics.json").unwrap().contains("\"metrics\""));
        assert!(Folder::values(None).read_text("real_living_wage.json").is_ok());
    }

    #[test]
    fn a_missing_builtin_file_is_named() {
        let error = Folder::catalogue(None).read("nothing.json").unwrap_err();
        assert_eq!(error.to_string(), "built-in data/catalogue/nothing.json: not built in");
    }

    #[test]
    fn a_folder_serves_plain_and_gzip_files_and_names_the_bad_line() {
        let dir = std::env::temp_dir().join(format!("sharedmetrics-reference-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("good.csv"), "code,count\nA,1\nB,2\n").unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, b"code,count\nA,1\nB,two\n").unwrap();
        std::fs::write(dir.join("bad.csv.gz"), gz.finish().unwrap()).unwrap();
        let folder = Folder::reference_data(Some(&dir));

        let rows: Vec<Row> = folder.read_csv("good.csv").unwrap();
        assert_eq!(rows.iter().map(|r| r.count).sum::<u32>(), 3);
        let error = folder.read_csv::<Row>("bad.csv").unwrap_err();
        assert_eq!(error.line, Some(3), "{error}");
        assert!(error.file.ends_with("bad.csv.gz"), "{error}");
        assert!(error.to_string().contains("line 3: field 2 (count): invalid digit"), "{error}");
        let missing = folder.read("absent.csv").unwrap_err();
        assert!(missing.to_string().contains("absent.csv"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
