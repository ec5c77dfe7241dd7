//! One submission: a request or stream applied as one transaction, with its receipt.

use sea_orm::entity::prelude::*;
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::submissions::v1::PublicationState;

/// One submission. Its observations live in `observations` (written by hand-written SQL for
/// speed; see the store).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "submissions")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub metric_code: String,
    pub metric_version: i32,
    /// `merge`, `replace` or `delete`.
    pub mode: String,
    pub atomic: bool,
    /// Client idempotency key, unique per organisation; empty when none was given.
    pub idempotency_key: String,
    /// Hex SHA-256 of the payload, to tell a replay from a conflicting reuse of the key.
    pub payload_hash: String,
    /// JSON of the REPLACE scope.
    pub replace_scope: String,
    pub source_system: String,
    /// Principal id of the submitter.
    pub submitter: String,
    pub key_id: String,
    pub organisation_code: String,
    /// The receipt as returned, protobuf-encoded, so a replay returns it byte for byte.
    pub receipt: Vec<u8>,
    /// The label of a [`PublicationState`]: `draft`, `published` or `retracted` (embargo is
    /// derived from `visible_from_us`, never stored); read and set through [`Model::stored_state`]
    /// and [`Model::set_state`].
    pub state: String,
    /// Transaction time of the rows, microseconds since the epoch.
    pub submitted_at_us: i64,
    /// When outsiders may first see the rows (publication or embargo end), microseconds.
    pub visible_from_us: Option<i64>,
    pub published_at_us: Option<i64>,
    pub published_by: Option<String>,
    pub retracted_at_us: Option<i64>,
    pub retracted_by: Option<String>,
    pub retraction_reason: Option<String>,
}

/// No declared relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Returns the stored state: draft, published or retracted (never embargoed, which is a
    /// published submission before its `visible_from_us`).
    pub fn stored_state(&self) -> PublicationState {
        stored_state(&self.state)
    }

    /// Stores `state` (draft, published or retracted).
    pub fn set_state(&mut self, state: PublicationState) {
        self.state = state.label();
    }
}

/// Reads a stored state label; anything else reads as a draft, which nobody outside sees.
pub fn stored_state(label: &str) -> PublicationState {
    match PublicationState::from_label(label) {
        Some(state @ (PublicationState::Published | PublicationState::Retracted)) => state,
        _ => PublicationState::Draft,
    }
}
