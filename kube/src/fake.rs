//! An in-memory Kubernetes API for the tests: enough of the real one's semantics (get, list,
//! merge patch with `dryRun=All`, delete, create with 409, the scale subresource, evictions with
//! 429 for pods a budget protects, exec refused) to run plans, drives and rollbacks against a
//! `tower_test` mock without a cluster. Every request is recorded.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};

/// A response body: whole, or a watch that stays open and quiet (the fake sends no watch events;
/// what a drive observes is the initial list).
pub enum FakeBody {
    /// The whole body.
    Full(Option<Bytes>),
    /// An open watch.
    Pending,
}

impl http_body::Body for FakeBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        match &mut *self {
            FakeBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(http_body::Frame::data(b)))),
            FakeBody::Pending => Poll::Pending,
        }
    }
}

/// One request the fake answered.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// `GET`, `PATCH`, ...
    pub method: String,
    /// The path.
    pub path: String,
    /// The query string.
    pub query: String,
    /// The body, parsed (`Null` when empty).
    pub body: Value,
    /// Lines in the journal file when the request arrived (for write-before-act checks).
    pub journal_lines: usize,
}

/// The fake's state: objects by collection path and name.
#[derive(Default)]
pub struct State {
    /// `collection path -> name -> object`, e.g. `/api/v1/namespaces/shop/pods`.
    pub objects: BTreeMap<String, BTreeMap<String, Value>>,
    /// Every request, in order.
    pub requests: Vec<Recorded>,
    /// Pods (`namespace/name`) whose eviction a disruption budget refuses (429), and how many
    /// more times it does.
    pub refuse_evictions: BTreeMap<String, u32>,
    /// The journal to count lines of at each request.
    pub journal: Option<std::path::PathBuf>,
    resource_version: u64,
}

/// A handle on the fake's state, shared with its server task.
pub type Shared = Arc<Mutex<State>>;

/// The collection path of a kind in a namespace.
pub fn collection(kind: &str, ns: Option<&str>) -> String {
    match (kind, ns) {
        ("nodes", _) => "/api/v1/nodes".into(),
        ("deployments" | "statefulsets", Some(ns)) => format!("/apis/apps/v1/namespaces/{ns}/{kind}"),
        (k, Some(ns)) => format!("/api/v1/namespaces/{ns}/{k}"),
        (k, None) => format!("/api/v1/{k}"),
    }
}

impl State {
    /// Stores an object under its kind and namespace.
    pub fn put(&mut self, kind: &str, obj: Value) {
        let ns = obj["metadata"]["namespace"].as_str().map(str::to_string);
        let name = obj["metadata"]["name"].as_str().expect("named").to_string();
        self.objects.entry(collection(kind, ns.as_deref())).or_default().insert(name, obj);
    }

    /// Every object, with what the server sets and what means the same normalised away.
    pub fn normalized(&self) -> BTreeMap<String, BTreeMap<String, Value>> {
        self.objects
            .iter()
            .map(|(c, m)| (c.clone(), m.iter().map(|(n, o)| (n.clone(), normalize(o.clone()))).collect()))
            .filter(|(_, m): &(String, BTreeMap<String, Value>)| !m.is_empty())
            .collect()
    }

    fn next_rv(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }
}

/// An object without its server-set fields and its status (what the kubelet and controllers
/// report, which no client restores); `false`, `{}` and `null` mean "absent".
pub fn normalize(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"] {
            m.remove(k);
        }
    }
    prune(&mut v);
    v
}

fn prune(v: &mut Value) {
    if let Value::Object(m) = v {
        for (_, x) in m.iter_mut() {
            prune(x);
        }
        m.retain(|_, x| !(x.is_null() || *x == Value::Bool(false) || x.as_object().is_some_and(|o| o.is_empty())));
    }
}

/// RFC 7386 JSON merge patch.
pub fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn status(code: StatusCode, reason: &str, message: String) -> Response<FakeBody> {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": reason, "code": code.as_u16()});
    let mut r = Response::new(FakeBody::Full(Some(Bytes::from(serde_json::to_vec(&body).unwrap()))));
    *r.status_mut() = code;
    r
}

fn ok(v: &Value) -> Response<FakeBody> {
    Response::new(FakeBody::Full(Some(Bytes::from(serde_json::to_vec(v).unwrap()))))
}

/// Starts the fake: a client that talks to it, and its state.
pub fn start(state: State) -> (kube::Client, Shared) {
    let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<FakeBody>>();
    let shared: Shared = Arc::new(Mutex::new(state));
    let s = shared.clone();
    tokio::spawn(async move {
        while let Some((req, send)) = handle.next_request().await {
            let (parts, body) = req.into_parts();
            let bytes = body.collect_bytes().await.unwrap_or_default();
            let body: Value =
                if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
            let resp = answer(&s, parts.method.as_str(), parts.uri.path(), parts.uri.query().unwrap_or(""), body);
            send.send_response(resp);
        }
    });
    (kube::Client::new(svc, "default"), shared)
}

fn answer(s: &Shared, method: &str, path: &str, query: &str, body: Value) -> Response<FakeBody> {
    let mut st = s.lock().unwrap();
    let journal_lines =
        st.journal.as_ref().and_then(|p| std::fs::read_to_string(p).ok()).map_or(0, |t| t.lines().count());
    st.requests.push(Recorded {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        body: body.clone(),
        journal_lines,
    });
    // kube-rs sends a delete's options (dryRun among them) in the body, the rest in the query.
    let dry = query.split('&').any(|kv| kv == "dryRun=All") || body["dryRun"] == json!(["All"]);
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    // Split the path into collection, name and subresource: `/api/v1[/namespaces/NS]/KIND` or
    // `/apis/GROUP/VERSION[/namespaces/NS]/KIND`.
    let coll_len = match segs.first() {
        Some(&"apis") if segs.get(3) == Some(&"namespaces") => 6,
        Some(&"apis") => 4,
        _ if segs.get(2) == Some(&"namespaces") => 5,
        _ => 3,
    };
    if segs.len() < coll_len {
        return status(StatusCode::NOT_FOUND, "NotFound", format!("no route {path}"));
    }
    let coll = format!("/{}", segs[..coll_len].join("/"));
    let name = segs.get(coll_len).map(|s| s.to_string());
    let sub = segs.get(coll_len + 1).copied();
    let kind = segs[coll_len - 1].trim_end_matches('s').to_string();
    let not_found = |n: &str| status(StatusCode::NOT_FOUND, "NotFound", format!("{kind}s \"{n}\" not found"));
    match (method, name, sub) {
        ("GET", None, _) if query.split('&').any(|kv| kv == "watch=true" || kv == "watch=1") => {
            Response::new(FakeBody::Pending)
        }
        ("GET", None, _) => {
            let items: Vec<Value> = st.objects.get(&coll).map(|m| m.values().cloned().collect()).unwrap_or_default();
            ok(&json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}))
        }
        ("GET", Some(n), None) => match st.objects.get(&coll).and_then(|m| m.get(&n)) {
            Some(o) => ok(o),
            None => not_found(&n),
        },
        ("GET", Some(_), Some("exec")) => {
            status(StatusCode::FORBIDDEN, "Forbidden", "pods/exec is forbidden in the fake".into())
        }
        ("POST", None, _) => {
            let n = body["metadata"]["name"].as_str().unwrap_or_default().to_string();
            if st.objects.get(&coll).is_some_and(|m| m.contains_key(&n)) {
                return status(StatusCode::CONFLICT, "AlreadyExists", format!("{kind}s \"{n}\" already exists"));
            }
            let mut obj = body;
            let rv = st.next_rv();
            obj["metadata"]["resourceVersion"] = json!(rv);
            if !dry {
                st.objects.entry(coll).or_default().insert(n, obj.clone());
            }
            let mut r = ok(&obj);
            *r.status_mut() = StatusCode::CREATED;
            r
        }
        ("POST", Some(n), Some("eviction")) => {
            let ns = segs.get(3).copied().unwrap_or_default();
            if !st.objects.get(&coll).is_some_and(|m| m.contains_key(&n)) {
                return not_found(&n);
            }
            let key = format!("{ns}/{n}");
            if let Some(left) = st.refuse_evictions.get_mut(&key).filter(|l| **l > 0) {
                *left -= 1;
                return status(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.".into(),
                );
            }
            if !dry {
                st.objects.get_mut(&coll).unwrap().remove(&n);
            }
            let mut r =
                ok(&json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}));
            *r.status_mut() = StatusCode::CREATED;
            r
        }
        ("PATCH", Some(n), sub) => {
            let Some(obj) = st.objects.get(&coll).and_then(|m| m.get(&n)).cloned() else { return not_found(&n) };
            let mut new = obj;
            let scale = sub == Some("scale");
            if scale {
                merge(&mut new, &json!({"spec": {"replicas": body["spec"]["replicas"].clone()}}));
            } else {
                merge(&mut new, &body);
            }
            let rv = st.next_rv();
            new["metadata"]["resourceVersion"] = json!(rv);
            if !dry {
                st.objects.get_mut(&coll).unwrap().insert(n.clone(), new.clone());
            }
            if scale {
                let r = new["spec"]["replicas"].clone();
                ok(
                    &json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": n}, "spec": {"replicas": r}, "status": {"replicas": r}}),
                )
            } else {
                ok(&new)
            }
        }
        ("DELETE", Some(n), None) => {
            let Some(obj) = st.objects.get(&coll).and_then(|m| m.get(&n)).cloned() else { return not_found(&n) };
            if !dry {
                st.objects.get_mut(&coll).unwrap().remove(&n);
            }
            ok(&obj)
        }
        _ => status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", format!("{method} {path}")),
    }
}

/// A small cluster: two nodes, a ConfigMap, a Deployment with an owned pod, and a bare pod, in
/// namespace `shop`; one pod in `other` that nothing may touch.
pub fn small_cluster() -> State {
    let mut s = State::default();
    for n in ["kind-worker", "kind-worker2"] {
        s.put(
            "nodes",
            json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n, "capsize.dev/pool": "worker"}},
            "spec": {"podCIDR": "10.244.1.0/24"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        );
    }
    s.put(
        "configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "api-settings", "namespace": "shop", "annotations": {"team": "shop"}},
        "data": {"app.json": "{}"}}),
    );
    s.put("deployments", json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "shop"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api"}},
                 "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "api", "image": "api:1"}]}}}}));
    let pod = |name: &str, ns: &str, node: &str, owned: bool| {
        let mut p = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": "api"}},
            "spec": {"nodeName": node, "containers": [{"name": "api", "image": "api:1"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "api", "ready": true, "restartCount": 0,
                       "image": "api:1", "imageID": "", "containerID": "containerd://abc"}]}});
        if owned {
            p["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-5d4f",
                                                      "uid": "u1", "controller": true}]);
        }
        p
    };
    s.put("pods", pod("api-5d4f-abcde", "shop", "kind-worker", true));
    s.put("pods", pod("debug", "shop", "kind-worker2", false));
    s.put("pods", pod("other-app", "other", "kind-worker", true));
    s
}

/// The mutating requests the fake received: method, path, and whether they were dry runs
/// (`dryRun=All` in the query, or in a delete's body).
pub fn mutations(state: &Shared) -> Vec<(String, String, bool)> {
    state
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| {
            let dry = r.query.split('&').any(|kv| kv == "dryRun=All") || r.body["dryRun"] == json!(["All"]);
            (r.method.clone(), r.path.clone(), dry)
        })
        .collect()
}

/// Namespaces any mutating request touched.
pub fn touched_namespaces(state: &Shared) -> BTreeSet<String> {
    state
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.method != "GET")
        .filter_map(|r| r.path.split("/namespaces/").nth(1).and_then(|x| x.split('/').next()).map(str::to_string))
        .collect()
}
