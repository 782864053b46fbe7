//! The agents on a Kubernetes node: the kubelet, the docker daemon, PLEG, the disk and the
//! network, the faults that break them and the operations of the runbook that mend them
//! (`systemctl restart kubelet`, `systemctl restart docker`, cleaning the disk).
//!
//! What the kubelet *reports* follows from these fields (`kubelet_verdict`); what the API
//! *shows* is the node lifecycle controller's business (`nodelifecycle.rs`): every change here
//! ends in `node_health_changed`, which works out when the control plane will see it.
//!
//! Semantics, with their sources in `defaults.rs`:
//! - a hung docker daemon leaves running containers alone; the kubelet's PLEG relist blocks and
//!   after its 3-minute threshold the kubelet reports NotReady ("PLEG is not healthy");
//! - a restart of the kubelet leaves running containers alone; it is away for a few seconds;
//! - a restart of docker stops every container unless the node has live-restore; while it runs
//!   the kubelet reports "container runtime is down";
//! - a dead kubelet, a lost network or an overloaded node stop the heartbeats; containers go
//!   on running (and, but for the network loss, serving);
//! - a full disk raises DiskPressure and the kubelet evicts pods, one per 10 s, which frees
//!   nothing when the space is not the pods'; the condition clears 5 min after the disk is
//!   cleaned (the pressure transition period).
//!
//! Operations go over SSH: they fail on a node whose machine is down or whose network is lost.

use crate::defaults;
use crate::ids::{NodeId, PodId};
use crate::spec::{ClusterKind, FaultSpec};
use crate::time::SimTime;
use crate::world::{Container, Event, ExitReason, Phase, World};

impl World {
    /// A Kubernetes node (the agents modelled here exist only there).
    pub(crate) fn is_kube_node(&self, node: NodeId) -> bool {
        self.clusters[self.nodes[node].cluster as usize].kind == ClusterKind::Kubernetes
    }

    /// The kubelet's heartbeats reach the API server now.
    pub(crate) fn heartbeats_ok(&self, node: NodeId) -> bool {
        let n = &self.nodes[node];
        let h = &n.health;
        n.running() && !h.kubelet_down && h.kubelet_restart_until.is_none() && !h.network_lost && !h.overloaded
    }

    /// What the kubelet would post now: Ready, or NotReady and why.
    pub(crate) fn kubelet_verdict(&self, node: NodeId) -> (bool, &'static str) {
        let h = &self.nodes[node].health;
        if h.runtime_restart_until.is_some() {
            return (false, "container runtime is down");
        }
        if h.pleg_fault {
            return (false, "PLEG is not healthy");
        }
        if h.runtime_hung_since.is_some_and(|t| self.now.0 >= t.0 + defaults::PLEG_RELIST_THRESHOLD_MS) {
            return (false, "PLEG is not healthy: pleg was last seen active 3m0s ago; threshold is 3m0s");
        }
        (true, "kubelet is posting ready status")
    }

    /// The kubelet can carry out a deletion here now: it hears the API server and its runtime
    /// answers. On a swarm node, always (the managers act there).
    pub(crate) fn kubelet_acts(&self, node: NodeId) -> bool {
        if !self.is_kube_node(node) {
            return true;
        }
        let h = &self.nodes[node].health;
        self.heartbeats_ok(node) && self.kubelet_verdict(node).0 && h.runtime_hung_since.is_none()
    }

    /// A node-agent fault hits `node`.
    pub(crate) fn agent_fault(&mut self, node: NodeId, fault: &FaultSpec) {
        let now = self.now;
        let name = self.nodes[node].name.clone();
        let h = &mut self.nodes[node].health;
        match fault {
            FaultSpec::DockerHung(_) => {
                h.runtime_hung_since.get_or_insert(now);
                self.history.note(now, &name, || "docker daemon hangs (running containers go on)".into());
            }
            FaultSpec::RuntimeHung(_) => {
                h.runtime_hung_since.get_or_insert(now);
                self.history.note(now, &name, || "containerd hangs (running containers go on)".into());
            }
            FaultSpec::PlegUnhealthy(p) => {
                h.pleg_fault = true;
                h.pleg_recur_ms = p.recur_after.map(|d| d.ms());
                self.history.note(now, &name, || "PLEG unhealthy".into());
            }
            FaultSpec::KubeletDown(_) => {
                h.kubelet_down = true;
                self.history.note(now, &name, || "kubelet process died".into());
            }
            FaultSpec::NetworkLoss(t) | FaultSpec::NodeOverload(t) => {
                let ends = t.for_.map(|d| now.after(d.value()));
                let network = matches!(fault, FaultSpec::NetworkLoss(_));
                if network {
                    h.network_lost = true;
                    h.network_ends_at = ends;
                } else {
                    h.overloaded = true;
                    h.overload_ends_at = ends;
                }
                let what = if network { "network lost" } else { "overloaded: the kubelet misses heartbeats" };
                self.history.note(now, &name, || what.into());
                self.refresh_pods_on(node);
            }
            FaultSpec::DiskFull(_) => {
                h.disk_full = true;
                h.pressure_clears_at = None;
                self.history.note(now, &name, || "disk full".into());
                self.pressure_check_later(node);
            }
            _ => unreachable!("only node-agent faults come here"),
        }
        self.agent_timer_refresh(node);
        self.node_health_changed(node);
    }

    /// Every pod on `node` looks at its node again (endpoints, status).
    pub(crate) fn refresh_pods_on(&mut self, node: NodeId) {
        let pods: Vec<PodId> = self.nodes[node].pods.iter().copied().collect();
        for pod in pods {
            self.refresh_endpoints(pod);
            self.refresh_status(pod);
        }
    }

    /// Schedules the next timed change of `node`'s agents (one pending event per node).
    fn agent_timer_refresh(&mut self, node: NodeId) {
        let now = self.now;
        let h = &self.nodes[node].health;
        let pleg_due =
            h.runtime_hung_since.map(|t| SimTime(t.0 + defaults::PLEG_RELIST_THRESHOLD_MS)).filter(|&t| t > now);
        let next = [
            h.kubelet_restart_until,
            h.runtime_restart_until,
            h.network_ends_at,
            h.overload_ends_at,
            h.pleg_returns_at,
            pleg_due,
            h.shutdown_at,
        ]
        .into_iter()
        .flatten()
        .min();
        let h = &mut self.nodes[node].health;
        h.agent_epoch += 1;
        let epoch = h.agent_epoch;
        if let Some(t) = next {
            self.at(t.max(now), Event::AgentTimer { node, epoch });
        }
    }

    /// A timed change of the node's agents is due.
    pub(crate) fn on_agent_timer(&mut self, node: NodeId, epoch: u32) {
        if self.nodes[node].health.agent_epoch != epoch {
            return;
        }
        let now = self.now;
        let name = self.nodes[node].name.clone();
        let h = &mut self.nodes[node].health;
        if h.kubelet_restart_until.is_some_and(|t| t <= now) {
            h.kubelet_restart_until = None;
            self.history.note(now, &name, || "kubelet back after its restart".into());
        }
        let h = &mut self.nodes[node].health;
        let mut runtime_back = false;
        if h.runtime_restart_until.is_some_and(|t| t <= now) {
            h.runtime_restart_until = None;
            runtime_back = true;
        }
        if h.network_ends_at.is_some_and(|t| t <= now) {
            h.network_ends_at = None;
            h.network_lost = false;
            self.history.note(now, &name, || "network back".into());
            self.refresh_pods_on(node);
        }
        let h = &mut self.nodes[node].health;
        if h.overload_ends_at.is_some_and(|t| t <= now) {
            h.overload_ends_at = None;
            h.overloaded = false;
            self.history.note(now, &name, || "load back to normal".into());
        }
        let h = &mut self.nodes[node].health;
        if h.pleg_returns_at.is_some_and(|t| t <= now) {
            h.pleg_returns_at = None;
            h.pleg_fault = true;
            self.history.note(now, &name, || "PLEG unhealthy again".into());
        }
        if runtime_back {
            self.history.note(now, &name, || "docker daemon back after its restart".into());
            self.restart_stopped_containers(node);
        }
        if self.nodes[node].health.shutdown_at.is_some_and(|t| t <= now) {
            self.nodes[node].health.shutdown_at = None;
            self.history.note(now, &name, || "systemd gave up on docker.service (SIGKILL): the machine reboots".into());
            if self.nodes[node].running() {
                self.reboot_now(node);
            }
        }
        self.agent_timer_refresh(node);
        self.node_health_changed(node);
    }

    /// The node's agent starts the containers that stopped (or were never created) while the
    /// node, its kubelet or its runtime was away. A restarted kubelet has no backoff memory, and
    /// posts the pod's real state: not Ready until its probes pass. On swarm, only with a leader.
    pub(crate) fn restart_stopped_containers(&mut self, node: NodeId) {
        if !self.kubelet_acts(node) {
            return;
        }
        let pods: Vec<PodId> = self.nodes[node].pods.iter().copied().collect();
        for pod in pods {
            let p = &mut self.pods[pod];
            if p.phase == Phase::Bound && matches!(p.container, Container::Exited | Container::NotCreated) {
                p.backoff = None;
                p.ready = false;
                if self.swarm_may_start(pod) {
                    self.kubelet_admit(pod);
                }
            }
        }
    }

    /// A Kubernetes node's machine goes down (a reboot, a stop, a hang): what lives in memory
    /// goes with it: a hung daemon, a dead kubelet, an overload, a pending shutdown, a PLEG
    /// fault (which may come back later). A full disk and a network fault outside the machine
    /// stay.
    pub(crate) fn machine_down_clears_agents(&mut self, node: NodeId) {
        let now = self.now;
        let h = &mut self.nodes[node].health;
        h.runtime_hung_since = None;
        h.kubelet_down = false;
        h.kubelet_restart_until = None;
        h.runtime_restart_until = None;
        h.shutdown_at = None;
        h.overloaded = false;
        h.overload_ends_at = None;
        if h.pleg_fault {
            h.pleg_fault = false;
            h.pleg_returns_at = h.pleg_recur_ms.map(|ms| SimTime(now.0 + ms));
        }
        self.agent_timer_refresh(node);
    }

    /// A normal reboot of a node whose docker daemon hangs: the shutdown waits for systemd's
    /// stop timeout before the machine goes down.
    pub(crate) fn delay_shutdown(&mut self, node: NodeId) {
        let at = SimTime(self.now.0 + defaults::SYSTEMD_STOP_TIMEOUT_MS);
        // systemd stops kubelet.service first: the node goes silent at once.
        self.nodes[node].health.shutdown_at = Some(at);
        self.nodes[node].health.kubelet_down = true;
        let name = self.nodes[node].name.clone();
        self.history.note(self.now, &name, || "reboot: the OS shutdown waits for docker.service to stop".into());
        self.agent_timer_refresh(node);
        self.node_health_changed(node);
    }

    /// The node answers on SSH, or the error an operator gets.
    fn ssh(&self, name: &str) -> Result<NodeId, String> {
        let node = self.live_node(name).map_err(|_| format!("ssh: Could not resolve hostname {name}"))?;
        if !self.is_kube_node(node) {
            return Err(format!("{name} is not a Kubernetes node: no kubelet to restart"));
        }
        let n = &self.nodes[node];
        if !n.running() {
            return Err(format!("ssh: connect to host {name} port 22: No route to host"));
        }
        if n.health.network_lost {
            return Err(format!("ssh: connect to host {name} port 22: Connection timed out"));
        }
        Ok(node)
    }

    /// `systemctl restart kubelet`: running containers are not affected.
    pub(crate) fn op_restart_kubelet(&mut self, name: &str) -> Result<String, String> {
        let node = self.ssh(name)?;
        let h = &mut self.nodes[node].health;
        h.kubelet_down = false;
        h.kubelet_restart_until = Some(SimTime(self.now.0 + defaults::KUBELET_RESTART_MS));
        self.agent_timer_refresh(node);
        self.node_health_changed(node);
        Ok(format!("kubelet restarted on {name}"))
    }

    /// `systemctl restart containerd`: a hung containerd is replaced. Containers keep running
    /// through it (each runs under its own shim, which outlives containerd), so nothing stops.
    pub(crate) fn op_restart_runtime(&mut self, name: &str) -> Result<String, String> {
        let node = self.ssh(name)?;
        let h = &mut self.nodes[node].health;
        h.runtime_hung_since = None;
        h.runtime_restart_until = Some(SimTime(self.now.0 + defaults::CONTAINERD_RESTART_MS));
        self.agent_timer_refresh(node);
        self.node_health_changed(node);
        Ok(format!("containerd restarted on {name}; its containers kept running (their shims outlive it)"))
    }

    /// `systemctl restart docker`: a hung daemon is replaced; without live-restore every
    /// container on the node stops, and the kubelet starts them again once docker is back.
    pub(crate) fn op_restart_docker(&mut self, name: &str) -> Result<String, String> {
        let node = self.ssh(name)?;
        let h = &mut self.nodes[node].health;
        h.runtime_hung_since = None;
        h.runtime_restart_until = Some(SimTime(self.now.0 + defaults::DOCKER_RESTART_MS));
        let live_restore = h.live_restore;
        let mut stopped = 0;
        if !live_restore {
            let pods: Vec<PodId> = self.nodes[node].pods.iter().copied().collect();
            for pod in pods {
                if matches!(
                    self.pods[pod].container,
                    Container::Running | Container::Starting { .. } | Container::Stopping { .. }
                ) {
                    stopped += 1;
                    let p = &mut self.pods[pod];
                    p.container = Container::Exited;
                    p.last_exit = Some(ExitReason::RuntimeRestarted);
                    p.ready = false;
                    p.last_started = None;
                    for rt in &mut p.probes {
                        rt.active = false;
                    }
                    p.epoch += 1;
                    if p.phase == Phase::Terminating {
                        self.finish_delete(pod);
                    } else {
                        self.refresh_endpoints(pod);
                        self.refresh_status(pod);
                    }
                }
            }
        }
        self.agent_timer_refresh(node);
        self.node_health_changed(node);
        Ok(if live_restore {
            format!("docker restarted on {name}; live-restore kept its containers running")
        } else {
            format!("docker restarted on {name}; {stopped} containers stopped with it (live-restore is off)")
        })
    }

    /// Deleting the files that filled the disk.
    pub(crate) fn op_clean_disk(&mut self, name: &str) -> Result<String, String> {
        let node = self.ssh(name)?;
        let h = &mut self.nodes[node].health;
        if !h.disk_full {
            return Ok(format!("{name}: nothing to clean, the disk has room"));
        }
        h.disk_full = false;
        if h.disk_pressure {
            h.pressure_clears_at = Some(SimTime(self.now.0 + defaults::EVICTION_PRESSURE_TRANSITION_MS));
            self.pressure_check_later(node);
        }
        Ok(format!("disk cleaned on {name}"))
    }

    /// The kubelet's eviction manager looks again after its period.
    pub(crate) fn pressure_check_later(&mut self, node: NodeId) {
        let h = &mut self.nodes[node].health;
        h.pressure_epoch += 1;
        let epoch = h.pressure_epoch;
        let at = match h.pressure_clears_at {
            Some(t) if !h.disk_full => t.max(self.now),
            _ => SimTime(self.now.0 + defaults::KUBELET_EVICTION_PERIOD_MS),
        };
        self.at(at, Event::PressureCheck { node, epoch });
    }

    /// The eviction manager's pass: raise or clear DiskPressure, evict one pod while the disk
    /// is full.
    pub(crate) fn on_pressure_check(&mut self, node: NodeId, epoch: u32) {
        if self.nodes[node].health.pressure_epoch != epoch || self.nodes[node].gone {
            return;
        }
        let now = self.now;
        let name = self.nodes[node].name.clone();
        let (full, pressure, clears) = {
            let h = &self.nodes[node].health;
            (h.disk_full, h.disk_pressure, h.pressure_clears_at)
        };
        if !full {
            if pressure && clears.is_some_and(|t| t <= now) {
                self.change_node(node, |n| {
                    n.health.disk_pressure = false;
                    n.health.pressure_clears_at = None;
                });
                self.history.note(now, &name, || "DiskPressure cleared".into());
                self.history.node_condition(&name, "DiskPressure", now, false);
            }
            return;
        }
        if !self.nodes[node].running() || !self.heartbeats_ok(node) {
            // No kubelet to evict; it looks again when it is back (`node_health_changed`).
            return;
        }
        if !pressure {
            self.change_node(node, |n| n.health.disk_pressure = true);
            self.history.note(now, &name, || "DiskPressure: the kubelet starts evicting pods".into());
            self.history.node_condition(&name, "DiskPressure", now, true);
        }
        // One pod per pass; DaemonSet pods are left alone here (their controller would only
        // put them back).
        let victim = self.nodes[node].pods.iter().copied().find(|&p| {
            let pod = &self.pods[p];
            pod.phase == Phase::Bound && pod.pinned.is_none()
        });
        if let Some(pod) = victim {
            let w = self.pods[pod].workload;
            self.pods[pod].last_exit = Some(ExitReason::Evicted);
            self.note_pod(pod, || "evicted by the kubelet: the node was low on resource: ephemeral-storage".into());
            self.start_deletion(pod, true);
            self.reconcile(w);
            self.pressure_check_later(node);
        }
        // With nothing left to evict the kubelet has nothing to do until the disk is cleaned
        // (no pod can land: the node is tainted).
    }
}
