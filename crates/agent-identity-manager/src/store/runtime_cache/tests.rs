//! The runtime cache: what it keeps, what it refuses to trust, and that nothing wrong with it is
//! ever more than a miss.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, SystemTime};

use super::*;

fn binding(token: &str) -> TaskBinding {
    TaskBinding::new("agent-123", token, "https://auth.example.test")
}

fn home() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn a_task_is_found_only_for_its_runtime_token_and_authapi() {
    let home = home();
    let cache = RuntimeCache::in_home(home.path());
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    cache.put_task(&binding("aaaa"), &TaskId::new("task-1"), at);
    let found = cache.task(&binding("aaaa")).expect("cached");
    assert_eq!(found.task_id().as_str(), "task-1");
    assert_eq!(found.registered_at(), at);
    assert!(cache.task(&binding("bbbb")).is_none(), "another token");
    let other_runtime = TaskBinding::new("agent-456", "aaaa", "https://auth.example.test");
    assert!(cache.task(&other_runtime).is_none());
    let other_base = TaskBinding::new("agent-123", "aaaa", "https://other.example.test");
    assert!(cache.task(&other_base).is_none());
    // A newer registration for the same binding replaces the old one.
    cache.put_task(&binding("aaaa"), &TaskId::new("task-2"), at);
    assert_eq!(
        cache
            .task(&binding("aaaa"))
            .map(|task| task.task_id().clone()),
        Some(TaskId::new("task-2"))
    );
    assert_eq!(mode_of(cache.path()), 0o600);
}

#[test]
fn the_cache_keeps_a_bounded_number_of_entries() {
    let home = home();
    let cache = RuntimeCache::in_home(home.path());
    for n in 0..40 {
        cache.put_task(
            &binding(&format!("{n:04}")),
            &TaskId::new(format!("task-{n}")),
            SystemTime::now(),
        );
    }
    let text = fs::read_to_string(cache.path()).expect("cache");
    let document: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(document["tasks"].as_array().map(Vec::len), Some(MAX_TASKS));
    assert!(cache.task(&binding("0039")).is_some(), "the newest stays");
    assert!(cache.task(&binding("0000")).is_none(), "the oldest goes");
}

#[test]
fn anything_wrong_with_the_file_is_a_miss_and_the_next_write_replaces_it() {
    let valid = json_document("task-1");
    let cases: [(&str, String); 5] = [
        ("corrupt", "{not json".to_owned()),
        ("truncated", valid[..valid.len() / 2].to_owned()),
        (
            "another version",
            valid.replace("\"version\":1", "\"version\":99"),
        ),
        (
            "another shape",
            r#"{"version":1,"tasks":"none"}"#.to_owned(),
        ),
        ("not an object", "[1,2,3]".to_owned()),
    ];
    for (name, text) in cases {
        let home = home();
        let cache = RuntimeCache::in_home(home.path());
        fs::write(cache.path(), &text).expect("seed");
        fs::set_permissions(cache.path(), fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(cache.task(&binding("aaaa")).is_none(), "{name}");
        cache.put_task(&binding("aaaa"), &TaskId::new("task-9"), SystemTime::now());
        assert_eq!(
            cache
                .task(&binding("aaaa"))
                .map(|task| task.task_id().clone()),
            Some(TaskId::new("task-9")),
            "{name}: rewritten"
        );
    }
}

fn json_document(task_id: &str) -> String {
    serde_json::json!({
        "version": 1,
        "tasks": [{
            "runtime_id": "agent-123",
            "token_sha256": "aaaa",
            "authapi_base": "https://auth.example.test",
            "task_id": task_id,
            "registered_at": 1_800_000_000u64,
        }],
    })
    .to_string()
}

#[test]
fn a_cache_others_may_write_is_ignored() {
    let home = home();
    let cache = RuntimeCache::in_home(home.path());
    fs::write(cache.path(), json_document("planted")).expect("seed");
    fs::set_permissions(cache.path(), fs::Permissions::from_mode(0o620)).expect("chmod");
    assert!(cache.task(&binding("aaaa")).is_none(), "group-writable");
    fs::set_permissions(cache.path(), fs::Permissions::from_mode(0o600)).expect("chmod");
    assert_eq!(
        cache
            .task(&binding("aaaa"))
            .map(|task| task.task_id().clone()),
        Some(TaskId::new("planted")),
        "the same file, private, is used"
    );
}

#[test]
fn a_symlinked_cache_is_ignored_and_a_write_replaces_the_link_not_its_target() {
    let home = home();
    let elsewhere = home.path().join("elsewhere.json");
    fs::write(&elsewhere, json_document("planted")).expect("seed");
    fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o600)).expect("chmod");
    let cache = RuntimeCache::in_home(home.path());
    std::os::unix::fs::symlink(&elsewhere, cache.path()).expect("symlink");
    assert!(cache.task(&binding("aaaa")).is_none());
    cache.put_task(&binding("bbbb"), &TaskId::new("task-1"), SystemTime::now());
    assert!(
        !fs::symlink_metadata(cache.path())
            .expect("cache")
            .is_symlink()
    );
    assert_eq!(
        fs::read_to_string(&elsewhere).expect("target"),
        json_document("planted"),
        "the link's target is untouched"
    );
}

#[test]
fn an_invalid_cached_task_id_is_a_miss() {
    let home = home();
    let cache = RuntimeCache::in_home(home.path());
    for planted in [
        "",
        "task\u{1b}[31m",
        &"t".repeat(agent_identity_task::MAX_TASK_ID_BYTES + 1),
    ] {
        fs::write(cache.path(), json_document(planted)).expect("seed");
        fs::set_permissions(cache.path(), fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(cache.task(&binding("aaaa")).is_none(), "{planted:?}");
    }
}

#[test]
fn key_sets_round_trip_and_survive_clearing_the_tasks() {
    let home = home();
    let cache = RuntimeCache::in_home(home.path());
    let fetched = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let jwks = r#"{"keys":[{"kty":"OKP","kid":"k1","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
    cache.put_key_set(
        "https://example.test/jwks",
        &KeySetSnapshot::new(jwks, fetched),
    );
    cache.put_task(&binding("aaaa"), &TaskId::new("task-1"), fetched);
    cache.clear_tasks();
    assert!(cache.task(&binding("aaaa")).is_none());
    let snapshot = cache.key_set("https://example.test/jwks").expect("kept");
    assert_eq!(snapshot.fetched_at(), fetched);
    let round_tripped: Value = serde_json::from_str(snapshot.json()).expect("json");
    assert_eq!(
        round_tripped,
        serde_json::from_str::<Value>(jwks).expect("json")
    );
    assert!(cache.key_set("https://other.test/jwks").is_none());
}

#[test]
fn clearing_an_absent_cache_creates_nothing() {
    let home = home();
    let cache = RuntimeCache::in_home(home.path());
    cache.clear_tasks();
    assert!(!cache.path().exists());
}

#[tokio::test(start_paused = true)]
async fn the_registration_lock_is_one_holder_at_a_time_and_a_waiter_gives_up_in_time() {
    let home = home();
    let cache = RuntimeCache::in_home(home.path());
    let held = cache
        .lock_registration(Duration::ZERO)
        .await
        .expect("free at first");
    let started = tokio::time::Instant::now();
    assert!(
        cache
            .lock_registration(Duration::from_secs(3))
            .await
            .is_none(),
        "held by another"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    drop(held);
    assert!(cache.lock_registration(Duration::ZERO).await.is_some());
}
