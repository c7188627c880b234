//! Load: 1000 concurrent registrations are all served, each with its own task id.

use std::collections::HashSet;

use agent_identity_emulator::Emulator;
use tokio::task::JoinSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_registrations_all_get_distinct_task_ids() {
    let emulator = Emulator::start().await.expect("start");
    let verifier = emulator.verifier();
    // Ten runtimes, each registering 100 tasks at once: identical and distinct runtimes both.
    let mut records = Vec::new();
    for _ in 0..10 {
        let minted = emulator.mint().issue().expect("mint");
        records.push(verifier.verify(&minted.token).await.expect("verify"));
    }
    let client = emulator
        .task_client_builder()
        .client(
            reqwest::Client::builder()
                .pool_max_idle_per_host(1000)
                .build()
                .expect("client"),
        )
        // One attempt and no timers: every registration must be served the first time, so the
        // count cannot be inflated by a retry of a request the server did answer.
        .max_attempts(1)
        .attempt_timeout(None)
        .total_deadline(None)
        .build();
    let mut tasks = JoinSet::new();
    for i in 0..1000 {
        let client = client.clone();
        let record = records[i % records.len()].clone();
        tasks.spawn(async move {
            (
                record.runtime_id().clone(),
                client.register_task(&record).await,
            )
        });
    }
    let mut ids = HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        let (runtime, outcome) = joined.expect("join");
        let task_id =
            outcome.unwrap_or_else(|error| panic!("registration for {runtime} failed: {error}"));
        assert!(ids.insert(task_id), "task ids are distinct");
    }
    assert_eq!(ids.len(), 1000);
    assert_eq!(emulator.registrations(), 1000);
}
