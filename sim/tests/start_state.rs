//! A run's start built once (`StartState`, what sweeps share between policies) gives, run from a
//! copy, exactly what `simulate` gives, under each policy, and running it does not change it.

mod common;

use capsize_sim::policy::Action;
use capsize_sim::{DoNothing, Policy, RunOptions, StartState, simulate};
use common::{Script, base, scenario};

fn scale_up() -> Script {
    Script { plan: vec![(600_000, Action::Scale { workload: "api".into(), replicas: 3 })], ..Script::default() }
}

/// A policy by name, made fresh for each run.
type MakePolicy = fn() -> Box<dyn Policy>;

fn json(r: &capsize_sim::RunResult) -> String {
    serde_json::to_string(r).expect("a result serializes")
}

#[test]
fn runs_from_copies_of_one_start_equal_simulate() {
    let mut v = base();
    v["spec"]["faults"] = serde_json::json!([{"configMapUpdate": {"at": "00:05", "configMap": "cfg"}}]);
    let s = scenario(v);
    for seed in [1, 7, 42] {
        let opts = RunOptions { seed: Some(seed), timeline: true, series: true, max_events: None };
        let start = StartState::new(&s, &opts).expect("valid");
        let policies: [(&str, MakePolicy); 2] =
            [("do-nothing", || Box::new(DoNothing)), ("scale-up", || Box::new(scale_up()))];
        for (name, make) in policies {
            let alone = simulate(&s, name, make().as_mut(), &opts).expect("valid");
            // Twice from the same start: the first run leaves it as it was.
            for _ in 0..2 {
                assert_eq!(json(&start.run(name, make().as_mut())), json(&alone), "seed {seed}, {name}");
            }
        }
        // The two policies differ, so the comparison above can fail.
        let a = start.run("p", &mut DoNothing);
        let b = start.run("p", &mut scale_up());
        assert_ne!(json(&a), json(&b), "seed {seed}: scaling up changes the run");
        assert_eq!(json(&start.clone().into_run("p", &mut DoNothing)), json(&a), "seed {seed}");
    }
}
