//! The starter catalogue (data/catalogue: dimensions, national bodies, metrics), loaded as
//! published version 1 into a store that has none, each metric validated as CreateMetric would.

use std::collections::HashSet;

use anyhow::{Context, bail};
use sea_orm::{DatabaseConnection, EntityTrait, IntoActiveModel, TransactionTrait};
use serde::Deserialize;
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::common::v1::{
    AreaType, CiMethod, OrganisationType, PeriodType, Polarity, ValueType,
};
use sharedmetrics_proto::sharedmetrics::definitions::v1::{MetricStatus, MetricVersionSpec, Quantity, Visibility};

use super::{Folder, ImportReport};
use crate::convert;
use crate::entity::{dimension, dimension_code, metric, organisation};
use crate::store;

#[derive(Deserialize)]
struct DimensionsFile {
    dimensions: Vec<DimensionEntry>,
}

#[derive(Deserialize)]
struct DimensionEntry {
    code: String,
    title: String,
    description: String,
    ordered: bool,
    codes: Vec<DimensionCodeEntry>,
}

#[derive(Deserialize)]
struct DimensionCodeEntry {
    code: String,
    label: String,
    order: i32,
}

#[derive(Deserialize)]
struct CatalogueFile {
    organisations: Vec<CatalogueOrganisation>,
    metrics: Vec<CatalogueMetric>,
}

#[derive(Deserialize)]
struct CatalogueOrganisation {
    code: String,
    name: String,
    #[serde(rename = "type")]
    organisation_type: String,
}

#[derive(Deserialize)]
struct CatalogueQuantity {
    definition: String,
    source: String,
}

#[derive(Deserialize)]
struct CatalogueMetric {
    code: String,
    title: String,
    description: String,
    rationale: String,
    methodology: String,
    numerator: CatalogueQuantity,
    denominator: CatalogueQuantity,
    value_type: String,
    multiplier: u32,
    unit: String,
    polarity: String,
    ci_method: String,
    period_type: String,
    area_types: Vec<String>,
    dimensions: Vec<String>,
    disclosure_threshold: u32,
    owners: Vec<String>,
    visibility: String,
    tags: Vec<String>,
    valid_from: String,
}

fn parse_label<E: Label>(value: &str, what: &str, metric: &str) -> anyhow::Result<E> {
    E::from_label(value).with_context(|| format!("catalogue metric {metric}: unknown {what} {value:?}"))
}

impl CatalogueMetric {
    fn spec(&self) -> anyhow::Result<MetricVersionSpec> {
        let code = &self.code;
        Ok(MetricVersionSpec {
            code: code.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            rationale: self.rationale.clone(),
            methodology: self.methodology.clone(),
            numerator: Some(Quantity {
                definition: self.numerator.definition.clone(),
                source: self.numerator.source.clone(),
            }),
            denominator: Some(Quantity {
                definition: self.denominator.definition.clone(),
                source: self.denominator.source.clone(),
            }),
            value_type: parse_label::<ValueType>(&self.value_type, "value type", code)? as i32,
            multiplier: self.multiplier,
            unit: self.unit.clone(),
            polarity: parse_label::<Polarity>(&self.polarity, "polarity", code)? as i32,
            ci_method: parse_label::<CiMethod>(&self.ci_method, "CI method", code)? as i32,
            period_type: parse_label::<PeriodType>(&self.period_type, "period type", code)? as i32,
            area_types: self
                .area_types
                .iter()
                .map(|t| parse_label::<AreaType>(t, "area type", code).map(|t| t as i32))
                .collect::<anyhow::Result<_>>()?,
            dimensions: self.dimensions.clone(),
            disclosure_threshold: Some(self.disclosure_threshold),
            owners: self.owners.clone(),
            visibility: parse_label::<Visibility>(&self.visibility, "visibility", code)? as i32,
            partner_groups: Vec::new(),
            tags: self.tags.clone(),
            valid_from: self.valid_from.clone(),
            valid_to: String::new(),
        })
    }
}

/// Loads the starter catalogue (dimensions, national bodies, metrics as published version 1)
/// into a store that has none of them; each metric is validated as CreateMetric would.
pub async fn import_catalogue(db: &DatabaseConnection, folder: &Folder) -> anyhow::Result<Option<ImportReport>> {
    if !store::list_metric_rows(db).await?.is_empty() || !store::list_dimensions(db).await?.is_empty() {
        return Ok(None);
    }
    let dimensions: DimensionsFile = folder.read_json("dimensions.json")?;
    let catalogue: CatalogueFile = folder.read_json("metrics.json")?;
    let mut report = ImportReport {
        dimensions: dimensions.dimensions.len(),
        metrics: catalogue.metrics.len(),
        ..Default::default()
    };

    let txn = db.begin().await?;
    for d in &dimensions.dimensions {
        let row = dimension::Model {
            code: d.code.clone(),
            title: d.title.clone(),
            description: d.description.clone(),
            ordered: d.ordered,
            owner: None,
        };
        let codes = d
            .codes
            .iter()
            .map(|c| dimension_code::Model {
                dimension_code: d.code.clone(),
                code: c.code.clone(),
                label: c.label.clone(),
                sort_order: c.order,
            })
            .collect();
        store::insert_dimension(&txn, row, codes).await?;
    }
    for o in &catalogue.organisations {
        let kind = parse_label::<OrganisationType>(&o.organisation_type, "organisation type", &o.code)?;
        if store::get_organisation(&txn, &o.code).await?.is_none() {
            organisation::Entity::insert(
                organisation::Model {
                    code: o.code.clone(),
                    name: o.name.clone(),
                    organisation_type: kind.label(),
                    town: None,
                    postcode: None,
                    area_code: None,
                }
                .into_active_model(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        *report.organisations.entry(kind.label()).or_default() += 1;
    }
    let known_dimensions: HashSet<String> = dimensions.dimensions.iter().map(|d| d.code.clone()).collect();
    let (organisations, _) =
        store::list_organisations(&txn, &Default::default(), sharedmetrics_grpc::paging::Window::ALL).await?;
    let known_organisations: HashSet<String> = organisations.into_iter().map(|o| o.code).collect();
    let known = crate::validate::Known {
        dimensions: &known_dimensions,
        organisations: &known_organisations,
        peer_groups: &HashSet::new(),
    };
    let now = chrono::Utc::now();
    for m in &catalogue.metrics {
        let spec = m.spec()?;
        let violations = crate::validate::metric_spec(&spec, &known, "");
        if !violations.is_empty() {
            let list: Vec<String> = violations.iter().map(|v| format!("{}: {}", v.field, v.description)).collect();
            bail!("catalogue metric {} is not valid: {}", m.code, list.join("; "));
        }
        store::insert_metric(
            &txn,
            metric::Model { code: spec.code.clone(), deprecated_at: None, deprecation_reason: None, created_at: now },
        )
        .await?;
        let mut row = convert::version_row(&spec, 1, "catalogue", now);
        row.status = MetricStatus::Published.label();
        row.published_at = Some(now);
        store::insert_version(&txn, row).await?;
    }
    txn.commit().await?;
    Ok(Some(report))
}
