//! Conversions between stored rows, the JSON stored in text columns, and messages.

use serde::{Deserialize, Serialize};
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::commitments::v1::{
    AreaList, Baseline, Charter, CharterMember, CharterRole, CharterVisibility, Commitment, CommitmentStatus,
    CommitmentTemplate, CommitmentType, Evidence, LocalDefinition, Measure, Progress, ProgressSource, Radius,
    ReferenceValue, StatusAssessment, Target, Trajectory, TrajectoryPoint, TrajectoryShape, local_definition,
};
use sharedmetrics_proto::sharedmetrics::common::v1::{PeriodType, Polarity};

use crate::entity::{charter, charter_member, charter_template, commitment, progress, reference_value};

/// Returns the `i32` of the value with `label`, or 0 (unspecified) for an unknown label.
fn value_of<E: Label + Into<i32>>(label: &str) -> i32 {
    E::from_label(label).map(Into::into).unwrap_or(0)
}

pub use sharedmetrics_db::columns::{json_list, parse_list, timestamp};

/// The stored form of a definition of local: exactly one of its kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoredLocal {
    /// An explicit list of GSS codes.
    Areas(Vec<String>),
    /// Every LSOA within an ICB or district.
    Boundary(String),
    /// A radius from the area a postcode lies in.
    Radius {
        /// The postcode, normalised.
        postcode: String,
        /// GSS code of the postcode's area.
        area_code: String,
        /// Kilometres.
        radius_km: f64,
    },
}

/// Returns the stored form of a (validated) definition of local, none when it has no kind.
pub fn stored_local(local: &LocalDefinition) -> Option<StoredLocal> {
    Some(match local.kind.as_ref()? {
        local_definition::Kind::Areas(list) => StoredLocal::Areas(list.area_codes.clone()),
        local_definition::Kind::BoundaryCode(code) => StoredLocal::Boundary(code.clone()),
        local_definition::Kind::Radius(radius) => StoredLocal::Radius {
            postcode: radius.postcode.clone(),
            area_code: radius.area_code.clone(),
            radius_km: radius.radius_km,
        },
    })
}

/// Encodes a definition of local for a text column.
pub fn local_json(local: Option<&LocalDefinition>) -> Option<String> {
    local.and_then(stored_local).map(|s| serde_json::to_string(&s).expect("a definition of local serialises"))
}

/// Decodes a definition of local written by [`local_json`].
pub fn local_message(text: Option<&str>) -> Option<LocalDefinition> {
    let stored: StoredLocal = serde_json::from_str(text?).ok()?;
    let kind = match stored {
        StoredLocal::Areas(area_codes) => local_definition::Kind::Areas(AreaList { area_codes }),
        StoredLocal::Boundary(code) => local_definition::Kind::BoundaryCode(code),
        StoredLocal::Radius { postcode, area_code, radius_km } => {
            local_definition::Kind::Radius(Radius { postcode, radius_km, area_code })
        }
    };
    Some(LocalDefinition { kind: Some(kind) })
}

/// A trajectory knot as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredPoint {
    /// Period code.
    pub period_code: String,
    /// Expected value.
    pub value: f64,
}

/// Evidence as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvidence {
    /// Reference number or URL.
    pub reference: String,
    /// ISO date.
    pub date: String,
    /// What it is.
    pub description: String,
}

/// A reference value as stamped on a progress figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredReference {
    /// Kind, for example `real_living_wage`.
    pub kind: String,
    /// Scope, for example `london`.
    pub scope: String,
    /// Period in force.
    pub valid_period: String,
    /// The value.
    pub value: f64,
    /// Unit.
    pub unit: String,
    /// Who publishes it.
    pub source: String,
    /// Data version.
    pub data_version: i32,
    /// ISO date the data version was published.
    pub published: String,
}

impl From<&reference_value::Model> for StoredReference {
    fn from(row: &reference_value::Model) -> Self {
        Self {
            kind: row.kind.clone(),
            scope: row.scope.clone(),
            valid_period: row.valid_period.clone(),
            value: row.value,
            unit: row.unit.clone(),
            source: row.source.clone(),
            data_version: row.data_version,
            published: row.published.clone(),
        }
    }
}

/// Returns the message of a stored reference value.
fn reference_message(stored: &StoredReference) -> ReferenceValue {
    ReferenceValue {
        kind: stored.kind.clone(),
        scope: stored.scope.clone(),
        valid_period_code: stored.valid_period.clone(),
        value: stored.value,
        unit: stored.unit.clone(),
        source: stored.source.clone(),
        data_version: stored.data_version as u32,
        published: stored.published.clone(),
    }
}

/// Encodes any serialisable list for a text column.
pub fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("stored values serialise")
}

/// Returns the trajectory points of a commitment row.
pub fn points(row: &commitment::Model) -> Vec<StoredPoint> {
    serde_json::from_str(&row.trajectory_points).unwrap_or_default()
}

/// Returns the message of a charter with its members and templates.
pub fn charter(
    row: &charter::Model,
    members: &[charter_member::Model],
    templates: &[charter_template::Model],
) -> Charter {
    Charter {
        code: row.code.clone(),
        name: row.name.clone(),
        place_area_code: row.place_area_code.clone(),
        description: row.description.clone(),
        visibility: value_of::<CharterVisibility>(&row.visibility),
        members: members
            .iter()
            .map(|m| CharterMember {
                organisation_code: m.organisation_code.clone(),
                role: value_of::<CharterRole>(&m.role),
                joined_at: Some(timestamp(m.joined_at)),
            })
            .collect(),
        templates: templates.iter().map(template).collect(),
        created_at: Some(timestamp(row.created_at)),
        created_by: row.created_by.clone(),
    }
}

/// Returns the message of a stored template.
pub fn template(row: &charter_template::Model) -> CommitmentTemplate {
    CommitmentTemplate {
        code: row.code.clone(),
        r#type: value_of::<CommitmentType>(&row.commitment_type),
        title: row.title.clone(),
        description: row.description.clone(),
        metric_code: row.metric_code.clone().unwrap_or_default(),
        local_definition: local_message(row.local_definition.as_deref()),
        target_value: row.target_value,
        target_date: row.target_date.clone().unwrap_or_default(),
    }
}

/// Returns the row of a validated template.
pub fn template_row(charter_code: &str, order: usize, template: &CommitmentTemplate) -> charter_template::Model {
    charter_template::Model {
        charter_code: charter_code.to_owned(),
        code: template.code.clone(),
        sort_order: order as i32 + 1,
        commitment_type: template.r#type().label(),
        title: template.title.clone(),
        description: template.description.clone(),
        metric_code: (!template.metric_code.is_empty()).then(|| template.metric_code.clone()),
        local_definition: local_json(template.local_definition.as_ref()),
        target_value: template.target_value,
        target_date: (!template.target_date.is_empty()).then(|| template.target_date.clone()),
    }
}

/// Returns the message of a stored commitment with its computed assessment.
pub fn commitment(row: &commitment::Model, assessment: StatusAssessment) -> Commitment {
    let evidence: Vec<StoredEvidence> = serde_json::from_str(&row.evidence).unwrap_or_default();
    Commitment {
        commitment_id: row.id.clone(),
        organisation_code: row.organisation_code.clone(),
        charter_code: row.charter_code.clone().unwrap_or_default(),
        template_code: row.template_code.clone().unwrap_or_default(),
        r#type: value_of::<CommitmentType>(&row.commitment_type),
        title: row.title.clone(),
        description: row.description.clone(),
        metric_code: row.metric_code.clone().unwrap_or_default(),
        polarity: value_of::<Polarity>(&row.polarity),
        unit: row.unit.clone(),
        local_definition: local_message(row.local_definition.as_deref()),
        baseline: Some(Baseline { value: row.baseline_value, period_code: row.baseline_period.clone() }),
        target: Some(Target { value: row.target_value, date: row.target_date.clone() }),
        trajectory: Some(Trajectory {
            shape: value_of::<TrajectoryShape>(&row.trajectory_shape),
            points: points(row)
                .into_iter()
                .map(|p| TrajectoryPoint { period_code: p.period_code, value: p.value })
                .collect(),
            tolerance: row.tolerance,
        }),
        evidence: evidence
            .into_iter()
            .map(|e| Evidence { reference: e.reference, date: e.date, description: e.description })
            .collect(),
        owner: row.owner.clone(),
        status: assessment.status,
        status_assessment: Some(assessment),
        created_at: Some(timestamp(row.created_at)),
        created_by: row.created_by.clone(),
        updated_at: Some(timestamp(row.updated_at)),
        measure: value_of::<Measure>(&row.measure),
        reporting_period_type: value_of::<PeriodType>(&row.reporting_period_type),
    }
}

/// Returns the message of a stored figure with what the trajectory expects of it.
pub fn progress(row: &progress::Model, expected: f64, status: CommitmentStatus) -> Progress {
    let references: Vec<StoredReference> = serde_json::from_str(&row.reference_values).unwrap_or_default();
    Progress {
        commitment_id: row.commitment_id.clone(),
        period_code: row.period_code.clone(),
        numerator: row.numerator,
        denominator: row.denominator,
        value: Some(row.value),
        note: row.note.clone(),
        source: value_of::<ProgressSource>(&row.source),
        reported_by: row.reported_by.clone(),
        reported_at: Some(timestamp(row.reported_at)),
        data_version: row.data_version.map(timestamp),
        expected_value: Some(expected),
        status: status as i32,
        local_definition: local_message(row.local_definition.as_deref()),
        reference_values: references.iter().map(reference_message).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_unspecified_has_none() {
        assert_eq!(CommitmentType::RealLivingWageDirectStaff.label(), "real_living_wage_direct_staff");
        assert_eq!(CommitmentStatus::from_label("on_track"), Some(CommitmentStatus::OnTrack));
        assert_eq!(Measure::from_label("unspecified"), None);
        assert_eq!(CharterVisibility::from_label("PUBLIC"), None);
    }

    #[test]
    fn every_kind_of_local_definition_round_trips_through_its_column() {
        for kind in [
            local_definition::Kind::Areas(AreaList { area_codes: vec!["E08000012".into(), "E08000014".into()] }),
            local_definition::Kind::BoundaryCode("E54000008".into()),
            local_definition::Kind::Radius(Radius {
                postcode: "L3 8EN".into(),
                radius_km: 12.5,
                area_code: "E08000012".into(),
            }),
        ] {
            let local = LocalDefinition { kind: Some(kind) };
            assert_eq!(local_message(local_json(Some(&local)).as_deref()), Some(local));
        }
        assert_eq!(local_json(Some(&LocalDefinition { kind: None })), None);
    }
}
