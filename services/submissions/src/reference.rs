//! What the submissions service needs to know from the definitions service: the areas with
//! their types and ancestors (the shared [`Directory`]'s index, loaded once per process), what
//! each organisation may submit for, and the dimensions' code lists. Dimensions may be created
//! at any time, so this snapshot is rebuilt after [`REFRESH_AFTER`] (from the directory's
//! organisations and one listing of the dimensions).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sharedmetrics_access::Principal;
use sharedmetrics_access::policy::{self, SubmitScope};
use sharedmetrics_definitions::directory::{AreaIndex, AreaInfo, Directory};
use sharedmetrics_error::ServiceResult;
use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;
use sharedmetrics_proto::sharedmetrics::definitions::v1::ListDimensionsRequest;
use tokio::sync::RwLock;

/// How long a snapshot is used before it is fetched again.
pub const REFRESH_AFTER: Duration = Duration::from_secs(600);

/// One organisation: what it may submit for (the area it governs and its catchment).
pub type OrganisationInfo = SubmitScope;

/// A snapshot of the reference data.
#[derive(Debug, Default)]
pub struct Reference {
    /// Every area.
    pub areas: Arc<AreaIndex>,
    /// Organisations by code.
    pub organisations: Arc<HashMap<String, OrganisationInfo>>,
    /// Codes of each dimension.
    pub dimensions: HashMap<String, HashSet<String>>,
}

impl Reference {
    /// Returns what an area code, or an organisation code (an organisation is its own kind of
    /// area), names; none for an unknown code. Asked for every row ingested or read: it
    /// allocates nothing.
    pub fn area(&self, code: &str) -> Option<Known<'_>> {
        match self.areas.get(code) {
            Some(area) => Some(Known::Area(area)),
            None => self.organisations.contains_key(code).then_some(Known::Organisation),
        }
    }

    /// Returns whether an organisation may submit for an area (or organisation) code: its own
    /// code, the area it governs and everything under it, and, for a trust, the areas of the
    /// ICBs it is listed under (the reference data has no finer catchment).
    pub fn responsible_for(&self, organisation: &str, code: &str) -> bool {
        self.submit_scope(organisation, code).allowed
    }

    /// Returns the policy's decision on `organisation` submitting for `code` (see
    /// [`policy::submit_scope`]), with the rule and the explanation a rejection carries.
    pub fn submit_scope(&self, organisation: &str, code: &str) -> policy::Decision {
        let empty = SubmitScope::default();
        let scope = self.organisations.get(organisation).unwrap_or(&empty);
        let ancestors = self.areas.get(code).map(|a| a.ancestors.as_slice()).unwrap_or_default();
        policy::submit_scope(organisation, scope, code, ancestors)
    }
}

/// What a row's area code names.
#[derive(Debug, Clone, Copy)]
pub enum Known<'a> {
    /// An area, with its types.
    Area(&'a AreaInfo),
    /// An organisation reported as a unit.
    Organisation,
}

impl Known<'_> {
    /// Returns whether the code names an area of `area_type` (its own or one it also counts as).
    pub fn is(&self, area_type: AreaType) -> bool {
        match self {
            Known::Area(area) => area.is(area_type),
            Known::Organisation => area_type == AreaType::Organisation,
        }
    }

    /// Returns its types, its own first, for an explanation.
    pub fn types(&self) -> Vec<AreaType> {
        match self {
            Known::Area(area) => area.types(),
            Known::Organisation => vec![AreaType::Organisation],
        }
    }
}

/// Loads and caches [`Reference`] snapshots.
pub struct ReferenceCache {
    directory: Arc<Directory>,
    snapshot: RwLock<Option<(Instant, Arc<Reference>)>>,
}

impl ReferenceCache {
    /// Returns a cache reading through `directory`.
    pub fn new(directory: Arc<Directory>) -> Self {
        Self { directory, snapshot: RwLock::new(None) }
    }

    /// Returns the directory the snapshots are read through.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Returns the current snapshot, loading it on first use or when stale.
    pub async fn get(&self, principal: &Principal) -> ServiceResult<Arc<Reference>> {
        if let Some((at, snapshot)) = self.snapshot.read().await.as_ref()
            && at.elapsed() < REFRESH_AFTER
        {
            return Ok(snapshot.clone());
        }
        let mut guard = self.snapshot.write().await;
        if let Some((at, snapshot)) = guard.as_ref()
            && at.elapsed() < REFRESH_AFTER
        {
            return Ok(snapshot.clone());
        }
        let started = Instant::now();
        let snapshot = Arc::new(self.load(principal).await?);
        tracing::info!(
            areas = snapshot.areas.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "reference data loaded"
        );
        *guard = Some((Instant::now(), snapshot.clone()));
        Ok(snapshot)
    }

    async fn load(&self, principal: &Principal) -> ServiceResult<Reference> {
        let areas = self.directory.areas(principal).await?;
        let organisations = self.directory.submit_scopes(principal).await?;
        let dimensions = self
            .directory
            .definitions()
            .list_dimensions(principal, ListDimensionsRequest { page_size: 1000, page_token: String::new() })
            .await?
            .dimensions
            .into_iter()
            .map(|d| (d.code, d.codes.into_iter().map(|c| c.code).collect()))
            .collect();
        Ok(Reference { areas, organisations, dimensions })
    }
}
