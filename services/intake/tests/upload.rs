//! UploadAttachment over real gRPC, on SQLite and on Postgres: chunks in, an unclaimed attachment
//! out, claimed by exactly one report; every refusal names its field and keeps nothing.

mod common;

use common::{Harness, chunk, fields, header, jpeg, png, upload, upload_of, valid_request};
use paht_domain::actor::Role;
use paht_intake::store;
use paht_proto::v1;
use paht_proto::v1::intake_service_server::IntakeService as _;
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic_types::StatusExt;

const MIB: usize = 1024 * 1024;

/// Nothing of a refused upload is left: no row, no blob, no staging file.
async fn assert_nothing_kept(h: &Harness) {
    assert_eq!(h.count("attachments").await, 0);
    assert_eq!(h.blob_files(), Vec::<std::path::PathBuf>::new());
}

// R6.1b: photos uploaded in several chunks are stored with the type read from their bytes, and
// the report that names their ids shows them.
async fn uploaded_photos_are_attached_to_the_report(h: Harness) {
    let mut client = h.client().await;
    let (png, jpeg) = (png(), jpeg());
    let sum = hex::encode(Sha256::digest(&png));
    let first =
        upload(&h, &mut client, Role::System, upload_of(header("o-ga.png", "image/png", png.len(), &sum), &png, 10))
            .await
            .unwrap();
    assert_eq!(first.kind, v1::AttachmentKind::Image as i32);
    assert_eq!((first.content_type.as_str(), first.size_bytes), ("image/png", png.len() as u64));
    assert_eq!((first.sha256.as_str(), first.file_name.as_str()), (sum.as_str(), "o-ga.png"));
    // Declared as PNG, really a JPEG, and no extension to contradict it: recorded as what the bytes are.
    let second =
        upload(&h, &mut client, Role::Reporter, upload_of(header("o-ga-2", "image/png", jpeg.len(), ""), &jpeg, 50))
            .await
            .unwrap();
    assert_eq!(second.content_type, "image/jpeg");
    assert_eq!(second.sha256, hex::encode(Sha256::digest(&jpeg)));
    assert_eq!((h.count("attachments").await, h.blob_files().len()), (2, 2));

    let mut req = valid_request("with-photos");
    req.attachment_ids = vec![first.id.clone(), second.id.clone()];
    let receipt = h.svc.submit_report(h.system(req)).await.unwrap().into_inner();
    let get = v1::GetReportRequest { report_id: receipt.report_id };
    let report = h.svc.get_report(h.operator(get)).await.unwrap().into_inner().report.unwrap();
    assert_eq!(report.attachments, vec![first, second]);
}

// R6.1b, R19: content that contradicts the header is refused, naming the field; nothing is kept.
async fn text_declared_as_jpeg_is_refused(h: Harness) {
    let mut client = h.client().await;
    let text = "Xin chào, đây là một tệp văn bản chứ không phải ảnh.\n".repeat(100).into_bytes();
    let status =
        upload(&h, &mut client, Role::System, upload_of(header("anh.jpg", "image/jpeg", text.len(), ""), &text, 1000))
            .await
            .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(fields(&status), ["header.content_type"]);
    // A PDF declared as a photo: an accepted format, but not the declared kind.
    let pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec();
    let status =
        upload(&h, &mut client, Role::System, upload_of(header("a.jpg", "image/jpeg", pdf.len(), ""), &pdf, 16))
            .await
            .unwrap_err();
    assert_eq!(fields(&status), ["header.content_type"]);
    // A JPEG named .png: stored bytes are checked like a report's attachment, and removed again.
    let jpeg = jpeg();
    let status =
        upload(&h, &mut client, Role::System, upload_of(header("b.png", "image/png", jpeg.len(), ""), &jpeg, 16))
            .await
            .unwrap_err();
    assert_eq!(fields(&status), ["header.file_name"]);
    assert_nothing_kept(&h).await;
}

// R19: an upload over the limit of its kind, or longer than declared, is refused; nothing is kept.
async fn oversize_uploads_are_refused(h: Harness) {
    let mut client = h.client().await;
    let png = png();
    // Declared above the 10 MiB photo limit: refused before any byte is read.
    let status =
        upload(&h, &mut client, Role::System, upload_of(header("lon.png", "image/png", 11 * MIB, ""), &png, 10))
            .await
            .unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["header.size_bytes".to_owned()]));
    let details = status.get_error_details();
    let why = &details.bad_request().unwrap().field_violations[0].description;
    assert!(why.contains("10.0 MiB"), "names the limit: {why}");
    // More bytes than declared.
    let status = upload(&h, &mut client, Role::System, upload_of(header("x.png", "image/png", 20, ""), &png, 10))
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["header.size_bytes"]);
    assert_nothing_kept(&h).await;
}

// R6.1b: an attachment belongs to one report; a second report cannot claim it, nor can one
// report list it twice.
async fn an_attachment_is_claimed_by_one_report_only(h: Harness) {
    let mut client = h.client().await;
    let png = png();
    let photo = || upload_of(header("a.png", "image/png", png.len(), ""), &png, 30);
    let id = upload(&h, &mut client, Role::System, photo()).await.unwrap().id;
    let mut first = valid_request("first");
    first.attachment_ids = vec![id.clone()];
    h.svc.submit_report(h.system(first)).await.unwrap();
    let mut second = valid_request("second");
    second.attachment_ids = vec![id.clone()];
    let status = h.svc.submit_report(h.system(second)).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["attachment_ids[0]".to_owned()]));
    assert_eq!((h.count("reports").await, h.outbox_keys().await.len()), (1, 1));

    let other = upload(&h, &mut client, Role::System, photo()).await.unwrap().id;
    let mut twice = valid_request("twice");
    twice.attachment_ids = vec![other.clone(), other.clone()];
    let status = h.svc.submit_report(h.system(twice)).await.unwrap_err();
    assert_eq!(fields(&status), ["attachment_ids[1]"]);
    let mut once = valid_request("once");
    once.attachment_ids = vec![other];
    h.svc.submit_report(h.system(once)).await.expect("the refused report claimed nothing");
    assert_eq!(h.count("reports").await, 2);

    // Two submissions racing for one attachment: exactly one gets it, the other stores nothing.
    let contested = upload(&h, &mut client, Role::System, photo()).await.unwrap().id;
    let racer = |key: &str| {
        let mut request = valid_request(key);
        request.attachment_ids = vec![contested.clone()];
        h.svc.submit_report(h.system(request))
    };
    let (a, b) = tokio::join!(racer("race-a"), racer("race-b"));
    let refused = match (a, b) {
        (Ok(_), Err(refused)) | (Err(refused), Ok(_)) => refused,
        other => panic!("exactly one submission must win: {other:?}"),
    };
    assert_eq!(fields(&refused), ["attachment_ids[0]"]);
    assert_eq!((h.count("reports").await, h.outbox_keys().await.len()), (3, 3));
    // The guard when both passed the first look: linking an attachment a report holds links nothing.
    let txn = h.db.begin_write().await.unwrap();
    let ids = [contested.parse().unwrap()];
    assert_eq!(store::link_attachments(&txn, &ids, uuid::Uuid::now_v7(), "tester").await.unwrap(), 0);
}

// Issue 10: an upload is claimed only by the caller who uploaded it — another relay account that
// learns its id cannot attach it — and an upload no report claimed is removed, row and bytes,
// once the configured time has passed; a claimed one stays with its report.
async fn an_upload_is_claimed_only_by_its_uploader_and_swept_when_unclaimed(h: Harness) {
    let mut client = h.client().await;
    let png = png();
    let photo = || upload_of(header("a.png", "image/png", png.len(), ""), &png, 30);
    let mine = upload(&h, &mut client, Role::System, photo()).await.unwrap().id;
    let mut theirs = valid_request("theirs");
    theirs.attachment_ids = vec![mine.clone()];
    let status = h.svc.submit_report(h.as_subject("another-relay", Role::System, theirs)).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["attachment_ids[0]".to_owned()]));
    assert_eq!((h.count("reports").await, h.outbox_keys().await.len()), (0, 0));
    let mut own = valid_request("own");
    own.attachment_ids = vec![mine.clone()];
    let receipt = h.svc.submit_report(h.system(own)).await.expect("the uploader claims it").into_inner();

    let left = upload(&h, &mut client, Role::System, photo()).await.unwrap().id;
    assert_eq!((h.count("attachments").await, h.blob_files().len()), (2, 2));
    let now = chrono::Utc::now();
    assert_eq!(h.svc.sweep_unclaimed_uploads(now).await.unwrap(), 0, "too young to sweep");
    let ttl = paht_intake::UploadsConfig::default().unclaimed_ttl_secs;
    let later = now + chrono::TimeDelta::seconds(ttl as i64 + 60);
    assert_eq!(h.svc.sweep_unclaimed_uploads(later).await.unwrap(), 1);
    assert_eq!(h.svc.sweep_unclaimed_uploads(later).await.unwrap(), 0, "a second sweep finds nothing");
    assert_eq!((h.count("attachments").await, h.blob_files().len()), (1, 1));
    let get = v1::GetReportRequest { report_id: receipt.report_id };
    let report = h.svc.get_report(h.operator(get)).await.unwrap().into_inner().report.unwrap();
    assert_eq!(report.attachments.iter().map(|a| a.id.clone()).collect::<Vec<_>>(), [mine]);
    let mut late = valid_request("late");
    late.attachment_ids = vec![left];
    let status = h.svc.submit_report(h.system(late)).await.unwrap_err();
    assert_eq!(fields(&status), ["attachment_ids[0]"], "a swept upload is gone");
}

// The upload protocol: the header first and once, then chunks of at most 1 MiB matching the
// declared checksum; each mistake names its field and keeps nothing.
async fn protocol_mistakes_name_their_field(h: Harness) {
    let mut client = h.client().await;
    let png = png();
    let head = || header("a.png", "image/png", png.len(), "");
    let mut big = png.clone();
    big.resize(MIB + 1, 0);
    let wrong_sum = hex::encode(Sha256::digest(b"other bytes"));
    let cases: Vec<(Vec<v1::UploadAttachmentRequest>, &str)> = vec![
        (vec![], "header"),
        (vec![chunk(&png)], "header"),
        (vec![head(), head(), chunk(&png)], "header"),
        (vec![head(), chunk(&png[..10]), head(), chunk(&png[10..])], "header"),
        (vec![head()], "chunk"),
        (vec![v1::UploadAttachmentRequest { part: None }], "part"),
        (vec![head(), v1::UploadAttachmentRequest { part: None }], "part"),
        (vec![header("a.png", "image/png", big.len(), ""), chunk(&big)], "chunk"),
        (upload_of(header("a.png", "image/png", png.len(), &wrong_sum), &png, 20), "header.sha256"),
        (upload_of(header("a.png", "image/png", png.len(), "abc"), &png, 20), "header.sha256"),
        (upload_of(header(" ", "image/png", png.len(), ""), &png, 20), "header.file_name"),
        (upload_of(header("a.exe", "application/x-msdownload", png.len(), ""), &png, 20), "header.content_type"),
    ];
    for (i, (messages, field)) in cases.into_iter().enumerate() {
        let status = upload(&h, &mut client, Role::System, messages).await.unwrap_err();
        assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec![field.to_owned()]), "case {i}");
    }
    assert_nothing_kept(&h).await;
}

// Only the roles that submit reports upload; without a token, nothing.
async fn only_submitters_upload(h: Harness) {
    let mut client = h.client().await;
    let png = png();
    let photo = || upload_of(header("a.png", "image/png", png.len(), ""), &png, 30);
    let status = upload(&h, &mut client, Role::Inspector, photo()).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = client.upload_attachment(futures::stream::iter(photo())).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_nothing_kept(&h).await;
    for role in [Role::System, Role::Reporter, Role::IocOperator] {
        upload(&h, &mut client, role, photo()).await.unwrap();
    }
    assert_eq!(h.count("attachments").await, 3);
}

on_both!(
    uploaded_photos_are_attached_to_the_report,
    text_declared_as_jpeg_is_refused,
    oversize_uploads_are_refused,
    an_attachment_is_claimed_by_one_report_only,
    an_upload_is_claimed_only_by_its_uploader_and_swept_when_unclaimed,
    protocol_mistakes_name_their_field,
    only_submitters_upload,
);
