//! The sharedmetrics gRPC contract: messages, clients and servers generated from `proto/` at
//! build time, and the descriptor set that reflection and the REST transcoder read.
#![allow(missing_docs, clippy::all, clippy::pedantic)]

include!(concat!(env!("OUT_DIR"), "/sharedmetrics_includes.rs"));

/// The encoded `FileDescriptorSet` of every sharedmetrics proto and its imports.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/sharedmetrics_descriptor.bin"));

/// The fully qualified names of the services the platform serves, in DESIGN.md order.
pub const SERVICE_NAMES: &[&str] = &[
    "sharedmetrics.definitions.v1.DefinitionsService",
    "sharedmetrics.submissions.v1.SubmissionsService",
    "sharedmetrics.benchmarking.v1.BenchmarkingService",
    "sharedmetrics.commitments.v1.CommitmentsService",
    "sharedmetrics.access.v1.AccessService",
];

/// Lowercase, prefix-free names for proto enums (`VALUE_TYPE_PROPORTION` ↔ `proportion`), used
/// in data files, database columns and messages so that one spelling serves everywhere.
pub trait Label: Sized + Copy {
    /// Returns the label, for example `proportion`.
    fn label(self) -> String;
    /// Returns the value with this label; the `UNSPECIFIED` value has none.
    fn from_label(label: &str) -> Option<Self>;
}

macro_rules! labelled {
    ($($ty:path => $prefix:literal),* $(,)?) => {$(
        impl Label for $ty {
            fn label(self) -> String {
                let name = self.as_str_name();
                name.strip_prefix($prefix).unwrap_or(name).to_ascii_lowercase()
            }

            fn from_label(label: &str) -> Option<Self> {
                if label.is_empty() || label.bytes().any(|b| b.is_ascii_uppercase()) {
                    return None;
                }
                Self::from_str_name(&format!("{}{}", $prefix, label.to_ascii_uppercase()))
                    .filter(|value| *value as i32 != 0)
            }
        }
    )*};
}

labelled! {
    sharedmetrics::common::v1::AreaType => "AREA_TYPE_",
    sharedmetrics::common::v1::OrganisationType => "ORGANISATION_TYPE_",
    sharedmetrics::common::v1::ValueType => "VALUE_TYPE_",
    sharedmetrics::common::v1::Polarity => "POLARITY_",
    sharedmetrics::common::v1::CiMethod => "CI_METHOD_",
    sharedmetrics::common::v1::PeriodType => "PERIOD_TYPE_",
    sharedmetrics::definitions::v1::Visibility => "VISIBILITY_",
    sharedmetrics::definitions::v1::MetricStatus => "METRIC_STATUS_",
    sharedmetrics::definitions::v1::PeerGroupMemberType => "PEER_GROUP_MEMBER_TYPE_",
    sharedmetrics::access::v1::Role => "ROLE_",
    sharedmetrics::access::v1::AuditOutcome => "AUDIT_OUTCOME_",
    sharedmetrics::access::v1::Action => "ACTION_",
    sharedmetrics::access::v1::ResourceKind => "RESOURCE_KIND_",
    sharedmetrics::submissions::v1::SubmissionMode => "SUBMISSION_MODE_",
    sharedmetrics::submissions::v1::PublicationState => "PUBLICATION_STATE_",
    sharedmetrics::submissions::v1::ObservationStatus => "OBSERVATION_STATUS_",
    sharedmetrics::submissions::v1::ConfidentialityStatus => "CONFIDENTIALITY_STATUS_",
    sharedmetrics::commitments::v1::CharterVisibility => "CHARTER_VISIBILITY_",
    sharedmetrics::commitments::v1::CharterRole => "CHARTER_ROLE_",
    sharedmetrics::commitments::v1::CommitmentType => "COMMITMENT_TYPE_",
    sharedmetrics::commitments::v1::CommitmentStatus => "COMMITMENT_STATUS_",
    sharedmetrics::commitments::v1::TrajectoryShape => "TRAJECTORY_SHAPE_",
    sharedmetrics::commitments::v1::ProgressSource => "PROGRESS_SOURCE_",
    sharedmetrics::commitments::v1::Measure => "MEASURE_",
}

#[cfg(test)]
mod tests {
    use super::Label;
    use super::sharedmetrics::common::v1::{PeriodType, ValueType};

    #[test]
    fn labels_round_trip_and_unspecified_has_none() {
        assert_eq!(ValueType::DirectlyStandardisedRate.label(), "directly_standardised_rate");
        assert_eq!(ValueType::from_label("proportion"), Some(ValueType::Proportion));
        assert_eq!(PeriodType::from_label("financial_quarter"), Some(PeriodType::FinancialQuarter));
        assert_eq!(ValueType::from_label("unspecified"), None);
        assert_eq!(ValueType::from_label("PROPORTION"), None);
        assert_eq!(ValueType::from_label("ratio"), None);
    }
}
