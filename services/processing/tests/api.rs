//! Processing's API trait through both clients: the service itself in-process, and
//! `ProcessingGrpcClient` against a real gRPC server behind the authentication guard (as the
//! runtime mounts it). Both give the same results and the same refusals; on Postgres and SQLite.

mod common;

use std::sync::Arc;

use common::{AG1, AG2, Harness, INSTANCE, dispatched_report};
use paht_domain::actor::Role;
use paht_domain::ids::AssignmentId;
use paht_platform::auth::{AuthGuard, Caller};
use paht_platform::error::ApiError;
use paht_processing::{ProcessingClient, ProcessingGrpcClient};
use paht_proto::v1;
use paht_proto::v1::processing_service_server::ProcessingServiceServer;
use paht_testing::Served;

/// The service under test served on 127.0.0.1:0 behind `AuthGuard`, and a remote client of it.
struct Remote {
    client: ProcessingClient,
    served: Served,
}

impl Remote {
    async fn serve(h: &Harness) -> Remote {
        let served = Served::start(AuthGuard::new(
            ProcessingServiceServer::from_arc(Arc::clone(&h.svc)),
            h.tokens.authenticator(),
        ));
        let client = ProcessingGrpcClient::connect(served.uri().to_owned()).await.expect("connected");
        Remote { client: Arc::new(client), served }
    }

    async fn stop(self) {
        drop(self.client);
        self.served.stop().await;
    }
}

fn return_req(id: &str, reason: &str) -> v1::ReturnAssignmentRequest {
    v1::ReturnAssignmentRequest { assignment_id: id.into(), reason: reason.into() }
}

fn get_req(id: AssignmentId) -> v1::GetAssignmentRequest {
    v1::GetAssignmentRequest { assignment_id: id.to_string() }
}

/// The variant and what the caller may read of a refusal.
fn refusal(err: ApiError) -> (String, Vec<String>) {
    let variant = match &err {
        ApiError::Invalid(_) => "Invalid",
        ApiError::Forbidden(_) => "Forbidden",
        ApiError::NotFound(_) => "NotFound",
        ApiError::Unauthenticated(_) => "Unauthenticated",
        other => panic!("unexpected refusal {other:?}"),
    };
    let mut said = vec![err.public_message()];
    said.extend(err.violations().into_iter().map(|(field, _)| field));
    (variant.to_owned(), said)
}

// R8.2b through the API: an officer returns an assignment in-process and another across
// processes; each client reads back what the other did, identically.
async fn local_and_remote_clients_agree_r8_2b(h: Harness) {
    let (_, first) = dispatched_report(&h, "Cột điện nghiêng", "2027-03-08", &[AG1]).await;
    let (_, second) = dispatched_report(&h, "Đèn đường hỏng", "2027-03-08", &[AG1]).await;
    h.at("2027-03-08T10:00:00+07:00");
    let local: ProcessingClient = h.svc.clone();
    let remote = Remote::serve(&h).await;
    let officer = h.tokens.caller("officer-1", Role::Officer, AG1);
    let reason = "Thuộc thẩm quyền của Điện lực";

    let here = local.return_assignment(&officer, return_req(&first[0].to_string(), reason)).await.unwrap();
    let there = remote.client.return_assignment(&officer, return_req(&second[0].to_string(), reason)).await.unwrap();
    for out in [&here, &there] {
        let a = out.assignment.as_ref().unwrap();
        assert_eq!(a.status, v1::AssignmentStatus::Returned as i32);
        assert_eq!(a.return_reason, reason);
    }

    let ioc = h.tokens.caller("ioc-1", Role::IocOperator, INSTANCE);
    for id in [first[0], second[0]] {
        let read_here = local.get_assignment(&ioc, get_req(id)).await.unwrap();
        let read_there = remote.client.get_assignment(&ioc, get_req(id)).await.unwrap();
        assert_eq!(read_here, read_there, "both clients read the same assignment");
    }
    assert_eq!(local.get_assignment(&ioc, get_req(second[0])).await.unwrap().assignment, there.assignment);
    assert_eq!(remote.client.get_assignment(&ioc, get_req(first[0])).await.unwrap().assignment, here.assignment);
    remote.stop().await;
}

// Refusals arrive as the same `ApiError` either way: another agency's officer is Forbidden, a
// bad id is Invalid naming `assignment_id`; a caller with no token cannot be forwarded.
async fn refusals_are_the_same_error_either_way(h: Harness) {
    let (_, a) = dispatched_report(&h, "Cột điện nghiêng", "2027-03-08", &[AG1]).await;
    let local: ProcessingClient = h.svc.clone();
    let remote = Remote::serve(&h).await;
    let stranger = h.tokens.caller("officer-2", Role::Officer, AG2);

    let here = refusal(local.get_assignment(&stranger, get_req(a[0])).await.unwrap_err());
    let there = refusal(remote.client.get_assignment(&stranger, get_req(a[0])).await.unwrap_err());
    assert_eq!(here.0, "Forbidden");
    assert_eq!(here, there);

    let officer = h.tokens.caller("officer-1", Role::Officer, AG1);
    let here = refusal(local.return_assignment(&officer, return_req("nope", "r")).await.unwrap_err());
    let there = refusal(remote.client.return_assignment(&officer, return_req("nope", "r")).await.unwrap_err());
    assert_eq!(here.0, "Invalid");
    assert_eq!(here.1[1..], ["assignment_id".to_owned()]);
    assert_eq!(here, there);

    // Nothing was changed by the refusals.
    let ioc = h.tokens.caller("ioc-1", Role::IocOperator, INSTANCE);
    let read = local.get_assignment(&ioc, get_req(a[0])).await.unwrap();
    assert_eq!(read.assignment.unwrap().status, v1::AssignmentStatus::Assigned as i32);

    // A caller known by its identity only works in-process; remotely it is unauthenticated.
    let tokenless = Caller::new(ioc.auth().clone());
    assert!(local.get_assignment(&tokenless, get_req(a[0])).await.is_ok());
    let err = remote.client.get_assignment(&tokenless, get_req(a[0])).await.unwrap_err();
    assert_eq!(refusal(err).0, "Unauthenticated");
    remote.stop().await;
}

on_both!(local_and_remote_clients_agree_r8_2b, refusals_are_the_same_error_either_way);
