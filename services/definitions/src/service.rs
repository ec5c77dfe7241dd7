//! [`DefinitionsService`]: the definitions API implemented on the database, with validation and
//! the access policy applied to every call.

use sharedmetrics_cache::DataVersions;
use sharedmetrics_db::db_error;
use std::collections::{HashMap, HashSet};

use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use sharedmetrics_access::policy::{self, MetricVisibility};
use sharedmetrics_access::{Principal, Role};
use sharedmetrics_error::{ServiceError, ServiceResult};
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, OrganisationType};
use sharedmetrics_proto::sharedmetrics::definitions::v1::*;

use crate::convert;
use crate::entity::{dimension, dimension_code, metric, metric_version, peer_group};
use crate::store::{self, AreaFilter, OrganisationFilter};
use crate::validate::{self, Known};
use sharedmetrics_grpc::paging::Window;

/// The definitions service on a database.
#[derive(Clone)]
pub struct DefinitionsService {
    db: DatabaseConnection,
    generations: Option<DataVersions>,
}

impl DefinitionsService {
    /// Returns the service on `db` (migrated).
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db, generations: None }
    }

    /// Returns the service moving a metric's definition generation in `generations` after
    /// every committed change to the metric, so directories may keep its current version.
    pub fn with_generations(mut self, generations: DataVersions) -> Self {
        self.generations = Some(generations);
        self
    }

    /// Tells the directories that metric `code` changed (after the change is committed).
    async fn changed(&self, code: &str) {
        if let Some(generations) = &self.generations {
            generations.bump(&crate::directory::definition_generation(code)).await;
        }
    }
}

/// A metric's stored state, loaded once per call.
struct StoredMetric {
    row: metric::Model,
    /// Oldest first.
    versions: Vec<metric_version::Model>,
}

impl StoredMetric {
    /// Owners of the newest version: those who steward the metric now.
    fn owners(&self) -> Vec<String> {
        self.versions.last().map(|v| convert::parse_list(&v.owners)).unwrap_or_default()
    }
}

impl DefinitionsService {
    async fn load_metric(&self, code: &str) -> ServiceResult<Option<StoredMetric>> {
        let Some(row) = store::get_metric(&self.db, code).await.map_err(db_error("reading a metric"))? else {
            return Ok(None);
        };
        let versions = store::list_versions(&self.db, code).await.map_err(db_error("reading metric versions"))?;
        Ok(Some(StoredMetric { row, versions }))
    }

    /// Returns the peer-group members a metric's partner visibility needs: none (and no query)
    /// when no version of it is visible to partners, as for most metrics.
    async fn partners_of(&self, stored: &StoredMetric) -> ServiceResult<HashMap<String, Vec<String>>> {
        if stored.versions.iter().any(|v| Visibility::from_label(&v.visibility) == Some(Visibility::Partners)) {
            self.partner_members().await
        } else {
            Ok(HashMap::new())
        }
    }

    /// Returns the organisation members of each peer group, for partner visibility.
    async fn partner_members(&self) -> ServiceResult<HashMap<String, Vec<String>>> {
        let groups = store::latest_peer_groups(&self.db).await.map_err(db_error("reading peer groups"))?;
        Ok(groups.into_iter().map(|g| (g.code.clone(), convert::parse_list(&g.members))).collect())
    }

    /// Returns whether the principal may read a version.
    fn may_read_version(
        principal: &Principal,
        version: &metric_version::Model,
        partners: &HashMap<String, Vec<String>>,
    ) -> bool {
        let owners = convert::parse_list(&version.owners);
        let draft = version.status == MetricStatus::Draft.label();
        let visibility = match Visibility::from_label(&version.visibility) {
            Some(Visibility::Public) => MetricVisibility::Public,
            Some(Visibility::Partners) => MetricVisibility::Partners,
            _ => MetricVisibility::OwnersOnly,
        };
        let members: Vec<String> = match visibility {
            MetricVisibility::Partners => convert::parse_list(&version.partner_groups)
                .iter()
                .flat_map(|g| partners.get(g).cloned().unwrap_or_default())
                .collect(),
            _ => Vec::new(),
        };
        policy::may_read(principal, policy::metric_audience(draft, visibility, &owners, &members))
    }

    /// Returns the message of a version, marked deprecated when its metric is.
    fn version_message(stored: &metric::Model, version: &metric_version::Model) -> MetricVersion {
        let mut message = convert::metric_version(version);
        if stored.deprecated_at.is_some() && message.status() == MetricStatus::Published {
            message.set_status(MetricStatus::Deprecated);
        }
        message
    }

    /// Returns the metric as the principal sees it, or none if it may see no version of it.
    fn visible_metric(
        principal: &Principal,
        stored: &StoredMetric,
        partners: &HashMap<String, Vec<String>>,
    ) -> Option<Metric> {
        let visible: Vec<&metric_version::Model> =
            stored.versions.iter().filter(|v| Self::may_read_version(principal, v, partners)).collect();
        let current = visible.iter().rev().find(|v| v.status != MetricStatus::Draft.label()).or(visible.last())?;
        Some(Metric {
            code: stored.row.code.clone(),
            current: Some(Self::version_message(&stored.row, current)),
            version_count: stored.versions.len() as u32,
            deprecated: stored.row.deprecated_at.is_some(),
        })
    }

    async fn known_sets(&self) -> ServiceResult<(HashSet<String>, HashSet<String>, HashSet<String>)> {
        let dimensions = store::list_dimensions(&self.db).await.map_err(db_error("reading dimensions"))?;
        let (organisations, _) = store::list_organisations(&self.db, &OrganisationFilter::default(), Window::ALL)
            .await
            .map_err(db_error("reading organisations"))?;
        let groups = store::latest_peer_groups(&self.db).await.map_err(db_error("reading peer groups"))?;
        Ok((
            dimensions.into_iter().map(|(d, _)| d.code).collect(),
            organisations.into_iter().map(|o| o.code).collect(),
            groups.into_iter().map(|g| g.code).collect(),
        ))
    }

    async fn validate_spec(&self, spec: &MetricVersionSpec, prefix: &str) -> ServiceResult<()> {
        let (dimensions, organisations, peer_groups) = self.known_sets().await?;
        let known = Known { dimensions: &dimensions, organisations: &organisations, peer_groups: &peer_groups };
        let violations = validate::metric_spec(spec, &known, prefix);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::invalid(format!("metric {:?} is not valid", spec.code), violations))
        }
    }

    async fn area_messages(&self, rows: Vec<crate::entity::area::Model>) -> ServiceResult<Vec<Area>> {
        let codes: Vec<String> = rows.iter().map(|a| a.code.clone()).collect();
        let mut parents: HashMap<String, Vec<AreaRef>> = HashMap::new();
        for chunk in codes.chunks(500) {
            for (code, ancestor, _) in
                store::ancestors_of_many(&self.db, chunk).await.map_err(db_error("reading area parents"))?
            {
                parents.entry(code).or_default().push(convert::area_ref(&ancestor));
            }
        }
        Ok(rows
            .into_iter()
            .map(|row| Area {
                parents: parents.remove(&row.code).unwrap_or_default(),
                deprivation: convert::deprivation(&row),
                population: row.population.unwrap_or_default() as u64,
                child_count: 0,
                also_types: convert::also_types(&row),
                vintage: row.vintage.clone().unwrap_or_default(),
                successor_codes: convert::code_list(row.successor_codes.as_deref()),
                predecessor_codes: convert::code_list(row.predecessor_codes.as_deref()),
                introduced_in: row.introduced_in.clone().unwrap_or_default(),
                replaced_in: row.replaced_in.clone().unwrap_or_default(),
                ..area_head(&row)
            })
            .collect())
    }
}

/// Checks ListAreas' vintage filter: empty, or a year.
fn vintage_filter(vintage: &str) -> ServiceResult<Option<&str>> {
    match vintage.trim() {
        "" => Ok(None),
        v if v.len() == 4 && v.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(v)),
        v => {
            Err(ServiceError::invalid_field("vintage", "INVALID_VINTAGE", format!("{v:?} is not a year such as 2023")))
        }
    }
}

fn area_head(row: &crate::entity::area::Model) -> Area {
    let reference = convert::area_ref(row);
    Area { code: reference.code, name: reference.name, r#type: reference.r#type, ..Default::default() }
}

fn required(field: &str, value: &str) -> ServiceResult<()> {
    if value.trim().is_empty() {
        return Err(ServiceError::invalid_field(field, "REQUIRED", format!("{field} is required")));
    }
    Ok(())
}

#[async_trait::async_trait]
impl crate::DefinitionsApi for DefinitionsService {
    async fn create_metric(
        &self,
        principal: &Principal,
        request: CreateMetricRequest,
    ) -> ServiceResult<CreateMetricResponse> {
        let spec = request.spec.ok_or_else(|| ServiceError::invalid_field("spec", "REQUIRED", "spec is required"))?;
        self.validate_spec(&spec, "spec.").await?;
        policy::check_steward_of(principal, &spec.owners, "creating a metric")?;
        let existing = self.load_metric(&spec.code).await?;
        if let Some(stored) = &existing {
            if !request.new_version {
                return Err(ServiceError::already_exists("metric", &spec.code));
            }
            if stored.row.deprecated_at.is_some() {
                return Err(ServiceError::failed_precondition(format!(
                    "metric {:?} is deprecated; it takes no new versions",
                    spec.code
                )));
            }
            // A new version may change the owners, but only the current owners may make it.
            policy::check_steward_of(principal, &stored.owners(), "adding a version to a metric")?;
        }
        let now = chrono::Utc::now();
        let version = existing.as_ref().and_then(|s| s.versions.last()).map_or(1, |v| v.version + 1);
        let row = convert::version_row(&spec, version, &principal.id, now);
        let txn = self.db.begin().await.map_err(db_error("starting a transaction"))?;
        if existing.is_none() {
            store::insert_metric(
                &txn,
                metric::Model {
                    code: spec.code.clone(),
                    deprecated_at: None,
                    deprecation_reason: None,
                    created_at: now,
                },
            )
            .await
            .map_err(|e| conflict_or_internal(e, "metric", &spec.code))?;
        }
        store::insert_version(&txn, row.clone())
            .await
            .map_err(|e| conflict_or_internal(e, "metric version", &format!("{}/{version}", spec.code)))?;
        let row = if request.publish {
            store::publish_version(&txn, row, now).await.map_err(db_error("publishing a metric version"))?
        } else {
            row
        };
        txn.commit().await.map_err(db_error("committing a metric"))?;
        self.changed(&spec.code).await;
        tracing::info!(metric = %spec.code, version, principal = %principal.id, "metric version created");
        Ok(CreateMetricResponse { version: Some(convert::metric_version(&row)) })
    }

    async fn get_metric(&self, principal: &Principal, request: GetMetricRequest) -> ServiceResult<GetMetricResponse> {
        let not_found = || ServiceError::not_found("metric", &request.code);
        let stored = self.load_metric(&request.code).await?.ok_or_else(not_found)?;
        let partners = self.partners_of(&stored).await?;
        let mut metric = Self::visible_metric(principal, &stored, &partners).ok_or_else(not_found)?;
        if request.version != 0 {
            let version = stored
                .versions
                .iter()
                .find(|v| v.version as u32 == request.version)
                .filter(|v| Self::may_read_version(principal, v, &partners))
                .ok_or_else(|| {
                    ServiceError::not_found("metric version", &format!("{}/{}", request.code, request.version))
                })?;
            metric.current = Some(Self::version_message(&stored.row, version));
        }
        Ok(GetMetricResponse { metric: Some(metric) })
    }

    async fn list_metrics(
        &self,
        principal: &Principal,
        request: ListMetricsRequest,
    ) -> ServiceResult<ListMetricsResponse> {
        let window = Window::of(request.page_size, &request.page_token)?;
        let rows = store::list_metric_rows(&self.db).await.map_err(db_error("listing metrics"))?;
        let mut versions: HashMap<String, Vec<metric_version::Model>> = HashMap::new();
        for v in store::list_all_versions(&self.db).await.map_err(db_error("listing metric versions"))? {
            versions.entry(v.metric_code.clone()).or_default().push(v);
        }
        let partners = self.partner_members().await?;
        let search = request.search.trim().to_lowercase();
        let area_type = AreaType::try_from(request.area_type).unwrap_or(AreaType::Unspecified);
        let metrics: Vec<Metric> = rows
            .into_iter()
            .filter_map(|row| {
                let stored = StoredMetric { versions: versions.remove(&row.code).unwrap_or_default(), row };
                Self::visible_metric(principal, &stored, &partners)
            })
            .filter(|m| request.include_deprecated || !m.deprecated)
            .filter(|m| {
                let spec = m.current.as_ref().and_then(|v| v.spec.as_ref()).expect("current version has a spec");
                (search.is_empty()
                    || spec.code.contains(&search)
                    || spec.title.to_lowercase().contains(&search)
                    || spec.description.to_lowercase().contains(&search))
                    && (request.tag.is_empty() || spec.tags.contains(&request.tag))
                    && (request.owner.is_empty() || spec.owners.contains(&request.owner))
                    && (area_type == AreaType::Unspecified || spec.area_types.contains(&(area_type as i32)))
            })
            .collect();
        let total_size = metrics.len() as u32;
        let (metrics, next_page_token) = window.page(metrics);
        Ok(ListMetricsResponse { metrics, next_page_token, total_size })
    }

    async fn publish_metric_version(
        &self,
        principal: &Principal,
        request: PublishMetricVersionRequest,
    ) -> ServiceResult<PublishMetricVersionResponse> {
        let key = format!("{}/{}", request.code, request.version);
        let stored =
            self.load_metric(&request.code).await?.ok_or_else(|| ServiceError::not_found("metric", &request.code))?;
        let partners = self.partners_of(&stored).await?;
        let version = stored
            .versions
            .iter()
            .find(|v| v.version as u32 == request.version)
            .filter(|v| Self::may_read_version(principal, v, &partners))
            .cloned()
            .ok_or_else(|| ServiceError::not_found("metric version", &key))?;
        policy::check_steward_of(principal, &convert::parse_list(&version.owners), "publishing a metric version")?;
        if stored.row.deprecated_at.is_some() {
            return Err(ServiceError::failed_precondition(format!("metric {:?} is deprecated", request.code)));
        }
        if version.status != MetricStatus::Draft.label() {
            return Err(ServiceError::failed_precondition(format!(
                "metric version {key} is already {}; versions are immutable once published",
                version.status
            )));
        }
        // References may have changed since the draft was made; publish only what is valid now.
        let spec = convert::metric_version(&version).spec.expect("stored versions have a spec");
        self.validate_spec(&spec, "version.spec.").await?;
        let published = store::publish_version(&self.db, version, chrono::Utc::now())
            .await
            .map_err(db_error("publishing a metric version"))?;
        self.changed(&request.code).await;
        tracing::info!(metric = %request.code, version = request.version, principal = %principal.id, "metric version published");
        Ok(PublishMetricVersionResponse { version: Some(convert::metric_version(&published)) })
    }

    async fn deprecate_metric(
        &self,
        principal: &Principal,
        request: DeprecateMetricRequest,
    ) -> ServiceResult<DeprecateMetricResponse> {
        let stored =
            self.load_metric(&request.code).await?.ok_or_else(|| ServiceError::not_found("metric", &request.code))?;
        let partners = self.partners_of(&stored).await?;
        if Self::visible_metric(principal, &stored, &partners).is_none() {
            return Err(ServiceError::not_found("metric", &request.code));
        }
        policy::check_steward_of(principal, &stored.owners(), "deprecating a metric")?;
        required("reason", &request.reason)?;
        if stored.row.deprecated_at.is_some() {
            return Err(ServiceError::failed_precondition(format!("metric {:?} is already deprecated", request.code)));
        }
        let row = store::deprecate_metric(&self.db, stored.row, &request.reason, chrono::Utc::now())
            .await
            .map_err(db_error("deprecating a metric"))?;
        self.changed(&request.code).await;
        let stored = StoredMetric { row, versions: stored.versions };
        tracing::info!(metric = %request.code, principal = %principal.id, "metric deprecated");
        Ok(DeprecateMetricResponse { metric: Self::visible_metric(principal, &stored, &partners) })
    }

    async fn list_metric_versions(
        &self,
        principal: &Principal,
        request: ListMetricVersionsRequest,
    ) -> ServiceResult<ListMetricVersionsResponse> {
        let window = Window::of(request.page_size, &request.page_token)?;
        let stored =
            self.load_metric(&request.code).await?.ok_or_else(|| ServiceError::not_found("metric", &request.code))?;
        let partners = self.partners_of(&stored).await?;
        let versions: Vec<MetricVersion> = stored
            .versions
            .iter()
            .rev()
            .filter(|v| Self::may_read_version(principal, v, &partners))
            .map(|v| Self::version_message(&stored.row, v))
            .collect();
        if versions.is_empty() {
            return Err(ServiceError::not_found("metric", &request.code));
        }
        let (versions, next_page_token) = window.page(versions);
        Ok(ListMetricVersionsResponse { versions, next_page_token })
    }

    async fn create_dimension(
        &self,
        principal: &Principal,
        request: CreateDimensionRequest,
    ) -> ServiceResult<CreateDimensionResponse> {
        policy::check_any_role(principal, &[Role::Steward], "creating a dimension")?;
        let dimension = request
            .dimension
            .ok_or_else(|| ServiceError::invalid_field("dimension", "REQUIRED", "dimension is required"))?;
        let violations = validate::dimension(&dimension);
        if !violations.is_empty() {
            return Err(ServiceError::invalid(format!("dimension {:?} is not valid", dimension.code), violations));
        }
        if store::dimension_exists(&self.db, &dimension.code).await.map_err(db_error("reading dimensions"))? {
            return Err(ServiceError::already_exists("dimension", &dimension.code));
        }
        let row = dimension::Model {
            code: dimension.code.clone(),
            title: dimension.title.clone(),
            description: dimension.description.clone(),
            ordered: dimension.ordered,
            owner: Some(principal.organisation.clone()),
        };
        let codes: Vec<dimension_code::Model> = dimension
            .codes
            .iter()
            .enumerate()
            .map(|(i, c)| dimension_code::Model {
                dimension_code: dimension.code.clone(),
                code: c.code.clone(),
                label: c.label.clone(),
                sort_order: if c.order == 0 { i as i32 + 1 } else { c.order as i32 },
            })
            .collect();
        let txn = self.db.begin().await.map_err(db_error("starting a transaction"))?;
        store::insert_dimension(&txn, row.clone(), codes.clone())
            .await
            .map_err(|e| conflict_or_internal(e, "dimension", &dimension.code))?;
        txn.commit().await.map_err(db_error("committing a dimension"))?;
        tracing::info!(dimension = %dimension.code, principal = %principal.id, "dimension created");
        Ok(CreateDimensionResponse { dimension: Some(convert::dimension(&row, &codes)) })
    }

    async fn list_dimensions(
        &self,
        _principal: &Principal,
        request: ListDimensionsRequest,
    ) -> ServiceResult<ListDimensionsResponse> {
        let window = Window::of(request.page_size, &request.page_token)?;
        let dimensions: Vec<Dimension> = store::list_dimensions(&self.db)
            .await
            .map_err(db_error("listing dimensions"))?
            .iter()
            .map(|(d, codes)| convert::dimension(d, codes))
            .collect();
        let (dimensions, next_page_token) = window.page(dimensions);
        Ok(ListDimensionsResponse { dimensions, next_page_token })
    }

    async fn get_area(&self, _principal: &Principal, request: GetAreaRequest) -> ServiceResult<GetAreaResponse> {
        let row = store::get_area(&self.db, &request.code)
            .await
            .map_err(db_error("reading an area"))?
            .ok_or_else(|| ServiceError::not_found("area", &request.code))?;
        let child_count =
            store::area_child_count(&self.db, &row.code).await.map_err(db_error("counting area children"))? as u32;
        let mut area = self.area_messages(vec![row]).await?.pop().expect("one area in, one out");
        area.child_count = child_count;
        Ok(GetAreaResponse { area: Some(area) })
    }

    async fn list_areas(&self, _principal: &Principal, request: ListAreasRequest) -> ServiceResult<ListAreasResponse> {
        let window = Window::of(request.page_size, &request.page_token)?;
        let area_type = AreaType::try_from(request.r#type).unwrap_or(AreaType::Unspecified);
        let label = (area_type != AreaType::Unspecified).then(|| area_type.label());
        let filter = AreaFilter {
            area_type: label.as_deref(),
            parent_code: (!request.parent_code.is_empty()).then_some(request.parent_code.as_str()),
            search: (!request.search.trim().is_empty()).then_some(request.search.trim()),
            vintage: vintage_filter(&request.vintage)?,
        };
        let (rows, total) = store::list_areas(&self.db, &filter, window).await.map_err(db_error("listing areas"))?;
        let areas = self.area_messages(rows).await?;
        Ok(ListAreasResponse { areas, next_page_token: window.next_token(total as usize), total_size: total as u32 })
    }

    async fn get_organisation(
        &self,
        _principal: &Principal,
        request: GetOrganisationRequest,
    ) -> ServiceResult<GetOrganisationResponse> {
        let row = store::get_organisation(&self.db, &request.code)
            .await
            .map_err(db_error("reading an organisation"))?
            .ok_or_else(|| ServiceError::not_found("organisation", &request.code))?;
        let parents =
            store::organisation_parents(&self.db, &row.code).await.map_err(db_error("reading organisation parents"))?;
        let catchment = store::catchments_of_many(&self.db, std::slice::from_ref(&row.code))
            .await
            .map_err(db_error("reading catchments"))?;
        Ok(GetOrganisationResponse { organisation: Some(convert::organisation(&row, parents, &catchment)) })
    }

    async fn list_organisations(
        &self,
        _principal: &Principal,
        request: ListOrganisationsRequest,
    ) -> ServiceResult<ListOrganisationsResponse> {
        let window = Window::of(request.page_size, &request.page_token)?;
        let kind = OrganisationType::try_from(request.r#type).unwrap_or(OrganisationType::Unspecified);
        let label = (kind != OrganisationType::Unspecified).then(|| kind.label());
        let filter = OrganisationFilter {
            organisation_type: label.as_deref(),
            parent_code: (!request.parent_code.is_empty()).then_some(request.parent_code.as_str()),
            search: (!request.search.trim().is_empty()).then_some(request.search.trim()),
        };
        let (rows, total) =
            store::list_organisations(&self.db, &filter, window).await.map_err(db_error("listing organisations"))?;
        let codes: Vec<String> = rows.iter().map(|o| o.code.clone()).collect();
        let mut parents: HashMap<String, Vec<String>> = HashMap::new();
        for link in store::organisation_parents_of_many(&self.db, &codes)
            .await
            .map_err(db_error("reading organisation parents"))?
        {
            parents.entry(link.organisation_code).or_default().push(link.parent_code);
        }
        let mut catchments: HashMap<String, Vec<_>> = HashMap::new();
        for link in store::catchments_of_many(&self.db, &codes).await.map_err(db_error("reading catchments"))? {
            catchments.entry(link.organisation_code.clone()).or_default().push(link);
        }
        let organisations = rows
            .iter()
            .map(|row| {
                let catchment = catchments.remove(&row.code).unwrap_or_default();
                convert::organisation(row, parents.remove(&row.code).unwrap_or_default(), &catchment)
            })
            .collect();
        Ok(ListOrganisationsResponse {
            organisations,
            next_page_token: window.next_token(total as usize),
            total_size: total as u32,
        })
    }

    async fn create_peer_group(
        &self,
        principal: &Principal,
        request: CreatePeerGroupRequest,
    ) -> ServiceResult<CreatePeerGroupResponse> {
        policy::check_any_role(principal, &[Role::Steward, Role::OrgAdmin], "creating a peer group")?;
        let group = request
            .peer_group
            .ok_or_else(|| ServiceError::invalid_field("peer_group", "REQUIRED", "peer_group is required"))?;
        let mut violations = Vec::new();
        if !validate::is_code(&group.code) {
            violations.push(sharedmetrics_error::FieldViolation::new(
                "peer_group.code",
                "INVALID_CODE",
                format!("peer group code {:?} must be 2–64 lowercase letters, digits, '-' or '_'", group.code),
            ));
        }
        if group.name.trim().is_empty() {
            violations.push(sharedmetrics_error::FieldViolation::new(
                "peer_group.name",
                "REQUIRED",
                "a peer group needs a name",
            ));
        }
        let member_type = PeerGroupMemberType::try_from(group.member_type).unwrap_or(PeerGroupMemberType::Unspecified);
        if member_type == PeerGroupMemberType::Unspecified {
            violations.push(sharedmetrics_error::FieldViolation::new(
                "peer_group.member_type",
                "REQUIRED",
                "member_type must be area or organisation",
            ));
        }
        if group.members.is_empty() {
            violations.push(sharedmetrics_error::FieldViolation::new(
                "peer_group.members",
                "REQUIRED",
                "a peer group needs at least one member",
            ));
        }
        let existing: HashSet<String> = match member_type {
            PeerGroupMemberType::Area => store::existing_area_codes(&self.db, &group.members).await,
            _ => store::existing_organisation_codes(&self.db, &group.members).await,
        }
        .map_err(db_error("checking peer group members"))?
        .into_iter()
        .collect();
        let mut seen = HashSet::new();
        for (i, member) in group.members.iter().enumerate() {
            if member_type != PeerGroupMemberType::Unspecified && !existing.contains(member) {
                violations.push(sharedmetrics_error::FieldViolation::new(
                    format!("peer_group.members[{i}]"),
                    "UNKNOWN_MEMBER",
                    format!("{} {member:?} does not exist", member_type.label()),
                ));
            } else if !seen.insert(member) {
                violations.push(sharedmetrics_error::FieldViolation::new(
                    format!("peer_group.members[{i}]"),
                    "DUPLICATE",
                    format!("{member:?} is listed twice"),
                ));
            }
        }
        if !violations.is_empty() {
            return Err(ServiceError::invalid(format!("peer group {:?} is not valid", group.code), violations));
        }
        let previous =
            store::latest_peer_group(&self.db, &group.code).await.map_err(db_error("reading a peer group"))?;
        if let Some(previous) = &previous {
            policy::version_peer_group(principal, &group.code, &previous.owner).check()?;
        }
        let row = peer_group::Model {
            code: group.code.clone(),
            version: previous.map_or(1, |p| p.version + 1),
            name: group.name.clone(),
            description: group.description.clone(),
            member_type: member_type.label(),
            members: convert::json_list(&group.members),
            owner: principal.organisation.clone(),
            created_at: chrono::Utc::now(),
        };
        store::insert_peer_group(&self.db, row.clone())
            .await
            .map_err(|e| conflict_or_internal(e, "peer group", &group.code))?;
        tracing::info!(peer_group = %group.code, version = row.version, principal = %principal.id, "peer group created");
        Ok(CreatePeerGroupResponse { peer_group: Some(convert::peer_group(&row)) })
    }

    async fn list_peer_groups(
        &self,
        _principal: &Principal,
        request: ListPeerGroupsRequest,
    ) -> ServiceResult<ListPeerGroupsResponse> {
        let window = Window::of(request.page_size, &request.page_token)?;
        let member_type =
            PeerGroupMemberType::try_from(request.member_type).unwrap_or(PeerGroupMemberType::Unspecified);
        let groups: Vec<PeerGroup> = store::latest_peer_groups(&self.db)
            .await
            .map_err(db_error("listing peer groups"))?
            .iter()
            .filter(|g| request.owner.is_empty() || g.owner == request.owner)
            .filter(|g| member_type == PeerGroupMemberType::Unspecified || g.member_type == member_type.label())
            .map(convert::peer_group)
            .collect();
        let (peer_groups, next_page_token) = window.page(groups);
        Ok(ListPeerGroupsResponse { peer_groups, next_page_token })
    }
}

/// Maps a unique-key violation (a concurrent create) to ALREADY_EXISTS, anything else as any
/// database failure ([`db_error`]).
fn conflict_or_internal(error: DbErr, kind: &str, key: &str) -> ServiceError {
    match error.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => ServiceError::already_exists(kind, key),
        _ => db_error("writing definitions")(error),
    }
}
