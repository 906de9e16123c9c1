//! A settable clock for services under test.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset, Utc};

/// An instant written with its offset, e.g. `vn("2027-03-05T10:00:00+07:00")` (Vietnamese time).
pub fn vn(s: &str) -> DateTime<Utc> {
    DateTime::<FixedOffset>::parse_from_rfc3339(s).expect("an RFC 3339 instant").with_timezone(&Utc)
}

/// A clock that stands still until a test sets it; clones share the time.
#[derive(Clone, Debug)]
pub struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    pub fn new(start: DateTime<Utc>) -> TestClock {
        TestClock(Arc::new(Mutex::new(start)))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap() = now;
    }

    pub fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }

    /// The clock as a service takes it (`with_clock`).
    pub fn source(&self) -> impl Fn() -> DateTime<Utc> + Send + Sync + 'static {
        let shared = self.clone();
        move || shared.now()
    }
}
