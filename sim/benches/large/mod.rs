//! The generated large cluster shared by the benchmark and the `large_day` example: 2,000 nodes
//! in four zones, 200 services, `pods_per_service` replicas each, probes at default periods (a
//! quarter of them calling another service), diurnal traffic, alert rules, and a day of faults
//! (crashes, ConfigMap changes, lost nodes, node agents going silent or NotReady).

use serde_json::{Value, json};

use capsize_sim::Scenario;

const NODES_PER_POOL: u32 = 500;
/// Services (and workloads) in the cluster.
pub const SERVICES: usize = 200;

fn hhmm(minutes: u64) -> String {
    format!("{:02}:{:02}", (minutes / 60) % 24, minutes % 60)
}

/// The generated scenario with `pods_per_service` replicas behind each of the 200 services.
pub fn large(pods_per_service: u32) -> Scenario {
    let pools: Vec<Value> = (0..4)
        .map(|z| json!({"pool": format!("z{z}"), "count": NODES_PER_POOL, "cpu": "16", "memory": "64Gi", "zone": format!("zone-{z}")}))
        .collect();
    let config_maps: Vec<Value> = (0..20).map(|i| json!({"name": format!("cm-{i}")})).collect();
    let mut workloads = Vec::new();
    let mut services = Vec::new();
    let mut traffic = Vec::new();
    for i in 0..SERVICES {
        let name = format!("svc-{i}");
        let calls: Vec<String> = if i % 4 == 3 { vec![format!("svc-{}", i - 1)] } else { vec![] };
        let mut w = json!({
            "name": name, "replicas": pods_per_service,
            "requests": {"cpu": "250m", "memory": "512Mi"}, "capacityRps": 50,
            "readinessProbe": {"calls": calls}, "livenessProbe": {"calls": calls}
        });
        if i % 10 == 0 {
            w["mounts"] = json!([{"name": "settings", "configMap": format!("cm-{}", i / 10), "subPath": "app.json"}]);
        }
        workloads.push(w);
        let svc_calls: Vec<Value> =
            if i % 5 == 4 { vec![json!({"service": format!("svc-{}", i - 1), "share": 0.3})] } else { vec![] };
        services.push(json!({"name": name, "selector": {"app": name}, "calls": svc_calls}));
        // Diurnal load peaking in the afternoon, sized to ~60 % of capacity.
        let peak = f64::from(pods_per_service) * 50.0 * 0.6;
        let points: Vec<Value> = (0..24u64)
            .map(|h| {
                let x = (h as f64 - 15.0) / 24.0 * std::f64::consts::TAU;
                json!([hhmm(h * 60), peak * (0.55 + 0.45 * x.cos())])
            })
            .collect();
        traffic.push(json!({"service": name, "rps": points}));
    }
    let mut faults = Vec::new();
    let crash = pods_per_service / 20;
    for i in 0..20u64 {
        faults.push(json!({"configMapUpdate": {"at": hhmm(60 + i * 30), "configMap": format!("cm-{i}")}}));
        faults.push(json!({"containerCrash": {"at": hhmm(90 + i * 30), "selector": {"app": format!("svc-{}", i * 10)}, "count": crash}}));
    }
    // All of svc-10 crash-loops from 03:00 (its ConfigMap changed at 01:30): svc-11's probes
    // call it, so svc-11's pods fail their probes and are restarted all day as well.
    faults.push(json!({"containerCrash": {"at": "03:00", "selector": {"app": "svc-10"}}}));
    for k in 0..200u64 {
        faults.push(json!({"containerCrash": {"at": hhmm(7 * k % 1440), "selector": {"app": format!("svc-{}", (k * 37) % 200)}, "count": crash.max(1)}}));
    }
    for k in 0..20u64 {
        faults.push(json!({"nodeRemoved": {"at": hhmm(30 + k * 70), "node": format!("z{}-{}", k % 4, 1 + k * 13)}}));
    }
    // Node agents: 20 nodes go silent or NotReady; the node lifecycle controller evicts their
    // pods (and the kubelet those of full disks).
    for k in 0..20u64 {
        let node = format!("z{}-{}", k % 4, 6 + k * 13);
        let at = hhmm(45 + k * 65);
        faults.push(match k % 4 {
            0 => json!({"networkLoss": {"at": at, "node": node, "for": "20m"}}),
            1 => json!({"networkLoss": {"at": at, "node": node}}),
            2 => json!({"runtimeHung": {"at": at, "node": node}}),
            _ => json!({"diskFull": {"at": at, "node": node}}),
        });
    }
    serde_json::from_value(json!({
        "apiVersion": "capsize.dev/v1alpha1", "kind": "Scenario", "metadata": {"name": "large"},
        "spec": {
            "seed": 42, "start": "2024-01-01T00:00:00", "duration": "24h",
            "cluster": {
                "subpathRestartBug": true, "nodes": pools, "configMaps": config_maps,
                "workloads": workloads, "services": services
            },
            "traffic": traffic,
            "monitoring": {"alerts": [
                {"name": "ServiceDown", "condition": "serviceDown", "for": "3m"},
                {"name": "KubePodCrashLooping", "condition": "podCrashLooping", "for": "15m"}
            ]},
            "faults": faults
        }
    }))
    .expect("generated scenario parses")
}
