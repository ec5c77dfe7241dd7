//! The test harness: a fresh database per run (a SQLite file or a PostgreSQL database), both
//! services migrated, the real reference data, catalogue and reference values loaded, and the
//! principals and request builders the scenarios share.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use sharedmetrics_access::{Principal, Role};
use sharedmetrics_commitments::{CommitmentsApi, CommitmentsService, ObservationSource};
use sharedmetrics_config::{DatabaseConfig, Secret};
use sharedmetrics_error::{ServiceError, ServiceResult};
use sharedmetrics_periods::Period;
use sharedmetrics_proto::sharedmetrics::commitments::v1::*;

/// How each scenario reaches the service: the trait object, as the gateway will.
pub struct Harness {
    pub db: DatabaseConnection,
    pub service: Arc<dyn CommitmentsApi>,
    definitions: Arc<dyn sharedmetrics_definitions::DefinitionsApi>,
    scratch: PathBuf,
    postgres_database: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_server_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

impl Harness {
    pub async fn start(backend: Backend) -> Self {
        let run = uuid::Uuid::new_v4().simple().to_string();
        let scratch = std::env::temp_dir().join(format!("sharedmetrics-commitments-{run}"));
        std::fs::create_dir_all(&scratch).expect("a scratch folder");
        let (url, postgres_database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}?mode=rwc", scratch.join("cm.db").display()), None),
            Backend::Postgres => {
                let name = format!("cm_test_{run}");
                let admin = Database::connect(format!("{}/postgres", postgres_server_url())).await.expect("PostgreSQL");
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("a fresh database");
                (format!("{}/{name}", postgres_server_url()), Some(name))
            }
        };
        let config = DatabaseConfig { url: Secret::new(url), max_connections: 5, ..DatabaseConfig::default() };
        let db = sharedmetrics_db::connect(&config).await.expect("the database");
        sharedmetrics_db::migrate::<sharedmetrics_definitions::Migrator>(&db, "definitions").await.expect("migrated");
        sharedmetrics_db::migrate::<sharedmetrics_commitments::Migrator>(&db, "commitments").await.expect("migrated");
        sharedmetrics_definitions::import::import_builtin(&db).await.expect("reference data and catalogue");
        let report = sharedmetrics_commitments::import::import_reference_values(
            &db,
            &sharedmetrics_definitions::import::Folder::values(None),
        )
        .await
        .expect("reference values");
        assert_eq!(report.inserted, 20, "ten years of UK and London rates");
        let definitions: Arc<dyn sharedmetrics_definitions::DefinitionsApi> =
            Arc::new(sharedmetrics_definitions::DefinitionsService::new(db.clone()));
        let service = Arc::new(CommitmentsService::new(db.clone(), definitions.clone(), None));
        Self { db, service, definitions, scratch, postgres_database }
    }

    /// Returns the service with an observation source, on the same database.
    pub fn with_observations(&self, source: Arc<dyn ObservationSource>) -> CommitmentsService {
        CommitmentsService::new(self.db.clone(), self.definitions.clone(), Some(source))
    }

    pub async fn stop(self) {
        self.db.close().await.expect("closed");
        if let Some(name) = self.postgres_database {
            let admin = Database::connect(format!("{}/postgres", postgres_server_url())).await.expect("PostgreSQL");
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.expect("dropped");
        }
        let _ = std::fs::remove_dir_all(self.scratch);
    }
}

pub fn principal(organisation: &str, roles: &[Role]) -> Principal {
    Principal::api_key(organisation, roles)
}

pub const ALL_ORG_ROLES: &[Role] = &[Role::OrgAdmin, Role::Steward, Role::Submitter, Role::Reader];

/// Liverpool City Council.
pub fn council() -> Principal {
    principal("316", ALL_ORG_ROLES)
}

/// Wirral University Teaching Hospital NHS Foundation Trust.
pub fn trust() -> Principal {
    principal("RBL", ALL_ORG_ROLES)
}

/// Liverpool University Hospitals NHS Foundation Trust: not a member of the charters below.
pub fn other_trust() -> Principal {
    principal("REM", ALL_ORG_ROLES)
}

pub fn national() -> Principal {
    principal("X24", &[Role::National])
}

pub fn boundary(code: &str) -> LocalDefinition {
    LocalDefinition { kind: Some(local_definition::Kind::BoundaryCode(code.to_owned())) }
}

pub fn areas(codes: &[&str]) -> LocalDefinition {
    LocalDefinition {
        kind: Some(local_definition::Kind::Areas(AreaList {
            area_codes: codes.iter().map(|c| (*c).to_owned()).collect(),
        })),
    }
}

pub fn violations(error: &ServiceError) -> Vec<(String, String)> {
    error.violations.iter().map(|v| (v.field.clone(), v.reason.clone())).collect()
}

pub fn pair(field: &str, reason: &str) -> Vec<(String, String)> {
    vec![(field.to_owned(), reason.to_owned())]
}

/// The eight financial quarters 2024/25-Q1 to 2025/26-Q4.
pub fn quarters() -> Vec<Period> {
    let mut period = Period::parse("2024/25-Q1").expect("a quarter");
    let mut out = Vec::new();
    for _ in 0..8 {
        out.push(period);
        period = period.next();
    }
    out
}

pub fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
}

/// What docs/commitments.md says a straight-line trajectory expects at the end of a period,
/// written out again here so the service is checked against the rule, not against itself.
pub fn linear_expectation(baseline: f64, from: NaiveDate, target: f64, by: NaiveDate, period: &Period) -> f64 {
    let at = period.end_date().min(by);
    baseline + (target - baseline) * (at - from).num_days() as f64 / (by - from).num_days() as f64
}

pub async fn create_commitment(h: &Harness, who: &Principal, commitment: Commitment) -> Commitment {
    h.service
        .create_commitment(who, CreateCommitmentRequest { commitment: Some(commitment) })
        .await
        .unwrap_or_else(|e| panic!("the commitment is created: {e}"))
        .commitment
        .expect("a commitment")
}

pub fn commitment(
    charter: &str,
    template: &str,
    kind: CommitmentType,
    baseline: (f64, &str),
    target: (f64, &str),
) -> Commitment {
    Commitment {
        charter_code: charter.to_owned(),
        template_code: template.to_owned(),
        r#type: kind as i32,
        baseline: Some(Baseline { value: baseline.0, period_code: baseline.1.to_owned() }),
        target: Some(Target { value: target.0, date: target.1.to_owned() }),
        reporting_period_type: sharedmetrics_proto::sharedmetrics::common::v1::PeriodType::FinancialQuarter as i32,
        ..Default::default()
    }
}

pub async fn report(
    h: &Harness,
    who: &Principal,
    id: &str,
    period: &str,
    numerator: f64,
    denominator: Option<f64>,
) -> ServiceResult<ReportProgressResponse> {
    h.service
        .report_progress(
            who,
            ReportProgressRequest {
                commitment_id: id.to_owned(),
                period_code: period.to_owned(),
                numerator: Some(numerator),
                denominator,
                ..Default::default()
            },
        )
        .await
}
