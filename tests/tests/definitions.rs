//! The definitions scenarios of the foundation, through the gateway, in both topologies, on
//! PostgreSQL and on SQLite.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;
use sharedmetrics_e2e::{AuthChannel, Sandbox, Scene, Suite, proportion};
use sharedmetrics_error::{ErrorCode, ServiceError};
use sharedmetrics_proto::sharedmetrics::access::v1 as access;
use sharedmetrics_proto::sharedmetrics::access::v1::access_service_client::AccessServiceClient;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, CiMethod, OrganisationType, ValueType};
use sharedmetrics_proto::sharedmetrics::definitions::v1::definitions_service_client::DefinitionsServiceClient;
use sharedmetrics_proto::sharedmetrics::definitions::v1::*;
use tonic::Code;

type Client = DefinitionsServiceClient<AuthChannel>;

fn client(channel: AuthChannel) -> Client {
    DefinitionsServiceClient::new(channel)
}

fn error(status: tonic::Status) -> ServiceError {
    ServiceError::from(status)
}

fn violations(error: &ServiceError) -> Vec<(String, String)> {
    error.violations.iter().map(|v| (v.field.clone(), v.reason.clone())).collect()
}

/// A valid spec owned by `owner`, with a unique code.
fn spec(code: &str, owner: &str) -> MetricVersionSpec {
    MetricVersionSpec {
        title: "Test indicator".to_owned(),
        description: "A proportion for the end-to-end tests".to_owned(),
        owners: vec![owner.to_owned()],
        valid_from: "2024-04-01".to_owned(),
        ..proportion(code)
    }
}

/// Creates a key for `organisation` with `roles` and returns a channel using it.
async fn key_for(sandbox: &Sandbox, organisation: &str, roles: &[access::Role]) -> (AuthChannel, String) {
    sandbox.create_key(organisation, roles).await.expect("the admin creates keys")
}

async fn every_district_is_listed_with_its_region(sandbox: &Scene) {
    let response = client(sandbox.admin())
        .list_areas(ListAreasRequest {
            r#type: AreaType::LocalAuthorityDistrict as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("districts are listed")
        .into_inner();
    assert_eq!(response.total_size, 317, "every 2019 district");
    assert_eq!(response.areas.len(), 317);
    assert!(response.next_page_token.is_empty());
    for district in &response.areas {
        let regions: Vec<&AreaRef> = district.parents.iter().filter(|p| p.r#type == AreaType::Region as i32).collect();
        assert_eq!(regions.len(), 1, "{} {} has one region", district.code, district.name);
    }
    let dorset = response.areas.iter().find(|a| a.name == "Dorset").expect("Dorset (created 2019) is listed");
    assert!(dorset.parents.iter().any(|p| p.name == "South West"), "Dorset is in the South West: {:?}", dorset.parents);
}

async fn an_lsoa_has_its_deprivation_population_and_parents(sandbox: &Scene) {
    let area = client(sandbox.admin())
        .get_area(GetAreaRequest { code: "E01000001".to_owned() })
        .await
        .expect("the LSOA exists")
        .into_inner()
        .area
        .expect("an area");
    assert_eq!(area.name, "City of London 001A");
    assert_eq!(area.r#type, AreaType::Lsoa as i32);
    assert_eq!(area.population, 1296);
    let deprivation = area.deprivation.expect("LSOAs carry IMD 2019");
    assert_eq!(
        (deprivation.imd_rank, deprivation.imd_decile, deprivation.imd_quintile, deprivation.core20),
        (29199, 9, 5, false)
    );
    let parents: Vec<(&str, i32)> = area.parents.iter().map(|p| (p.code.as_str(), p.r#type)).collect();
    for expected in [
        ("E05009288", AreaType::Ward as i32),
        ("E09000001", AreaType::LocalAuthorityDistrict as i32),
        ("E12000007", AreaType::Region as i32),
        ("E92000001", AreaType::England as i32),
    ] {
        assert!(parents.contains(&expected), "{expected:?} in {parents:?}");
    }

    // A Liverpool LSOA also sits in its ICB and NHS region (LSOA → ICB → NHS region → England).
    let liverpool = client(sandbox.admin())
        .list_areas(ListAreasRequest {
            r#type: AreaType::Lsoa as i32,
            search: "Liverpool 001".to_owned(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("search works")
        .into_inner()
        .areas
        .pop()
        .expect("a Liverpool LSOA");
    assert!(
        liverpool.parents.iter().any(|p| p.code == "E54000008" && p.r#type == AreaType::Icb as i32),
        "{:?}",
        liverpool.parents
    );
    assert!(liverpool.parents.iter().any(|p| p.r#type == AreaType::NhsRegion as i32), "{:?}", liverpool.parents);
    // ... through its sub-ICB location (LSOA → sub-ICB location → ICB), one of England's 106.
    assert!(liverpool.parents.iter().any(|p| p.r#type == AreaType::SubIcbLocation as i32), "{:?}", liverpool.parents);
    let sub_icbs = client(sandbox.admin())
        .list_areas(ListAreasRequest { r#type: AreaType::SubIcbLocation as i32, page_size: 1000, ..Default::default() })
        .await
        .expect("sub-ICB locations are listed")
        .into_inner()
        .areas;
    assert_eq!(sub_icbs.len(), 106);

    let missing = client(sandbox.admin()).get_area(GetAreaRequest { code: "E01999999".to_owned() }).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

async fn areas_list_by_parent_and_england_totals_its_population(sandbox: &Scene) {
    let mut definitions = client(sandbox.admin());
    let lsoas_in_city = definitions
        .list_areas(ListAreasRequest {
            r#type: AreaType::Lsoa as i32,
            parent_code: "E09000001".to_owned(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("children are listed")
        .into_inner();
    assert_eq!(lsoas_in_city.total_size, 6, "the City of London has six LSOAs");
    let england = definitions
        .get_area(GetAreaRequest { code: "E92000001".to_owned() })
        .await
        .expect("England")
        .into_inner()
        .area
        .unwrap();
    assert!(
        england.population > 54_000_000 && england.population < 56_000_000,
        "mid-2015 England: {}",
        england.population
    );
    let first = definitions
        .list_areas(ListAreasRequest { r#type: AreaType::Ward as i32, page_size: 100, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let second = definitions
        .list_areas(ListAreasRequest {
            r#type: AreaType::Ward as i32,
            page_size: 100,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.areas.len(), 100);
    assert!(first.areas.last().unwrap().code < second.areas.first().unwrap().code, "pages follow one another");
}

async fn a_trust_is_found_by_ods_code(sandbox: &Scene) {
    let mut definitions = client(sandbox.admin());
    let found = definitions
        .list_organisations(ListOrganisationsRequest {
            search: "rbl".to_owned(),
            r#type: OrganisationType::NhsTrust as i32,
            ..Default::default()
        })
        .await
        .expect("organisations are searched")
        .into_inner();
    let trust = found.organisations.iter().find(|o| o.code == "RBL").expect("Wirral University Teaching Hospital");
    assert!(trust.name.contains("WIRRAL"), "{}", trust.name);
    assert_eq!(trust.parent_codes, vec!["QYG".to_owned()], "listed under Cheshire and Merseyside ICB");
    let one = definitions
        .get_organisation(GetOrganisationRequest { code: "RBL".to_owned() })
        .await
        .expect("by code")
        .into_inner();
    assert_eq!(one.organisation.unwrap().postcode, trust.postcode);
    let under_icb = definitions
        .list_organisations(ListOrganisationsRequest {
            parent_code: "QYG".to_owned(),
            r#type: OrganisationType::NhsTrust as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(under_icb.organisations.iter().any(|o| o.code == "RBL"));
    assert!(under_icb.total_size >= 10, "Cheshire and Merseyside lists many trusts: {}", under_icb.total_size);
}

async fn the_starter_catalogue_is_listed_and_filtered(sandbox: &Scene) {
    let mut definitions = client(sandbox.admin());
    let all = definitions
        .list_metrics(ListMetricsRequest { page_size: 1000, ..Default::default() })
        .await
        .expect("metrics are listed")
        .into_inner();
    assert!(all.total_size >= 20, "at least 20 starter indicators, got {}", all.total_size);
    let codes: BTreeSet<String> = all.metrics.iter().map(|m| m.code.clone()).collect();
    for expected in [
        "cvd-u75-mortality",
        "anchor-local-spend-share",
        "anchor-real-living-wage-direct-staff",
        "anchor-staff-core20-residence",
    ] {
        assert!(codes.contains(expected), "{expected} in the catalogue");
    }
    let anchor = definitions
        .list_metrics(ListMetricsRequest { tag: "anchor".to_owned(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(anchor.metrics.len() >= 3);
    assert!(
        anchor.metrics.iter().all(|m| m
            .current
            .as_ref()
            .unwrap()
            .spec
            .as_ref()
            .unwrap()
            .tags
            .contains(&"anchor".to_owned()))
    );
    let mortality = definitions
        .list_metrics(ListMetricsRequest { search: "Mortality".to_owned(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(mortality.metrics.iter().any(|m| m.code == "cvd-u75-mortality"));
    assert!(mortality.metrics.len() < all.metrics.len());
    let cvd = definitions
        .get_metric(GetMetricRequest { code: "cvd-u75-mortality".to_owned(), version: 0 })
        .await
        .unwrap()
        .into_inner()
        .metric
        .unwrap();
    let version = cvd.current.unwrap();
    assert_eq!(version.status, MetricStatus::Published as i32);
    let spec = version.spec.unwrap();
    assert_eq!(
        (spec.value_type, spec.ci_method),
        (ValueType::DirectlyStandardisedRate as i32, CiMethod::Dobson as i32)
    );
    assert!(!spec.methodology.is_empty() && !spec.owners.is_empty());
}

async fn invalid_metric_versions_are_refused_field_by_field(sandbox: &Scene) {
    let mut definitions = client(sandbox.admin());
    type Case = (&'static str, MetricVersionSpec, Vec<(&'static str, &'static str)>);
    let cases: Vec<Case> = vec![
        (
            "unknown dimension",
            MetricVersionSpec { dimensions: vec!["sex".into(), "shoe_size".into()], ..spec("bad-dimension", "X24") },
            vec![("spec.dimensions[1]", "UNKNOWN_DIMENSION")],
        ),
        (
            "unknown period type",
            MetricVersionSpec { period_type: 99, ..spec("bad-period", "X24") },
            vec![("spec.period_type", "UNKNOWN_PERIOD_TYPE")],
        ),
        (
            "no owner",
            MetricVersionSpec { owners: vec![], ..spec("no-owner", "X24") },
            vec![("spec.owners", "REQUIRED")],
        ),
        (
            "proportion without CI method",
            MetricVersionSpec { ci_method: 0, ..spec("no-ci", "X24") },
            vec![("spec.ci_method", "REQUIRED")],
        ),
    ];
    for (case, spec, expected) in cases {
        for publish in [false, true] {
            let status = definitions
                .create_metric(CreateMetricRequest { spec: Some(spec.clone()), new_version: false, publish })
                .await
                .unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{case}");
            let error = error(status);
            assert_eq!(error.code, ErrorCode::InvalidArgument);
            let expected: Vec<(String, String)> =
                expected.iter().map(|(f, r)| ((*f).to_owned(), (*r).to_owned())).collect();
            assert_eq!(violations(&error), expected, "{case}");
        }
        let absent =
            definitions.get_metric(GetMetricRequest { code: spec.code.clone(), version: 0 }).await.unwrap_err();
        assert_eq!(absent.code(), Code::NotFound, "{case}: nothing was stored");
    }
}

async fn a_second_version_leaves_the_first_readable(sandbox: &Scene) {
    let mut definitions = client(sandbox.admin());
    let code = "e2e-versioned";
    let first = definitions
        .create_metric(CreateMetricRequest { spec: Some(spec(code, "X24")), new_version: false, publish: true })
        .await
        .expect("v1 is created and published")
        .into_inner()
        .version
        .unwrap();
    assert_eq!((first.version, first.status), (1, MetricStatus::Published as i32));
    let duplicate = definitions
        .create_metric(CreateMetricRequest { spec: Some(spec(code, "X24")), new_version: false, publish: false })
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);

    let second_spec = MetricVersionSpec { title: "Test indicator, revised".into(), ..spec(code, "X24") };
    let second = definitions
        .create_metric(CreateMetricRequest { spec: Some(second_spec), new_version: true, publish: false })
        .await
        .expect("v2 is drafted")
        .into_inner()
        .version
        .unwrap();
    assert_eq!((second.version, second.status), (2, MetricStatus::Draft as i32));
    let current = definitions
        .get_metric(GetMetricRequest { code: code.into(), version: 0 })
        .await
        .unwrap()
        .into_inner()
        .metric
        .unwrap();
    assert_eq!(current.current.unwrap().version, 1, "a draft does not replace the published version");

    let published = definitions
        .publish_metric_version(PublishMetricVersionRequest { code: code.into(), version: 2 })
        .await
        .expect("v2 is published")
        .into_inner()
        .version
        .unwrap();
    assert_eq!(published.status, MetricStatus::Published as i32);
    let again = definitions
        .publish_metric_version(PublishMetricVersionRequest { code: code.into(), version: 2 })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "published versions are immutable");

    let current = definitions
        .get_metric(GetMetricRequest { code: code.into(), version: 0 })
        .await
        .unwrap()
        .into_inner()
        .metric
        .unwrap();
    assert_eq!(current.version_count, 2);
    assert_eq!(current.current.unwrap().spec.unwrap().title, "Test indicator, revised");
    let v1 = definitions
        .get_metric(GetMetricRequest { code: code.into(), version: 1 })
        .await
        .expect("v1 stays readable")
        .into_inner()
        .metric
        .unwrap();
    let v1 = v1.current.unwrap();
    assert_eq!(
        (v1.version, v1.status, v1.spec.unwrap().title.as_str()),
        (1, MetricStatus::Published as i32, "Test indicator")
    );
    let versions = definitions
        .list_metric_versions(ListMetricVersionsRequest { code: code.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(versions.versions.iter().map(|v| v.version).collect::<Vec<_>>(), vec![2, 1]);

    let deprecated = definitions
        .deprecate_metric(DeprecateMetricRequest { code: code.into(), reason: "replaced".into() })
        .await
        .expect("the owner deprecates")
        .into_inner()
        .metric
        .unwrap();
    assert!(deprecated.deprecated);
    let listed = definitions
        .list_metrics(ListMetricsRequest { search: code.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.metrics.is_empty(), "deprecated metrics are hidden unless asked for");
    let listed = definitions
        .list_metrics(ListMetricsRequest { search: code.into(), include_deprecated: true, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.metrics.len(), 1);
}

async fn stewards_define_only_for_their_organisation_and_private_metrics_stay_private(sandbox: &Scene) {
    let (trust_steward, _) = key_for(sandbox, "RBL", &[access::Role::Steward, access::Role::Reader]).await;
    let (other_reader, _) = key_for(sandbox, "RBN", &[access::Role::Reader]).await;
    let refused = client(trust_steward.clone())
        .create_metric(CreateMetricRequest {
            spec: Some(spec("e2e-not-mine", "X24")),
            new_version: false,
            publish: true,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(refused.message().contains("owners: X24"), "{}", refused.message());

    let private = MetricVersionSpec { visibility: Visibility::OwnersOnly as i32, ..spec("e2e-private", "RBL") };
    client(trust_steward.clone())
        .create_metric(CreateMetricRequest { spec: Some(private), new_version: false, publish: true })
        .await
        .expect("a trust steward defines its own metric");
    let hidden = client(other_reader.clone())
        .get_metric(GetMetricRequest { code: "e2e-private".into(), version: 0 })
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound, "another organisation cannot tell the metric exists");
    let listed = client(other_reader)
        .list_metrics(ListMetricsRequest { search: "e2e-private".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.metrics.is_empty());
    let own = client(trust_steward)
        .get_metric(GetMetricRequest { code: "e2e-private".into(), version: 0 })
        .await
        .expect("the owner reads it");
    assert_eq!(own.into_inner().metric.unwrap().code, "e2e-private");
    let national =
        client(sandbox.admin()).get_metric(GetMetricRequest { code: "e2e-private".into(), version: 0 }).await;
    assert!(national.is_ok(), "the national role reads everything");
}

async fn dimensions_and_peer_groups_are_validated_and_listed(sandbox: &Scene) {
    let mut definitions = client(sandbox.admin());
    let dimensions =
        definitions.list_dimensions(ListDimensionsRequest::default()).await.unwrap().into_inner().dimensions;
    let by_code: BTreeMap<&str, &Dimension> = dimensions.iter().map(|d| (d.code.as_str(), d)).collect();
    assert_eq!(by_code["imd_decile"].codes.len(), 10);
    assert!(by_code["imd_decile"].ordered);
    assert_eq!(by_code["imd_quintile"].codes.len(), 5);
    assert_eq!(by_code["age_band"].codes.len(), 19);
    assert!(by_code["ethnic_group"].codes.iter().any(|c| c.code == "not_stated"));
    assert_eq!(by_code["ethnic_group"].codes.len(), 20, "19 ONS 2021 groups and not stated");
    for code in ["sex", "core20"] {
        assert!(by_code.contains_key(code));
    }

    let custom = Dimension {
        code: "e2e-shift".into(),
        title: "Shift pattern".into(),
        codes: vec![
            DimensionCode { code: "day".into(), label: "Day".into(), order: 1 },
            DimensionCode { code: "night".into(), label: "Night".into(), order: 2 },
        ],
        ..Default::default()
    };
    let created = definitions
        .create_dimension(CreateDimensionRequest { dimension: Some(custom.clone()) })
        .await
        .expect("custom list")
        .into_inner();
    assert_eq!(created.dimension.unwrap().owner, "X24");
    let duplicate = definitions.create_dimension(CreateDimensionRequest { dimension: Some(custom) }).await.unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);
    let bad = definitions
        .create_dimension(CreateDimensionRequest {
            dimension: Some(Dimension { code: "e2e-empty".into(), title: "Empty".into(), ..Default::default() }),
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&error(bad)), vec![("dimension.codes".to_owned(), "REQUIRED".to_owned())]);

    let group = PeerGroup {
        code: "e2e-merseyside".into(),
        name: "Merseyside districts".into(),
        member_type: PeerGroupMemberType::Area as i32,
        members: vec!["E08000012".into(), "E08000011".into(), "E08000013".into()],
        ..Default::default()
    };
    let created = definitions
        .create_peer_group(CreatePeerGroupRequest { peer_group: Some(group.clone()) })
        .await
        .unwrap()
        .into_inner()
        .peer_group
        .unwrap();
    assert_eq!((created.version, created.owner.as_str()), (1, "X24"));
    let unknown = definitions
        .create_peer_group(CreatePeerGroupRequest {
            peer_group: Some(PeerGroup { members: vec!["E08000012".into(), "E08999999".into()], ..group.clone() }),
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&error(unknown)), vec![("peer_group.members[1]".to_owned(), "UNKNOWN_MEMBER".to_owned())]);
    let second = definitions
        .create_peer_group(CreatePeerGroupRequest {
            peer_group: Some(PeerGroup { members: vec!["E08000012".into()], ..group }),
        })
        .await
        .unwrap()
        .into_inner()
        .peer_group
        .unwrap();
    assert_eq!(second.version, 2);
    let listed = definitions
        .list_peer_groups(ListPeerGroupsRequest { owner: "X24".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let listed: Vec<(&str, u32)> = listed.peer_groups.iter().map(|g| (g.code.as_str(), g.version)).collect();
    assert!(listed.contains(&("e2e-merseyside", 2)), "the latest version is listed: {listed:?}");
}

async fn credentials_are_required_and_revoked_keys_refused(sandbox: &Scene) {
    let anonymous = client(sandbox.with_key(None)).list_metrics(ListMetricsRequest::default()).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let forged = client(sandbox.with_key(Some("sm_0000000000000000_nope")))
        .list_metrics(ListMetricsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated);

    let (reader, key_id) = key_for(sandbox, "RBL", &[access::Role::Reader]).await;
    let who =
        AccessServiceClient::new(reader.clone()).who_am_i(access::WhoAmIRequest {}).await.expect("whoami").into_inner();
    let principal = who.principal.unwrap();
    assert_eq!(
        (principal.organisation_code.as_str(), principal.roles.as_slice()),
        ("RBL", &[access::Role::Reader as i32][..])
    );
    client(reader.clone()).list_metrics(ListMetricsRequest::default()).await.expect("a live key works");
    let refused = AccessServiceClient::new(reader.clone())
        .create_api_key(access::CreateApiKeyRequest {
            name: "escalate".into(),
            roles: vec![access::Role::National as i32],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    AccessServiceClient::new(sandbox.admin())
        .revoke_api_key(access::RevokeApiKeyRequest { key_id })
        .await
        .expect("the admin revokes");
    let revoked = client(reader).list_metrics(ListMetricsRequest::default()).await.unwrap_err();
    assert_eq!(revoked.code(), Code::Unauthenticated);
    assert!(revoked.message().contains("revoked"), "{}", revoked.message());
}

async fn explain_access_without_a_resource_names_the_missing_field(sandbox: &Scene) {
    let status = AccessServiceClient::new(sandbox.admin())
        .explain_access(access::ExplainAccessRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let error = error(status);
    assert_eq!(error.code, ErrorCode::InvalidArgument, "the stable reason travels too");
    assert_eq!(violations(&error), vec![("resource_code".to_owned(), "REQUIRED".to_owned())]);
}

/// The RPCs of DESIGN.md §5, per service.
const CONTRACT: &[(&str, &[&str])] = &[
    (
        "sharedmetrics.definitions.v1.DefinitionsService",
        &[
            "CreateMetric",
            "GetMetric",
            "ListMetrics",
            "PublishMetricVersion",
            "DeprecateMetric",
            "ListMetricVersions",
            "CreateDimension",
            "ListDimensions",
            "GetArea",
            "ListAreas",
            "GetOrganisation",
            "ListOrganisations",
            "CreatePeerGroup",
            "ListPeerGroups",
        ],
    ),
    (
        "sharedmetrics.submissions.v1.SubmissionsService",
        &[
            "SubmitObservations",
            "StreamObservations",
            "GetSubmission",
            "ListSubmissions",
            "QueryObservations",
            "GetObservationHistory",
            "PublishSubmission",
            "RetractSubmission",
        ],
    ),
    (
        "sharedmetrics.benchmarking.v1.BenchmarkingService",
        &["ComputeStatistics", "CompareAreas", "GetTrend", "GetInequality", "GetAreaProfile"],
    ),
    (
        "sharedmetrics.commitments.v1.CommitmentsService",
        &[
            "CreateCharter",
            "ListCharters",
            "AddCharterMember",
            "CreateCommitment",
            "GetCommitment",
            "ListCommitments",
            "ReportProgress",
            "ListProgress",
            "GetCharterSummary",
        ],
    ),
    (
        "sharedmetrics.access.v1.AccessService",
        &["WhoAmI", "CreateApiKey", "ListApiKeys", "RevokeApiKey", "ExplainAccess", "ListAuditEvents"],
    ),
];

async fn reflection_lists_every_service_and_rpc_of_the_contract(sandbox: &Scene) {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let mut reflection = ServerReflectionClient::new(sandbox.channel.clone());
    let ask = |request: MessageRequest| ServerReflectionRequest { host: String::new(), message_request: Some(request) };
    let responses = reflection
        .server_reflection_info(tokio_stream_iter(vec![ask(MessageRequest::ListServices(String::new()))]))
        .await
        .expect("reflection answers")
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = responses.message_response else {
        panic!("a service list")
    };
    let listed: BTreeSet<String> = list.service.into_iter().map(|s| s.name).collect();
    for (service, rpcs) in CONTRACT {
        assert!(listed.contains(*service), "{service} is listed: {listed:?}");
        let response = reflection
            .server_reflection_info(tokio_stream_iter(vec![ask(MessageRequest::FileContainingSymbol(
                (*service).to_owned(),
            ))]))
            .await
            .unwrap()
            .into_inner()
            .message()
            .await
            .unwrap()
            .unwrap();
        let Some(MessageResponse::FileDescriptorResponse(files)) = response.message_response else {
            panic!("descriptors for {service}")
        };
        let short = service.rsplit('.').next().unwrap();
        let methods: BTreeSet<String> = files
            .file_descriptor_proto
            .iter()
            .map(|bytes| prost_types::FileDescriptorProto::decode(bytes.as_slice()).expect("a descriptor"))
            .flat_map(|file| file.service)
            .filter(|s| s.name() == short)
            .flat_map(|s| s.method.into_iter().map(|m| m.name().to_owned()))
            .collect();
        let expected: BTreeSet<String> = rpcs.iter().map(|r| (*r).to_owned()).collect();
        assert_eq!(methods, expected, "{service} declares exactly the RPCs of DESIGN.md §5");
    }
}

fn tokio_stream_iter<T: Send + 'static>(items: Vec<T>) -> impl tonic::IntoStreamingRequest<Message = T> {
    tokio_stream::iter(items)
}

async fn health_reports_serving_over_grpc_and_http(sandbox: &Scene) {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let mut health = HealthClient::new(sandbox.channel.clone());
    for (service, _) in CONTRACT {
        let serving = health.check(HealthCheckRequest { service: (*service).into() }).await.expect("health answers");
        assert_eq!(
            serving.into_inner().status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service}"
        );
    }

    for path in ["/health/livez", "/health/readyz"] {
        let response = http_get(sandbox.http_addr, path).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
    }
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("HTTP listens");
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

static SUITE: Suite = Suite::new();

sharedmetrics_e2e::scenarios!(SUITE:
    every_district_is_listed_with_its_region,
    an_lsoa_has_its_deprivation_population_and_parents,
    areas_list_by_parent_and_england_totals_its_population,
    a_trust_is_found_by_ods_code,
    the_starter_catalogue_is_listed_and_filtered,
    invalid_metric_versions_are_refused_field_by_field,
    a_second_version_leaves_the_first_readable,
    stewards_define_only_for_their_organisation_and_private_metrics_stay_private,
    dimensions_and_peer_groups_are_validated_and_listed,
    credentials_are_required_and_revoked_keys_refused,
    explain_access_without_a_resource_names_the_missing_field,
    reflection_lists_every_service_and_rpc_of_the_contract,
    health_reports_serving_over_grpc_and_http,
);
