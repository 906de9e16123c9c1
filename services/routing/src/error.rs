//! Routing's error is the platform's [`ApiError`]: every variant routing raises (invalid fields,
//! not found, forbidden, not in a state for it, lifecycle refusals, database failures) is one the
//! services share, mapped once to gRPC and HTTP in `paht_platform::error`.

pub use paht_platform::error::ApiError;

/// What can go wrong in routing.
pub type RoutingError = ApiError;
