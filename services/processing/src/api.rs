//! Processing's API as a Rust trait, its gRPC client and its tonic adapter
//! (`paht_platform::service_api!`).
//!
//! [`Processing`] has one method per RPC of `paht.v1.ProcessingService`: it takes the
//! [`Caller`](paht_platform::auth::Caller) and the typed request and returns the typed response
//! or a [`ProcessingError`](crate::ProcessingError). A caller holds a [`ProcessingClient`]
//! (`Arc<dyn Processing>`):
//! - in one process, the service itself: `Arc::new(service)` ([`crate::ProcessingService`]
//!   implements the trait with the business logic; its tonic impl is the adapter below);
//! - across processes, [`ProcessingGrpcClient`]: the same trait over gRPC, forwarding the
//!   caller's bearer token and reading the service's `Status` back as the same error.
//!
//! Either way the caller sees the same results and the same refusals (variant, fields).

use paht_proto::v1;
use paht_proto::v1::processing_service_client::ProcessingServiceClient;
use tonic::transport::Channel;

use crate::ProcessingService;

paht_platform::service_api! {
    /// The processing service's operations (articles 8, 9), as a caller in any process sees them.
    pub trait Processing;
    /// What a caller of processing holds: `Arc::new(service)` in one process,
    /// `Arc::new(ProcessingGrpcClient::connect(uri).await?)` across processes.
    pub type ProcessingClient;
    /// [`Processing`] over gRPC.
    pub struct ProcessingGrpcClient(ProcessingServiceClient<Channel>);
    server v1::processing_service_server::ProcessingService;
    service ProcessingService;
    rpcs {
        /// An agency's inbox, nearest deadline first, in keyset pages.
        fn list_inbox(v1::ListInboxRequest) -> v1::ListInboxResponse;
        /// Returns an assignment outside the agency's competence (R8.2b).
        fn return_assignment(v1::ReturnAssignmentRequest) -> v1::ReturnAssignmentResponse;
        /// Explains why the handling takes longer, with the expected completion date (R8.2a).
        fn explain_assignment(v1::ExplainAssignmentRequest) -> v1::ExplainAssignmentResponse;
        /// Submits the handling result (R9.2).
        fn submit_result(v1::SubmitResultRequest) -> v1::SubmitResultResponse;
        /// The leader approves the result (R9.3b).
        fn approve_result(v1::ApproveResultRequest) -> v1::ApproveResultResponse;
        /// The leader sends the result back (R9.3a).
        fn send_back_result(v1::SendBackResultRequest) -> v1::SendBackResultResponse;
        /// One assignment with its report.
        fn get_assignment(v1::GetAssignmentRequest) -> v1::GetAssignmentResponse;
    }
}
