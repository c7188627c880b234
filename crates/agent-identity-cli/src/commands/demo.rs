//! `demo`: the whole flow against an embedded emulator, one timed step at a time.
//!
//! Mint an identity; log in (verify over HTTP, eager registration, durable store in a temporary
//! home); read the status offline; sign a request the protected endpoint accepts; take the
//! AuthAPI down and show a reload keeping the identity; bring it back and show a reload picking up
//! the new identity; log out. The exit code is 0 only if every step held.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_identity_emulator::Emulator;
use agent_identity_jwt::{HttpJwksSource, SystemClock, Verifier};
use agent_identity_manager::{
    AgentIdentityAuth, AuthManager, CredentialStore, FileStore, ReloadOutcome, Status,
};
use agent_identity_task::{AuthApiBaseUrl, TaskClient};
use serde_json::json;

use crate::error::{Exit, Failure, chain};
use crate::output::Output;

/// Two attempts, 50 ms apart at most: enough to show a retry, quick enough that the AuthAPI-down
/// step takes a fraction of a second.
const DEMO_MAX_ATTEMPTS: u32 = 2;
const DEMO_INITIAL_BACKOFF: Duration = Duration::from_millis(50);
/// The status the emulator answers registrations with while "down".
const OUTAGE_STATUS: u16 = 503;

pub(crate) async fn run(out: Output) -> Result<Exit, Failure> {
    let mut steps = Steps::new(out);

    let emulator = steps
        .run("emulator", async {
            let emulator = Emulator::start().await.map_err(|e| chain(&e))?;
            let detail = format!(
                "listening on {} ({} keys, issuer {})",
                emulator.base_url(),
                emulator.algorithm(),
                emulator.issuer()
            );
            Ok((emulator, detail))
        })
        .await?;

    let minted = steps
        .run("mint", async {
            let minted = emulator.mint().issue().map_err(|e| chain(&e))?;
            let detail = format!(
                "identity for runtime {} signed with key {}",
                minted.runtime_id, minted.kid
            );
            Ok((minted, detail))
        })
        .await?;

    let home = steps
        .run("home", async {
            let home =
                tempfile::tempdir().map_err(|e| format!("cannot create a temporary home: {e}"))?;
            let detail = format!("credentials will be stored in {}", home.path().display());
            Ok((home, detail))
        })
        .await?;
    let store = Arc::new(FileStore::new(home.path()));

    let (manager, first) = steps
        .run("login", async {
            let manager =
                AuthManager::new(verifier(&emulator)?, task_client(&emulator)?, store.clone())
                    .await
                    .map_err(|e| chain(&e))?;
            let auth = manager
                .login(minted.token.clone())
                .await
                .map_err(|e| chain(&e))?;
            let detail = format!(
                "verified, registered task {}, stored in {}",
                auth.task_id(),
                store.path().display()
            );
            Ok(((manager, auth), detail))
        })
        .await?;

    steps
        .run("status", async {
            let status = Status::read(&*store, &SystemClock, agent_identity_jwt::DEFAULT_LEEWAY);
            let identity = status
                .identity()
                .filter(|_| status.state() == "ready")
                .ok_or_else(|| format!("the stored identity reads as {}", status.state()))?;
            let detail = format!(
                "{}: account {}, runtime {}, plan {}",
                status.state(),
                identity.account_id(),
                identity.runtime_id(),
                identity.plan().map_or("-", |plan| plan.as_str())
            );
            Ok(((), detail))
        })
        .await?;

    let http = reqwest::Client::builder().build().map_err(|e| {
        Failure::new(
            "internal",
            format!("cannot build an http client: {}", chain(&e)),
            Exit::Rejected,
        )
    })?;
    steps
        .run("signed request", async {
            let detail = echo(&http, &emulator, &first).await?;
            Ok(((), detail))
        })
        .await?;

    steps
        .run("authapi down", async {
            emulator.fail_next_registrations(DEMO_MAX_ATTEMPTS, OUTAGE_STATUS);
            // A new identity in the store means a reload must register, and registration is down.
            let replacement = emulator.mint().issue().map_err(|e| chain(&e))?;
            store.save(&replacement.token).map_err(|e| chain(&e))?;
            match manager.reload().await {
                ReloadOutcome::KeptCached { error } if error.is_transient() => {}
                other => return Err(format!("expected the reload to keep the cached identity, got {other:?}")),
            }
            let kept = manager.auth().map_err(|e| format!("the cached identity was lost: {}", chain(&e)))?;
            if kept.task_id() != first.task_id() {
                return Err("the cached task id changed".to_owned());
            }
            let echoed = echo(&http, &emulator, &kept).await?;
            let detail = format!(
                "the authapi answered {OUTAGE_STATUS} to all {DEMO_MAX_ATTEMPTS} registration attempts for a new identity; reload kept task {} and {echoed}",
                kept.task_id()
            );
            Ok(((), detail))
        })
        .await?;

    steps
        .run("recovery", async {
            let outcome = manager.reload().await;
            if !matches!(outcome, ReloadOutcome::Updated) {
                return Err(format!(
                    "expected the reload to load the new identity, got {outcome:?}"
                ));
            }
            let auth = manager.auth().map_err(|e| chain(&e))?;
            if auth.task_id() == first.task_id() {
                return Err("the reload kept the old task id".to_owned());
            }
            let echoed = echo(&http, &emulator, &auth).await?;
            let detail = format!(
                "authapi back; reload registered task {} for runtime {} and {echoed}",
                auth.task_id(),
                auth.record().runtime_id()
            );
            Ok(((), detail))
        })
        .await?;

    steps
        .run("logout", async {
            manager.logout().await.map_err(|e| chain(&e))?;
            let status = Status::read(&*store, &SystemClock, agent_identity_jwt::DEFAULT_LEEWAY);
            if status.state() != "logged_out" {
                return Err(format!("the store still reads as {}", status.state()));
            }
            Ok((
                (),
                "credentials deleted; status reads logged_out".to_owned(),
            ))
        })
        .await?;

    steps.finish();
    Ok(Exit::Success)
}

fn verifier(emulator: &Emulator) -> Result<Verifier, String> {
    let source = HttpJwksSource::new(emulator.jwks_url()).map_err(|refusal| refusal.to_string())?;
    Ok(Verifier::builder(source)
        .issuer(emulator.issuer())
        .audience(emulator.audience())
        .algorithms([emulator.algorithm()])
        .build())
}

fn task_client(emulator: &Emulator) -> Result<TaskClient, String> {
    let base =
        AuthApiBaseUrl::parse(emulator.authapi_base_url().as_str()).map_err(|e| chain(&e))?;
    Ok(TaskClient::builder(base)
        .max_attempts(DEMO_MAX_ATTEMPTS)
        .initial_backoff(DEMO_INITIAL_BACKOFF)
        .build())
}

/// Sends `GET /echo` signed as `auth`; the emulator must answer 200 with the same task id.
async fn echo(
    http: &reqwest::Client,
    emulator: &Emulator,
    auth: &AgentIdentityAuth,
) -> Result<String, String> {
    let headers = auth.headers().map_err(|e| chain(&e))?;
    let mut request = http.get(emulator.echo_url());
    for (name, value) in headers.iter() {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("GET /echo failed: {}", chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET /echo answered {status}"));
    }
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|_| "GET /echo answered something other than json".to_owned())?;
    if body["task_id"].as_str() != Some(auth.task_id().as_str()) {
        return Err("GET /echo saw a different task id".to_owned());
    }
    Ok(format!(
        "GET /echo accepted the signed request ({})",
        status.as_u16()
    ))
}

/// Runs and reports the steps: `[ok] name: detail (12.3 ms)`, or one JSON object per step.
struct Steps {
    out: Output,
    started: Instant,
    count: usize,
}

impl Steps {
    fn new(out: Output) -> Self {
        Self {
            out,
            started: Instant::now(),
            count: 0,
        }
    }

    async fn run<T>(
        &mut self,
        name: &'static str,
        step: impl Future<Output = Result<(T, String), String>>,
    ) -> Result<T, Failure> {
        let started = Instant::now();
        let result = step.await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        self.count += 1;
        let (ok, detail) = match &result {
            Ok((_, detail)) => (true, detail.as_str()),
            Err(message) => (false, message.as_str()),
        };
        if self.out.is_json() {
            self.out.json_line(&json!({
                "step": name,
                "ok": ok,
                "detail": detail,
                "ms": (ms * 10.0).round() / 10.0,
            }));
        } else {
            let mark = if ok { "ok" } else { "FAILED" };
            self.out
                .line(format!("[{mark}] {name}: {detail} ({ms:.1} ms)"));
        }
        result.map(|(value, _)| value).map_err(|message| {
            Failure::new(
                "demo_step_failed",
                format!("demo step {name} failed: {message}"),
                Exit::Rejected,
            )
        })
    }

    fn finish(&self) {
        if !self.out.is_json() {
            let ms = self.started.elapsed().as_secs_f64() * 1000.0;
            self.out.line(format!(
                "demo passed: all {} steps held ({ms:.1} ms)",
                self.count
            ));
        }
    }
}
