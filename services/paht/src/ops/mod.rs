//! Operator tools beyond health and metrics, without CLI concerns (the binary prints what
//! these return): the services' views compared (`paht replicas check`), and parked events
//! (`paht events parked`, `paht events replay`) over the running process's `/ops/*` HTTP
//! endpoints or straight to the bus.

pub mod events;
pub mod http;
pub mod replicas;
