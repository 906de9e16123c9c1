//! Intake's API trait through both clients: the service itself in-process, and
//! `IntakeGrpcClient` against a real gRPC server behind the authentication guard with the
//! public lookup anonymous (as the runtime mounts it). Same results, same refusals; the
//! client-streaming upload and the anonymous lookup included; on Postgres and SQLite.

mod common;

use std::sync::Arc;

use common::{Harness, INSTANCE, PHONE, header, jpeg, png, upload_of, valid_request};
use futures::StreamExt;
use paht_domain::actor::Role;
use paht_intake::{ANONYMOUS, IntakeClient, IntakeGrpcClient, UploadStream};
use paht_platform::auth::AuthGuard;
use paht_platform::error::ApiError;
use paht_proto::v1;
use paht_proto::v1::intake_service_server::IntakeServiceServer;
use paht_testing::Served;

/// The service under test served on 127.0.0.1:0 behind `AuthGuard`, and a remote client of it.
struct Remote {
    client: IntakeClient,
    served: Served,
}

impl Remote {
    async fn serve(h: &Harness) -> Remote {
        let guarded = AuthGuard::new(IntakeServiceServer::from_arc(Arc::clone(&h.svc)), h.authenticator())
            .allow_anonymous(ANONYMOUS);
        let served = Served::start(guarded);
        let client = IntakeGrpcClient::connect(served.uri().to_owned()).await.expect("connected");
        Remote { client: Arc::new(client), served }
    }

    async fn stop(self) {
        drop(self.client);
        self.served.stop().await;
    }
}

fn stream(messages: Vec<v1::UploadAttachmentRequest>) -> UploadStream {
    futures::stream::iter(messages.into_iter().map(Ok)).boxed()
}

// R6.1, R7.3b, R3.2 through the API: a channel submits one report in-process and one across
// processes, each with a photo uploaded through the same client; both read back alike, an
// operator accepts each through the other client, and the anonymous lookup by tracking code
// answers the same either way — without the reporter's phone.
async fn local_and_remote_clients_agree_r6_1_r3_2(h: Harness) {
    let local: IntakeClient = h.svc.clone();
    let remote = Remote::serve(&h).await;
    let channel = h.caller("zalo-relay", Role::System, INSTANCE);
    let operator = h.caller("ioc-1", Role::IocOperator, INSTANCE);
    let (png, jpeg) = (png(), jpeg());

    let mut receipts = Vec::new();
    for (client, key, bytes, name) in
        [(&local, "api-local", &png, "o-ga.png"), (&remote.client, "api-remote", &jpeg, "o-ga.jpg")]
    {
        let kind = if name.ends_with(".png") { "image/png" } else { "image/jpeg" };
        let uploaded = client
            .upload_attachment(&channel, stream(upload_of(header(name, kind, bytes.len(), ""), bytes, 64)))
            .await
            .unwrap()
            .attachment
            .unwrap();
        assert_eq!((uploaded.content_type.as_str(), uploaded.size_bytes), (kind, bytes.len() as u64));
        let mut req = valid_request(key);
        req.attachment_ids = vec![uploaded.id.clone()];
        receipts.push(client.submit_report(&channel, req).await.unwrap());
    }
    let get = |id: &str| v1::GetReportRequest { report_id: id.to_owned() };
    for receipt in &receipts {
        let here = local.get_report(&operator, get(&receipt.report_id)).await.unwrap();
        let there = remote.client.get_report(&operator, get(&receipt.report_id)).await.unwrap();
        assert_eq!(here, there, "both clients read the same report");
        assert_eq!(here.report.unwrap().attachments.len(), 1);
    }
    let accept = |id: &str| v1::AcceptReportRequest { report_id: id.to_owned(), category_id: String::new() };
    let first = remote.client.accept_report(&operator, accept(&receipts[0].report_id)).await.unwrap();
    let second = local.accept_report(&operator, accept(&receipts[1].report_id)).await.unwrap();
    for accepted in [&first, &second] {
        assert_eq!(accepted.report.as_ref().unwrap().status, v1::ReportStatus::Accepted as i32);
    }

    for receipt in &receipts {
        let lookup = v1::GetReportByTrackingCodeRequest { tracking_code: receipt.tracking_code.clone() };
        let here = local.get_report_by_tracking_code(lookup.clone()).await.unwrap();
        let there = remote.client.get_report_by_tracking_code(lookup).await.unwrap();
        assert_eq!(here, there, "the public lookup is the same either way, and needs no token");
        assert!(!format!("{here:?}").contains(PHONE), "the public view carries no phone number");
    }
    remote.stop().await;
}

// Refusals arrive as the same `ApiError` either way: a bad report id is Invalid naming
// `report_id`, an unknown (well-formed) tracking code is NotFound, a reporter may not accept; an upload whose
// caller's own stream breaks off gives the caller its own error back, and leaves nothing.
async fn refusals_are_the_same_error_either_way(h: Harness) {
    let local: IntakeClient = h.svc.clone();
    let remote = Remote::serve(&h).await;
    let operator = h.caller("ioc-1", Role::IocOperator, INSTANCE);

    let bad = v1::AcceptReportRequest { report_id: "nope".into(), category_id: String::new() };
    let here = local.accept_report(&operator, bad.clone()).await.unwrap_err();
    let there = remote.client.accept_report(&operator, bad.clone()).await.unwrap_err();
    assert!(matches!(here, ApiError::Invalid(_)), "{here:?}");
    assert_eq!(here.violations(), there.violations());
    assert_eq!(here.violations()[0].0, "report_id");

    let reporter = h.caller("citizen-1", Role::Reporter, INSTANCE);
    let here = local.accept_report(&reporter, bad.clone()).await.unwrap_err();
    let there = remote.client.accept_report(&reporter, bad).await.unwrap_err();
    assert!(matches!((&here, &there), (ApiError::Forbidden(_), ApiError::Forbidden(_))), "{here:?} / {there:?}");

    let unknown = v1::GetReportByTrackingCodeRequest {
        tracking_code: paht_domain::tracking::TrackingCode::from_random(0x5eed_0c0d).to_string(),
    };
    let here = local.get_report_by_tracking_code(unknown.clone()).await.unwrap_err();
    let there = remote.client.get_report_by_tracking_code(unknown).await.unwrap_err();
    assert!(matches!((&here, &there), (ApiError::NotFound(_), ApiError::NotFound(_))), "{here:?} / {there:?}");

    // The caller's side breaks off after the header and a first chunk.
    let png = png();
    let channel = h.caller("zalo-relay", Role::System, INSTANCE);
    let broken = || {
        let messages = vec![Ok(header("o-ga.png", "image/png", png.len(), "")), Ok(common::chunk(&png[..16]))];
        futures::stream::iter(messages)
            .chain(futures::stream::once(async {
                Err(ApiError::FailedPrecondition("the citizen's upload broke off".into()))
            }))
            .boxed()
    };
    let here = local.upload_attachment(&channel, broken()).await.unwrap_err();
    let there = remote.client.upload_attachment(&channel, broken()).await.unwrap_err();
    assert_eq!(there.public_message(), "the citizen's upload broke off", "the caller's own error: {there:?}");
    assert!(matches!(here, ApiError::Invalid(_)), "in-process the upload is refused as interrupted: {here:?}");
    assert_eq!(h.count("attachments").await, 0, "nothing was kept of either upload");
    assert!(h.outbox_keys().await.is_empty());
    remote.stop().await;
}

on_both!(local_and_remote_clients_agree_r6_1_r3_2, refusals_are_the_same_error_either_way);
