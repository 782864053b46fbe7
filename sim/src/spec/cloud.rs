//! The cloud provider: instance types, zones, prices, stock, and how long its operations take.

use serde::{Deserialize, Serialize};

use super::cron::Cron;
use super::{Cpu, Memory};
use crate::defaults;
use crate::time::SimDuration;

/// The provider the cluster's machines come from. Without it, nodes are machines that are simply
/// there: they cost nothing and cannot be started, stopped or bought.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CloudSpec {
    /// Whose error texts the operations return.
    #[serde(default)]
    pub provider: Provider,
    /// Zones instances can be placed in.
    pub zones: Vec<String>,
    /// What can be bought.
    pub instance_types: Vec<InstanceTypeSpec>,
    /// Stock per (type, zone, pricing) at the start; anything not listed is never short.
    #[serde(default)]
    pub stock: Vec<StockSpec>,
    /// How long an instance takes from a start (or purchase) until its OS is up.
    #[serde(default = "default_boot")]
    pub boot_time: Range,
    /// How long a booted machine takes to join its cluster (kubelet registered and Ready, or
    /// `docker swarm join` done).
    #[serde(default = "default_join")]
    pub join_time: Range,
    /// How long replacing an instance's system disk (a reimage) takes, before it boots.
    #[serde(default = "default_reimage")]
    pub reimage_time: Range,
}

/// A duration drawn uniformly from `min..=max` each time.
#[derive(Copy, Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Range {
    /// Shortest.
    pub min: SimDuration,
    /// Longest.
    pub max: SimDuration,
}

fn default_boot() -> Range {
    Range { min: SimDuration(defaults::INSTANCE_BOOT_MIN_MS), max: SimDuration(defaults::INSTANCE_BOOT_MAX_MS) }
}
fn default_join() -> Range {
    Range { min: SimDuration(defaults::NODE_JOIN_MIN_MS), max: SimDuration(defaults::NODE_JOIN_MAX_MS) }
}
fn default_reimage() -> Range {
    Range { min: SimDuration(defaults::REIMAGE_MIN_MS), max: SimDuration(defaults::REIMAGE_MAX_MS) }
}

/// Whose API the operations speak.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Provider {
    /// Alibaba Cloud ECS (`OperationDenied.NoStock`).
    #[default]
    Alibaba,
    /// AWS EC2 (`InsufficientInstanceCapacity`).
    Aws,
}

/// An instance type and its prices.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InstanceTypeSpec {
    /// e.g. `ecs.c6.xlarge`.
    pub name: String,
    /// vCPUs a node of this type offers to pods.
    pub cpu: Cpu,
    /// Memory a node of this type offers to pods.
    pub memory: Memory,
    /// Price per hour, on demand (pay-as-you-go).
    pub on_demand_per_hour: f64,
    /// Price per hour as a spot (preemptible) instance.
    pub spot_per_hour: f64,
}

/// How an instance is paid for.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Pricing {
    /// Pay-as-you-go at the list price.
    #[default]
    OnDemand,
    /// Spot / preemptible: cheap, and can be out of stock.
    Spot,
}

impl Pricing {
    /// The word reports use.
    pub fn name(self) -> &'static str {
        match self {
            Pricing::OnDemand => "on-demand",
            Pricing::Spot => "spot",
        }
    }
}

/// Instances of one type, zone and pricing that can be started or bought.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StockSpec {
    /// Instance type.
    pub instance_type: String,
    /// Zone.
    pub zone: String,
    /// Pricing.
    #[serde(default)]
    pub pricing: Pricing,
    /// How many more can be started now.
    pub available: u32,
}

/// A scheduled operation on a pool (a cron job calling the provider's API).
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PoolSchedule {
    /// When, as a crontab line in the scenario's local time.
    pub cron: Cron,
    /// What it does to every node of the pool.
    pub action: PoolAction,
}

/// What a scheduled job does.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PoolAction {
    /// Start the pool's stopped instances.
    Start,
    /// Stop the pool's running instances.
    Stop,
}
