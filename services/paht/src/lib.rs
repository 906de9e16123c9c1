//! The PAHT all-in-one binary as a library: the administrator's commands and the
//! runtime that hosts services, in embedded mode (`paht up`: every service in one
//! process) or suite mode (`paht serve --services NAME`: one service per process).
//! The binary (`main.rs`) only parses arguments; tests start the runtime directly.

pub mod calendar_cmd;
pub mod ops;
pub mod runtime;
pub mod settings;
