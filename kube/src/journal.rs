//! The drive's journal: one JSON object per line, each fsynced before the drive goes on.
//!
//! A change is written as an `intent` with the state that undoes it *before* the request that
//! makes it is sent; its outcome follows as `applied`. A rollback writes `undone` per change and
//! `closed` at the end. Whatever moment a drive is killed at, the journal names every change
//! that may have reached the cluster, so `capsize rollback JOURNAL` can restore them all. A
//! last line cut short by the kill is ignored (its change was never sent: the request only goes
//! out after the line is on disk).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::change::{Change, Undo};
use crate::error::DriveError;

/// The journal format's version, in its header.
pub const JOURNAL_VERSION: u32 = 1;

/// One line of the journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Entry {
    /// The first line: what the drive may touch.
    Header {
        /// [`JOURNAL_VERSION`].
        version: u32,
        /// The kubeconfig context the drive ran against (rollback uses the same).
        context: String,
        /// The kubeconfig file, if one was named (else `KUBECONFIG` or `~/.kube/config`).
        kubeconfig: Option<String>,
        /// The namespaces the drive may change.
        namespaces: Vec<String>,
        /// The scenario's name.
        scenario: String,
        /// When the drive started (RFC 3339).
        started: String,
        /// The drive's process id, to tell a journal of a running drive from a lost one.
        pid: u32,
        /// When the drive's changes are stale: past it, the drive is over or lost.
        expires_at: String,
    },
    /// A change about to be made, with what restores the object.
    Intent {
        /// Order of the changes; rollback undoes them from the highest down.
        seq: u64,
        /// When (RFC 3339).
        at: String,
        /// The change.
        change: Change,
        /// What undoes it.
        undo: Undo,
    },
    /// What came of a change.
    Applied {
        /// The intent's number.
        seq: u64,
        /// The request succeeded.
        ok: bool,
        /// The API's answer or the error.
        result: String,
    },
    /// A change restored by a rollback.
    Undone {
        /// The intent's number.
        seq: u64,
        /// What the rollback did (or found).
        result: String,
    },
    /// A rollback that could not restore a change (it stays pending for the next rollback).
    UndoFailed {
        /// The intent's number.
        seq: u64,
        /// Why.
        error: String,
    },
    /// A rollback restored every change.
    Closed {
        /// When (RFC 3339).
        at: String,
    },
}

/// A journal open for appending.
pub struct Journal {
    path: PathBuf,
    file: File,
    next_seq: u64,
}

fn journal_error(path: &Path, message: impl std::fmt::Display) -> DriveError {
    DriveError::Journal { path: path.display().to_string(), message: message.to_string() }
}

impl Journal {
    /// Creates a new journal at `path` (never over an existing file) and writes its header.
    pub fn create(path: &Path, header: Entry) -> Result<Journal, DriveError> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| journal_error(path, format!("cannot create it: {e}")))?;
        // The file's directory entry must survive a crash too.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        let mut j = Journal { path: path.to_path_buf(), file, next_seq: 1 };
        j.write(&header)?;
        Ok(j)
    }

    /// Opens an existing journal to append a rollback's lines.
    pub fn append(path: &Path) -> Result<Journal, DriveError> {
        let entries = read(path)?;
        let next_seq = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Intent { seq, .. } => Some(*seq + 1),
                _ => None,
            })
            .max()
            .unwrap_or(1);
        // A line cut short by a kill was never acted on (the request goes out only once its line
        // is on disk): it is cut off, so the next entry starts on a line of its own.
        let text = std::fs::read(path).map_err(|e| journal_error(path, e))?;
        let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| journal_error(path, format!("cannot open it to append: {e}")))?;
        if whole < text.len() {
            file.set_len(whole as u64).map_err(|e| journal_error(path, e))?;
            file.sync_data().map_err(|e| journal_error(path, e))?;
        }
        Ok(Journal { path: path.to_path_buf(), file, next_seq })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes an intent and returns its number; on return the line is on disk.
    pub fn intent(&mut self, change: &Change, undo: &Undo) -> Result<u64, DriveError> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.write(&Entry::Intent { seq, at: now_rfc3339(), change: change.clone(), undo: undo.clone() })?;
        Ok(seq)
    }

    /// Appends one entry and fsyncs it.
    pub fn write(&mut self, entry: &Entry) -> Result<(), DriveError> {
        let mut line = serde_json::to_vec(entry).map_err(|e| journal_error(&self.path, e))?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(|e| journal_error(&self.path, e))?;
        self.file.sync_data().map_err(|e| journal_error(&self.path, format!("fsync: {e}")))
    }
}

/// Reads a journal. A last line without its newline is what a kill left half-written and is
/// skipped; any other line that does not parse is an error naming its line.
pub fn read(path: &Path) -> Result<Vec<Entry>, DriveError> {
    let file = File::open(path).map_err(|e| journal_error(path, format!("cannot read it: {e}")))?;
    let mut reader = BufReader::new(file);
    let mut entries = Vec::new();
    let mut line = String::new();
    let mut n = 0;
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(|e| journal_error(path, e))?;
        if read == 0 {
            break;
        }
        n += 1;
        let complete = line.ends_with('\n');
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(line.trim_end()) {
            Ok(e) => entries.push(e),
            Err(_) if entries.is_empty() => return Err(journal_error(path, "not a capsize journal (no header line)")),
            Err(_) if !complete => break,
            Err(e) => return Err(journal_error(path, format!("line {n}: {e}"))),
        }
    }
    match entries.first() {
        Some(Entry::Header { version: JOURNAL_VERSION, .. }) => Ok(entries),
        Some(Entry::Header { version, .. }) => {
            Err(journal_error(path, format!("journal version {version}, this capsize reads {JOURNAL_VERSION}")))
        }
        _ => Err(journal_error(path, "not a capsize journal (no header line)")),
    }
}

/// The changes a rollback still has to undo, latest first: every intent without an `undone`.
pub fn pending(entries: &[Entry]) -> Vec<(u64, Change, Undo)> {
    let undone: std::collections::BTreeSet<u64> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Undone { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect();
    let mut out: Vec<(u64, Change, Undo)> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Intent { seq, change, undo, .. } if !undone.contains(seq) => {
                Some((*seq, change.clone(), undo.clone()))
            }
            _ => None,
        })
        .collect();
    out.sort_by_key(|e| std::cmp::Reverse(e.0));
    out
}

/// Now, as RFC 3339 (the journal's clock is the wall clock: it is about a real cluster).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}
