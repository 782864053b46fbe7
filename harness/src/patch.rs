//! Preventive policies: a patch merged into the scenario's `spec` before the run, the way a
//! Kubernetes strategic merge patch or kustomize would merge it.
//!
//! - mappings merge key by key; a `null` value removes the key;
//! - a list whose patch entries are all objects with a merge key (`name`, `pool` or `service`)
//!   merges entry by entry, matched on that key, new entries appended;
//! - anything else replaces what was there.

use capsize_sim::PathSeg;

use crate::yaml::Value;

/// Keys that identify list entries, in order of preference.
const MERGE_KEYS: [&str; 3] = ["name", "pool", "service"];

/// The merge key all of `items` carry, if any.
fn merge_key(items: &[Value]) -> Option<&'static str> {
    MERGE_KEYS.into_iter().find(|k| !items.is_empty() && items.iter().all(|i| i.get(*k).is_some()))
}

/// Merges `patch` into `base`.
pub fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Mapping(b), Value::Mapping(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(k);
                } else if let Some(existing) = b.get_mut(k) {
                    merge(existing, v);
                } else {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
        (Value::Sequence(b), Value::Sequence(p)) if merge_key(p).is_some() => {
            let key = merge_key(p).expect("checked");
            for item in p {
                let id = item.get(key);
                match b.iter_mut().find(|x| x.get(key) == id) {
                    Some(existing) => merge(existing, item),
                    None => b.push(item.clone()),
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// Where, inside the patch, the merged value at `path` (below `spec`) came from; `None` when
/// the patch did not touch it. List indices are translated through the merge keys.
pub fn path_in_patch(merged: &Value, patch: &Value, path: &[PathSeg]) -> Option<Vec<PathSeg>> {
    let found = nearest_in_patch(merged, patch, path);
    (found.len() == path.len()).then_some(found)
}

/// The deepest prefix of `path` (below `spec`) that the patch holds, translated into the
/// patch's own indices (empty when the patch holds none of it).
pub fn nearest_in_patch(merged: &Value, patch: &Value, path: &[PathSeg]) -> Vec<PathSeg> {
    let mut out = Vec::new();
    let (mut m, mut p) = (merged, patch);
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                let (Some(mm), Some(pp)) = (m.get(k.as_str()), p.get(k.as_str())) else { break };
                (m, p) = (mm, pp);
                out.push(seg.clone());
            }
            PathSeg::Index(i) => {
                let (Some(item), Some(plist)) = (m.get(*i), p.as_sequence()) else { break };
                let pi = match merge_key(plist) {
                    Some(key) => plist.iter().position(|x| x.get(key) == item.get(key)),
                    None => Some(*i),
                };
                let Some(pp) = pi.and_then(|pi| plist.get(pi)) else { break };
                let pi = pi.expect("found");
                m = item;
                p = pp;
                out.push(PathSeg::Index(pi));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{parse_path, parse_value};

    #[test]
    fn lists_merge_by_name_and_null_removes() {
        let mut base = parse_value(
            "workloads:\n  - name: a\n    replicas: 2\n    mounts: [{name: v, subPath: f}]\n  - name: b\n    replicas: 3\n",
        )
        .unwrap();
        let patch = parse_value("workloads:\n  - name: b\n    replicas: 5\n  - name: a\n    mounts: [{name: v, subPath: null, projected: true}]\n").unwrap();
        merge(&mut base, &patch);
        let want = parse_value(
            "workloads:\n  - name: a\n    replicas: 2\n    mounts: [{name: v, projected: true}]\n  - name: b\n    replicas: 5\n",
        )
        .unwrap();
        assert_eq!(base, want);
        // The merged workloads[1] (b) is the patch's workloads[0].
        assert_eq!(
            path_in_patch(&base, &patch, &parse_path("workloads[1].replicas")),
            Some(parse_path("workloads[0].replicas"))
        );
        assert_eq!(path_in_patch(&base, &patch, &parse_path("workloads[0].replicas")), None);
    }

    #[test]
    fn plain_lists_are_replaced() {
        let mut base = parse_value("calls: [a, b]\n").unwrap();
        merge(&mut base, &parse_value("calls: []\n").unwrap());
        assert_eq!(base, parse_value("calls: []\n").unwrap());
    }
}
