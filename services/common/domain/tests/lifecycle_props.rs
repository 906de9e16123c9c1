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
        Op::AnswerPrivately => Command::AnswerPrivately {
            delivery: paht_domain::lifecycle::Delivery::Phone,
            note: Some(text("Đã gọi")),
        },
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
                    if matches!(action, Action::Rate | Action::Reopen) {
                        prop_assert_eq!(actor.subject.as_str(), "citizen-1");
                    }
                    prop_assert!(!t.events.is_empty());
                    for e in &t.events {
                        prop_assert!(e.report_id == report.id && e.occurred_at == now && e.actor == actor);
                    }
                    report = t.report;
                    check_invariants(&report)?;
                    // Routing resolves as soon as every assignment at work is approved.
                    if let Some((command, routing)) = report.resolution() {
                        report = report.apply(command, &routing, now, &cal).unwrap().report;
                        check_invariants(&report)?;
                    }
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Convergence: several owners deciding on the same report, every view folding the others'
// facts as they arrive — in any order the bus allows, with redeliveries — ends equal.

use paht_domain::lifecycle::{Admission, Event, Service};

/// One service's view of the report and the facts it holds back until their turn.
struct Node {
    service: Service,
    cal: WorkingCalendar,
    view: Option<Report>,
    held: Vec<Event>,
}

/// What the test does next: a service decides, or the bus delivers (or redelivers) a fact.
#[derive(Debug, Clone)]
enum Move {
    Decide(Op, Who),
    Deliver(usize),
    Redeliver(usize),
}

/// Ops weighted towards work on the same report by several owners at once: dispatches,
/// agencies' actions, escalations and directives; refusals are rare.
fn busy_op() -> impl Strategy<Value = Op> {
    let dispatch_one = (1u8..8, 0usize..3, prop::bool::weighted(0.9)).prop_map(|a| vec![a]);
    prop_oneof![
        3 => Just(Op::Accept),
        4 => dispatch_one.clone().prop_map(Op::Dispatch),
        3 => (1u8..7).prop_map(Op::Return),
        2 => ((1u8..7), 1u64..20).prop_map(|(a, d)| Op::Explain(a, d)),
        6 => (1u8..7).prop_map(Op::Submit),
        6 => (1u8..7).prop_map(Op::Approve),
        2 => (1u8..7).prop_map(Op::SendBack),
        1 => ((0usize..6), Just(false)).prop_map(|(r, d)| Op::Escalate(r, d)),
        1 => Just(Op::DirectClose),
        2 => dispatch_one.prop_map(Op::DirectDispatch),
        2 => Just(Op::EditAnswer),
        2 => Just(Op::Publish),
        1 => Just(Op::AnswerPrivately),
        1 => (0usize..3).prop_map(Op::Rate),
        2 => Just(Op::Reopen),
    ]
}

fn right_who() -> impl Strategy<Value = Who> {
    (0usize..8, 0usize..6).prop_map(|(role, unit)| Who {
        right_role: true,
        right_unit: true,
        role,
        unit,
        other_subject: false,
    })
}

fn moves() -> impl Strategy<Value = Move> {
    prop_oneof![
        4 => (busy_op(), right_who()).prop_map(|(o, w)| Move::Decide(o, w)),
        2 => any::<usize>().prop_map(Move::Deliver),
        1 => any::<usize>().prop_map(Move::Redeliver),
    ]
}

struct Net {
    nodes: Vec<Node>,
    /// Facts on their way: (destination node, fact).
    in_flight: Vec<(usize, Event)>,
    delivered: Vec<(usize, Event)>,
    now: DateTime<Utc>,
}

impl Net {
    fn publish(&mut self, from: usize, events: &[Event]) {
        for e in events {
            for dest in (0..self.nodes.len()).filter(|d| *d != from) {
                self.in_flight.push((dest, e.clone()));
            }
        }
    }

    /// Routing's reaction: it resolves the report once its view has every assignment approved.
    fn react(&mut self, node: usize) {
        let n = &self.nodes[node];
        if n.service != Service::Routing {
            return;
        }
        let Some((command, routing)) = n.view.as_ref().and_then(Report::resolution) else { return };
        let view = n.view.as_ref().expect("a view to resolve");
        let t = view.apply(command, &routing, self.now, &n.cal).expect("a due resolution is allowed");
        self.nodes[node].view = Some(t.report);
        self.publish(node, &t.events);
    }

    fn receive(&mut self, dest: usize, event: Event) {
        let n = &mut self.nodes[dest];
        n.held.push(event);
        // Fold whatever has become admissible, until nothing more is.
        loop {
            let mut progressed = false;
            let mut i = 0;
            while i < self.nodes[dest].held.len() {
                let n = &mut self.nodes[dest];
                let e = &n.held[i];
                let admission = match &n.view {
                    None => match Report::genesis(e) {
                        Some(v) => {
                            n.view = Some(v);
                            n.held.remove(i);
                            progressed = true;
                            continue;
                        }
                        // Decided after the report arrived, so it waits for that.
                        None => paht_domain::lifecycle::Progress::default().admit(&e.stamp),
                    },
                    Some(v) => v.seen.admit(&e.stamp),
                };
                match admission {
                    Admission::Fold => {
                        let e = n.held.remove(i);
                        n.view.as_mut().unwrap().fold(&e);
                        progressed = true;
                        self.react(dest);
                    }
                    Admission::Duplicate => {
                        n.held.remove(i);
                    }
                    Admission::Wait { .. } => i += 1,
                }
            }
            if !progressed {
                break;
            }
        }
    }

    fn decide(&mut self, op: &Op, who: &Who) {
        let Some(probe) = self.nodes.iter().find_map(|n| n.view.as_ref()) else { return };
        let owner = command(op, probe, &self.nodes[0].cal, self.now).action().owner();
        let node = self.nodes.iter().position(|n| n.service == owner).expect("every owner runs");
        let n = &self.nodes[node];
        let Some(view) = n.view.as_ref() else { return };
        let cmd = command(op, view, &n.cal, self.now);
        if cmd.action() == Action::Resolve {
            return;
        }
        let actor = actor_for(who, &cmd, view);
        if let Ok(t) = view.apply(cmd, &actor, self.now, &n.cal) {
            self.nodes[node].view = Some(t.report);
            self.publish(node, &t.events);
            self.react(node);
        }
    }
}

fn comparable(view: &Report) -> Report {
    // Only intake knows who sent the report: it is in no fact.
    Report { reporter_ref: None, ..view.clone() }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// Intake, routing, processing and publication each decide only their own actions on
    /// one report, concurrently, and fold the others' facts in whatever order the bus
    /// delivers them, some twice. Routing and processing even compute deadlines with
    /// different calendars. Once every fact is delivered, every view is the same.
    #[test]
    fn every_view_converges_whatever_the_delivery_order(
        tape in prop::collection::vec(moves(), 30..200),
        drain in prop::collection::vec(any::<usize>(), 64),
    ) {
        let london = WorkingCalendar::new(
            chrono_tz::Europe::London,
            Default::default(),
            &paht_domain::calendar::Decisions::shipped(),
        );
        let node = |service, cal| Node { service, cal, view: None, held: Vec::new() };
        let mut net = Net {
            nodes: vec![
                node(Service::Intake, WorkingCalendar::vietnam()),
                node(Service::Routing, WorkingCalendar::vietnam()),
                node(Service::Processing, london),
                node(Service::Publication, WorkingCalendar::vietnam()),
            ],
            in_flight: Vec::new(),
            delivered: Vec::new(),
            now: DateTime::parse_from_rfc3339("2027-01-04T08:00:00+07:00").unwrap().with_timezone(&Utc),
        };
        let new = NewReport {
            id: ReportId::from_uuid(Uuid::from_u128(1000)),
            instance: UnitId::new(IOC),
            reporter_ref: Some("citizen-1".into()),
            confidential: false,
        };
        let t = Report::receive(new, &Actor::new("zalo", Role::System, UnitId::new(IOC)), net.now, &net.nodes[0].cal).unwrap();
        net.nodes[0].view = Some(t.report);
        net.publish(0, &t.events);
        let delivery = |net: &mut Net, pick: usize| {
            let (dest, e) = net.in_flight.remove(pick % net.in_flight.len());
            net.delivered.push((dest, e.clone()));
            net.receive(dest, e);
        };
        for m in &tape {
            net.now += TimeDelta::minutes(37);
            match m {
                Move::Decide(op, who) => net.decide(op, who),
                Move::Deliver(pick) if !net.in_flight.is_empty() => delivery(&mut net, *pick),
                Move::Redeliver(pick) if !net.delivered.is_empty() => {
                    let (dest, e) = net.delivered[pick % net.delivered.len()].clone();
                    net.receive(dest, e);
                }
                _ => {}
            }
        }
        let mut k = 0;
        while !net.in_flight.is_empty() {
            let pick = drain[k % drain.len()].wrapping_add(k);
            delivery(&mut net, pick);
            k += 1;
        }
        let views: Vec<Report> = net.nodes.iter().map(|n| comparable(n.view.as_ref().expect("every node has the report"))).collect();
        for (n, v) in net.nodes.iter().zip(&views) {
            prop_assert!(n.held.is_empty(), "{} still holds {} facts", n.service, n.held.len());
            prop_assert_eq!(v, &views[0], "{} differs from intake", n.service);
            check_invariants(v)?;
        }
    }
}
