//! Optional HTTP probes during a drive: `--probe SERVICE=URL` GETs the URL once a second with a
//! one-second limit and counts a 2xx or 3xx answer as success. Only plain HTTP, and only to a
//! loopback address or a host the user named on the command line (no redirects are followed,
//! no body is kept beyond 64 KiB), so a probe reaches nothing it was not pointed at.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::error::DriveError;

/// Time between two probes of one URL.
pub const PROBE_PERIOD: Duration = Duration::from_secs(1);
/// Longest a probe waits for its answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Most of an answer's body read (the rest is dropped).
pub const PROBE_BODY_LIMIT: usize = 64 * 1024;

/// One service's probe, as `--probe` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeTarget {
    /// The scenario's service.
    pub service: String,
    /// The URL (`http://...`).
    pub url: hyper::Uri,
}

/// Parses `SERVICE=URL`; the URL must be plain HTTP.
pub fn parse_target(s: &str) -> Result<ProbeTarget, DriveError> {
    let (service, url) = s
        .split_once('=')
        .ok_or_else(|| DriveError::Refused(format!("--probe {s}: expected SERVICE=http://HOST:PORT/PATH")))?;
    let url: hyper::Uri = url.parse().map_err(|e| DriveError::Refused(format!("--probe {s}: {e}")))?;
    if url.scheme_str() != Some("http") || url.host().is_none() {
        return Err(DriveError::Refused(format!("--probe {s}: only http:// URLs with a host are probed")));
    }
    Ok(ProbeTarget { service: service.to_string(), url })
}

/// What the probes of one service saw (the result's `probes`).
pub use capsize_sim::result::ProbeResult as ProbeSummary;

/// Probes `target` every [`PROBE_PERIOD`] until aborted, adding to `out`.
pub async fn run(target: ProbeTarget, start: Instant, out: std::sync::Arc<std::sync::Mutex<ProbeSummary>>) {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut tick = tokio::time::interval(PROBE_PERIOD);
    loop {
        tick.tick().await;
        let at = start.elapsed().as_secs_f64();
        let answer = tokio::time::timeout(PROBE_TIMEOUT, async {
            let resp = client.get(target.url.clone()).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let _ = Limited::new(resp.into_body(), PROBE_BODY_LIMIT).collect().await;
            Ok::<_, String>(status)
        })
        .await;
        let failure = match answer {
            Err(_) => Some(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
            Ok(Err(e)) => Some(e),
            Ok(Ok(s)) if s.is_success() || s.is_redirection() => None,
            Ok(Ok(s)) => Some(format!("HTTP {s}")),
        };
        let mut o = out.lock().expect("probe summary");
        o.sent += 1;
        match failure {
            None => o.ok += 1,
            Some(f) if o.failures.len() < 100 => o.failures.push((at, f)),
            Some(_) => {}
        }
        o.success_ratio = f64::from(o.ok) / f64::from(o.sent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_targets_with_a_service_are_accepted() {
        assert_eq!(parse_target("web=http://127.0.0.1:8080/health").unwrap().service, "web");
        assert!(parse_target("web").is_err());
        assert!(parse_target("web=https://example.com/").is_err());
        assert!(parse_target("web=ftp://x/").is_err());
    }

    #[tokio::test]
    async fn a_probe_counts_answers_and_failures() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Two answers: 200, then 503; then the server is gone.
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            for code in ["200 OK", "503 Service Unavailable"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(format!("HTTP/1.1 {code}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes())
                    .await;
            }
        });
        let out = std::sync::Arc::new(std::sync::Mutex::new(ProbeSummary::default()));
        let t = parse_target(&format!("web=http://{addr}/health")).unwrap();
        let task = tokio::spawn(run(t, Instant::now(), out.clone()));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        task.abort();
        let o = out.lock().unwrap().clone();
        assert_eq!(o.sent, 3, "{o:?}");
        assert_eq!(o.ok, 1, "{o:?}");
        assert!(o.failures[0].1.contains("503"), "{o:?}");
    }
}
