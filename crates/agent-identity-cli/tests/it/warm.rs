//! Warm restarts through the binary: after a login, `header` processes reuse the home's task and
//! key set; processes that start at once on a cold home register one task between them.

use futures_util::future::join_all;

use crate::support::{Fixture, assert_no_secrets, echo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_header_processes_after_login_cost_one_registration_and_one_key_fetch() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let mut task_ids = Vec::new();
    for _ in 0..100 {
        let run = fixture
            .cli_with_emulator()
            .args(["header", "--json"])
            .run()
            .await;
        run.assert_code(0);
        task_ids.push(run.json()["task_id"].as_str().expect("task id").to_owned());
    }
    assert_eq!(fixture.emulator.registrations(), 1, "the login's only");
    assert_eq!(fixture.emulator.jwks_fetches(), 1, "the login's only");
    task_ids.dedup();
    assert_eq!(task_ids.len(), 1, "every process used the home's task");
    // The headers are good: the emulator accepts one.
    let run = fixture
        .cli_with_emulator()
        .args(["header", "--json"])
        .run()
        .await;
    let (status, body) = echo(&fixture, &run.json()).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_at_once_on_a_cold_home_register_one_task() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let runs = join_all((0..8).map(|_| {
        fixture
            .cli_with_emulator()
            .env("AGENT_IDENTITY_JWT", minted.token.expose_secret())
            .args(["header", "--json"])
            .run()
    }))
    .await;
    let mut task_ids: Vec<String> = runs
        .iter()
        .map(|run| {
            run.assert_code(0);
            assert_no_secrets(run, &minted);
            run.json()["task_id"].as_str().expect("task id").to_owned()
        })
        .collect();
    assert_eq!(fixture.emulator.registrations(), 1);
    task_ids.dedup();
    assert_eq!(task_ids.len(), 1, "{task_ids:?}");
    // The token itself was never written: only the cache, which holds no secret.
    assert!(!fixture.auth_file().exists());
    let cache = std::fs::read_to_string(
        fixture
            .home
            .path()
            .join(agent_identity_manager::RUNTIME_CACHE_FILE_NAME),
    )
    .expect("the runtime cache");
    assert!(!cache.contains(minted.token.expose_secret()));
    assert!(!cache.contains(minted.key.to_pkcs8_base64().as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_cached_task_offline_and_fresh_task_registers_its_own() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let login_task = {
        let run = fixture
            .cli_with_emulator()
            .args(["header", "--json"])
            .run()
            .await;
        run.json()["task_id"].as_str().expect("task id").to_owned()
    };
    // Offline: no emulator flags, and the emulator counts no request.
    let requests = (
        fixture.emulator.registrations(),
        fixture.emulator.jwks_fetches(),
    );
    let run = fixture.cli().args(["status", "--json"]).run().await;
    run.assert_code(0);
    let status = run.json();
    assert_eq!(status["task_id"], login_task.as_str());
    assert!(
        status["task_registered_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z'))
    );
    let human = fixture.cli().arg("status").run().await;
    assert!(human.stdout.contains(&login_task), "{}", human.stdout);
    assert_eq!(
        (
            fixture.emulator.registrations(),
            fixture.emulator.jwks_fetches()
        ),
        requests
    );
    let fresh = fixture
        .cli_with_emulator()
        .args(["header", "--json", "--fresh-task"])
        .run()
        .await;
    fresh.assert_code(0);
    assert_ne!(fresh.json()["task_id"], login_task.as_str());
    assert_eq!(fixture.emulator.registrations(), 2);
    // The home's task is still the login's: a fresh task is the process's own.
    let status = fixture.cli().args(["status", "--json"]).run().await.json();
    assert_eq!(status["task_id"], login_task.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_forgets_the_homes_task() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    fixture.cli().arg("logout").run().await.assert_code(0);
    fixture.login(&minted).await;
    assert_eq!(
        fixture.emulator.registrations(),
        2,
        "the same token after a logout registers anew"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_token_file_from_agent_identity_jwt_file_is_the_credential_source() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let file = fixture.token_file(&minted);
    let status = fixture
        .cli()
        .env("AGENT_IDENTITY_JWT_FILE", &file)
        .args(["status", "--json"])
        .run()
        .await;
    status.assert_code(0);
    assert_eq!(status.json()["runtime_id"], minted.runtime_id.as_str());
    assert_eq!(status.json()["store"], file.display().to_string());
    for _ in 0..2 {
        let run = fixture
            .cli_with_emulator()
            .env("AGENT_IDENTITY_JWT_FILE", &file)
            .args(["header", "--json"])
            .run()
            .await;
        run.assert_code(0);
        assert_no_secrets(&run, &minted);
    }
    assert_eq!(
        fixture.emulator.registrations(),
        1,
        "the home caches the task"
    );
    assert!(
        !fixture.auth_file().exists(),
        "nothing was written to auth.json"
    );
}
