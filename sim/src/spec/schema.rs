//! JSON Schema for the scalar types the scenario format reads from strings (durations, times,
//! quantities, versions, cron lines): what editors validate and complete (`capsize schema`).
//! Each schema says what the type's own parser accepts; the parser stays the authority.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::{Cpu, Cron, KubeVersion, Memory};
use crate::time::{At, ClockTime, SimDuration, StartTime};

/// A string schema with a description and an optional pattern.
fn string(description: &str, pattern: Option<&str>) -> Schema {
    match pattern {
        Some(p) => json_schema!({ "type": "string", "description": description, "pattern": p }),
        None => json_schema!({ "type": "string", "description": description }),
    }
}

macro_rules! string_schema {
    ($ty:ty, $name:literal, $desc:literal, $pattern:expr) => {
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                string($desc, $pattern)
            }
        }
    };
}

string_schema!(
    SimDuration,
    "Duration",
    "A duration with units: 500ms, 30s, 5m, 1h30m, 2d.",
    Some(r"^\s*([0-9.]+(ms|s|m|h|d))+\s*$")
);
string_schema!(
    At,
    "At",
    "A clock time (\"07:50\", \"07:50:30\": the first such time at or after the start) or an offset from the start (\"+1h49m\").",
    Some(r"^\s*(\+([0-9.]+(ms|s|m|h|d))+|([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?)\s*$")
);
string_schema!(
    ClockTime,
    "ClockTime",
    "A time of day, HH:MM or HH:MM:SS.",
    Some(r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")
);
string_schema!(
    StartTime,
    "StartTime",
    "The local civil start time, RFC 3339 with or without an offset: 2021-01-15T00:00:00+08:00.",
    None
);
string_schema!(
    KubeVersion,
    "KubeVersion",
    "A Kubernetes version: \"1.20\" or \"v1.20.3\".",
    Some(r"^\s*v*[0-9]+\.[0-9]+(\..*)?\s*$")
);
string_schema!(Cron, "Cron", "A 5-field crontab line: minute hour day-of-month month day-of-week.", None);

impl JsonSchema for Cpu {
    fn schema_name() -> Cow<'static, str> {
        "Cpu".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "CPU as Kubernetes writes it: cores (\"2\", 1.5) or millicores (\"500m\").",
            "type": ["string", "number"],
            "minimum": 0,
            "pattern": r"^\s*\+?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?m?\s*$"
        })
    }
}

impl JsonSchema for Memory {
    fn schema_name() -> Cow<'static, str> {
        "Memory".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Memory as Kubernetes writes it: bytes or with a suffix (512Mi, 2Gi, 1G).",
            "type": ["string", "number"],
            "minimum": 0,
            "pattern": r"^\s*\+?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?\s*$"
        })
    }
}
