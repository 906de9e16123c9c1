//! The PAHT intake service: receives field reports from every channel (R3.1, R5), checks
//! them against article 6 (R6.1, R7.3a) with the R7.2 check deadline, keeps the reporter's
//! identity sealed and apart from the report (R6.2, R20.1), and audits every read of it (R20.2).
//!
//! - [`IntakeMigrator`]: the platform's tables, then `reports`, `reporters`, `attachments`, `audit_log`.
//! - [`store`]: portable queries over any connection or transaction.
//! - [`Intake`]: the API as a Rust trait; a caller holds an [`IntakeClient`], the service itself
//!   in one process or an [`IntakeGrpcClient`] across processes.
//! - [`IntakeService`]: implements [`Intake`], and the tonic service as a thin adapter over it;
//!   build it with [`build`].
//! - [`vault`], [`blob`]: the identity vault and the attachment store.

pub mod api;
pub mod blob;
pub mod config;
mod error;
pub mod follow;
mod migration;
mod registration;
mod service;
pub mod store;
pub mod vault;

pub use api::{Intake, IntakeClient, IntakeGrpcClient, UploadStream};
pub use config::{IntakeConfig, Limit, RateLimits, UploadsConfig};
pub use error::IntakeError;
pub use error::LimitScope;
pub use migration::IntakeMigrator;
pub use registration::{ANONYMOUS, REGISTRATION};
pub use service::{IntakeParts, IntakeService, channel_from_name, channel_name};

/// Migrates the service's database and returns the service, ready to mount behind
/// `paht_platform::auth::interceptor` (with `GetReportByTrackingCode` anonymous).
pub async fn build(parts: IntakeParts) -> Result<IntakeService, IntakeError> {
    parts.db.migrate::<IntakeMigrator>().await?;
    Ok(IntakeService::new(parts))
}
