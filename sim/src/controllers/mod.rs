//! The mechanics, one controller per file. Each is an `impl World` block reacting to events;
//! none of them knows about policies or scoring.

mod actions;
mod backlog;
mod classic;
mod cloud;
mod cpu;
mod daemonset;
mod drain;
mod endpoints;
mod faults;
mod kubelet;
mod loadbalancer;
mod monitoring;
mod nodeagent;
mod nodelifecycle;
mod nodes;
mod podgc;
mod prober;
mod replicaset;
mod saturation;
mod scheduler;
mod scheduler_cache;
mod statefulset;
pub(crate) mod swarm;
mod targets;
mod volumes;
mod waits;
mod warmup;

pub(crate) use drain::DrainRt;
pub(crate) use saturation::ServiceBacklog;
pub(crate) use volumes::Volume;

pub(crate) use scheduler::Scratch;
pub(crate) use scheduler_cache::SchedulerCache;
