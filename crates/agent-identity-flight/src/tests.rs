//! The single-flight and cooldown semantics, tested once for every user of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{Aborted, Cooldown, SingleFlight};

fn counted(
    runs: &Arc<AtomicUsize>,
    release: Option<oneshot::Receiver<()>>,
) -> impl Future<Output = usize> + Send + 'static {
    let runs = Arc::clone(runs);
    async move {
        let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(release) = release {
            let _ = release.await;
        }
        run
    }
}

#[tokio::test]
async fn concurrent_callers_share_one_run_and_its_outcome() {
    let flight = SingleFlight::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let (release, wait) = oneshot::channel();
    let first = flight.join_or_start(|| counted(&runs, Some(wait)));
    let others: Vec<_> = (0..50)
        .map(|_| flight.join_or_start(|| counted(&runs, None)))
        .collect();
    assert!(flight.is_running());
    release.send(()).expect("the flight waits");
    assert_eq!(first.await, Ok(1));
    for other in others {
        assert_eq!(other.await, Ok(1));
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_slot_is_clear_before_waiters_see_the_outcome() {
    let flight = SingleFlight::new();
    let runs = Arc::new(AtomicUsize::new(0));
    assert_eq!(flight.join_or_start(|| counted(&runs, None)).await, Ok(1));
    assert!(!flight.is_running());
    assert_eq!(flight.join_or_start(|| counted(&runs, None)).await, Ok(2));
}

#[tokio::test]
async fn a_panicking_operation_costs_one_call() {
    let flight: SingleFlight<u32> = SingleFlight::new();
    let outcome = flight
        .join_or_start(|| async { panic!("the store exploded") })
        .await;
    assert_eq!(outcome, Err(Aborted::Panicked));
    assert!(!flight.is_running());
    assert_eq!(flight.join_or_start(|| async { 7 }).await, Ok(7));
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_flight_still_finishes_and_clears_its_slot() {
    let flight = SingleFlight::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let (release, wait) = oneshot::channel();
    let (done_tx, done) = oneshot::channel();
    let caller = flight.join_or_start(|| {
        let operation = counted(&runs, Some(wait));
        async move {
            let run = operation.await;
            let _ = done_tx.send(());
            run
        }
    });
    // The caller gives up long before the operation ends.
    let gave_up = tokio::time::timeout(Duration::from_secs(1), caller).await;
    assert!(gave_up.is_err());
    assert!(flight.is_running(), "the operation is still running");
    release.send(()).expect("the operation waits");
    done.await
        .expect("the operation ran to its end with nobody polling it");
    if let Some(current) = flight.current() {
        assert_eq!(current.await, Ok(1));
    }
    assert!(!flight.is_running());
    assert_eq!(flight.join_or_start(|| counted(&runs, None)).await, Ok(2));
}

#[test]
fn a_flight_cancelled_by_runtime_shutdown_clears_its_slot() {
    let flight: SingleFlight<u32> = SingleFlight::new();
    let first = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let stranded = {
        let _entered = first.enter();
        flight.join_or_start(std::future::pending)
    };
    assert!(flight.is_running());
    drop(first);
    assert!(!flight.is_running(), "shutdown cleared the slot");
    let second = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    second.block_on(async {
        assert_eq!(stranded.await, Err(Aborted::Cancelled));
        assert_eq!(flight.join_or_start(|| async { 3 }).await, Ok(3));
    });
}

#[test]
fn outside_a_runtime_the_operation_runs_unshared() {
    let flight = SingleFlight::new();
    let outcome = flight.join_or_start(|| async { 5 }).now_or_never();
    assert_eq!(outcome, Some(Ok(5)));
    assert!(!flight.is_running());
}

#[test]
fn cooldown_doubles_with_each_failure_up_to_its_maximum() {
    let cooldown = Cooldown::new(Duration::from_secs(1), Duration::from_secs(5));
    let start = Instant::now();
    assert!(cooldown.active(start).is_none());
    let mut lengths = Vec::new();
    let mut now = start;
    for failure in 0..5 {
        cooldown.failed(failure, now);
        let (error, remaining) = cooldown.active(now).expect("cooling down");
        assert_eq!(error, failure);
        lengths.push(remaining.as_secs());
        now += remaining;
        assert!(cooldown.active(now).is_none(), "over when its time is up");
    }
    assert_eq!(lengths, [1, 2, 4, 5, 5]);
}

#[test]
fn a_success_ends_the_cooldown_and_resets_its_length() {
    let cooldown = Cooldown::new(Duration::from_secs(1), Duration::from_secs(60));
    let now = Instant::now();
    cooldown.failed("down", now);
    cooldown.failed("down", now);
    assert_eq!(
        cooldown.active(now).map(|(_, left)| left.as_secs()),
        Some(2)
    );
    cooldown.succeeded();
    assert!(cooldown.active(now).is_none());
    cooldown.failed("down again", now);
    assert_eq!(
        cooldown.active(now).map(|(_, left)| left.as_secs()),
        Some(1)
    );
}

#[test]
fn lock_takes_over_a_mutex_whose_holder_panicked() {
    let mutex = std::sync::Arc::new(std::sync::Mutex::new(1));
    let held = std::sync::Arc::clone(&mutex);
    let panicked = std::thread::spawn(move || {
        let mut value = held.lock().expect("first holder");
        *value = 2;
        panic!("a holder that panics");
    })
    .join();
    assert!(panicked.is_err());
    assert!(mutex.is_poisoned());
    assert_eq!(*super::lock(&mutex), 2, "the value the holder left");
}
