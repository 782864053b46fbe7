//! The guards a drive passes before it reads anything from a cluster: an explicitly named
//! context (never the kubeconfig's current one), a kind cluster unless `--allow-context`, and
//! at least one explicitly named namespace.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::DriveError;

/// What a drive may touch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The kubeconfig context, as named on the command line.
    pub context: String,
    /// The namespaces named on the command line, sorted and without repeats.
    pub namespaces: Vec<String>,
}

/// Contexts of kind clusters are named `kind-<cluster>`.
pub const KIND_PREFIX: &str = "kind-";

/// Checks the command line's context and namespaces; `allow_context` lets a context that is
/// not a kind cluster through.
pub fn check_scope(context: Option<&str>, namespaces: &[String], allow_context: bool) -> Result<Scope, DriveError> {
    let Some(context) = context.filter(|c| !c.is_empty()) else {
        return Err(DriveError::Refused(
            "name the cluster with --context NAME: capsize never drives the kubeconfig's current context".into(),
        ));
    };
    if !context.starts_with(KIND_PREFIX) && !allow_context {
        return Err(DriveError::Refused(format!(
            "context `{context}` is not a kind cluster (its name does not start with `{KIND_PREFIX}`); \
             add --allow-context to drive it anyway"
        )));
    }
    if namespaces.is_empty() {
        return Err(DriveError::Refused(
            "name the namespaces the drill may change with --namespace NS (one or more): capsize changes \
             nothing outside them"
                .into(),
        ));
    }
    let mut ns: Vec<String> = namespaces.to_vec();
    for n in &ns {
        if !is_dns_label(n) {
            return Err(DriveError::Refused(format!("`{n}` is not a namespace name (lowercase letters, digits, '-')")));
        }
    }
    ns.sort();
    ns.dedup();
    Ok(Scope { context: context.to_string(), namespaces: ns })
}

/// Reads the kubeconfig (`path`, else `KUBECONFIG`, else `~/.kube/config`) and makes a client
/// for exactly the named context.
pub async fn client_for(path: Option<&Path>, context: &str) -> Result<kube::Client, DriveError> {
    let kubeconfig = match path {
        Some(p) => Kubeconfig::read_from(p),
        None => Kubeconfig::read(),
    }
    .map_err(|e| DriveError::Kubeconfig(e.to_string()))?;
    if !kubeconfig.contexts.iter().any(|c| c.name == context) {
        let names: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
        return Err(DriveError::Kubeconfig(format!(
            "no context named `{context}` (the kubeconfig has: {})",
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        )));
    }
    let options = KubeConfigOptions { context: Some(context.to_string()), ..KubeConfigOptions::default() };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| DriveError::Kubeconfig(e.to_string()))?;
    kube::Client::try_from(config).map_err(|e| DriveError::Kubeconfig(e.to_string()))
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_must_be_named_and_kind_unless_allowed() {
        let ns = vec!["shop".to_string()];
        assert!(matches!(check_scope(None, &ns, false), Err(DriveError::Refused(m)) if m.contains("--context")));
        assert!(matches!(check_scope(Some(""), &ns, true), Err(DriveError::Refused(_))));
        let e = check_scope(Some("prod-eu"), &ns, false).unwrap_err();
        assert!(e.to_string().contains("--allow-context"), "{e}");
        assert_eq!(check_scope(Some("prod-eu"), &ns, true).unwrap().context, "prod-eu");
        assert_eq!(check_scope(Some("kind-x"), &ns, false).unwrap().context, "kind-x");
    }

    #[test]
    fn namespaces_must_be_named_and_valid() {
        assert!(check_scope(Some("kind-x"), &[], false).unwrap_err().to_string().contains("--namespace"));
        assert!(check_scope(Some("kind-x"), &["Bad_NS".into()], false).is_err());
        let s = check_scope(Some("kind-x"), &["b".into(), "a".into(), "b".into()], false).unwrap();
        assert_eq!(s.namespaces, vec!["a", "b"]);
    }
}
