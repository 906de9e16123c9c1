//! The protocol of the PAHT field-report suite ("phản ánh hiện trường").
//!
//! [`v1`] holds the prost messages and the tonic clients and servers generated from
//! `proto/paht/v1/*.proto`: the shared messages, the domain events ([`v1::EventEnvelope`])
//! and the five services (intake, routing, processing, publication, reporting).
//! [`routing_key`] maps each event to its AMQP routing key, and [`FILE_DESCRIPTOR_SET`]
//! feeds gRPC reflection.

pub mod convert;
pub mod fact;
mod routing_keys;

pub use routing_keys::{ROUTING_KEYS, routing_key};

/// Generated code, one module per proto package.
pub mod paht {
    /// Package `paht.v1`: messages, events and services of version 1 of the protocol.
    pub mod v1 {
        // Generated code is not ours to lint; prost and tonic own its shape.
        #![allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all, unreachable_pub)]
        tonic::include_proto!("paht.v1");
    }
}

pub use paht::v1;

/// The encoded `google.protobuf.FileDescriptorSet` of every `paht.v1` file and its imports,
/// with source comments; register it with tonic-reflection so tools like grpcurl can list
/// the services.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/paht_v1_descriptor.bin"));
