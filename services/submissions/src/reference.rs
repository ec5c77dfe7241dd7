//! What the submissions service needs to know from the definitions service, fetched through its
//! API (in process or over gRPC, never from its tables) and kept in memory: the areas with their
//! types and ancestors, the organisations, and the dimensions' code lists. Reference data
//! changes rarely; the snapshot is refreshed after [`REFRESH_AFTER`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sharedmetrics_access::Principal;
use sharedmetrics_access::policy::{self, SubmitScope};
use sharedmetrics_definitions::DefinitionsApi;
use sharedmetrics_error::ServiceResult;
use sharedmetrics_proto::sharedmetrics::common::v1::AreaType;
use sharedmetrics_proto::sharedmetrics::definitions::v1::{
    ListAreasRequest, ListDimensionsRequest, ListOrganisationsRequest,
};
use tokio::sync::RwLock;

/// How long a snapshot is used before it is fetched again.
pub const REFRESH_AFTER: Duration = Duration::from_secs(600);

/// One area: its type and every ancestor on both hierarchies.
#[derive(Debug, Clone)]
pub struct AreaInfo {
    /// Area type.
    pub area_type: AreaType,
    /// Ancestor codes.
    pub ancestors: Vec<String>,
}

/// One organisation: what it may submit for (the area it governs and its catchment).
pub type OrganisationInfo = SubmitScope;

/// A snapshot of the reference data.
#[derive(Debug, Default)]
pub struct Reference {
    /// Areas by code.
    pub areas: HashMap<String, AreaInfo>,
    /// Organisations by code.
    pub organisations: HashMap<String, OrganisationInfo>,
    /// Codes of each dimension.
    pub dimensions: HashMap<String, HashSet<String>>,
}

impl Reference {
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

/// Loads and caches [`Reference`] snapshots.
pub struct ReferenceCache {
    definitions: Arc<dyn DefinitionsApi>,
    snapshot: RwLock<Option<(Instant, Arc<Reference>)>>,
}

impl ReferenceCache {
    /// Returns a cache reading from `definitions`.
    pub fn new(definitions: Arc<dyn DefinitionsApi>) -> Self {
        Self { definitions, snapshot: RwLock::new(None) }
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
        let mut reference = Reference::default();
        let mut token = String::new();
        loop {
            let page = self
                .definitions
                .list_areas(principal, ListAreasRequest { page_size: 1000, page_token: token, ..Default::default() })
                .await?;
            for area in page.areas {
                reference.areas.insert(
                    area.code,
                    AreaInfo {
                        area_type: AreaType::try_from(area.r#type).unwrap_or(AreaType::Unspecified),
                        ancestors: area.parents.into_iter().map(|p| p.code).collect(),
                    },
                );
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let mut organisations = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .definitions
                .list_organisations(
                    principal,
                    ListOrganisationsRequest { page_size: 1000, page_token: token, ..Default::default() },
                )
                .await?;
            organisations.extend(page.organisations);
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let governed: HashMap<&str, &str> = organisations
            .iter()
            .filter(|o| !o.area_code.is_empty())
            .map(|o| (o.code.as_str(), o.area_code.as_str()))
            .collect();
        for o in &organisations {
            let is_trust =
                o.r#type == sharedmetrics_proto::sharedmetrics::common::v1::OrganisationType::NhsTrust as i32;
            let parent_areas = o.parent_codes.iter().filter_map(|p| governed.get(p.as_str())).map(|a| (*a).to_owned());
            reference.organisations.insert(o.code.clone(), SubmitScope::of(&o.area_code, is_trust, parent_areas));
            reference
                .areas
                .entry(o.code.clone())
                .or_insert(AreaInfo { area_type: AreaType::Organisation, ancestors: Vec::new() });
        }
        let dimensions = self
            .definitions
            .list_dimensions(principal, ListDimensionsRequest { page_size: 1000, page_token: String::new() })
            .await?;
        for d in dimensions.dimensions {
            reference.dimensions.insert(d.code, d.codes.into_iter().map(|c| c.code).collect());
        }
        Ok(reference)
    }
}
