//! Operators' checks over the services' stores, without CLI concerns: the binary
//! prints what these return.

pub mod replicas;
