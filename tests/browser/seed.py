#!/usr/bin/env python3
"""Seeds the known data the browser tests check, through the platform's gRPC API.

    python3 tests/browser/seed.py GRPC_ADDRESS ADMIN_KEY OUT_JSON

With the bootstrap admin key (NHS England, every role) it creates organisation keys, and with
those it creates, as a real deployment would:
- `dashboard-screening`: a public proportion with LSOA data for every North East LSOA for five
  financial years (the rate rises with each LSOA's IMD decile and year, so there is a gradient
  and a trend) and an England row for each year; every submission published;
- `dashboard-life-expectancy`: a life expectancy, deaths and populations by life-table age band
  for every County Durham LSOA (mortality higher in the more deprived deciles), published;
- `dashboard-private-waits`: a metric owned by Durham County Council (116) only, with published
  district rows, which a reader of Newcastle City Council (107) must never see;
- the County Durham anchor charter, created by the council, with the council and County Durham and
  Darlington NHS Foundation Trust (RXP) as members, two commitments each and four quarters of progress.
Writes the keys and codes the tests use to OUT_JSON.
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples" / "python"))
from first_call import generate_stubs  # noqa: E402

METRIC = "dashboard-screening"
PRIVATE = "dashboard-private-waits"
RATE_METRIC = "dashboard-falls-admissions"
LIFE_METRIC = "dashboard-life-expectancy"
LIFE_BANDS = ["0", "1-4"] + [f"{a}-{a + 4}" for a in range(5, 90, 5)] + ["90+"]
AGE_SHARES = [0.011, 0.045, 0.058, 0.060, 0.058, 0.062, 0.066, 0.066, 0.064, 0.062, 0.066, 0.069, 0.067, 0.059,
              0.052, 0.050, 0.036, 0.026, 0.015, 0.008]
MORTALITY = [0.0040, 0.00015, 0.0001, 0.0001, 0.0003, 0.0005, 0.0006, 0.0008, 0.0011, 0.0016, 0.0024, 0.0038,
             0.0060, 0.0095, 0.0150, 0.0240, 0.0400, 0.0700, 0.1250, 0.2400]
NORTH_EAST = "E12000001"
ENGLAND = "E92000001"
AREA = "E06000047"  # County Durham
COUNCIL = "116"  # Durham County Council
TRUST = "RXP"  # County Durham and Darlington NHS Foundation Trust
OTHER = "107"  # Newcastle-upon-Tyne City Council
CHARTER = "county-durham-anchor-charter"
YEARS = ["2020/21", "2021/22", "2022/23", "2023/24", "2024/25"]
QUARTERS = ["2024/25-Q1", "2024/25-Q2", "2024/25-Q3", "2024/25-Q4"]


def lsoa_counts(index, decile, year_index):
    """Known counts for one LSOA and year: the share rises with the IMD decile and the year."""
    denominator = 100 + index % 11
    share = 0.50 + 0.03 * decile + 0.01 * year_index
    return round(denominator * share), denominator


def main():
    address, admin_key, out = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    generate_stubs()
    import grpc
    from sharedmetrics.access.v1 import access_pb2, access_pb2_grpc
    from sharedmetrics.commitments.v1 import commitments_pb2 as c, commitments_pb2_grpc
    from sharedmetrics.common.v1 import common_pb2 as common
    from sharedmetrics.definitions.v1 import definitions_pb2 as d, definitions_pb2_grpc
    from sharedmetrics.submissions.v1 import submissions_pb2 as s, submissions_pb2_grpc

    channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)])
    auth = lambda key: [("authorization", f"Bearer {key}")]  # noqa: E731
    admin = auth(admin_key)
    access = access_pb2_grpc.AccessServiceStub(channel)
    definitions = definitions_pb2_grpc.DefinitionsServiceStub(channel)
    submissions = submissions_pb2_grpc.SubmissionsServiceStub(channel)
    commitments = commitments_pb2_grpc.CommitmentsServiceStub(channel)

    all_roles = [access_pb2.ROLE_ORG_ADMIN, access_pb2.ROLE_STEWARD, access_pb2.ROLE_SUBMITTER, access_pb2.ROLE_READER]

    def key(organisation, roles):
        return access.CreateApiKey(
            access_pb2.CreateApiKeyRequest(name=f"dashboard tests {organisation}", roles=roles, organisation_code=organisation),
            metadata=admin,
        ).secret

    keys = {
        "admin": admin_key,
        "council": key(COUNCIL, all_roles),
        "trust": key(TRUST, all_roles),
        "otherReader": key(OTHER, [access_pb2.ROLE_READER]),
        "councilReader": key(COUNCIL, [access_pb2.ROLE_READER]),
    }

    def submit_and_publish(metric, rows):
        receipt = submissions.SubmitObservations(
            s.SubmitObservationsRequest(header=s.SubmissionHeader(metric_code=metric, mode=s.SUBMISSION_MODE_MERGE), rows=rows),
            metadata=admin,
        ).receipt
        if receipt.counts.rejected:
            raise SystemExit(f"{metric}: rejected rows {list(receipt.rejections)[:3]}")
        submissions.PublishSubmission(s.PublishSubmissionRequest(submission_id=receipt.submission_id), metadata=admin)

    # The public metric, with LSOA data for the North East and England's own row.
    definitions.CreateMetric(d.CreateMetricRequest(spec=d.MetricVersionSpec(
        code=METRIC,
        title="Screening coverage (dashboard test data)",
        description="Share of the eligible population screened in the year.",
        rationale="Coverage is lower in more deprived areas; closing the gap is a Core20PLUS5 aim.",
        methodology="People screened in the financial year over people eligible on 31 March, by LSOA of residence.",
        numerator=d.Quantity(definition="People screened", source="Screening programme returns"),
        denominator=d.Quantity(definition="People eligible", source="Practice registers"),
        value_type=common.VALUE_TYPE_PROPORTION, multiplier=100, unit="%",
        polarity=common.POLARITY_HIGH_IS_GOOD, ci_method=common.CI_METHOD_WILSON,
        period_type=common.PERIOD_TYPE_FINANCIAL_YEAR,
        area_types=[common.AREA_TYPE_LSOA, common.AREA_TYPE_LOCAL_AUTHORITY_DISTRICT, common.AREA_TYPE_REGION, common.AREA_TYPE_ENGLAND],
        dimensions=["imd_decile"], owners=["X24"], visibility=d.VISIBILITY_PUBLIC, tags=["core20plus5"],
        valid_from="2020-04-01",
    ), publish=True), metadata=admin)
    lsoas, token = [], ""
    while True:
        page = definitions.ListAreas(d.ListAreasRequest(type=common.AREA_TYPE_LSOA, parent_code=NORTH_EAST, page_size=1000, page_token=token), metadata=admin)
        lsoas += [(a.code, a.deprivation.imd_decile) for a in page.areas]
        token = page.next_page_token
        if not token:
            break
    for year_index, year in enumerate(YEARS):
        rows = []
        for i, (code, decile) in enumerate(lsoas):
            numerator, denominator = lsoa_counts(i, decile, year_index)
            rows.append(s.ObservationRow(area_code=code, period_code=year, numerator=numerator, denominator=denominator))
        rows.append(s.ObservationRow(area_code=ENGLAND, period_code=year, numerator=3_250_000 + 25_000 * year_index, denominator=5_000_000))
        submit_and_publish(METRIC, rows)

    # A second public metric, low is good, with district rows for every district in England (so
    # the spine chart's range is England-wide and comparisons vary), falling by district over time.
    definitions.CreateMetric(d.CreateMetricRequest(spec=d.MetricVersionSpec(
        code=RATE_METRIC,
        title="Emergency admissions for falls, 65+ (dashboard test data)",
        description="Emergency hospital admissions for falls among people aged 65 and over, per 100,000.",
        methodology="Admissions in the financial year over the mid-year population aged 65 and over.",
        value_type=common.VALUE_TYPE_CRUDE_RATE, multiplier=100_000, unit="per 100,000",
        polarity=common.POLARITY_LOW_IS_GOOD, ci_method=common.CI_METHOD_BYAR,
        period_type=common.PERIOD_TYPE_FINANCIAL_YEAR,
        area_types=[common.AREA_TYPE_LOCAL_AUTHORITY_DISTRICT, common.AREA_TYPE_REGION, common.AREA_TYPE_ENGLAND],
        owners=["OHID"], visibility=d.VISIBILITY_PUBLIC, valid_from="2020-04-01",
    ), publish=True), metadata=admin)
    # The districts in the 2024 boundaries: those replaced since 2019 hold no figures for these years.
    every_district = definitions.ListAreas(d.ListAreasRequest(type=common.AREA_TYPE_LOCAL_AUTHORITY_DISTRICT, vintage="2024", page_size=1000), metadata=admin).areas
    for year_index, year in enumerate(YEARS):
        # County Durham's rate is set a fifth above its pattern, so its profile shows a "worse".
        submit_and_publish(RATE_METRIC, [
            s.ObservationRow(area_code=a.code, period_code=year,
                             numerator=round((1.2 if a.code == AREA else 1.0) * 40_000
                                             * (1_800 + (i * 137) % 900 - 40 * year_index * (i % 3)) / 100_000),
                             denominator=40_000)
            for i, a in enumerate(every_district)
        ])

    # A life expectancy: deaths and populations by life-table age band for County Durham's LSOAs,
    # mortality 6% higher for each decile more deprived.
    definitions.CreateMetric(d.CreateMetricRequest(spec=d.MetricVersionSpec(
        code=LIFE_METRIC,
        title="Life expectancy at birth (dashboard test data)",
        description="Years a newborn would live at the area's current death rates.",
        methodology="Chiang II abridged life table from deaths and populations in 20 age bands.",
        value_type=common.VALUE_TYPE_LIFE_EXPECTANCY, multiplier=1, unit="years",
        polarity=common.POLARITY_HIGH_IS_GOOD, ci_method=common.CI_METHOD_CHIANG_SILCOCKS,
        period_type=common.PERIOD_TYPE_FINANCIAL_YEAR,
        # Published at LSOAs only, so County Durham's profile (every metric published at a
        # district) does not compute 306 districts' life tables: in a debug build that pushed the
        # profile past its 30 s deadline. GetInequality reads any area's deciles.
        area_types=[common.AREA_TYPE_LSOA],
        dimensions=["life_table_age_band", "imd_decile"], owners=["X24"], visibility=d.VISIBILITY_PUBLIC,
        valid_from="2020-04-01",
    ), publish=True), metadata=admin)
    durham = definitions.ListAreas(d.ListAreasRequest(type=common.AREA_TYPE_LSOA, parent_code=AREA, page_size=1000), metadata=admin).areas
    rows = []
    for i, a in enumerate(durham):
        excess = 1.0 + 0.06 * (10 - a.deprivation.imd_decile)
        for b, band in enumerate(LIFE_BANDS):
            people = max(1, round(a.population * AGE_SHARES[b]))
            deaths = min(people, int(people * MORTALITY[b] * excess + ((i * 20 + b) * 0.6180339887) % 1))
            rows.append(s.ObservationRow(
                area_code=a.code, period_code=YEARS[-1], numerator=deaths, denominator=people,
                breakdown=common.Breakdown(codes=[common.BreakdownCode(dimension="life_table_age_band", code=band)])))
    submit_and_publish(LIFE_METRIC, rows)

    # The private metric: Durham County Council's own, district rows.
    definitions.CreateMetric(d.CreateMetricRequest(spec=d.MetricVersionSpec(
        code=PRIVATE,
        title="Council care package waits (private to Durham County Council)",
        description="Share of new care packages started within 28 days.",
        value_type=common.VALUE_TYPE_PROPORTION, multiplier=100, unit="%",
        polarity=common.POLARITY_HIGH_IS_GOOD, ci_method=common.CI_METHOD_WILSON,
        period_type=common.PERIOD_TYPE_FINANCIAL_YEAR,
        area_types=[common.AREA_TYPE_LOCAL_AUTHORITY_DISTRICT, common.AREA_TYPE_REGION, common.AREA_TYPE_ENGLAND],
        owners=[COUNCIL], visibility=d.VISIBILITY_OWNERS_ONLY, valid_from="2020-04-01",
    ), publish=True), metadata=admin)
    districts = definitions.ListAreas(d.ListAreasRequest(type=common.AREA_TYPE_LOCAL_AUTHORITY_DISTRICT, parent_code=NORTH_EAST, page_size=100), metadata=admin).areas
    submit_and_publish(PRIVATE, [
        s.ObservationRow(area_code=a.code, period_code="2024/25", numerator=600 + 10 * i, denominator=1000)
        for i, a in enumerate(districts)
    ])

    # The County Durham anchor charter: the council creates it and adds the trust.
    council, trust = auth(keys["council"]), auth(keys["trust"])
    commitments.CreateCharter(c.CreateCharterRequest(charter=c.Charter(
        code=CHARTER, name="County Durham Anchor Charter", place_area_code=AREA,
        description="County Durham's anchor institutions' shared pledge on spend and jobs.",
        visibility=c.CHARTER_VISIBILITY_PUBLIC,
        templates=[
            c.CommitmentTemplate(code="local-spend", type=c.COMMITMENT_TYPE_LOCAL_SPEND, title="Spend locally",
                                 metric_code="anchor-local-spend-share", local_definition=c.LocalDefinition(boundary_code=AREA)),
            c.CommitmentTemplate(code="apprenticeships", type=c.COMMITMENT_TYPE_APPRENTICESHIP_STARTS, title="Apprenticeship starts",
                                 metric_code="anchor-apprenticeship-starts"),
            c.CommitmentTemplate(code="carbon", type=c.COMMITMENT_TYPE_CARBON_AGAINST_BASELINE, title="Cut carbon"),
        ],
    )), metadata=council)
    commitments.AddCharterMember(c.AddCharterMemberRequest(charter_code=CHARTER, organisation_code=TRUST), metadata=council)

    def commit(metadata, template, kind, baseline, target, numerators, denominator, title, tolerance=None):
        trajectory = c.Trajectory(tolerance=tolerance) if tolerance is not None else None
        made = commitments.CreateCommitment(c.CreateCommitmentRequest(commitment=c.Commitment(
            charter_code=CHARTER, template_code=template, type=kind, title=title,
            local_definition=c.LocalDefinition(boundary_code=AREA) if kind == c.COMMITMENT_TYPE_LOCAL_SPEND else None,
            baseline=c.Baseline(value=baseline[0], period_code=baseline[1]),
            target=c.Target(value=target[0], date=target[1]),
            trajectory=trajectory,
            reporting_period_type=common.PERIOD_TYPE_FINANCIAL_QUARTER,
        )), metadata=metadata).commitment
        for period, numerator in zip(QUARTERS, numerators):
            request = c.ReportProgressRequest(commitment_id=made.commitment_id, period_code=period, numerator=numerator)
            if denominator is not None:
                request.denominator = denominator
            commitments.ReportProgress(request, metadata=metadata)
        return made.commitment_id

    commit(trust, "local-spend", c.COMMITMENT_TYPE_LOCAL_SPEND, (30.0, "2023/24"), (40.0, "2026-03-31"),
           [3_150_000, 3_200_000, 3_400_000, 3_450_000], 10_000_000, "Trust spend with County Durham suppliers")
    commit(trust, "apprenticeships", c.COMMITMENT_TYPE_APPRENTICESHIP_STARTS, (20.0, "2023/24-Q4"), (30.0, "2026-03-31"),
           [22, 22, 24, 24], None, "Trust apprenticeship starts")
    commit(council, "local-spend", c.COMMITMENT_TYPE_LOCAL_SPEND, (25.0, "2023/24"), (35.0, "2026-03-31"),
           [5_000_000, 5_600_000, 5_600_000, 5_500_000], 20_000_000, "Council spend with County Durham suppliers", tolerance=2.0)
    commit(council, "carbon", c.COMMITMENT_TYPE_CARBON_AGAINST_BASELINE, (10_000.0, "2023/24-Q4"), (8_000.0, "2026-03-31"),
           [9_700, 9_600, 9_550, 8_950], None, "Cut the council's carbon emissions by a fifth", tolerance=250.0)

    out.write_text(json.dumps({
        "keys": keys, "metric": METRIC, "rateMetric": RATE_METRIC, "lifeMetric": LIFE_METRIC, "privateMetric": PRIVATE, "area": AREA, "region": NORTH_EAST,
        "charter": CHARTER, "council": COUNCIL, "trust": TRUST, "other": OTHER, "lsoaCount": len(lsoas),
    }, indent=2))
    print(f"seeded {len(lsoas)} North East LSOAs x {len(YEARS)} years, a private metric, and {CHARTER}")


if __name__ == "__main__":
    main()
