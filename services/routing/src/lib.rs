//! The PAHT routing service: owns the directory (the unit tree, categories, officers and
//! focal points), suggests agencies for a report by rules, dispatches, redispatches returned
//! assignments, escalates, and suggests earlier duplicates (R7.3b, R8.2b, R8.2c, R4.4, R13.5,
//! R18.1).

pub mod deadlines;
pub mod directory;
pub mod rules;
