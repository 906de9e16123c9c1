//! The encoded descriptor set served for gRPC reflection describes the whole `paht.v1` API,
//! and every element of it is documented.

use std::collections::{BTreeMap, HashSet};

use paht_proto::FILE_DESCRIPTOR_SET;
use prost::Message as _;
use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};

fn descriptor_set() -> FileDescriptorSet {
    FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("FILE_DESCRIPTOR_SET decodes")
}

fn paht_files(fds: &FileDescriptorSet) -> Vec<&FileDescriptorProto> {
    fds.file.iter().filter(|f| f.package() == "paht.v1").collect()
}

/// Service name → (method name → (client streaming, server streaming)).
fn services(fds: &FileDescriptorSet) -> BTreeMap<String, BTreeMap<String, (bool, bool)>> {
    paht_files(fds)
        .into_iter()
        .flat_map(|f| &f.service)
        .map(|s| {
            let methods =
                s.method.iter().map(|m| (m.name().to_owned(), (m.client_streaming(), m.server_streaming()))).collect();
            (s.name().to_owned(), methods)
        })
        .collect()
}

#[test]
fn descriptor_set_holds_the_seven_files_and_the_timestamp_import() {
    let fds = descriptor_set();
    let names: HashSet<&str> = fds.file.iter().map(|f| f.name()).collect();
    for file in [
        "paht/v1/common.proto",
        "paht/v1/events.proto",
        "paht/v1/intake.proto",
        "paht/v1/routing.proto",
        "paht/v1/processing.proto",
        "paht/v1/publication.proto",
        "paht/v1/reporting.proto",
        // Reflection clients need the imports too.
        "google/protobuf/timestamp.proto",
    ] {
        assert!(names.contains(file), "{file} missing from {names:?}");
    }
    assert_eq!(paht_files(&fds).len(), 7);
}

#[test]
fn descriptor_set_lists_the_five_services_and_their_rpcs() {
    let expected: &[(&str, &[&str])] = &[
        (
            "IntakeService",
            &[
                "SubmitReport",
                "UploadAttachment",
                "GetReportByTrackingCode",
                "GetReport",
                "ListCheckQueue",
                "AcceptReport",
                "RefuseReport",
                "GetReporter",
            ],
        ),
        (
            "RoutingService",
            &[
                "SuggestAgencies",
                "Dispatch",
                "Redispatch",
                "Escalate",
                "IssueDirective",
                "SuggestDuplicates",
                "LinkDuplicate",
                "ListUnits",
                "ListCategories",
                "UpsertCategory",
                "RetireCategory",
                "ListFocalPoints",
                "SetFocalPoints",
            ],
        ),
        (
            "ProcessingService",
            &[
                "ListInbox",
                "ReturnAssignment",
                "ExplainAssignment",
                "SubmitResult",
                "ApproveResult",
                "SendBackResult",
                "GetAssignment",
            ],
        ),
        (
            "PublicationService",
            &[
                "GetAnswer",
                "EditAnswer",
                "PublishAnswer",
                "AnswerPrivately",
                "WithholdAnswer",
                "RateReport",
                "ReopenReport",
                "GetPublishedAnswer",
                "ListFollowUps",
                "CloseFollowUp",
            ],
        ),
        (
            "ReportingService",
            &["GetPeriodReport", "ListOverdue", "ListBacklog", "GetAgencyPerformance", "ExportReports"],
        ),
    ];

    let actual = services(&descriptor_set());
    let actual_services: Vec<&str> = actual.keys().map(String::as_str).collect();
    let mut expected_services: Vec<&str> = expected.iter().map(|(s, _)| *s).collect();
    expected_services.sort_unstable();
    assert_eq!(actual_services, expected_services);

    for (service, rpcs) in expected {
        let mut want: Vec<&str> = rpcs.to_vec();
        want.sort_unstable();
        let got: Vec<&str> = actual[*service].keys().map(String::as_str).collect();
        assert_eq!(got, want, "RPCs of {service}");
    }
}

#[test]
fn only_upload_streams_in_and_only_export_streams_out() {
    let actual = services(&descriptor_set());
    for (service, methods) in &actual {
        for (method, streaming) in methods {
            let want = match method.as_str() {
                "UploadAttachment" => (true, false),
                "ExportReports" => (false, true),
                _ => (false, false),
            };
            assert_eq!(*streaming, want, "{service}.{method} (client, server) streaming");
        }
    }
}

#[test]
fn every_service_rpc_message_field_and_enum_value_has_a_comment() {
    let fds = descriptor_set();
    let mut undocumented = Vec::new();
    for file in paht_files(&fds) {
        let documented: HashSet<Vec<i32>> = file
            .source_code_info
            .as_ref()
            .expect("protox keeps source info")
            .location
            .iter()
            .filter(|l| !l.leading_comments().trim().is_empty())
            .map(|l| l.path.clone())
            .collect();
        let mut check = |path: Vec<i32>, what: String| {
            if !documented.contains(&path) {
                undocumented.push(format!("{}: {what}", file.name()));
            }
        };
        // Field numbers of descriptor.proto: file.message_type = 4, enum_type = 5, service = 6;
        // message.field = 2, nested_type = 3, enum_type = 4, oneof_decl = 8; enum.value = 2;
        // service.method = 2.
        for (i, message) in file.message_type.iter().enumerate() {
            check_message(message, vec![4, i as i32], &mut check);
        }
        for (i, enumeration) in file.enum_type.iter().enumerate() {
            check(vec![5, i as i32], format!("enum {}", enumeration.name()));
            for (j, value) in enumeration.value.iter().enumerate() {
                check(vec![5, i as i32, 2, j as i32], format!("value {}", value.name()));
            }
        }
        for (i, service) in file.service.iter().enumerate() {
            check(vec![6, i as i32], format!("service {}", service.name()));
            for (j, method) in service.method.iter().enumerate() {
                check(vec![6, i as i32, 2, j as i32], format!("rpc {}.{}", service.name(), method.name()));
            }
        }
    }
    assert!(undocumented.is_empty(), "undocumented: {undocumented:#?}");
}

fn check_message(message: &DescriptorProto, path: Vec<i32>, check: &mut impl FnMut(Vec<i32>, String)) {
    let at = |suffix: &[i32]| [path.as_slice(), suffix].concat();
    check(path.clone(), format!("message {}", message.name()));
    for (i, field) in message.field.iter().enumerate() {
        check(at(&[2, i as i32]), format!("field {}.{}", message.name(), field.name()));
    }
    for (i, oneof) in message.oneof_decl.iter().enumerate() {
        // proto3 `optional` fields get a synthetic oneof that has no source text to comment.
        let synthetic = message.field.iter().any(|f| f.oneof_index == Some(i as i32) && f.proto3_optional());
        if synthetic {
            continue;
        }
        check(at(&[8, i as i32]), format!("oneof {}.{}", message.name(), oneof.name()));
    }
    for (i, nested) in message.nested_type.iter().enumerate() {
        check_message(nested, at(&[3, i as i32]), check);
    }
    for (i, enumeration) in message.enum_type.iter().enumerate() {
        check(at(&[4, i as i32]), format!("enum {}", enumeration.name()));
        for (j, value) in enumeration.value.iter().enumerate() {
            check(at(&[4, i as i32, 2, j as i32]), format!("value {}", value.name()));
        }
    }
}

#[test]
fn report_statuses_assignment_statuses_and_deadline_stages_use_the_agreed_names() {
    let fds = descriptor_set();
    let values = |enum_name: &str| -> Vec<String> {
        let enumeration = paht_files(&fds)
            .into_iter()
            .flat_map(|f| &f.enum_type)
            .find(|e| e.name() == enum_name)
            .unwrap_or_else(|| panic!("enum {enum_name} declared"));
        enumeration.value.iter().map(|v| v.name().to_owned()).collect()
    };
    let with_prefix = |prefix: &str, names: &[&str]| -> Vec<String> {
        std::iter::once("UNSPECIFIED").chain(names.iter().copied()).map(|n| format!("{prefix}_{n}")).collect()
    };
    assert_eq!(
        values("ReportStatus"),
        with_prefix(
            "REPORT_STATUS",
            &[
                "RECEIVED",
                "REFUSED",
                "ACCEPTED",
                "DISPATCHED",
                "ESCALATED",
                "CLOSED",
                "RESOLVED",
                "PUBLISHED",
                "ANSWERED_PRIVATELY",
                "WITHHELD",
                "RATED",
                "REOPENED",
            ],
        )
    );
    assert_eq!(
        values("AssignmentStatus"),
        with_prefix(
            "ASSIGNMENT_STATUS",
            &["ASSIGNED", "EXPLAINED", "RETURNED", "RESULT_SUBMITTED", "APPROVED", "SENT_BACK", "CANCELLED",],
        )
    );
    assert_eq!(
        values("DeadlineStage"),
        with_prefix(
            "DEADLINE_STAGE",
            &["CHECK", "RETURN", "EXPLANATION", "HANDLING", "ESCALATION", "APPROVAL", "ANSWER",],
        )
    );
}
