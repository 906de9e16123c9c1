//! Processing's API as a Rust trait, and its two clients.
//!
//! [`Processing`] has one method per RPC of `paht.v1.ProcessingService`: it takes the
//! [`Caller`] and the typed request and returns the typed response or a [`ProcessingError`].
//! A caller holds a [`ProcessingClient`] (`Arc<dyn Processing>`):
//! - in one process, the service itself: `Arc::new(service)` ([`crate::ProcessingService`]
//!   implements the trait with the business logic; its tonic impl is a thin adapter over it);
//! - across processes, [`ProcessingGrpcClient`]: the same trait over gRPC, forwarding the
//!   caller's bearer token and reading the service's `Status` back as the same [`ProcessingError`].
//!
//! Either way the caller sees the same results and the same refusals (variant, fields).

use std::sync::Arc;

use paht_platform::auth::Caller;
use paht_proto::v1;
use paht_proto::v1::processing_service_client::ProcessingServiceClient;
use tonic::transport::{Channel, Endpoint};

use crate::error::ProcessingError;

/// The processing service's operations (articles 8, 9), as a caller in any process sees them.
#[async_trait::async_trait]
pub trait Processing: Send + Sync {
    /// An agency's inbox, nearest deadline first, in keyset pages.
    async fn list_inbox(
        &self,
        caller: &Caller,
        request: v1::ListInboxRequest,
    ) -> Result<v1::ListInboxResponse, ProcessingError>;

    /// Returns an assignment outside the agency's competence (R8.2b).
    async fn return_assignment(
        &self,
        caller: &Caller,
        request: v1::ReturnAssignmentRequest,
    ) -> Result<v1::ReturnAssignmentResponse, ProcessingError>;

    /// Explains why the handling takes longer, with the expected completion date (R8.2a).
    async fn explain_assignment(
        &self,
        caller: &Caller,
        request: v1::ExplainAssignmentRequest,
    ) -> Result<v1::ExplainAssignmentResponse, ProcessingError>;

    /// Submits the handling result (R9.2).
    async fn submit_result(
        &self,
        caller: &Caller,
        request: v1::SubmitResultRequest,
    ) -> Result<v1::SubmitResultResponse, ProcessingError>;

    /// The leader approves the result (R9.3b).
    async fn approve_result(
        &self,
        caller: &Caller,
        request: v1::ApproveResultRequest,
    ) -> Result<v1::ApproveResultResponse, ProcessingError>;

    /// The leader sends the result back (R9.3a).
    async fn send_back_result(
        &self,
        caller: &Caller,
        request: v1::SendBackResultRequest,
    ) -> Result<v1::SendBackResultResponse, ProcessingError>;

    /// One assignment with its report.
    async fn get_assignment(
        &self,
        caller: &Caller,
        request: v1::GetAssignmentRequest,
    ) -> Result<v1::GetAssignmentResponse, ProcessingError>;
}

/// What a caller of processing holds: `Arc::new(service)` in one process,
/// `Arc::new(ProcessingGrpcClient::connect(uri).await?)` across processes.
pub type ProcessingClient = Arc<dyn Processing>;

/// [`Processing`] over gRPC: each call carries the caller's bearer token
/// (`authorization: Bearer …`) and the service's refusal comes back as the same
/// [`ProcessingError`] (`ApiError::from(status)`). A caller without a token is refused as
/// `Unauthenticated` before anything is sent.
#[derive(Debug, Clone)]
pub struct ProcessingGrpcClient {
    inner: ProcessingServiceClient<Channel>,
}

impl ProcessingGrpcClient {
    /// A client over an existing channel (shared with other clients of the same server).
    pub fn new(channel: Channel) -> Self {
        ProcessingGrpcClient { inner: ProcessingServiceClient::new(channel) }
    }

    /// Connects to the processing service at `endpoint` (`http://host:port`).
    pub async fn connect<D>(endpoint: D) -> Result<Self, tonic::transport::Error>
    where
        D: TryInto<Endpoint>,
        D::Error: Into<tonic::codegen::StdError>,
    {
        Ok(ProcessingGrpcClient { inner: ProcessingServiceClient::connect(endpoint).await? })
    }

    /// A handle for one call (tonic clients are cheap to clone and need `&mut` to call).
    fn client(&self) -> ProcessingServiceClient<Channel> {
        self.inner.clone()
    }
}

#[async_trait::async_trait]
impl Processing for ProcessingGrpcClient {
    async fn list_inbox(
        &self,
        caller: &Caller,
        request: v1::ListInboxRequest,
    ) -> Result<v1::ListInboxResponse, ProcessingError> {
        Ok(self.client().list_inbox(caller.request(request)?).await?.into_inner())
    }

    async fn return_assignment(
        &self,
        caller: &Caller,
        request: v1::ReturnAssignmentRequest,
    ) -> Result<v1::ReturnAssignmentResponse, ProcessingError> {
        Ok(self.client().return_assignment(caller.request(request)?).await?.into_inner())
    }

    async fn explain_assignment(
        &self,
        caller: &Caller,
        request: v1::ExplainAssignmentRequest,
    ) -> Result<v1::ExplainAssignmentResponse, ProcessingError> {
        Ok(self.client().explain_assignment(caller.request(request)?).await?.into_inner())
    }

    async fn submit_result(
        &self,
        caller: &Caller,
        request: v1::SubmitResultRequest,
    ) -> Result<v1::SubmitResultResponse, ProcessingError> {
        Ok(self.client().submit_result(caller.request(request)?).await?.into_inner())
    }

    async fn approve_result(
        &self,
        caller: &Caller,
        request: v1::ApproveResultRequest,
    ) -> Result<v1::ApproveResultResponse, ProcessingError> {
        Ok(self.client().approve_result(caller.request(request)?).await?.into_inner())
    }

    async fn send_back_result(
        &self,
        caller: &Caller,
        request: v1::SendBackResultRequest,
    ) -> Result<v1::SendBackResultResponse, ProcessingError> {
        Ok(self.client().send_back_result(caller.request(request)?).await?.into_inner())
    }

    async fn get_assignment(
        &self,
        caller: &Caller,
        request: v1::GetAssignmentRequest,
    ) -> Result<v1::GetAssignmentResponse, ProcessingError> {
        Ok(self.client().get_assignment(caller.request(request)?).await?.into_inner())
    }
}
