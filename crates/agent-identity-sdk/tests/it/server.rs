//! An axum app behind `AgentAssertionLayer`, called by our own client.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use agent_identity_sdk::emulator::Emulator;
use agent_identity_sdk::server::{
    AgentAssertionLayer, AgentDirectory, KnownRuntime, VerifiedAgent,
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
        let emulator = Emulator::start().await.expect("emulator");
        let manager = logged_in(&emulator).await;
        let auth = manager.auth().expect("ready");
        let record = auth.record();
        let known = KnownRuntime::new(
            record.key().public_key().expect("public key"),
            record.account_id().as_str(),
        );
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
    let response = client(&app.manager)
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
async fn an_unsigned_request_is_401_missing() {
    let app = App::start().await;
    let (status, challenge, body) = app.send(http::HeaderMap::new()).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge.as_deref(),
        Some("AgentAssertion error=\"missing\"")
    );
    assert_eq!(body["error"], "missing");
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
async fn another_accounts_id_is_401_wrong_account() {
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
        Some("AgentAssertion error=\"wrong_account\"")
    );
    assert_eq!(body["error"], "wrong_account");
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
