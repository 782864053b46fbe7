//! The driver's requests against the in-memory API: scope, dry runs, the journal written before
//! each request, and rollback after a crash at any step restoring every object.

use std::path::Path;

use proptest::prelude::*;

use crate::change::{Change, WorkloadKind};
use crate::cluster::{Cluster, Made};
use crate::fake;
use crate::guard::Scope;
use crate::journal::{self, Entry, Journal};
use crate::nodecmd::{NodeCommand, NodeCommands};

fn cluster(client: kube::Client, commands: NodeCommands) -> Cluster {
    Cluster {
        client,
        scope: Scope { context: "kind-test".into(), namespaces: vec!["shop".into()] },
        commands,
        journal_name: "test.journal".into(),
        expires_at: "2030-01-01T00:00:00Z".into(),
    }
}

fn header() -> Entry {
    Entry::Header {
        version: journal::JOURNAL_VERSION,
        context: "kind-test".into(),
        kubeconfig: None,
        namespaces: vec!["shop".into()],
        scenario: "test".into(),
        started: journal::now_rfc3339(),
        pid: std::process::id(),
        expires_at: "2030-01-01T00:00:00Z".into(),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Node commands that write marker files, so a test can see they ran and were undone.
fn marker_commands(dir: &Path) -> NodeCommands {
    let f = dir.join("kubelet-stopped");
    let mut c = NodeCommands::default();
    c.commands.insert(
        "kubeletDown".into(),
        NodeCommand {
            run: format!("touch {}-{{node}}", f.display()),
            undo: Some(format!("rm -f {}-{{node}}", f.display())),
            expire: None,
        },
    );
    c
}

/// Every change the property test draws from (several touch the same object twice).
fn change_pool() -> Vec<Change> {
    vec![
        Change::PatchConfigMap { namespace: "shop".into(), name: "api-settings".into(), value: "v1".into() },
        Change::SetUnschedulable { node: "kind-worker".into(), unschedulable: true },
        Change::SetUnschedulable { node: "kind-worker".into(), unschedulable: false },
        Change::Scale { namespace: "shop".into(), kind: WorkloadKind::Deployment, name: "api".into(), replicas: 5 },
        Change::Scale { namespace: "shop".into(), kind: WorkloadKind::Deployment, name: "api".into(), replicas: 0 },
        Change::DeletePod { namespace: "shop".into(), pod: "debug".into(), force: true },
        Change::DeleteNode { node: "kind-worker2".into() },
        Change::SetUnschedulable { node: "kind-worker2".into(), unschedulable: true },
        Change::PatchConfigMap { namespace: "shop".into(), name: "api-settings".into(), value: "v2".into() },
        Change::NodeCommand { node: "kind-worker".into(), purpose: "kubeletDown".into(), command: String::new() },
    ]
}

/// A node command change with its template filled in.
fn concrete(c: &Change, cl: &Cluster) -> Change {
    match c {
        Change::NodeCommand { node, purpose, .. } => Change::NodeCommand {
            node: node.clone(),
            purpose: purpose.clone(),
            command: cl.render(&cl.commands.get(purpose).unwrap().run, node),
        },
        other => other.clone(),
    }
}

#[derive(Clone, Copy, Debug)]
enum Crash {
    /// After the k changes, nothing more.
    Between,
    /// The next change's intent is on disk, its request never sent.
    AfterIntent,
    /// The next change's request was sent, its outcome never written.
    AfterSend,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Kill the drive after step k (at any point of a step), run rollback: the objects equal
    /// the starting ones, and a second rollback changes nothing.
    #[test]
    fn rollback_after_a_crash_at_any_step_restores_every_object(
        picks in proptest::collection::vec(0usize..10, 1..8),
        k in 0usize..8,
        crash in prop_oneof![Just(Crash::Between), Just(Crash::AfterIntent), Just(Crash::AfterSend)],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drive.journal");
        rt().block_on(async {
            let (client, state) = fake::start(fake::small_cluster());
            let before = state.lock().unwrap().normalized();
            let cl = cluster(client.clone(), marker_commands(dir.path()));
            let changes: Vec<Change> = picks.iter().map(|&i| concrete(&change_pool()[i], &cl)).collect();
            let k = k.min(changes.len());
            {
                let mut j = Journal::create(&path, header()).unwrap();
                for c in &changes[..k] {
                    // A change whose object is gone (a node deleted earlier) is not made.
                    let _ = cl.make(&mut j, c).await;
                }
                if let Some(next) = changes.get(k)
                    && let Ok(undo) = cl.capture(next).await
                {
                    match crash {
                        Crash::Between => {}
                        Crash::AfterIntent => {
                            j.intent(next, &undo).unwrap();
                        }
                        Crash::AfterSend => {
                            j.intent(next, &undo).unwrap();
                            let _ = cl.send(next, false).await;
                        }
                    }
                }
                // The process dies here: no rollback, the journal is all that is left.
            }
            let fresh = cluster(client.clone(), marker_commands(dir.path()));
            let report = crate::rollback::rollback(&fresh, &path).await.unwrap();
            prop_assert_eq!(state.lock().unwrap().normalized(), before.clone(), "after rollback: {:?}", report);
            prop_assert!(!dir.path().join("kubelet-stopped-kind-worker").exists(), "the node command was undone");
            let again = crate::rollback::rollback(&fresh, &path).await.unwrap();
            prop_assert!(again.restored.is_empty(), "a second rollback found work: {:?}", again);
            prop_assert_eq!(state.lock().unwrap().normalized(), before);
            Ok(())
        })?;
    }
}

#[test]
fn every_request_that_changes_something_follows_its_journal_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drive.journal");
    rt().block_on(async {
        let mut st = fake::small_cluster();
        st.journal = Some(path.clone());
        let (client, state) = fake::start(st);
        let cl = cluster(client, marker_commands(dir.path()));
        let mut j = Journal::create(&path, header()).unwrap();
        for c in change_pool().iter() {
            // The cordon of a node deleted just before fails to capture: nothing is sent.
            let _ = cl.make(&mut j, &concrete(c, &cl)).await;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let requests = state.lock().unwrap().requests.clone();
        let mut checked = 0;
        for r in requests.iter().filter(|r| r.method != "GET") {
            // The journal as it stood when the request arrived ends with this change's intent.
            let last: Entry = serde_json::from_str(lines[r.journal_lines - 1]).unwrap();
            let Entry::Intent { change, .. } = last else { panic!("{} {} arrived after {last:?}", r.method, r.path) };
            assert!(
                change.api_call().contains(&r.path),
                "{} {} is not what the journal announced: {change:?}",
                r.method,
                r.path
            );
            checked += 1;
        }
        assert!(checked >= 9, "only {checked} mutating requests");
    });
}

#[test]
fn a_dry_run_sends_dry_run_all_and_changes_nothing() {
    rt().block_on(async {
        let (client, state) = fake::start(fake::small_cluster());
        let before = state.lock().unwrap().normalized();
        let cl = cluster(client, NodeCommands::default());
        for c in [
            Change::PatchConfigMap { namespace: "shop".into(), name: "api-settings".into(), value: "x".into() },
            Change::SetUnschedulable { node: "kind-worker".into(), unschedulable: true },
            Change::DeletePod { namespace: "shop".into(), pod: "debug".into(), force: false },
            Change::EvictPod { namespace: "shop".into(), pod: "api-5d4f-abcde".into() },
            Change::DeleteNode { node: "kind-worker2".into() },
            Change::Scale { namespace: "shop".into(), kind: WorkloadKind::Deployment, name: "api".into(), replicas: 3 },
        ] {
            let made = cl.send(&c, true).await;
            assert!(matches!(&made, Made::Ok(s) if s.contains("dry run")), "{c}: {made:?}");
        }
        let sent = fake::mutations(&state);
        assert!(sent.len() >= 6, "{sent:?}");
        for (method, path, dry) in sent {
            assert!(dry, "{method} {path} without dryRun=All");
        }
        assert_eq!(state.lock().unwrap().normalized(), before);
        // The body of the cordon is the merge patch kubectl would send, plus our annotations.
        let reqs = state.lock().unwrap().requests.clone();
        let cordon = reqs.iter().find(|r| r.method == "PATCH" && r.path == "/api/v1/nodes/kind-worker").unwrap();
        assert_eq!(cordon.body["spec"]["unschedulable"], true);
        assert_eq!(cordon.body["metadata"]["annotations"][crate::change::JOURNAL_ANNOTATION], "test.journal");
    });
}

#[test]
fn nothing_outside_the_named_namespaces_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let (client, state) = fake::start(fake::small_cluster());
        let cl = cluster(client, NodeCommands::default());
        let mut j = Journal::create(&dir.path().join("j"), header()).unwrap();
        let e = cl
            .make(&mut j, &Change::DeletePod { namespace: "other".into(), pod: "other-app".into(), force: false })
            .await;
        assert!(matches!(e, Err(crate::DriveError::Refused(_))), "{e:?}");
        assert!(state.lock().unwrap().requests.is_empty(), "a request was sent");
        assert_eq!(journal::pending(&journal::read(&dir.path().join("j")).unwrap()).len(), 0, "nothing journalled");
        assert!(fake::touched_namespaces(&state).is_empty());
    });
}

#[test]
fn a_journal_cut_short_by_a_kill_is_read_up_to_its_last_whole_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j");
    let mut j = Journal::create(&path, header()).unwrap();
    let c = Change::DeleteNode { node: "n".into() };
    j.intent(&c, &crate::change::Undo::Nothing { why: "test".into() }).unwrap();
    drop(j);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"entry\":\"intent\",\"seq\":2,\"at\"");
    std::fs::write(&path, &text).unwrap();
    let entries = journal::read(&path).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(journal::pending(&entries).len(), 1);
    // Appending after the cut starts on a line of its own.
    let mut j = Journal::append(&path).unwrap();
    j.write(&Entry::Undone { seq: 1, result: "ok".into() }).unwrap();
    assert_eq!(journal::pending(&journal::read(&path).unwrap()).len(), 0);
}

/// The fake cluster as a scenario sees it: pool `worker` (its two nodes), workload `api` with
/// ConfigMap `api-settings`, and the given faults.
fn scenario(faults: serde_json::Value, duration: &str) -> capsize_sim::Scenario {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "capsize.dev/v1alpha1", "kind": "Scenario", "metadata": {"name": "fake-drill"},
        "spec": {
            "seed": 1, "start": "2024-01-01T10:00:00", "duration": duration,
            "cluster": {
                "nodes": [{"pool": "worker", "count": 2, "cpu": "4", "memory": "8Gi"}],
                "configMaps": [{"name": "api-settings"}],
                "workloads": [
                    {"name": "api", "replicas": 2, "requests": {"cpu": "100m", "memory": "64Mi"}, "capacityRps": 100},
                    {"name": "ghost", "replicas": 1, "requests": {"cpu": "100m", "memory": "64Mi"}, "capacityRps": 100}
                ],
                "services": [{"name": "api", "selector": {"app": "api"}}]
            },
            "traffic": [{"service": "api", "rps": [["10:00", 50]]}],
            "faults": faults
        }
    }))
    .unwrap()
}

fn options(dir: &Path, yes: bool) -> crate::drive::DriveOptions {
    crate::drive::DriveOptions {
        scope: Scope { context: "kind-test".into(), namespaces: vec!["shop".into()] },
        kubeconfig: None,
        commands: NodeCommands::default(),
        node_map: Vec::new(),
        journal: dir.join("drive.journal"),
        yes,
        duration: None,
        seed: 1,
        policy_name: "test".into(),
        rules: Vec::new(),
        probes: Vec::new(),
    }
}

#[test]
fn a_fault_that_matches_nothing_stops_the_drive_before_any_change() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let (client, state) = fake::start(fake::small_cluster());
        let before = state.lock().unwrap().normalized();
        let cl = cluster(client, NodeCommands::default());
        let s = scenario(
            serde_json::json!([
                {"configMapUpdate": {"at": "+1s", "configMap": "api-settings"}},
                {"containerCrash": {"at": "+2s", "selector": {"app": "ghost"}}}
            ]),
            "1m",
        );
        let opts = options(dir.path(), true);
        let r = crate::drive::drive(&cl, &s, &mut capsize_sim::DoNothing, &opts).await;
        let Err(crate::DriveError::Unplannable(msg)) = r else { panic!("not refused") };
        assert!(
            msg.contains("fault 1 (containerCrash") && msg.contains("no Running pod has the labels app=ghost"),
            "{msg}"
        );
        assert!(msg.contains("nothing was changed"), "{msg}");
        assert!(fake::mutations(&state).iter().all(|m| m.2), "only dry runs: {:?}", fake::mutations(&state));
        assert_eq!(state.lock().unwrap().normalized(), before);
        assert!(!opts.journal.exists(), "no journal for a drive that never started");
    });
}

/// Cordons the first node it sees and scales `api`, at its first look.
struct Operator(bool);

impl capsize_sim::Policy for Operator {
    fn decide(&mut self, view: &dyn capsize_sim::ClusterView) -> capsize_sim::Decision {
        let mut d = capsize_sim::Decision::default();
        if !std::mem::replace(&mut self.0, true) {
            let node = view.nodes().first().map(|n| n.name.clone()).unwrap_or_default();
            for action in [
                capsize_sim::Action::Cordon { node },
                capsize_sim::Action::Scale { workload: "api".into(), replicas: 4 },
            ] {
                d.actions.push(capsize_sim::Request { observed: None, by: "operator".into(), action });
            }
        }
        d
    }
}

#[test]
fn without_yes_only_the_plan_is_made_and_with_it_everything_is_put_back() {
    let dir = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let (client, state) = fake::start(fake::small_cluster());
        let before = state.lock().unwrap().normalized();
        let cl = cluster(client, NodeCommands::default());
        let s = scenario(
            serde_json::json!([
                {"configMapUpdate": {"at": "+300ms", "configMap": "api-settings"}},
                {"nodeRemoved": {"at": "+600ms", "node": "worker-2"}}
            ]),
            "2s",
        );
        let plan = crate::drive::drive(&cl, &s, &mut Operator(false), &options(dir.path(), false)).await.unwrap();
        let crate::drive::Outcome::Planned(plan) = plan else { panic!("applied without --yes") };
        let text = plan.render();
        assert!(text.contains("DELETE /api/v1/nodes/kind-worker2") && text.contains("(server dry run)"), "{text}");
        assert!(fake::mutations(&state).iter().all(|m| m.2));
        assert_eq!(state.lock().unwrap().normalized(), before);

        let opts = options(dir.path(), true);
        let crate::drive::Outcome::Driven(d) = crate::drive::drive(&cl, &s, &mut Operator(false), &opts).await.unwrap()
        else {
            panic!("not driven")
        };
        assert_eq!(d.result.mode, capsize_sim::result::Mode::Real);
        assert_eq!(d.result.faults.len(), 2);
        assert!(d.result.faults.iter().all(|f| f.matched == 1), "{:?}", d.result.faults);
        assert_eq!(d.result.actions.len(), 2, "{:?}", d.result.actions);
        assert!(d.result.actions.iter().all(|a| a.ok), "{:?}", d.result.actions);
        assert_eq!(d.rollback.restored.len(), 4, "{:?}", d.rollback);
        assert_eq!(state.lock().unwrap().normalized(), before, "everything is put back");
        let entries = journal::read(&opts.journal).unwrap();
        assert!(matches!(entries.last(), Some(Entry::Closed { .. })), "the journal is closed");
    });
}
