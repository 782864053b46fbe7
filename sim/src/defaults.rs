//! Defaults taken from the real systems, each with its source.
//!
//! A scenario overrides the settings a cluster operator can change: kubelet backoff and sync
//! (`cluster.kubelet`), the scheduler's sampling and default spreading (`cluster.scheduler`),
//! API latency and PodGC timing (`cluster.controlPlane`), probe settings, grace periods and
//! `maxPods` (per workload or pool), alert evaluation (`monitoring`) and the outage threshold
//! (`slo`). The rest are the fixed behaviour of the components: plugin weights, the default
//! spread skews, the adaptive sampling formula, the scheduler's retry backoff, and the limits.
//!
//! Constants marked *Assumption* have no authoritative figure; they say so, and a scenario that
//! depends on them should state its own value.

use crate::time::{MINUTE, SECOND};

/// First CrashLoopBackOff delay after the immediate first restart: 10 s.
/// Source: kubernetes.io docs, concepts/workloads/pods/pod-lifecycle ("Container restarts");
/// kubelet `backOffPeriod`.
pub const CRASHLOOP_BACKOFF_INITIAL_MS: u64 = 10 * SECOND;

/// CrashLoopBackOff cap: 300 s. Source: pod-lifecycle docs; kubelet `MaxContainerBackOff`.
pub const CRASHLOOP_BACKOFF_MAX_MS: u64 = 300 * SECOND;

/// A container that ran this long without trouble starts over at the initial backoff: 10 min.
/// Source: pod-lifecycle docs ("resets ... after the container has run for 10 minutes").
pub const CRASHLOOP_BACKOFF_RESET_MS: u64 = 10 * MINUTE;

/// Probe `initialDelaySeconds` default: 0. Source: kubernetes.io docs,
/// tasks/configure-pod-container/configure-liveness-readiness-startup-probes.
pub const PROBE_INITIAL_DELAY_SECONDS: u32 = 0;
/// Probe `periodSeconds` default: 10. Source: as above.
pub const PROBE_PERIOD_SECONDS: u32 = 10;
/// Probe `timeoutSeconds` default: 1. Source: as above.
pub const PROBE_TIMEOUT_SECONDS: u32 = 1;
/// Probe `successThreshold` default: 1 (and must be 1 for liveness and startup). Source: as above.
pub const PROBE_SUCCESS_THRESHOLD: u32 = 1;
/// Probe `failureThreshold` default: 3. Source: as above.
pub const PROBE_FAILURE_THRESHOLD: u32 = 3;

/// `terminationGracePeriodSeconds` default: 30. Source: pod-lifecycle docs ("Termination of Pods").
pub const TERMINATION_GRACE_PERIOD_SECONDS: u32 = 30;

/// Upper end of the container start latency: 5 s, the pod startup SLO (p99 for a stateless pod
/// with its image already present). Source: kubernetes/community,
/// sig-scalability/slos/pod_startup_latency.md.
pub const POD_STARTUP_SLO_P99_MS: u64 = 5 * SECOND;

/// Lower end of the container start latency: 1 s. *Assumption*: no authoritative figure; a
/// container create plus process start rarely takes less.
pub const CONTAINER_START_MIN_MS: u64 = SECOND;

/// kubelet `syncFrequency`: 1 min. A changed ConfigMap reaches mounted volumes within about one
/// sync period (plus cache propagation). Source: kubernetes.io docs, concepts/configuration/configmap
/// ("Mounted ConfigMaps are updated automatically"), kubelet config defaults.
pub const KUBELET_SYNC_FREQUENCY_MS: u64 = MINUTE;

/// The Kubernetes release whose kubelet no longer fails container restarts after a subPath
/// ConfigMap changed: 1.19 (k8s PR 89629, fixing kubernetes issue 68211; the 1.16-1.18
/// backports were reverted).
pub const SUBPATH_RESTART_FIX: (u32, u32) = (1, 19);

/// PodGC `gcCheckPeriod`: 20 s. Source: k8s pkg/controller/podgc/gc_controller.go.
pub const POD_GC_PERIOD_MS: u64 = 20 * SECOND;

/// PodGC `quarantineTime`: 40 s; a node missing from PodGC's cache is checked again after this
/// long before its pods are deleted. Source: k8s pkg/controller/podgc/gc_controller.go.
pub const POD_GC_QUARANTINE_MS: u64 = 40 * SECOND;

/// kube-scheduler plugin weights. Source: k8s pkg/scheduler/apis/config/v1/default_plugins.go.
pub const WEIGHT_NODE_RESOURCES_FIT: u32 = 1;
/// BalancedAllocation weight: 1 (same source).
pub const WEIGHT_BALANCED_ALLOCATION: u32 = 1;
/// PodTopologySpread weight: 2 (same source).
pub const WEIGHT_POD_TOPOLOGY_SPREAD: u32 = 2;
/// TaintToleration weight: 3 (same source).
pub const WEIGHT_TAINT_TOLERATION: u32 = 3;
/// NodeAffinity weight: 2 (same source).
pub const WEIGHT_NODE_AFFINITY: u32 = 2;

/// Default topology spread: `kubernetes.io/hostname` maxSkew 3, ScheduleAnyway.
/// Source: kubernetes.io docs, concepts/scheduling-eviction/topology-spread-constraints
/// ("Cluster-level default constraints").
pub const DEFAULT_SPREAD_HOSTNAME_MAX_SKEW: u32 = 3;
/// Default topology spread: `topology.kubernetes.io/zone` maxSkew 5, ScheduleAnyway (same source).
pub const DEFAULT_SPREAD_ZONE_MAX_SKEW: u32 = 5;

/// kube-scheduler stops looking for feasible nodes after `numFeasibleNodesToFind`; with
/// `percentageOfNodesToScore` unset the percentage is `50 - nodes/125`, at least 5, and at least
/// 100 nodes are examined. Source: k8s pkg/scheduler/schedule_one.go (numFeasibleNodesToFind);
/// kubernetes.io docs, concepts/scheduling-eviction/scheduler-perf-tuning.
pub const SCHEDULER_MIN_FEASIBLE_NODES: u32 = 100;
/// Lower bound of the adaptive percentage: 5 (same source).
pub const SCHEDULER_MIN_FEASIBLE_PERCENT: u32 = 5;
/// Base of the adaptive percentage: 50 (same source).
pub const SCHEDULER_BASE_PERCENT: u32 = 50;

/// Scheduler retry backoff for an unschedulable pod: 1 s doubling to 10 s.
/// Source: kube-scheduler `podInitialBackoffSeconds` 1, `podMaxBackoffSeconds` 10.
pub const SCHEDULER_BACKOFF_INITIAL_MS: u64 = SECOND;
/// See [`SCHEDULER_BACKOFF_INITIAL_MS`].
pub const SCHEDULER_BACKOFF_MAX_MS: u64 = 10 * SECOND;

/// kubelet `maxPods` default: 110. Source: kubelet configuration reference; kubernetes.io docs,
/// setup/best-practices/cluster-large ("No more than 110 pods per node").
pub const MAX_PODS_PER_NODE: u32 = 110;

/// Prometheus `evaluation_interval` default: 1 min; alert rules are evaluated this often.
/// Source: prometheus.io docs, configuration ("global: evaluation_interval ... default = 1m").
pub const ALERT_EVALUATION_INTERVAL_MS: u64 = MINUTE;

/// The PodCrashLooping alert looks back this far: a workload counts as crash-looping while a pod
/// was in CrashLoopBackOff at any time in the last 5 minutes. Source: kubernetes-mixin
/// KubePodCrashLooping, `max_over_time(kube_pod_container_status_waiting_reason{reason=
/// "CrashLoopBackOff"}[5m]) >= 1`.
pub const CRASHLOOP_ALERT_WINDOW_MS: u64 = 5 * MINUTE;

/// Prometheus `scrape_interval` default: 1 min; alert rules see the state as of the last scrape.
/// Source: prometheus.io docs, configuration ("global: scrape_interval ... default = 1m").
pub const SCRAPE_INTERVAL_MS: u64 = MINUTE;

/// How long an API call (`kubectl delete pod`, a scale) takes to take effect once issued.
/// *Assumption*: no authoritative figure; a round trip to the API server is well under a second
/// on a healthy control plane.
pub const API_CALL_LATENCY_MS: u64 = 500;

/// An outage is an interval in which a service serves less than this share of its offered
/// requests: 0.5. capsize's own convention (the foundation issue); a scenario sets its own.
pub const OUTAGE_BELOW: f64 = 0.5;

/// Size limits from "Considerations for large clusters" (kubernetes.io docs,
/// setup/best-practices/cluster-large): at most 5,000 nodes ...
pub const LIMIT_NODES: u32 = 5_000;
/// ... and at most 150,000 pods in total (same source).
pub const LIMIT_PODS: u32 = 150_000;

/// Shortest boot of a cloud instance, from a start or a purchase until its OS is up: 25 s.
/// *Typical value*, no authoritative figure: EC2 boots to SSH in about 25-30 s (daemonology.net
/// EC2 boot time benchmarking, 2021).
pub const INSTANCE_BOOT_MIN_MS: u64 = 25 * SECOND;
/// Longest boot: 2 min. *Typical value*: "one to two minutes" for a cloud VM in general (ADMIN
/// magazine 65).
pub const INSTANCE_BOOT_MAX_MS: u64 = 2 * MINUTE;

/// Shortest time from a booted machine to its node being Ready in the cluster: 15 s. *Typical
/// value*: launch to Kubernetes node Ready measures 41-65 s (aws-samples cold-start analysis),
/// of which boot is about 25-30 s, leaving roughly 15-35 s for the kubelet to start and register.
pub const NODE_JOIN_MIN_MS: u64 = 15 * SECOND;
/// Longest join: 35 s (same derivation).
pub const NODE_JOIN_MAX_MS: u64 = 35 * SECOND;

/// Shortest reimage (replacing an instance's system disk) before it boots again: 3 min.
/// *Assumption*: no published figure; a disk replacement from an image takes minutes.
pub const REIMAGE_MIN_MS: u64 = 3 * MINUTE;
/// Longest reimage: 6 min (same assumption).
pub const REIMAGE_MAX_MS: u64 = 6 * MINUTE;

/// Load balancer health check interval: 2 s. Source: Alibaba Cloud CLB "FAQ about health
/// checks", recommended settings for TCP/HTTP/HTTPS listeners (interval 2 s, healthy and
/// unhealthy thresholds 3, response timeout 5 s).
pub const LB_HEALTH_CHECK_INTERVAL_MS: u64 = 2 * SECOND;
/// Consecutive passing checks before a backend is marked up: 3 (same source).
pub const LB_HEALTHY_THRESHOLD: u32 = 3;
/// Consecutive failing checks before a backend is marked down: 3 (same source).
pub const LB_UNHEALTHY_THRESHOLD: u32 = 3;

/// Swarm mode's delay before a failed task is restarted: 5 s. Source: docker docs, `docker service
/// create --restart-delay` (default 5s); swarmkit api `RestartPolicy.Delay`.
pub const SWARM_RESTART_DELAY_MS: u64 = 5 * SECOND;

/// A swarm node is marked down after missing heartbeats: the heartbeat period is 5 s and the
/// dispatcher allows 3 periods, each jittered by up to 10%, so 13.5-16.5 s. Source: swarmkit
/// manager/dispatcher (`DefaultHeartBeatPeriod` 5s, `defaultHeartBeatEpsilon` 500ms,
/// `defaultGracePeriodMultiplier` 3).
pub const SWARM_NODE_DOWN_MIN_MS: u64 = 13_500;
/// See [`SWARM_NODE_DOWN_MIN_MS`].
pub const SWARM_NODE_DOWN_MAX_MS: u64 = 16_500;

/// The text swarm mode returns for any operation while the managers have no quorum. Source:
/// swarmkit manager/state/raft/raft.go (`ErrNoClusterLeader` as the CLI shows it).
pub const SWARM_NO_LEADER: &str = "Error response from daemon: rpc error: code = Unknown desc = The swarm does not have \
                                   a leader. It's possible that too few managers are online. Make sure more than half \
                                   of the managers are online.";

/// How long a manager that joins swarm mode takes before its Raft member answers: 2-10 s.
/// *Assumption*: no authoritative figure; the join issues a TLS certificate, starts a Raft node
/// and receives a snapshot, which for a small swarm takes seconds. Until then the new member
/// counts toward the quorum's size but casts no vote.
pub const SWARM_MANAGER_JOIN_MIN_MS: u64 = 2 * SECOND;
/// See [`SWARM_MANAGER_JOIN_MIN_MS`].
pub const SWARM_MANAGER_JOIN_MAX_MS: u64 = 10 * SECOND;

/// Raft election timeout of swarm mode's managers: `ElectionTick` 10 ticks of 1 s
/// (`HeartbeatTick` 1), randomised by etcd's raft library over `[election, 2 x election)` ticks,
/// so a leader is elected 10-20 s after a quorum of managers is reachable again. Source:
/// swarmkit `api.RaftConfig` defaults (docker swarm init `--election-tick`), etcd raft
/// `randomizedElectionTimeout`.
pub const SWARM_ELECTION_MIN_MS: u64 = 10 * SECOND;
/// See [`SWARM_ELECTION_MIN_MS`] (exclusive upper end; the draw stops a millisecond short).
pub const SWARM_ELECTION_MAX_MS: u64 = 20 * SECOND - 1;

/// Classic swarm refreshes each engine every 30-60 s and marks it unhealthy after 3 failed
/// refreshes, so a node that stops answering is given up 90-180 s later. Source: `swarm manage`
/// flags `--engine-refresh-min-interval` (30s), `--engine-refresh-max-interval` (60s),
/// `--engine-failure-retry` (3).
pub const CLASSIC_FAILURE_DETECT_MIN_MS: u64 = 3 * 30 * SECOND;
/// See [`CLASSIC_FAILURE_DETECT_MIN_MS`].
pub const CLASSIC_FAILURE_DETECT_MAX_MS: u64 = 3 * 60 * SECOND;

/// How long the router in front of a service waits for an answer before it gives up on a request:
/// 60 s. Source: nginx `proxy_read_timeout` (default 60s); Alibaba Cloud SLB's default request
/// timeout is 60 s as well. A node over 100 % CPU builds a backlog; requests start failing once it
/// holds more than this much work.
pub const GATEWAY_TIMEOUT_MS: u64 = 60 * SECOND;

/// Docker's restart policy (`restart: always`) waits 100 ms before the first restart and doubles
/// the wait each time, up to 1 minute; a container that ran 10 s starts over. Source: moby
/// `restartmanager` (`defaultTimeout` 100ms, `maxRestartTimeout` 1m, reset after 10 s up) and the
/// docker run reference ("Restart policies").
pub const DOCKER_RESTART_DELAY_INITIAL_MS: u64 = 100;
/// See [`DOCKER_RESTART_DELAY_INITIAL_MS`].
pub const DOCKER_RESTART_DELAY_MAX_MS: u64 = 60 * SECOND;
/// See [`DOCKER_RESTART_DELAY_INITIAL_MS`].
pub const DOCKER_RESTART_RESET_MS: u64 = 10 * SECOND;

/// Classic swarm's answer when no node passes the filters or has the reserved resources.
/// Source: classic swarm scheduler (`ErrNoResourcesAvailable`, and the filters' "Unable to find a
/// node that satisfies the following conditions").
pub const CLASSIC_NO_NODE: &str = "no resources available to schedule container";

/// Alibaba Cloud ECS's answer to a start or purchase when the zone has no stock of the type.
/// Source: Alibaba Cloud ECS API error codes (`OperationDenied.NoStock`).
pub const ALIBABA_NO_STOCK: &str = "OperationDenied.NoStock: The requested resource is sold out in the specified \
                                    zone; try other types of resources or other regions and zones.";

/// AWS EC2's answer in the same case. Source: EC2 API error codes (`InsufficientInstanceCapacity`).
pub const AWS_NO_STOCK: &str = "InsufficientInstanceCapacity: We currently do not have sufficient capacity in the \
                                Availability Zone you requested.";

/// node-monitor-period: the node lifecycle controller looks at every node this often: 5 s.
/// Source: kube-controller-manager flag defaults (`--node-monitor-period`).
pub const NODE_MONITOR_PERIOD_MS: u64 = 5 * SECOND;

/// node-monitor-grace-period up to Kubernetes 1.31: 40 s without a heartbeat and the node is
/// `Unknown`. Source: kube-controller-manager flag defaults before v1.32.
pub const NODE_MONITOR_GRACE_MS_OLD: u64 = 40 * SECOND;
/// node-monitor-grace-period from Kubernetes 1.32: 50 s. Source: kubernetes PR 126287, v1.32
/// changelog.
pub const NODE_MONITOR_GRACE_MS: u64 = 50 * SECOND;
/// The first release with the 50 s grace period (see [`NODE_MONITOR_GRACE_MS`]).
pub const NODE_MONITOR_GRACE_CHANGED_IN: (u32, u32) = (1, 32);

/// The kubelet renews its node Lease every 10 s (a heartbeat). Source: kubernetes.io docs,
/// concepts/architecture/nodes ("Node heartbeats").
pub const NODE_LEASE_RENEW_MS: u64 = 10 * SECOND;

/// The kubelet posts its node status (the Ready condition) every 10 s
/// (`nodeStatusUpdateFrequency`). Source: kubelet configuration reference.
pub const NODE_STATUS_UPDATE_MS: u64 = 10 * SECOND;

/// `tolerationSeconds` of the default `not-ready` and `unreachable` NoExecute tolerations every
/// pod gets: 300 s. Source: kubernetes.io docs, concepts/scheduling-eviction/taint-and-toleration
/// (DefaultTolerationSeconds admission plugin).
pub const NOT_READY_TOLERATION_MS: u64 = 300 * SECOND;

/// How long the attach/detach controller waits for a node to confirm that a volume is unmounted
/// before it detaches the volume anyway: 6 minutes (`maxWaitForUnmountDuration`). Until then a
/// replacement pod on another node reports `Multi-Attach error for volume`. Source:
/// kubernetes/pkg/controller/volume/attachdetach/attach_detach_controller.go (`reconcilerMaxWaitForUnmountDuration`).
pub const MAX_WAIT_FOR_UNMOUNT_MS: u64 = 6 * 60 * SECOND;

/// Attaching a ReadWriteOnce volume to a node and mounting it: 10 s. An assumption, not a
/// Kubernetes default: cloud block volumes attach in seconds to about a minute (the scenario's
/// `persistentVolume.attachTime` overrides it).
pub const VOLUME_ATTACH_MS: u64 = 10 * SECOND;

/// `--node-eviction-rate`: nodes tainted for eviction per second in a healthy zone: 0.1 (one
/// node every 10 s). Source: kubernetes.io docs, concepts/architecture/nodes ("Rate limits on
/// eviction").
pub const NODE_EVICTION_RATE_PER_S: f64 = 0.1;
/// `--secondary-node-eviction-rate`: 0.01 node/s in a partially disrupted large zone (same source).
pub const SECONDARY_NODE_EVICTION_RATE_PER_S: f64 = 0.01;
/// `--unhealthy-zone-threshold`: a zone with at least this share of nodes not Ready is partially
/// disrupted: 0.55 (same source).
pub const UNHEALTHY_ZONE_THRESHOLD: f64 = 0.55;
/// `--large-cluster-size-threshold`: a partially disrupted zone of at most this many nodes stops
/// evictions altogether: 50 (same source).
pub const LARGE_CLUSTER_SIZE_THRESHOLD: u32 = 50;

/// PLEG: the kubelet reports the node NotReady when a relist has not completed for 3 min
/// (`relistThreshold`). Source: kubelet pkg/kubelet/pleg/generic.go; the "PLEG is not healthy:
/// pleg was last seen active 3m0s ago; threshold is 3m0s" message of kubernetes issues 45419,
/// 61117.
pub const PLEG_RELIST_THRESHOLD_MS: u64 = 3 * MINUTE;

/// How long `systemctl restart kubelet` keeps the kubelet away: 10 s. *Assumption*: no
/// authoritative figure ("tens of seconds" at most); the process restarts in seconds and posts
/// its first status within one status period.
pub const KUBELET_RESTART_MS: u64 = 10 * SECOND;
/// How long `systemctl restart docker` keeps the runtime away: 20 s. *Assumption*: no
/// authoritative figure; tens of seconds for a daemon with a few dozen containers.
pub const DOCKER_RESTART_MS: u64 = 20 * SECOND;
/// How long `systemctl restart containerd` keeps the runtime away: 5 s. *Assumption*: no
/// authoritative figure; containerd reconnects to the running shims instead of restarting
/// containers (containerd docs, "Runtime v2": the shim outlives the daemon), so it is back in
/// seconds.
pub const CONTAINERD_RESTART_MS: u64 = 5 * SECOND;
/// The first Kubernetes release without dockershim: nodes run a CRI runtime (containerd) and
/// `systemctl restart docker` no longer touches the kubelet's containers (kubernetes.io,
/// "Dockershim removed from Kubernetes", v1.24 release notes).
pub const DOCKERSHIM_REMOVED_IN: (u32, u32) = (1, 24);

/// `kubectl drain` retries an eviction refused by a PodDisruptionBudget (HTTP 429) every 5 s.
/// Source: kubectl drain (k8s.io/kubectl pkg/drain, `evictPods`).
pub const DRAIN_RETRY_MS: u64 = 5 * SECOND;

/// The kubelet's eviction manager looks at its signals every 10 s (housekeeping) and evicts at
/// most one pod per pass. Source: kubernetes.io docs, concepts/scheduling-eviction/
/// node-pressure-eviction; kubelet `evictionMonitoringPeriod`.
pub const KUBELET_EVICTION_PERIOD_MS: u64 = 10 * SECOND;
/// `evictionPressureTransitionPeriod`: a pressure condition stays on this long after its signal
/// clears: 5 min. Source: kubelet configuration reference.
pub const EVICTION_PRESSURE_TRANSITION_MS: u64 = 5 * MINUTE;

/// systemd's `DefaultTimeoutStopSec`: a unit that does not stop within 90 s is killed. A
/// normal reboot waits this long for a hung docker daemon (docker.service sets only a start
/// timeout). Source: systemd-system.conf(5); moby contrib/init/systemd/docker.service.
pub const SYSTEMD_STOP_TIMEOUT_MS: u64 = 90 * SECOND;
