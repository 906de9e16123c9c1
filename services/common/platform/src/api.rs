//! A service's API in one place: the [`service_api!`](crate::service_api) macro.
//!
//! Every service exposes its operations as a Rust trait taking the [`Caller`](crate::auth::Caller)
//! and the typed request and returning the typed response or an [`ApiError`](crate::error::ApiError).
//! Two more things follow from that trait mechanically, and the macro writes them once for every
//! service:
//! - a **gRPC client** implementing the same trait across processes: each call carries the
//!   caller's bearer token (`Caller::request`) and the remote refusal comes back as the same
//!   `ApiError` (`ApiError::from(Status)`);
//! - the **tonic adapter**: the generated server trait implemented for the service type by
//!   taking the verified caller off the request (`Caller::from_request`) and calling the trait.
//!
//! So the business logic is written once, against the trait, and a caller holds
//! `Arc<dyn Trait>` — the service itself in one process, the gRPC client across processes —
//! and sees the same results and refusals either way.
//!
//! Unary RPCs are listed in `rpcs { … }`; anything else (a client-streaming upload) is written
//! by hand in the optional `extra { trait { … } client { … } server { … } }` block, whose items
//! are spliced into the trait, the client's impl and the adapter respectively.
//!
//! Processing's, shortened (shown as text: it names generated types this crate cannot see;
//! the three services' `api.rs` are the compiled examples):
//!
//! ```text
//! paht_platform::service_api! {
//!     /// Processing's operations.
//!     pub trait Processing;
//!     /// What a caller holds.
//!     pub type ProcessingClient;
//!     /// Processing over gRPC.
//!     pub struct ProcessingGrpcClient(ProcessingServiceClient<Channel>);
//!     server processing_service_server::ProcessingService;
//!     service ProcessingService;
//!     rpcs {
//!         /// An agency's inbox.
//!         fn list_inbox(v1::ListInboxRequest) -> v1::ListInboxResponse;
//!     }
//! }
//! ```

/// Re-exports the macro's expansion needs, so a service crate needs no extra dependency.
#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
    pub use tonic;
}

/// Declares a service's API trait, its gRPC client and its tonic adapter; see [`crate::api`].
#[macro_export]
macro_rules! service_api {
    (
        $(#[$trait_meta:meta])*
        pub trait $Trait:ident;
        $(#[$alias_meta:meta])*
        pub type $Alias:ident;
        $(#[$client_meta:meta])*
        pub struct $Client:ident($Grpc:ty);
        server $Server:path;
        service $Service:ty;
        rpcs {
            $( $(#[$rpc_meta:meta])* fn $rpc:ident($Req:ty) -> $Resp:ty; )*
        }
        $( extra {
            trait { $($trait_extra:tt)* }
            client { $($client_extra:tt)* }
            server { $($server_extra:tt)* }
        } )?
    ) => {
        $(#[$trait_meta])*
        #[$crate::api::__private::async_trait]
        pub trait $Trait: Send + Sync {
            $(
                $(#[$rpc_meta])*
                async fn $rpc(
                    &self,
                    caller: &$crate::auth::Caller,
                    request: $Req,
                ) -> ::core::result::Result<$Resp, $crate::error::ApiError>;
            )*
            $($($trait_extra)*)?
        }

        $(#[$alias_meta])*
        pub type $Alias = ::std::sync::Arc<dyn $Trait>;

        $(#[$client_meta])*
        ///
        /// Each call carries the caller's bearer token (`authorization: Bearer …`); a caller
        /// without one is refused as `Unauthenticated` before anything is sent. The service's
        /// refusal comes back as the same `ApiError` it was on the server.
        #[derive(Debug, Clone)]
        pub struct $Client {
            inner: $Grpc,
        }

        impl $Client {
            /// A client over an existing channel (shared with other clients of the same server).
            pub fn new(channel: $crate::api::__private::tonic::transport::Channel) -> Self {
                $Client { inner: <$Grpc>::new(channel) }
            }

            /// Connects to the service at `endpoint` (`http://host:port`).
            pub async fn connect<D>(
                endpoint: D,
            ) -> ::core::result::Result<Self, $crate::api::__private::tonic::transport::Error>
            where
                D: ::core::convert::TryInto<$crate::api::__private::tonic::transport::Endpoint>,
                D::Error: ::core::convert::Into<$crate::api::__private::tonic::codegen::StdError>,
            {
                Ok($Client { inner: <$Grpc>::connect(endpoint).await? })
            }

            /// A handle for one call (tonic clients are cheap to clone and need `&mut` to call).
            #[allow(dead_code)]
            fn client(&self) -> $Grpc {
                self.inner.clone()
            }
        }

        #[$crate::api::__private::async_trait]
        impl $Trait for $Client {
            $(
                async fn $rpc(
                    &self,
                    caller: &$crate::auth::Caller,
                    request: $Req,
                ) -> ::core::result::Result<$Resp, $crate::error::ApiError> {
                    Ok(self.client().$rpc(caller.request(request)?).await?.into_inner())
                }
            )*
            $($($client_extra)*)?
        }

        #[$crate::api::__private::async_trait]
        impl $Server for $Service {
            $(
                async fn $rpc(
                    &self,
                    request: $crate::api::__private::tonic::Request<$Req>,
                ) -> ::core::result::Result<
                    $crate::api::__private::tonic::Response<$Resp>,
                    $crate::api::__private::tonic::Status,
                > {
                    let caller = $crate::auth::Caller::from_request(&request)?;
                    let response = <$Service as $Trait>::$rpc(self, &caller, request.into_inner()).await?;
                    Ok($crate::api::__private::tonic::Response::new(response))
                }
            )*
            $($($server_extra)*)?
        }
    };
}
