//! The cloud provider: instances started, stopped, bought, rebooted, reimaged and released,
//! with stock and billing, and the pools' scheduled (cron) operations.
//!
//! Each operation answers at once, as the provider's API does (accepted, or refused with its
//! error), and its effect takes time: a started or bought instance boots (`cloud.bootTime`), then
//! joins its cluster (`cloud.joinTime`) before its node is Ready. A start or purchase of a
//! (type, zone, pricing) with stock listed in the scenario takes one from it, and fails with the
//! provider's stockout error when none is left; stopping or releasing gives it back. An instance
//! is billed from the moment it starts until it stops or is released.

use crate::defaults;
use crate::history::ActionRecord;
use crate::ids::{InstanceId, NodeId};
use crate::policy::InstanceChoice;
use crate::rng;
use crate::spec::ClusterKind;
use crate::spec::{PoolAction, Pricing, Provider};
use crate::time::SimTime;
use crate::world::{Event, Instance, InstanceState, Node, World};

impl World {
    /// The provider's stockout error.
    fn no_stock(&self) -> String {
        match self.scenario.spec.cluster.cloud.as_ref().map(|c| c.provider) {
            Some(Provider::Aws) => defaults::AWS_NO_STOCK.to_string(),
            _ => defaults::ALIBABA_NO_STOCK.to_string(),
        }
    }

    /// Takes one from the stock of this (type, zone, pricing), if it is counted.
    fn take_stock(&mut self, ty: Option<u32>, zone: u32, pricing: Pricing) -> Result<(), String> {
        let Some(ty) = ty else { return Ok(()) };
        match self.stock.get_mut(&(ty, zone, pricing)) {
            Some(left) if *left <= 0 => Err(self.no_stock()),
            Some(left) => {
                *left -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Gives one back to the stock of this (type, zone, pricing), if it is counted.
    fn return_stock(&mut self, ty: Option<u32>, zone: u32, pricing: Pricing) {
        if let Some(ty) = ty
            && let Some(left) = self.stock.get_mut(&(ty, zone, pricing))
        {
            *left += 1;
        }
    }

    fn bill_start(&mut self, inst: InstanceId) {
        let now = self.now;
        let i = &mut self.instances[inst];
        if i.billed_since.is_none() {
            i.billed_since = Some(now);
        }
    }

    fn bill_stop(&mut self, inst: InstanceId) {
        let now = self.now;
        let i = &mut self.instances[inst];
        if let Some(since) = i.billed_since.take() {
            i.billed_ms += now.0 - since.0;
        }
    }

    /// Boots `inst` after the boot time (plus `extra`), then it joins.
    fn boot(&mut self, inst: InstanceId, extra: u64) {
        let r = self.scenario.spec.cluster.cloud.as_ref().map(|c| c.boot_time);
        let (lo, hi) =
            r.map_or((defaults::INSTANCE_BOOT_MIN_MS, defaults::INSTANCE_BOOT_MAX_MS), |r| (r.min.ms(), r.max.ms()));
        let boot = rng::uniform_ms(&mut self.rng.cloud, lo, hi);
        let i = &mut self.instances[inst];
        i.state = if extra > 0 { InstanceState::Reimaging } else { InstanceState::Booting };
        i.epoch += 1;
        let epoch = i.epoch;
        self.bill_start(inst);
        self.at(SimTime(self.now.0 + extra + boot), Event::InstanceBooted { inst, epoch });
    }

    /// The instance is up: its agent starts and joins the cluster.
    pub(crate) fn on_instance_booted(&mut self, inst: InstanceId, epoch: u32) {
        if self.instances[inst].epoch != epoch {
            return;
        }
        self.instances[inst].state = InstanceState::Running;
        self.join_later(inst, epoch);
    }

    /// The running machine's agent joins its cluster after the join time.
    pub(crate) fn join_later(&mut self, inst: InstanceId, epoch: u32) {
        let r = self.scenario.spec.cluster.cloud.as_ref().map(|c| c.join_time);
        let (lo, hi) = r.map_or((defaults::NODE_JOIN_MIN_MS, defaults::NODE_JOIN_MAX_MS), |r| (r.min.ms(), r.max.ms()));
        let join = rng::uniform_ms(&mut self.rng.cloud, lo, hi);
        self.at(SimTime(self.now.0 + join), Event::NodeJoined { inst, epoch });
    }

    /// The booted instance's node is Ready: an existing member comes back, a new machine becomes
    /// a new node of its pool.
    pub(crate) fn on_node_joined(&mut self, inst: InstanceId, epoch: u32) {
        let i = &self.instances[inst];
        if i.epoch != epoch || i.state != InstanceState::Running {
            return;
        }
        if let Some(node) = i.node {
            if self.nodes[node].failed {
                // Booted, but a hung daemon stays hung (a reboot clears it: see op_reboot).
                return;
            }
            self.node_up(node);
            return;
        }
        let pool = i.join_pool as usize;
        let cluster = self.pools[pool].cluster as usize;
        if self.leaderless(cluster as u32) {
            // `docker swarm join` needs a leader to admit the node.
            let name = self.instances[inst].name.clone();
            self.history.note(self.now, &name, || format!("swarm join failed: {}", defaults::SWARM_NO_LEADER));
            return;
        }
        let node = self.new_node(inst, pool);
        self.apply_new_node_faults(node);
        if self.clusters[cluster].kind == ClusterKind::Swarm && self.nodes[node].role == crate::spec::NodeRole::Manager
        {
            self.swarm_manager_joined(node);
        } else if !self.nodes[node].failed {
            self.node_up(node);
        }
    }

    /// A fresh Node object for `inst` in `pool` (down until `node_up`).
    fn new_node(&mut self, inst: InstanceId, pool: usize) -> NodeId {
        let name = match self.instances[inst].joins_as.take() {
            Some(name) => name,
            None => self.reserve_name(pool),
        };
        let zone = self.instances[inst].zone;
        let node = self.nodes.push(Node::new(name, &self.pools[pool], pool as u32, inst, zone));
        self.instances[inst].node = Some(node);
        node
    }

    /// The next node name of `pool`.
    pub(crate) fn reserve_name(&mut self, pool: usize) -> String {
        let p = &mut self.pools[pool];
        p.named += 1;
        format!("{}-{}", p.name, p.named)
    }

    /// The instance behind a node, by node name.
    pub(crate) fn instance_of(&self, node: &str) -> Result<(NodeId, InstanceId), String> {
        // Only the node an instance currently is: a reimaged machine's old node is not it.
        let found = self
            .nodes
            .iter()
            .rev()
            .find(|(id, n)| n.name == node && self.instances[n.instance].node == Some(*id))
            .map(|(id, n)| (id, n.instance));
        found.ok_or_else(|| format!("InvalidInstanceId.NotFound: no instance for node \"{node}\""))
    }

    /// `StartInstance`.
    pub(crate) fn op_start(&mut self, node: &str) -> Result<String, String> {
        let (_, inst) = self.instance_of(node)?;
        let i = &self.instances[inst];
        if i.state != InstanceState::Stopped {
            return Err(format!("IncorrectInstanceStatus: {node} is not stopped"));
        }
        let (ty, zone, pricing) = (i.instance_type, i.zone, i.pricing);
        self.take_stock(ty, zone, pricing)?;
        self.boot(inst, 0);
        Ok(format!("{node} starting"))
    }

    /// `StopInstance`.
    pub(crate) fn op_stop(&mut self, node: &str) -> Result<String, String> {
        let (id, inst) = self.instance_of(node)?;
        let i = &mut self.instances[inst];
        if !matches!(i.state, InstanceState::Running | InstanceState::Booting) {
            return Err(format!("IncorrectInstanceStatus: {node} is not running"));
        }
        i.state = InstanceState::Stopped;
        i.epoch += 1;
        let (ty, zone, pricing) = (i.instance_type, i.zone, i.pricing);
        self.bill_stop(inst);
        self.return_stock(ty, zone, pricing);
        self.node_down(id);
        Ok(format!("{node} stopped"))
    }

    /// `RebootInstance`: containers die, the machine boots again, and a node-level DNS fault is
    /// gone (what fixed incident B's workers). A normal reboot shuts the OS down first: on a
    /// Kubernetes node whose docker daemon hangs, systemd waits its stop timeout for it.
    pub(crate) fn op_reboot(&mut self, node: &str, force: bool) -> Result<String, String> {
        let (id, inst) = self.instance_of(node)?;
        if self.instances[inst].state != InstanceState::Running || self.nodes[id].gone {
            return Err(format!("IncorrectInstanceStatus: {node} is not running"));
        }
        if self.nodes[id].health.shutdown_at.is_some() && !force {
            return Err(format!("IncorrectInstanceStatus: {node} is already stopping"));
        }
        if !force && self.is_kube_node(id) && self.nodes[id].health.runtime_hung_since.is_some() {
            self.delay_shutdown(id);
            return Ok(format!("{node} shutting down (docker.service does not stop: systemd waits 90 s for it)"));
        }
        self.reboot_now(id);
        Ok(format!("{node} rebooting"))
    }

    /// The machine of `id` goes down and boots again.
    pub(crate) fn reboot_now(&mut self, id: crate::ids::NodeId) {
        let inst = self.nodes[id].instance;
        self.node_down(id);
        self.nodes[id].dns_broken = false;
        self.nodes[id].failed = false;
        self.boot(inst, 0);
    }

    /// `ReleaseInstance`: the machine is gone and so is its node.
    pub(crate) fn op_release(&mut self, node: &str) -> Result<String, String> {
        let (id, inst) = self.instance_of(node)?;
        let i = &mut self.instances[inst];
        if i.state == InstanceState::Released {
            return Err(format!("InvalidInstanceId.NotFound: {node} is already released"));
        }
        let held = i.state != InstanceState::Stopped;
        i.state = InstanceState::Released;
        i.epoch += 1;
        let (ty, zone, pricing) = (i.instance_type, i.zone, i.pricing);
        self.bill_stop(inst);
        if held {
            self.return_stock(ty, zone, pricing);
        }
        self.node_remove(id);
        Ok(format!("{node} released"))
    }

    /// `ReplaceSystemDisk` and a join into another pool (another cluster).
    pub(crate) fn op_reimage(&mut self, node: &str, into_pool: &str) -> Result<String, String> {
        let (id, inst) = self.instance_of(node)?;
        let Some(pool) = self.pools.iter().position(|p| p.name == into_pool) else {
            return Err(format!("no node pool named `{into_pool}`"));
        };
        if self.instances[inst].state != InstanceState::Running || self.nodes[id].gone {
            return Err(format!("IncorrectInstanceStatus: {node} is not running"));
        }
        self.node_remove(id);
        let joins_as = self.reserve_name(pool);
        let i = &mut self.instances[inst];
        i.node = None;
        i.join_pool = pool as u32;
        i.joins_as = Some(joins_as);
        let r = self.scenario.spec.cluster.cloud.as_ref().map(|c| c.reimage_time);
        let (lo, hi) = r.map_or((defaults::REIMAGE_MIN_MS, defaults::REIMAGE_MAX_MS), |r| (r.min.ms(), r.max.ms()));
        let reimage = rng::uniform_ms(&mut self.rng.cloud, lo, hi);
        self.boot(inst, reimage.max(1));
        Ok(format!("{node} reimaging, will join pool {into_pool}"))
    }

    /// `RunInstances`: `count` new machines for `pool`, each from the first choice with stock.
    pub(crate) fn op_buy(&mut self, pool: &str, count: u32, choices: &[InstanceChoice]) -> Result<String, String> {
        let Some(p) = self.pools.iter().position(|x| x.name == pool) else {
            return Err(format!("no node pool named `{pool}`"));
        };
        if self.nodes.len() + count as usize > defaults::LIMIT_NODES as usize {
            return Err(format!("QuotaExceeded: more than {} nodes", defaults::LIMIT_NODES));
        }
        let cloud = self.scenario.spec.cluster.cloud.clone();
        let Some(cloud) = cloud else {
            return Err("the scenario has no cloud provider to buy from".into());
        };
        let pool_rt = self.pools[p].clone();
        // With no choices, the pool's own type, zone and pricing.
        let default_choice;
        let choices: &[InstanceChoice] = if choices.is_empty() {
            default_choice = [InstanceChoice {
                instance_type: pool_rt.instance_type.map(|t| cloud.instance_types[t as usize].name.clone()),
                zone: Some(self.zones[pool_rt.zone as usize].clone()),
                pricing: pool_rt.pricing,
            }];
            &default_choice
        } else {
            choices
        };
        let mut bought = Vec::new();
        let mut last_err = None;
        for _ in 0..count {
            let mut done = false;
            for c in choices {
                let ty = match &c.instance_type {
                    Some(name) => match cloud.instance_types.iter().position(|t| &t.name == name) {
                        Some(i) => Some(i as u32),
                        None => {
                            last_err = Some(format!("InvalidInstanceType.NotFound: {name}"));
                            continue;
                        }
                    },
                    None => pool_rt.instance_type,
                };
                let zone = match &c.zone {
                    Some(z) => match self.zones.iter().position(|x| x == z) {
                        Some(i) => i as u32,
                        None => {
                            last_err = Some(format!("InvalidZoneId.NotFound: {z}"));
                            continue;
                        }
                    },
                    None => pool_rt.zone,
                };
                if let Err(e) = self.take_stock(ty, zone, c.pricing) {
                    last_err = Some(e);
                    continue;
                }
                let price = ty.map_or(0.0, |t| {
                    let t = &cloud.instance_types[t as usize];
                    match c.pricing {
                        Pricing::OnDemand => t.on_demand_per_hour,
                        Pricing::Spot => t.spot_per_hour,
                    }
                });
                let name = self.reserve_name(p);
                let inst = self.instances.push(Instance {
                    name: name.clone(),
                    instance_type: ty,
                    zone,
                    pricing: c.pricing,
                    price_per_hour: price,
                    state: InstanceState::Booting,
                    billed_since: None,
                    billed_ms: 0,
                    node: None,
                    join_pool: p as u32,
                    joins_as: Some(name),
                    epoch: 0,
                });
                self.boot(inst, 0);
                let ty_name = ty.map_or("-".to_string(), |t| cloud.instance_types[t as usize].name.clone());
                bought.push(format!("{ty_name} {} {}", self.zones[zone as usize], c.pricing.name()));
                done = true;
                break;
            }
            if !done {
                break;
            }
        }
        if bought.is_empty() {
            return Err(last_err.unwrap_or_else(|| self.no_stock()));
        }
        let mut msg = format!("{} of {count} instances created ({})", bought.len(), bought.join(", "));
        if bought.len() < count as usize
            && let Some(e) = last_err
        {
            msg.push_str(&format!("; the rest failed: {e}"));
        }
        Ok(msg)
    }

    /// A pool's scheduled job runs: every node of the pool is started (or stopped), each call
    /// recorded with the provider's answer.
    pub(crate) fn on_cron(&mut self, pool: u32, action: PoolAction) {
        let now = self.now;
        let targets: Vec<String> =
            self.nodes.values().filter(|n| n.pool == pool && !n.gone).map(|n| n.name.clone()).collect();
        let by = format!("cron ({})", self.pools[pool as usize].name);
        for node in targets {
            let inst = self.instance_of(&node).map(|(_, i)| self.instances[i].state);
            let (verb, outcome) = match action {
                PoolAction::Start => {
                    if inst != Ok(InstanceState::Stopped) {
                        continue;
                    }
                    ("start", self.op_start(&node))
                }
                PoolAction::Stop => {
                    if !matches!(inst, Ok(InstanceState::Running | InstanceState::Booting)) {
                        continue;
                    }
                    ("stop", self.op_stop(&node))
                }
            };
            let action = format!("{verb} instance {node}");
            self.history.note(now, &by, || format!("{action}: {}", outcome.as_ref().unwrap_or_else(|e| e)));
            self.history.actions.push(ActionRecord {
                from_policy: false,
                observed: None,
                issued: now,
                done: now,
                by: by.clone(),
                action,
                outcome,
            });
        }
    }
}
