//! The kubelet: starts containers, restarts them under CrashLoopBackOff, kills them when a
//! liveness or startup probe fails, and reproduces the subPath restart failure of kubernetes
//! issue 68211.
//!
//! Backoff, as the kubelet does it: the first exit restarts at once and creates a backoff entry
//! of `backoffInitial` (10 s); each later exit waits the entry and doubles it, up to
//! `backoffMax` (300 s); a container that ran `backoffReset` (10 min) before exiting starts over.
//! Every start attempt after the first counts as a restart, failed attempts included, which is
//! how the incident's pods reached 76-78 restarts.

use crate::ids::PodId;
use crate::rng;
use crate::spec::RestartPolicy;
use crate::time::SimTime;
use crate::world::{Container, Event, ExitReason, Phase, PodStatus, ProbeKind, ProbeRt, World};

use super::prober::tick_at_or_after;

impl World {
    /// The scheduler bound `pod` to a node: the kubelet admits it and starts its container.
    pub(crate) fn kubelet_admit(&mut self, pod: PodId) {
        let now = self.now;
        let w = self.pods[pod].workload;
        // The subPath bind sources are made from the ConfigMap content current at admission.
        let versions =
            self.workloads[w].subpath_mounts.iter().map(|&(cm, vol)| (cm, self.config_maps[cm].version, vol)).collect();
        let p = &mut self.pods[pod];
        p.anchor = now;
        p.subpath_versions = versions;
        let node = p.node.expect("admitted pods are bound");
        // A silent or stuck kubelet starts nothing until it can act again (`node_health_changed`);
        // a broken one accepts the binding and does nothing more: ContainerCreating for good.
        let blocked = if !self.kubelet_acts(node) {
            Some("waiting for the kubelet: its node is silent or its runtime hangs")
        } else if self.nodes[node].kubelet_broken {
            Some("kubelet not responding: container never created")
        } else {
            None
        };
        if let Some(why) = blocked {
            let p = &mut self.pods[pod];
            p.container = Container::NotCreated;
            p.epoch += 1;
            self.note_pod(pod, || why.into());
            self.refresh_status(pod);
            return;
        }
        if !self.volume_ready(pod) {
            // ContainerCreating until its volume is attached here (`volumes.rs`).
            let p = &mut self.pods[pod];
            p.container = Container::NotCreated;
            p.epoch += 1;
            self.refresh_status(pod);
            return;
        }
        self.start_container(pod);
    }

    /// A pod that was already running when the scenario starts: its container has been up for
    /// long, its startup probe passed, liveness and readiness pass, it is Ready. Its probe timer
    /// has a random phase, as the pods of a real cluster do.
    pub(crate) fn warm_pod(&mut self, pod: PodId) {
        self.volume_warm(pod);
        let w = self.pods[pod].workload;
        let longest = self.workloads[w].probes.iter().flatten().map(|c| c.period_ms).max().unwrap_or(1000);
        let anchor = SimTime(rng::uniform_ms(&mut self.rng.kubelet, 0, longest - 1));
        let versions =
            self.workloads[w].subpath_mounts.iter().map(|&(cm, vol)| (cm, self.config_maps[cm].version, vol)).collect();
        let p = &mut self.pods[pod];
        p.anchor = anchor;
        p.subpath_versions = versions;
        p.starts = 1;
        p.container = Container::Running;
        // Long-running: a crash of a pod that was already up counts as after a clean run.
        p.last_started = Some(SimTime::ZERO);
        p.ready = true;
        for kind in [ProbeKind::Liveness, ProbeKind::Readiness] {
            if let Some(cfg) = &self.workloads[w].probes[kind as usize] {
                // Passing for long: results and input true, the success run already counted.
                p.probes[kind as usize] = ProbeRt {
                    ok_run: cfg.success_threshold,
                    result: Some(true),
                    input: true,
                    ..ProbeRt::fresh(kind, tick_at_or_after(anchor, cfg.period_ms, SimTime::ZERO))
                };
            }
        }
    }

    /// Begins a container start attempt; it completes after the start latency.
    pub(crate) fn start_container(&mut self, pod: PodId) {
        if !self.swarm_may_start(pod) {
            // Only a swarm leader starts tasks; counted so that the property tests catch it.
            self.leaderless_starts += 1;
        }
        let w = self.pods[pod].workload;
        let (lo, hi) = self.workloads[w].start_range;
        let latency = rng::uniform_ms(&mut self.rng.kubelet, lo, hi);
        let p = &mut self.pods[pod];
        let after_backoff = matches!(p.container, Container::Waiting { backoff: true, .. });
        if p.starts > 0 {
            p.restarts += 1;
        }
        p.starts += 1;
        p.container = Container::Starting { after_backoff };
        p.epoch += 1;
        let epoch = p.epoch;
        let at = SimTime(self.now.0 + latency);
        self.at(at, Event::StartDone { pod, epoch });
        self.refresh_status(pod);
    }

    /// A start attempt finished: the container runs, or fails to be created.
    pub(crate) fn on_start_done(&mut self, pod: PodId, epoch: u32) {
        let p = &self.pods[pod];
        if p.epoch != epoch || p.phase != Phase::Bound {
            return;
        }
        if self.subpath_bug && p.starts > 1 {
            // Kubernetes issue 68211: the bind source of a subPath mount is the ConfigMap
            // directory the atomic writer made when the pod started; once a newer version has
            // been written, that directory is gone and every later container create fails.
            let stale = p
                .subpath_versions
                .iter()
                .find(|(cm, v, _)| self.config_maps[*cm].refreshed > *v)
                .map(|&(cm, _, volume)| ExitReason::MountFailed { cm, volume });
            if let Some(reason) = stale {
                self.note_pod(pod, || "container create failed: subPath mount source is gone".into());
                self.container_exited(pod, reason);
                return;
            }
        }
        let w = self.pods[pod].workload;
        let node = self.pods[pod].node.expect("started pods are bound");
        if self.workloads[w].resolves_at_start.is_some() && self.nodes[node].dns_broken {
            // The app looks its dependencies up as it starts, gets no answer, and exits.
            self.note_pod(pod, || "exited at start: DNS resolution failed".into());
            self.container_exited(pod, ExitReason::DnsFailed);
            return;
        }
        let now = self.now;
        let p = &mut self.pods[pod];
        p.container = Container::Running;
        p.last_started = Some(now);
        p.epoch += 1;
        self.note_pod(pod, || "container started".into());
        self.warmup_start(pod);
        self.probes_container_started(pod);
        self.refresh_endpoints(pod);
        self.refresh_status(pod);
    }

    /// The container stopped. Decides the restart under the pod's restartPolicy and backoff.
    pub(crate) fn container_exited(&mut self, pod: PodId, reason: ExitReason) {
        let now = self.now;
        let w = self.pods[pod].workload;
        let kind = self.clusters[self.workloads[w].cluster as usize].kind;
        let kcfg = &self.scenario.spec.cluster.kubelet;
        let (initial, max, reset) = match kind {
            // Docker's own restart policy restarts a classic swarm app's containers.
            crate::spec::ClusterKind::ClassicSwarm => (
                crate::defaults::DOCKER_RESTART_DELAY_INITIAL_MS,
                crate::defaults::DOCKER_RESTART_DELAY_MAX_MS,
                crate::defaults::DOCKER_RESTART_RESET_MS,
            ),
            _ => (kcfg.backoff_initial.ms(), kcfg.backoff_max.ms(), kcfg.backoff_reset.ms()),
        };
        let restart_policy = self.workloads[w].restart_policy;
        let node_gone = self.pods[pod].node.is_some_and(|n| !self.nodes[n].running());
        let swarm = kind == crate::spec::ClusterKind::Swarm;
        let p = &mut self.pods[pod];
        let ran_long = p.last_started.take().is_some_and(|since| now.0 - since.0 >= reset);
        p.last_exit = Some(reason);
        if reason != ExitReason::NodeLost {
            // A lost node reports nothing: the API keeps the pod's last Ready condition.
            p.ready = false;
        }
        for rt in &mut p.probes {
            rt.active = false;
        }
        p.epoch += 1;
        self.note_pod(pod, || format!("container exited: {}", reason.label()));

        let p = &mut self.pods[pod];
        if p.phase == Phase::Terminating {
            p.container = Container::Exited;
            self.finish_delete(pod);
            return;
        }
        let restart = !node_gone
            && reason != ExitReason::NodeLost
            && match restart_policy {
                RestartPolicy::Always | RestartPolicy::OnFailure => true,
                RestartPolicy::Never => false,
            };
        if !restart {
            p.container = Container::Exited;
            self.refresh_endpoints(pod);
            self.refresh_status(pod);
            return;
        }
        if ran_long {
            p.backoff = None;
        }
        if swarm {
            // Swarm mode: the leader's orchestrator replaces the task after the restart delay;
            // without a leader it stays down until one is elected.
            if self.swarm_may_start(pod) {
                self.refresh_endpoints(pod);
                self.swarm_restart_later(pod);
                self.pods[pod].status_since = now;
            } else {
                self.pods[pod].container = Container::Exited;
                self.refresh_endpoints(pod);
                self.refresh_status(pod);
            }
            return;
        }
        let p = &mut self.pods[pod];
        let delay = p.backoff.unwrap_or(0);
        p.backoff = Some(match p.backoff {
            None => initial,
            Some(b) => (b.saturating_mul(2)).min(max),
        });
        if delay == 0 {
            p.container = Container::Waiting { until: now, backoff: false };
            self.refresh_endpoints(pod);
            self.start_container(pod);
        } else {
            let until = SimTime(now.0 + delay);
            p.container = Container::Waiting { until, backoff: true };
            let epoch = p.epoch;
            self.at(until, Event::Restart { pod, epoch });
            self.refresh_endpoints(pod);
            self.refresh_status(pod);
            // Each wait is a CrashLoopBackOff of its own as the API reports it (the attempt before
            // it ended in an error state): `status_since` is when this wait began.
            self.pods[pod].status_since = now;
        }
    }

    /// CrashLoopBackOff is over: start again.
    pub(crate) fn on_restart_due(&mut self, pod: PodId, epoch: u32) {
        let p = &self.pods[pod];
        if p.epoch != epoch || p.phase != Phase::Bound {
            return;
        }
        if self.swarm_may_start(pod) {
            self.start_container(pod);
        } else {
            // The leader was lost during the delay: the task waits for the next one.
            let p = &mut self.pods[pod];
            p.container = Container::Exited;
            p.epoch += 1;
            self.refresh_status(pod);
        }
    }

    /// Stops the container: SIGTERM, then it exits after the app's shutdown time, at most the
    /// grace period (SIGKILL).
    pub(crate) fn kill_container(&mut self, pod: PodId, reason: ExitReason) {
        let w = self.pods[pod].workload;
        let stop = self.workloads[w].shutdown_ms.min(self.workloads[w].grace_ms);
        let p = &mut self.pods[pod];
        match p.container {
            Container::Running if stop > 0 => {
                p.container = Container::Stopping { reason };
                p.ready = false;
                for rt in &mut p.probes {
                    rt.active = false;
                }
                p.epoch += 1;
                let epoch = p.epoch;
                let at = SimTime(self.now.0 + stop);
                self.at(at, Event::Stopped { pod, epoch });
                self.refresh_endpoints(pod);
                self.refresh_status(pod);
            }
            Container::Running | Container::Starting { .. } => self.container_exited(pod, reason),
            // Already stopping, waiting or exited: nothing runs to be killed.
            _ => {}
        }
    }

    /// A stopping container has exited.
    pub(crate) fn on_stopped(&mut self, pod: PodId, epoch: u32) {
        let p = &self.pods[pod];
        if p.epoch != epoch {
            return;
        }
        if let Container::Stopping { reason } = p.container {
            self.container_exited(pod, reason);
        }
    }

    /// What kubectl would show for `pod` now.
    pub(crate) fn compute_status(&self, pod: PodId) -> PodStatus {
        let p = &self.pods[pod];
        match p.phase {
            Phase::Pending => PodStatus::Pending,
            Phase::Terminating => PodStatus::Terminating,
            Phase::Deleted => PodStatus::Deleted,
            Phase::Bound => match p.container {
                Container::NotCreated => PodStatus::ContainerCreating,
                Container::Starting { after_backoff } => {
                    if p.starts <= 1 {
                        PodStatus::ContainerCreating
                    } else if after_backoff {
                        // kubectl keeps showing the crash loop while a retry is attempted.
                        PodStatus::CrashLoopBackOff
                    } else {
                        PodStatus::ContainerCreating
                    }
                }
                Container::Running | Container::Stopping { .. } => PodStatus::Running,
                Container::Waiting { backoff: true, .. } => PodStatus::CrashLoopBackOff,
                Container::Waiting { backoff: false, .. } => PodStatus::ContainerCreating,
                Container::Exited => {
                    if p.node.is_some_and(|n| !self.nodes[n].running()) {
                        PodStatus::Unknown
                    } else {
                        PodStatus::Error
                    }
                }
            },
        }
    }

    /// Updates the cached status, its start time and the crash-loop count.
    pub(crate) fn refresh_status(&mut self, pod: PodId) {
        let status = self.compute_status(pod);
        let now = self.now;
        let p = &mut self.pods[pod];
        if p.status == status {
            return;
        }
        let old = p.status;
        p.status = status;
        p.status_since = now;
        let w = p.workload;
        let wl = &mut self.workloads[w];
        if old == PodStatus::CrashLoopBackOff {
            wl.crashlooping -= 1;
            wl.crashloop_seen = Some(now);
        }
        if status == PodStatus::CrashLoopBackOff {
            wl.crashlooping += 1;
        }
        self.note_pod(pod, || format!("status {old} -> {status}"));
    }

    /// The message `kubectl describe` shows for the container's last failure.
    pub(crate) fn exit_message(&self, pod: PodId) -> Option<String> {
        let p = &self.pods[pod];
        let w = &self.workloads[p.workload];
        if p.container == Container::NotCreated
            && let Some(n) = p.node
            && self.nodes[n].kubelet_broken
        {
            let node = &self.nodes[n].name;
            return Some(format!(
                "Error from server: Get https://{node}:10250/containerLogs/{pod}/{c}: dial tcp {node}:10250: connect: \
                 connection refused",
                pod = p.name,
                c = w.name
            ));
        }
        let reason = p.last_exit?;
        Some(match reason {
            ExitReason::MountFailed { cm, volume } => {
                let vol = &w.volume_names[volume as usize];
                format!(
                    "RunContainerError: failed to start container \"{c}\": Error response from daemon: OCI runtime \
                     create failed: container_linux.go:346: starting container process caused \"process_linux.go:449: \
                     container init caused \\\"rootfs_linux.go:58: mounting \\\\\\\"/var/lib/kubelet/pods/{uid}/\
                     volume-subpaths/{vol}/{c}/0\\\\\\\" to rootfs ... caused \\\\\\\"no such file or directory\\\\\\\"\\\"\": \
                     unknown (ConfigMap {cm} changed after the pod started)",
                    c = w.name,
                    uid = p.name,
                    cm = self.config_maps[cm].name,
                )
            }
            ExitReason::Crashed => "Error: the container exited with code 1".to_string(),
            ExitReason::LivenessFailed => {
                format!("Killing: Container {} failed liveness probe, will be restarted", w.name)
            }
            ExitReason::StartupFailed => {
                format!("Killing: Container {} failed startup probe, will be restarted", w.name)
            }
            ExitReason::NodeLost => "NodeLost: the node this pod ran on is gone or down".to_string(),
            ExitReason::Rescheduled => {
                "rescheduled: its node failed and the manager recreated it elsewhere".to_string()
            }
            ExitReason::DnsFailed => format!(
                "Error: the app exited at start: resolving {} through cluster DNS failed (lookup timed out)",
                w.resolves_at_start.as_deref().unwrap_or("its dependencies")
            ),
            ExitReason::Deleted => return None,
            ExitReason::RuntimeRestarted => {
                "Error: the docker daemon restarted and took the container with it (live-restore is off)".to_string()
            }
            ExitReason::Evicted => {
                "Evicted: The node was low on resource: ephemeral-storage (DiskPressure)".to_string()
            }
        })
    }
}
