//! `proxy` and `exec` as users meet them: the binary as a process, real `curl` and a Python
//! standard-library client, the emulator as the upstream. Only the CLI's own part is here (its
//! flags, the first JSON line, the token file, signals, logs and exit codes); what the proxy
//! forwards and how is tested in-process in the proxy crate's own suite.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use agent_identity_emulator::MintedIdentity;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::support::{Fixture, refusing_port};

/// 60 s: far more than any step takes; a hang fails the test instead of the suite.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// A tool the tests run as a process. CI installs them (`.ci/run`); a machine without one fails
/// with a message saying so rather than skipping anything.
#[track_caller]
fn tool(name: &str) -> &str {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()));
    assert!(
        found,
        "{name} is needed by the proxy tests: install it (apt-get install {name})"
    );
    name
}

/// A running `agent-identity proxy --json`.
struct RunningProxy {
    child: Child,
    url: String,
    /// The first line, as JSON.
    first: Value,
    token: String,
    token_file: PathBuf,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    stderr: tokio::task::JoinHandle<String>,
    /// stderr's lines as they come, for tests that wait for a log line.
    stderr_lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl RunningProxy {
    async fn start(fixture: &Fixture, extra: &[&str]) -> Self {
        let base = fixture.emulator.base_url();
        Self::start_to(fixture, base.as_str().trim_end_matches('/'), extra).await
    }

    async fn start_to(fixture: &Fixture, upstream: &str, extra: &[&str]) -> Self {
        Self::spawn(fixture.cli_with_emulator(), upstream, extra).await
    }

    /// `cli proxy --json --upstream UPSTREAM EXTRA…`, running.
    async fn spawn(cli: crate::support::Cli, upstream: &str, extra: &[&str]) -> Self {
        let mut child = cli
            .args(["proxy", "--json", "--upstream", upstream])
            .args(extra)
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the proxy starts");
        let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let (stderr_tx, stderr_lines) = tokio::sync::mpsc::unbounded_channel();
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            while let Ok(Some(line)) = stderr.next_line().await {
                text.push_str(&line);
                text.push('\n');
                let _ = stderr_tx.send(line);
            }
            text
        });
        let mut reader = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let first = tokio::time::timeout(STEP_TIMEOUT, reader.next_line())
            .await
            .expect("the first line in time")
            .expect("read stdout")
            .expect("a first line");
        let first: Value = serde_json::from_str(&first).expect("the first line is JSON");
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = reader.next_line().await {
                let _ = tx.send(line);
            }
        });
        let token_file = PathBuf::from(first["client_token_file"].as_str().expect("token file"));
        let token = std::fs::read_to_string(&token_file)
            .expect("the token file")
            .trim()
            .to_owned();
        assert_eq!(
            first["upstream"]
                .as_str()
                .map(|url| url.trim_end_matches('/')),
            Some(upstream)
        );
        Self {
            child,
            url: first["url"].as_str().expect("url").to_owned(),
            first,
            token,
            token_file,
            lines,
            stderr,
            stderr_lines,
        }
    }

    /// Waits for a stderr line containing `needle` (a log line: run with `-v`).
    async fn logged(&mut self, needle: &str) -> String {
        tokio::time::timeout(STEP_TIMEOUT, async {
            loop {
                let line = self
                    .stderr_lines
                    .recv()
                    .await
                    .expect("the proxy is running");
                if line.contains(needle) {
                    return line;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no log line with {needle:?} in time"))
    }

    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .default_headers(
                [(
                    reqwest::header::AUTHORIZATION,
                    format!("Bearer {}", self.token)
                        .parse()
                        .expect("header value"),
                )]
                .into_iter()
                .collect(),
            )
            .build()
            .expect("client")
    }

    /// The health endpoint's detail, which needs the client token.
    async fn health(&self) -> Value {
        self.client()
            .get(format!("{}/_agent-identity/health", self.url))
            .send()
            .await
            .expect("health")
            .json()
            .await
            .expect("health json")
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// SIGTERM, then the exit code, the access-log lines and stderr.
    async fn stop(mut self) -> (Option<i32>, Vec<Value>, String) {
        self.signal("TERM");
        let status = tokio::time::timeout(STEP_TIMEOUT, self.child.wait())
            .await
            .expect("the proxy exits in time")
            .expect("wait");
        let mut log = Vec::new();
        while let Some(line) = self.lines.recv().await {
            log.push(serde_json::from_str(&line).expect("access-log lines are JSON"));
        }
        let stderr = self.stderr.await.expect("stderr");
        (status.code(), log, stderr)
    }
}

async fn logged_in() -> (Fixture, MintedIdentity) {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    (fixture, minted)
}

async fn run_tool(command: &mut Command) -> (Option<i32>, String, String) {
    let output = tokio::time::timeout(STEP_TIMEOUT, command.kill_on_drop(true).output())
        .await
        .expect("the tool finishes in time")
        .expect("the tool runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn curl_through_the_proxy_is_signed_and_the_clients_identity_headers_are_replaced() {
    let (fixture, minted) = logged_in().await;
    let proxy = RunningProxy::start(&fixture, &[]).await;
    let (code, stdout, stderr) = run_tool(Command::new(tool("curl")).args([
        "-sS",
        "-H",
        &format!("Authorization: Bearer {}", proxy.token),
        "-H",
        "ChatGPT-Account-ID: forged",
        &format!("{}/echo?x=1", proxy.url),
    ]))
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    let body: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(body["runtime_id"], minted.runtime_id.as_str(), "{body}");
    assert_eq!(body["account_id"], "account-emulator");
    assert_eq!(fixture.emulator.assertions_accepted(), 1);
    assert_eq!(fixture.emulator.assertions_rejected(), 0);
    let (exit, log, _) = proxy.stop().await;
    assert_eq!(exit, Some(0));
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["method"], "GET");
    assert_eq!(log[0]["path"], "/echo");
    assert_eq!(log[0]["status"], 200);
    assert_eq!(log[0]["recovered"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_standard_library_client_posts_through_the_proxy() {
    let (fixture, _) = logged_in().await;
    let proxy = RunningProxy::start(&fixture, &[]).await;
    let script = r#"
import hashlib, json, os, urllib.request
body = b"hello from python" * 1000
request = urllib.request.Request(
    os.environ["URL"] + "/echo", data=body, method="POST",
    headers={"Authorization": "Bearer " + os.environ["TOKEN"], "Content-Type": "application/octet-stream"})
with urllib.request.urlopen(request) as response:
    reply = json.load(response)
assert reply["body_length"] == len(body), reply
assert reply["body_sha256"] == hashlib.sha256(body).hexdigest(), reply
print("ok")
"#;
    let (code, stdout, stderr) = run_tool(
        Command::new(tool("python3"))
            .args(["-c", script])
            .env("URL", &proxy.url)
            .env("TOKEN", &proxy.token),
    )
    .await;
    assert_eq!((code, stdout.trim()), (Some(0), "ok"), "{stderr}");
    let _ = proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_unix_socket_is_created_0600_and_needs_no_token() {
    use std::os::unix::fs::PermissionsExt as _;
    let (fixture, _) = logged_in().await;
    let socket = fixture.scratch.path().join("proxy.sock");
    let proxy = RunningProxy::start(
        &fixture,
        &["--listen", &format!("unix:{}", socket.display())],
    )
    .await;
    assert_eq!(proxy.url, format!("unix:{}", socket.display()));
    let mode = std::fs::metadata(&socket)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let (code, stdout, stderr) = run_tool(Command::new(tool("curl")).args([
        "-sS",
        "--unix-socket",
        socket.to_str().expect("utf-8 path"),
        "http://localhost/echo",
    ]))
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("\"task_id\""), "{stdout}");
    let (exit, _, _) = proxy.stop().await;
    assert_eq!(exit, Some(0));
    assert!(!socket.exists(), "the socket is removed on exit");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_a_request_in_flight_finish_and_exits_0() {
    let (fixture, _) = logged_in().await;
    let proxy = RunningProxy::start(&fixture, &[]).await;
    let mut response = proxy
        .client()
        .get(format!("{}/echo/events?count=3&interval_ms=300", proxy.url))
        .send()
        .await
        .expect("events");
    let first = response
        .chunk()
        .await
        .expect("chunk")
        .expect("a first event");
    let mut text = String::from_utf8(first.to_vec()).expect("utf-8");
    // The stream is in flight: stop the proxy now.
    proxy.signal("TERM");
    while let Some(chunk) = response.chunk().await.expect("the stream finishes") {
        text.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
    }
    assert_eq!(text.matches("data: ").count(), 3, "{text}");
    let (exit, _, _) = proxy.stop_after_signal().await;
    assert_eq!(exit, Some(0));
}

impl RunningProxy {
    async fn stop_after_signal(mut self) -> (Option<i32>, Vec<Value>, String) {
        let status = tokio::time::timeout(STEP_TIMEOUT, self.child.wait())
            .await
            .expect("the proxy exits in time")
            .expect("wait");
        let stderr = self.stderr.await.expect("stderr");
        (status.code(), Vec::new(), stderr)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_token_key_assertion_or_client_token_appears_in_verbose_or_json_logs() {
    let (fixture, minted) = logged_in().await;
    let proxy = RunningProxy::start(&fixture, &["-vvv"]).await;
    let client = proxy.client();
    client
        .get(format!("{}/echo?secret=1", proxy.url))
        .send()
        .await
        .expect("request");
    client
        .get(format!("{}/_agent-identity/headers", proxy.url))
        .send()
        .await
        .expect("headers");
    fixture.emulator.revoke_tasks();
    let recovered = client
        .post(format!("{}/echo", proxy.url))
        .body("x")
        .send()
        .await
        .expect("request");
    assert_eq!(recovered.status(), 200);
    reqwest::Client::new()
        .get(format!("{}/echo", proxy.url))
        .header("Authorization", "Bearer wrong-token-sentinel")
        .send()
        .await
        .expect("request");
    let client_token = proxy.token.clone();
    let token_file = proxy.token_file.clone();
    let (exit, log, stderr) = proxy.stop().await;
    assert_eq!(exit, Some(0));
    let stdout: String = log.iter().map(|line| format!("{line}\n")).collect();
    assert!(log.iter().any(|line| line["recovered"] == true), "{stdout}");
    let token = minted.token.expose_secret();
    let key = minted.key.to_pkcs8_base64();
    for (what, secret) in [
        ("the token", token),
        ("the key", key.as_str()),
        ("the client token", client_token.as_str()),
        ("an assertion", "AgentAssertion "),
        ("a wrong client token", "wrong-token-sentinel"),
        ("a query", "secret=1"),
    ] {
        assert!(
            !stdout.contains(secret),
            "{what} in the access log: {stdout}"
        );
        assert!(!stderr.contains(secret), "{what} in the -vvv log: {stderr}");
    }
    assert!(!stderr.is_empty(), "-vvv logged something");
    assert!(!token_file.exists(), "the token file goes with the proxy");
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_gives_the_child_the_proxy_and_returns_its_exit_code() {
    let (fixture, minted) = logged_in().await;
    tool("curl");
    let script = r#"curl -sS -H "Authorization: Bearer $AGENT_IDENTITY_PROXY_TOKEN" "$AGENT_IDENTITY_PROXY_URL/echo"; echo; echo "base=$OPENAI_BASE_URL key_is_token=$([ "$OPENAI_API_KEY" = "$AGENT_IDENTITY_PROXY_TOKEN" ] && echo yes)"; exit 7"#;
    let run = fixture
        .cli_with_emulator()
        .args(["exec", "--openai-env", "--upstream"])
        .arg(fixture.emulator.base_url().as_str().trim_end_matches('/'))
        .args(["--", "sh", "-c", script])
        .run()
        .await;
    run.assert_code(7);
    let mut lines = run.stdout.lines();
    let echo: Value = serde_json::from_str(lines.next().unwrap_or_default()).expect("echo json");
    assert_eq!(echo["runtime_id"], minted.runtime_id.as_str(), "{run:#?}");
    let env = lines.next().unwrap_or_default();
    assert!(
        env.starts_with("base=http://127.0.0.1:") && env.ends_with("key_is_token=yes"),
        "{run:#?}"
    );
    let plain = fixture
        .cli_with_emulator()
        .args([
            "exec",
            "--",
            "sh",
            "-c",
            r#"[ -n "$AGENT_IDENTITY_PROXY_URL" ] && [ -z "$OPENAI_API_KEY" ]"#,
        ])
        .run()
        .await;
    plain.assert_code(0);
    assert_eq!(json!(fixture.emulator.assertions_accepted()), json!(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_forwards_sigterm_to_the_child() {
    let (fixture, _) = logged_in().await;
    let mut child = fixture
        .cli_with_emulator()
        .args([
            "exec",
            "--",
            "sh",
            "-c",
            "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done",
        ])
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("exec starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready = tokio::time::timeout(STEP_TIMEOUT, lines.next_line())
        .await
        .expect("ready in time")
        .expect("read");
    assert_eq!(ready.as_deref(), Some("ready"));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().expect("pid").to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let status = tokio::time::timeout(STEP_TIMEOUT, child.wait())
        .await
        .expect("exec exits in time")
        .expect("wait");
    assert_eq!(status.code(), Some(42));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_by_another_process_is_picked_up_and_sighup_reloads() {
    let (fixture, first) = logged_in().await;
    let mut proxy = RunningProxy::start(&fixture, &["-v"]).await;
    assert_eq!(
        proxy.health().await["runtime_id"],
        first.runtime_id.as_str()
    );
    // Another process logs another identity in: auth.json changes under the proxy.
    let second = fixture.mint();
    fixture.login(&second).await;
    let line = proxy.logged("reloaded after the credentials changed").await;
    assert!(line.contains("updated"), "{line}");
    assert_eq!(
        proxy.health().await["runtime_id"],
        second.runtime_id.as_str()
    );
    // SIGHUP reloads too (nothing changed this time).
    proxy.signal("HUP");
    let line = proxy.logged("SIGHUP: reloaded the identity").await;
    assert!(line.contains("unchanged"), "{line}");
    let (exit, _, _) = proxy.stop().await;
    assert_eq!(exit, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_home_is_created_0700_and_an_unsafe_home_is_refused_before_anything_is_written() {
    use std::os::unix::fs::PermissionsExt as _;

    let fixture = Fixture::new().await;
    let upstream = fixture.emulator.base_url();
    let upstream = upstream.as_str().trim_end_matches('/');
    let home = fixture.scratch.path().join("new-home");
    let proxy = RunningProxy::spawn(
        fixture.cli_with_emulator().env(HOME_VARIABLE, &home),
        upstream,
        &[],
    )
    .await;
    let mode = std::fs::metadata(&home)
        .expect("the home")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    assert!(proxy.token_file.starts_with(&home));
    let _ = proxy.stop().await;

    // A home others may write is refused, and nothing is written into it.
    let shared = fixture.scratch.path().join("shared-home");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o775)).expect("chmod");
    let run = fixture
        .cli_with_emulator()
        .env(HOME_VARIABLE, &shared)
        .args(["proxy", "--upstream", upstream])
        .run()
        .await;
    assert_ne!(run.code, Some(0), "{run:#?}");
    assert!(run.stderr.contains("writable"), "{run:#?}");
    let written: Vec<_> = std::fs::read_dir(&shared).expect("list").collect();
    assert!(written.is_empty(), "{written:?}");
}

/// The home variable, as the fixture sets it.
const HOME_VARIABLE: &str = agent_identity_manager::HOME_ENV_VAR;

#[tokio::test(flavor = "multi_thread")]
async fn each_proxy_has_a_token_file_of_its_own_removed_when_it_exits() {
    let (fixture, _) = logged_in().await;
    let first = RunningProxy::start(&fixture, &[]).await;
    let second = RunningProxy::start(&fixture, &[]).await;
    assert_ne!(first.token_file, second.token_file);
    assert_ne!(first.token, second.token);
    let port = first.url.rsplit(':').next().expect("a port");
    assert!(
        first.token_file.ends_with(format!("proxy-{port}.token")),
        "{}",
        first.token_file.display()
    );
    // The first one's clients still get through after the second started.
    let status = first
        .client()
        .get(format!("{}/_agent-identity/headers", first.url))
        .send()
        .await
        .expect("request")
        .status();
    assert_eq!(status, 200);
    let (first_file, second_file) = (first.token_file.clone(), second.token_file.clone());
    assert_eq!(first.stop().await.0, Some(0));
    assert!(!first_file.exists(), "removed on a clean exit");
    assert!(second_file.exists(), "the other proxy's file stays");
    assert_eq!(second.stop().await.0, Some(0));
    assert!(!second_file.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listen_address_beyond_loopback_needs_listen_public_and_warns() {
    let (fixture, _) = logged_in().await;
    let upstream = fixture.emulator.base_url();
    let upstream = upstream.as_str().trim_end_matches('/');
    for listen in ["0.0.0.0:0", "[::]:0"] {
        let run = fixture
            .cli_with_emulator()
            .args(["proxy", "--upstream", upstream, "--listen", listen])
            .run()
            .await;
        run.assert_failure(2);
        assert!(run.stderr.contains("--listen-public"), "{run:#?}");
    }
    let mut proxy =
        RunningProxy::start(&fixture, &["--listen", "0.0.0.0:0", "--listen-public"]).await;
    let warning = proxy.logged("warning: listening on 0.0.0.0").await;
    assert!(warning.contains("beyond this machine"), "{warning}");
    let _ = proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_token_file_others_may_write_or_a_fifo_is_refused_at_once() {
    use std::os::unix::fs::PermissionsExt as _;

    let (fixture, _) = logged_in().await;
    let upstream = fixture.emulator.base_url();
    let upstream = upstream.as_str().trim_end_matches('/');
    let open = fixture.write("open.token", &"A".repeat(43));
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let fifo = fixture.scratch.path().join("fifo.token");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    for (file, says) in [(&open, "writable"), (&fifo, "not a regular file")] {
        let run = fixture
            .cli_with_emulator()
            .args(["proxy", "--upstream", upstream, "--client-token-file"])
            .arg(file)
            .run()
            .await;
        run.assert_failure(1);
        assert!(run.stderr.contains(says), "{run:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_key_set_answers_503_naming_the_url_and_the_fix() {
    let (fixture, _) = logged_in().await;
    let jwks = format!("http://{}/jwks", refusing_port());
    let upstream = fixture.emulator.base_url();
    let authapi = fixture.emulator.authapi_base_url();
    let proxy = RunningProxy::spawn(
        fixture.cli(),
        upstream.as_str().trim_end_matches('/'),
        &["--jwks-url", &jwks, "--authapi-base-url", authapi.as_str()],
    )
    .await;
    let response = proxy
        .client()
        .get(format!("{}/echo", proxy.url))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("json");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(&jwks), "the url is named: {body}");
    assert!(
        body["fix"]
            .as_str()
            .is_some_and(|fix| fix.contains("reachable")),
        "{body}"
    );
    assert_eq!(fixture.emulator.assertions_accepted(), 0);
    let _ = proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_readiness_after_the_token_file_is_corrupted() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let token_file = fixture.token_file(&minted);
    let mut proxy = RunningProxy::start(
        &fixture,
        &["-v", "--jwt-file", token_file.to_str().expect("utf-8 path")],
    )
    .await;
    assert_eq!(proxy.health().await["degraded"], Value::Null);
    std::fs::write(&token_file, "{ torn").expect("corrupt the token file");
    proxy.signal("HUP");
    let _ = proxy.logged("SIGHUP: reloaded the identity").await;
    let health = proxy.health().await;
    // Still signing with the identity it had, and saying so behind the token.
    assert_eq!(health["state"], "ready", "{health}");
    assert!(health["degraded"]["since_unix"].is_u64(), "{health}");
    assert!(health["degraded"]["message"].is_string(), "{health}");
    let ready = reqwest::get(format!("{}/_agent-identity/ready", proxy.url))
        .await
        .expect("ready");
    assert_eq!(ready.status(), 200);
    // Without the token, the state alone.
    let anonymous: Value = reqwest::get(format!("{}/_agent-identity/health", proxy.url))
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(anonymous, json!({"state": "ready"}));
    let _ = proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_served_behind_the_token_in_the_prometheus_text_format() {
    let (fixture, _) = logged_in().await;
    let proxy = RunningProxy::start(&fixture, &[]).await;
    for _ in 0..3 {
        let status = proxy
            .client()
            .get(format!("{}/echo", proxy.url))
            .send()
            .await
            .expect("request")
            .status();
        assert_eq!(status, 200);
    }
    let url = format!("{}/_agent-identity/metrics", proxy.url);
    let anonymous = reqwest::get(&url).await.expect("metrics");
    assert_eq!(anonymous.status(), 401, "the client token is needed");
    let text = proxy
        .client()
        .get(&url)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_owned())))
        .expect("the Prometheus text format");
    let sample = |name: &str, label: Option<(&str, &str)>| {
        scrape
            .samples
            .iter()
            .find(|sample| {
                sample.metric == name
                    && label.is_none_or(|(key, value)| sample.labels.get(key) == Some(value))
            })
            .unwrap_or_else(|| panic!("no {name} {label:?} in:\n{text}"))
    };
    let requests = sample(
        "agent_identity_proxy_requests_total",
        Some(("class", "2xx")),
    );
    assert!(
        matches!(requests.value, prometheus_parse::Value::Counter(count) if count >= 3.0),
        "{:?}",
        requests.value
    );
    let durations = sample("agent_identity_proxy_request_duration_seconds", None);
    assert!(
        matches!(&durations.value, prometheus_parse::Value::Histogram(buckets) if !buckets.is_empty()),
        "{:?}",
        durations.value
    );
    // The library's own counters are in the same scrape: the task the proxy signs with.
    let tasks = sample("agent_identity_tasks_total", None);
    assert!(
        matches!(tasks.value, prometheus_parse::Value::Counter(count) if count >= 1.0),
        "{:?}",
        tasks.value
    );
    let _ = proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_signs_concurrent_requests_on_one_worker_and_on_several() {
    let (fixture, _) = logged_in().await;
    for workers in ["1", "3"] {
        let proxy = RunningProxy::start(&fixture, &["--workers", workers]).await;
        assert_eq!(
            proxy.first["workers"]
                .as_u64()
                .map(|n| n.to_string())
                .as_deref(),
            Some(workers),
            "the runtime serves with the threads asked for: {}",
            proxy.first
        );
        let accepted = fixture.emulator.assertions_accepted();
        let client = proxy.client();
        let requests = (0..16).map(|i| {
            let request = client.get(format!("{}/echo?i={i}", proxy.url)).send();
            async move { request.await.expect("request").status().as_u16() }
        });
        let statuses = futures_util::future::join_all(requests).await;
        assert!(
            statuses.iter().all(|status| *status == 200),
            "--workers {workers}: {statuses:?}"
        );
        assert_eq!(
            fixture.emulator.assertions_accepted() - accepted,
            16,
            "--workers {workers}: every request was signed"
        );
        assert_eq!(proxy.stop().await.0, Some(0), "--workers {workers}");
    }
}

#[tokio::test]
async fn zero_workers_is_a_usage_error_naming_the_flag() {
    let fixture = Fixture::new().await;
    for command in [
        &[
            "proxy",
            "--upstream",
            "http://127.0.0.1:9",
            "--workers",
            "0",
        ][..],
        &["exec", "--workers", "0", "--", "true"][..],
    ] {
        let run = fixture.cli().args(command).run().await;
        run.assert_failure(2);
        assert!(run.stderr.contains("--workers"), "{command:?}: {run:#?}");
    }
}
