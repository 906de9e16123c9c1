//! The abuse limits (R19, R21.2) on submissions and uploads, on SQLite and on Postgres, with
//! [`common::TEST_LIMITS`]: 2 reports per sender, 3 per address, 2 uploads per address, per hour.

mod common;

use std::time::Duration;

use common::{Harness, INSTANCE, fields, header, header_from, png, upload, upload_of, valid_request};
use paht_domain::actor::Role;
use paht_proto::v1;
use paht_proto::v1::intake_service_server::IntakeService as _;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// A submission relayed by a channel adapter for `sender` at `address`.
fn relayed(key: &str, sender: &str, address: &str) -> v1::SubmitReportRequest {
    let mut request = valid_request(key);
    request.origin = Some(v1::ChannelOrigin { sender_id: sender.into(), client_address: address.into() });
    request
}

async fn submit(h: &Harness, request: v1::SubmitReportRequest) -> Result<v1::SubmitReportResponse, Status> {
    Ok(h.svc.submit_report(h.system(request)).await?.into_inner())
}

/// RESOURCE_EXHAUSTED by the limit `scope`, with a retry delay within the window and no
/// personal data in the message.
fn assert_limited(status: &Status, scope: &str) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let details = status.get_error_details();
    let delay = details.retry_info().expect("a RetryInfo detail").retry_delay.expect("a retry delay");
    assert!(delay > Duration::ZERO && delay <= Duration::from_secs(3600), "{delay:?}");
    assert_eq!(details.quota_failure().expect("a QuotaFailure detail").violations[0].subject, scope);
    for personal in ["zalo-", "fb-", "2001:db8", "127.0.0.1", "citizen-"] {
        assert!(!status.message().contains(personal), "{}", status.message());
    }
}

// R19, R21.2: a sender gets 2 reports an hour; the third is refused with RESOURCE_EXHAUSTED and a
// retry delay and stores nothing; another sender still passes; the retry of an accepted report
// still gets its receipt and costs nothing.
async fn third_report_of_a_sender_is_refused(h: Harness) {
    let first = submit(&h, relayed("s1", "zalo-1", "198.51.100.1")).await.unwrap();
    submit(&h, relayed("s2", "zalo-1", "198.51.100.2")).await.unwrap();
    let status = submit(&h, relayed("s3", "zalo-1", "198.51.100.3")).await.unwrap_err();
    assert_limited(&status, "per_sender");
    assert_eq!((h.count("reports").await, h.count("reporters").await, h.count("outbox").await), (2, 2, 2));
    let retry = submit(&h, relayed("s1", "zalo-1", "198.51.100.1")).await.expect("a retry is not limited");
    assert_eq!((retry.report_id, retry.tracking_code), (first.report_id, first.tracking_code));
    submit(&h, relayed("s4", "zalo-2", "198.51.100.4")).await.expect("another sender passes");
    assert_eq!(h.count("reports").await, 3);
}

// R19, R21.2: an address gets 3 reports an hour whoever sends them; one IPv6 subscriber (a /64)
// is one address; another address still passes.
async fn fourth_report_from_an_address_is_refused(h: Harness) {
    for i in 1..=3 {
        submit(&h, relayed(&format!("a{i}"), &format!("fb-{i}"), &format!("2001:db8:7:1::{i}"))).await.unwrap();
    }
    let status = submit(&h, relayed("a4", "fb-4", "2001:db8:7:1:ffff::99")).await.unwrap_err();
    assert_limited(&status, "per_address");
    assert_eq!((h.count("reports").await, h.count("outbox").await), (3, 3));
    submit(&h, relayed("a5", "fb-5", "2001:db8:7:2::1")).await.expect("another address passes");
}

// R19, R21.2: without an origin, the caller's account is the sender and the gRPC peer the
// address; a reporter may not name another origin.
async fn without_origin_the_account_and_the_peer_count(h: Harness) {
    let mut client = h.client().await;
    let mut send = async |subject: &str, key: &str| {
        let request = h.with_token(subject, Role::Reporter, INSTANCE, valid_request(key));
        client.submit_report(request).await.map(|r| r.into_inner())
    };
    send("citizen-a", "k1").await.unwrap();
    send("citizen-a", "k2").await.unwrap();
    assert_limited(&send("citizen-a", "k3").await.unwrap_err(), "per_sender");
    // Another account from the same connection: the address has room for one more report.
    send("citizen-b", "k4").await.unwrap();
    assert_limited(&send("citizen-b", "k5").await.unwrap_err(), "per_address");
    assert_eq!(h.count("reports").await, 3);

    let mut disguised = valid_request("k6");
    disguised.origin = Some(v1::ChannelOrigin { sender_id: "someone-else".into(), client_address: String::new() });
    let status = h.svc.submit_report(h.as_subject("citizen-c", Role::Reporter, disguised)).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["origin".to_owned()]));
    assert_eq!(h.count("reports").await, 3);
}

// R19, R21.2: uploads count per address: the third from one address is refused before its bytes
// are stored; an upload relayed for another address still passes.
async fn third_upload_from_an_address_is_refused(h: Harness) {
    let mut client = h.client().await;
    let png = png();
    let photo = || upload_of(header("a.png", "image/png", png.len(), ""), &png, 30);
    upload(&h, &mut client, Role::System, photo()).await.unwrap();
    upload(&h, &mut client, Role::System, photo()).await.unwrap();
    let status = upload(&h, &mut client, Role::System, photo()).await.unwrap_err();
    assert_limited(&status, "uploads_per_address");
    assert_eq!((h.count("attachments").await, h.blob_files().len()), (2, 2));
    let origin = v1::ChannelOrigin { sender_id: "zalo-9".into(), client_address: "203.0.113.9".into() };
    let relayed = upload_of(header_from("a.png", "image/png", png.len(), "", Some(origin)), &png, 30);
    upload(&h, &mut client, Role::System, relayed).await.expect("another address passes");
    assert_eq!(h.count("attachments").await, 3);
}

on_both!(
    limits = crate::common::TEST_LIMITS;
    third_report_of_a_sender_is_refused,
    fourth_report_from_an_address_is_refused,
    without_origin_the_account_and_the_peer_count,
    third_upload_from_an_address_is_refused,
);
