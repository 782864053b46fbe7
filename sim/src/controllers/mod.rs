//! The mechanics, one controller per file. Each is an `impl World` block reacting to events;
//! none of them knows about policies or scoring.

mod actions;
mod endpoints;
mod faults;
mod kubelet;
mod monitoring;
mod podgc;
mod prober;
mod replicaset;
mod scheduler;

pub(crate) use scheduler::Scratch;
