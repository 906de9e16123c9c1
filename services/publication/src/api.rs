//! Publication's API as a Rust trait, its gRPC client and its tonic adapter
//! (`paht_platform::service_api!`).
//!
//! [`Publication`] has one method per RPC of `paht.v1.PublicationService`. The staff's take the
//! [`Caller`](paht_platform::auth::Caller); the reporter's three — rating, reopening and the
//! published answer — take none: they are anonymous by design, proved by the rating secret
//! (R11.1, R11.3) or public (R10.3a), and `AuthGuard` lets [`crate::ANONYMOUS`] through. A caller
//! holds a [`PublicationClient`]: the service itself in one process, a
//! [`PublicationGrpcClient`] across processes.

use paht_platform::error::ApiError;
use paht_proto::v1;
use paht_proto::v1::publication_service_client::PublicationServiceClient;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::PublicationService;

paht_platform::service_api! {
    /// The publication service's operations (articles 10, 11), as a caller in any process sees them.
    pub trait Publication;
    /// What a caller of publication holds: `Arc::new(service)` in one process,
    /// `Arc::new(PublicationGrpcClient::connect(uri).await?)` across processes.
    pub type PublicationClient;
    /// [`Publication`] over gRPC.
    pub struct PublicationGrpcClient(PublicationServiceClient<Channel>);
    server v1::publication_service_server::PublicationService;
    service PublicationService;
    rpcs {
        /// The answer as it stands, the draft until edited, with the guard's findings (R10.3a).
        fn get_answer(v1::GetAnswerRequest) -> v1::GetAnswerResponse;
        /// Edits the answer (R10.3a).
        fn edit_answer(v1::EditAnswerRequest) -> v1::EditAnswerResponse;
        /// Publishes the answer, refused while the personal-data guard finds anything (R10.3a).
        fn publish_answer(v1::PublishAnswerRequest) -> v1::PublishAnswerResponse;
        /// Answers the reporter alone (R10.3b).
        fn answer_privately(v1::AnswerPrivatelyRequest) -> v1::AnswerPrivatelyResponse;
        /// Withholds the answer (R10.3c).
        fn withhold_answer(v1::WithholdAnswerRequest) -> v1::WithholdAnswerResponse;
        /// The follow-ups of "unsatisfied" ratings (R11.2).
        fn list_follow_ups(v1::ListFollowUpsRequest) -> v1::ListFollowUpsResponse;
        /// Closes a follow-up with a note (R11.2).
        fn close_follow_up(v1::CloseFollowUpRequest) -> v1::CloseFollowUpResponse;
    }
    extra {
        trait {
            /// The reporter rates the answer, proved by the rating secret (R11.1); anonymous.
            async fn rate_report(&self, request: v1::RateReportRequest) -> Result<v1::RateReportResponse, ApiError>;

            /// The reporter disagrees and writes again (R11.3), proved by the rating secret; anonymous.
            async fn reopen_report(
                &self,
                request: v1::ReopenReportRequest,
            ) -> Result<v1::ReopenReportResponse, ApiError>;

            /// The published answer, for anyone (R10.3a); anonymous.
            async fn get_published_answer(
                &self,
                request: v1::GetPublishedAnswerRequest,
            ) -> Result<v1::GetPublishedAnswerResponse, ApiError>;
        }
        client {
            async fn rate_report(&self, request: v1::RateReportRequest) -> Result<v1::RateReportResponse, ApiError> {
                Ok(self.client().rate_report(request).await?.into_inner())
            }

            async fn reopen_report(
                &self,
                request: v1::ReopenReportRequest,
            ) -> Result<v1::ReopenReportResponse, ApiError> {
                Ok(self.client().reopen_report(request).await?.into_inner())
            }

            async fn get_published_answer(
                &self,
                request: v1::GetPublishedAnswerRequest,
            ) -> Result<v1::GetPublishedAnswerResponse, ApiError> {
                Ok(self.client().get_published_answer(request).await?.into_inner())
            }
        }
        server {
            async fn rate_report(
                &self,
                request: Request<v1::RateReportRequest>,
            ) -> Result<Response<v1::RateReportResponse>, Status> {
                Ok(Response::new(<PublicationService as Publication>::rate_report(self, request.into_inner()).await?))
            }

            async fn reopen_report(
                &self,
                request: Request<v1::ReopenReportRequest>,
            ) -> Result<Response<v1::ReopenReportResponse>, Status> {
                Ok(Response::new(<PublicationService as Publication>::reopen_report(self, request.into_inner()).await?))
            }

            async fn get_published_answer(
                &self,
                request: Request<v1::GetPublishedAnswerRequest>,
            ) -> Result<Response<v1::GetPublishedAnswerResponse>, Status> {
                let response = <PublicationService as Publication>::get_published_answer(self, request.into_inner()).await?;
                Ok(Response::new(response))
            }
        }
    }
}
