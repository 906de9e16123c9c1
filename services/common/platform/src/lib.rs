//! PAHT's platform: what every service shares — configuration, telemetry, auth,
//! the database and its migrations, the event bus (RabbitMQ and in-process), the
//! transactional outbox and inbox, and the cache (Redis and in-memory).
pub mod api;
pub mod auth;
pub mod bus;
pub mod cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod peers;
pub mod replica;
pub mod secrets;
pub mod server;
pub mod service;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
