//! The event bus: one trait, two implementations.
//!
//! - [`rabbitmq`]: suite mode. A durable topic exchange, one durable queue per
//!   consuming service, persistent messages, publisher confirms, prefetch, bounded
//!   retries with back-off, a parking (dead-letter) queue per consumer that an
//!   operator can list and replay.
//! - [`inproc`]: embedded mode. The same semantics inside one process.
//!
//! Producers never publish directly: services write events to their outbox in the
//! same transaction as the state change, and the outbox relay calls
//! [`Bus::publish`], which returns only once every message is confirmed.

mod api;
pub mod inproc;
pub mod rabbitmq;

pub use api::*;
