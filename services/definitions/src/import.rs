//! Loads the reference data (data/geography and data/organisations, built into the binary or
//! read from a configured folder: every LSOA with IMD 2019, wards, districts, regions, ICBs, NHS
//! England regions, trusts and councils) and the starter catalogue (data/catalogue: dimensions,
//! national bodies, metrics). Both are real imports of the files, run once into an empty store,
//! in one transaction each, so a failed import leaves nothing.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, TransactionTrait};
use serde::Deserialize;
use sharedmetrics_proto::Label;
use sharedmetrics_proto::sharedmetrics::common::v1::{AreaType, OrganisationType};

use crate::entity::{area, area_ancestor, catchment, organisation, organisation_parent};
use crate::store;

/// Where the reference files come from: the binary's own copies or a configured folder.
pub use sharedmetrics_reference::Folder;

mod catalogue;
mod catchments;
mod upper_tier;
mod vintage;

pub use catalogue::import_catalogue;

/// The NHS lookup: each LSOA's sub-ICB location, ICB and lower-tier authority (2022).
const NHS_LOOKUP: &str = "geography/lsoa11_sicbl22_icb22_ltla22.csv";

/// GSS code of England.
pub const ENGLAND: &str = "E92000001";
/// Rows per INSERT statement: well under SQLite's and PostgreSQL's bound-parameter limits.
const CHUNK: usize = 1_000;

/// What an import wrote.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportReport {
    /// Areas by type label.
    pub areas: BTreeMap<String, usize>,
    /// Organisations by type label.
    pub organisations: BTreeMap<String, usize>,
    /// Districts none of whose LSOAs lies in an ICB (0 with the 2022 lookup).
    pub districts_without_icb: usize,
    /// Districts whose LSOAs lie in more than one ICB, with each ICB's share of the district's
    /// population, largest first.
    pub districts_straddling_icbs: BTreeMap<String, Vec<(String, f64)>>,
    /// Councils the reference data names whose area was not found by their name.
    pub councils_without_area: Vec<String>,
    /// Trusts with a stored catchment.
    pub trusts_with_catchment: usize,
    /// Trusts of the catchment file that the organisation list no longer holds (not stored).
    pub retired_trusts: Vec<String>,
    /// Dimensions loaded.
    pub dimensions: usize,
    /// Metrics loaded.
    pub metrics: usize,
}

#[derive(Deserialize)]
struct LsoaRow {
    lsoa11cd: String,
    lsoa11nm: String,
    lad19cd: String,
    lad19nm: String,
    imd2019_rank: i32,
    imd2019_decile: i32,
    population_mid2015: i64,
}

#[derive(Deserialize)]
struct WardRow {
    lsoa11cd: String,
    wd19cd: String,
    wd19nm: String,
    lad19cd: String,
}

/// One LSOA's row of the NHS lookup: its sub-ICB location and ICB (2022), by code.
#[derive(Deserialize)]
struct NhsLookupRow {
    lsoa11_code: String,
    sicbl22_name: String,
    sicbl22_code: String,
    /// The ICB's GSS code (2022).
    icb22_code: String,
    /// The ICB's ODS code, which the 2023 change of two ICBs' GSS codes left alone.
    icb22_code_h: String,
    /// The lower-tier authority (2022).
    ltla22_code: String,
}

#[derive(Deserialize)]
struct RegionRow {
    lad18cd: String,
    lad18nm: String,
    rgn18cd: String,
    rgn18nm: String,
}

#[derive(Deserialize)]
struct TrustRow {
    ods_code: String,
    name: String,
    town: String,
    postcode: String,
}

#[derive(Deserialize)]
struct IcbRow {
    ods_code: String,
    gss_code: String,
    name: String,
}

#[derive(Deserialize)]
struct NhsRegionRow {
    gss_code: String,
    ods_code: String,
    name: String,
}

#[derive(Deserialize)]
struct IcbCouncilRow {
    icb_ods_code: String,
    local_authority_ods_code: String,
    local_authority_name: String,
}

#[derive(Deserialize)]
struct IcbTrustRow {
    icb_gss_code: String,
    icb_ods_code: String,
    nhse_region_ods_code: String,
    trust_ods_code: String,
    trust_name: String,
}

/// Normalises a council or district name for matching: lowercase letters only, without the
/// words that differ between the ODS council name and the ONS district name.
fn name_key(name: &str) -> String {
    // Whole words only: "Middlesborough Council" must not lose the "borough" of its name.
    let words: String = name
        .to_lowercase()
        .replace('&', " and ")
        .chars()
        .map(|c| if c.is_ascii_lowercase() { c } else { ' ' })
        .collect();
    let mut n = format!(" {} ", words.split_whitespace().collect::<Vec<_>>().join(" "));
    for phrase in [
        "metropolitan borough council",
        "metropolitan district council",
        "district council",
        "borough council",
        "city council",
        "county council",
        "council of the",
        "corporation of the",
        "council",
        "london borough of",
        "royal borough of",
        "city of",
        "county of",
        "metropolitan district",
        "the",
    ] {
        n = n.replace(&format!(" {phrase} "), " ");
    }
    n.retain(|c| c.is_ascii_lowercase());
    n
}

/// ODS council names that differ from the ONS district name beyond [`name_key`]'s rules
/// (spelling and abbreviations in the ODS list), as ODS name key → ONS name key.
const COUNCIL_NAME_ALIASES: &[(&str, &str)] = &[
    ("middlesborough", "middlesbrough"),
    ("hull", "kingstonuponhull"),
    ("bcp", "bournemouthchristchurchandpoole"),
    ("durham", "countydurham"),
    ("isleofscilly", "islesofscilly"),
    ("islesofscilly", "islesofscilly"),
    ("london", "london"),
];

/// Imports the built-in reference data and starter catalogue into an empty store: the store the
/// services' own tests start from.
pub async fn import_builtin(db: &DatabaseConnection) -> anyhow::Result<()> {
    import_reference_data(db, &Folder::reference_data(None)).await?;
    import_catalogue(db, &Folder::catalogue(None)).await?;
    Ok(())
}

/// Imports the reference data into an empty store; does nothing when areas exist.
pub async fn import_reference_data(db: &DatabaseConnection, folder: &Folder) -> anyhow::Result<Option<ImportReport>> {
    if store::count_areas(db).await? > 0 {
        return Ok(None);
    }
    let files = ReferenceFiles::read(folder)?;
    let built = build(&files)?;
    store_reference_data(db, built.areas, built.ancestors, built.organisations, built.parents, built.catchments)
        .await?;
    Ok(Some(built.report))
}

/// Everything an import writes, built from the files before anything is stored.
struct Built {
    areas: Vec<area::Model>,
    ancestors: Vec<area_ancestor::Model>,
    organisations: BTreeMap<String, organisation::Model>,
    parents: Vec<organisation_parent::Model>,
    catchments: Vec<catchment::Model>,
    report: ImportReport,
}

/// Builds the areas, their ancestors and the organisations from the files.
fn build(files: &ReferenceFiles) -> anyhow::Result<Built> {
    let mut report = ImportReport::default();
    let mut areas: Vec<area::Model> = Vec::new();
    let districts = push_regions_and_districts(&mut areas, &files.lsoas, &files.regions)?;
    push_nhs_regions_and_icbs(&mut areas, &files.nhs_regions, &files.icbs, &files.icb_trusts);
    // ICBs are joined by their ODS codes: two ICBs took new GSS codes with the April 2023
    // boundary change (Surrey Heartlands E54000052 → E54000063, Sussex E54000053 → E54000064),
    // which the 2022 files predate and icbs.csv follows; their ODS codes did not change.
    let icb_by_ods: HashMap<&str, &str> =
        files.icbs.iter().map(|i| (i.ods_code.as_str(), i.gss_code.as_str())).collect();
    let sub_icb_of_lsoa = push_sub_icb_locations(&mut areas, &files.nhs_lookup, &icb_by_ods)?;
    push_wards_and_lsoas(&mut areas, &files.wards, &files.lsoas, &sub_icb_of_lsoa)?;
    let tiers = upper_tier::join(
        &files.upper_tiers,
        files
            .nhs_lookup
            .iter()
            .enumerate()
            .map(|(i, r)| (r.lsoa11_code.as_str(), r.ltla22_code.as_str(), format!("{NHS_LOOKUP} line {}", i + 2))),
    )?;
    upper_tier::push(&mut areas, &tiers)?;
    let lower_of_lsoa: HashMap<&str, &str> =
        files.nhs_lookup.iter().map(|r| (r.lsoa11_code.as_str(), r.ltla22_code.as_str())).collect();
    vintage::apply(
        &mut areas,
        files
            .lsoas
            .iter()
            .filter_map(|l| lower_of_lsoa.get(l.lsoa11cd.as_str()).map(|lower| (l.lad19cd.as_str(), *lower))),
    );
    vintage::upper_tiers_2023(&mut areas, &files.upper_tiers_2023, ENGLAND)?;
    let mut ancestors = ancestor_links(&areas);
    upper_tier::link(&mut ancestors, &areas, &tiers);
    sum_populations(&mut areas, &ancestors);
    report.districts_straddling_icbs = icb_shares_of_districts(&areas, &ancestors);
    let districts_with_icb: HashSet<&str> = ancestors
        .iter()
        .filter(|l| districts.contains_key(l.ancestor_code.as_str()))
        .filter(|l| sub_icb_of_lsoa.contains_key(l.area_code.as_str()))
        .map(|l| l.ancestor_code.as_str())
        .collect();
    report.districts_without_icb = districts.len() - districts_with_icb.len();
    for a in &areas {
        *report.areas.entry(a.area_type.clone()).or_default() += 1;
    }
    // Councils are placed on the map by name: the ODS list gives no GSS code.
    let districts_by_name = DistrictsByName::new(&districts).with(tiers.names.iter().map(|(c, n)| (*c, *n)));
    let (organisations, parents) = organisations(files, &districts_by_name);
    let council = OrganisationType::LocalAuthority.label();
    for o in organisations.values() {
        *report.organisations.entry(o.organisation_type.clone()).or_default() += 1;
        if o.organisation_type == council && o.area_code.is_none() {
            report.councils_without_area.push(format!("{} {}", o.code, o.name));
        }
    }
    let type_of: HashMap<&str, &str> = areas.iter().map(|a| (a.code.as_str(), a.area_type.as_str())).collect();
    let icb_of_2022_code: HashMap<&str, &str> = files
        .nhs_lookup
        .iter()
        .filter_map(|r| icb_by_ods.get(r.icb22_code_h.as_str()).map(|icb| (r.icb22_code.as_str(), *icb)))
        .collect();
    let catchments =
        catchments::build(&files.catchments, &files.icb_catchments, &icb_of_2022_code, &type_of, &organisations)?;
    report.trusts_with_catchment = catchments.rows.iter().map(|c| &c.organisation_code).collect::<HashSet<_>>().len();
    report.retired_trusts = catchments.retired_trusts;
    let catchments = catchments.rows;
    Ok(Built { areas, ancestors, organisations, parents, catchments, report })
}

/// Returns, for each district whose LSOAs lie in more than one ICB, each ICB's share of the
/// district's population, largest first.
fn icb_shares_of_districts(
    areas: &[area::Model],
    ancestors: &[area_ancestor::Model],
) -> BTreeMap<String, Vec<(String, f64)>> {
    let by_code: HashMap<&str, &area::Model> = areas.iter().map(|a| (a.code.as_str(), a)).collect();
    let type_of = |code: &str| by_code.get(code).map(|a| a.area_type.as_str());
    let (district, icb) = (AreaType::LocalAuthorityDistrict.label(), AreaType::Icb.label());
    // Each LSOA's district and ICB, from its ancestors.
    let mut of_lsoa: HashMap<&str, (Option<&str>, Option<&str>)> = HashMap::new();
    for link in ancestors {
        let entry = of_lsoa.entry(link.area_code.as_str()).or_default();
        match type_of(&link.ancestor_code) {
            Some(t) if t == district => entry.0 = Some(&link.ancestor_code),
            Some(t) if t == icb => entry.1 = Some(&link.ancestor_code),
            _ => {}
        }
    }
    let lsoa = AreaType::Lsoa.label();
    let mut people: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    for (code, (d, i)) in &of_lsoa {
        if let (Some(d), Some(i), Some(area)) = (d, i, by_code.get(code))
            && area.area_type == lsoa
        {
            *people.entry(d).or_default().entry(i).or_default() += area.population.unwrap_or(0);
        }
    }
    people
        .into_iter()
        .filter(|(_, icbs)| icbs.len() > 1)
        .map(|(d, icbs)| {
            let total: i64 = icbs.values().sum();
            let mut shares: Vec<(String, f64)> =
                icbs.into_iter().map(|(i, p)| (i.to_owned(), p as f64 / total.max(1) as f64)).collect();
            shares.sort_by(|a, b| b.1.total_cmp(&a.1));
            (d.to_owned(), shares)
        })
        .collect()
}

/// The reference data's files, all read before anything is built so a bad file fails first.
struct ReferenceFiles {
    lsoas: Vec<LsoaRow>,
    wards: Vec<WardRow>,
    regions: Vec<RegionRow>,
    trusts: Vec<TrustRow>,
    icbs: Vec<IcbRow>,
    nhs_regions: Vec<NhsRegionRow>,
    nhs_lookup: Vec<NhsLookupRow>,
    upper_tiers: Vec<upper_tier::UpperTierRow>,
    upper_tiers_2023: Vec<vintage::UpperTier2023Row>,
    catchments: Vec<catchments::CatchmentRow>,
    icb_catchments: Vec<catchments::IcbCatchmentRow>,
    icb_councils: Vec<IcbCouncilRow>,
    icb_trusts: Vec<IcbTrustRow>,
}

impl ReferenceFiles {
    /// Reads every file of the reference data.
    fn read(folder: &Folder) -> anyhow::Result<Self> {
        Ok(Self {
            lsoas: folder.read_csv("geography/lsoa11_imd2019.csv")?,
            wards: folder.read_csv("geography/lsoa11_ward19.csv")?,
            regions: folder.read_csv("geography/lad18_region18.csv")?,
            nhs_lookup: folder.read_csv(NHS_LOOKUP)?,
            upper_tiers: folder.read_csv(upper_tier::FILE)?,
            upper_tiers_2023: folder.read_csv(vintage::FILE_2023)?,
            catchments: folder.read_csv(catchments::FILE)?,
            icb_catchments: folder.read_csv(catchments::ICB_FILE)?,
            trusts: folder.read_csv("organisations/nhs_trusts.csv")?,
            icbs: folder.read_csv("organisations/icbs.csv")?,
            nhs_regions: folder.read_csv("organisations/nhs_england_regions.csv")?,
            icb_councils: folder.read_csv("organisations/icb_local_authorities.csv")?,
            icb_trusts: folder.read_csv("organisations/icb_trusts.csv")?,
        })
    }
}

/// Districts by code, with their names and (once found) their regions.
type Districts<'a> = BTreeMap<&'a str, (&'a str, Option<&'a str>)>;

/// Returns an area with no ICB, IMD figures, population or vintage of its own.
fn blank_area(code: &str, name: &str, t: AreaType, parent: Option<&str>) -> area::Model {
    area::Model {
        code: code.to_owned(),
        name: name.to_owned(),
        area_type: t.label(),
        parent_code: parent.map(str::to_owned),
        icb_code: None,
        imd_rank: None,
        imd_decile: None,
        population: None,
        also_types: None,
        vintage: None,
        successor_codes: None,
        predecessor_codes: None,
        introduced_in: None,
        replaced_in: None,
    }
}

/// Appends an area with no ICB, IMD figures or population of its own.
fn push_area(areas: &mut Vec<area::Model>, code: &str, name: &str, t: AreaType, parent: Option<&str>) {
    areas.push(blank_area(code, name, t, parent));
}

/// Appends England, the regions and the districts; returns the districts for the later steps.
fn push_regions_and_districts<'a>(
    areas: &mut Vec<area::Model>,
    lsoas: &'a [LsoaRow],
    regions: &'a [RegionRow],
) -> anyhow::Result<Districts<'a>> {
    // A district's region comes from the 2018 lookup; the five districts created on 1 April
    // 2019 take the region of their predecessors, found through the 2011 district names that
    // prefix their LSOAs' names.
    push_area(areas, ENGLAND, "England", AreaType::England, None);
    let region_of_lad18: HashMap<&str, &RegionRow> = regions.iter().map(|r| (r.lad18cd.as_str(), r)).collect();
    let region_of_name18: HashMap<&str, &RegionRow> = regions.iter().map(|r| (r.lad18nm.as_str(), r)).collect();
    let mut region_names: BTreeMap<&str, &str> = BTreeMap::new();
    for r in regions {
        region_names.insert(&r.rgn18cd, &r.rgn18nm);
    }
    for (code, name) in &region_names {
        push_area(areas, code, name, AreaType::Region, Some(ENGLAND));
    }
    let mut districts: Districts<'a> = BTreeMap::new();
    for lsoa in lsoas {
        let region = region_of_lad18.get(lsoa.lad19cd.as_str()).map(|r| r.rgn18cd.as_str()).or_else(|| {
            let prefix = lsoa.lsoa11nm.rsplit_once(' ').map_or(lsoa.lsoa11nm.as_str(), |(p, _)| p);
            region_of_name18.get(prefix).map(|r| r.rgn18cd.as_str())
        });
        let entry = districts.entry(&lsoa.lad19cd).or_insert((&lsoa.lad19nm, None));
        if entry.1.is_none() {
            entry.1 = region;
        }
    }
    for (code, (name, region)) in &districts {
        let Some(region) = region else { bail!("district {code} ({name}): no region found in lad18_region18.csv") };
        push_area(areas, code, name, AreaType::LocalAuthorityDistrict, Some(region));
    }
    Ok(districts)
}

/// Appends the NHS regions and the ICBs, each ICB under the NHS region its trusts' links name.
fn push_nhs_regions_and_icbs(
    areas: &mut Vec<area::Model>,
    nhs_regions: &[NhsRegionRow],
    icbs: &[IcbRow],
    icb_trusts: &[IcbTrustRow],
) {
    let nhs_region_by_ods: HashMap<&str, &NhsRegionRow> =
        nhs_regions.iter().map(|r| (r.ods_code.as_str(), r)).collect();
    for r in nhs_regions {
        push_area(areas, &r.gss_code, &r.name, AreaType::NhsRegion, Some(ENGLAND));
    }
    let mut region_of_icb: HashMap<&str, &str> = HashMap::new();
    for link in icb_trusts {
        if let Some(region) = nhs_region_by_ods.get(link.nhse_region_ods_code.as_str()) {
            region_of_icb.insert(&link.icb_gss_code, &region.gss_code);
        }
    }
    for icb in icbs {
        push_area(areas, &icb.gss_code, &icb.name, AreaType::Icb, region_of_icb.get(icb.gss_code.as_str()).copied());
    }
}

/// Finds the district an ODS council name governs, so councils can be placed on the map.
struct DistrictsByName<'a> {
    /// District codes by [`name_key`] of their names.
    by_key: HashMap<String, &'a str>,
}

impl<'a> DistrictsByName<'a> {
    /// Indexes the districts by the key of their names.
    fn new(districts: &Districts<'a>) -> Self {
        Self { by_key: districts.iter().map(|(code, (name, _))| (name_key(name), *code)).collect() }
    }

    /// Adds the areas `(code, name)` not already found under their names' key (the upper
    /// tiers: a county council governs its county).
    fn with(mut self, areas: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        for (code, name) in areas {
            self.by_key.entry(name_key(name)).or_insert(code);
        }
        self
    }

    /// Returns the district a council's name matches, through [`COUNCIL_NAME_ALIASES`].
    fn resolve(&self, council: &str) -> Option<&'a str> {
        let key = name_key(council);
        let key = COUNCIL_NAME_ALIASES.iter().find(|(from, _)| *from == key).map_or(key, |(_, to)| (*to).to_owned());
        self.by_key.get(&key).copied()
    }
}

/// Appends the sub-ICB locations under their ICBs, joined by code from the NHS lookup, and
/// returns each LSOA's sub-ICB location. An LSOA listed twice, or a sub-ICB location placed in
/// two ICBs or in an ICB not in icbs.csv, is refused naming the line.
fn push_sub_icb_locations<'a>(
    areas: &mut Vec<area::Model>,
    lookup: &'a [NhsLookupRow],
    icb_by_ods: &HashMap<&'a str, &'a str>,
) -> anyhow::Result<HashMap<&'a str, &'a str>> {
    const FILE: &str = NHS_LOOKUP;
    let mut sub_icb_of_lsoa: HashMap<&str, &str> = HashMap::new();
    let mut sub_icbs: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for (i, row) in lookup.iter().enumerate() {
        let line = i + 2;
        let Some(icb) = icb_by_ods.get(row.icb22_code_h.as_str()).copied() else {
            bail!("{FILE} line {line}: ICB {} ({}) is not in organisations/icbs.csv", row.icb22_code_h, row.icb22_code);
        };
        if sub_icb_of_lsoa.insert(&row.lsoa11_code, &row.sicbl22_code).is_some() {
            bail!("{FILE} line {line}: LSOA {} is listed twice", row.lsoa11_code);
        }
        let (_, icb_code) = *sub_icbs.entry(&row.sicbl22_code).or_insert((&row.sicbl22_name, icb));
        if icb_code != icb {
            bail!("{FILE} line {line}: sub-ICB location {} is in ICB {icb_code} and {icb}", row.sicbl22_code);
        }
    }
    for (code, (name, icb_code)) in &sub_icbs {
        push_area(areas, code, name, AreaType::SubIcbLocation, Some(icb_code));
    }
    Ok(sub_icb_of_lsoa)
}

/// Appends the wards under their districts and the LSOAs under their wards and sub-ICB
/// locations; an LSOA without a sub-ICB location is refused.
fn push_wards_and_lsoas(
    areas: &mut Vec<area::Model>,
    wards: &[WardRow],
    lsoas: &[LsoaRow],
    sub_icb_of_lsoa: &HashMap<&str, &str>,
) -> anyhow::Result<()> {
    let ward_of_lsoa: HashMap<&str, &WardRow> = wards.iter().map(|w| (w.lsoa11cd.as_str(), w)).collect();
    let mut ward_rows: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for w in wards {
        ward_rows.entry(&w.wd19cd).or_insert((&w.wd19nm, &w.lad19cd));
    }
    for (code, (name, district)) in &ward_rows {
        push_area(areas, code, name, AreaType::Ward, Some(district));
    }
    for lsoa in lsoas {
        let ward = ward_of_lsoa
            .get(lsoa.lsoa11cd.as_str())
            .with_context(|| format!("LSOA {} has no ward in lsoa11_ward19.csv", lsoa.lsoa11cd))?;
        let sub_icb = sub_icb_of_lsoa.get(lsoa.lsoa11cd.as_str()).with_context(|| {
            format!("LSOA {} has no sub-ICB location in lsoa11_sicbl22_icb22_ltla22.csv", lsoa.lsoa11cd)
        })?;
        areas.push(area::Model {
            icb_code: Some((*sub_icb).to_owned()),
            imd_rank: Some(lsoa.imd2019_rank),
            imd_decile: Some(lsoa.imd2019_decile),
            population: Some(lsoa.population_mid2015),
            ..blank_area(&lsoa.lsoa11cd, &lsoa.lsoa11nm, AreaType::Lsoa, Some(&ward.wd19cd))
        });
    }
    Ok(())
}

/// Gives each larger area the sum of its LSOAs' (mid-2015) populations.
fn sum_populations(areas: &mut [area::Model], ancestors: &[area_ancestor::Model]) {
    let mut totals: HashMap<String, i64> = HashMap::new();
    let population_of: HashMap<&str, i64> =
        areas.iter().filter_map(|a| a.population.map(|p| (a.code.as_str(), p))).collect();
    for link in ancestors {
        if let Some(p) = population_of.get(link.area_code.as_str()) {
            *totals.entry(link.ancestor_code.clone()).or_default() += p;
        }
    }
    for a in areas {
        if a.population.is_none() {
            a.population = totals.get(&a.code).copied();
        }
    }
}

/// Returns an organisation row with no town or postcode.
fn organisation_row(code: &str, name: &str, t: OrganisationType, area: Option<&str>) -> organisation::Model {
    organisation::Model {
        code: code.to_owned(),
        name: name.to_owned(),
        organisation_type: t.label(),
        town: None,
        postcode: None,
        area_code: area.map(str::to_owned),
    }
}

/// Returns the organisations by code and their parent links, each link once.
fn organisations(
    files: &ReferenceFiles,
    districts: &DistrictsByName<'_>,
) -> (BTreeMap<String, organisation::Model>, Vec<organisation_parent::Model>) {
    // Trusts sit under their ICBs, ICBs under their NHS regions, councils under their ICBs
    // (with the district they govern when it is a single-tier authority).
    let mut orgs: BTreeMap<String, organisation::Model> = BTreeMap::new();
    let mut parents: Vec<organisation_parent::Model> = Vec::new();
    for r in &files.nhs_regions {
        orgs.insert(
            r.ods_code.clone(),
            organisation_row(&r.ods_code, &r.name, OrganisationType::NhsRegion, Some(&r.gss_code)),
        );
    }
    for icb in &files.icbs {
        orgs.insert(
            icb.ods_code.clone(),
            organisation_row(&icb.ods_code, &icb.name, OrganisationType::Icb, Some(&icb.gss_code)),
        );
    }
    for t in &files.trusts {
        let mut row = organisation_row(&t.ods_code, &t.name, OrganisationType::NhsTrust, None);
        row.town = Some(t.town.clone());
        row.postcode = Some(t.postcode.clone());
        orgs.insert(t.ods_code.clone(), row);
    }
    let mut seen_links: HashSet<(String, String)> = HashSet::new();
    let mut link = |parents: &mut Vec<organisation_parent::Model>, child: &str, parent: &str| {
        if seen_links.insert((child.to_owned(), parent.to_owned())) {
            parents.push(organisation_parent::Model {
                organisation_code: child.to_owned(),
                parent_code: parent.to_owned(),
            });
        }
    };
    for row in &files.icb_trusts {
        orgs.entry(row.trust_ods_code.clone()).or_insert_with(|| {
            organisation_row(&row.trust_ods_code, &row.trust_name, OrganisationType::NhsTrust, None)
        });
        link(&mut parents, &row.trust_ods_code, &row.icb_ods_code);
        link(&mut parents, &row.icb_ods_code, &row.nhse_region_ods_code);
    }
    for row in &files.icb_councils {
        let district = districts.resolve(&row.local_authority_name);
        orgs.entry(row.local_authority_ods_code.clone()).or_insert_with(|| {
            organisation_row(
                &row.local_authority_ods_code,
                &row.local_authority_name,
                OrganisationType::LocalAuthority,
                district,
            )
        });
        link(&mut parents, &row.local_authority_ods_code, &row.icb_ods_code);
    }
    (orgs, parents)
}

/// Writes the areas, their ancestors, the organisations and their links in one transaction,
/// so a failed import leaves nothing.
async fn store_reference_data(
    db: &DatabaseConnection,
    areas: Vec<area::Model>,
    ancestors: Vec<area_ancestor::Model>,
    orgs: BTreeMap<String, organisation::Model>,
    parents: Vec<organisation_parent::Model>,
    catchments: Vec<catchment::Model>,
) -> anyhow::Result<()> {
    let txn = db.begin().await?;
    insert_chunked(&txn, areas.into_iter().map(IntoActiveModel::into_active_model), area::Entity).await?;
    insert_chunked(&txn, ancestors.into_iter().map(IntoActiveModel::into_active_model), area_ancestor::Entity).await?;
    insert_chunked(&txn, orgs.into_values().map(IntoActiveModel::into_active_model), organisation::Entity).await?;
    insert_chunked(&txn, parents.into_iter().map(IntoActiveModel::into_active_model), organisation_parent::Entity)
        .await?;
    insert_chunked(&txn, catchments.into_iter().map(IntoActiveModel::into_active_model), catchment::Entity).await?;
    txn.commit().await?;
    Ok(())
}

/// Returns the closure of both hierarchies: LSOA → ward → district → region → England along
/// `parent_code`, and LSOA → sub-ICB location → ICB → NHS region → England along `icb_code`. Where England is
/// reached both ways the shorter depth is kept.
fn ancestor_links(areas: &[area::Model]) -> Vec<area_ancestor::Model> {
    let by_code: HashMap<&str, &area::Model> = areas.iter().map(|a| (a.code.as_str(), a)).collect();
    let mut links = Vec::new();
    for a in areas {
        let mut depths: BTreeMap<&str, i32> = BTreeMap::new();
        for start in [a.parent_code.as_deref(), a.icb_code.as_deref()] {
            let mut current = start;
            let mut depth = 1;
            while let Some(code) = current {
                let entry = depths.entry(code).or_insert(depth);
                *entry = (*entry).min(depth);
                current = by_code.get(code).and_then(|p| p.parent_code.as_deref());
                depth += 1;
            }
        }
        links.extend(depths.into_iter().map(|(ancestor, depth)| area_ancestor::Model {
            area_code: a.code.clone(),
            ancestor_code: ancestor.to_owned(),
            depth,
        }));
    }
    links
}

async fn insert_chunked<E, A>(
    db: &impl ConnectionTrait,
    rows: impl Iterator<Item = A>,
    _entity: E,
) -> anyhow::Result<()>
where
    E: EntityTrait,
    A: sea_orm::ActiveModelTrait<Entity = E>,
{
    let rows: Vec<A> = rows.collect();
    for chunk in rows.chunks(CHUNK) {
        E::insert_many(chunk.to_vec()).exec_without_returning(db).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn council_names_match_district_names() {
        assert_eq!(name_key("Liverpool City Council"), name_key("Liverpool"));
        assert_eq!(name_key("London Borough of Barking & Dagenham"), name_key("Barking and Dagenham"));
        assert_eq!(name_key("Herefordshire Council"), name_key("Herefordshire, County of"));
        assert_eq!(name_key("Royal Borough of Kensington and Chelsea"), name_key("Kensington and Chelsea"));
        assert_eq!(name_key("West Berkshire District Council"), name_key("West Berkshire"));
        assert_eq!(name_key("Middlesborough Council"), "middlesborough", "the borough of its name stays");
    }

    #[test]
    fn every_lsoa_lies_in_one_sub_icb_location_and_one_icb_joined_by_code() {
        let files = ReferenceFiles::read(&Folder::reference_data(None)).expect("the built-in files");
        let built = build(&files).expect("England builds");
        let count = |t: AreaType| built.report.areas.get(&t.label()).copied().unwrap_or(0);
        assert_eq!(count(AreaType::Lsoa), 32_844);
        assert_eq!(count(AreaType::SubIcbLocation), 106);
        assert_eq!(count(AreaType::Icb), 42);
        assert_eq!(built.report.districts_without_icb, 0);
        let type_of: HashMap<&str, &str> =
            built.areas.iter().map(|a| (a.code.as_str(), a.area_type.as_str())).collect();
        let mut per_lsoa: HashMap<&str, (usize, usize)> = HashMap::new();
        for link in &built.ancestors {
            if type_of[link.area_code.as_str()] != "lsoa" {
                continue;
            }
            let entry = per_lsoa.entry(&link.area_code).or_default();
            match type_of[link.ancestor_code.as_str()] {
                "sub_icb_location" => entry.0 += 1,
                "icb" => entry.1 += 1,
                _ => {}
            }
        }
        assert_eq!(per_lsoa.len(), 32_844);
        assert!(per_lsoa.values().all(|&n| n == (1, 1)), "one sub-ICB location and one ICB each");
        // Every ICB holds LSOAs, and its population is the sum of theirs.
        let empty = built.areas.iter().filter(|a| a.area_type == "icb" && a.population.is_none()).count();
        assert_eq!(empty, 0, "no ICB is empty");
        // A district that straddles ICBs says so, its shares summing to one.
        assert!(!built.report.districts_straddling_icbs.is_empty());
        for (district, shares) in &built.report.districts_straddling_icbs {
            let total: f64 = shares.iter().map(|(_, s)| s).sum();
            assert!((total - 1.0).abs() < 1e-9, "{district}: {shares:?}");
        }
    }

    #[test]
    fn every_lsoa_lies_in_one_of_152_upper_tier_authorities_and_counties_hold_their_districts() {
        let files = ReferenceFiles::read(&Folder::reference_data(None)).expect("the built-in files");
        let built = build(&files).expect("England builds");
        let upper = AreaType::UpperTierLocalAuthority.label();
        let is_upper =
            |a: &area::Model| a.area_type == upper || a.also_types.as_deref().is_some_and(|t| t.contains(&upper));
        // The 2021 upper tiers: those not introduced in 2023.
        let uppers: HashSet<&str> = built
            .areas
            .iter()
            .filter(|a| is_upper(a) && a.introduced_in.as_deref() != Some("2023"))
            .map(|a| a.code.as_str())
            .collect();
        assert_eq!(uppers.len(), 152, "the 2021 upper tiers");
        let in_2023 =
            built.areas.iter().filter(|a| is_upper(a) && a.replaced_in.as_deref().is_none_or(|r| r > "2023")).count();
        assert_eq!(in_2023, 153, "the 2023 upper tiers");
        let lsoas: HashSet<&str> =
            built.areas.iter().filter(|a| a.area_type == "lsoa").map(|a| a.code.as_str()).collect();
        let mut upper_of: HashMap<&str, Vec<&str>> = HashMap::new();
        for link in built.ancestors.iter().filter(|l| lsoas.contains(l.area_code.as_str())) {
            if uppers.contains(link.ancestor_code.as_str()) {
                upper_of.entry(&link.area_code).or_default().push(&link.ancestor_code);
            }
        }
        assert_eq!(upper_of.len(), 32_844, "every LSOA has an upper tier");
        assert!(upper_of.values().all(|u| u.len() == 1), "exactly one each");

        // Kent is a county of its own in the South East, over its twelve districts, and its
        // population is its LSOAs'.
        let by_code: HashMap<&str, &area::Model> = built.areas.iter().map(|a| (a.code.as_str(), a)).collect();
        let kent = by_code["E10000016"];
        assert_eq!((kent.area_type.as_str(), kent.parent_code.as_deref()), (upper.as_str(), Some("E12000008")));
        let within_kent = |t: &'static str| -> Vec<&area::Model> {
            built
                .ancestors
                .iter()
                .filter(|l| l.ancestor_code == "E10000016")
                .map(|l| by_code[l.area_code.as_str()])
                .filter(|a| a.area_type == t)
                .collect()
        };
        assert_eq!(within_kent("local_authority_district").len(), 12);
        let people: i64 = within_kent("lsoa").iter().map(|a| a.population.unwrap()).sum();
        assert_eq!(kent.population, Some(people));
        // Northamptonshire's districts were replaced in 2021: Corby by North Northamptonshire.
        assert_eq!(by_code["E07000150"].vintage.as_deref(), Some("2019"));
        assert_eq!(by_code["E07000150"].successor_codes.as_deref(), Some(",E06000061,"));
        assert_eq!(
            by_code["E06000061"].predecessor_codes.as_deref(),
            Some(",E07000150,E07000152,E07000153,E07000156,")
        );
        assert_eq!(by_code["E01000001"].vintage.as_deref(), Some("2011"));
        // A unitary is one area: a district that also counts as an upper tier.
        assert_eq!(by_code["E06000001"].area_type, "local_authority_district");
        assert!(is_upper(by_code["E06000001"]));
        // Kent County Council governs Kent, and every council is placed.
        let council = built.organisations.values().find(|o| o.name == "Kent County Council").expect("in the ODS list");
        assert_eq!(council.area_code.as_deref(), Some("E10000016"));
        assert_eq!(built.report.councils_without_area, Vec::<String>::new());
    }

    #[test]
    fn ancestors_follow_both_hierarchies() {
        let area = |code: &str, parent: Option<&str>, icb: Option<&str>| area::Model {
            icb_code: icb.map(Into::into),
            ..blank_area(code, code, AreaType::Lsoa, parent)
        };
        let areas = vec![
            area(ENGLAND, None, None),
            area("R", Some(ENGLAND), None),
            area("D", Some("R"), None),
            area("W", Some("D"), None),
            area("N", Some(ENGLAND), None),
            area("I", Some("N"), None),
            area("L", Some("W"), Some("I")),
        ];
        let links: Vec<(String, i32)> = ancestor_links(&areas)
            .into_iter()
            .filter(|l| l.area_code == "L")
            .map(|l| (l.ancestor_code, l.depth))
            .collect();
        let expected: Vec<(String, i32)> = [("D", 2), (ENGLAND, 3), ("I", 1), ("N", 2), ("R", 3), ("W", 1)]
            .iter()
            .map(|(c, d)| ((*c).to_owned(), *d))
            .collect();
        assert_eq!(links, expected);
    }
}
