//! Suggestions and links: agencies by the routing rules (R4.3, R7.3b), earlier duplicates by the
//! domain's Vietnamese-aware fingerprints (R8.2c), and LinkDuplicate with its event.

mod common;

use common::*;
use paht_domain::actor::Role;
use paht_domain::lifecycle::Command;
use paht_proto::v1;
use paht_proto::v1::event_envelope::Payload;
use paht_proto::v1::routing_service_server::RoutingService as _;
use tonic::Code;

/// Where the query report happened, in phường Phú Khương.
const HERE: (f64, f64) = (10.2415, 106.3759);
const POTHOLE: &str = "Đường Nguyễn Đình Chiểu trước nhà số 45 có ổ gà lớn, xe máy té ngã nhiều lần";
const POTHOLE_RETOLD: &str = "Ổ gà lớn trên đường Nguyễn Đình Chiểu trước số nhà 45, nhiều xe máy bị té ngã";
const RUBBISH: &str = "Rác thải sinh hoạt đổ bừa bãi trên vỉa hè đường Nguyễn Đình Chiểu";

fn near(metres_north: f64) -> (f64, f64) {
    (HERE.0 + metres_north / 111_200.0, HERE.1)
}

fn spec(content: &str, at: Option<(f64, f64)>) -> Spec {
    let spec = Spec::new(content, "giao-thong").in_unit(WARD_CODE);
    match at {
        Some((lat, lon)) => spec.at(lat, lon),
        None => spec,
    }
}

// R7.3b, R4.3: the ward where the event happened, then the department and the police, with
// scores between 0 and 1 and reasons; agencies that already had the report are left out.
async fn agencies_are_suggested_by_category_and_place_r7_3b(h: Harness) {
    let story = accepted_report(&h, &spec(POTHOLE, Some(HERE)), "2027-03-05").await;
    let request = v1::SuggestAgenciesRequest { report_id: story.id().to_string(), limit: 0 };
    let suggestions = h.svc.suggest_agencies(h.ioc(request.clone())).await.unwrap().into_inner().suggestions;
    let ids: Vec<&str> = suggestions.iter().map(|s| s.unit.as_ref().unwrap().id.as_str()).collect();
    assert_eq!(ids, vec![WARD, AG1, "CA-86"]);
    assert_eq!(suggestions[0].score, 0.8);
    assert!(suggestions[0].reason.contains("Phú Khương"), "{}", suggestions[0].reason);
    assert_eq!(suggestions[0].unit.as_ref().unwrap().kind, v1::UnitKind::Commune as i32, "a ward is commune level");
    assert!(suggestions.windows(2).all(|w| w[0].score >= w[1].score));
    // The provincial office may ask too; the limit is kept.
    let one = v1::SuggestAgenciesRequest { report_id: story.id().to_string(), limit: 1 };
    assert_eq!(h.svc.suggest_agencies(h.office(one)).await.unwrap().into_inner().suggestions.len(), 1);

    h.svc.dispatch(h.ioc(dispatch_to(story.id(), &[WARD]))).await.unwrap();
    let suggestions = h.svc.suggest_agencies(h.ioc(request)).await.unwrap().into_inner().suggestions;
    assert!(suggestions.iter().all(|s| s.unit.as_ref().unwrap().id != WARD), "already at work on it");

    // A report without a category gets no suggestion, and says why.
    let story = accepted_report(&h, &Spec::new("Nội dung chưa phân loại", ""), "2027-03-05").await;
    let request = v1::SuggestAgenciesRequest { report_id: story.id().to_string(), limit: 0 };
    let status = h.svc.suggest_agencies(h.ioc(request)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
}

// R8.2c: earlier reports of the window that say the same near the place are suggested, best
// first, with their tracking code and a reason; later, older than the look-back (30 days), far
// away, refused or different ones are not. The operator links one; the link is recorded and
// `report.linked_as_duplicate` goes out with the earlier tracking code.
async fn duplicates_are_suggested_and_linked_r8_2c(h: Harness) {
    let retold = accepted_report(&h, &spec(POTHOLE_RETOLD, Some(near(100.0))), "2027-03-01").await;
    let rubbish = accepted_report(&h, &spec(RUBBISH, Some(near(20.0))), "2027-03-02").await;
    let far = accepted_report(&h, &spec(POTHOLE, Some(near(5_000.0))), "2027-03-03").await;
    let old = accepted_report(&h, &spec(POTHOLE, Some(near(10.0))), "2027-01-20").await;
    let unplaced = accepted_report(&h, &spec(POTHOLE, None), "2027-03-04").await;
    let (mut refused, received) = Story::received(&h, &spec(POTHOLE, Some(near(5.0))), "2027-03-04T09:00:00+07:00");
    let refusal =
        refused.step(&ioc_actor(), Command::Refuse { reason: "Thiếu thông tin".into() }, "2027-03-04T09:10:00+07:00");
    h.deliver_all(&[received, refusal.into_iter().next().unwrap()]).await;
    let query = accepted_report(&h, &spec(POTHOLE, Some(HERE)), "2027-03-05").await;
    let later = accepted_report(&h, &spec(POTHOLE, Some(near(30.0))), "2027-03-06").await;

    let request = v1::SuggestDuplicatesRequest { report_id: query.id().to_string(), limit: 0 };
    let candidates = h.svc.suggest_duplicates(h.ioc(request)).await.unwrap().into_inner().candidates;
    let ids: Vec<String> = candidates.iter().map(|c| c.report_id.clone()).collect();
    let mut found = ids.clone();
    found.sort();
    let mut expected = vec![retold.id().to_string(), unplaced.id().to_string()];
    expected.sort();
    assert_eq!(found, expected, "only the retelling nearby and the same text without a place");
    for excluded in [&rubbish, &far, &old, &refused, &later] {
        assert!(!ids.contains(&excluded.id().to_string()));
    }
    assert!(candidates.windows(2).all(|w| w[0].score >= w[1].score), "best first");
    let best = candidates.iter().find(|c| c.report_id == retold.id().to_string()).unwrap();
    assert!(best.score > 0.5 && best.score <= 1.0, "{}", best.score);
    assert!(best.reason.contains("m") && best.reason.contains('%'), "{}", best.reason);
    assert_eq!(best.tracking_code, h.case(retold.id()).await.tracking_code);
    assert_eq!(best.status, v1::ReportStatus::Accepted as i32);
    let unplaced_candidate = candidates.iter().find(|c| c.report_id == unplaced.id().to_string()).unwrap();
    assert!(unplaced_candidate.reason.contains("tọa độ"), "{}", unplaced_candidate.reason);
    let one = v1::SuggestDuplicatesRequest { report_id: query.id().to_string(), limit: 1 };
    assert_eq!(h.svc.suggest_duplicates(h.ioc(one)).await.unwrap().into_inner().candidates.len(), 1);

    // Link the query to the retelling.
    let link = v1::LinkDuplicateRequest { report_id: query.id().to_string(), duplicate_of: retold.id().to_string() };
    let report = h.svc.link_duplicate(h.ioc(link.clone())).await.unwrap().into_inner().report.unwrap();
    assert_eq!(report.duplicate_of, retold.id().to_string());
    assert_eq!(h.case(query.id()).await.duplicate_of, Some(retold.id().0));
    let outbox = h.outbox().await;
    assert_eq!(outbox.len(), 1);
    let (key, envelope) = &outbox[0];
    assert_eq!(key, "report.linked_as_duplicate");
    assert_eq!(envelope.report_id, query.id().to_string());
    assert_eq!(envelope.instance_id, INSTANCE);
    assert!(uuid::Uuid::parse_str(&envelope.event_id).is_ok());
    assert_eq!(envelope.actor.as_ref().unwrap().role, v1::Role::IocOperator as i32);
    let Some(Payload::ReportLinkedAsDuplicate(linked)) = &envelope.payload else { panic!("{envelope:?}") };
    assert_eq!(linked.duplicate_of, retold.id().to_string());
    assert_eq!(linked.duplicate_of_tracking_code, h.case(retold.id()).await.tracking_code);
    // The link does not touch the lifecycle: the replica is still accepted.
    assert_eq!(h.replica(query.id()).await.version, 2);

    // Linking again to the same report succeeds and emits nothing more (idempotent).
    let again = h.svc.link_duplicate(h.ioc(link)).await.unwrap().into_inner().report.unwrap();
    assert_eq!(again.duplicate_of, retold.id().to_string());
    assert_eq!(h.outbox_keys().await.len(), 1);

    let before = h.snapshot(&[query.id(), later.id()]).await;
    let refuse = |report: &Story, duplicate_of: String| v1::LinkDuplicateRequest {
        report_id: report.id().to_string(),
        duplicate_of,
    };
    // Already linked to another report.
    let status = h.svc.link_duplicate(h.ioc(refuse(&query, unplaced.id().to_string()))).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    // The earlier report must be older, not itself, known, not refused, and the original case.
    for (report, duplicate_of) in [
        (&query, later.id().to_string()),
        (&query, query.id().to_string()),
        (&query, uuid::Uuid::now_v7().to_string()),
        (&query, "not-a-uuid".to_owned()),
        (&later, refused.id().to_string()),
        (&later, query.id().to_string()),
    ] {
        let status = h.svc.link_duplicate(h.ioc(refuse(report, duplicate_of.clone()))).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{duplicate_of}: {status:?}");
        assert_eq!(fields(&status), vec!["duplicate_of"]);
    }
    // Only an operator of the report's instance links.
    let status = h
        .svc
        .link_duplicate(h.as_role(Role::IocOperator, OTHER_INSTANCE, refuse(&later, retold.id().to_string())))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status =
        h.svc.link_duplicate(h.as_role(Role::Officer, AG1, refuse(&later, retold.id().to_string()))).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(h.snapshot(&[query.id(), later.id()]).await, before, "nothing changed");
}

// Suggestions and links of a report routing does not know are NOT_FOUND; a malformed id names
// its field.
async fn unknown_reports_are_not_found_r8_2c(h: Harness) {
    let missing = uuid::Uuid::now_v7().to_string();
    let request = v1::SuggestDuplicatesRequest { report_id: missing.clone(), limit: 0 };
    assert_eq!(h.svc.suggest_duplicates(h.ioc(request)).await.unwrap_err().code(), Code::NotFound);
    let request = v1::SuggestAgenciesRequest { report_id: "x".into(), limit: 0 };
    let status = h.svc.suggest_agencies(h.ioc(request)).await.unwrap_err();
    assert_eq!((status.code(), fields(&status)), (Code::InvalidArgument, vec!["report_id".to_owned()]));
    let link = v1::LinkDuplicateRequest { report_id: missing, duplicate_of: uuid::Uuid::now_v7().to_string() };
    assert_eq!(h.svc.link_duplicate(h.ioc(link)).await.unwrap_err().code(), Code::NotFound);
}

on_both!(
    agencies_are_suggested_by_category_and_place_r7_3b,
    duplicates_are_suggested_and_linked_r8_2c,
    unknown_reports_are_not_found_r8_2c,
);
