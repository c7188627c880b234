//! The tasks a serving proxy keeps beside its connections: the health endpoint's record of state
//! changes, and the timer that keeps hyper's per-request timer from waking the event loop.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::proxy::Inner;

/// Aborts a task when dropped, so that a `serve` future dropped mid-way leaves nothing running.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keeps a timer due within half the header-read timeout, always.
///
/// tokio wakes its event loop from outside (a write to its eventfd, then another `epoll_wait`)
/// whenever a timer is armed that falls due before every other one. hyper arms one for the
/// header-read timeout at every request; with nothing due sooner (the connections busy, their
/// head timers cleared) each first request after the loop had parked paid that wake-up. With this
/// timer always due sooner, arming one never does. It costs one wake-up per half timeout.
pub(crate) async fn timer_anchor(header_read_timeout: Duration) {
    let period = (header_read_timeout / 2).max(Duration::from_millis(1));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
    }
}

/// Records when the manager's state changes, for the health endpoint.
pub(crate) async fn watch_state(inner: Arc<Inner>) {
    let mut states = inner.manager.subscribe();
    loop {
        *crate::lock(&inner.health.since) = Some(SystemTime::now());
        if states.changed().await.is_err() {
            return;
        }
    }
}
