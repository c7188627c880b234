//! The runtime cache seen through the manager: warm starts without a request, one task per home,
//! invalidation that spreads, and a cache that can only ever cost a round trip.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agent_identity_manager::{
    AuthManager, CredentialStore, FileStore, RUNTIME_CACHE_FILE_NAME, TaskReuse,
};

use crate::support::{TestClock, jwks_with_kids, now_secs, tasks, token, valid_token, verifier};
use agent_identity_test_support::FakeService;

struct Home {
    service: FakeService,
    dir: tempfile::TempDir,
    clock: Arc<TestClock>,
}

impl Home {
    async fn with_token(token: &agent_identity_jwt::IdentityJwt) -> Self {
        let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
        let dir = tempfile::tempdir().expect("tempdir");
        FileStore::new(dir.path()).save(token).expect("save");
        Self {
            service,
            dir,
            clock: TestClock::new(),
        }
    }

    fn store(&self) -> Arc<dyn CredentialStore> {
        Arc::new(FileStore::new(self.dir.path()))
    }

    /// A new process on this home: a fresh verifier (empty key cache) and manager.
    async fn process(&self, reuse: TaskReuse) -> AuthManager {
        AuthManager::with_task_reuse(
            verifier(&self.service.jwks_url(), Arc::clone(&self.clock)),
            tasks(&self.service.authapi_base(), None),
            self.store(),
            reuse,
        )
        .await
        .expect("loads")
    }

    fn cache_path(&self) -> std::path::PathBuf {
        self.dir.path().join(RUNTIME_CACHE_FILE_NAME)
    }

    fn requests(&self) -> (usize, usize) {
        (self.service.jwks_hits(), self.service.register_hits())
    }
}

fn task(manager: &AuthManager) -> String {
    manager.auth().expect("ready").task_id().as_str().to_owned()
}

#[tokio::test(start_paused = true)]
async fn a_restart_on_a_warm_home_makes_no_request() {
    let token = valid_token();
    let home = Home::with_token(&token).await;
    let first = home.process(TaskReuse::default()).await;
    assert_eq!(home.requests(), (1, 1));
    for _ in 0..5 {
        let again = home.process(TaskReuse::default()).await;
        assert_eq!(task(&again), task(&first));
        again.auth().expect("ready").headers().expect("headers");
    }
    assert_eq!(home.requests(), (1, 1), "no fetch, no registration");
    let text = std::fs::read_to_string(home.cache_path()).expect("cache");
    assert!(
        !text.contains(
            valid_token()
                .expose_secret()
                .split('.')
                .nth(1)
                .expect("payload")
        )
    );
    let mode = std::fs::metadata(home.cache_path())
        .expect("cache")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_managers_on_a_cold_home_register_one_task_and_fetch_keys_once() {
    let home = Home::with_token(&valid_token()).await;
    // One process's managers share its verifier configuration (and so its key cache).
    let shared = verifier(&home.service.jwks_url(), Arc::clone(&home.clock));
    let managers = futures_util::future::join_all((0..200).map(|_| {
        AuthManager::new(
            shared.clone(),
            tasks(&home.service.authapi_base(), None),
            home.store(),
        )
    }))
    .await;
    let mut task_ids: Vec<String> = managers
        .iter()
        .map(|manager| task(manager.as_ref().expect("loads")))
        .collect();
    task_ids.dedup();
    assert_eq!(task_ids.len(), 1);
    assert_eq!(home.requests(), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_process_that_meets_a_401_adopts_the_task_another_recovered_to() {
    let home = Home::with_token(&valid_token()).await;
    let a = home.process(TaskReuse::default()).await;
    let b = home.process(TaskReuse::default()).await;
    assert_eq!((task(&a), task(&b)), ("task-1".into(), "task-1".into()));
    let recovered = a.recover_unauthorized().await.expect("recovered");
    assert_eq!(recovered.task_id().as_str(), "task-2");
    assert_eq!(home.service.register_hits(), 2);
    // B's task-1 is refused too: it finds task-2 in the cache and takes it.
    let adopted = b.recover_unauthorized().await.expect("adopted");
    assert_eq!(adopted.task_id().as_str(), "task-2");
    assert_eq!(
        home.service.register_hits(),
        2,
        "no registration for the adoption"
    );
    // A later process starts on the recovered task.
    assert_eq!(task(&home.process(TaskReuse::default()).await), "task-2");
}

#[tokio::test(start_paused = true)]
async fn a_broken_or_foreign_cache_costs_one_registration_and_is_rewritten() {
    let foreign = serde_json::json!({
        "version": 1,
        "tasks": [{
            "runtime_id": "agent-123",
            "token_sha256": "0".repeat(64),
            "authapi_base": "http://127.0.0.1:9",
            "task_id": "someone-elses",
            "registered_at": now_secs(),
        }],
    })
    .to_string();
    let cases = [
        ("corrupt", "{\"version\": 1, \"tasks\": [".to_owned()),
        ("truncated", foreign[..foreign.len() - 10].to_owned()),
        (
            "another version",
            foreign.replace("\"version\":1", "\"version\":7"),
        ),
        ("another token's", foreign),
    ];
    for (name, text) in cases {
        let home = Home::with_token(&valid_token()).await;
        std::fs::write(home.cache_path(), &text).expect("plant");
        std::fs::set_permissions(home.cache_path(), std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
        let credentials = std::fs::read(home.dir.path().join("auth.json")).expect("auth.json");
        let manager = home.process(TaskReuse::default()).await;
        assert_eq!(task(&manager), "task-1", "{name}");
        assert_eq!(home.service.register_hits(), 1, "{name}: one registration");
        assert_eq!(
            std::fs::read(home.dir.path().join("auth.json")).expect("auth.json"),
            credentials,
            "{name}: the credentials are untouched"
        );
        // Rewritten: the next process reuses the task.
        assert_eq!(task(&home.process(TaskReuse::default()).await), "task-1");
        assert_eq!(home.service.register_hits(), 1, "{name}: rewritten");
    }
}

/// Plants a runtime cache at `path` (mode 0600) holding `task_id` for `token`'s binding at this
/// home's AuthAPI, written as the cache's file format has it.
fn plant(home: &Home, path: &Path, token: &agent_identity_jwt::IdentityJwt, task_id: &str) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let document = serde_json::json!({
        "version": 1,
        "tasks": [{
            "runtime_id": "agent-123",
            "token_sha256": token.fingerprint(),
            "authapi_base": home.service.authapi_base(),
            "task_id": task_id,
            "registered_at": now_secs(),
        }],
        "key_sets": [],
    });
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(document.to_string().as_bytes()))
        .expect("plant");
}

#[tokio::test(start_paused = true)]
async fn a_cache_others_may_write_or_behind_a_symlink_is_ignored() {
    let token = valid_token();
    // Group-writable: the planted task is not used.
    let home = Home::with_token(&token).await;
    plant(&home, &home.cache_path(), &token, "planted");
    std::fs::set_permissions(home.cache_path(), std::fs::Permissions::from_mode(0o660))
        .expect("chmod");
    let manager = home.process(TaskReuse::default()).await;
    assert_eq!(task(&manager), "task-1");
    // A symlink to a private cache elsewhere: not followed.
    let home = Home::with_token(&token).await;
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let target = elsewhere.path().join(RUNTIME_CACHE_FILE_NAME);
    plant(&home, &target, &token, "planted");
    std::os::unix::fs::symlink(&target, home.cache_path()).expect("symlink");
    let manager = home.process(TaskReuse::default()).await;
    assert_eq!(task(&manager), "task-1");
}

#[tokio::test(start_paused = true)]
async fn tasks_past_the_maximum_age_or_of_another_token_are_not_reused() {
    let home = Home::with_token(&valid_token()).await;
    home.process(TaskReuse::default()).await;
    let young = TaskReuse::PerHome {
        max_age: Some(Duration::from_secs(600)),
    };
    assert_eq!(task(&home.process(young).await), "task-1");
    home.clock.advance(Duration::from_secs(601));
    assert_eq!(task(&home.process(young).await), "task-2", "too old");
    // A changed token registers anew.
    let other = token("agent-123", "shared-key-1", now_secs() + 7200);
    FileStore::new(home.dir.path()).save(&other).expect("save");
    assert_eq!(task(&home.process(TaskReuse::default()).await), "task-3");
}

#[tokio::test(start_paused = true)]
async fn per_process_tasks_neither_read_nor_write_the_cached_task() {
    let home = Home::with_token(&valid_token()).await;
    let first = home.process(TaskReuse::PerProcess).await;
    let second = home.process(TaskReuse::PerProcess).await;
    assert_ne!(task(&first), task(&second));
    assert_eq!(home.service.register_hits(), 2);
    let shared = home.process(TaskReuse::default()).await;
    assert_eq!(
        task(&shared),
        "task-3",
        "nothing was cached by the per-process ones"
    );
}

#[tokio::test(start_paused = true)]
async fn logout_clears_the_homes_task() {
    let home = Home::with_token(&valid_token()).await;
    let manager = home.process(TaskReuse::default()).await;
    manager.logout().await.expect("logout");
    FileStore::new(home.dir.path())
        .save(&valid_token())
        .expect("save");
    assert_eq!(task(&home.process(TaskReuse::default()).await), "task-2");
}

#[tokio::test(start_paused = true)]
async fn a_later_load_reads_the_cache_afresh_even_when_the_first_looked_no_task_up() {
    // Started logged out, the first load looks no task up; another process then logs in (its
    // token and task land in the home). A reload must see that task, not the start's empty read.
    let home = Home::with_token(&valid_token()).await;
    FileStore::new(home.dir.path()).clear().expect("clear");
    let manager = home.process(TaskReuse::default()).await;
    assert!(manager.auth().is_err(), "logged out");
    FileStore::new(home.dir.path())
        .save(&valid_token())
        .expect("save");
    plant(
        &home,
        &home.cache_path(),
        &valid_token(),
        "task-of-the-other",
    );
    manager.reload().await;
    assert_eq!(task(&manager), "task-of-the-other");
    assert_eq!(home.service.register_hits(), 0, "adopted, not registered");
}
