//! Distributions in scenarios: drawn from the run's seed within their bounds, the same for the
//! same seed, independent per fault, and nothing changes for a scenario without them.

mod common;

use capsize_sim::spec::{FaultSpec, TimeDraw};
use capsize_sim::time::{MINUTE, SECOND};
use common::{base, scenario};
use serde_json::json;

fn drawn() -> serde_json::Value {
    let mut v = base();
    v["spec"]["cluster"]["subpathRestartBug"] = json!(false);
    v["spec"]["cluster"]["kubernetesVersion"] = json!("1.30");
    v["spec"]["faults"] = json!([
        {"containerCrash": {"at": {"around": "00:20", "jitter": "5m"}, "selector": {"app": "api"}, "count": {"min": 1, "max": 1}}},
        {"networkLoss": {"at": {"from": "00:30", "to": "00:40"}, "node": "n-1", "for": {"min": "1m", "max": "4m"}}}
    ]);
    v["spec"]["traffic"][0]["scale"] = json!({"min": 0.8, "max": 1.2});
    v
}

fn times(s: &capsize_sim::Scenario) -> Vec<u64> {
    s.spec.faults.iter().map(|f| f.at().resolve(&s.spec.start).ms()).collect()
}

#[test]
fn draws_fall_within_their_bounds_and_repeat_with_the_seed() {
    let s = scenario(drawn());
    capsize_sim::validate(&s).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..50 {
        let r = s.realize(seed);
        assert!(!r.has_draws());
        let t = times(&r);
        assert!((15 * MINUTE..=25 * MINUTE).contains(&t[0]), "{t:?}");
        assert!((30 * MINUTE..=40 * MINUTE).contains(&t[1]), "{t:?}");
        let FaultSpec::NetworkLoss(n) = &r.spec.faults[1] else { panic!() };
        let d = n.for_.unwrap().value().ms();
        assert!((MINUTE..=4 * MINUTE).contains(&d));
        let scale = r.spec.traffic[0].scale.value();
        assert!((0.8..=1.2).contains(&scale));
        assert_eq!(times(&s.realize(seed)), t, "the same seed draws the same");
        seen.insert(t[0] / SECOND);
    }
    assert!(seen.len() > 40, "50 seeds drew only {} distinct times", seen.len());
}

#[test]
fn a_fault_s_draw_does_not_depend_on_the_others() {
    let s = scenario(drawn());
    let mut without_first = s.clone();
    without_first.spec.faults.remove(0);
    for seed in 0..10 {
        assert_eq!(times(&s.realize(seed))[1], times(&without_first.realize(seed))[0]);
    }
}

#[test]
fn a_scenario_without_distributions_is_left_as_it_is() {
    let s = scenario(base());
    assert!(!s.has_draws());
    assert_eq!(format!("{:?}", s.realize(99)), format!("{s:?}"));
    assert!(matches!(s.realize(1).spec.faults.first().map(|f| f.time()), None | Some(TimeDraw::Fixed(_))));
}

#[test]
fn a_plain_run_draws_from_the_scenario_seed_and_the_result_shows_it() {
    // The load's scale reaches the scorer: offered requests follow the drawn scale.
    let s = scenario(drawn());
    let run = |seed| {
        capsize_sim::simulate(
            &s,
            "p",
            &mut capsize_sim::DoNothing,
            &capsize_sim::RunOptions { seed: Some(seed), ..Default::default() },
        )
        .unwrap()
    };
    let (a, b) = (run(3), run(4));
    let scale = |seed| s.realize(seed).spec.traffic[0].scale.value();
    let ratio = a.services[0].offered_requests / b.services[0].offered_requests;
    assert!((ratio - scale(3) / scale(4)).abs() < 1e-9, "{ratio} vs {}", scale(3) / scale(4));
    assert_eq!(serde_json::to_string(&run(3)).unwrap(), serde_json::to_string(&a).unwrap());
}

#[test]
fn impossible_distributions_are_refused_with_their_path() {
    let cases = [
        (
            json!({"containerCrash": {"at": {"around": "00:30", "jitter": "40m"}, "selector": {"app": "api"}}}),
            "at",
            "longer than the run",
        ),
        (
            json!({"containerCrash": {"at": {"from": "00:40", "to": "00:30"}, "selector": {"app": "api"}}}),
            "at",
            "after its end",
        ),
        (
            json!({"containerCrash": {"at": {"from": "00:40", "to": "02:00"}, "selector": {"app": "api"}}}),
            "at",
            "can fall at or after the end",
        ),
        (
            json!({"networkLoss": {"at": "00:10", "node": "n-1", "for": {"min": "9m", "max": "1m"}}}),
            "for",
            "longer than max",
        ),
        (
            json!({"containerCrash": {"at": "00:10", "selector": {"app": "api"}, "count": {"min": 3, "max": 1}}}),
            "count",
            "more than max",
        ),
    ];
    for (fault, field, message) in cases {
        let mut v = base();
        v["spec"]["faults"] = json!([fault.clone()]);
        let errors = capsize_sim::validate(&scenario(v)).expect_err("refused");
        let path = capsize_sim::validate::display_path(&errors[0].path);
        assert!(path.ends_with(&format!(".{field}")), "{fault}: {path}");
        assert!(errors[0].message.contains(message), "{fault}: {}", errors[0].message);
    }
}
