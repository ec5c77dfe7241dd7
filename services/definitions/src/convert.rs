//! Conversions between stored rows and messages.

use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::common::v1::{
    AreaType, CiMethod, OrganisationType, PeriodType, Polarity, ValueType,
};
use sharedmetrics_proto::sharedmetrics::definitions::v1::{
    AreaRef, CatchmentArea, Deprivation, Dimension, DimensionCode, MetricStatus, MetricVersion, MetricVersionSpec,
    Organisation, PeerGroup, PeerGroupMemberType, Quantity, Visibility,
};

use crate::entity::{area, catchment, dimension, dimension_code, metric_version, organisation, peer_group};

/// The disclosure threshold when a metric sets none (DESIGN.md §4: counts 1–7 suppressed).
pub const DEFAULT_DISCLOSURE_THRESHOLD: u32 = 7;

pub use sharedmetrics_db::columns::{json_list, parse_list, timestamp};

/// Returns the labels of enum values carried as `i32` in a message.
pub fn labels<E: Label + TryFrom<i32>>(values: &[i32]) -> Vec<String> {
    values.iter().filter_map(|v| E::try_from(*v).ok()).map(Label::label).collect()
}

fn enum_value<E: Label + Into<i32>>(label: &str) -> i32 {
    E::from_label(label).map(Into::into).unwrap_or(0)
}

/// Returns the message of a stored metric version.
pub fn metric_version(row: &metric_version::Model) -> MetricVersion {
    let area_types: Vec<i32> = parse_list(&row.area_types).iter().map(|l| enum_value::<AreaType>(l)).collect();
    let spec = MetricVersionSpec {
        code: row.metric_code.clone(),
        title: row.title.clone(),
        description: row.description.clone(),
        rationale: row.rationale.clone(),
        methodology: row.methodology.clone(),
        numerator: Some(Quantity {
            definition: row.numerator_definition.clone(),
            source: row.numerator_source.clone(),
        }),
        denominator: Some(Quantity {
            definition: row.denominator_definition.clone(),
            source: row.denominator_source.clone(),
        }),
        value_type: enum_value::<ValueType>(&row.value_type),
        multiplier: row.multiplier as u32,
        unit: row.unit.clone(),
        polarity: enum_value::<Polarity>(&row.polarity),
        ci_method: enum_value::<CiMethod>(&row.ci_method),
        period_type: enum_value::<PeriodType>(&row.period_type),
        area_types,
        dimensions: parse_list(&row.dimensions),
        disclosure_threshold: row.disclosure_threshold.map(|t| t as u32),
        owners: parse_list(&row.owners),
        visibility: enum_value::<Visibility>(&row.visibility),
        partner_groups: parse_list(&row.partner_groups),
        tags: parse_list(&row.tags),
        valid_from: row.valid_from.clone(),
        valid_to: row.valid_to.clone().unwrap_or_default(),
    };
    MetricVersion {
        spec: Some(spec),
        version: row.version as u32,
        status: enum_value::<MetricStatus>(&row.status),
        created_at: Some(timestamp(row.created_at)),
        created_by: row.created_by.clone(),
        published_at: row.published_at.map(timestamp),
        effective_disclosure_threshold: row
            .disclosure_threshold
            .map(|t| t as u32)
            .unwrap_or(DEFAULT_DISCLOSURE_THRESHOLD),
    }
}

/// Returns the row of a validated spec, as a new draft version.
pub fn version_row(
    spec: &MetricVersionSpec,
    version: i32,
    created_by: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> metric_version::Model {
    let quantity = |q: &Option<Quantity>| q.clone().unwrap_or_default();
    let numerator = quantity(&spec.numerator);
    let denominator = quantity(&spec.denominator);
    metric_version::Model {
        metric_code: spec.code.clone(),
        version,
        status: MetricStatus::Draft.label(),
        title: spec.title.clone(),
        description: spec.description.clone(),
        rationale: spec.rationale.clone(),
        methodology: spec.methodology.clone(),
        numerator_definition: numerator.definition,
        numerator_source: numerator.source,
        denominator_definition: denominator.definition,
        denominator_source: denominator.source,
        value_type: spec.value_type().label(),
        multiplier: spec.multiplier as i32,
        unit: spec.unit.clone(),
        polarity: spec.polarity().label(),
        ci_method: spec.ci_method().label(),
        period_type: spec.period_type().label(),
        area_types: json_list(&labels::<AreaType>(&spec.area_types)),
        dimensions: json_list(&spec.dimensions),
        disclosure_threshold: spec.disclosure_threshold.map(|t| t as i32),
        owners: json_list(&spec.owners),
        visibility: spec.visibility().label(),
        partner_groups: json_list(&spec.partner_groups),
        tags: json_list(&spec.tags),
        valid_from: spec.valid_from.clone(),
        valid_to: (!spec.valid_to.is_empty()).then(|| spec.valid_to.clone()),
        created_at: now,
        created_by: created_by.to_owned(),
        published_at: None,
    }
}

/// Returns the reference message of an area.
pub fn area_ref(row: &area::Model) -> AreaRef {
    AreaRef { code: row.code.clone(), name: row.name.clone(), r#type: enum_value::<AreaType>(&row.area_type) }
}

/// Returns the other types an area row counts as (its `also_types`).
pub fn also_types(row: &area::Model) -> Vec<i32> {
    code_list(row.also_types.as_deref()).iter().map(|label| enum_value::<AreaType>(label)).collect()
}

/// Returns the entries of a `,a,b,` column.
pub fn code_list(column: Option<&str>) -> Vec<String> {
    column.unwrap_or_default().split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect()
}

/// Returns the `,a,b,` column of a list of codes, or none for an empty list.
pub fn code_list_column(codes: &[String]) -> Option<String> {
    (!codes.is_empty()).then(|| format!(",{},", codes.join(",")))
}

/// Returns the stored form of an area's other types: `,label,label,`, or none.
pub fn also_types_column(types: &[AreaType]) -> Option<String> {
    code_list_column(&types.iter().map(|t| t.label()).collect::<Vec<_>>())
}

/// Returns the deprivation figures of an LSOA row.
pub fn deprivation(row: &area::Model) -> Option<Deprivation> {
    let decile = row.imd_decile? as u32;
    Some(Deprivation {
        imd_rank: row.imd_rank.unwrap_or_default() as u32,
        imd_decile: decile,
        imd_quintile: decile.div_ceil(2),
        core20: decile <= 2,
    })
}

/// Returns the message of an organisation.
pub fn organisation(
    row: &organisation::Model,
    parent_codes: Vec<String>,
    catchment: &[catchment::Model],
) -> Organisation {
    Organisation {
        code: row.code.clone(),
        name: row.name.clone(),
        r#type: enum_value::<OrganisationType>(&row.organisation_type),
        town: row.town.clone().unwrap_or_default(),
        postcode: row.postcode.clone().unwrap_or_default(),
        area_code: row.area_code.clone().unwrap_or_default(),
        parent_codes,
        catchment: catchment.iter().map(catchment_area).collect(),
    }
}

/// Returns the message of a catchment link.
pub fn catchment_area(row: &catchment::Model) -> CatchmentArea {
    CatchmentArea {
        area_code: row.area_code.clone(),
        weight: row.weight,
        area_type: enum_value::<AreaType>(row.area_type.as_deref().unwrap_or_default()),
    }
}

/// Returns the message of a dimension with its codes.
pub fn dimension(row: &dimension::Model, codes: &[dimension_code::Model]) -> Dimension {
    Dimension {
        code: row.code.clone(),
        title: row.title.clone(),
        description: row.description.clone(),
        ordered: row.ordered,
        codes: codes
            .iter()
            .map(|c| DimensionCode { code: c.code.clone(), label: c.label.clone(), order: c.sort_order as u32 })
            .collect(),
        owner: row.owner.clone().unwrap_or_default(),
    }
}

/// Returns the message of a peer group version.
pub fn peer_group(row: &peer_group::Model) -> PeerGroup {
    PeerGroup {
        code: row.code.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
        member_type: enum_value::<PeerGroupMemberType>(&row.member_type),
        members: parse_list(&row.members),
        version: row.version as u32,
        owner: row.owner.clone(),
        created_at: Some(timestamp(row.created_at)),
    }
}
