//! Operator tools beyond health and metrics: parked events (`paht events parked`,
//! `paht events replay`), over the running process's `/ops/*` HTTP endpoints or straight to
//! the bus.

pub mod events;
pub mod http;
