//! An axum app behind `AgentAssertionLayer`, called by our own client.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use agent_identity_sdk::emulator::Emulator;
use agent_identity_sdk::server::{
    AgentAssertionLayer, AgentDirectory, KnownRuntime, RefreshingDirectory, StaticDirectory,
    VerifiedAgent,
};
use agent_identity_sdk::{AgentIdentityAuth, AuthManager};
use axum::Json;
use axum::routing::get;

use crate::support::{client, logged_in};

/// The runtimes and tasks a resource server knows, with revocation.
#[derive(Default)]
struct Directory {
    runtimes: HashMap<String, KnownRuntime>,
    tasks: Mutex<HashSet<(String, String)>>,
}

impl AgentDirectory for Directory {
    fn runtime(&self, runtime_id: &str) -> Option<KnownRuntime> {
        self.runtimes.get(runtime_id).cloned()
    }

    fn task_valid(&self, runtime_id: &str, task_id: &str) -> bool {
        self.tasks
            .lock()
            .expect("not poisoned")
            .contains(&(runtime_id.to_owned(), task_id.to_owned()))
    }
}

async fn whoami(agent: VerifiedAgent) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "runtime_id": agent.runtime_id().as_str(),
        "task_id": agent.task_id().as_str(),
        "account_id": agent.account_id().as_str(),
        "fedramp": agent.is_fedramp(),
    }))
}

struct App {
    url: String,
    directory: Arc<Directory>,
    manager: AuthManager,
    _emulator: Emulator,
}

impl App {
    /// An app that knows the identity `manager` loaded, and its task.
    async fn start() -> Self {
        Self::start_with(false).await
    }

    /// [`start`](Self::start), the directory saying whether the runtime's account is FedRAMP.
    async fn start_with(fedramp: bool) -> Self {
        let emulator = Emulator::start().await.expect("emulator");
        let manager = logged_in(&emulator).await;
        let auth = manager.auth().expect("ready");
        let record = auth.record();
        let known = KnownRuntime::new(
            record.key().public_key().expect("public key"),
            record.account_id().as_str(),
        )
        .fedramp(fedramp);
        let directory = Arc::new(Directory {
            runtimes: HashMap::from([(record.runtime_id().as_str().to_owned(), known)]),
            tasks: Mutex::new(HashSet::from([(
                record.runtime_id().as_str().to_owned(),
                auth.task_id().as_str().to_owned(),
            )])),
        });
        let app = axum::Router::new()
            .route("/whoami", get(whoami))
            .layer(AgentAssertionLayer::new(Arc::clone(&directory)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/whoami", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            directory,
            manager,
            _emulator: emulator,
        }
    }

    fn auth(&self) -> AgentIdentityAuth {
        self.manager.auth().expect("ready")
    }

    /// Sends `headers` and returns the status and the `WWW-Authenticate` error.
    async fn send(&self, headers: http::HeaderMap) -> (u16, Option<String>, serde_json::Value) {
        let response = reqwest::Client::new()
            .get(&self.url)
            .headers(headers)
            .send()
            .await
            .expect("sent");
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|value| value.to_str().expect("ascii").to_owned());
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        (status, challenge, body)
    }

    fn headers_at(&self, at: SystemTime) -> http::HeaderMap {
        self.auth()
            .headers_at(at)
            .expect("signs")
            .to_header_map()
            .expect("valid headers")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_signed_by_our_client_reaches_the_handler_with_the_verified_agent() {
    let app = App::start().await;
    let response = client(&app.manager, &app.url)
        .get(&app.url)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    let auth = app.auth();
    assert_eq!(body["runtime_id"], auth.record().runtime_id().as_str());
    assert_eq!(body["task_id"], auth.task_id().as_str());
    assert_eq!(body["account_id"], auth.record().account_id().as_str());
    assert_eq!(body["fedramp"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsigned_request_is_401_missing_authorization() {
    let app = App::start().await;
    let (status, challenge, body) = app.send(http::HeaderMap::new()).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge.as_deref(),
        Some("AgentAssertion error=\"missing_authorization\"")
    );
    assert_eq!(body["error"], "missing_authorization");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_assertion_is_401_stale() {
    let app = App::start().await;
    let old = SystemTime::now() - agent_identity_sdk::DEFAULT_SKEW - Duration::from_secs(5);
    let (status, challenge, body) = app.send(app.headers_at(old)).await;
    assert_eq!(status, 401);
    assert_eq!(challenge.as_deref(), Some("AgentAssertion error=\"stale\""));
    assert_eq!(body["error"], "stale");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_accounts_id_is_401_account_mismatch() {
    let app = App::start().await;
    let mut headers = app.headers_at(SystemTime::now());
    headers.insert(
        "chatgpt-account-id",
        http::HeaderValue::from_static("someone-else"),
    );
    let (status, challenge, body) = app.send(headers).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge.as_deref(),
        Some("AgentAssertion error=\"account_mismatch\"")
    );
    assert_eq!(body["error"], "account_mismatch");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_task_is_401_task_not_issued() {
    let app = App::start().await;
    app.directory.tasks.lock().expect("not poisoned").clear();
    let (status, challenge, body) = app.send(app.headers_at(SystemTime::now())).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge.as_deref(),
        Some("AgentAssertion error=\"task_not_issued\"")
    );
    assert_eq!(body["error"], "task_not_issued");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fedramp_runtime_without_the_fedramp_header_is_401_missing_fedramp_header() {
    // The directory says FedRAMP; the agent's own token does not, so it sends no flag.
    let app = App::start_with(true).await;
    let (status, challenge, body) = app.send(app.headers_at(SystemTime::now())).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge.as_deref(),
        Some("AgentAssertion error=\"missing_fedramp_header\"")
    );
    assert_eq!(body["error"], "missing_fedramp_header");

    let mut headers = app.headers_at(SystemTime::now());
    headers.insert("x-openai-fedramp", http::HeaderValue::from_static("true"));
    let (status, _, body) = app.send(headers).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["fedramp"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_layer_and_the_emulator_answer_with_the_same_kind() {
    let app = App::start().await;
    let emulator = Emulator::start().await.expect("emulator");
    let mut headers = app.headers_at(SystemTime::now());
    headers.insert(
        "chatgpt-account-id",
        http::HeaderValue::from_static("someone-else"),
    );
    let (_, _, layer) = app.send(headers).await;
    let echo = reqwest::Client::new()
        .get(emulator.echo_url())
        .send()
        .await
        .expect("sent");
    let echo: serde_json::Value = echo.json().await.expect("json");
    assert_eq!(layer["error"], "account_mismatch");
    assert_eq!(echo["error"], "missing_authorization");
    let (_, _, unsigned) = app.send(http::HeaderMap::new()).await;
    assert_eq!(unsigned["error"], echo["error"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_static_directory_admits_its_runtime_and_task_only() {
    let emulator = Emulator::start().await.expect("emulator");
    let manager = logged_in(&emulator).await;
    let auth = manager.auth().expect("ready");
    let record = auth.record();
    let runtime = record.runtime_id().as_str();
    let directory = StaticDirectory::new()
        .with_runtime(
            runtime,
            KnownRuntime::new(
                record.key().public_key().expect("public key"),
                record.account_id().as_str(),
            ),
        )
        .with_task(runtime, auth.task_id().as_str());
    assert!(directory.runtime(runtime).is_some());
    assert!(directory.runtime("someone-else").is_none());
    assert!(directory.task_valid(runtime, auth.task_id().as_str()));
    assert!(!directory.task_valid(runtime, "another-task"));
    assert!(!directory.task_valid("someone-else", auth.task_id().as_str()));

    let layer = AgentAssertionLayer::new(directory);
    let headers = auth
        .headers()
        .expect("signs")
        .to_header_map()
        .expect("valid headers");
    let agent = layer.verify(&headers).expect("verified");
    assert_eq!(agent.task_id(), auth.task_id());
}

#[tokio::test(start_paused = true)]
async fn a_refreshing_directory_takes_each_good_copy_and_keeps_the_last_through_a_failure() {
    let key = [7u8; 32];
    let copy = move |task: &str| {
        StaticDirectory::new()
            .with_runtime("rt", KnownRuntime::new(key, "acct"))
            .with_task("rt", task)
    };
    let directory = RefreshingDirectory::new(StaticDirectory::new());
    assert!(directory.runtime("rt").is_none(), "starts empty");

    let (calls, mut called) = tokio::sync::mpsc::unbounded_channel();
    let (errors, mut failed) = tokio::sync::mpsc::unbounded_channel();
    let mut call = 0;
    let _refresher = directory.refresh_every(
        Duration::from_secs(60),
        move || {
            call += 1;
            let result = match call {
                2 => Err("the issuer is down"),
                n => Ok(copy(&format!("task-{n}"))),
            };
            let _ = calls.send(call);
            async move { result }
        },
        move |error| {
            let _ = errors.send(error);
        },
    );

    assert_eq!(called.recv().await, Some(1), "fetched at once");
    assert!(directory.task_valid("rt", "task-1"));
    let clone = directory.clone();
    assert!(clone.task_valid("rt", "task-1"), "clones share the copy");

    assert_eq!(called.recv().await, Some(2), "a minute later");
    assert_eq!(failed.recv().await, Some("the issuer is down"));
    assert!(
        directory.task_valid("rt", "task-1"),
        "the last good copy is kept"
    );

    assert_eq!(called.recv().await, Some(3));
    assert!(directory.task_valid("rt", "task-3"));
    assert!(!directory.task_valid("rt", "task-1"), "replaced as a whole");
    assert_eq!(
        directory
            .snapshot()
            .runtime("rt")
            .map(|known| *known.public_key()),
        Some(key)
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_refresher_stops_the_refresh() {
    let directory = RefreshingDirectory::new(StaticDirectory::new());
    let (calls, mut called) = tokio::sync::mpsc::unbounded_channel();
    let refresher = directory.refresh_every(
        Duration::from_secs(60),
        move || {
            let _ = calls.send(());
            async { Ok::<_, std::convert::Infallible>(StaticDirectory::new()) }
        },
        |_| {},
    );
    assert_eq!(called.recv().await, Some(()));
    drop(refresher);
    // The task is gone, and with it the sender: the channel closes instead of ticking on.
    assert_eq!(called.recv().await, None);
}
