//! Database access for the definitions service: functions taking a connection (or transaction)
//! and returning entity models. Handlers never touch entities directly; they call these.

use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::entity::{
    area, area_ancestor, catchment, dimension, dimension_code, metric, metric_version, organisation,
    organisation_parent, peer_group,
};

pub use sharedmetrics_grpc::paging::Window;

fn contains(column: impl sea_orm::sea_query::IntoColumnRef, text: &str) -> sea_orm::sea_query::SimpleExpr {
    let pattern = format!("%{}%", text.to_lowercase().replace(['\\', '%', '_'], ""));
    Expr::expr(Func::lower(Expr::col(column))).like(pattern)
}

/// Returns the number of areas stored.
pub async fn count_areas(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    area::Entity::find().count(db).await
}

/// Returns one area.
pub async fn get_area(db: &impl ConnectionTrait, code: &str) -> Result<Option<area::Model>, DbErr> {
    area::Entity::find_by_id(code.to_owned()).one(db).await
}

/// Returns the number of direct children of an area.
pub async fn area_child_count(db: &impl ConnectionTrait, code: &str) -> Result<u64, DbErr> {
    area_ancestor::Entity::find()
        .filter(area_ancestor::Column::AncestorCode.eq(code))
        .filter(area_ancestor::Column::Depth.eq(1))
        .count(db)
        .await
}

/// Filters for listing areas.
#[derive(Debug, Default)]
pub struct AreaFilter<'a> {
    /// Area type label.
    pub area_type: Option<&'a str>,
    /// Ancestor code.
    pub parent_code: Option<&'a str>,
    /// Text in code or name.
    pub search: Option<&'a str>,
    /// Only areas in this year's boundaries: introduced in it or before, not replaced by it.
    pub vintage: Option<&'a str>,
}

/// Lists areas matching a filter, ordered by code, with the total count.
pub async fn list_areas(
    db: &impl ConnectionTrait,
    filter: &AreaFilter<'_>,
    window: Window,
) -> Result<(Vec<area::Model>, u64), DbErr> {
    let mut query = area::Entity::find();
    if let Some(area_type) = filter.area_type {
        query = query.filter(
            Condition::any()
                .add(area::Column::AreaType.eq(area_type))
                .add(area::Column::AlsoTypes.like(format!("%,{area_type},%"))),
        );
    }
    if let Some(parent) = filter.parent_code {
        query = query.filter(
            area::Column::Code.in_subquery(
                Query::select()
                    .column(area_ancestor::Column::AreaCode)
                    .from(area_ancestor::Entity)
                    .and_where(area_ancestor::Column::AncestorCode.eq(parent))
                    .to_owned(),
            ),
        );
    }
    if let Some(text) = filter.search {
        query = query.filter(
            Condition::any()
                .add(contains((area::Entity, area::Column::Code), text))
                .add(contains((area::Entity, area::Column::Name), text)),
        );
    }
    if let Some(year) = filter.vintage {
        query = query
            .filter(
                Condition::any().add(area::Column::IntroducedIn.is_null()).add(area::Column::IntroducedIn.lte(year)),
            )
            .filter(Condition::any().add(area::Column::ReplacedIn.is_null()).add(area::Column::ReplacedIn.gt(year)));
    }
    let total = query.clone().count(db).await?;
    let rows =
        query.order_by_asc(area::Column::Code).offset(window.offset as u64).limit(window.limit as u64).all(db).await?;
    Ok((rows, total))
}

/// Returns the codes among `codes` that are stored areas.
pub async fn existing_area_codes(db: &impl ConnectionTrait, codes: &[String]) -> Result<Vec<String>, DbErr> {
    let mut found = Vec::new();
    for chunk in codes.chunks(500) {
        let rows: Vec<String> = area::Entity::find()
            .select_only()
            .column(area::Column::Code)
            .filter(area::Column::Code.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// Returns one organisation.
pub async fn get_organisation(db: &impl ConnectionTrait, code: &str) -> Result<Option<organisation::Model>, DbErr> {
    organisation::Entity::find_by_id(code.to_owned()).one(db).await
}

/// Returns the codes of the organisations `code` is listed under.
pub async fn organisation_parents(db: &impl ConnectionTrait, code: &str) -> Result<Vec<String>, DbErr> {
    organisation_parent::Entity::find()
        .select_only()
        .column(organisation_parent::Column::ParentCode)
        .filter(organisation_parent::Column::OrganisationCode.eq(code))
        .order_by_asc(organisation_parent::Column::ParentCode)
        .into_tuple()
        .all(db)
        .await
}

/// Filters for listing organisations.
#[derive(Debug, Default)]
pub struct OrganisationFilter<'a> {
    /// Organisation type label.
    pub organisation_type: Option<&'a str>,
    /// Code of an organisation they are listed under.
    pub parent_code: Option<&'a str>,
    /// Text in code or name.
    pub search: Option<&'a str>,
}

/// Lists organisations matching a filter, ordered by code, with the total count.
pub async fn list_organisations(
    db: &impl ConnectionTrait,
    filter: &OrganisationFilter<'_>,
    window: Window,
) -> Result<(Vec<organisation::Model>, u64), DbErr> {
    let mut query = organisation::Entity::find();
    if let Some(kind) = filter.organisation_type {
        query = query.filter(organisation::Column::OrganisationType.eq(kind));
    }
    if let Some(parent) = filter.parent_code {
        query = query.filter(
            organisation::Column::Code.in_subquery(
                Query::select()
                    .column(organisation_parent::Column::OrganisationCode)
                    .from(organisation_parent::Entity)
                    .and_where(organisation_parent::Column::ParentCode.eq(parent))
                    .to_owned(),
            ),
        );
    }
    if let Some(text) = filter.search {
        query = query.filter(
            Condition::any()
                .add(contains((organisation::Entity, organisation::Column::Code), text))
                .add(contains((organisation::Entity, organisation::Column::Name), text)),
        );
    }
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_asc(organisation::Column::Code)
        .offset(window.offset as u64)
        .limit(window.limit as u64)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Returns the codes among `codes` that are stored organisations.
pub async fn existing_organisation_codes(db: &impl ConnectionTrait, codes: &[String]) -> Result<Vec<String>, DbErr> {
    organisation::Entity::find()
        .select_only()
        .column(organisation::Column::Code)
        .filter(organisation::Column::Code.is_in(codes.to_vec()))
        .into_tuple()
        .all(db)
        .await
}

/// Returns every dimension with its codes in scale order.
pub async fn list_dimensions(
    db: &impl ConnectionTrait,
) -> Result<Vec<(dimension::Model, Vec<dimension_code::Model>)>, DbErr> {
    let dimensions = dimension::Entity::find().order_by_asc(dimension::Column::Code).all(db).await?;
    let codes = dimension_code::Entity::find()
        .order_by_asc(dimension_code::Column::DimensionCode)
        .order_by_asc(dimension_code::Column::SortOrder)
        .all(db)
        .await?;
    Ok(dimensions
        .into_iter()
        .map(|d| {
            let own = codes.iter().filter(|c| c.dimension_code == d.code).cloned().collect();
            (d, own)
        })
        .collect())
}

/// Returns whether a dimension exists.
pub async fn dimension_exists(db: &impl ConnectionTrait, code: &str) -> Result<bool, DbErr> {
    Ok(dimension::Entity::find_by_id(code.to_owned()).one(db).await?.is_some())
}

/// Inserts a dimension and its codes.
pub async fn insert_dimension(
    db: &impl ConnectionTrait,
    row: dimension::Model,
    codes: Vec<dimension_code::Model>,
) -> Result<(), DbErr> {
    row.into_active_model().insert(db).await?;
    if !codes.is_empty() {
        dimension_code::Entity::insert_many(codes.into_iter().map(IntoActiveModel::into_active_model)).exec(db).await?;
    }
    Ok(())
}

/// Returns a metric's identity row.
pub async fn get_metric(db: &impl ConnectionTrait, code: &str) -> Result<Option<metric::Model>, DbErr> {
    metric::Entity::find_by_id(code.to_owned()).one(db).await
}

/// Returns every metric row.
pub async fn list_metric_rows(db: &impl ConnectionTrait) -> Result<Vec<metric::Model>, DbErr> {
    metric::Entity::find().order_by_asc(metric::Column::Code).all(db).await
}

/// Returns every version of every metric, by code then version.
pub async fn list_all_versions(db: &impl ConnectionTrait) -> Result<Vec<metric_version::Model>, DbErr> {
    metric_version::Entity::find()
        .order_by_asc(metric_version::Column::MetricCode)
        .order_by_asc(metric_version::Column::Version)
        .all(db)
        .await
}

/// Returns a metric's versions, oldest first.
pub async fn list_versions(db: &impl ConnectionTrait, code: &str) -> Result<Vec<metric_version::Model>, DbErr> {
    metric_version::Entity::find()
        .filter(metric_version::Column::MetricCode.eq(code))
        .order_by_asc(metric_version::Column::Version)
        .all(db)
        .await
}

/// Inserts a metric identity row.
pub async fn insert_metric(db: &impl ConnectionTrait, row: metric::Model) -> Result<(), DbErr> {
    row.into_active_model().insert(db).await.map(|_| ())
}

/// Inserts a metric version.
pub async fn insert_version(db: &impl ConnectionTrait, row: metric_version::Model) -> Result<(), DbErr> {
    row.into_active_model().insert(db).await.map(|_| ())
}

/// Marks a version published at `at`.
pub async fn publish_version(
    db: &impl ConnectionTrait,
    row: metric_version::Model,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<metric_version::Model, DbErr> {
    let mut active = row.into_active_model();
    active.status = Set("published".to_owned());
    active.published_at = Set(Some(at));
    active.update(db).await
}

/// Marks a metric deprecated, with its reason.
pub async fn deprecate_metric(
    db: &impl ConnectionTrait,
    row: metric::Model,
    reason: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<metric::Model, DbErr> {
    let mut active = row.into_active_model();
    active.deprecated_at = Set(Some(at));
    active.deprecation_reason = Set(Some(reason.to_owned()));
    active.update(db).await
}

/// Returns the latest version of every peer group, by code.
pub async fn latest_peer_groups(db: &impl ConnectionTrait) -> Result<Vec<peer_group::Model>, DbErr> {
    let rows = peer_group::Entity::find()
        .order_by_asc(peer_group::Column::Code)
        .order_by_desc(peer_group::Column::Version)
        .all(db)
        .await?;
    let mut latest: Vec<peer_group::Model> = Vec::new();
    for row in rows {
        if latest.last().is_none_or(|last| last.code != row.code) {
            latest.push(row);
        }
    }
    Ok(latest)
}

/// Returns the latest version of one peer group.
pub async fn latest_peer_group(db: &impl ConnectionTrait, code: &str) -> Result<Option<peer_group::Model>, DbErr> {
    peer_group::Entity::find()
        .filter(peer_group::Column::Code.eq(code))
        .order_by_desc(peer_group::Column::Version)
        .one(db)
        .await
}

/// Inserts a peer group version.
pub async fn insert_peer_group(db: &impl ConnectionTrait, row: peer_group::Model) -> Result<(), DbErr> {
    row.into_active_model().insert(db).await.map(|_| ())
}

/// Returns, for each of `codes`, its ancestors with depths, nearest first.
pub async fn ancestors_of_many(
    db: &impl ConnectionTrait,
    codes: &[String],
) -> Result<Vec<(String, area::Model, i32)>, DbErr> {
    let links = area_ancestor::Entity::find()
        .filter(area_ancestor::Column::AreaCode.is_in(codes.to_vec()))
        .order_by_asc(area_ancestor::Column::AreaCode)
        .order_by_asc(area_ancestor::Column::Depth)
        .all(db)
        .await?;
    let mut ancestor_codes: Vec<String> = links.iter().map(|l| l.ancestor_code.clone()).collect();
    ancestor_codes.sort();
    ancestor_codes.dedup();
    let areas = area::Entity::find().filter(area::Column::Code.is_in(ancestor_codes)).all(db).await?;
    let by_code: std::collections::HashMap<&str, &area::Model> = areas.iter().map(|a| (a.code.as_str(), a)).collect();
    Ok(links
        .iter()
        .filter_map(|l| by_code.get(l.ancestor_code.as_str()).map(|a| (l.area_code.clone(), (*a).clone(), l.depth)))
        .collect())
}

/// Returns the parent codes of each of `codes`.
pub async fn organisation_parents_of_many(
    db: &impl ConnectionTrait,
    codes: &[String],
) -> Result<Vec<organisation_parent::Model>, DbErr> {
    organisation_parent::Entity::find()
        .filter(organisation_parent::Column::OrganisationCode.is_in(codes.to_vec()))
        .order_by_asc(organisation_parent::Column::ParentCode)
        .all(db)
        .await
}

/// Returns the catchment links of each of `codes`, largest share first.
pub async fn catchments_of_many(db: &impl ConnectionTrait, codes: &[String]) -> Result<Vec<catchment::Model>, DbErr> {
    let mut links = Vec::new();
    for chunk in codes.chunks(500) {
        links.extend(
            catchment::Entity::find()
                .filter(catchment::Column::OrganisationCode.is_in(chunk.to_vec()))
                .order_by_desc(catchment::Column::Weight)
                .all(db)
                .await?,
        );
    }
    Ok(links)
}
