//! Which nodes a fault or an action hits: a name, the node running a matching pod, or a draw
//! from a pool.
//!
//! Pod placement depends on the seed, so a drill that names `worker-1` tests a different thing
//! per seed. `nodeOf: {app: redis}` follows the pod wherever it landed; `pool` with `pick`
//! draws nodes per seed, the way Chaos Mesh's `mode` and AWS FIS's `selectionMode` do.

use serde::{Deserialize, Serialize};

use super::Labels;

/// How many of the nodes a selector matched are taken, drawn at random from the run's seed.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Pick {
    /// One of them (what `nodeOf` takes when `pick` is omitted).
    One,
    /// Every one (what `pool` takes when `pick` is omitted, as AWS FIS's `ALL`).
    All,
    /// This many (all of them when fewer match).
    Count(u32),
    /// This percentage, rounded down but at least one when any match (Chaos Mesh's
    /// `fixed-percent`, which selects at least one: chaos-mesh PR 3036).
    Percent(f64),
}

impl Pick {
    /// How many of `n` matching nodes are taken.
    pub fn how_many(self, n: usize) -> usize {
        match self {
            Pick::One => n.min(1),
            Pick::All => n,
            Pick::Count(k) => n.min(k as usize),
            Pick::Percent(p) => {
                if n == 0 || p <= 0.0 {
                    0
                } else {
                    // `n * p / 100` rounded down, computed in integers of hundredths so the
                    // result does not depend on float rounding.
                    let hundredths = (p * 100.0).round() as u64;
                    ((n as u64 * hundredths / 10_000) as usize).clamp(1, n)
                }
            }
        }
    }

    /// Keeps `how_many` of `items`, drawn uniformly with `index(k)` (a uniform index below `k`),
    /// in their original order. `items` must already be in a deterministic order.
    pub fn draw<T>(self, items: &mut Vec<T>, mut index: impl FnMut(usize) -> usize) {
        let n = self.how_many(items.len());
        if n == items.len() {
            return;
        }
        let mut order: Vec<usize> = (0..items.len()).collect();
        // A partial Fisher-Yates shuffle picks `n` positions.
        for k in 0..n {
            let j = k + index(order.len() - k);
            order.swap(k, j);
        }
        let mut keep = vec![false; items.len()];
        for &i in &order[..n] {
            keep[i] = true;
        }
        let mut i = 0;
        items.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }
}

impl Serialize for Pick {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Pick::One => s.serialize_str("one"),
            Pick::All => s.serialize_str("all"),
            Pick::Count(k) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("count", k)?;
                m.end()
            }
            Pick::Percent(p) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("percent", p)?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Pick {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Pick;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`one`, `all`, `{count: N}` or `{percent: P}` (P between 0 and 100, or written `P%`)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Pick, E> {
                match v {
                    "one" => Ok(Pick::One),
                    "all" => Ok(Pick::All),
                    _ => match v.strip_suffix('%').map(|p| p.trim().parse::<f64>()) {
                        Some(Ok(p)) => percent(p),
                        _ => Err(E::custom(format!(
                            "unknown pick `{v}`: expected `one`, `all`, `{{count: N}}` or `{{percent: P}}`"
                        ))),
                    },
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Pick, A::Error> {
                use serde::de::Error;
                let key: String = m.next_key()?.ok_or_else(|| A::Error::custom("expected `count` or `percent`"))?;
                let pick = match key.as_str() {
                    "count" => {
                        let k: u32 = m.next_value()?;
                        if k == 0 {
                            return Err(A::Error::custom("a count of 0 picks nothing; use at least 1"));
                        }
                        Pick::Count(k)
                    }
                    "percent" => percent(m.next_value::<PercentValue>()?.0)?,
                    other => return Err(A::Error::unknown_field(other, &["count", "percent"])),
                };
                if let Some(extra) = m.next_key::<String>()? {
                    return Err(A::Error::custom(format!("unexpected key `{extra}`: give one of `count`, `percent`")));
                }
                Ok(pick)
            }
        }
        d.deserialize_any(V)
    }
}

/// A percentage written as a number (`25`) or with its sign (`"25%"`).
struct PercentValue(f64);

impl<'de> Deserialize<'de> for PercentValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PercentValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a percentage, `25` or `25%`")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<PercentValue, E> {
                Ok(PercentValue(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PercentValue, E> {
                Ok(PercentValue(v as f64))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PercentValue, E> {
                Ok(PercentValue(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PercentValue, E> {
                v.strip_suffix('%')
                    .unwrap_or(v)
                    .trim()
                    .parse()
                    .map(PercentValue)
                    .map_err(|_| E::custom(format!("expected a percentage such as `25` or `25%`, found `{v}`")))
            }
        }
        d.deserialize_any(V)
    }
}

fn percent<E: serde::de::Error>(p: f64) -> Result<Pick, E> {
    if p.is_finite() && p > 0.0 && p <= 100.0 {
        Ok(Pick::Percent(p))
    } else {
        Err(E::custom(format!("a percentage must be more than 0 and at most 100, found {p}")))
    }
}

impl schemars::JsonSchema for Pick {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Pick".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "How many of the matching nodes: `one` (default for nodeOf), `all` (default for pool), `{count: N}`, `{percent: P}`; drawn per seed.",
            "oneOf": [
                {"type": "string", "enum": ["one", "all"]},
                {"type": "string", "pattern": "^[0-9.]+ *%$"},
                {"type": "object", "required": ["count"], "properties": {"count": {"type": "integer", "minimum": 1}}, "additionalProperties": false},
                {"type": "object", "required": ["percent"], "properties": {"percent": {"oneOf": [
                    {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                    {"type": "string", "pattern": "^[0-9.]+ *%?$"}
                ]}}, "additionalProperties": false}
            ]
        })
    }
}

/// Which nodes, in one of three ways; the fields as a fault or an action spells them.
#[derive(Copy, Clone, Debug)]
pub enum NodeTarget<'a> {
    /// The node of this name.
    Named(&'a str),
    /// The nodes running a pod with these labels at that moment, `pick` of them.
    NodeOf(&'a Labels, Pick),
    /// `pick` of this pool's nodes.
    Pool(&'a str, Pick),
}

/// The target fields of a fault or an action, borrowed: `node`, `nodeOf`, `pool`, `pick`.
#[derive(Copy, Clone, Debug, Default)]
pub struct TargetFields<'a> {
    /// `node`.
    pub node: Option<&'a str>,
    /// `nodeOf`.
    pub node_of: Option<&'a Labels>,
    /// `pool`.
    pub pool: Option<&'a str>,
    /// `pick`.
    pub pick: Option<Pick>,
}

impl<'a> TargetFields<'a> {
    /// Borrows the fields as a struct holds them.
    pub fn of(
        node: &'a Option<String>,
        node_of: &'a Option<Labels>,
        pool: &'a Option<String>,
        pick: Option<Pick>,
    ) -> TargetFields<'a> {
        TargetFields { node: node.as_deref(), node_of: node_of.as_ref(), pool: pool.as_deref(), pick }
    }

    /// The target, unless the fields are not exactly one of `node`, `nodeOf` and `pool`
    /// (validation says which is wrong).
    pub fn target(&self) -> Option<NodeTarget<'a>> {
        match (self.node, self.node_of, self.pool) {
            (Some(n), None, None) => Some(NodeTarget::Named(n)),
            (None, Some(sel), None) => Some(NodeTarget::NodeOf(sel, self.pick.unwrap_or(Pick::One))),
            (None, None, Some(p)) => Some(NodeTarget::Pool(p, self.pick.unwrap_or(Pick::All))),
            _ => None,
        }
    }

    /// What is wrong with the fields as a target, if anything: `(field, message)`.
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        let given = [self.node.is_some(), self.node_of.is_some(), self.pool.is_some()].iter().filter(|b| **b).count();
        if given == 0 {
            Some(("node", "say which node: `node`, `nodeOf` (the node of a pod) or `pool` (with `pick`)"))
        } else if given > 1 {
            Some(("node", "give one of `node`, `nodeOf` and `pool`, not several"))
        } else if self.node.is_some() && self.pick.is_some() {
            Some(("pick", "`pick` chooses among the nodes of `nodeOf` or `pool`; a named node is one node"))
        } else if self.node_of.is_some_and(|s| s.is_empty()) {
            Some(("nodeOf", "give the labels of the pod whose node is meant"))
        } else {
            None
        }
    }
}

impl NodeTarget<'_> {
    /// How a report names the target before it is resolved (`nodeOf app=redis`).
    pub fn describe(&self) -> String {
        match self {
            NodeTarget::Named(n) => n.to_string(),
            NodeTarget::NodeOf(sel, pick) => {
                let s: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("nodeOf {}{}", s.join(","), pick_suffix(*pick))
            }
            NodeTarget::Pool(p, pick) => format!("pool {p}{}", pick_suffix(*pick)),
        }
    }
}

fn pick_suffix(p: Pick) -> String {
    match p {
        Pick::One => String::new(),
        Pick::All => " (all)".into(),
        Pick::Count(k) => format!(" (pick {k})"),
        Pick::Percent(x) => format!(" (pick {x}%)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn how_many_follows_the_selection_modes() {
        assert_eq!(Pick::One.how_many(0), 0);
        assert_eq!(Pick::One.how_many(5), 1);
        assert_eq!(Pick::All.how_many(5), 5);
        assert_eq!(Pick::Count(2).how_many(5), 2);
        assert_eq!(Pick::Count(9).how_many(5), 5);
        // 25 % of 5 is 1.25: rounded down to 1; 10 % of 5 is 0.5: at least one.
        assert_eq!(Pick::Percent(25.0).how_many(5), 1);
        assert_eq!(Pick::Percent(10.0).how_many(5), 1);
        assert_eq!(Pick::Percent(50.0).how_many(10), 5);
        assert_eq!(Pick::Percent(100.0).how_many(7), 7);
    }

    #[test]
    fn draw_keeps_distinct_items_in_order() {
        let mut items: Vec<u32> = (0..10).collect();
        let mut draws = [3usize, 0, 5].into_iter();
        Pick::Count(3).draw(&mut items, |_| draws.next().unwrap());
        assert_eq!(items.len(), 3);
        assert!(items.windows(2).all(|w| w[0] < w[1]), "{items:?}");
    }
}
