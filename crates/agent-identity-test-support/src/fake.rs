//! An in-process AuthAPI and JWKS endpoint whose answers each test scripts (moved from the
//! manager's suite; the emulator's fault knobs do not replace it, as the emulator serves from a
//! runtime of its own).
//!
//! It runs on the test's own runtime, so under a paused clock a request and its answer are
//! handled without the runtime going idle: the clock cannot jump past a timeout while a reply is
//! on its way, as it could with a server on another thread.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::task::JoinHandle;

/// What an endpoint does with its next request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer {
    /// 200 with the endpoint's normal body.
    Ok,
    /// This status, with a short body.
    Status(u16),
    /// Never answer.
    Hang,
    /// 200 with the normal body, after this long.
    Delay(std::time::Duration),
}

#[derive(Default)]
struct Script {
    /// Answers for the next requests; when empty, `Answer::Ok`.
    jwks: Mutex<VecDeque<Answer>>,
    register: Mutex<VecDeque<Answer>>,
    jwks_body: Mutex<String>,
    jwks_hits: AtomicUsize,
    register_hits: AtomicUsize,
}

/// A JWKS endpoint (`/jwks`) and a registration endpoint (`/v1/agent/{runtime}/task/register`)
/// on one loopback port; registration answers `task-1`, `task-2`, … in order of arrival.
pub struct FakeService {
    addr: SocketAddr,
    script: Arc<Script>,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl FakeService {
    /// Starts serving `jwks_body` on a fresh loopback port, on the calling runtime.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound.
    pub async fn start(jwks_body: String) -> Self {
        let script = Arc::new(Script::default());
        *script.jwks_body.lock().expect("body") = jwks_body;
        let app = Router::new()
            .route("/jwks", get(jwks))
            .route("/v1/agent/{runtime}/task/register", post(register))
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self {
            addr,
            script,
            server: Mutex::new(Some(server)),
        }
    }

    /// The JWKS endpoint's URL.
    pub fn jwks_url(&self) -> String {
        format!("http://{}/jwks", self.addr)
    }

    /// The AuthAPI base URL, for a task client.
    pub fn authapi_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `body` from the JWKS endpoint from now on.
    pub fn set_jwks_body(&self, body: String) {
        *self.script.jwks_body.lock().expect("body") = body;
    }

    /// Queues answers for the next JWKS requests.
    pub fn answer_jwks(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script.jwks.lock().expect("script").extend(answers);
    }

    /// Queues answers for the next registration requests.
    pub fn answer_register(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script.register.lock().expect("script").extend(answers);
    }

    /// How many JWKS requests arrived.
    pub fn jwks_hits(&self) -> usize {
        self.script.jwks_hits.load(Ordering::SeqCst)
    }

    /// How many registration requests arrived.
    pub fn register_hits(&self) -> usize {
        self.script.register_hits.load(Ordering::SeqCst)
    }

    /// Stops listening: the next connection is refused. (Clients here keep no idle connections.)
    ///
    /// The port stays reserved, bound but not listening, for the rest of the test process: a
    /// released port could be taken by another test's server, which would then answer.
    pub async fn stop(&self) {
        let server = self.server.lock().expect("server").take();
        if let Some(server) = server {
            server.abort();
            // Once the task is gone, so is its listener.
            let _ = server.await;
        }
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("reuseaddr");
        socket.bind(self.addr).expect("reserve the released port");
        std::mem::forget(socket);
    }
}

impl Drop for FakeService {
    fn drop(&mut self) {
        if let Some(server) = self.server.lock().expect("server").take() {
            server.abort();
        }
    }
}

async fn respond(answer: Answer, ok: impl FnOnce() -> Response) -> Response {
    match answer {
        Answer::Ok => ok(),
        Answer::Status(status) => {
            let status = StatusCode::from_u16(status).expect("valid status");
            (status, "scripted failure").into_response()
        }
        Answer::Hang => std::future::pending().await,
        Answer::Delay(delay) => {
            tokio::time::sleep(delay).await;
            ok()
        }
    }
}

async fn jwks(State(script): State<Arc<Script>>) -> Response {
    script.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let answer = script
        .jwks
        .lock()
        .expect("script")
        .pop_front()
        .unwrap_or(Answer::Ok);
    let body = script.jwks_body.lock().expect("body").clone();
    respond(answer, || {
        ([("content-type", "application/json")], body).into_response()
    })
    .await
}

async fn register(State(script): State<Arc<Script>>) -> Response {
    let hit = script.register_hits.fetch_add(1, Ordering::SeqCst) + 1;
    let answer = script
        .register
        .lock()
        .expect("script")
        .pop_front()
        .unwrap_or(Answer::Ok);
    respond(answer, || {
        axum::Json(serde_json::json!({ "task_id": format!("task-{hit}") })).into_response()
    })
    .await
}
