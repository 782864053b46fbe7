//! Policy plug-ins in any language: a policy of kind `external` runs a program and talks to it
//! in JSON lines over stdin/stdout (the protocol is `docs/plugin-protocol.md`; its JSON Schema
//! is `capsize schema --kind plugin`).
//!
//! At every moment the engine consults the policy, it writes one [`Observation`] line and reads
//! one [`Answer`] line. The run stays deterministic as long as the program is: it sees exactly
//! what a built-in policy sees, at the same instants. A program that exits, outlives its time
//! limit for an answer, or answers something that is not an [`Answer`] (bad JSON, an unknown
//! action) ends the run with an error that names the plug-in and quotes what it sent; other
//! runs of a compare or a check go on.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use capsize_sim::policy::{Action, ClusterView, Decision, Policy, Request};
use capsize_sim::time::{SimDuration, SimTime};

/// Protocol version, sent with every observation.
pub const PROTOCOL: u32 = 1;

/// Longest answer line read (1 MiB): a runaway program cannot fill memory.
const MAX_LINE: usize = 1 << 20;

/// How a policy file declares a plug-in.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExternalSpec {
    /// The program and its arguments; a relative program path is relative to the policy file.
    pub command: Vec<String>,
    /// Longest wait for one answer.
    #[serde(default = "default_timeout")]
    pub timeout: SimDuration,
}

fn default_timeout() -> SimDuration {
    SimDuration::secs(10)
}

/// One pod, as `kubectl get pods -o wide` and `describe` show it.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct PodObs {
    /// Name.
    pub name: String,
    /// Owning workload.
    pub workload: String,
    /// Labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Node, once bound.
    pub node: Option<String>,
    /// The node's pool.
    pub pool: Option<String>,
    /// STATUS column (`Running`, `CrashLoopBackOff`, ...).
    pub status: String,
    /// Since when the status has held, ms from the start.
    pub status_since_ms: u64,
    /// READY column.
    pub ready: bool,
    /// RESTARTS column.
    pub restarts: u32,
    /// The last error or reason.
    pub message: Option<String>,
    /// Creation, ms from the start.
    pub created_ms: u64,
}

/// One node.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct NodeObs {
    /// Name.
    pub name: String,
    /// Pool.
    pub pool: String,
    /// Cluster.
    pub cluster: String,
    /// `Ready`, `NotReady`, `Stopped` or `Removed`.
    pub status: String,
    /// Kubernetes conditions that hold (`Ready`/`NotReady`, `Unknown`, `DiskPressure`, `SchedulingDisabled`).
    pub conditions: Vec<String>,
    /// Why it is not Ready.
    pub reason: Option<String>,
    /// A swarm manager.
    pub manager: bool,
    /// Containers on it.
    pub containers: u32,
    /// CPU in use as a fraction of its CPU.
    pub cpu_used: f32,
}

/// What a plug-in is told at each consultation.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Observation {
    /// Always `observe`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The protocol version ([`PROTOCOL`]).
    pub protocol: u32,
    /// Now, ms from the start.
    pub time_ms: u64,
    /// Now on the scenario's clock, `HH:MM:SS`.
    pub clock: String,
    /// Pods that exist.
    pub pods: Vec<PodObs>,
    /// Nodes.
    pub nodes: Vec<NodeObs>,
    /// Services and their Ready endpoints.
    pub services: Vec<ServiceObs>,
    /// Workloads and their replica counts.
    pub workloads: Vec<WorkloadObs>,
    /// Alerts firing now.
    pub alerts: Vec<AlertObs>,
    /// Operations that failed so far.
    pub failed_operations: Vec<FailedObs>,
}

/// A service.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ServiceObs {
    /// Name.
    pub name: String,
    /// Ready endpoints.
    pub ready_endpoints: u32,
}

/// A workload.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct WorkloadObs {
    /// Name.
    pub name: String,
    /// Cluster.
    pub cluster: String,
    /// Desired replicas.
    pub replicas: u32,
    /// Ready pods.
    pub ready: u32,
}

/// A firing alert.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct AlertObs {
    /// Rule name.
    pub name: String,
    /// Service or workload.
    pub target: String,
    /// Firing since, ms from the start.
    pub since_ms: u64,
}

/// A failed operation.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct FailedObs {
    /// When, ms from the start.
    pub at_ms: u64,
    /// Who asked.
    pub by: String,
    /// What was asked.
    pub action: String,
    /// The error.
    pub error: String,
}

/// What a plug-in answers to each observation.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Answer {
    /// Actions to issue now.
    #[serde(default)]
    pub actions: Vec<Action>,
    /// Look again at this instant (ms from the start), besides every alert evaluation.
    #[serde(default, rename = "wake_at_ms")]
    pub wake_at_ms: Option<u64>,
}

fn observe(view: &dyn ClusterView) -> Observation {
    let now = view.now();
    let mut pods = Vec::new();
    view.for_each_pod(&mut |p| {
        pods.push(PodObs {
            name: p.name.to_string(),
            workload: p.workload.to_string(),
            labels: p.labels.clone(),
            node: p.node.map(str::to_string),
            pool: p.pool.map(str::to_string),
            status: p.status.to_string(),
            status_since_ms: p.status_since.ms(),
            ready: p.ready,
            restarts: p.restarts,
            message: p.message.clone(),
            created_ms: p.created.ms(),
        })
    });
    let status = |s: capsize_sim::policy::NodeStatus| {
        use capsize_sim::policy::NodeStatus::*;
        match s {
            Ready => "Ready",
            NotReady => "NotReady",
            Stopped => "Stopped",
            Removed => "Removed",
        }
        .to_string()
    };
    Observation {
        kind: "observe".into(),
        protocol: PROTOCOL,
        time_ms: now.ms(),
        clock: view.start().clock_at(now).to_string(),
        pods,
        nodes: view
            .nodes()
            .into_iter()
            .map(|n| NodeObs {
                status: status(n.status),
                conditions: n.conditions.iter().map(|c| c.to_string()).collect(),
                name: n.name,
                pool: n.pool,
                cluster: n.cluster,
                reason: n.reason,
                manager: n.manager,
                containers: n.containers,
                cpu_used: n.cpu_used,
            })
            .collect(),
        services: view
            .services()
            .into_iter()
            .map(|s| ServiceObs { name: s.name, ready_endpoints: s.ready_endpoints })
            .collect(),
        workloads: view
            .workloads()
            .into_iter()
            .map(|w| WorkloadObs { name: w.name, cluster: w.cluster, replicas: w.replicas, ready: w.ready })
            .collect(),
        alerts: view
            .firing_alerts()
            .into_iter()
            .map(|a| AlertObs { name: a.name, target: a.target, since_ms: a.since.ms() })
            .collect(),
        failed_operations: view
            .failed_operations()
            .into_iter()
            .map(|f| FailedObs { at_ms: f.at.ms(), by: f.by, action: f.action, error: f.error })
            .collect(),
    }
}

/// The running program.
struct Process {
    child: Child,
    /// The plug-in's process group (the plug-in and anything it started), ended with it.
    group: crate::process_group::Group,
    /// Lines for the writer thread (which owns the program's stdin, so that a program that
    /// stops reading cannot block the run: the answer's time limit covers the write too).
    to_stdin: Option<Sender<String>>,
    lines: Receiver<std::io::Result<Line>>,
    /// The end of what the program wrote to stderr (the last [`STDERR_TAIL`] bytes).
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The thread collecting stderr: done once the program and its pipe are gone.
    stderr_thread: std::thread::JoinHandle<()>,
}

/// A line the program wrote, or the sign that it was longer than [`MAX_LINE`].
enum Line {
    Text(String),
    TooLong,
}

/// How much of the end of a program's stderr an error quotes.
const STDERR_TAIL: usize = 2048;

/// Waits up to `limit` for `done`, polling.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let step = Duration::from_millis(5);
    let mut waited = Duration::ZERO;
    while waited < limit {
        if done() {
            return true;
        }
        std::thread::sleep(step);
        waited += step;
    }
    done()
}

impl Process {
    /// Ends the plug-in's whole process group and reaps the plug-in: its exit status.
    fn end(&mut self) -> Option<std::process::ExitStatus> {
        self.group.end();
        let _ = self.child.kill();
        self.child.wait().ok()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Closing stdin tells a well-behaved plug-in to exit; give it a moment, then end its
        // group (it and anything it started) and reap it. The plug-in is reaped only after the
        // group is killed, so the group's id cannot have been reused by then.
        self.to_stdin = None;
        wait_until(Duration::from_millis(100), || self.group.leader_exited());
        self.end();
    }
}

/// A plug-in policy for one run (the program starts at the first consultation).
pub struct ExternalPolicy {
    /// The policy's name, for errors.
    name: String,
    /// Program and arguments, the program resolved against the policy file's directory.
    command: Vec<String>,
    /// Working directory: the policy file's.
    dir: PathBuf,
    /// Time limit per answer.
    timeout: Duration,
    process: Option<Process>,
    /// It failed: the run is over.
    failed: bool,
}

impl Clone for ExternalPolicy {
    fn clone(&self) -> Self {
        ExternalPolicy {
            name: self.name.clone(),
            command: self.command.clone(),
            dir: self.dir.clone(),
            timeout: self.timeout,
            process: None,
            failed: false,
        }
    }
}

impl std::fmt::Debug for ExternalPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalPolicy").field("name", &self.name).field("command", &self.command).finish()
    }
}

/// The last `n` characters of `s`, marked when cut.
fn quote_tail(s: &str, n: usize) -> String {
    let count = s.chars().count();
    if count <= n { s.to_string() } else { format!("...{}", s.chars().skip(count - n).collect::<String>()) }
}

/// At most `n` characters of `s`, marked when cut.
fn quote(s: &str, n: usize) -> String {
    let t: String = s.chars().take(n).collect();
    if t.len() < s.len() { format!("{t}...") } else { t }
}

impl ExternalPolicy {
    /// The plug-in of policy `name`, declared by `spec` in the policy file at `policy_file`.
    pub fn new(name: &str, spec: &ExternalSpec, policy_file: &Path) -> ExternalPolicy {
        let dir = policy_file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
        ExternalPolicy {
            name: name.to_string(),
            command: spec.command.clone(),
            dir,
            timeout: Duration::from_millis(spec.timeout.ms()),
            process: None,
            failed: false,
        }
    }

    fn who(&self) -> String {
        format!("plug-in `{}` ({})", self.name, self.command.join(" "))
    }

    fn start(&mut self) -> Result<(), String> {
        let mut cmd = Command::new(&self.command[0]);
        cmd.args(&self.command[1..])
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        crate::process_group::new_group(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| format!("{} could not start: {e}", self.who()))?;
        let group = crate::process_group::Group::of(&child);
        let mut stdin: ChildStdin = child.stdin.take().expect("piped");
        let (to_stdin, outbox) = channel::<String>();
        std::thread::spawn(move || {
            for line in outbox {
                if stdin.write_all(line.as_bytes()).and_then(|()| stdin.flush()).is_err() {
                    break;
                }
            }
            // Dropping stdin here closes it: the program sees the end of its input.
        });
        let stdout = child.stdout.take().expect("piped");
        let stderr_pipe = child.stderr.take().expect("piped");
        // One line in flight at most: a program that floods stdout is held by its pipe.
        let (tx, lines) = sync_channel(1);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut buf = Vec::new();
                match reader.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf) {
                    Ok(0) => break,
                    Ok(_) => {
                        // More than MAX_LINE bytes before the newline: the read stopped at the limit.
                        let line = if buf.len() > MAX_LINE && !buf.ends_with(b"\n") {
                            Line::TooLong
                        } else {
                            Line::Text(String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']).to_string())
                        };
                        let too_long = matches!(line, Line::TooLong);
                        if tx.send(Ok(line)).is_err() || too_long {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stderr);
        let stderr_thread = std::thread::spawn(move || {
            // Drain everything (a program blocked on a full stderr pipe would hang); keep the end.
            let mut pipe = stderr_pipe;
            let mut chunk = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let mut tail = sink.lock().expect("stderr buffer");
                tail.extend_from_slice(&chunk[..n]);
                let excess = tail.len().saturating_sub(STDERR_TAIL);
                tail.drain(..excess);
            }
        });
        self.process = Some(Process { child, group, to_stdin: Some(to_stdin), lines, stderr, stderr_thread });
        Ok(())
    }

    /// One exchange: the observation out, the answer in.
    fn exchange(&mut self, view: &dyn ClusterView) -> Result<Answer, String> {
        if self.process.is_none() {
            self.start()?;
        }
        let who = self.who();
        let clock = view.start().clock_at(view.now()).to_string();
        let mut line = serde_json::to_string(&observe(view)).expect("observations serialize");
        line.push('\n');
        let timeout = self.timeout;
        let p = self.process.as_mut().expect("started");
        let stderr_tail = |p: &Process| {
            let s = String::from_utf8_lossy(&p.stderr.lock().expect("stderr buffer")).trim().to_string();
            if s.is_empty() { String::new() } else { format!("; the end of its stderr: {}", quote_tail(&s, 600)) }
        };
        if let Some(tx) = &p.to_stdin {
            // A writer thread that is gone means the program closed its stdin (it exited, most
            // likely): the read below says how.
            let _ = tx.send(line);
        }
        match p.lines.recv_timeout(timeout) {
            Ok(Ok(Line::Text(text))) => serde_json::from_str::<Answer>(&text).map_err(|e| {
                format!("{who} answered at {clock} with `{}`, which is not a valid answer: {e}", quote(&text, 200))
            }),
            Ok(Ok(Line::TooLong)) => Err(format!("{who} answered more than {MAX_LINE} bytes in one line at {clock}")),
            Ok(Err(e)) => Err(format!("{who}: reading its answer at {clock} failed: {e}")),
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "{who} did not answer within {} at {clock} (killed)",
                SimDuration(timeout.as_millis() as u64)
            )),
            Err(RecvTimeoutError::Disconnected) => {
                // It closed its stdout: it exited, or will. Wait a little for it (and for its
                // stderr to be read to the end), never forever.
                let exited = wait_until(Duration::from_secs(2), || p.group.leader_exited());
                let status = match p.end() {
                    Some(s) if exited => s.to_string(),
                    _ => "still running; killed".into(),
                };
                if exited {
                    wait_until(Duration::from_secs(1), || p.stderr_thread.is_finished());
                }
                Err(format!("{who} closed its output without answering at {clock} ({status}){}", stderr_tail(p)))
            }
        }
    }
}

impl Policy for ExternalPolicy {
    fn decide(&mut self, view: &dyn ClusterView) -> Decision {
        if self.failed {
            return Decision::default();
        }
        match self.exchange(view) {
            Ok(answer) => Decision {
                actions: answer
                    .actions
                    .into_iter()
                    .map(|action| Request { observed: None, by: format!("{} (plug-in)", self.name), action })
                    .collect(),
                wake_at: answer.wake_at_ms.map(SimTime),
                ..Decision::default()
            },
            Err(e) => {
                self.failed = true;
                self.process = None;
                Decision { error: Some(e), ..Decision::default() }
            }
        }
    }
}
