//! The commitments service's reading of a metric's published observations: through the
//! submissions API with the caller's own rights, so disclosure control and visibility hold.

use std::sync::Arc;

use futures::StreamExt;
use sharedmetrics_access::Principal;
use sharedmetrics_error::ServiceResult;
use sharedmetrics_periods::Period;
use sharedmetrics_proto::sharedmetrics::submissions::v1::QueryObservationsRequest;
use sharedmetrics_submissions::SubmissionsApi;

use crate::{ObservationSource, ObservedFigure};

/// An [`ObservationSource`] over the submissions API: a period's figure is the organisation's
/// total row (no breakdown) for exactly that period, unless suppressed.
pub struct PublishedObservations(Arc<dyn SubmissionsApi>);

impl PublishedObservations {
    /// Returns the source reading through `submissions`.
    pub fn new(submissions: Arc<dyn SubmissionsApi>) -> Self {
        Self(submissions)
    }
}

#[async_trait::async_trait]
impl ObservationSource for PublishedObservations {
    async fn figure(
        &self,
        principal: &Principal,
        metric_code: &str,
        organisation_code: &str,
        period: &Period,
    ) -> ServiceResult<Option<ObservedFigure>> {
        let request = QueryObservationsRequest {
            metric_code: metric_code.to_owned(),
            area_codes: vec![organisation_code.to_owned()],
            period_from: period.to_string(),
            period_to: period.to_string(),
            ..Default::default()
        };
        let mut batches = self.0.query_observations(principal, request).await?;
        while let Some(batch) = batches.next().await {
            for observation in batch?.observations {
                let total = observation.breakdown.as_ref().is_none_or(|b| b.codes.is_empty());
                if total && observation.period_code == period.to_string() && !observation.suppressed {
                    let Some(numerator) = observation.numerator.or(observation.value) else { continue };
                    let data_version = observation
                        .valid_from
                        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32));
                    return Ok(Some(ObservedFigure { numerator, denominator: observation.denominator, data_version }));
                }
            }
        }
        Ok(None)
    }
}
