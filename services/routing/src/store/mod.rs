//! Routing's storage: the directory with the administrators' changes, the `cases` index and the
//! record of re-dispatches. Portable queries over any connection or transaction.

pub mod cases;
pub mod directory;
pub mod entity;
pub mod redispatches;

pub use directory::{DirectoryStore, FocalPoint, Snapshot};
pub use entity::{case, category, focal_point, focal_unit, redispatch};

#[cfg(test)]
mod tests;
