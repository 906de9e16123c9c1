//! PAHT's pure domain: no tokio, no database, no network.
//!
//! Everything that decides something about a report lives here so that it can be
//! tested exhaustively: the lifecycle state machine, submission validation, the
//! working-time calendar and the deadlines of each stage.

pub mod actor;
pub mod calendar;
pub mod deadline;
pub mod duplicates;
pub mod ids;
pub mod lifecycle;
pub mod notice;
pub mod privacy;
pub mod tracking;
pub mod validation;
