//! # capsize-kube: a scenario against a real cluster
//!
//! `capsize drive` runs a scenario's faults and a policy's actions on a real Kubernetes
//! cluster (kind, staging) through kube-rs, watches what happens, scores it with the
//! simulator's own scorer, and puts the cluster back. The pieces, in the order a drive uses
//! them:
//!
//! ```text
//! guard ─ the context and namespaces the user named, nothing else
//! plan  ─ every fault resolved to concrete objects and API calls, checked with dryRun=All
//! journal ─ each change written and fsynced, with how to undo it, before it is made
//! cluster ─ the API calls (and node commands) that make and undo a change
//! observe ─ watchers on Pods, Nodes, EndpointSlices recording the history the scorer reads
//! drive ─ the clock: faults at their times, the policy on its evaluations, signals, the end
//! rollback ─ every journalled change undone in reverse, idempotently, also after kill -9
//! ```
//!
//! ## Safety rules (an invariant of this crate)
//!
//! - **Named scope only.** Every change names its namespace (or is a Node of the named
//!   context); [`cluster::Cluster`] refuses anything else before sending a request. The
//!   context is never taken from the kubeconfig's current context.
//! - **Journal first.** A change is written to the journal and fsynced, with the object's
//!   previous state, before the request that makes it is sent ([`journal`]).
//! - **Undo is "restore the saved state"**, never "invert the last operation": undoing twice,
//!   or undoing a change that never reached the server, leaves the object as it was. An object
//!   that is already back (or gone, when gone is what it was) counts as restored.
//!
//! ## What it deliberately does not know
//!
//! YAML and files other than the journal (the harness loads scenarios, policies and node
//! command templates), how a policy decides (it gets a [`capsize_sim::Policy`]), and how
//! results are presented (the reports crate). The simulator never sees tokio or kube-rs.

pub mod change;
pub mod cluster;
pub mod drive;
pub mod error;
pub mod fidelity;
pub mod guard;
pub mod journal;
pub mod nodecmd;
pub mod observe;
pub mod plan;
pub mod probe;
pub mod rollback;
mod view;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

pub use error::DriveError;
