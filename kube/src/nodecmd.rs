//! Node-level faults and operations (a dead kubelet, a hung container runtime, a lost network,
//! a reboot) have no Kubernetes API: they run through commands the user configures, one per
//! purpose, such as `docker exec {node} systemctl stop kubelet` for kind or `ssh {node} sudo
//! systemctl stop kubelet` for machines. Each may name its undo and a dead-man command that
//! undoes it on the node by itself after `{ttl}` seconds, should capsize be lost.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::DriveError;

/// The user's node command templates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeCommands {
    /// By purpose: a fault's key (`kubeletDown`, `runtimeHung`, `dockerHung`, `networkLoss`,
    /// `nodeOverload`, `diskFull`, `plegUnhealthy`, `nodeFailure`), an operation (`restartKubelet`,
    /// `restartRuntime`, `restartDocker`, `reboot`, `forceReboot`, `cleanDisk`), or
    /// `containerKill` (used for `containerCrash` instead of exec when given; `{containerId}`).
    #[serde(default)]
    pub commands: BTreeMap<String, NodeCommand>,
    /// Longest a command may take, seconds (30 when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

/// One purpose's commands. Placeholders: `{node}` (the real node name), `{ttl}` (seconds until
/// the drive's expiry), `{namespace}`, `{pod}`, `{container}`, `{containerId}` (for
/// `containerKill`). Every value is shell-quoted when filled in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeCommand {
    /// What makes the fault or does the operation.
    pub run: String,
    /// What undoes it (must be idempotent: rollback may run it twice); none for an operation
    /// that needs no undo (a reboot, a restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<String>,
    /// Run before `run`: arranges on the node that the fault undoes itself after `{ttl}`
    /// seconds (e.g. `systemd-run --on-active={ttl} systemctl start kubelet`), so a capsize that
    /// is killed and never rolled back does not leave it forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire: Option<String>,
}

/// Default longest run of one command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl NodeCommands {
    /// The template for a purpose.
    pub fn get(&self, purpose: &str) -> Option<&NodeCommand> {
        self.commands.get(purpose)
    }

    /// The time limit of one command.
    pub fn timeout(&self) -> Duration {
        self.timeout_seconds.map_or(DEFAULT_TIMEOUT, Duration::from_secs)
    }
}

/// Fills a template's placeholders, each value shell-quoted. An unknown placeholder is left as
/// it is, so a typo shows in the plan.
pub fn render(template: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if vars.contains_key(&after[..close]) => {
                out.push_str(&shell_quote(&vars[&after[..close]]));
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `s` as one shell word: bare when it is plain, else in single quotes.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Runs `command` with `sh -c`, within `timeout`; its output (stdout, else stderr), or an error
/// with the exit status and the end of stderr.
pub async fn run(command: &str, timeout: Duration) -> Result<String, DriveError> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(timeout, child).await {
        Err(_) => return Err(DriveError::Command(format!("`{command}` ran longer than {}s", timeout.as_secs()))),
        Ok(Err(e)) => return Err(DriveError::Command(format!("`{command}` could not start: {e}"))),
        Ok(Ok(out)) => out,
    };
    let tail = |b: &[u8]| {
        let s = String::from_utf8_lossy(b);
        let s = s.trim();
        let start = s.len().saturating_sub(400);
        let start = (start..=s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(s.len());
        s[start..].to_string()
    };
    if out.status.success() {
        let o = tail(&out.stdout);
        Ok(if o.is_empty() { "done".into() } else { o })
    } else {
        Err(DriveError::Command(format!("`{command}` failed ({}): {}", out.status, tail(&out.stderr))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_quoted() {
        let vars = BTreeMap::from([("node", "kind-worker".to_string()), ("ttl", "600".into()), ("pod", "a b".into())]);
        assert_eq!(
            render("docker exec {node} systemctl stop kubelet", &vars),
            "docker exec kind-worker systemctl stop kubelet"
        );
        assert_eq!(render("echo {pod} {ttl}s {unknown} {", &vars), "echo 'a b' 600s {unknown} {");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[tokio::test]
    async fn commands_report_their_failures_and_time_limits() {
        assert_eq!(run("echo hello", DEFAULT_TIMEOUT).await.unwrap(), "hello");
        let e = run("echo oops >&2; exit 3", DEFAULT_TIMEOUT).await.unwrap_err().to_string();
        assert!(e.contains("oops") && e.contains('3'), "{e}");
        let e = run("sleep 5", Duration::from_millis(100)).await.unwrap_err().to_string();
        assert!(e.contains("longer than"), "{e}");
    }
}
