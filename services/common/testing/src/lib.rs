//! PAHT's test harness, shared by the tests of every crate above the platform: a fresh
//! database per test ([`run`], on Postgres or SQLite; the test Postgres is named by
//! `PAHT_TEST_POSTGRES_URL`), tokens per role through the real interceptor ([`Tokens`]), a
//! settable clock ([`TestClock`]), delivering events to a service's handler ([`deliver`]),
//! reading a service's outbox ([`outbox`]), a local gRPC server for remote clients ([`Served`]), and a replica-fed service under test
//! ([`Harness`]) with the report stories other services would publish ([`Story`]).
//!
//! Service-specific builders stay in each crate's `tests/common`; this crate depends on no
//! service crate.

mod auth;
mod clock;
mod db;
mod harness;
mod served;
mod story;

pub use paht_platform::testing::{
    Backend, DEFAULT_POSTGRES_URL, FreshDb, POSTGRES_URL_VAR, postgres_url, with_database,
};

pub use self::auth::{Intercept, Tokens, bearer};
pub use self::clock::{TestClock, vn};
pub use self::db::{TestDb, count, deliver, deliver_all, outbox, outbox_keys, run};
pub use self::harness::{Harness, fields};
pub use self::served::Served;
pub use self::story::{Story, ioc_actor};

/// Declares `name::postgres` and `name::sqlite` for each scenario `name`, each calling
/// `run(Backend::…, args…, super::name)`; `tokio = (…)` passes arguments to `#[tokio::test]`.
///
/// `paht_testing::on_both!(run = $crate::common::run, args = (limits); a, b);`
#[macro_export]
macro_rules! on_both {
    (run = $run:path $(, args = ($($arg:expr),*))? $(, tokio = ($($flavor:tt)*))?; $($name:ident),* $(,)?) => {
        $crate::on_both!(@each [$run] [$($($arg,)*)?] [$( ($($flavor)*) )?]; $($name),*);
    };
    (@each $run:tt $args:tt $flavor:tt;) => {};
    (@each $run:tt $args:tt $flavor:tt; $name:ident $(, $rest:ident)*) => {
        $crate::on_both!(@one $run $args $flavor $name);
        $crate::on_both!(@each $run $args $flavor; $($rest),*);
    };
    (@one [$run:path] [$($arg:tt)*] [$($flavor:tt)*] $name:ident) => {
        mod $name {
            #[tokio::test $($flavor)*]
            async fn postgres() {
                $run($crate::Backend::Postgres, $($arg)* super::$name).await
            }
            #[tokio::test $($flavor)*]
            async fn sqlite() {
                $run($crate::Backend::Sqlite, $($arg)* super::$name).await
            }
        }
    };
}

/// Implements `Deref` from a one-field wrapper to its field (`mut`: also `DerefMut`), for the
/// services' own `Harness` and `Story` around the shared ones.
///
/// `paht_testing::wraps!(Story => mut paht_testing::Story);`
#[macro_export]
macro_rules! wraps {
    ($outer:ty => mut $inner:ty) => {
        $crate::wraps!($outer => $inner);
        impl ::std::ops::DerefMut for $outer {
            fn deref_mut(&mut self) -> &mut $inner {
                &mut self.0
            }
        }
    };
    ($outer:ty => $inner:ty) => {
        impl ::std::ops::Deref for $outer {
            type Target = $inner;
            fn deref(&self) -> &$inner {
                &self.0
            }
        }
    };
}
