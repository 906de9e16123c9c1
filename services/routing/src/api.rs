//! Routing's API as a Rust trait, its gRPC client and its tonic adapter
//! (`paht_platform::service_api!`).
//!
//! [`Routing`] has one method per RPC of `paht.v1.RoutingService`: it takes the
//! [`Caller`](paht_platform::auth::Caller) and the typed request and returns the typed response
//! or a [`RoutingError`](crate::RoutingError). A caller holds a [`RoutingClient`]
//! (`Arc<dyn Routing>`): the service itself in one process ([`crate::RoutingService`] implements
//! the trait with the business logic), or [`RoutingGrpcClient`] across processes — same
//! results, same refusals.

use paht_proto::v1;
use paht_proto::v1::routing_service_client::RoutingServiceClient;
use tonic::transport::Channel;

use crate::RoutingService;

paht_platform::service_api! {
    /// The routing service's operations — dispatch (R7.3b), re-dispatch (R8.2b, R11.3),
    /// escalation and directives (R8.2c, R4.4), duplicates, and the directory (R13.5, R14.3,
    /// R14.6, R18.1) — as a caller in any process sees them.
    pub trait Routing;
    /// What a caller of routing holds: `Arc::new(service)` in one process,
    /// `Arc::new(RoutingGrpcClient::connect(uri).await?)` across processes.
    pub type RoutingClient;
    /// [`Routing`] over gRPC.
    pub struct RoutingGrpcClient(RoutingServiceClient<Channel>);
    server v1::routing_service_server::RoutingService;
    service RoutingService;
    rpcs {
        /// Ranked agency suggestions for a report, from the routing rules and the directory.
        fn suggest_agencies(v1::SuggestAgenciesRequest) -> v1::SuggestAgenciesResponse;
        /// Dispatches an accepted report to one or more agencies, one of them leading (R7.3b).
        fn dispatch(v1::DispatchRequest) -> v1::DispatchResponse;
        /// Sends a returned assignment (R8.2b) or a reopened report (R11.3) to another agency.
        fn redispatch(v1::RedispatchRequest) -> v1::RedispatchResponse;
        /// Escalates a report to the provincial office (R8.2c, R4.4).
        fn escalate(v1::EscalateRequest) -> v1::EscalateResponse;
        /// The provincial office directs an escalated report to agencies, or closes it (R8.2c).
        fn issue_directive(v1::IssueDirectiveRequest) -> v1::IssueDirectiveResponse;
        /// Earlier reports that look like the same case.
        fn suggest_duplicates(v1::SuggestDuplicatesRequest) -> v1::SuggestDuplicatesResponse;
        /// Links a report to the earlier one it duplicates.
        fn link_duplicate(v1::LinkDuplicateRequest) -> v1::LinkDuplicateResponse;
        /// The unit tree.
        fn list_units(v1::ListUnitsRequest) -> v1::ListUnitsResponse;
        /// The categories, retired ones on request (R13.5).
        fn list_categories(v1::ListCategoriesRequest) -> v1::ListCategoriesResponse;
        /// Adds or changes a category (R14.6).
        fn upsert_category(v1::UpsertCategoryRequest) -> v1::UpsertCategoryResponse;
        /// Retires a category: no new report takes it, old ones keep it (R13.5).
        fn retire_category(v1::RetireCategoryRequest) -> v1::RetireCategoryResponse;
        /// The focal officers of a unit (R14.3).
        fn list_focal_points(v1::ListFocalPointsRequest) -> v1::ListFocalPointsResponse;
        /// Sets a unit's focal officers; effective at once (R18.1).
        fn set_focal_points(v1::SetFocalPointsRequest) -> v1::SetFocalPointsResponse;
    }
}
