//! Undoing a journal: every change not yet undone, latest first. The drive calls it at its end,
//! on SIGINT/SIGTERM and on any error; `capsize rollback JOURNAL` calls it after a crash or a
//! `kill -9`. Running it again is harmless: undone changes are skipped, and undoing restores a
//! saved state, so a change undone without its `undone` line is restored a second time to the
//! same state.

use std::path::Path;

use crate::cluster::Cluster;
use crate::error::DriveError;
use crate::journal::{self, Entry, Journal};

/// What a rollback did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RollbackReport {
    /// `(seq, change, what the undo did)` for each change restored.
    pub restored: Vec<(u64, String, String)>,
    /// `(seq, change, error)` for each change that could not be restored (still pending).
    pub failed: Vec<(u64, String, String)>,
    /// Changes an earlier rollback had already restored.
    pub already: usize,
}

impl RollbackReport {
    /// Lines for a person.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (seq, change, what) in &self.restored {
            s.push_str(&format!("  #{seq} {change}: {what}\n"));
        }
        for (seq, change, error) in &self.failed {
            s.push_str(&format!("  #{seq} {change}: NOT RESTORED: {error}\n"));
        }
        if self.already > 0 {
            s.push_str(&format!("  {} change(s) were restored by an earlier rollback\n", self.already));
        }
        s
    }
}

/// The header of a journal: its context and namespaces. A file that is not a journal is the
/// user's input, refused as such.
pub fn header(path: &Path) -> Result<Entry, DriveError> {
    let entries = journal::read(path).map_err(|e| DriveError::Refused(e.to_string()))?;
    Ok(entries.into_iter().next().expect("read checks the header"))
}

/// Undoes every pending change of the journal at `path` through `cluster`, writing `undone`
/// (or `undoFailed`) per change and `closed` when nothing is left.
pub async fn rollback(cluster: &Cluster, path: &Path) -> Result<RollbackReport, DriveError> {
    let entries = journal::read(path)?;
    let pending = journal::pending(&entries);
    let intents = entries.iter().filter(|e| matches!(e, Entry::Intent { .. })).count();
    let mut report = RollbackReport { already: intents - pending.len(), ..RollbackReport::default() };
    let mut j = Journal::append(path)?;
    for (seq, change, undo) in pending {
        match cluster.undo(&undo).await {
            Ok(result) => {
                j.write(&Entry::Undone { seq, result: result.clone() })?;
                report.restored.push((seq, change.to_string(), result));
            }
            Err(e) => {
                j.write(&Entry::UndoFailed { seq, error: e.to_string() })?;
                report.failed.push((seq, change.to_string(), e.to_string()));
            }
        }
    }
    if report.failed.is_empty() {
        j.write(&Entry::Closed { at: journal::now_rfc3339() })?;
        Ok(report)
    } else {
        Err(DriveError::Incomplete(format!(
            "{} change(s) could not be restored; run `capsize rollback {}` again:\n{}",
            report.failed.len(),
            path.display(),
            report.render()
        )))
    }
}
