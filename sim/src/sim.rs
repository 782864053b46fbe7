//! The public simulation: build a world from a validated scenario, run it against a policy,
//! hand back the history.

use std::collections::BTreeMap;

use crate::history::{History, InstanceRecord, PodRecord};
use crate::ids::{ConfigMapId, InstanceId, NodeId, ServiceId, WorkloadId};
use crate::policy::{Policy, Request};
use crate::queue::EventQueue;
use crate::rng::{self, Streams};
use crate::spec::{PoolState, Pricing, Scenario, WorkloadKind};
use crate::time::SimTime;
use crate::traffic::Topology;
use crate::validate::{SpecError, selects, validate};
use crate::world::{
    AlertState, ClusterRt, ConfigMap, Container, Event, Instance, InstanceState, NAME_ALPHABET, Node, PendingAction,
    Phase, PoolRt, ProbeCfg, ProbeKind, SchedulerState, Service, Workload, World,
};

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Keep a timeline of notable transitions in the history.
    pub timeline: bool,
    /// Compute each service's availability over time (what the HTML report charts).
    pub series: bool,
    /// Stop the run, with an error, after this many events ([`DEFAULT_MAX_EVENTS`] if `None`):
    /// a scenario whose faults and churn would take minutes is refused in seconds, and says
    /// how to go on.
    pub max_events: Option<u64>,
}

/// Events a run may take unless told otherwise: 2,000,000, a few seconds on one core of a
/// 2-core machine at the costliest events measured (large_day's 20,000 pods take 270,962).
pub const DEFAULT_MAX_EVENTS: u64 = 2_000_000;

/// A simulation in progress. A copy goes on exactly as the original would.
#[derive(Clone)]
pub struct Sim {
    world: World,
    done: bool,
    /// The run's event budget ([`RunOptions::max_events`]).
    max_events: u64,
}

impl Sim {
    /// Validates `scenario` and builds the cluster as it stands at the start: nodes, ConfigMaps,
    /// services, and every workload's pods already placed, running and Ready (the incident
    /// starts from a steady state, not from a cold boot).
    pub fn new(scenario: &Scenario, opts: &RunOptions) -> Result<Sim, Vec<SpecError>> {
        validate(scenario)?;
        let seed = opts.seed.unwrap_or(scenario.spec.seed);
        // Distributions (drawn times, durations, counts, scales) are drawn from the run's seed;
        // from here on the engine sees values only.
        let realized = scenario.realize(seed);
        let scenario = &realized;
        let spec = &scenario.spec;
        let cl = &spec.cluster;
        let cloud = cl.cloud.as_ref();
        let defs = cl.cluster_defs();
        let cluster_idx =
            |name: &str| -> u32 { defs.iter().position(|c| c.name == name).expect("validated reference") as u32 };

        // Zones: the provider's, then any a pool names that the provider does not list.
        let mut zones: Vec<String> = cloud.map(|c| c.zones.clone()).unwrap_or_default();
        let mut pools = Vec::new();
        let mut nodes = crate::ids::Arena::<NodeId, Node>::default();
        let mut instances = crate::ids::Arena::<InstanceId, Instance>::default();
        for (pi, pool) in cl.nodes.iter().enumerate() {
            let zone = match zones.iter().position(|z| z == &pool.zone) {
                Some(i) => i,
                None => {
                    zones.push(pool.zone.clone());
                    zones.len() - 1
                }
            } as u32;
            let (cpu, mem) = pool.size(cloud);
            let instance_type = pool.instance_type.as_ref().map(|t| {
                cloud.expect("validated").instance_types.iter().position(|x| &x.name == t).expect("validated")
            });
            let price = instance_type.map_or(0.0, |i| {
                let t = &cloud.expect("validated").instance_types[i];
                match pool.pricing {
                    Pricing::OnDemand => t.on_demand_per_hour,
                    Pricing::Spot => t.spot_per_hour,
                }
            });
            let cluster = cluster_idx(cl.cluster_of(pool.cluster.as_deref()));
            pools.push(PoolRt {
                name: pool.pool.clone(),
                cluster,
                role: pool.role,
                availability: pool.availability,
                instance_type: instance_type.map(|i| i as u32),
                zone,
                pricing: pool.pricing,
                cpu: cpu.0,
                mem: mem.0,
                max_pods: pool.max_pods,
                labels: pool.labels.clone(),
                live_restore: pool.live_restore,
                taints: pool.taints.clone(),
                named: pool.count,
            });
            let running = pool.state == PoolState::Running;
            for n in 1..=pool.count {
                let inst = instances.push(Instance {
                    name: format!("{}-{n}", pool.pool),
                    instance_type: instance_type.map(|i| i as u32),
                    zone,
                    pricing: pool.pricing,
                    price_per_hour: price,
                    state: if running { InstanceState::Running } else { InstanceState::Stopped },
                    billed_since: running.then_some(SimTime::ZERO),
                    billed_ms: 0,
                    node: None,
                    join_pool: pi as u32,
                    joins_as: None,
                    epoch: 0,
                });
                let mut node = Node::new(format!("{}-{n}", pool.pool), &pools[pi], pi as u32, inst, zone);
                node.up = running;
                if !running && defs[pools[pi].cluster as usize].kind == crate::spec::ClusterKind::Kubernetes {
                    // A stopped machine's node is NotReady (Unknown) in the API.
                    node.health.condition = crate::world::ReadyCond::Unknown;
                    node.health.reporting = false;
                    node.health.acted = false;
                    node.health.reason = "NodeStatusUnknown: Kubelet stopped posting node status.";
                }
                let node = nodes.push(node);
                instances[inst].node = Some(node);
            }
        }
        let mut stock = BTreeMap::new();
        if let Some(c) = cloud {
            for s in &c.stock {
                let t = c.instance_types.iter().position(|x| x.name == s.instance_type).expect("validated") as u32;
                let z = zones.iter().position(|x| *x == s.zone).expect("validated") as u32;
                stock.insert((t, z, s.pricing), i64::from(s.available));
            }
        }
        let clusters: Vec<ClusterRt> = defs
            .iter()
            .enumerate()
            .map(|(i, d)| ClusterRt {
                name: d.name.clone(),
                kind: d.kind,
                live_nodes: nodes.values().filter(|n| n.cluster == i as u32 && n.schedulable()).count() as u32,
                dns_broken_for_new: false,
                kubelet_broken_for_new: false,
                leader: false,
                election_epoch: 0,
                electing: false,
                def: d.clone(),
                fail_next_joins: 0,
            })
            .collect();

        let mut config_maps = crate::ids::Arena::<ConfigMapId, ConfigMap>::default();
        for cm in &cl.config_maps {
            config_maps.push(ConfigMap { name: cm.name.clone(), version: 1, refreshed: 1 });
        }
        let cm_id = |name: &str| -> ConfigMapId {
            ConfigMapId::from(cl.config_maps.iter().position(|c| c.name == name).expect("validated reference"))
        };
        let svc_id = |name: &str| -> ServiceId {
            ServiceId::from(cl.services.iter().position(|s| s.name == name).expect("validated reference"))
        };

        let mut services = crate::ids::Arena::<ServiceId, Service>::default();
        let service = |name: &str, cluster: u32, retries: Option<&crate::spec::RetrySpec>| Service {
            retries: retries.map(|r| (r.timeout_seconds, r.attempts, r.budget)),
            name: name.to_string(),
            cluster,
            workloads: Vec::new(),
            backend_of: Vec::new(),
            share: 0.0,
            backlog: Default::default(),
            ready_endpoints: 0,
            capacity_mrps: 0,
            dead_mrps: 0,
            probe_dependents: Vec::new(),
        };
        for s in &cl.services {
            services.push(service(&s.name, cluster_idx(cl.service_cluster(s)), s.retries.as_ref()));
        }
        for lb in &cl.load_balancers {
            let first = lb.backends.first().map(|b| services[svc_id(&b.service)].cluster).unwrap_or(0);
            services.push(service(&lb.name, first, None));
        }

        let mut workloads = crate::ids::Arena::<WorkloadId, Workload>::default();
        for ws in &cl.workloads {
            let labels = ws.pod_labels();
            let cluster = cluster_idx(cl.cluster_of(ws.cluster.as_deref()));
            let probe = |p: &Option<crate::spec::ProbeSpec>| {
                p.as_ref().map(|p| ProbeCfg {
                    initial_delay_ms: u64::from(p.initial_delay_seconds) * 1000,
                    period_ms: u64::from(p.period_seconds) * 1000,
                    success_threshold: p.success_threshold,
                    failure_threshold: p.failure_threshold,
                    calls: p.calls.iter().map(|c| svc_id(c)).collect(),
                })
            };
            // The timeout a probe's answer must come within (see controllers/saturation.rs).
            let saturation = |p: &Option<crate::spec::ProbeSpec>| p.as_ref().map(|p| f64::from(p.timeout_seconds));
            let mut volume_names = Vec::new();
            let mut subpath_mounts = Vec::new();
            for m in &ws.mounts {
                volume_names.push(m.name.clone());
                if m.sub_path.is_some() {
                    subpath_mounts.push((cm_id(&m.config_map), (volume_names.len() - 1) as u32));
                }
            }
            let w_services: Vec<ServiceId> = cl
                .services
                .iter()
                .enumerate()
                .filter(|(i, s)| services[ServiceId::from(*i)].cluster == cluster && selects(&s.selector, &labels))
                .map(|(i, _)| ServiceId::from(i))
                .collect();
            let id = workloads.push(Workload {
                name: ws.name.clone(),
                labels,
                disruption_budget: ws.disruption_budget.clone(),
                kind: ws.kind,
                cluster,
                node_selector: ws.node_selector.clone(),
                tolerations: ws.tolerations.clone(),
                affinity: ws.node_affinity.clone(),
                resolves_at_start: ws.resolves_at_start.first().cloned(),
                warmup: ws.warmup.as_ref().map(|wu| (wu.duration.ms(), wu.from)),
                volume_attach_ms: ws
                    .persistent_volume
                    .as_ref()
                    .map(|pv| pv.attach_time.map_or(crate::defaults::VOLUME_ATTACH_MS, |t| t.ms())),
                saturation: [
                    saturation(&ws.startup_probe),
                    saturation(&ws.liveness_probe),
                    saturation(&ws.readiness_probe),
                ],
                replicas: if ws.kind == WorkloadKind::DaemonSet { 0 } else { ws.replica_count() },
                cpu: ws.requests.cpu.0,
                mem: ws.requests.memory.0,
                capacity_mrps: (ws.capacity_rps * 1000.0).round() as u64,
                start_range: ws.start_range_ms(),
                grace_ms: u64::from(ws.termination_grace_period_seconds) * 1000,
                shutdown_ms: ws.shutdown_time.ms(),
                restart_policy: ws.restart_policy,
                probes: [probe(&ws.startup_probe), probe(&ws.liveness_probe), probe(&ws.readiness_probe)],
                subpath_mounts,
                volume_names,
                services: w_services,
                cpu_base: ws.cpu_demand.map_or(0, |d| d.base.0),
                cpu_per_rps: ws.cpu_demand.map_or(0, |d| d.per_rps.0),
                reschedule: ws.reschedule == crate::spec::Reschedule::OnNodeFailure,
                anti_affinity: ws.anti_affinity,
                ghosts: 0,
                active: Default::default(),
                all_pods: Vec::new(),
                template_hash: template_hash(&ws.name),
                crashlooping: 0,
                crashloop_seen: None,
            });
            let w = &workloads[id];
            for &s in &w.services {
                services[s].workloads.push(id);
            }
            for cfg in w.probes.iter().flatten() {
                for &s in &cfg.calls {
                    if !services[s].probe_dependents.contains(&id) {
                        services[s].probe_dependents.push(id);
                    }
                }
            }
        }

        let topology = Topology::new(scenario);
        let alerts = spec
            .monitoring
            .alerts
            .iter()
            .map(|a| {
                let n = match a.condition {
                    crate::spec::AlertCondition::ServiceDown => services.len(),
                    crate::spec::AlertCondition::PodCrashLooping => workloads.len(),
                };
                vec![AlertState::default(); n]
            })
            .collect();
        let history = History::for_scenario(scenario, opts.timeline);
        debug_assert_eq!(history.capacity.len(), services.len());
        let mut world = World {
            now: SimTime::ZERO,
            end: SimTime(spec.duration.ms()),
            queue: EventQueue::default(),
            rng: Streams::new(seed),
            scenario: scenario.clone(),
            subpath_bug: cl.subpath_bug_active(),
            clusters,
            pools,
            zone_counts: vec![Default::default(); zones.len()],
            zones,
            nodes,
            instances,
            stock,
            lbs: Vec::new(),
            pods: Default::default(),
            pod_by_name: BTreeMap::new(),
            volumes: Vec::new(),
            claims: BTreeMap::new(),
            workloads,
            services,
            config_maps,
            topology,
            sched: SchedulerState::default(),
            alerts,
            actions: Vec::new(),
            wake_epoch: 0,
            scrape_phase: 0,
            history,
            fail_on_join: Default::default(),
            pending_moves: Default::default(),
            leaderless_starts: 0,
            initial_placement: false,
            drain_planned: Vec::new(),
            drains: Vec::new(),
            taint_queues: Default::default(),
            fault_keys: crate::rng::fault_keys(&spec.faults),
            cpu_model: cl.workloads.iter().any(|w| w.cpu_demand.is_some()),
        };
        for c in 0..world.clusters.len() {
            if world.clusters[c].kind == crate::spec::ClusterKind::Swarm {
                // The swarm has been running: its leader is there (if a quorum is).
                world.clusters[c].leader = world.swarm_has_quorum(c as u32);
            }
        }

        // The steady state at the start: every replica placed by its scheduler and running.
        world.at(world.end, Event::End);
        for w in world.workloads.ids().collect::<Vec<_>>() {
            if world.workloads[w].kind == WorkloadKind::DaemonSet {
                world.daemonset_sync(w);
            } else {
                for _ in 0..world.workloads[w].replicas {
                    world.create_pod(w);
                }
            }
        }
        let queued: Vec<_> = std::mem::take(&mut world.sched.queue).into();
        world.initial_placement = true;
        for pod in &queued {
            match world.pick_node(*pod) {
                Ok(node) => {
                    world.bind(*pod, node);
                    world.warm_pod(*pod);
                }
                Err(reason) => world.unschedulable(*pod, reason),
            }
        }
        world.initial_placement = false;
        for pod in &queued {
            world.refresh_endpoints(*pod);
            world.refresh_status(*pod);
        }
        for pod in &queued {
            if matches!(world.pods[*pod].container, Container::Running) {
                world.probes_inputs_changed(*pod);
            }
        }
        // Load balancers see their backends as they stand, and the saturation watches start.
        world.init_load_balancers();
        world.init_saturation();
        for (i, f) in spec.faults.iter().enumerate() {
            let at = f.at().resolve(&spec.start);
            world.at(at, Event::Fault(i));
        }
        for (p, pool) in cl.nodes.iter().enumerate() {
            for job in &pool.schedule {
                for at in job.cron.firings(&spec.start, world.end) {
                    world.at(at, Event::Cron { pool: p as u32, action: job.action });
                }
            }
        }
        // Prometheus' timers run with their own phases; the policy gets its first look at once.
        let mon = &spec.monitoring;
        world.scrape_phase = rng::uniform_ms(&mut world.rng.monitoring, 0, mon.scrape_interval.ms() - 1);
        let eval_phase = rng::uniform_ms(&mut world.rng.monitoring, 0, mon.evaluation_interval.ms() - 1);
        world.at(SimTime(eval_phase), Event::Monitor);
        world.at(SimTime::ZERO, Event::PolicyWake { epoch: 0 });
        Ok(Sim { world, done: false, max_events: opts.max_events.unwrap_or(DEFAULT_MAX_EVENTS) })
    }

    /// Current virtual time.
    pub fn now(&self) -> SimTime {
        self.world.now
    }

    /// Processes the next event; false once the run is over.
    pub fn step(&mut self, policy: &mut dyn Policy) -> bool {
        if self.done || self.world.history.aborted.is_some() {
            return false;
        }
        if self.world.queue.popped() >= self.max_events {
            self.world.history.aborted = Some(format!(
                "the run reached {} events, its limit, at {} (raise it with --max-events)",
                self.max_events,
                self.world.scenario.spec.start.clock_at(self.world.now)
            ));
            return false;
        }
        let Some((t, event)) = self.world.queue.pop() else {
            self.done = true;
            return false;
        };
        let w = &mut self.world;
        w.now = t;
        match event {
            Event::End => {
                self.done = true;
                return false;
            }
            Event::Fault(i) => w.on_fault(i),
            Event::Schedule => w.on_schedule(),
            Event::StartDone { pod, epoch } => w.on_start_done(pod, epoch),
            Event::VolumeAttached { vol, epoch } => w.on_volume_attached(vol, epoch),
            Event::VolumeDetached { vol, epoch } => w.on_volume_detached(vol, epoch),
            Event::WarmupStep { pod, epoch, step } => w.on_warmup_step(pod, epoch, step),
            Event::ProbeWaits { svc, epoch } => w.on_probe_waits(svc, epoch),
            Event::ProbeWaitsEnd { pod, epoch } => w.on_probe_waits_end(pod, epoch),
            Event::Restart { pod, epoch } => w.on_restart_due(pod, epoch),
            Event::Probe { pod, kind, epoch } => w.on_probe(pod, kind, epoch),
            Event::Stopped { pod, epoch } => w.on_stopped(pod, epoch),
            Event::VolumeRefresh { cm, version } => w.on_volume_refresh(cm, version),
            Event::PodGc => w.on_podgc(),
            Event::Action { idx } => w.on_action(idx),
            Event::InstanceBooted { inst, epoch } => w.on_instance_booted(inst, epoch),
            Event::NodeJoined { inst, epoch } => w.on_node_joined(inst, epoch),
            Event::Cron { pool, action } => w.on_cron(pool, action),
            Event::SwarmNodeDown { node, epoch } => w.on_swarm_node_down(node, epoch),
            Event::ClassicNodeFailed { node, epoch } => w.on_classic_node_failed(node, epoch),
            Event::ManagerReachable { node, epoch } => w.on_manager_reachable(node, epoch),
            Event::LeaderElected { cluster, epoch } => w.on_leader_elected(cluster, epoch),
            Event::CpuCross { node, epoch } => w.on_cpu_cross(node, epoch),
            Event::AgentStall { node, epoch } => w.on_agent_stall(node, epoch),
            Event::CpuBacklog { node, epoch } => w.on_cpu_backlog(node, epoch),
            Event::StaleRecordExpired { svc, mrps } => w.on_stale_record_expired(svc, mrps),
            Event::LbCheck { lb, backend, epoch } => w.on_lb_check(lb, backend, epoch),
            Event::BacklogWake { svc, epoch } => w.on_backlog_wake(svc, epoch),
            Event::Backlog { pod, epoch } => w.on_backlog(pod, epoch),
            Event::NodeCheck { node, epoch } => w.on_node_check(node, epoch),
            Event::ZoneTaint { cluster, zone } => w.on_zone_taint(cluster, zone),
            Event::NodeEvict { node, epoch } => w.on_node_evict(node, epoch),
            Event::AgentTimer { node, epoch } => w.on_agent_timer(node, epoch),
            Event::PressureCheck { node, epoch } => w.on_pressure_check(node, epoch),
            Event::DrainTick { idx } => w.on_drain_tick(idx),
            Event::Monitor => {
                w.on_monitor();
                self.consult(policy);
            }
            Event::PolicyWake { epoch } => {
                if epoch == w.wake_epoch {
                    self.consult(policy);
                }
            }
        }
        true
    }

    /// Lets the policy look and act.
    fn consult(&mut self, policy: &mut dyn Policy) {
        let decision = policy.decide(&self.world);
        let w = &mut self.world;
        let now = w.now;
        if let Some(e) = decision.error {
            // The policy cannot go on (a plug-in crashed or answered nonsense): the run ends
            // here, and says why.
            w.history.aborted = Some(e);
            return;
        }
        for u in decision.unresolved {
            w.history.note(now, &u.by, || format!("{}: {}", u.action, u.error));
            w.history.actions.push(crate::history::ActionRecord {
                from_policy: true,
                observed: None,
                issued: now,
                done: now,
                by: u.by,
                action: u.action,
                outcome: Err(u.error),
            });
        }
        for request in decision.actions {
            let idx = w.actions.len();
            w.actions.push(PendingAction { request: Request { ..request }, issued: now });
            w.at(now.after(w.scenario.spec.cluster.control_plane.api_latency), Event::Action { idx });
        }
        if let Some(at) = decision.wake_at
            && at > now
            && at < w.end
        {
            w.wake_epoch += 1;
            let epoch = w.wake_epoch;
            w.at(at, Event::PolicyWake { epoch });
        }
    }

    /// Runs to the end and returns the history.
    pub fn run(mut self, policy: &mut dyn Policy) -> History {
        while self.step(policy) {}
        self.finish()
    }

    /// The history so far, with every pod's record.
    pub fn finish(self) -> History {
        let mut w = self.world;
        w.close_drains();
        let mut h = w.history;
        h.end = if self.done { w.end } else { w.now };
        h.events = w.queue.popped();
        let end = h.end;
        let cloud = w.scenario.spec.cluster.cloud.as_ref();
        h.instances = w
            .instances
            .values()
            .map(|i| {
                let ms = i.billed_ms + i.billed_since.map_or(0, |s| end.0.saturating_sub(s.0));
                let hours = ms as f64 / crate::time::HOUR as f64;
                InstanceRecord {
                    name: i.name.clone(),
                    instance_type: i
                        .instance_type
                        .and_then(|t| cloud.map(|c| c.instance_types[t as usize].name.clone())),
                    pricing: i.pricing.name().to_string(),
                    hours,
                    spend: hours * i.price_per_hour,
                }
            })
            .collect();
        h.pods = w
            .pods
            .values()
            .map(|p| PodRecord {
                name: p.name.clone(),
                workload: w.workloads[p.workload].name.clone(),
                node: p.node.map(|n| w.nodes[n].name.clone()),
                created: p.created,
                deleted: p.deleted_at,
                restarts: p.restarts,
                status: p.status.to_string(),
            })
            .collect();
        h
    }

    /// Checks the model's bookkeeping against a recount from scratch. Used by the property
    /// tests after every event; cheap enough for small clusters only.
    pub fn check_invariants(&self) -> Result<(), String> {
        let w = &self.world;
        w.sched_cache_check()?;
        for (id, n) in w.nodes.iter() {
            let bound: Vec<_> = w
                .pods
                .iter()
                .filter(|(_, p)| p.node == Some(id) && matches!(p.phase, Phase::Bound | Phase::Terminating))
                .collect();
            let cpu: u64 = bound.iter().map(|(_, p)| w.workloads[p.workload].cpu).sum();
            let mem: u64 = bound.iter().map(|(_, p)| w.workloads[p.workload].mem).sum();
            if cpu != n.req_cpu || mem != n.req_mem || bound.len() != n.pods.len() {
                return Err(format!("node {}: accounting drifted ({cpu}m vs {}m)", n.name, n.req_cpu));
            }
            for (wid, _) in w.workloads.iter() {
                let active =
                    bound.iter().filter(|(pid, p)| p.workload == wid && w.workloads[wid].active.contains(pid)).count();
                if active as u32 != n.by_workload.get(wid) {
                    return Err(format!("node {}: spread counts drifted", n.name));
                }
            }
            if n.req_cpu > n.cpu || n.req_mem > n.mem || n.pods.len() as u32 > n.max_pods {
                return Err(format!("node {} holds more than it has", n.name));
            }
            if !n.running() {
                for (_, p) in &bound {
                    if matches!(
                        p.container,
                        Container::Running | Container::Starting { .. } | Container::Stopping { .. }
                    ) {
                        return Err(format!("pod {} runs on vanished node {}", p.name, n.name));
                    }
                }
            }
        }
        for (sid, s) in w.services.iter() {
            let (mut ep, mut cap) = (0u32, 0u64);
            for (_, p) in w.pods.iter() {
                if w.workloads[p.workload].services.contains(&sid) {
                    ep += u32::from(p.in_endpoints);
                    cap += if p.serving { p.capacity_mrps } else { 0 };
                }
            }
            if ep != s.ready_endpoints || cap != s.capacity_mrps {
                return Err(format!("service {}: endpoints drifted", s.name));
            }
        }
        w.lb_invariant()?;
        if w.leaderless_starts > 0 {
            return Err(format!("{} swarm task(s) started without a leader", w.leaderless_starts));
        }
        for (i, c) in w.clusters.iter().enumerate() {
            if c.kind == crate::spec::ClusterKind::Swarm && c.leader && !w.swarm_has_quorum(i as u32) {
                return Err(format!("cluster {} has a leader without a quorum", c.name));
            }
        }
        for (&(t, z, p), &left) in &w.stock {
            if left < 0 {
                return Err(format!("stock of type {t} zone {z} {} went negative ({left})", p.name()));
            }
        }
        for (_, i) in w.instances.iter() {
            let node = i.node.map(|n| &w.nodes[n]);
            match i.state {
                InstanceState::Stopped | InstanceState::Booting | InstanceState::Reimaging => {
                    if node.is_some_and(|n| n.up) {
                        return Err(format!("instance {} is not running but its node is up", i.name));
                    }
                }
                InstanceState::Released => {
                    if node.is_some_and(|n| !n.gone) {
                        return Err(format!("instance {} is released but its node is still a member", i.name));
                    }
                }
                InstanceState::Running => {}
            }
        }
        for (i, c) in w.clusters.iter().enumerate() {
            let live = w.nodes.values().filter(|n| n.schedulable() && n.cluster as usize == i).count();
            if live as u32 != c.live_nodes {
                return Err(format!("cluster {}: schedulable node count drifted", c.name));
            }
        }
        for (_, wl) in w.workloads.iter() {
            let crashlooping =
                wl.all_pods.iter().filter(|&&p| w.pods[p].status == crate::world::PodStatus::CrashLoopBackOff).count();
            if crashlooping as u32 != wl.crashlooping {
                return Err(format!("workload {}: crash-loop count drifted", wl.name));
            }
        }
        for (_, p) in w.pods.iter() {
            if p.serving && !matches!(p.container, Container::Running) {
                return Err(format!("pod {} serves without a running container", p.name));
            }
            for kind in ProbeKind::ALL {
                let rt = &p.probes[kind as usize];
                if rt.active && !matches!(p.container, Container::Running) {
                    return Err(format!("pod {} probes a container that is not running", p.name));
                }
            }
        }
        Ok(())
    }
}

/// A stable pod-template-hash for pod names (FNV-1a, in the name alphabet).
fn template_hash(name: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let mut s = String::new();
    for _ in 0..10 {
        s.push(NAME_ALPHABET[(h % NAME_ALPHABET.len() as u32) as usize] as char);
        h /= NAME_ALPHABET.len() as u32;
        if h == 0 {
            break;
        }
    }
    s
}
