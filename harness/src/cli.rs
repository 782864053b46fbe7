//! The `capsize` command line.
//!
//! Exit codes: 0 success; 1 a run could not be completed; 2 invalid input (a bad file, an
//! unknown policy, a bad flag). Output is produced whole at the end of the work and written in
//! one piece (`--out` writes a temporary file and renames it), so an interrupted run leaves
//! nothing half-written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use capsize_reports::Format;
use capsize_reports::sweep::{SweepFormat, render_sweep};
use capsize_sim::RunOptions;

use crate::load::{self, LoadError};
use crate::runner;

/// capsize replays Kubernetes and Docker Swarm incidents in a deterministic cluster model, runs
/// them under remediation policies, and scores the availability users would have seen.
/// Start with `capsize init my-drill`, or `capsize compare <scenario.yaml>`.
#[derive(Debug, Parser)]
#[command(name = "capsize", version)]
pub struct Cli {
    /// Log what the harness does (to stderr).
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

/// Output formats on the command line.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// An aligned table for a terminal.
    #[default]
    Table,
    /// JSON (the stable output contract).
    Json,
    /// Markdown, for a postmortem document.
    Markdown,
    /// One self-contained HTML page with charts (no script, no network).
    Html,
    /// JUnit XML, for CI systems.
    Junit,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Html => Format::Html,
            FormatArg::Junit => Format::Junit,
        }
    }
}

/// Output formats of a sweep.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum SweepFormatArg {
    /// Aligned tables for a terminal.
    #[default]
    Table,
    /// JSON (the stable output contract).
    Json,
    /// Markdown.
    Markdown,
    /// One self-contained HTML page with a downtime CDF per service.
    Html,
}

impl From<SweepFormatArg> for SweepFormat {
    fn from(f: SweepFormatArg) -> SweepFormat {
        match f {
            SweepFormatArg::Table => SweepFormat::Table,
            SweepFormatArg::Json => SweepFormat::Json,
            SweepFormatArg::Markdown => SweepFormat::Markdown,
            SweepFormatArg::Html => SweepFormat::Html,
        }
    }
}

/// Output formats of a search.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum SearchFormatArg {
    /// Text for a terminal.
    #[default]
    Table,
    /// JSON.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario under one policy (by default the first one the scenario lists).
    Run {
        /// Scenario file.
        file: PathBuf,
        /// Policy: a file, or the name of a policy the scenario lists.
        #[arg(long)]
        policy: Option<String>,
        /// Seed (overrides the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: FormatArg,
        /// Include the timeline of notable transitions (JSON).
        #[arg(long)]
        timeline: bool,
        /// Stop a run after this many events, with an error (default 2,000,000: a few
        /// seconds; a long, busy scenario may need more).
        #[arg(long, value_name = "N")]
        max_events: Option<u64>,
        /// Write the output to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run a scenario under several policies and show them side by side (by default every
    /// policy the scenario lists).
    Compare {
        /// Scenario file.
        file: PathBuf,
        /// Policies: files, or names of policies the scenario lists; repeat the flag.
        #[arg(long = "policy")]
        policies: Vec<String>,
        /// Seed (overrides the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: FormatArg,
        /// Stop a run after this many events, with an error (default 2,000,000: a few
        /// seconds; a long, busy scenario may need more).
        #[arg(long, value_name = "N")]
        max_events: Option<u64>,
        /// Write the output to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run a suite (scenarios x policies x seeds with expectations) and judge every case:
    /// exit 0 when every expectation holds, 1 when one does not, 2 on invalid input.
    Check {
        /// Suite file (`kind: Suite`).
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: FormatArg,
        /// Write the output to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Rewrite the suite's baseline file with these results (the verdicts still count).
        #[arg(long)]
        update_baseline: bool,
    },
    /// Print the JSON Schema of scenario, policy and suite files (for editors: see the README's
    /// yaml-language-server modeline).
    Schema {
        /// Only this kind of file (all three, told apart by `kind`, when omitted).
        #[arg(long, value_enum)]
        kind: Option<crate::schema::SchemaKind>,
        /// Write the schema to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run a scenario's faults (and a policy's actions) on a real cluster, observe, score, and
    /// put everything back. Without --yes it prints the plan, checked with the server's dry run,
    /// and changes nothing.
    Drive {
        #[command(flatten)]
        drive: DriveFlags,
        /// Output format of the report.
        #[arg(long, value_enum, default_value_t)]
        format: FormatArg,
        /// Write the report to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Undo every change a drive's journal records that is not undone yet (after a crash, a
    /// kill -9, or a rollback that could not finish). Running it again is harmless.
    Rollback {
        /// The journal the drive wrote.
        journal: PathBuf,
        /// The kubeconfig (default: the one the journal names, else KUBECONFIG, else ~/.kube/config).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// Refuse unless the journal is of this context.
        #[arg(long)]
        context: Option<String>,
    },
    /// Run a scenario in the simulator and on a real cluster and print, side by side, the times
    /// of the events both show and their differences (drives the cluster: needs --yes).
    Fidelity {
        #[command(flatten)]
        drive: DriveFlags,
    },
    /// Run a scenario many times with derived seeds under each policy and print the
    /// distributions: availability and downtime (min, p5, p50, p95, max), the probability of an
    /// outage with its 95 % interval, and the seeds of the worst runs (replay one with `run
    /// --seed`). Fault times, durations, counts, targets and traffic scales given as
    /// distributions are drawn per run.
    Sweep {
        /// Scenario file.
        file: PathBuf,
        /// Policies: files, or names of policies the scenario lists; repeat the flag (default:
        /// every policy the scenario lists).
        #[arg(long = "policy")]
        policies: Vec<String>,
        /// Runs per policy.
        #[arg(long)]
        runs: u64,
        /// The sweep's seed (default: the scenario's); run k's seed is derived from it.
        #[arg(long)]
        seed: Option<u64>,
        /// Threads (default: the machine's cores). The output does not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Also count the runs where this expectation fails (repeat), e.g. `web availability >= 99.9%`.
        #[arg(long = "expect")]
        expect: Vec<String>,
        /// How many worst runs to list per policy and service.
        #[arg(long, default_value_t = 5)]
        worst: usize,
        /// Run only the runs k with k % N == I and write them as a part for `capsize merge`.
        #[arg(long, value_parser = crate::sweep::Shard::parse)]
        shard: Option<crate::sweep::Shard>,
        /// Output format (a part written with --shard is always JSON).
        #[arg(long, value_enum, default_value_t)]
        format: SweepFormatArg,
        /// Write the output to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Search a fault budget for schedules that break the scenario's expectations: each one
    /// found is shrunk to a local minimum (drop faults, fewer targets, shorter, earlier) and
    /// written as a scenario that reproduces it. Exit 1 when one is found, 0 when none is.
    Search {
        /// Scenario file.
        file: PathBuf,
        /// The budget (`kind: Budget`): fault templates, how many, what must hold.
        #[arg(long)]
        budget: PathBuf,
        /// Policy: a file, or the name of one the scenario lists (default: the first).
        #[arg(long)]
        policy: Option<String>,
        /// Schedules to try (default: the budget's `tries`).
        #[arg(long)]
        runs: Option<u64>,
        /// Stop trying after this long (wall clock: the result then depends on the machine).
        #[arg(long, value_parser = parse_duration)]
        time: Option<std::time::Duration>,
        /// Seed of the tries' draws (default: the scenario's; each run uses the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Stop after this many distinct failing schedules.
        #[arg(long, default_value_t = 1)]
        find: usize,
        /// Where to write the scenarios that reproduce what was found.
        #[arg(long, default_value = ".")]
        out_dir: PathBuf,
        /// Output format of the report.
        #[arg(long, value_enum, default_value_t)]
        format: SearchFormatArg,
    },
    /// Join the parts written by `sweep --shard I/N` into the output of the whole sweep (the
    /// same bytes as the sweep run in one piece).
    Merge {
        /// Every part of the sweep.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: SweepFormatArg,
        /// Write the output to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write a commented starter drill into a new directory: a scenario, two policies and a
    /// suite that validate and run as written.
    Init {
        /// The directory to create (its name names the drill).
        dir: PathBuf,
    },
    /// Check scenario, policy, suite and budget files without running them.
    Validate {
        /// Files to check; a directory means every `.yaml` and `.yml` file below it; `-` reads
        /// standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// The flags `drive` and `fidelity` share.
#[derive(Debug, clap::Args)]
struct DriveFlags {
    /// Scenario file.
    file: PathBuf,
    /// The kubeconfig context to drive: always named, never the current one.
    #[arg(long)]
    context: Option<String>,
    /// A namespace the drill may change (repeat); nothing outside them is changed.
    #[arg(long = "namespace", short = 'n')]
    namespaces: Vec<String>,
    /// Policy: a file, or the name of one the scenario lists (default: the first; `do-nothing`
    /// when it lists none).
    #[arg(long)]
    policy: Option<String>,
    /// Apply: without it, only the plan is printed.
    #[arg(long)]
    yes: bool,
    /// Allow a context whose name does not start with `kind-`.
    #[arg(long)]
    allow_context: bool,
    /// The kubeconfig file (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Where to write the journal (default: capsize-SCENARIO-TIME.journal here).
    #[arg(long)]
    journal: Option<PathBuf>,
    /// Node command templates for node-level faults and operations (kind: NodeCommands).
    #[arg(long)]
    node_commands: Option<PathBuf>,
    /// Map a scenario node to a real one: `--node worker-1=kind-worker` (repeat).
    #[arg(long = "node")]
    nodes: Vec<String>,
    /// Stop the drive after this long (default: the scenario's duration), e.g. 15m.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<std::time::Duration>,
    /// Seed of the draws (targets by selector, the policy's picks).
    #[arg(long)]
    seed: Option<u64>,
    /// Probe a service over HTTP every second: `--probe web=http://127.0.0.1:8080/health`
    /// (plain HTTP, 1 s limit; repeat for more services).
    #[arg(long = "probe")]
    probes: Vec<String>,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    capsize_sim::SimDuration::parse(s).map(|d| std::time::Duration::from_millis(d.ms()))
}

#[cfg(feature = "real-cluster")]
impl From<DriveFlags> for crate::real::DriveArgs {
    fn from(f: DriveFlags) -> Self {
        crate::real::DriveArgs {
            file: f.file,
            context: f.context,
            namespaces: f.namespaces,
            policy: f.policy,
            yes: f.yes,
            allow_context: f.allow_context,
            kubeconfig: f.kubeconfig,
            journal: f.journal,
            node_commands: f.node_commands,
            nodes: f.nodes,
            duration: f.duration,
            seed: f.seed,
            probes: f.probes,
        }
    }
}

/// Prints what a real-cluster command produced and gives its exit code.
#[cfg(feature = "real-cluster")]
fn printed(r: Result<crate::real::Printed, crate::real::RealError>, out: Option<&Path>) -> Result<ExitCode, Failure> {
    match r {
        Ok(p) => {
            eprint!("{}", p.stderr);
            emit(&p.stdout, out)?;
            Ok(ExitCode::from(p.code))
        }
        Err(crate::real::RealError::Load(e)) => Err(Failure::Invalid(e)),
        Err(crate::real::RealError::Drive(e)) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(e.exit_code() as u8))
        }
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose {
        tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).init();
    }
    match execute(cli.command) {
        Ok(code) => code,
        Err(Failure::Invalid(e)) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
        Err(Failure::Output(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}

/// Why a command failed.
enum Failure {
    /// Bad input: exit code 2.
    Invalid(LoadError),
    /// The result could not be written: exit code 1.
    Output(String),
}

impl From<LoadError> for Failure {
    fn from(e: LoadError) -> Self {
        Failure::Invalid(e)
    }
}

fn execute(command: Command) -> Result<ExitCode, Failure> {
    match command {
        Command::Run { file, policy, seed, format, timeline, max_events, out } => {
            let scenario = load::load_scenario(&file)?;
            let wanted: Vec<String> = policy.into_iter().collect();
            let mut policies = load::select_policies(&scenario, &wanted)?;
            policies.truncate(1);
            let prepared = load::prepare(&scenario, &policies[0])?;
            let series = format == FormatArg::Html;
            let result = runner::run(prepared, &RunOptions { seed, timeline, series, max_events });
            emit(&capsize_reports::render_run(&result, format.into()), out.as_deref())?;
            Ok(report_failed_runs(std::slice::from_ref(&result)))
        }
        Command::Schema { kind, out } => {
            let mut text = serde_json::to_string_pretty(&crate::schema::schema(kind)).expect("a schema serializes");
            text.push('\n');
            emit(&text, out.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { file, format, out, update_baseline } => {
            let suite = crate::suite::load_suite(&file)?;
            let baseline_path = suite.baseline_path();
            let baseline = match (&baseline_path, update_baseline) {
                (Some(p), false) if !p.exists() => {
                    return Err(Failure::Invalid(LoadError {
                        diagnostics: vec![suite.file.at(
                            &crate::yaml::parse_path("spec.baseline"),
                            format!(
                                "the baseline file {} does not exist yet: run `capsize check {} --update-baseline` to create it",
                                p.display(),
                                file.display()
                            ),
                        )],
                    }));
                }
                (Some(p), false) => Some(crate::suite::read_baseline(p)?),
                (None, true) => {
                    return Err(Failure::Invalid(LoadError {
                        diagnostics: vec![suite.file.at(
                            &crate::yaml::parse_path("spec"),
                            "--update-baseline needs `spec.baseline` (the file to write) in the suite",
                        )],
                    }));
                }
                _ => None,
            };
            let (report, made) = suite.check(baseline.as_ref());
            if let (Some(p), true) = (baseline_path, update_baseline) {
                let mut text = serde_json::to_string_pretty(&made).expect("a baseline serializes");
                text.push('\n');
                emit(&text, Some(&p))?;
                eprintln!(
                    "baseline written to {} ({})",
                    p.display(),
                    capsize_reports::count(made.cases.len(), "case", "cases")
                );
            }
            emit(&capsize_reports::render_check(&report, format.into()), out.as_deref())?;
            Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Compare { file, policies, seed, format, max_events, out } => {
            let scenario = load::load_scenario(&file)?;
            let selected = load::select_policies(&scenario, &policies)?;
            let prepared = selected.iter().map(|p| load::prepare(&scenario, p)).collect::<Result<Vec<_>, _>>()?;
            let series = format == FormatArg::Html;
            let results = runner::run_all(prepared, &RunOptions { seed, timeline: false, series, max_events });
            emit(&capsize_reports::render_compare(&results, format.into()), out.as_deref())?;
            Ok(report_failed_runs(&results))
        }
        #[cfg(feature = "real-cluster")]
        Command::Drive { drive, format, out } => {
            printed(crate::real::drive(&drive.into(), format.into()), out.as_deref())
        }
        #[cfg(feature = "real-cluster")]
        Command::Rollback { journal, kubeconfig, context } => {
            printed(crate::real::rollback(&journal, kubeconfig.as_deref(), context.as_deref()), None)
        }
        #[cfg(feature = "real-cluster")]
        Command::Fidelity { drive } => printed(crate::real::fidelity(&drive.into()), None),
        #[cfg(not(feature = "real-cluster"))]
        Command::Drive { .. } | Command::Rollback { .. } | Command::Fidelity { .. } => {
            eprintln!(
                "error: this capsize was built without the real-cluster mode; build it with \
                 `cargo install --path harness --features real-cluster` (or `cargo run --release --features \
                 real-cluster -- ...`)"
            );
            Ok(ExitCode::from(2))
        }
        Command::Sweep { file, policies, runs, seed, jobs, expect, worst, shard, format, out } => {
            let scenario = load::load_scenario(&file)?;
            let selected = load::select_policies(&scenario, &policies)?;
            let prepared = selected.iter().map(|p| load::prepare(&scenario, p)).collect::<Result<Vec<_>, _>>()?;
            let flag = |message: String| Failure::Invalid(LoadError::flag(message));
            if runs == 0 || runs > crate::sweep::MAX_RUNS {
                return Err(flag(format!("--runs {runs}: give between 1 and {}", crate::sweep::MAX_RUNS)));
            }
            let services = |p: &load::Prepared| capsize_sim::traffic::Topology::new(&p.scenario).names;
            let first = services(&prepared[0]);
            if let Some(p) = prepared.iter().skip(1).find(|p| services(p) != first) {
                return Err(flag(format!(
                    "the policy `{}` changes the scenario's services: a sweep compares policies on the same services",
                    p.policy_name
                )));
            }
            let mut expectations = Vec::new();
            for line in &expect {
                let x = crate::expect::Expectation::parse(line)
                    .map_err(|e| e.to_string())
                    .and_then(|x| x.names_what_exists(&prepared[0].scenario))
                    .map_err(|m| flag(format!("--expect: {m}")))?;
                expectations.push((line.clone(), x));
            }
            let sweep = crate::sweep::Sweep {
                prepared: &prepared,
                expectations: &expectations,
                runs,
                seed: seed.unwrap_or(prepared[0].scenario.spec.seed),
                jobs: jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |p| p.get())),
                shard: shard.unwrap_or(crate::sweep::Shard::WHOLE),
            };
            let total = sweep.shard.runs_in(runs);
            let bar = progress_bar(total);
            let rows = sweep.rows(&|| bar.inc(1));
            bar.finish_and_clear();
            let text = match shard {
                Some(shard) => {
                    let part = crate::sweep::SweepPart {
                        kind: "SweepPart".into(),
                        digest: sweep.digest(),
                        shard,
                        worst,
                        rows,
                    };
                    let mut t = serde_json::to_string(&part).expect("a part serializes");
                    t.push('\n');
                    t
                }
                None => render_sweep(&rows.summarize(worst), format.into()),
            };
            emit(&text, out.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Search { file, budget, policy, runs, time, seed, find, out_dir, format } => {
            let scenario = load::load_scenario(&file)?;
            let wanted: Vec<String> = policy.into_iter().collect();
            let mut policies = load::select_policies(&scenario, &wanted)?;
            policies.truncate(1);
            let prepared = load::prepare(&scenario, &policies[0])?;
            let budget = crate::search::load_budget(&budget, &prepared)?;
            let tries = runs.unwrap_or(budget.budget.spec.tries);
            if tries == 0 || tries > crate::search::MAX_TRIES || find == 0 {
                return Err(Failure::Invalid(LoadError::flag(format!(
                    "--runs between 1 and {} and --find at least 1",
                    crate::search::MAX_TRIES
                ))));
            }
            if !out_dir.is_dir() {
                return Err(Failure::Invalid(LoadError::flag(format!(
                    "--out-dir {}: no such directory",
                    out_dir.display()
                ))));
            }
            let search = crate::search::Search {
                prepared: &prepared,
                budget: &budget,
                seed: seed.unwrap_or(prepared.scenario.spec.seed),
                tries,
                deadline: time.map(|t| std::time::Instant::now() + t),
                find,
            };
            let outcome = search.run_search();
            let mut written = Vec::new();
            for f in &outcome.found {
                let path = crate::search::found_path(&out_dir, &prepared.scenario, f);
                emit(&search.scenario_yaml(&scenario, f, &out_dir), Some(&path))?;
                written.push(path);
            }
            let text = match format {
                SearchFormatArg::Json => {
                    let mut t = serde_json::to_string_pretty(&serde_json::json!({
                        "scenario": prepared.scenario.metadata.name,
                        "policy": prepared.policy_name,
                        "budget": budget.budget.metadata.name,
                        "seed": search.seed,
                        "expectations": budget.expectations.iter().map(|(t, _)| t).collect::<Vec<_>>(),
                        "outcome": outcome,
                        "written": written,
                    }))
                    .expect("a search serializes");
                    t.push('\n');
                    t
                }
                SearchFormatArg::Table => crate::search::report(&search, &outcome, &written),
            };
            emit(&text, None)?;
            let failing = !outcome.found.is_empty() || outcome.fails_without_faults.is_some();
            Ok(if failing { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Command::Merge { parts, format, out } => {
            let (rows, worst) = crate::sweep::merge(&parts)?;
            emit(&render_sweep(&rows.summarize(worst), format.into()), out.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Init { dir } => {
            let files = crate::init::init(&dir).map_err(Failure::Output)?;
            for f in &files {
                println!("wrote {}", f.display());
            }
            let d = dir.display();
            println!("\nnext:\n  capsize compare {d}/scenario.yaml\n  capsize check {d}/suite.yaml");
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { files } => {
            let mut errors = Vec::new();
            let mut expanded = Vec::new();
            for f in &files {
                if f.is_dir() {
                    let before = expanded.len();
                    yaml_files_below(f, &mut expanded).map_err(|e| Failure::Output(format!("{}: {e}", f.display())))?;
                    if expanded.len() == before {
                        eprintln!("note: no .yaml or .yml file below {}", f.display());
                    }
                } else {
                    expanded.push(f.clone());
                }
            }
            for f in &expanded {
                match validate_file(f) {
                    Ok(summary) => println!("ok: {} ({summary})", f.display()),
                    Err(e) => errors.extend(e.diagnostics),
                }
            }
            if errors.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                Err(Failure::Invalid(LoadError { diagnostics: errors }))
            }
        }
    }
}

/// Every `.yaml`/`.yml` file below `dir`, in name order (hidden directories and `target/`
/// skipped).
fn yaml_files_below(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if !name.starts_with('.') && name != "target" {
                yaml_files_below(&p, out)?;
            }
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
    Ok(())
}

/// Checks one file: a scenario with every policy it lists, or a policy on its own.
fn validate_file(path: &Path) -> Result<String, LoadError> {
    let file = load::SourceFile::read(path)?;
    match load::peek_kind(&file)?.as_str() {
        "Suite" => {
            let s = crate::suite::load_suite(path)?;
            Ok(format!(
                "Suite {}, {}",
                s.suite.metadata.name,
                capsize_reports::count(s.suite.spec.cases.len(), "case", "cases")
            ))
        }
        #[cfg(feature = "real-cluster")]
        "NodeCommands" => {
            let c = crate::real::load_node_commands(path)?;
            Ok(format!("NodeCommands, {}", capsize_reports::count(c.commands.len(), "command", "commands")))
        }
        #[cfg(not(feature = "real-cluster"))]
        "NodeCommands" => Ok("NodeCommands (not checked: this capsize has no real-cluster mode)".into()),
        "Budget" => {
            let (_, b) = load::read_typed::<crate::search::BudgetFile>(path, "Budget")?;
            Ok(format!(
                "Budget {}, {}; its templates are checked with a scenario by `capsize search`",
                b.metadata.name,
                capsize_reports::count(b.spec.faults.len(), "fault template", "fault templates")
            ))
        }
        "Policy" => {
            let p = load::load_policy(path)?;
            Ok(format!(
                "Policy {}, {}; its references are checked with a scenario",
                p.policy.metadata.name,
                capsize_reports::count(p.policy.spec.rules.len(), "rule", "rules")
            ))
        }
        _ => {
            let s = load::load_scenario(path)?;
            let policies = load::select_policies(&s, &[])
                .or_else(|e| if s.scenario.spec.policies.is_empty() { Ok(Vec::new()) } else { Err(e) })?;
            let mut diagnostics = Vec::new();
            for p in &policies {
                if let Err(e) = load::prepare(&s, p) {
                    diagnostics.extend(e.diagnostics);
                }
            }
            if !diagnostics.is_empty() {
                return Err(LoadError { diagnostics });
            }
            Ok(format!(
                "Scenario {}, {}",
                s.scenario.metadata.name,
                capsize_reports::count(policies.len(), "policy", "policies")
            ))
        }
    }
}

/// A progress bar on stderr when it is a terminal; a hidden one otherwise (CI logs stay clean).
fn progress_bar(total: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {per_sec}, {eta} left")
            .expect("a valid template"),
    );
    bar
}

/// Runs that could not be completed (a plug-in failed) are told on stderr: exit code 1.
fn report_failed_runs(results: &[capsize_sim::RunResult]) -> ExitCode {
    let mut failed = false;
    for r in results {
        if let Some(e) = &r.error {
            eprintln!("error: the run of `{}` under `{}` stopped: {e}", r.scenario, r.policy);
            failed = true;
        }
    }
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// Writes `text` to stdout, or atomically to `out`.
fn emit(text: &str, out: Option<&Path>) -> Result<(), Failure> {
    match out {
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).map_err(|e| Failure::Output(e.to_string()))
        }
        Some(path) => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            // A temporary file is private (0600) by default; the output is an ordinary file,
            // so it gets 0666 less the umask, as any program's output does.
            let mut builder = tempfile::Builder::new();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                builder.permissions(std::fs::Permissions::from_mode(0o666));
            }
            let mut tmp = builder
                .tempfile_in(dir)
                .map_err(|e| Failure::Output(format!("cannot write in {}: {e}", dir.display())))?;
            tmp.write_all(text.as_bytes()).map_err(|e| Failure::Output(e.to_string()))?;
            tmp.persist(path).map_err(|e| Failure::Output(format!("cannot write {}: {e}", path.display())))?;
            Ok(())
        }
    }
}
