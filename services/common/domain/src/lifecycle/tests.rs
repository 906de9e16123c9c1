//! Table tests of every (state, action, role) and the paths of the regulation.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use uuid::Uuid;

use super::*;
use crate::actor::Role;
use crate::calendar::WorkingCalendar;
use crate::deadline::Stage;

pub(crate) fn vn(s: &str) -> DateTime<Utc> {
    DateTime::<FixedOffset>::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn unit(s: &str) -> UnitId {
    UnitId::new(s)
}

fn aid(n: u128) -> AssignmentId {
    AssignmentId::from_uuid(Uuid::from_u128(n))
}

const A: u128 = 1;
const B: u128 = 2;
const IOC: &str = "IOC-VL";
const AG1: &str = "AG1";
const AG2: &str = "AG2";

fn actor(role: Role, unit_code: &str) -> Actor {
    let subject = if role == Role::Reporter { "citizen-1" } else { "staff" };
    Actor::new(subject, role, unit(unit_code))
}

fn ioc() -> Actor {
    actor(Role::IocOperator, IOC)
}

/// A test world: one calendar, a clock that moves forward a little with every step.
struct World {
    cal: WorkingCalendar,
    now: DateTime<Utc>,
    report: Report,
    events: Vec<Event>,
}

impl World {
    /// A report received on Monday 8 March 2027 at 09:00 (no holiday near).
    fn new() -> Self {
        Self::received_at("2027-03-08T09:00:00+07:00")
    }

    /// A report received at `when`.
    fn received_at(when: &str) -> Self {
        let cal = WorkingCalendar::vietnam();
        let now = vn(when);
        let new = NewReport {
            id: ReportId::from_uuid(Uuid::from_u128(99)),
            instance: unit(IOC),
            reporter_ref: Some("citizen-1".into()),
            confidential: false,
        };
        let t = Report::receive(new, &actor(Role::System, IOC), now, &cal).unwrap();
        World { cal, now, report: t.report, events: t.events }
    }

    fn try_do(&self, actor: &Actor, command: Command) -> Result<Transition, LifecycleError> {
        self.report.apply(command, actor, self.now, &self.cal)
    }

    fn at(mut self, when: &str) -> Self {
        self.now = vn(when);
        self
    }

    fn go(mut self, actor: &Actor, command: Command) -> Self {
        // Routing resolves the report as soon as its view has every assignment approved.
        let t = self
            .try_do(actor, command.clone())
            .and_then(|t| t.with_resolution(self.now, &self.cal))
            .unwrap_or_else(|e| panic!("{command:?} by {actor:?}: {e}"));
        self.report = t.report;
        self.events.extend(t.events);
        self.now += chrono::TimeDelta::minutes(10);
        self
    }

    fn keys(&self) -> Vec<&'static str> {
        self.events.iter().map(|e| e.kind.routing_key()).collect()
    }
}

fn officer(agency: &str) -> Actor {
    actor(Role::Officer, agency)
}
fn leader(agency: &str) -> Actor {
    actor(Role::Leader, agency)
}

fn new_assignment(n: u128, agency: &str, lead: bool) -> NewAssignment {
    NewAssignment { id: aid(n), agency: unit(agency), lead, instructions: None }
}

fn dispatch_two() -> Command {
    Command::Dispatch { assignments: vec![new_assignment(A, AG1, true), new_assignment(B, AG2, false)] }
}

fn result(n: u128) -> Command {
    Command::SubmitResult { assignment: aid(n), text: "Đã sửa xong ổ gà".into(), attachments: vec![] }
}

fn resolved() -> World {
    World::new()
        .go(&ioc(), Command::Accept)
        .go(&ioc(), dispatch_two())
        .go(&officer(AG1), result(A))
        .go(&officer(AG2), result(B))
        .go(&leader(AG1), Command::Approve { assignment: aid(A) })
        .go(&leader(AG2), Command::Approve { assignment: aid(B) })
}

fn answered() -> World {
    resolved().go(&ioc(), Command::EditAnswer { text: "UBND phường đã sửa ổ gà.".into() })
}

/// Named fixtures, each reached by a legal path.
fn scenarios() -> Vec<(&'static str, World)> {
    let dispatched = || World::new().go(&ioc(), Command::Accept).go(&ioc(), dispatch_two());
    let escalate = Command::Escalate {
        reason: EscalationReason::UnclearCompetence,
        note: "Chưa rõ thẩm quyền".into(),
        duplicate_of: None,
    };
    vec![
        ("received", World::new()),
        ("refused", World::new().go(&ioc(), Command::Refuse { reason: "Thiếu địa điểm".into() })),
        ("accepted", World::new().go(&ioc(), Command::Accept)),
        ("dispatched", dispatched()),
        ("explained", dispatched().go(&officer(AG1), explain(A))),
        ("result", dispatched().go(&officer(AG1), result(A))),
        (
            "sent_back",
            dispatched()
                .go(&officer(AG1), result(A))
                .go(&leader(AG1), Command::SendBack { assignment: aid(A), reason: "Thiếu ảnh".into() }),
        ),
        ("escalated", World::new().go(&ioc(), Command::Accept).go(&ioc(), escalate)),
        (
            "closed",
            World::new()
                .go(&ioc(), Command::Accept)
                .go(
                    &ioc(),
                    Command::Escalate {
                        reason: EscalationReason::Untrue,
                        note: "Không có thật".into(),
                        duplicate_of: None,
                    },
                )
                .go(
                    &actor(Role::ProvincialOffice, "VP"),
                    Command::Direct(Directive::Close { notice: "Không có thật".into() }),
                ),
        ),
        ("resolved", resolved()),
        ("answered", answered()),
        ("published", answered().go(&ioc(), Command::Publish)),
        ("private", answered().go(&ioc(), private())),
        (
            "withheld",
            resolved().go(&ioc(), Command::Withhold { legal_basis: "Luật Bảo vệ bí mật nhà nước 2018".into() }),
        ),
        (
            "rated",
            answered()
                .go(&ioc(), Command::Publish)
                .go(&actor(Role::Reporter, "-"), Command::Rate { rating: Rating::Satisfied, feedback: None }),
        ),
        (
            "reopened",
            answered()
                .go(&ioc(), Command::Publish)
                .go(&actor(Role::Reporter, "-"), Command::Reopen { feedback: "Vẫn còn ổ gà".into() }),
        ),
    ]
}

fn private() -> Command {
    Command::AnswerPrivately { delivery: crate::lifecycle::Delivery::Email, note: None }
}

fn explain(n: u128) -> Command {
    Command::Explain {
        assignment: aid(n),
        reason: "Cần phối hợp với điện lực".into(),
        expected_completion: NaiveDate::from_ymd_opt(2027, 3, 25).unwrap(),
    }
}

/// The canonical command of each action, valid in payload for `report`.
fn canonical(action: Action, report: &Report) -> Command {
    match action {
        Action::Accept => Command::Accept,
        Action::Refuse => Command::Refuse { reason: "Thiếu thời gian xảy ra".into() },
        Action::Dispatch => Command::Dispatch {
            assignments: vec![new_assignment(3, "AG3", report.active_assignments().all(|a| !a.lead))],
        },
        Action::Return => Command::Return { assignment: aid(A), reason: "Không thuộc thẩm quyền".into() },
        Action::Explain => explain(A),
        Action::SubmitResult => result(A),
        Action::Approve => Command::Approve { assignment: aid(A) },
        Action::SendBack => Command::SendBack { assignment: aid(A), reason: "Chưa đạt".into() },
        Action::Escalate => Command::Escalate {
            reason: EscalationReason::UnclearCompetence,
            note: "Chưa rõ thẩm quyền".into(),
            duplicate_of: None,
        },
        Action::Direct => Command::Direct(Directive::Close { notice: "Đã xử lý ở phản ánh trước".into() }),
        Action::Resolve => Command::Resolve,
        Action::EditAnswer => Command::EditAnswer { text: "Đã xử lý.".into() },
        Action::Publish => Command::Publish,
        Action::AnswerPrivately => private(),
        Action::Withhold => Command::Withhold { legal_basis: "Bí mật nhà nước".into() },
        Action::Rate => Command::Rate { rating: Rating::Unsatisfied, feedback: Some("Chưa sạch".into()) },
        Action::Reopen => Command::Reopen { feedback: "Vẫn còn".into() },
    }
}

/// The expected role of each action (R7.3, R8, R9, R10, R11, R8.2c), written out
/// independently of `Action::role`.
fn expected_role(action: Action) -> Role {
    use Action::*;
    match action {
        Accept | Refuse | Dispatch | Escalate | EditAnswer | Publish | AnswerPrivately | Withhold => Role::IocOperator,
        Return | Explain | SubmitResult => Role::Officer,
        Approve | SendBack => Role::Leader,
        Direct => Role::ProvincialOffice,
        Resolve => Role::System,
        // R11.3: the reporter writes again; the system forwards it to the agencies.
        Rate | Reopen => Role::Reporter,
    }
}

/// What the right role gets in each scenario: "ok", "state" (report), "assignment"
/// (assignment state) or "no_answer".
fn expected_outcome(scenario: &str, action: Action) -> &'static str {
    use Action::*;
    let ok: &[Action] = match scenario {
        "received" => &[Accept, Refuse],
        "accepted" => &[Dispatch, Escalate],
        "dispatched" | "reopened" => &[Dispatch, Return, Explain, SubmitResult, Escalate],
        "explained" | "sent_back" => &[Dispatch, SubmitResult, Escalate],
        "result" => &[Dispatch, Approve, SendBack, Escalate],
        "escalated" => &[Direct],
        "resolved" => &[EditAnswer, Withhold],
        "answered" => &[EditAnswer, Publish, AnswerPrivately, Withhold],
        "published" | "private" => &[Rate, Reopen],
        "rated" => &[Reopen],
        "refused" | "closed" | "withheld" => &[],
        other => panic!("unknown scenario {other}"),
    };
    if ok.contains(&action) {
        return "ok";
    }
    let agency_action = matches!(action, Return | Explain | SubmitResult | Approve | SendBack);
    match scenario {
        "dispatched" | "reopened" | "explained" | "sent_back" | "result" if agency_action => "assignment",
        "resolved" if matches!(action, Publish | AnswerPrivately) => "no_answer",
        // Resolved at once when the last approval folds, so with agencies it always waits.
        "dispatched" | "reopened" | "explained" | "sent_back" | "result" if action == Resolve => "not_all_approved",
        _ => "state",
    }
}

#[test]
fn r4_2_every_state_action_and_role_is_decided() {
    let mut checked = 0;
    for (name, world) in scenarios() {
        for action in Action::ALL {
            for role in Role::ALL {
                let unit_code = match role {
                    Role::IocOperator => IOC,
                    Role::Officer | Role::Leader => AG1,
                    _ => "ANY",
                };
                let got = world.try_do(&actor(role, unit_code), canonical(action, &world.report));
                checked += 1;
                if role != expected_role(action) {
                    assert_eq!(
                        got.as_ref().err(),
                        Some(&LifecycleError::WrongRole { action, role, allowed: expected_role(action) }),
                        "{name}/{action}/{role}"
                    );
                    continue;
                }
                match (expected_outcome(name, action), &got) {
                    ("ok", Ok(t)) => {
                        assert!(!t.events.is_empty(), "{name}/{action}: a transition says what happened");
                        assert!(t.events.iter().all(|e| e.report_id == world.report.id && e.occurred_at == world.now));
                    }
                    ("state", Err(LifecycleError::WrongState { status, .. })) => {
                        assert_eq!(*status, world.report.status, "{name}/{action}")
                    }
                    ("assignment", Err(LifecycleError::WrongAssignmentState { assignment, .. })) => {
                        assert_eq!(*assignment, aid(A))
                    }
                    ("no_answer", Err(LifecycleError::NoAnswer)) => {}
                    ("not_all_approved", Err(LifecycleError::NotAllApproved)) => {}
                    (want, got) => panic!("{name}/{action}/{role}: wanted {want}, got {got:?}"),
                }
            }
        }
    }
    assert_eq!(checked, 16 * 17 * 8);
}

#[test]
fn r4_3_an_agency_cannot_act_on_another_agencys_assignment() {
    for (name, world) in scenarios() {
        for action in [Action::Return, Action::Explain, Action::SubmitResult, Action::Approve, Action::SendBack] {
            if world.report.assignment(aid(A)).is_none() {
                continue;
            }
            let role = expected_role(action);
            let got = world.try_do(&actor(role, AG2), canonical(action, &world.report));
            assert_eq!(
                got.err(),
                Some(LifecycleError::NotYourUnit { action, actor_unit: unit(AG2), required: unit(AG1) }),
                "{name}/{action}"
            );
        }
    }
}

#[test]
fn r7_3_another_instances_operator_cannot_act() {
    let world = World::new();
    let other = actor(Role::IocOperator, "IOC-OTHER");
    assert_eq!(
        world.try_do(&other, Command::Accept).err(),
        Some(LifecycleError::NotYourUnit {
            action: Action::Accept,
            actor_unit: unit("IOC-OTHER"),
            required: unit(IOC)
        })
    );
}

#[test]
fn r11_1_only_the_reporter_who_sent_it_rates_it() {
    let world = answered().go(&ioc(), Command::Publish);
    let stranger = Actor::new("citizen-2", Role::Reporter, unit("-"));
    let got = world.try_do(&stranger, Command::Rate { rating: Rating::Satisfied, feedback: None });
    assert_eq!(got.err(), Some(LifecycleError::NotTheReporter));
}

#[test]
fn r8_2a_r9_r10_full_path_with_deadlines() {
    // Received Monday 8/3/2027 09:00 → check by 10:00 (R7.2).
    let w = World::new();
    assert_eq!(w.report.open_deadlines[0].stage, Stage::Check);
    assert_eq!(w.report.open_deadlines[0].due_at, vn("2027-03-08T10:00:00+07:00"));
    let w = w.at("2027-03-08T09:30:00+07:00").go(&ioc(), Command::Accept).go(&ioc(), dispatch_two());
    let a = w.report.assignment(aid(A)).unwrap();
    // Dispatched Monday 09:40: return by Tue 17:00 (R8.2b), explain by Wed 17:00,
    // handle by Mon 15/3 17:00 (R8.2a: Tue 9 … Mon 15).
    assert_eq!(a.handling.due_at, vn("2027-03-15T17:00:00+07:00"));
    let due = |s| a.open_deadlines.iter().find(|d| d.stage == s).unwrap().due_at;
    assert_eq!(due(Stage::Return), vn("2027-03-09T17:00:00+07:00"));
    assert_eq!(due(Stage::Explanation), vn("2027-03-10T17:00:00+07:00"));
    assert!(w.report.open_deadlines.is_empty(), "the check stage ends with the dispatch");

    // Result Thursday 11/3 15:00 → approval due Friday 12/3 17:00 (R9.2).
    let w = w.at("2027-03-11T15:00:00+07:00").go(&officer(AG1), result(A)).go(&officer(AG2), result(B));
    let a = w.report.assignment(aid(A)).unwrap();
    assert_eq!(a.open_deadlines[0].stage, Stage::Approval);
    assert_eq!(a.open_deadlines[0].due_at, vn("2027-03-12T17:00:00+07:00"));

    // Approved Friday 12/3 16:00 → answer due Monday 15/3 10:00 (R10.2: 1 h + 3 h).
    let w = w
        .at("2027-03-12T16:00:00+07:00")
        .go(&leader(AG1), Command::Approve { assignment: aid(A) })
        .at("2027-03-12T16:00:00+07:00")
        .go(&leader(AG2), Command::Approve { assignment: aid(B) });
    assert_eq!(w.report.status, ReportStatus::Resolved);
    assert_eq!(w.report.open_deadlines[0].stage, Stage::Answer);
    assert_eq!(w.report.open_deadlines[0].due_at, vn("2027-03-15T10:00:00+07:00"));

    let w = w.go(&ioc(), Command::EditAnswer { text: "Đã sửa.".into() }).go(&ioc(), Command::Publish);
    assert_eq!(w.report.status, ReportStatus::Published);
    assert!(w.report.open_deadlines().is_empty());
    assert_eq!(
        w.keys(),
        vec![
            "report.received",
            "report.accepted",
            "report.dispatched",
            "assignment.resolved",
            "assignment.resolved",
            "assignment.approved",
            "assignment.approved",
            "report.resolved",
            "report.answer_edited",
            "report.published",
        ]
    );
}

#[test]
fn r9_a_report_is_complete_only_when_every_assignment_is_approved() {
    let w = World::new()
        .go(&ioc(), Command::Accept)
        .go(&ioc(), dispatch_two())
        .go(&officer(AG1), result(A))
        .go(&leader(AG1), Command::Approve { assignment: aid(A) });
    assert_eq!(w.report.status, ReportStatus::Dispatched, "AG2 has not finished");
    assert!(!w.keys().contains(&"report.resolved"));
    // R9.3a: sent back, redone, approved → complete.
    let w = w
        .go(&officer(AG2), result(B))
        .go(&leader(AG2), Command::SendBack { assignment: aid(B), reason: "Thiếu ảnh sau xử lý".into() });
    assert_eq!(w.report.assignment(aid(B)).unwrap().status, AssignmentStatus::SentBack);
    let w = w.go(&officer(AG2), result(B)).go(&leader(AG2), Command::Approve { assignment: aid(B) });
    assert_eq!(w.report.status, ReportStatus::Resolved);
}

#[test]
fn r8_2b_returned_assignment_goes_back_to_the_ioc_for_redispatch() {
    let w = World::new().go(&ioc(), Command::Accept).go(&ioc(), dispatch_two()).at("2027-03-09T08:00:00+07:00");
    let w = w.go(&officer(AG1), Command::Return { assignment: aid(A), reason: "Không thuộc thẩm quyền".into() });
    assert!(w.report.awaiting_redispatch);
    assert_eq!(w.report.open_deadlines[0].stage, Stage::Check);
    assert_eq!(w.report.open_deadlines[0].due_at, vn("2027-03-09T09:00:00+07:00"));
    // AG2 finishes, but the report is not complete while the return waits.
    let w = w.go(&officer(AG2), result(B)).go(&leader(AG2), Command::Approve { assignment: aid(B) });
    assert_eq!(w.report.status, ReportStatus::Dispatched);
    // Redispatch needs a new lead (the lead returned it).
    let no_lead = w.try_do(&ioc(), Command::Dispatch { assignments: vec![new_assignment(3, "AG3", false)] });
    assert_eq!(no_lead.err(), Some(LifecycleError::LeadCount(0)));
    let back_to_ag2 = w.try_do(&ioc(), Command::Dispatch { assignments: vec![new_assignment(3, AG2, true)] });
    assert_eq!(back_to_ag2.err(), Some(LifecycleError::AlreadyAssigned(unit(AG2))));
    let w = w.go(&ioc(), Command::Dispatch { assignments: vec![new_assignment(3, "AG3", true)] });
    assert!(!w.report.awaiting_redispatch);
    let w = w.go(&officer("AG3"), result(3)).go(&leader("AG3"), Command::Approve { assignment: aid(3) });
    assert_eq!(w.report.status, ReportStatus::Resolved);
}

#[test]
fn r8_2b_when_every_agency_returns_it_the_report_is_back_in_the_ioc_queue() {
    let w = World::new()
        .go(&ioc(), Command::Accept)
        .go(&ioc(), Command::Dispatch { assignments: vec![new_assignment(A, AG1, true)] })
        .go(&officer(AG1), Command::Return { assignment: aid(A), reason: "Không thuộc thẩm quyền".into() });
    assert_eq!(w.report.status, ReportStatus::Accepted);
    // The returning agency may be chosen again only by a new assignment; a returned one is final.
    let w = w.go(&ioc(), Command::Dispatch { assignments: vec![new_assignment(B, AG2, true)] });
    assert_eq!(w.report.status, ReportStatus::Dispatched);
}

#[test]
fn r8_2a_explanation_moves_the_handling_deadline_once() {
    let w = World::new().go(&ioc(), Command::Accept).go(&ioc(), dispatch_two());
    let past = Command::Explain {
        assignment: aid(A),
        reason: "Cần xác minh".into(),
        expected_completion: NaiveDate::from_ymd_opt(2027, 3, 8).unwrap(),
    };
    assert!(matches!(w.try_do(&officer(AG1), past), Err(LifecycleError::ExpectedDateNotInFuture { .. })));
    // Issue 10: a date past the calendar's years is the caller's mistake, not a failure.
    let far = Command::Explain {
        assignment: aid(A),
        reason: "Cần xác minh".into(),
        expected_completion: NaiveDate::from_ymd_opt(2101, 1, 3).unwrap(),
    };
    assert!(matches!(w.try_do(&officer(AG1), far), Err(LifecycleError::ExpectedDateBeyondCalendar { last: 2100, .. })));
    let blank = Command::Explain {
        assignment: aid(A),
        reason: "  ".into(),
        expected_completion: NaiveDate::from_ymd_opt(2027, 3, 25).unwrap(),
    };
    assert_eq!(
        w.try_do(&officer(AG1), blank).err(),
        Some(LifecycleError::MissingField { action: Action::Explain, field: "reason" })
    );
    let w = w.go(&officer(AG1), explain(A));
    let a = w.report.assignment(aid(A)).unwrap();
    // Expected Thursday 25/3/2027 → due at its close of office.
    assert_eq!(a.handling.due_at, vn("2027-03-25T17:00:00+07:00"));
    let Some(EventKind::AssignmentExplained { handling, .. }) = w.events.last().map(|e| &e.kind) else {
        panic!("explained event")
    };
    assert_eq!(handling.due_at, vn("2027-03-25T17:00:00+07:00"));
    // Sent back after a result, the explained deadline still applies.
    let w =
        w.go(&officer(AG1), result(A)).go(&leader(AG1), Command::SendBack { assignment: aid(A), reason: "x".into() });
    assert_eq!(w.report.assignment(aid(A)).unwrap().open_deadlines[0].due_at, vn("2027-03-25T17:00:00+07:00"));
}

#[test]
fn r8_2c_duplicate_escalation_and_directive_close_tell_the_reporter() {
    let w = World::new().go(&ioc(), Command::Accept);
    let no_ref = Command::Escalate { reason: EscalationReason::Duplicate, note: "Trùng".into(), duplicate_of: None };
    assert_eq!(w.try_do(&ioc(), no_ref).err(), Some(LifecycleError::DuplicateOfRequired));
    let earlier = ReportId::from_uuid(Uuid::from_u128(7));
    let w = w.go(
        &ioc(),
        Command::Escalate { reason: EscalationReason::Duplicate, note: "Trùng".into(), duplicate_of: Some(earlier) },
    );
    // R8.2c: one working day from arrival (Mon 09:00) → end of Tuesday.
    assert_eq!(w.report.escalation.as_ref().unwrap().deadline.due_at, vn("2027-03-09T17:00:00+07:00"));
    let w = w.go(
        &actor(Role::ProvincialOffice, "VP-UBND"),
        Command::Direct(Directive::Close { notice: "Đã được trả lời tại phản ánh trước".into() }),
    );
    assert_eq!(w.report.status, ReportStatus::Closed);
    match &w.events.last().unwrap().kind {
        EventKind::ReportClosed { duplicate_of, .. } => assert_eq!(*duplicate_of, Some(earlier)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn r4_4_agencies_that_disagree_are_escalated_and_directed() {
    let w = World::new().go(&ioc(), Command::Accept);
    let disagree =
        Command::Escalate {
            reason: EscalationReason::AgenciesDisagree, note: "Hai đơn vị".into(), duplicate_of: None
        };
    assert_eq!(w.try_do(&ioc(), disagree.clone()).err(), Some(LifecycleError::NoAgencyAtWork));
    let w = w.go(&ioc(), dispatch_two()).go(&ioc(), disagree);
    assert_eq!(w.report.status, ReportStatus::Escalated);
    let w = w.go(
        &actor(Role::ProvincialOffice, "VP-UBND"),
        Command::Direct(Directive::Dispatch { assignments: vec![], note: "AG1 chủ trì, AG2 phối hợp".into() }),
    );
    assert_eq!(w.report.status, ReportStatus::Dispatched);
    assert_eq!(w.keys().last(), Some(&"directive.issued"));
}

#[test]
fn r10_3b_confidential_reporter_is_answered_privately() {
    let mut w = answered();
    w.report.confidential = true;
    assert_eq!(w.try_do(&ioc(), Command::Publish).err(), Some(LifecycleError::ConfidentialReporter));
    let w = w.go(&ioc(), private());
    assert_eq!(w.report.status, ReportStatus::AnsweredPrivately);
}

#[test]
fn r10_3c_withheld_answer_is_final() {
    let w = resolved().go(&ioc(), Command::Withhold { legal_basis: "Bí mật nhà nước".into() });
    for action in Action::ALL {
        assert!(w.try_do(&actor(expected_role(action), IOC), canonical(action, &w.report)).is_err());
    }
}

// R10.3b: an answer sent privately stays private once the reporter rated it; a published one is
// public until the report is reopened; the time of the decision is kept with the answer.
#[test]
fn r10_3b_a_private_answer_stays_private_after_the_rating() {
    let reporter = actor(Role::Reporter, "-");
    let rate = || Command::Rate { rating: Rating::Normal, feedback: None };
    let private = answered().go(&ioc(), private());
    assert_eq!(private.report.visibility, Some(crate::lifecycle::Visibility::Private));
    assert!(private.report.answer.as_ref().unwrap().decided_at.is_some());
    let rated = private.go(&reporter, rate());
    assert_eq!(rated.report.status, ReportStatus::Rated);
    assert!(!rated.report.answer_is_public());
    let published = answered().go(&ioc(), Command::Publish);
    assert!(published.report.answer_is_public());
    let rated = published.go(&reporter, rate());
    assert!(rated.report.answer_is_public());
    let reopened = rated.go(&reporter, Command::Reopen { feedback: "Chưa xong".into() });
    assert!(!reopened.report.answer_is_public() && reopened.report.visibility.is_none());
    // Only the reporter reopens (R11.3): not the IOC, not another citizen.
    let published = answered().go(&ioc(), Command::Publish);
    assert!(published.try_do(&ioc(), Command::Reopen { feedback: "x".into() }).is_err());
    let stranger = Actor::new("citizen-2", Role::Reporter, unit("-"));
    let err = published.try_do(&stranger, Command::Reopen { feedback: "x".into() }).unwrap_err();
    assert_eq!(err, LifecycleError::NotTheReporter);
}

#[test]
fn r11_3_reopen_sends_the_report_back_to_its_agencies() {
    let w = answered()
        .go(&ioc(), Command::Publish)
        .go(
            &actor(Role::Reporter, "-"),
            Command::Rate { rating: Rating::Unsatisfied, feedback: Some("Chưa sửa".into()) },
        )
        .at("2027-03-16T10:00:00+07:00")
        .go(&actor(Role::Reporter, "-"), Command::Reopen { feedback: "Ổ gà vẫn còn".into() });
    assert_eq!(w.report.status, ReportStatus::Reopened);
    assert_eq!(w.report.reopen_count, 1);
    for a in &w.report.assignments {
        assert_eq!(a.status, AssignmentStatus::Assigned);
        // Fresh R8.2a deadline from Tue 16/3: Wed 17 … Tue 23/3.
        assert_eq!(a.handling.due_at, vn("2027-03-23T17:00:00+07:00"));
        assert!(a.result.is_some(), "the earlier result is kept for the record");
    }
    assert!(w.report.rating.is_none() && w.report.answer.is_none());
    // Back through the agencies and the IOC, then the reporter rates again.
    let w = w
        .go(&officer(AG1), result(A))
        .go(&officer(AG2), result(B))
        .go(&leader(AG1), Command::Approve { assignment: aid(A) })
        .go(&leader(AG2), Command::Approve { assignment: aid(B) })
        .go(&ioc(), Command::EditAnswer { text: "Đã sửa lại.".into() })
        .go(&ioc(), Command::Publish)
        .go(&actor(Role::Reporter, "-"), Command::Rate { rating: Rating::Satisfied, feedback: None });
    assert_eq!(w.report.status, ReportStatus::Rated);
}

#[test]
fn dispatch_checks_agencies_ids_and_the_single_lead() {
    let w = World::new().go(&ioc(), Command::Accept);
    assert_eq!(w.try_do(&ioc(), Command::Dispatch { assignments: vec![] }).err(), Some(LifecycleError::NoAgencies));
    let two_leads = Command::Dispatch { assignments: vec![new_assignment(A, AG1, true), new_assignment(B, AG2, true)] };
    assert_eq!(w.try_do(&ioc(), two_leads).err(), Some(LifecycleError::LeadCount(2)));
    let same_agency =
        Command::Dispatch { assignments: vec![new_assignment(A, AG1, true), new_assignment(B, AG1, false)] };
    assert_eq!(w.try_do(&ioc(), same_agency).err(), Some(LifecycleError::AlreadyAssigned(unit(AG1))));
    let same_id = Command::Dispatch { assignments: vec![new_assignment(A, AG1, true), new_assignment(A, AG2, false)] };
    assert_eq!(w.try_do(&ioc(), same_id).err(), Some(LifecycleError::DuplicateAssignmentId(aid(A))));
}

#[test]
fn r7_3a_refusal_needs_a_reason() {
    let w = World::new();
    assert_eq!(
        w.try_do(&ioc(), Command::Refuse { reason: " ".into() }).err(),
        Some(LifecycleError::MissingField { action: Action::Refuse, field: "reason" })
    );
    let w = w.go(&ioc(), Command::Refuse { reason: "Thiếu số điện thoại".into() });
    assert_eq!(w.report.refusal_reason.as_deref(), Some("Thiếu số điện thoại"));
    assert!(w.report.open_deadlines().is_empty());
}

#[test]
fn r5_only_channels_reporters_and_the_ioc_desk_submit() {
    let cal = WorkingCalendar::vietnam();
    let new = NewReport {
        id: ReportId::from_uuid(Uuid::nil()),
        instance: unit(IOC),
        reporter_ref: None,
        confidential: false,
    };
    let now = vn("2027-03-13T23:00:00+07:00");
    assert_eq!(
        Report::receive(new.clone(), &officer(AG1), now, &cal).err(),
        Some(LifecycleError::MayNotSubmit(Role::Officer))
    );
    // Saturday 23:00 → checked by Monday 08:00 (R5 accepts at any hour, R7.2 counts working time).
    let t = Report::receive(new, &actor(Role::Reporter, "-"), now, &cal).unwrap();
    assert_eq!(t.report.open_deadlines[0].due_at, vn("2027-03-15T08:00:00+07:00"));
}

#[test]
fn r8_2a_explaining_at_closing_time_with_a_holiday_as_expected_date_still_gives_time() {
    // Found by the property test: Thursday 4/2/2027 17:00, expected Friday 5/2 (Tết break).
    let w = World::received_at("2027-02-04T10:00:00+07:00")
        .go(&ioc(), Command::Accept)
        .go(&ioc(), dispatch_two())
        .at("2027-02-04T17:00:00+07:00");
    let w = w.go(
        &officer(AG1),
        Command::Explain {
            assignment: aid(A),
            reason: "Cần phối hợp".into(),
            expected_completion: NaiveDate::from_ymd_opt(2027, 2, 5).unwrap(),
        },
    );
    let handling = w.report.assignment(aid(A)).unwrap().handling;
    assert_eq!(handling.due_at, vn("2027-02-05T23:59:59+07:00"));
    assert!(handling.due_at > handling.started_at);
}

// R10.1, R10.3a: the draft answer has one part per approved agency, named, the lead first;
// nothing to draft before an approval.
#[test]
fn r10_3a_the_draft_answer_names_each_approved_agency_lead_first() {
    let names = |u: &UnitId| match u.as_str() {
        AG1 => Some("Sở Xây dựng".to_owned()),
        _ => None,
    };
    let w = World::new().go(&ioc(), Command::Accept).go(&ioc(), dispatch_two()).go(&officer(AG2), result(B));
    assert_eq!(w.report.draft_answer(names), None, "no approved result yet");
    let w = w.go(&leader(AG2), Command::Approve { assignment: aid(B) });
    assert_eq!(w.report.draft_answer(names).as_deref(), Some("Kết quả xử lý phản ánh:\n\n1. AG2:\nĐã sửa xong ổ gà"));
    let w = w
        .go(
            &officer(AG1),
            Command::SubmitResult {
                assignment: aid(A), text: "  Đã thảm lại mặt đường. ".into(), attachments: vec![]
            },
        )
        .go(&leader(AG1), Command::Approve { assignment: aid(A) });
    assert_eq!(w.report.status, ReportStatus::Resolved);
    assert_eq!(
        w.report.draft_answer(names).as_deref(),
        Some(
            "Kết quả xử lý phản ánh:\n\n1. Sở Xây dựng (đơn vị chủ trì):\nĐã thảm lại mặt đường.\n\n2. AG2:\nĐã sửa xong ổ gà"
        )
    );
}
