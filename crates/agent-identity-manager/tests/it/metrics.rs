//! The metrics of the three layers, read back from a test recorder: each counter moves for its
//! event.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use agent_identity_manager::{AuthManager, CredentialStore as _, FileStore};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

use crate::support::{TestClock, jwks_with_kids, now_secs, tasks, token, valid_token, verifier};
use agent_identity_test_support::{Answer, FakeService};

/// What the recorder saw, summed over snapshots (a snapshot drains what it reads).
struct Readings {
    snapshotter: Snapshotter,
    totals: RefCell<HashMap<String, u64>>,
}

impl Readings {
    fn drain(&self) {
        let mut totals = self.totals.borrow_mut();
        for (key, _, _, reading) in self.snapshotter.snapshot().into_vec() {
            let key = key.key();
            let labels: Vec<String> = key
                .labels()
                .map(|label| format!("{}={}", label.key(), label.value()))
                .collect();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            let moved = match reading {
                DebugValue::Counter(count) => count,
                DebugValue::Histogram(samples) => samples.len() as u64,
                DebugValue::Gauge(_) => 0,
            };
            *totals.entry(name).or_default() += moved;
        }
    }

    /// The counter `name` with `label` = `value` (0 if it never moved), or for a histogram with
    /// no labels (`label` empty) how many samples it took.
    fn get(&self, name: &str, label: &str, value: &str) -> u64 {
        self.drain();
        let key = if label.is_empty() {
            format!("{name}{{}}")
        } else {
            format!("{name}{{{label}={value}}}")
        };
        self.totals.borrow().get(&key).copied().unwrap_or(0)
    }
}

#[test]
fn each_counter_moves_for_its_event() {
    use agent_identity_jwt::metrics::{KEY_SET_FETCHES, UNKNOWN_KIDS};
    use agent_identity_manager::metrics::{RECOVERIES, RELOADS, TASKS};
    use agent_identity_task::metrics::{ASSERTION_SIGNING_SECONDS, REGISTRATIONS};

    let recorder = DebuggingRecorder::new();
    let readings = Readings {
        snapshotter: recorder.snapshotter(),
        totals: RefCell::default(),
    };
    let count = |name: &str, label: &str, value: &str| readings.get(name, label, value);
    // A current-thread runtime inside the local recorder's scope: every task it spawns records
    // on this thread.
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
            let home = tempfile::tempdir().expect("tempdir");
            FileStore::new(home.path())
                .save(&valid_token())
                .expect("save");
            let clock = TestClock::new();
            let process = || {
                AuthManager::new(
                    verifier(&service.jwks_url(), Arc::clone(&clock)),
                    tasks(&service.authapi_base(), None),
                    Arc::new(FileStore::new(home.path())),
                )
            };
            // A cold start: a fetch, a registration, an updated reload.
            let manager = process().await.expect("loads");
            assert_eq!(count(KEY_SET_FETCHES, "outcome", "ok"), 1);
            assert_eq!(count(REGISTRATIONS, "outcome", "registered"), 1);
            assert_eq!(count(RELOADS, "outcome", "updated"), 1);
            assert_eq!(count(TASKS, "source", "registration"), 1);
            // A warm start: the home's task.
            process().await.expect("loads");
            assert_eq!(count(TASKS, "source", "cache"), 1);
            assert_eq!(count(KEY_SET_FETCHES, "outcome", "ok"), 1, "no fetch");
            // A reload with nothing changed.
            manager.reload().await;
            assert_eq!(count(RELOADS, "outcome", "unchanged"), 1);
            // Headers: one signing measured.
            manager.auth().expect("ready").headers().expect("headers");
            assert!(count(ASSERTION_SIGNING_SECONDS, "", "") >= 1);
            // Recovery, then again within the cooldown.
            manager.recover_unauthorized().await.expect("recovered");
            assert_eq!(count(RECOVERIES, "outcome", "registered"), 1);
            manager.recover_unauthorized().await.expect("cooled down");
            assert_eq!(count(RECOVERIES, "outcome", "cooled_down"), 1);
            // A failed recovery after the cooldown: the AuthAPI is down.
            tokio::time::advance(agent_identity_manager::RECOVERY_COOLDOWN).await;
            service.answer_register([Answer::Status(503); 3]);
            manager.recover_unauthorized().await.expect_err("down");
            assert_eq!(count(RECOVERIES, "outcome", "failed"), 1);
            assert_eq!(count(REGISTRATIONS, "outcome", "transient_error"), 1);
            // An unknown kid: refused within the refetch interval, then refetched.
            let rotated = token("agent-123", "not-yet-published", now_secs() + 3600);
            let verifier = verifier(&service.jwks_url(), Arc::clone(&clock));
            verifier.verify(&valid_token()).await.expect("warm");
            verifier.verify(&rotated).await.expect_err("refused");
            assert_eq!(count(UNKNOWN_KIDS, "action", "refused"), 1);
            tokio::time::advance(Duration::from_secs(30)).await;
            verifier.verify(&rotated).await.expect_err("untrusted");
            assert_eq!(count(UNKNOWN_KIDS, "action", "refetch"), 1);
            // A failed fetch.
            service.answer_jwks([Answer::Status(500)]);
            let cold = verifier_for(&service, &clock);
            cold.verify(&valid_token()).await.expect_err("down");
            assert_eq!(count(KEY_SET_FETCHES, "outcome", "failed"), 1);
            // A reload that keeps the cached state.
            FileStore::new(home.path())
                .save(&token("agent-123", "shared-key-1", now_secs() + 7200))
                .expect("save");
            service.answer_register([Answer::Status(503); 3]);
            manager.reload().await;
            assert_eq!(count(RELOADS, "outcome", "kept_cached"), 1);
        });
    });
}

fn verifier_for(service: &FakeService, clock: &Arc<TestClock>) -> agent_identity_jwt::Verifier {
    verifier(&service.jwks_url(), Arc::clone(clock))
}
