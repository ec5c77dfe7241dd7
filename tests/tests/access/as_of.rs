//! Reads at any `as_of` reveal nothing that is hidden now: every read of observations or of
//! statistics made from them, by every key of the other organisation, at no `as_of`, a past one,
//! one after the embargo ends and the latest a timestamp can name, over A's embargoed, draft and
//! revised data. Each probe counts; a leak is named and the test fails with the full list.

use super::*;

/// Wirral, the district of [`WIRRAL_LSOA`].
const WIRRAL: &str = "E08000015";
/// England.
const ENGLAND: &str = "E92000001";
/// The period of A's published row that a draft revision (numerator [`REVISED`]) replaces.
pub const REVISED_PERIOD: &str = "2020/21";
/// The numerator of the draft revision: never seen outside A.
pub const REVISED: f64 = 77.0;
/// Periods whose only data is unpublished (embargoed, draft).
const HIDDEN_PERIODS: [&str; 2] = ["2021/22", "2023/24"];

/// The `as_of` values every read is made at, by name.
fn as_ofs(before_revision: prost_types::Timestamp) -> Vec<(&'static str, Option<prost_types::Timestamp>)> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs() as i64;
    vec![
        ("none", None),
        ("past (before the revision)", Some(before_revision)),
        ("now plus a minute", Some(prost_types::Timestamp { seconds: now + 60, nanos: 0 })),
        // The embargo ends 2100-01-01; a day later.
        ("after the embargo", Some(prost_types::Timestamp { seconds: 4_102_444_800 + 86_400, nanos: 0 })),
        ("far future (9999-12-31)", Some(prost_types::Timestamp { seconds: 253_402_300_799, nanos: 0 })),
    ]
}

/// Probes counted and leaks found.
#[derive(Default)]
struct Tally {
    probes: usize,
    leaks: Vec<String>,
}

impl Tally {
    /// Counts one probe; `leak` names what was seen, if anything.
    fn check(&mut self, leak: Option<String>) {
        self.probes += 1;
        self.leaks.extend(leak);
    }
}

fn is_hidden(period: &str) -> bool {
    HIDDEN_PERIODS.contains(&period)
}

/// Whether a statistic's numerator shows hidden data: any count in a hidden period, or the
/// revision's numerator in the revised one.
fn shows(period: &str, numerator: Option<f64>) -> bool {
    let n = numerator.unwrap_or(0.0);
    (is_hidden(period) && n > 0.0) || (period == REVISED_PERIOD && n == REVISED)
}

/// Every read of one key at one `as_of` (the statistics too when `statistics`); returns the
/// probes' findings.
async fn probe(
    fixture: &Fixture,
    channel: &AuthChannel,
    who: &str,
    (at, as_of): (&str, Option<prost_types::Timestamp>),
    statistics: bool,
) -> Tally {
    let mut tally = Tally::default();
    let hidden_ids = [&fixture.draft_submission, &fixture.embargoed_submission, &fixture.revision_submission];
    let context = |what: &str| format!("{who}, as_of {at}: {what}");

    let mut stream = SubmissionsServiceClient::new(channel.clone())
        .query_observations(QueryObservationsRequest { metric_code: PUBLIC_METRIC.into(), as_of, ..Default::default() })
        .await
        .expect("queried")
        .into_inner();
    let mut rows = Vec::new();
    while let Some(batch) = stream.message().await.expect("streamed") {
        rows.extend(batch.observations);
    }
    for row in &rows {
        tally.check(
            hidden_ids
                .contains(&&row.submission_id)
                .then(|| context(&format!("QueryObservations row of unpublished submission {}", row.submission_id))),
        );
        tally.check(
            (row.publication_state != PublicationState::Published as i32)
                .then(|| context(&format!("QueryObservations row labelled {:?}", row.publication_state()))),
        );
        tally.check(
            (row.period_code == REVISED_PERIOD && row.valid_to.is_some())
                .then(|| context("QueryObservations: valid_to betrays the unpublished revision")),
        );
    }
    // Only the published rows: 2022/23, and 2020/21 as it was before its draft revision.
    let mut periods: Vec<&str> = rows.iter().map(|r| r.period_code.as_str()).collect();
    periods.sort();
    tally.check(
        (periods != [REVISED_PERIOD, "2022/23"]).then(|| context(&format!("QueryObservations periods {periods:?}"))),
    );

    let history = SubmissionsServiceClient::new(channel.clone())
        .get_observation_history(GetObservationHistoryRequest {
            metric_code: PUBLIC_METRIC.into(),
            area_code: WIRRAL_LSOA.into(),
            period_code: REVISED_PERIOD.into(),
            ..Default::default()
        })
        .await
        .expect("history read")
        .into_inner()
        .versions;
    tally.check(
        (history.len() != 1).then(|| context(&format!("GetObservationHistory shows {} versions", history.len()))),
    );
    for version in &history {
        tally.check(
            (version.numerator == Some(REVISED) || version.valid_to.is_some())
                .then(|| context("GetObservationHistory betrays the unpublished revision")),
        );
    }

    if !statistics {
        return tally;
    }
    for area in [WIRRAL_LSOA, WIRRAL] {
        let trend = BenchmarkingServiceClient::new(channel.clone())
            .get_trend(GetTrendRequest {
                metric_code: PUBLIC_METRIC.into(),
                area_code: area.into(),
                as_of,
                ..Default::default()
            })
            .await
            .expect("trend read")
            .into_inner();
        for point in &trend.points {
            tally.check(
                shows(&point.period_code, point.numerator).then(|| {
                    context(&format!("GetTrend {area} {} numerator {:?}", point.period_code, point.numerator))
                }),
            );
        }
    }

    for period in [HIDDEN_PERIODS[0], HIDDEN_PERIODS[1], REVISED_PERIOD] {
        for (area_type, parent) in [(AreaType::Lsoa, WIRRAL), (AreaType::LocalAuthorityDistrict, "")] {
            let compared = BenchmarkingServiceClient::new(channel.clone())
                .compare_areas(CompareAreasRequest {
                    metric_code: PUBLIC_METRIC.into(),
                    period_code: period.into(),
                    area_type: area_type as i32,
                    parent_area_code: parent.into(),
                    benchmark: Some(Benchmark { kind: Some(benchmark::Kind::England(true)) }),
                    as_of,
                    page_size: 1000,
                    ..Default::default()
                })
                .await
                .expect("compared")
                .into_inner();
            for area in &compared.areas {
                tally.check(shows(period, area.numerator).then(|| {
                    context(&format!("CompareAreas {period} {} numerator {:?}", area.area_code, area.numerator))
                }));
            }
            for benchmark in &compared.benchmarks {
                tally.check(shows(period, benchmark.numerator).then(|| {
                    context(&format!(
                        "CompareAreas {period} benchmark {} numerator {:?}",
                        benchmark.code, benchmark.numerator
                    ))
                }));
            }
        }

        let profile = BenchmarkingServiceClient::new(channel.clone())
            .get_area_profile(GetAreaProfileRequest {
                area_code: WIRRAL.into(),
                period_code: period.into(),
                tag: TAG.into(),
                as_of,
                ..Default::default()
            })
            .await
            .expect("profiled")
            .into_inner();
        for metric in profile.metrics.iter().filter(|m| m.metric_code == PUBLIC_METRIC) {
            tally.check(
                shows(period, metric.numerator)
                    .then(|| context(&format!("GetAreaProfile {period} numerator {:?}", metric.numerator))),
            );
        }

        // England's inequality aggregates every LSOA (seconds in a debug build): the embargoed
        // period is asked of it; Wirral's is asked of every period.
        let areas: &[&str] = if period == HIDDEN_PERIODS[0] { &[WIRRAL, ENGLAND] } else { &[WIRRAL] };
        for &area in areas {
            let inequality = BenchmarkingServiceClient::new(channel.clone())
                .get_inequality(GetInequalityRequest {
                    metric_code: PUBLIC_METRIC.into(),
                    area_code: area.into(),
                    period_code: period.into(),
                    dimension: "imd_decile".into(),
                    seed: Some(1),
                    as_of,
                    ..Default::default()
                })
                .await;
            // An inequality with no data to stand on may be refused; a refusal shows nothing, so
            // it is no probe.
            if let Ok(inequality) = inequality {
                for group in &inequality.into_inner().groups {
                    tally.check(shows(period, group.numerator).then(|| {
                        context(&format!(
                            "GetInequality {area} {period} decile {} numerator {:?}",
                            group.code, group.numerator
                        ))
                    }));
                }
            }
        }
    }
    tally
}

/// The probes find nothing for every outside key at every `as_of`, while A's own steward sees
/// the embargoed and revised data through the same reads (so the probes can see a leak).
pub async fn no_as_of_reveals_what_is_hidden_now(scene: &Scene<Fixture>) {
    let fixture = &scene.fixture;
    let own = &fixture.keys[&(R::Steward, Org::Own)].0;
    let insider = probe(fixture, own, "A's steward", ("none", None), true).await;
    // Every kind of read must be able to show a leak, or its probes would prove nothing.
    for read in [
        "QueryObservations",
        "GetObservationHistory",
        "GetTrend",
        "CompareAreas 2021/22",
        "GetAreaProfile 2021/22",
        "GetInequality",
    ] {
        assert!(
            insider.leaks.iter().any(|l| l.contains(read)),
            "the owner sees its own hidden data through {read}, so its probes can detect a leak: {:?}",
            insider.leaks
        );
    }

    let mut total = Tally::default();
    // Every outside key reads observations at every `as_of`; two of them (a reader and a
    // steward: roles do not widen what an outsider reads) also every statistic, which costs
    // seconds a read in a debug build.
    for role in [R::Submitter, R::Reader, R::Steward, R::OrgAdmin] {
        let channel = &fixture.keys[&(role, Org::Other)].0;
        for at in as_ofs(fixture.before_revision) {
            let statistics = matches!(role, R::Reader | R::Steward);
            let tally = probe(fixture, channel, &format!("{role:?} of {OTHER}"), at, statistics).await;
            total.probes += tally.probes;
            total.leaks.extend(tally.leaks);
        }
    }
    println!(
        "as_of leak checks: {} probes by 4 outside keys at {} as_of values, {} leaks",
        total.probes,
        as_ofs(fixture.before_revision).len(),
        total.leaks.len()
    );
    assert!(total.leaks.is_empty(), "{} leaks:\n{}", total.leaks.len(), total.leaks.join("\n"));
}
