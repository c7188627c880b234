//! `proxy` before its credentials exist (it serves at once, answers 503 saying why, and signs
//! once a token file appears, or gives up after `--wait-for-credentials`), and its token-free
//! `--metrics-listen` listener.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdout};

use crate::support::Fixture;

/// 60 s: far more than any step takes; a hang fails the test instead of the suite.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `agent-identity proxy --json -v`, its first line read.
struct Started {
    child: Child,
    first: Value,
    token: String,
    stderr: Lines<BufReader<ChildStderr>>,
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Started {
    async fn spawn(fixture: &Fixture, extra: &[&str]) -> Self {
        let upstream = fixture.emulator.base_url();
        let mut child = fixture
            .cli_with_emulator()
            .args(["-v", "proxy", "--json", "--upstream"])
            .arg(upstream.as_str().trim_end_matches('/'))
            .args(extra)
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the proxy starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let first = tokio::time::timeout(STEP_TIMEOUT, stdout.next_line())
            .await
            .expect("the first line in time")
            .expect("read stdout")
            .expect("a first line");
        let first: Value = serde_json::from_str(&first).expect("the first line is JSON");
        let token_file = first["client_token_file"].as_str().expect("token file");
        let token = std::fs::read_to_string(token_file)
            .expect("the client token file")
            .trim()
            .to_owned();
        Self {
            child,
            first,
            token,
            stderr,
            _stdout: stdout,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.first["url"].as_str().expect("url"))
    }

    /// `GET path` with the client token: the status and the JSON body.
    async fn get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("the proxy answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// Waits for a stderr line containing `needle`.
    async fn logged(&mut self, needle: &str) {
        tokio::time::timeout(STEP_TIMEOUT, async {
            loop {
                let line = self
                    .stderr
                    .next_line()
                    .await
                    .expect("read stderr")
                    .expect("the proxy is running");
                if line.contains(needle) {
                    return;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no log line with {needle:?} in time"));
    }

    /// SIGTERM, then the exit code.
    async fn stop(mut self) -> Option<i32> {
        let pid = self.child.id().expect("running").to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        tokio::time::timeout(STEP_TIMEOUT, self.child.wait())
            .await
            .expect("the proxy exits in time")
            .expect("wait")
            .code()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_answers_503_naming_a_missing_token_file_and_signs_once_it_appears() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let token_file = fixture.scratch.path().join("mounted.jwt");
    let path = token_file.to_str().expect("utf-8 path");
    let mut proxy = Started::spawn(&fixture, &["--jwt-file", path]).await;
    assert_eq!(proxy.first["state"], "waiting", "{}", proxy.first);

    // It serves: alive, not ready, and every request is told what is missing and what to do.
    let live = reqwest::get(proxy.url("/_agent-identity/live"))
        .await
        .expect("live");
    assert_eq!(live.status(), 200);
    let ready = reqwest::get(proxy.url("/_agent-identity/ready"))
        .await
        .expect("ready");
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<Value>().await.expect("json"),
        json!({"ready": false, "state": "waiting"})
    );
    let anonymous = reqwest::get(proxy.url("/echo")).await.expect("echo");
    assert_eq!(anonymous.status(), 401, "the client token is still needed");
    let (status, body) = proxy.get("/echo").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "waiting_for_credentials", "{body}");
    let message = body["message"].as_str().expect("a message");
    assert!(message.contains(path), "the file is named: {message}");
    assert!(
        message.contains("check the path"),
        "the fix is given: {message}"
    );
    let (status, health) = proxy.get("/_agent-identity/health").await;
    assert_eq!(status, 503);
    assert_eq!(health["state"], "waiting", "{health}");
    assert_eq!(fixture.emulator.assertions_accepted(), 0);

    // Having seen the 503, mount the file whole, as a secret volume is: written beside, then
    // renamed into place.
    let partial = fixture.write("mounted.jwt.tmp", minted.token.expose_secret());
    std::fs::rename(partial, &token_file).expect("rename the token file into place");
    proxy.logged("the credentials appeared").await;

    let (status, body) = proxy.get("/echo").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fixture.emulator.assertions_accepted(), 1);
    let ready = reqwest::get(proxy.url("/_agent-identity/ready"))
        .await
        .expect("ready");
    assert_eq!(ready.status(), 200);
    assert_eq!(proxy.stop().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bounded_wait_for_credentials_exits_75_with_one_line_naming_the_file() {
    let fixture = Fixture::new().await;
    let token_file = fixture.scratch.path().join("never.jwt");
    let path = token_file.to_str().expect("utf-8 path");
    let upstream = fixture.emulator.base_url();
    let run = fixture
        .cli_with_emulator()
        .args(["proxy", "--upstream"])
        .arg(upstream.as_str().trim_end_matches('/'))
        .args(["--wait-for-credentials", "1s", "--jwt-file", path])
        .run()
        .await;
    run.assert_code(75);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{run:#?}");
    assert!(errors[0].contains("after waiting 1s"), "{run:#?}");
    assert!(errors[0].contains(path), "{run:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_waiting_proxy_exits_0() {
    let fixture = Fixture::new().await;
    let token_file = fixture.scratch.path().join("never.jwt");
    let path = token_file.to_str().expect("utf-8 path");
    let mut proxy = Started::spawn(&fixture, &["--jwt-file", path]).await;
    proxy.logged("waiting for credentials").await;
    assert_eq!(proxy.stop().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_listen_serves_the_prometheus_text_without_the_token() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let proxy = Started::spawn(&fixture, &["--metrics-listen", "127.0.0.1:0"]).await;
    let metrics_url = proxy.first["metrics_url"]
        .as_str()
        .expect("the first line names the metrics url")
        .to_owned();
    assert!(
        metrics_url.starts_with("http://127.0.0.1:"),
        "{metrics_url}"
    );
    let (status, _) = proxy.get("/echo").await;
    assert_eq!(status, 200);

    let response = reqwest::get(&metrics_url).await.expect("metrics");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("text");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_owned())))
        .expect("the Prometheus text format");
    let requests = scrape
        .samples
        .iter()
        .find(|sample| {
            sample.metric == "agent_identity_proxy_requests_total"
                && sample.labels.get("class") == Some("2xx")
        })
        .unwrap_or_else(|| panic!("no 2xx requests in:\n{text}"));
    assert!(
        matches!(requests.value, prometheus_parse::Value::Counter(count) if count >= 1.0),
        "{:?}",
        requests.value
    );
    assert!(
        scrape
            .samples
            .iter()
            .any(|sample| sample.metric == "agent_identity_tasks_total"),
        "the library's counters are in the same scrape:\n{text}"
    );
    let elsewhere = reqwest::get(metrics_url.replace("/metrics", "/_agent-identity/headers"))
        .await
        .expect("another path");
    assert_eq!(elsewhere.status(), 404, "only /metrics is served there");
    assert_eq!(proxy.stop().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_metrics_listen_address_beyond_loopback_is_refused() {
    let fixture = Fixture::new().await;
    let upstream = fixture.emulator.base_url();
    let run = fixture
        .cli_with_emulator()
        .args(["proxy", "--upstream"])
        .arg(upstream.as_str().trim_end_matches('/'))
        .args(["--metrics-listen", "0.0.0.0:0"])
        .run()
        .await;
    run.assert_failure(2);
    assert!(run.stderr.contains("not a loopback address"), "{run:#?}");
}
