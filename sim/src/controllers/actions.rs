//! Carrying out what a policy asked for, with the API's answers: an action against something
//! that no longer exists fails the way `kubectl` would fail, and the failure is recorded.

use crate::defaults;
use crate::history::ActionRecord;
use crate::policy::Action;
use crate::world::World;

impl World {
    /// Action number `idx` takes effect now.
    pub(crate) fn on_action(&mut self, idx: usize) {
        let pending = self.actions[idx].clone();
        let outcome = match &pending.request.action {
            Action::DeletePod { pod, force } => match self.pod_by_name.get(pod).copied() {
                None => Err(format!("Error from server (NotFound): pods \"{pod}\" not found")),
                Some(id) => {
                    self.delete_pod(id, *force);
                    Ok(if *force { format!("pod \"{pod}\" force deleted") } else { format!("pod \"{pod}\" deleted") })
                }
            },
            Action::Scale { workload, replicas } => {
                let found = self.workloads.iter().find(|(_, w)| &w.name == workload).map(|(id, _)| id);
                match found {
                    None => Err(format!("Error from server (NotFound): deployments.apps \"{workload}\" not found")),
                    Some(w) if self.workloads[w].kind == crate::spec::WorkloadKind::Pod => Err(format!(
                        "Error from server (NotFound): deployments.apps \"{workload}\" not found ({workload} is bare pods)"
                    )),
                    Some(_) if *replicas > defaults::LIMIT_PODS => Err(format!(
                        "The Deployment \"{workload}\" is invalid: spec.replicas: {replicas} is more than this \
                         cluster can hold"
                    )),
                    Some(w) if self.workloads[w].kind == crate::spec::WorkloadKind::DaemonSet => Err(format!(
                        "Error from server (NotFound): deployments.apps \"{workload}\" not found ({workload} is a DaemonSet)"
                    )),
                    Some(w) if self.workloads[w].kind == crate::spec::WorkloadKind::SwarmService => {
                        if self.leaderless(self.workloads[w].cluster) {
                            Err(defaults::SWARM_NO_LEADER.to_string())
                        } else {
                            self.workloads[w].replicas = *replicas;
                            self.reconcile(w);
                            Ok(format!("{workload} scaled to {replicas}"))
                        }
                    }
                    Some(w) => {
                        self.workloads[w].replicas = *replicas;
                        self.reconcile(w);
                        Ok(format!("deployment.apps/{workload} scaled"))
                    }
                }
            }
            Action::StartInstance { node } => self.op_start(node),
            Action::StopInstance { node } => self.op_stop(node),
            Action::RebootInstance { node, force } => self.op_reboot(node, *force),
            Action::ReleaseInstance { node } => self.op_release(node),
            Action::RunInstances { pool, count, choices } => self.op_buy(pool, *count, choices),
            Action::Reimage { node, into_pool } => self.op_reimage(node, into_pool),
            Action::SetBackend { load_balancer, service, enabled } => {
                self.set_backend(load_balancer, service, *enabled)
            }
            Action::RemoveNode { node } => self.op_remove_node(node),
            Action::DrainNode { node, timeout_s } => {
                match self.live_node(node).ok().filter(|&n| self.is_kube_node(n)) {
                    Some(id) => match self.start_kube_drain(id, idx, *timeout_s) {
                        // The record is written when the drain ends (`drain.rs`).
                        Ok(()) => return,
                        Err(e) => Err(e),
                    },
                    None => self.op_drain(node),
                }
            }
            Action::Cordon { node } => self.op_cordon(node, true),
            Action::Uncordon { node } => self.op_cordon(node, false),
            Action::RestartKubelet { node } => self.op_restart_kubelet(node),
            Action::RestartDocker { node } => self.op_restart_docker(node),
            Action::RestartRuntime { node } => self.op_restart_runtime(node),
            Action::CleanDisk { node } => self.op_clean_disk(node),
            Action::Redeploy { workload } => self.op_redeploy(workload),
            Action::RecreateApp { workload } => self.op_recreate(workload),
            Action::SetReschedule { workload, on } => self.op_set_reschedule(workload, *on),
            Action::SetNodeLabels { node, labels } => self.op_set_labels(node, labels),
            Action::ForceNewCluster { node } => self.op_force_new_cluster(node),
            Action::PromoteNode { node } => self.op_promote(node),
            Action::Rejoin { node, pool } => self.op_rejoin(node, pool),
        };
        self.record_action(idx, outcome);
    }

    /// Action number `idx` is over (now, or, for a drain, when it ends): its record and the
    /// timeline note are written.
    pub(crate) fn record_action(&mut self, idx: usize, outcome: Result<String, String>) {
        let now = self.now;
        let pending = &self.actions[idx];
        let (by, issued, observed) = (pending.request.by.clone(), pending.issued, pending.request.observed);
        let action = pending.request.action.to_string();
        self.history.note(now, &by, || format!("{action}: {}", outcome.as_ref().unwrap_or_else(|e| e)));
        self.history.actions.push(ActionRecord { from_policy: true, observed, issued, done: now, by, action, outcome });
    }
}
