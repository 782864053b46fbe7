//! `capsize schema`: the JSON Schema of scenario, policy, suite and budget files, generated from the
//! Rust types the loader reads (so it cannot drift from them). Editors use it through the
//! yaml-language-server modeline for completion and validation; the loader's own checks
//! (references, ranges) stay the authority.

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::policy::PolicyFile;
use crate::suite::SuiteFile;
use capsize_sim::Scenario;
use capsize_sim::spec::API_VERSION;

/// Which files a schema describes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    /// Scenario files (`kind: Scenario`).
    Scenario,
    /// Policy files (`kind: Policy`).
    Policy,
    /// Suite files (`kind: Suite`).
    Suite,
    /// Fault budgets for `capsize search` (`kind: Budget`).
    Budget,
    /// Node command files for `capsize drive` (`kind: NodeCommands`).
    #[cfg(feature = "real-cluster")]
    Nodecommands,
    /// The plug-in protocol's two messages: the observation capsize writes and the answer it
    /// reads (`docs/plugin-protocol.schema.json`).
    Plugin,
}

/// The schema of one kind of file, or of any capsize file (`None`: one of the three, told
/// apart by `kind`).
pub fn schema(kind: Option<SchemaKind>) -> Value {
    if kind == Some(SchemaKind::Plugin) {
        return plugin_schema();
    }
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    #[allow(unused_mut)]
    let mut refs = vec![
        ("Scenario", generator.subschema_for::<Scenario>()),
        ("Policy", generator.subschema_for::<PolicyFile>()),
        ("Suite", generator.subschema_for::<SuiteFile>()),
        ("Budget", generator.subschema_for::<crate::search::BudgetFile>()),
    ];
    #[cfg(feature = "real-cluster")]
    refs.push(("NodeCommands", generator.subschema_for::<crate::real::NodeCommandsFile>()));
    let mut defs = generator.take_definitions(true);
    // The envelope: the exact apiVersion and kind each file must carry.
    for (kind_name, r) in &refs {
        let Some(name) = r.get("$ref").and_then(Value::as_str).and_then(|s| s.strip_prefix("#/$defs/")) else {
            continue;
        };
        if let Some(props) = defs.get_mut(name).and_then(|d| d.get_mut("properties")).and_then(Value::as_object_mut) {
            props.insert("apiVersion".into(), json!({ "const": API_VERSION }));
            props.insert("kind".into(), json!({ "const": kind_name }));
        }
    }
    let (title, body) = match kind {
        None => (
            "capsize scenario, policy, suite, budget or node command file",
            json!({ "oneOf": refs.iter().map(|(_, r)| r.clone().to_value()).collect::<Vec<_>>() }),
        ),
        Some(k) => {
            let i = match k {
                SchemaKind::Scenario => 0,
                SchemaKind::Policy => 1,
                SchemaKind::Suite => 2,
                SchemaKind::Budget => 3,
                #[cfg(feature = "real-cluster")]
                SchemaKind::Nodecommands => 4,
                SchemaKind::Plugin => unreachable!("handled above"),
            };
            ("capsize file", refs[i].1.clone().to_value())
        }
    };
    let mut root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "$defs": defs,
    });
    let obj = root.as_object_mut().expect("an object");
    for (k, v) in body.as_object().expect("an object") {
        obj.insert(k.clone(), v.clone());
    }
    root
}

/// The plug-in protocol: an observation (capsize to the program) or an answer (back).
fn plugin_schema() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let observation = generator.subschema_for::<crate::external::Observation>().to_value();
    let answer = generator.subschema_for::<crate::external::Answer>().to_value();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "capsize plug-in protocol: one JSON object per line, an observation out, an answer back",
        "oneOf": [observation, answer],
        "$defs": generator.take_definitions(true),
    })
}
