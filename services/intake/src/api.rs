//! Intake's API as a Rust trait, its gRPC client and its tonic adapter
//! (`paht_platform::service_api!`).
//!
//! [`Intake`] has one method per RPC of `paht.v1.IntakeService`. A caller holds an
//! [`IntakeClient`] (`Arc<dyn Intake>`): the service itself in one process
//! ([`crate::IntakeService`] implements the trait with the business logic), or
//! [`IntakeGrpcClient`] across processes — same results, same refusals.
//!
//! Two operations are not plain unary calls with a caller, and are written out here:
//! - `upload_attachment` takes the upload's messages as a stream ([`UploadStream`]: the header,
//!   then the chunks). Across processes they are streamed to the server as they come; an error
//!   in the caller's own stream ends the upload, which the server then refuses as incomplete,
//!   and the caller gets its own error back.
//! - `get_report_by_tracking_code` takes no caller: the public lookup is anonymous by design,
//!   the tracking code itself is the credential (R3.2); the server mounts it on `AuthGuard`'s
//!   anonymous list and the client sends no token.

use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};
use paht_platform::auth::Caller;
use paht_platform::error::ApiError;
use paht_proto::v1;
use paht_proto::v1::intake_service_client::IntakeServiceClient;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::IntakeService;

/// The messages of one upload as the caller produces them: the header first, then the chunks.
/// An `Err` item ends the upload with that error (the caller's side broke off).
pub type UploadStream = BoxStream<'static, Result<v1::UploadAttachmentRequest, ApiError>>;

paht_platform::service_api! {
    /// The intake service's operations — submission (R3.1, R5, R6.1), the completeness check
    /// (R7.2, R7.3a), staff and public reads and the audited read of the reporter (R6.2, R20.2) —
    /// as a caller in any process sees them.
    pub trait Intake;
    /// What a caller of intake holds: `Arc::new(service)` in one process,
    /// `Arc::new(IntakeGrpcClient::connect(uri).await?)` across processes.
    pub type IntakeClient;
    /// [`Intake`] over gRPC.
    pub struct IntakeGrpcClient(IntakeServiceClient<Channel>);
    server v1::intake_service_server::IntakeService;
    service IntakeService;
    rpcs {
        /// Submits a report; idempotent per channel and key (R3.1, R6.1).
        fn submit_report(v1::SubmitReportRequest) -> v1::SubmitReportResponse;
        /// One report as staff see it (never the reporter's identity).
        fn get_report(v1::GetReportRequest) -> v1::GetReportResponse;
        /// An IOC's reports waiting for the check, oldest first (R7.2).
        fn list_check_queue(v1::ListCheckQueueRequest) -> v1::ListCheckQueueResponse;
        /// Accepts a report for handling, optionally setting its category (R7.3b).
        fn accept_report(v1::AcceptReportRequest) -> v1::AcceptReportResponse;
        /// Refuses a report with the reason (R7.3a).
        fn refuse_report(v1::RefuseReportRequest) -> v1::RefuseReportResponse;
        /// The reporter's identity, for a competent authority with a stated purpose; audited (R6.2, R20.2).
        fn get_reporter(v1::GetReporterRequest) -> v1::GetReporterResponse;
    }
    extra {
        trait {
            /// Stores one attachment from its header and chunks, claimed by no report yet (R6.1b).
            async fn upload_attachment(
                &self,
                caller: &Caller,
                messages: UploadStream,
            ) -> Result<v1::UploadAttachmentResponse, ApiError>;

            /// Where a report stands, for anyone holding its tracking code (R3.2); anonymous.
            async fn get_report_by_tracking_code(
                &self,
                request: v1::GetReportByTrackingCodeRequest,
            ) -> Result<v1::GetReportByTrackingCodeResponse, ApiError>;
        }
        client {
            async fn upload_attachment(
                &self,
                caller: &Caller,
                messages: UploadStream,
            ) -> Result<v1::UploadAttachmentResponse, ApiError> {
                // The messages are pumped to the server as they come; the caller's own failure
                // ends the pump (so the server sees the upload end short) and is kept aside.
                let (mut tx, rx) = futures::channel::mpsc::channel::<v1::UploadAttachmentRequest>(4);
                let pump = tokio::spawn(async move {
                    let mut messages = messages;
                    while let Some(item) = messages.next().await {
                        match item {
                            Ok(message) => {
                                if tx.send(message).await.is_err() {
                                    return None; // the call ended first
                                }
                            }
                            Err(err) => return Some(err),
                        }
                    }
                    None
                });
                let request = match caller.request(rx) {
                    Ok(request) => request,
                    Err(err) => {
                        pump.abort();
                        return Err(err);
                    }
                };
                let sent = self.client().upload_attachment(request).await;
                // A refused upload: was it the caller's own stream that broke off? (The pump ended
                // before the server could see the stream end, so this wait is short; a source that
                // hangs after the server refused is abandoned.)
                let abort = pump.abort_handle();
                let broke = match &sent {
                    Ok(_) => None,
                    Err(_) => tokio::time::timeout(std::time::Duration::from_secs(1), pump).await.ok().and_then(Result::ok).flatten(),
                };
                abort.abort();
                match (sent, broke) {
                    (Ok(response), _) => Ok(response.into_inner()),
                    (Err(_), Some(own)) => Err(own),
                    (Err(status), None) => Err(status.into()),
                }
            }

            async fn get_report_by_tracking_code(
                &self,
                request: v1::GetReportByTrackingCodeRequest,
            ) -> Result<v1::GetReportByTrackingCodeResponse, ApiError> {
                Ok(self.client().get_report_by_tracking_code(request).await?.into_inner())
            }
        }
        server {
            async fn upload_attachment(
                &self,
                request: Request<tonic::Streaming<v1::UploadAttachmentRequest>>,
            ) -> Result<Response<v1::UploadAttachmentResponse>, Status> {
                let caller = Caller::from_request(&request)?;
                let messages = request.into_inner().map(|message| message.map_err(ApiError::from)).boxed();
                Ok(Response::new(<IntakeService as Intake>::upload_attachment(self, &caller, messages).await?))
            }

            async fn get_report_by_tracking_code(
                &self,
                request: Request<v1::GetReportByTrackingCodeRequest>,
            ) -> Result<Response<v1::GetReportByTrackingCodeResponse>, Status> {
                let response = <IntakeService as Intake>::get_report_by_tracking_code(self, request.into_inner()).await?;
                Ok(Response::new(response))
            }
        }
    }
}
