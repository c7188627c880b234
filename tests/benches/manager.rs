//! Manager benchmarks: reading the current auth under contention, against a bare `Arc` clone; a
//! cold start (construction to first header) against the two raw round trips it needs; a warm
//! restart (a new manager over a home with a cached task and key set) against one raw round trip,
//! since it must make none; and a start from Codex's record form with a task, against reading and
//! parsing the same `auth.json` once, since it is that read and parse and the key check alone.

use std::error::Error;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::SystemTime;

use agent_identity_emulator::Emulator;
use agent_identity_jwt::{HttpJwksSource, SigningAlgorithm, Verifier};
use agent_identity_manager::{AuthManager, CredentialStore, FileStore, MemoryStore};
use agent_identity_task::{AgentSigner, AuthApiBaseUrl, TaskClient};
use agent_identity_tests::bench::{measure_pair, measure_pair_async, report};

/// 3.0: the target for `auth()` under contention against a bare `Arc` clone.
const AUTH_TARGET: f64 = 3.0;
/// 1.0: the target for a cold start against the two raw round trips: overlapping them
/// must pay for all the client-side crypto.
const COLD_START_TARGET: f64 = 1.0;

/// 0.5: the target for a warm restart against one raw loopback round trip.
const WARM_RESTART_TARGET: f64 = 0.5;
/// 3.0: the target for a start from a record with a task against one read and parse of its
/// `auth.json` with `serde_json`.
const RECORD_START_TARGET: f64 = 3.0;

fn main() -> Result<(), Box<dyn Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // The emulator stands for remote servers: it runs on a runtime (a thread) of its own, so its
    // work is not serialised with the client's on one thread, where no overlap could show.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    // RS256, as the ChatGPT backend signs.
    let emulator = server_rt.block_on(
        Emulator::builder()
            .algorithm(SigningAlgorithm::Rs256)
            .start(),
    )?;
    let minted = rt.block_on(async { emulator.mint().issue() })?;
    let client = reqwest::Client::new();
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::with_token(minted.token.clone()));
    let build_verifier = || {
        let source = HttpJwksSource::builder(emulator.jwks_url())
            .expect("loopback url")
            .client(client.clone())
            .build();
        Verifier::builder(source)
            .issuer(emulator.issuer())
            .audience(emulator.audience())
            .algorithms([SigningAlgorithm::Rs256, SigningAlgorithm::EdDsa])
            .build()
    };
    let base = AuthApiBaseUrl::parse(emulator.authapi_base_url().as_str())?;
    let build_tasks = || {
        TaskClient::builder(base.clone())
            .client(client.clone())
            .build()
    };

    auth_under_contention(
        &rt,
        AuthManagerParts {
            verifier: build_verifier(),
            tasks: build_tasks(),
            store: Arc::clone(&store),
        },
    )?;

    // Cold start: a new verifier (empty key cache) and manager every time, over a shared
    // connection pool, as a process would have after its first request.
    let jwks_url = emulator.jwks_url().to_string();
    let register_url = base.registration_url(minted.runtime_id.as_str())?;
    let body = AgentSigner::new(minted.key.clone(), minted.runtime_id.clone())
        .registration_request(SystemTime::now())?
        .to_json();
    let first = rt.block_on(cold_start(
        build_verifier(),
        build_tasks(),
        Arc::clone(&store),
    ))?;
    black_box(first);
    let (ours, baseline) = measure_pair_async(
        &rt,
        "manager_cold_start",
        || cold_start(build_verifier(), build_tasks(), Arc::clone(&store)),
        || raw_round_trips(&client, &jwks_url, &register_url, &body),
    );
    report(
        "manager_cold_start",
        &ours,
        "raw GET jwks + POST register",
        &baseline,
        COLD_START_TARGET,
    );

    // Warm restart: a home that a first process set up (auth.json, cached task and key set); each
    // round is a new process's verifier, task client, store and manager, to the first header.
    let home = tempfile::tempdir()?;
    let file_store = FileStore::new(home.path());
    file_store.save(&minted.token)?;
    let warm_store = || Arc::new(FileStore::new(home.path())) as Arc<dyn CredentialStore>;
    black_box(rt.block_on(cold_start(build_verifier(), build_tasks(), warm_store()))?);
    let registrations = emulator.registrations();
    // The baseline is what a restarted process would otherwise pay for one request: a round trip
    // on a new connection (a new process has no pooled one), with a bare client.
    let unpooled = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()?;
    let (ours, baseline) = measure_pair_async(
        &rt,
        "manager_warm_restart",
        || cold_start(build_verifier(), build_tasks(), warm_store()),
        || raw_get(&unpooled, &jwks_url),
    );
    assert_eq!(
        emulator.registrations(),
        registrations,
        "a warm restart registers nothing"
    );
    report(
        "manager_warm_restart",
        &ours,
        "raw GET on a new loopback connection",
        &baseline,
        WARM_RESTART_TARGET,
    );

    // A start from a record with a task (a managed home, as current Codex writes it): no key set,
    // no registration; against reading and parsing the same file once.
    let record_home = tempfile::tempdir()?;
    let record_file = record_home.path().join("auth.json");
    let document = serde_json::json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {"id_token": "id", "access_token": "access", "refresh_token": "refresh"},
        "last_refresh": "2026-08-20T10:00:00Z",
        "agent_identity": {
            "agent_runtime_id": minted.runtime_id.as_str(),
            "agent_private_key": minted.key.to_pkcs8_base64().as_str(),
            "account_id": "account-emulator",
            "chatgpt_user_id": "user-emulator",
            "email": "",
            "plan_type": "pro",
            "chatgpt_account_is_fedramp": false,
            "task_id": "task-from-codex",
        },
    });
    std::fs::write(&record_file, document.to_string())?;
    let record_store = || Arc::new(FileStore::new(record_home.path())) as Arc<dyn CredentialStore>;
    let (jwks_hits, registrations) = (emulator.jwks_fetches(), emulator.registrations());
    black_box(rt.block_on(record_start(
        build_verifier(),
        build_tasks(),
        record_store(),
    ))?);
    let (ours, baseline) = measure_pair_async(
        &rt,
        "manager_record_start",
        || record_start(build_verifier(), build_tasks(), record_store()),
        || async {
            let bytes = std::fs::read(&record_file).expect("auth.json");
            black_box(serde_json::from_slice::<serde_json::Value>(&bytes).expect("json"))
        },
    );
    assert_eq!(
        (emulator.jwks_fetches(), emulator.registrations()),
        (jwks_hits, registrations),
        "a start from a record makes no request"
    );
    report(
        "manager_record_start",
        &ours,
        "read + serde_json parse of auth.json",
        &baseline,
        RECORD_START_TARGET,
    );
    Ok(())
}

/// A new manager over a record with a task, to its task id: the read, the parse, the key check.
async fn record_start(
    verifier: Verifier,
    tasks: TaskClient,
    store: Arc<dyn CredentialStore>,
) -> Result<String, Box<dyn Error>> {
    let manager = AuthManager::new(verifier, tasks, store).await?;
    Ok(manager.auth()?.task_id().as_str().to_owned())
}

async fn raw_get(client: &reqwest::Client, url: &str) -> Result<(), reqwest::Error> {
    let body = client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    black_box(body);
    Ok(())
}

/// Keeps a value on cache lines of its own (two, for the adjacent-line prefetcher).
#[repr(align(128))]
struct Padded<T>(T);

struct AuthManagerParts {
    verifier: Verifier,
    tasks: TaskClient,
    store: Arc<dyn CredentialStore>,
}

/// `auth()` on this thread while a second thread does the same and reloads the manager now and
/// then; against `Arc::clone` on this thread while the second thread clones the same `Arc`. Each
/// side is measured under its own kind of contention, as it would meet it in a real program.
fn auth_under_contention(
    rt: &tokio::runtime::Runtime,
    parts: AuthManagerParts,
) -> Result<(), Box<dyn Error>> {
    let manager = rt.block_on(AuthManager::new(parts.verifier, parts.tasks, parts.store))?;
    // Both on cache lines of their own, so neither side's hot line is shared with the other's.
    let shared = Arc::new(Padded(manager.auth()?));
    // 0: the contender reads auth (and reloads); 1: it clones the baseline `Arc`; 2: it stops.
    let mode = Arc::new(Padded(AtomicU8::new(0)));
    let contender = {
        let (manager, shared, mode) = (manager.clone(), Arc::clone(&shared), Arc::clone(&mode));
        let reload_rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::spawn(move || {
            let mut round = 0u64;
            loop {
                match mode.0.load(Ordering::Relaxed) {
                    0 => {
                        black_box(manager.auth().ok());
                        round += 1;
                        if round.is_multiple_of(4096) {
                            // An unchanged-token reload: reads the store, publishes nothing.
                            black_box(reload_rt.block_on(manager.reload()));
                        }
                    }
                    1 => drop(black_box(Arc::clone(&shared))),
                    _ => return,
                }
            }
        })
    };
    // Interleaved batches, each side switching the contender to its own kind of load as its
    // batch starts; the mode check costs both sides the same uncontended load.
    let switch_to = |wanted: u8| {
        if mode.0.load(Ordering::Relaxed) != wanted {
            mode.0.store(wanted, Ordering::Relaxed);
        }
    };
    let (ours, baseline) = measure_pair(
        "manager_auth_contended",
        || {
            switch_to(0);
            manager.auth()
        },
        || {
            switch_to(1);
            Arc::clone(&shared)
        },
    );
    mode.0.store(2, Ordering::Relaxed);
    contender.join().map_err(|_| "contender panicked")?;
    report(
        "manager_auth_contended",
        &ours,
        "Arc::clone",
        &baseline,
        AUTH_TARGET,
    );
    Ok(())
}

async fn cold_start(
    verifier: Verifier,
    tasks: TaskClient,
    store: Arc<dyn CredentialStore>,
) -> Result<String, Box<dyn Error>> {
    let manager = AuthManager::new(verifier, tasks, store).await?;
    Ok(manager.auth()?.headers()?.authorization().to_owned())
}

async fn raw_round_trips(
    client: &reqwest::Client,
    jwks: &str,
    register: &str,
    body: &str,
) -> Result<(), reqwest::Error> {
    let keys = client
        .get(jwks)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    black_box(keys);
    let task = client
        .post(register)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    black_box(task);
    Ok(())
}
