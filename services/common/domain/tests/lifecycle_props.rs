//! Property tests: random sequences of actions by random actors never leave a report
//! in an inconsistent state (R4.2, R4.3, R9.3b, R10.3, R11).

use chrono::{DateTime, Days, TimeDelta, Utc};
use paht_domain::actor::{Actor, Role};
use paht_domain::calendar::WorkingCalendar;
use paht_domain::deadline::Stage;
use paht_domain::ids::{AssignmentId, ReportId, UnitId};
use paht_domain::lifecycle::{
    Action, AssignmentStatus, Command, Directive, EscalationReason, NewAssignment, NewReport, Rating, Report,
    ReportStatus,
};
use proptest::prelude::*;
use uuid::Uuid;

const IOC: &str = "IOC";
const AGENCIES: [&str; 3] = ["AG1", "AG2", "AG3"];
const UNITS: [&str; 6] = ["IOC", "IOC-X", "AG1", "AG2", "AG3", "VP"];

fn aid(n: u8) -> AssignmentId {
    AssignmentId::from_uuid(Uuid::from_u128(u128::from(n)))
}

/// A command skeleton; assignments and dates are filled in against the report.
#[derive(Debug, Clone)]
enum Op {
    Accept,
    Refuse(bool),
    Dispatch(Vec<(u8, usize, bool)>),
    Return(u8),
    Explain(u8, u64),
    Submit(u8),
    Approve(u8),
    SendBack(u8),
    Escalate(usize, bool),
    DirectClose,
    DirectDispatch(Vec<(u8, usize, bool)>),
    EditAnswer,
    Publish,
    AnswerPrivately,
    Withhold,
    Rate(usize),
    Reopen,
}

fn new_assignments() -> impl Strategy<Value = Vec<(u8, usize, bool)>> {
    prop::collection::vec((1u8..8, 0usize..3, prop::bool::weighted(0.85)), 0..3)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Accept),
        1 => any::<bool>().prop_map(Op::Refuse),
        3 => new_assignments().prop_map(Op::Dispatch),
        1 => (1u8..8).prop_map(Op::Return),
        2 => ((1u8..8), 0u64..20).prop_map(|(a, d)| Op::Explain(a, d)),
        8 => (1u8..8).prop_map(Op::Submit),
        8 => (1u8..8).prop_map(Op::Approve),
        2 => (1u8..8).prop_map(Op::SendBack),
        1 => ((0usize..6), any::<bool>()).prop_map(|(r, d)| Op::Escalate(r, d)),
        1 => Just(Op::DirectClose),
        2 => new_assignments().prop_map(Op::DirectDispatch),
        4 => Just(Op::EditAnswer),
        4 => Just(Op::Publish),
        1 => Just(Op::AnswerPrivately),
        1 => Just(Op::Withhold),
        3 => (0usize..3).prop_map(Op::Rate),
        2 => Just(Op::Reopen),
    ]
}

/// How the actor is chosen: mostly the right role and unit, sometimes any.
#[derive(Debug, Clone)]
struct Who {
    right_role: bool,
    right_unit: bool,
    role: usize,
    unit: usize,
    other_subject: bool,
}

fn who() -> impl Strategy<Value = Who> {
    (prop::bool::weighted(0.8), prop::bool::weighted(0.85), 0usize..8, 0usize..6, prop::bool::weighted(0.1)).prop_map(
        |(right_role, right_unit, role, unit, other_subject)| Who { right_role, right_unit, role, unit, other_subject },
    )
}

fn reasons() -> [EscalationReason; 6] {
    [
        EscalationReason::UnclearCompetence,
        EscalationReason::Duplicate,
        EscalationReason::Untrue,
        EscalationReason::Unverifiable,
        EscalationReason::AgenciesDisagree,
        EscalationReason::IncompleteHandling,
    ]
}

/// Picks an existing assignment by index (most ops target a real one), or a stray id.
fn pick(report: &Report, n: u8) -> AssignmentId {
    if report.assignments.is_empty() || n == 7 {
        aid(n)
    } else {
        report.assignments[usize::from(n) % report.assignments.len()].id
    }
}

/// New assignments: fresh ids (id 7 reuses id 1), and when `follow` a lead only if
/// none is at work, otherwise a coin flip on the lead flag.
fn to_new(list: &[(u8, usize, bool)], report: &Report) -> Vec<NewAssignment> {
    let next = report.assignments.len() as u8 + 1;
    let mut need_lead = report.active_assignments().all(|a| !a.lead);
    list.iter()
        .enumerate()
        .map(|(i, (id, ag, follow))| {
            let lead = if *follow { std::mem::replace(&mut need_lead, false) } else { *id % 2 == 0 };
            let id = if *id == 7 { aid(1) } else { aid(next + i as u8) };
            NewAssignment { id, agency: UnitId::new(AGENCIES[*ag]), lead, instructions: None }
        })
        .collect()
}

fn command(op: &Op, report: &Report, cal: &WorkingCalendar, now: DateTime<Utc>) -> Command {
    let text = |s: &str| s.to_string();
    match op {
        Op::Accept => Command::Accept,
        Op::Refuse(blank) => {
            Command::Refuse { reason: if *blank { text(" ") } else { text("Thiếu địa điểm") } }
        }
        Op::Dispatch(list) => Command::Dispatch { assignments: to_new(list, report) },
        Op::Return(a) => {
            Command::Return { assignment: pick(report, *a), reason: text("Không thuộc thẩm quyền") }
        }
        Op::Explain(a, days) => Command::Explain {
            assignment: pick(report, *a),
            reason: text("Cần phối hợp"),
            expected_completion: cal.local_date(now) + Days::new(*days),
        },
        Op::Submit(a) => {
            Command::SubmitResult { assignment: pick(report, *a), text: text("Đã xử lý"), attachments: vec![] }
        }
        Op::Approve(a) => Command::Approve { assignment: pick(report, *a) },
        Op::SendBack(a) => Command::SendBack { assignment: pick(report, *a), reason: text("Chưa đạt") },
        Op::Escalate(r, dup) => Command::Escalate {
            reason: reasons()[*r],
            note: text("Tổng hợp"),
            duplicate_of: dup
                .then(|| if report.id.0.as_u128() == 7 { report.id } else { ReportId::from_uuid(Uuid::from_u128(7)) }),
        },
        Op::DirectClose => Command::Direct(Directive::Close { notice: text("Đóng theo chỉ đạo") }),
        Op::DirectDispatch(list) => {
            Command::Direct(Directive::Dispatch { assignments: to_new(list, report), note: text("Giao xử lý") })
        }
        Op::EditAnswer => Command::EditAnswer { text: text("Kết quả") },
        Op::Publish => Command::Publish,
        Op::AnswerPrivately => Command::AnswerPrivately,
        Op::Withhold => Command::Withhold { legal_basis: text("Bí mật nhà nước") },
        Op::Rate(r) => {
            Command::Rate { rating: [Rating::Satisfied, Rating::Normal, Rating::Unsatisfied][*r], feedback: None }
        }
        Op::Reopen => Command::Reopen { feedback: text("Chưa xong") },
    }
}

fn actor_for(who: &Who, command: &Command, report: &Report) -> Actor {
    let role = if who.right_role { command.action().role() } else { Role::ALL[who.role] };
    let right_unit = match command.assignment() {
        Some(id) => report.assignment(id).map(|a| a.agency.clone()).unwrap_or_else(|| UnitId::new("AG1")),
        None if role == Role::IocOperator => UnitId::new(IOC),
        None => UnitId::new("VP"),
    };
    let unit = if who.right_unit { right_unit } else { UnitId::new(UNITS[who.unit]) };
    let subject = if role == Role::Reporter && !who.other_subject { "citizen-1" } else { "someone-else" };
    Actor::new(subject, role, unit)
}

/// Everything that must hold of any report reachable by legal transitions.
fn check_invariants(r: &Report) -> Result<(), TestCaseError> {
    let active: Vec<_> = r.active_assignments().collect();
    let answered = [
        ReportStatus::Resolved,
        ReportStatus::Published,
        ReportStatus::AnsweredPrivately,
        ReportStatus::Withheld,
        ReportStatus::Rated,
    ];
    if answered.contains(&r.status) {
        prop_assert!(!active.is_empty(), "{:?} with no agency at work", r.status);
        prop_assert!(!r.awaiting_redispatch, "{:?} while a return waits", r.status);
        for a in &active {
            prop_assert_eq!(a.status, AssignmentStatus::Approved, "{:?} before every approval", r.status);
        }
    }
    if r.status == ReportStatus::Published {
        prop_assert!(r.answer.is_some() && !r.confidential, "published without answer or despite confidentiality");
    }
    if r.status == ReportStatus::AnsweredPrivately {
        prop_assert!(r.answer.is_some());
    }
    if r.status == ReportStatus::Rated {
        prop_assert!(r.rating.is_some());
    }
    if r.status == ReportStatus::Refused {
        prop_assert!(r.assignments.is_empty() && r.refusal_reason.is_some());
    }
    if matches!(r.status, ReportStatus::Closed | ReportStatus::Received | ReportStatus::Refused) {
        prop_assert!(active.is_empty(), "{:?} with agencies at work", r.status);
    }
    prop_assert!(active.iter().filter(|a| a.lead).count() <= 1, "two lead agencies");
    if r.status.is_with_agencies() && !r.awaiting_redispatch {
        prop_assert_eq!(active.iter().filter(|a| a.lead).count(), 1, "no lead agency at work");
    }
    for a in &r.assignments {
        if let Some((leader, _)) = &a.approval {
            prop_assert!(leader.role == Role::Leader && leader.unit == a.agency, "approved by {:?}", leader);
        }
        if let Some(result) = &a.result {
            prop_assert!(result.officer.role == Role::Officer && result.officer.unit == a.agency);
        }
        let has = |s: Stage| a.open_deadlines.iter().any(|d| d.stage == s);
        match a.status {
            AssignmentStatus::Assigned | AssignmentStatus::Explained | AssignmentStatus::SentBack => {
                prop_assert!(has(Stage::Handling), "{:?} without a handling deadline", a.status)
            }
            AssignmentStatus::ResultSubmitted => prop_assert!(has(Stage::Approval)),
            AssignmentStatus::Approved | AssignmentStatus::Returned | AssignmentStatus::Cancelled => {
                prop_assert!(a.open_deadlines.is_empty())
            }
        }
    }
    for (_, d) in r.open_deadlines() {
        prop_assert!(d.due_at > d.started_at, "deadline {:?} not after its start", d);
    }
    let mut agencies: Vec<_> = active.iter().map(|a| &a.agency).collect();
    agencies.sort();
    agencies.dedup();
    prop_assert_eq!(agencies.len(), active.len(), "one agency holds two shares");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_action_sequences_keep_every_report_consistent(
        steps in prop::collection::vec((op(), who(), 0i64..2_000), 20..120),
        confidential in prop::bool::weighted(0.2),
    ) {
        let cal = WorkingCalendar::vietnam();
        let mut now = DateTime::parse_from_rfc3339("2027-01-04T08:00:00+07:00").unwrap().with_timezone(&Utc);
        let new = NewReport {
            id: ReportId::from_uuid(Uuid::from_u128(1000)),
            instance: UnitId::new(IOC),
            reporter_ref: Some("citizen-1".into()),
            confidential,
        };
        let mut report = Report::receive(new, &Actor::new("zalo", Role::System, UnitId::new(IOC)), now, &cal).unwrap().report;
        for (op, who, minutes) in steps {
            now += TimeDelta::minutes(minutes);
            let cmd = command(&op, &report, &cal, now);
            let actor = actor_for(&who, &cmd, &report);
            let action = cmd.action();
            match report.apply(cmd.clone(), &actor, now, &cal) {
                Ok(t) => {
                    // Only the role of the action acts, and only for its own unit.
                    prop_assert_eq!(actor.role, action.role());
                    if let Some(id) = cmd.assignment() {
                        prop_assert_eq!(&actor.unit, &report.assignment(id).unwrap().agency, "{:?} on another agency's share", action);
                    } else if action.role() == Role::IocOperator {
                        prop_assert_eq!(actor.unit.as_str(), IOC);
                    }
                    if action == Action::Rate {
                        prop_assert_eq!(actor.subject.as_str(), "citizen-1");
                    }
                    prop_assert!(!t.events.is_empty());
                    for e in &t.events {
                        prop_assert!(e.report_id == report.id && e.occurred_at == now && e.actor == actor);
                    }
                    report = t.report;
                    check_invariants(&report)?;
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }
}
