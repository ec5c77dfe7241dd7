//! Definitions of local: their shape, the area codes they name, and UK postcodes.

use std::collections::HashSet;

use sharedmetrics_error::FieldViolation;
use sharedmetrics_proto::sharedmetrics::commitments::v1::{AreaList, LocalDefinition, Radius, local_definition};

/// Returns a UK postcode in its canonical form (`L3 8EN`), or none when it is not one: an outward
/// code of a letter or two, a digit and an optional letter or digit, then a digit and two letters.
pub fn normalise_postcode(text: &str) -> Option<String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    if !(5..=7).contains(&compact.len()) || !compact.is_ascii() {
        return None;
    }
    let (outward, inward) = compact.split_at(compact.len() - 3);
    let inward_ok = {
        let b = inward.as_bytes();
        b[0].is_ascii_digit() && b[1].is_ascii_alphabetic() && b[2].is_ascii_alphabetic()
    };
    let o = outward.as_bytes();
    let letters = o.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let outward_ok = (1..=2).contains(&letters)
        && o.len() > letters
        && o[letters].is_ascii_digit()
        && o[letters + 1..].iter().all(|b| b.is_ascii_alphanumeric())
        && o.len() - letters <= 2;
    (inward_ok && outward_ok).then(|| format!("{outward} {inward}"))
}

/// Checks a definition of local's shape (existence of its areas is the service's check).
pub fn local_definition(local: &LocalDefinition, prefix: &str) -> Vec<FieldViolation> {
    let mut out = Vec::new();
    match &local.kind {
        None => out.push(FieldViolation::new(
            prefix,
            "REQUIRED",
            "a definition of local is a list of areas, a boundary or a radius",
        )),
        Some(local_definition::Kind::Areas(list)) => {
            if list.area_codes.is_empty() {
                out.push(FieldViolation::new(
                    format!("{prefix}.areas.area_codes"),
                    "REQUIRED",
                    "a list of areas names at least one",
                ));
            }
            let mut seen = HashSet::new();
            for (i, code) in list.area_codes.iter().enumerate() {
                if !seen.insert(code) {
                    out.push(FieldViolation::new(
                        format!("{prefix}.areas.area_codes[{i}]"),
                        "DUPLICATE",
                        format!("area {code:?} is listed twice"),
                    ));
                }
            }
        }
        Some(local_definition::Kind::BoundaryCode(code)) if code.trim().is_empty() => out.push(FieldViolation::new(
            format!("{prefix}.boundary_code"),
            "REQUIRED",
            "a boundary is the GSS code of an ICB or district",
        )),
        Some(local_definition::Kind::BoundaryCode(_)) => {}
        Some(local_definition::Kind::Radius(radius)) => {
            if normalise_postcode(&radius.postcode).is_none() {
                out.push(FieldViolation::new(
                    format!("{prefix}.radius.postcode"),
                    "INVALID_POSTCODE",
                    format!("{:?} is not a UK postcode", radius.postcode),
                ));
            }
            if !(radius.radius_km.is_finite() && radius.radius_km > 0.0 && radius.radius_km <= 100.0) {
                out.push(FieldViolation::new(
                    format!("{prefix}.radius.radius_km"),
                    "OUT_OF_RANGE",
                    format!("radius {} km must be more than 0 and at most 100", radius.radius_km),
                ));
            }
            if radius.area_code.trim().is_empty() {
                out.push(FieldViolation::new(
                    format!("{prefix}.radius.area_code"),
                    "REQUIRED",
                    "a radius names the area its postcode lies in",
                ));
            }
        }
    }
    out
}

/// Returns every area code a definition of local names, with the field path naming it.
pub fn local_area_codes(local: &LocalDefinition, prefix: &str) -> Vec<(String, String)> {
    match &local.kind {
        Some(local_definition::Kind::Areas(list)) => list
            .area_codes
            .iter()
            .enumerate()
            .map(|(i, code)| (format!("{prefix}.areas.area_codes[{i}]"), code.clone()))
            .collect(),
        Some(local_definition::Kind::BoundaryCode(code)) => vec![(format!("{prefix}.boundary_code"), code.clone())],
        Some(local_definition::Kind::Radius(radius)) => {
            vec![(format!("{prefix}.radius.area_code"), radius.area_code.clone())]
        }
        None => Vec::new(),
    }
}

/// Returns the definition with its postcode in canonical form.
pub(super) fn normalised(local: &LocalDefinition) -> LocalDefinition {
    let kind = match &local.kind {
        Some(local_definition::Kind::Radius(r)) => Some(local_definition::Kind::Radius(Radius {
            postcode: normalise_postcode(&r.postcode).unwrap_or_else(|| r.postcode.clone()),
            ..r.clone()
        })),
        Some(local_definition::Kind::Areas(list)) => {
            Some(local_definition::Kind::Areas(AreaList { area_codes: list.area_codes.clone() }))
        }
        other => other.clone(),
    };
    LocalDefinition { kind }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcodes_are_recognised_in_every_uk_shape() {
        for (given, canonical) in [
            ("L3 8EN", "L3 8EN"),
            ("ch49 5pe", "CH49 5PE"),
            ("M13 9WL", "M13 9WL"),
            ("EC1A1BB", "EC1A 1BB"),
            ("W1A 0AX", "W1A 0AX"),
        ] {
            assert_eq!(normalise_postcode(given).as_deref(), Some(canonical), "{given}");
        }
        for bad in ["", "L3", "123 456", "LLL3 8EN", "L3 8E1"] {
            assert_eq!(normalise_postcode(bad), None, "{bad}");
        }
    }
}
