//! `capsize drive`, `capsize rollback` and `capsize fidelity`: the harness's side of the
//! real-cluster mode (files, flags, what is printed); the cluster work is `capsize-kube`'s. This
//! is the only place the harness starts an async runtime.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use capsize_kube::DriveError;
use capsize_kube::cluster::Cluster;
use capsize_kube::drive::{DriveOptions, Outcome, RuleSummary};
use capsize_kube::guard::{self, Scope};
use capsize_kube::journal::Entry;
use capsize_kube::nodecmd::NodeCommands;
use capsize_sim::spec::Metadata;
use capsize_sim::{RunOptions, Sim};

use crate::load::{self, LoadError, Prepared};
use crate::policy::{ActionSpec, PolicyFile, Trigger};

/// A node command file: `kind: NodeCommands`.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeCommandsFile {
    /// Must be `capsize.dev/v1alpha1`.
    pub api_version: String,
    /// Must be `NodeCommands`.
    pub kind: String,
    /// Name and description.
    pub metadata: Metadata,
    /// The commands.
    pub spec: NodeCommands,
}

/// Reads a node command file.
pub fn load_node_commands(path: &Path) -> Result<NodeCommands, LoadError> {
    let (_, f) = load::read_typed::<NodeCommandsFile>(path, "NodeCommands")?;
    Ok(f.spec)
}

/// Why a real-cluster command failed.
#[derive(Debug)]
pub enum RealError {
    /// A file is invalid (exit 2).
    Load(LoadError),
    /// The guard, the plan, the cluster or the rollback (exit 2 or 1, see
    /// [`DriveError::exit_code`]).
    Drive(DriveError),
}

impl From<LoadError> for RealError {
    fn from(e: LoadError) -> Self {
        RealError::Load(e)
    }
}

impl From<DriveError> for RealError {
    fn from(e: DriveError) -> Self {
        RealError::Drive(e)
    }
}

/// The flags of `drive` and `fidelity`.
#[derive(Clone, Debug, Default)]
pub struct DriveArgs {
    /// Scenario file.
    pub file: PathBuf,
    /// `--context`.
    pub context: Option<String>,
    /// `--namespace`, repeated.
    pub namespaces: Vec<String>,
    /// `--policy`.
    pub policy: Option<String>,
    /// `--yes`.
    pub yes: bool,
    /// `--allow-context`.
    pub allow_context: bool,
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--journal`.
    pub journal: Option<PathBuf>,
    /// `--node-commands`.
    pub node_commands: Option<PathBuf>,
    /// `--node SCENARIO=REAL`, repeated.
    pub nodes: Vec<String>,
    /// `--duration`.
    pub duration: Option<Duration>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--probe SERVICE=URL`, repeated.
    pub probes: Vec<String>,
}

/// What a command prints: `stdout` is the result, `stderr` what a person should know
/// (the journal's path, the rollback); `code` the exit code.
pub struct Printed {
    /// The plan, the report or the table.
    pub stdout: String,
    /// Notes for the person at the terminal.
    pub stderr: String,
    /// The exit code.
    pub code: u8,
}

/// What the policy's rules may ask for, for the plan.
fn rule_summaries(policy: &PolicyFile) -> Vec<RuleSummary> {
    policy
        .spec
        .rules
        .iter()
        .map(|r| {
            let mut actions: Vec<String> = r.actions.iter().map(|a| a.key().to_string()).collect();
            actions.extend(r.ladder.iter().flat_map(|s| s.actions.iter().map(ActionSpec::key).map(str::to_string)));
            actions.dedup();
            let trigger = match &r.when {
                Trigger::At(at) => format!("at {at}"),
                other => format!("{} {}", other.key(), serde_json::to_string(other).ok().map_or(String::new(), |j| j)),
            };
            RuleSummary { name: r.name.clone(), trigger, actions }
        })
        .collect()
}

/// A journal's default name: the scenario and the start time, in the current directory.
fn default_journal(scenario: &str) -> PathBuf {
    let t = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
    PathBuf::from(format!("capsize-{scenario}-{t}.journal"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime")
}

/// Everything a drive needs, loaded and checked: the guard passed, the files valid.
struct Loaded {
    prepared: Prepared,
    scope: Scope,
    opts: DriveOptions,
    commands: NodeCommands,
}

fn load_drive(args: &DriveArgs) -> Result<Loaded, RealError> {
    // The guard comes first: nothing is read from a cluster without an explicit context.
    let scope = guard::check_scope(args.context.as_deref(), &args.namespaces, args.allow_context)?;
    let scenario = load::load_scenario(&args.file)?;
    let wanted: Vec<String> = args.policy.iter().cloned().collect();
    let policy = match args.policy.as_deref() {
        Some("do-nothing") | None if scenario.scenario.spec.policies.is_empty() => None,
        _ => Some(load::select_policies(&scenario, &wanted)?.remove(0)),
    };
    let (prepared, rules) = match &policy {
        Some(p) => {
            if p.policy.spec.patch.is_some() {
                return Err(RealError::Drive(DriveError::Refused(format!(
                    "policy `{}` patches the scenario (a configuration the team could have had); a drive runs the \
                     cluster as it is deployed: deploy that configuration, then drive with a policy without a patch",
                    p.policy.metadata.name
                ))));
            }
            (load::prepare(&scenario, p)?, rule_summaries(&p.policy))
        }
        None => (
            Prepared {
                policy_name: "do-nothing".into(),
                scenario: scenario.scenario.clone(),
                policy: crate::load::PolicyRt::Rules(crate::policy::RulePolicy::new(
                    &[],
                    &scenario.scenario.spec.start,
                )),
            },
            Vec::new(),
        ),
    };
    let commands = match &args.node_commands {
        Some(p) => load_node_commands(p)?,
        None => NodeCommands::default(),
    };
    let mut node_map = Vec::new();
    for n in &args.nodes {
        let Some((a, b)) = n.split_once('=') else {
            return Err(RealError::Drive(DriveError::Refused(format!("--node {n}: expected SCENARIO_NODE=REAL_NODE"))));
        };
        node_map.push((a.to_string(), b.to_string()));
    }
    let probes = args.probes.iter().map(|p| capsize_kube::probe::parse_target(p)).collect::<Result<Vec<_>, _>>()?;
    let journal = args.journal.clone().unwrap_or_else(|| default_journal(&prepared.scenario.metadata.name));
    // A drive runs the scenario as the seed draws it (times, durations, counts, scales).
    let seed = args.seed.unwrap_or(prepared.scenario.spec.seed);
    let mut prepared = prepared;
    prepared.scenario = prepared.scenario.realize(seed);
    let opts = DriveOptions {
        scope: scope.clone(),
        kubeconfig: args.kubeconfig.clone(),
        commands: commands.clone(),
        node_map,
        journal,
        yes: args.yes,
        duration: args.duration,
        seed,
        policy_name: prepared.policy_name.clone(),
        rules,
        probes,
    };
    Ok(Loaded { prepared, scope, opts, commands })
}

/// The changed objects' expiry: the drive's end plus a quarter of an hour.
fn expiry(scenario: &capsize_sim::Scenario, args: &DriveArgs) -> String {
    let run =
        args.duration.map_or(scenario.spec.duration.ms(), |d| (d.as_millis() as u64).min(scenario.spec.duration.ms()));
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_millis(run as i64 + 15 * 60 * 1000);
    at.to_string()
}

/// `capsize drive`.
pub fn drive(args: &DriveArgs, format: capsize_reports::Format) -> Result<Printed, RealError> {
    let Loaded { mut prepared, scope, opts, commands } = load_drive(args)?;
    let rt = runtime();
    rt.block_on(async {
        let client = guard::client_for(args.kubeconfig.as_deref(), &scope.context).await?;
        let cluster = Cluster {
            client,
            scope,
            commands,
            journal_name: opts.journal.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            expires_at: expiry(&prepared.scenario, args),
        };
        if opts.yes {
            eprintln!(
                "journal: {} (if this process dies, run `capsize rollback {}`)",
                opts.journal.display(),
                opts.journal.display()
            );
        }
        match capsize_kube::drive::drive(&cluster, &prepared.scenario, &mut prepared.policy, &opts).await? {
            Outcome::Planned(plan) => Ok(Printed { stdout: plan.render(), stderr: String::new(), code: 0 }),
            Outcome::Driven(d) => {
                let mut stderr = format!("rolled back ({}):\n{}", d.journal.display(), d.rollback.render());
                if let Some(why) = &d.stopped {
                    stderr.push_str(&format!("the drive stopped early: {why}\n"));
                }
                Ok(Printed {
                    stdout: capsize_reports::render_run(&d.result, format),
                    stderr,
                    code: if d.stopped.is_some() { 1 } else { 0 },
                })
            }
        }
    })
}

/// `capsize rollback JOURNAL`: restores every change the journal names that is not yet undone.
pub fn rollback(journal: &Path, kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Printed, RealError> {
    let Entry::Header { context: ctx, kubeconfig: kc, namespaces, .. } = capsize_kube::rollback::header(journal)?
    else {
        unreachable!("the first entry is the header");
    };
    if let Some(c) = context
        && c != ctx
    {
        return Err(RealError::Drive(DriveError::Refused(format!(
            "the journal is of context `{ctx}`, not `{c}`: a rollback only touches the context its drive ran against"
        ))));
    }
    let kubeconfig = kubeconfig.map(Path::to_path_buf).or(kc.map(PathBuf::from));
    let rt = runtime();
    rt.block_on(async {
        let client = guard::client_for(kubeconfig.as_deref(), &ctx).await?;
        let cluster = Cluster {
            client,
            scope: Scope { context: ctx.clone(), namespaces },
            commands: NodeCommands::default(),
            journal_name: String::new(),
            expires_at: String::new(),
        };
        let report = capsize_kube::rollback::rollback(&cluster, journal).await?;
        let n = report.restored.len();
        Ok(Printed {
            stdout: format!("{}{} change(s) restored on {ctx}; the journal is closed.\n", report.render(), n),
            stderr: String::new(),
            code: 0,
        })
    })
}

/// `capsize fidelity`: the scenario in the simulator, then on the cluster, and the times of the
/// events both show, side by side.
pub fn fidelity(args: &DriveArgs) -> Result<Printed, RealError> {
    let Loaded { mut prepared, scope, opts, commands } = load_drive(args)?;
    let mut sim_policy = prepared.policy.clone();
    let run_opts = RunOptions { seed: Some(opts.seed), timeline: true, series: false, max_events: None };
    let sim_history = Sim::new(&prepared.scenario, &run_opts)
        .map_err(|e| RealError::Drive(DriveError::Unplannable(format!("{e:?}"))))?
        .run(&mut sim_policy);
    let sim_result = capsize_sim::score::evaluate(&prepared.scenario, &prepared.policy_name, opts.seed, &sim_history);
    let rt = runtime();
    rt.block_on(async {
        let client = guard::client_for(args.kubeconfig.as_deref(), &scope.context).await?;
        let cluster = Cluster {
            client,
            scope,
            commands,
            journal_name: opts.journal.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            expires_at: expiry(&prepared.scenario, args),
        };
        match capsize_kube::drive::drive(&cluster, &prepared.scenario, &mut prepared.policy, &opts).await? {
            Outcome::Planned(plan) => Ok(Printed {
                stdout: format!(
                    "{}\n(fidelity drives the cluster: add --yes to run both and compare)\n",
                    plan.render()
                ),
                stderr: String::new(),
                code: 0,
            }),
            Outcome::Driven(d) => {
                let rows = capsize_kube::fidelity::compare((&sim_history, &sim_result), (&d.history, &d.result));
                let stdout = format!(
                    "{} under {} (seed {}): simulated vs real on {}\n\n{}",
                    prepared.scenario.metadata.name,
                    prepared.policy_name,
                    opts.seed,
                    cluster.scope.context,
                    capsize_kube::fidelity::render(&rows)
                );
                let mut stderr = format!("rolled back ({}):\n{}", d.journal.display(), d.rollback.render());
                if let Some(why) = &d.stopped {
                    stderr.push_str(&format!("the drive stopped early: {why}\n"));
                }
                Ok(Printed { stdout, stderr, code: if d.stopped.is_some() { 1 } else { 0 } })
            }
        }
    })
}
