//! Clocks for verifiers and managers: one the test moves by hand, one that never moves.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use agent_identity_jwt::Clock;

/// A clock the test moves by hand, starting at the wall clock's now.
#[derive(Debug)]
pub struct TestClock(Mutex<SystemTime>);

impl TestClock {
    /// A clock at the wall clock's now, shared: give one `Arc` to the code and keep the other.
    pub fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(SystemTime::now())))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(|e| panic!("clock: {e}")) += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(|e| panic!("clock: {e}"))
    }
}

/// A clock stopped at the time it holds.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}
