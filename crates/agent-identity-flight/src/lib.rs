//! One operation in flight at a time, whatever its callers do, and a cooldown after failures.
//!
//! The JWT key cache (one key-set fetch at a time) and the auth manager (one reload, one recovery
//! at a time) share these two pieces, so that their semantics are written and tested once:
//!
//! - [`SingleFlight`] runs an operation as a task of its own. Every caller that arrives while it
//!   runs joins it and gets its outcome. The slot is cleared when the operation ends, however it
//!   ends: with a value, a panic, or cancellation (its runtime shutting down). Callers may give up
//!   waiting at any time without stranding it. One failure costs one call: the next caller starts
//!   afresh.
//! - [`Cooldown`] remembers the last failure and, for a while that doubles with each failure in a
//!   row, hands it back instead of trying again, so a broken endpoint is not hammered by every
//!   caller.
//! - [`lock`] locks a mutex whether or not a holder panicked: the one rule for the workspace's
//!   poisoned mutexes.
//!
//! Not part of the public API of `agent-identity-sdk`: it is published only because the layer crates
//! depend on it.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Why a flight ended without a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Aborted {
    /// The operation panicked. The panic was reported by the runtime; waiters get this instead.
    #[error("the operation panicked")]
    Panicked,
    /// The operation was dropped before it finished: its runtime is shutting down.
    #[error("the operation was cancelled because its runtime is shutting down")]
    Cancelled,
}

impl Aborted {
    /// A stable snake_case name, for logs and machine-readable output.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Panicked => "panicked",
            Self::Cancelled => "cancelled",
        }
    }
}

/// A slot for at most one operation in flight. Cheap to create; not `Clone` (share it inside the
/// owner's `Arc`).
pub struct SingleFlight<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

struct Slot<T> {
    /// Numbers flights, so that a finished flight clears only itself, never its successor.
    next_id: u64,
    current: Option<(u64, Flight<T>)>,
}

/// A handle on a flight: a future of its outcome. Clones share the one outcome.
pub struct Flight<T> {
    outcome: Shared<BoxFuture<'static, Result<T, Aborted>>>,
}

impl<T> Clone for Flight<T>
where
    T: Clone,
{
    fn clone(&self) -> Self {
        Self {
            outcome: self.outcome.clone(),
        }
    }
}

impl<T> Future for Flight<T>
where
    T: Clone,
{
    type Output = Result<T, Aborted>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.outcome).poll(cx)
    }
}

impl<T> Default for SingleFlight<T>
where
    T: Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<T> std::fmt::Debug for SingleFlight<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleFlight")
            .field("running", &lock(&self.slot).current.is_some())
            .finish()
    }
}

impl<T> SingleFlight<T>
where
    T: Clone + Send + Sync + 'static,
{
    /// An empty slot.
    pub fn new() -> Self {
        Self {
            slot: Arc::new(Mutex::new(Slot {
                next_id: 0,
                current: None,
            })),
        }
    }

    /// The flight in progress, if any.
    pub fn current(&self) -> Option<Flight<T>> {
        lock(&self.slot)
            .current
            .as_ref()
            .map(|(_, flight)| flight.clone())
    }

    /// Whether an operation is in flight.
    pub fn is_running(&self) -> bool {
        lock(&self.slot).current.is_some()
    }

    /// Joins the flight in progress, or starts `start()` as a new one.
    ///
    /// Inside a Tokio runtime the operation runs as a spawned task, so it finishes whatever its
    /// callers do, and the slot is cleared when it ends (value, panic or cancellation) before any
    /// waiter sees the outcome. Outside a runtime there is nothing to spawn on: the operation
    /// runs inside the returned future and is not shared.
    pub fn join_or_start<F>(&self, start: impl FnOnce() -> F) -> Flight<T>
    where
        F: Future<Output = T> + Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Flight {
                outcome: start().map(Ok).boxed().shared(),
            };
        };
        let (sender, receiver) = oneshot::channel();
        let (id, flight) = {
            let mut slot = lock(&self.slot);
            if let Some((_, flight)) = &slot.current {
                return flight.clone();
            }
            let id = slot.next_id;
            slot.next_id = slot.next_id.wrapping_add(1);
            let flight = Flight {
                // A sender dropped without sending is a task dropped before its landing ran,
                // which only cancellation does.
                outcome: receiver
                    .map(|received| received.unwrap_or(Err(Aborted::Cancelled)))
                    .boxed()
                    .shared(),
            };
            slot.current = Some((id, flight.clone()));
            (id, flight)
        };
        // Everything below runs with the slot's lock released: a runtime that is shutting down
        // drops a spawned task at once, on this thread, and its landing takes that lock.
        let mut landing = Landing {
            slot: Arc::downgrade(&self.slot),
            id,
            sender: Some(sender),
        };
        let operation = AssertUnwindSafe(start()).catch_unwind();
        drop(runtime.spawn(async move {
            // The panic itself was already reported by the panic hook; waiters get `Panicked`.
            let outcome = operation.await.map_err(|_| Aborted::Panicked);
            landing.land(outcome);
        }));
        flight
    }
}

/// Ends a flight: clears the slot (if it still holds this flight), then hands the outcome to the
/// waiters. Dropped without landing, the flight was cancelled.
struct Landing<T> {
    slot: Weak<Mutex<Slot<T>>>,
    id: u64,
    sender: Option<oneshot::Sender<Result<T, Aborted>>>,
}

impl<T> Landing<T> {
    fn land(&mut self, outcome: Result<T, Aborted>) {
        if let Some(slot) = self.slot.upgrade() {
            let mut slot = lock(&slot);
            if slot.current.as_ref().is_some_and(|(id, _)| *id == self.id) {
                slot.current = None;
            }
        }
        if let Some(sender) = self.sender.take() {
            // Nobody waiting is fine: the operation's effects are its own.
            let _ = sender.send(outcome);
        }
    }
}

impl<T> Drop for Landing<T> {
    fn drop(&mut self) {
        if self.sender.is_some() {
            self.land(Err(Aborted::Cancelled));
        }
    }
}

/// The last failure, handed back for a while instead of trying again.
///
/// After the n-th failure in a row the cooldown lasts `initial · 2ⁿ⁻¹`, at most `max`; a success
/// ends it. Times are Tokio's, so paused-clock tests travel through it.
#[derive(Debug)]
pub struct Cooldown<E> {
    initial: Duration,
    max: Duration,
    last: Mutex<Option<Failure<E>>>,
}

#[derive(Debug)]
struct Failure<E> {
    error: E,
    until: Instant,
    in_a_row: u32,
}

impl<E: Clone> Cooldown<E> {
    /// A cooldown of `initial` after one failure, doubling with each further one up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            last: Mutex::new(None),
        }
    }

    /// Records a failure at `now`, starting (or lengthening) the cooldown.
    pub fn failed(&self, error: E, now: Instant) {
        let mut last = lock(&self.last);
        let in_a_row = last
            .as_ref()
            .map_or(1, |failure| failure.in_a_row.saturating_add(1));
        let exponent = in_a_row.saturating_sub(1).min(31);
        let length = self
            .initial
            .checked_mul(1 << exponent)
            .map_or(self.max, |length| length.min(self.max));
        *last = Some(Failure {
            error,
            until: now + length,
            in_a_row,
        });
    }

    /// Records a success: the next failure starts from the initial cooldown again.
    pub fn succeeded(&self) {
        *lock(&self.last) = None;
    }

    /// The last failure and how long its cooldown still lasts, while it does.
    pub fn active(&self, now: Instant) -> Option<(E, Duration)> {
        let last = lock(&self.last);
        let failure = last.as_ref()?;
        let remaining = failure.until.checked_duration_since(now)?;
        (!remaining.is_zero()).then(|| (failure.error.clone(), remaining))
    }
}

/// Locks `mutex`, taking it over from a holder that panicked.
///
/// For the workspace's mutexes, which guard plain values (an option, a counter, a snapshot)
/// that every holder replaces whole: a panic cannot leave one half-updated, so poisoning carries
/// no information, and a panic elsewhere must not turn every later read into a second panic.
/// Not for data whose invariants span several writes under one lock.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
