//! Routing's API trait through both clients: the service itself in-process, and
//! `RoutingGrpcClient` against a real gRPC server behind the authentication guard (as the
//! runtime mounts it). Both give the same results and the same refusals; on Postgres and SQLite.

mod common;

use std::sync::Arc;

use common::{AG1, AG2, Harness, INSTANCE, OTHER_INSTANCE, Spec, accepted_report, dispatch_to};
use paht_domain::actor::Role;
use paht_platform::auth::{AuthGuard, Caller};
use paht_platform::error::ApiError;
use paht_proto::v1;
use paht_proto::v1::routing_service_server::RoutingServiceServer;
use paht_routing::{RoutingClient, RoutingGrpcClient};
use paht_testing::Served;

/// The service under test served on 127.0.0.1:0 behind `AuthGuard`, and a remote client of it.
struct Remote {
    client: RoutingClient,
    served: Served,
}

impl Remote {
    async fn serve(h: &Harness) -> Remote {
        let served =
            Served::start(AuthGuard::new(RoutingServiceServer::from_arc(Arc::clone(&h.svc)), h.tokens.authenticator()));
        let client = RoutingGrpcClient::connect(served.uri().to_owned()).await.expect("connected");
        Remote { client: Arc::new(client), served }
    }

    async fn stop(self) {
        drop(self.client);
        self.served.stop().await;
    }
}

/// The variant and what the caller may read of a refusal.
fn refusal(err: ApiError) -> (String, Vec<String>) {
    let variant = match &err {
        ApiError::Invalid(_) => "Invalid",
        ApiError::Forbidden(_) => "Forbidden",
        ApiError::NotFound(_) => "NotFound",
        ApiError::Unauthenticated(_) => "Unauthenticated",
        ApiError::Lifecycle(_) => "Lifecycle",
        ApiError::FailedPrecondition(_) => "FailedPrecondition",
        other => panic!("unexpected refusal {other:?}"),
    };
    let mut said = vec![err.public_message()];
    said.extend(err.violations().into_iter().map(|(field, _)| field));
    (variant.to_owned(), said)
}

// R7.3b through the API: one report is dispatched in-process, another across processes, to
// the same agencies at the same instant; both come out alike (deadlines included), and each
// client reads the other's category directory identically.
async fn local_and_remote_clients_dispatch_alike_r7_3b(h: Harness) {
    let first = accepted_report(&h, &Spec::new("Ổ gà lớn giữa đường", "giao-thong"), "2027-03-05").await;
    let second = accepted_report(&h, &Spec::new("Ổ gà trước chợ", "giao-thong"), "2027-03-05").await;
    h.at("2027-03-05T10:00:00+07:00");
    let local: RoutingClient = h.svc.clone();
    let remote = Remote::serve(&h).await;
    let operator = h.tokens.caller("ioc-1", Role::IocOperator, INSTANCE);

    let here = local.dispatch(&operator, dispatch_to(first.id(), &[AG1, AG2])).await.unwrap();
    let there = remote.client.dispatch(&operator, dispatch_to(second.id(), &[AG1, AG2])).await.unwrap();
    let shape = |r: &v1::DispatchResponse| {
        let report = r.report.as_ref().unwrap();
        let shares: Vec<_> = r
            .assignments
            .iter()
            .map(|a| {
                (a.agency_unit_id.clone(), a.lead, a.status, a.handling_deadline.clone(), a.stage_deadline.clone())
            })
            .collect();
        (report.status, shares)
    };
    assert_eq!(shape(&here), shape(&there));
    assert_eq!(here.report.as_ref().unwrap().status, v1::ReportStatus::Dispatched as i32);

    let reader = h.tokens.caller("officer-1", Role::Officer, AG1);
    let categories = v1::ListCategoriesRequest::default();
    let read_here = local.list_categories(&reader, categories).await.unwrap();
    let read_there = remote.client.list_categories(&reader, categories).await.unwrap();
    assert!(!read_here.categories.is_empty());
    assert_eq!(read_here, read_there, "both clients read the same directory");
    remote.stop().await;
}

// Refusals arrive as the same `ApiError` either way: an operator of another instance is
// Forbidden, a bad report id is Invalid naming `report_id`, dispatching twice is refused by
// the lifecycle; a caller with no token cannot be forwarded. Nothing is changed by them.
async fn refusals_are_the_same_error_either_way(h: Harness) {
    let story = accepted_report(&h, &Spec::new("Cây đổ chắn đường", "giao-thong"), "2027-03-05").await;
    h.at("2027-03-05T10:00:00+07:00");
    let local: RoutingClient = h.svc.clone();
    let remote = Remote::serve(&h).await;

    let stranger = h.tokens.caller("ioc-9", Role::IocOperator, OTHER_INSTANCE);
    let here = refusal(local.dispatch(&stranger, dispatch_to(story.id(), &[AG1])).await.unwrap_err());
    let there = refusal(remote.client.dispatch(&stranger, dispatch_to(story.id(), &[AG1])).await.unwrap_err());
    assert_eq!(here.0, "Forbidden");
    assert_eq!(here, there);

    let operator = h.tokens.caller("ioc-1", Role::IocOperator, INSTANCE);
    let mut bad = dispatch_to(story.id(), &[AG1]);
    bad.report_id = "not-a-report".into();
    let here = refusal(local.dispatch(&operator, bad.clone()).await.unwrap_err());
    let there = refusal(remote.client.dispatch(&operator, bad).await.unwrap_err());
    assert_eq!(here.0, "Invalid");
    assert_eq!(here.1[1..], ["report_id".to_owned()]);
    assert_eq!(here, there);
    assert!(h.outbox().await.is_empty(), "no refusal produced a fact");

    local.dispatch(&operator, dispatch_to(story.id(), &[AG1])).await.unwrap();
    let here = refusal(local.dispatch(&operator, dispatch_to(story.id(), &[AG2])).await.unwrap_err());
    let there = refusal(remote.client.dispatch(&operator, dispatch_to(story.id(), &[AG2])).await.unwrap_err());
    assert_eq!(here.0, "FailedPrecondition", "a lifecycle refusal is a failed precondition: {here:?}");
    assert!(!here.1[0].is_empty(), "naming why: {here:?}");
    assert_eq!(here, there, "the same code and message on both sides");
    assert_eq!(h.outbox().await.len(), 1, "only the one dispatch");

    // A caller known by its identity only works in-process; remotely it is unauthenticated.
    let tokenless = Caller::new(operator.auth().clone());
    let units = v1::ListUnitsRequest::default();
    assert!(local.list_units(&tokenless, units.clone()).await.is_ok());
    let err = remote.client.list_units(&tokenless, units).await.unwrap_err();
    assert_eq!(refusal(err).0, "Unauthenticated");
    remote.stop().await;
}

on_both!(local_and_remote_clients_dispatch_alike_r7_3b, refusals_are_the_same_error_either_way);
