//! Shares written as a fraction (`0.5`) or as a percentage (`"50%"`), wherever the format takes
//! one: call shares, route shares, outage thresholds, retry budgets, warm-up starts.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserializer;
use serde::de::{Error, Visitor};

struct RatioVisitor;

impl Visitor<'_> for RatioVisitor {
    type Value = f64;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a share: a number such as 0.5, or a percentage such as \"50%\"")
    }
    fn visit_f64<E: Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_u64<E: Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_i64<E: Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_str<E: Error>(self, v: &str) -> Result<f64, E> {
        match v.trim().strip_suffix('%').map(|p| p.trim().parse::<f64>()) {
            Some(Ok(p)) if p.is_finite() => Ok(p / 100.0),
            _ => Err(E::custom(format!("expected a share such as 0.5 or \"50%\", found `{v}`"))),
        }
    }
}

/// `#[serde(deserialize_with = "ratio::de")]`.
pub(crate) fn de<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_any(RatioVisitor)
}

/// The same for an optional field (with `#[serde(default)]`).
pub(crate) fn de_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    de(d).map(Some)
}

/// The schema of a share (`#[schemars(with = "Ratio")]`).
pub(crate) struct Ratio;

impl JsonSchema for Ratio {
    fn schema_name() -> Cow<'static, str> {
        "Ratio".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A share: a fraction (0.5) or a percentage (\"50%\").",
            "anyOf": [
                {"type": "number"},
                {"type": "string", "pattern": r"^\s*[0-9]*\.?[0-9]+\s*%\s*$"}
            ]
        })
    }
}
