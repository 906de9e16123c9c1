//! The walk-through `paht` shows today: one report through its whole lifecycle
//! across the Tết 2027 break, every step with its actor, its events and the
//! working-time deadlines the calendar computed.

use std::io::Write;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use paht_domain::actor::{Actor, Role};
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::{AssignmentId, ReportId, UnitId};
use paht_domain::lifecycle::{Command, Event, EventKind, NewAssignment, NewReport, Rating, Report};
use uuid::Uuid;

use paht::calendar_cmd::local_rfc3339;

const IOC: &str = "IOC-86";
const WARD: &str = "UBND-P-LONG-CHAU";
const WATER: &str = "CAP-NUOC-VL";
const POWER: &str = "DIEN-LUC-VL";

struct Walk<'a, W: Write> {
    cal: &'a WorkingCalendar,
    report: Report,
    now: DateTime<Utc>,
    out: &'a mut W,
}

impl<W: Write> Walk<'_, W> {
    /// Moves the clock on by `minutes` of office time, as people work.
    fn after(&mut self, minutes: i64) -> anyhow::Result<()> {
        self.now = self.cal.add_working_time(self.now, TimeDelta::minutes(minutes))?;
        Ok(())
    }

    fn step(&mut self, who: &Actor, what: &str, command: Command) -> anyhow::Result<()> {
        // Routing resolves the report once every assignment at work is approved.
        let t = self.report.apply(command, who, self.now, self.cal)?.with_resolution(self.now, self.cal)?;
        self.report = t.report;
        writeln!(
            self.out,
            "{}  {:<17} {:<12} {:<48} → {}",
            local_rfc3339(self.cal, self.now),
            who.role.as_str(),
            who.unit.as_str(),
            what,
            self.report.status
        )?;
        self.print_events(&t.events)
    }

    fn print_events(&mut self, events: &[Event]) -> anyhow::Result<()> {
        for e in events {
            let due = match &e.kind {
                EventKind::ReportReceived { check, .. } => {
                    format!("check due {}", local_rfc3339(self.cal, check.due_at))
                }
                EventKind::ReportDispatched { assignments, .. } => assignments
                    .iter()
                    .map(|a| format!("{} handling due {}", a.agency, local_rfc3339(self.cal, a.handling.due_at)))
                    .collect::<Vec<_>>()
                    .join("; "),
                EventKind::AssignmentExplained { handling, .. } => {
                    format!("new handling deadline {}", local_rfc3339(self.cal, handling.due_at))
                }
                EventKind::AssignmentResultSubmitted { approval, .. } => {
                    format!("approval due {}", local_rfc3339(self.cal, approval.due_at))
                }
                EventKind::ReportResolved { answer, .. } => {
                    format!("answer due {}", local_rfc3339(self.cal, answer.due_at))
                }
                _ => String::new(),
            };
            writeln!(self.out, "{:>27} event {:<26} {due}", "", e.kind.routing_key())?;
        }
        Ok(())
    }
}

fn aid(n: u128) -> AssignmentId {
    AssignmentId::from_uuid(Uuid::from_u128(n))
}

/// Prints the walk-through.
pub fn run(out: &mut impl Write) -> anyhow::Result<()> {
    let cal = WorkingCalendar::vietnam();
    writeln!(out, "PAHT — phản ánh hiện trường. Embedded demo: one report through its lifecycle.")?;
    writeln!(out, "Calendar: Asia/Ho_Chi_Minh, Mon–Fri 07:00–11:30 and 13:30–17:00, holidays of 2027:")?;
    for day in cal.days_off(2027).iter().filter(|d| d.date.format("%m").to_string() == "02") {
        writeln!(out, "  {}  {}", day.date, day.name)?;
    }
    writeln!(out, "  … (all of them: paht calendar holidays --year 2027)\n")?;

    let system = Actor::new("channel:zalo", Role::System, UnitId::new(IOC));
    let ioc = Actor::new("operator-1", Role::IocOperator, UnitId::new(IOC));
    let officer = |u: &str| Actor::new("officer-1", Role::Officer, UnitId::new(u));
    let leader = |u: &str| Actor::new("leader-1", Role::Leader, UnitId::new(u));
    let citizen = Actor::new("citizen-1", Role::Reporter, UnitId::new("-"));

    // Thursday night before the Tết break: the clock waits for the office.
    let arrived = DateTime::parse_from_rfc3339("2027-02-04T23:00:00+07:00")?.with_timezone(&Utc);
    let new = NewReport {
        id: ReportId::from_uuid(Uuid::from_u128(0x2027)),
        instance: UnitId::new(IOC),
        reporter_ref: Some(citizen.subject.clone()),
        confidential: false,
    };
    let received = Report::receive(new, &system, arrived, &cal)?;
    writeln!(
        out,
        "{}  {:<17} {:<12} {:<48} → {}",
        local_rfc3339(&cal, arrived),
        "system",
        IOC,
        "report arrives by Zalo: broken water main floods street",
        received.report.status
    )?;
    let mut walk = Walk { cal: &cal, report: received.report, now: arrived, out };
    walk.print_events(&received.events)?;

    walk.after(20)?;
    walk.step(&ioc, "checks it: complete (R7.3a)", Command::Accept)?;
    walk.after(15)?;
    let dispatch = Command::Dispatch {
        assignments: vec![
            NewAssignment { id: aid(1), agency: UnitId::new(WATER), lead: true, instructions: None },
            NewAssignment { id: aid(2), agency: UnitId::new(WARD), lead: false, instructions: None },
        ],
    };
    walk.step(&ioc, "dispatches: water company leads, ward assists", dispatch)?;
    walk.after(120)?;
    walk.step(
        &officer(WARD),
        "ward returns it: not its competence (R8.2b)",
        Command::Return {
            assignment: aid(2),
            reason: "Sự cố đường ống thuộc thẩm quyền đơn vị cấp nước và điện lực".into(),
        },
    )?;
    walk.after(30)?;
    walk.step(
        &ioc,
        "re-dispatches to the power company (R8.2b)",
        Command::Dispatch {
            assignments: vec![NewAssignment {
                id: aid(3),
                agency: UnitId::new(POWER),
                lead: false,
                instructions: None,
            }],
        },
    )?;
    walk.after(240)?;
    walk.step(
        &officer(WATER),
        "explains: needs excavation permit (R8.2a)",
        Command::Explain {
            assignment: aid(1),
            reason: "Cần xin phép đào đường để thay ống".into(),
            expected_completion: NaiveDate::from_ymd_opt(2027, 3, 5).expect("valid date"),
        },
    )?;
    walk.after(600)?;
    walk.step(
        &officer(POWER),
        "power company moves the pole, writes result",
        Command::SubmitResult {
            assignment: aid(3),
            text: "Đã di dời trụ điện phục vụ thi công".into(),
            attachments: vec![],
        },
    )?;
    walk.after(60)?;
    walk.step(&leader(POWER), "leader approves (R9.3b)", Command::Approve { assignment: aid(3) })?;
    walk.after(2400)?;
    walk.step(
        &officer(WATER),
        "water company replaces the main, writes result",
        Command::SubmitResult {
            assignment: aid(1),
            text: "Đã thay 12 m ống D200, hoàn trả mặt đường".into(),
            attachments: vec![],
        },
    )?;
    walk.after(90)?;
    walk.step(
        &leader(WATER),
        "leader sends it back: no photos (R9.3a)",
        Command::SendBack {
            assignment: aid(1), reason: "Bổ sung hình ảnh sau khi hoàn trả mặt đường".into()
        },
    )?;
    walk.after(120)?;
    walk.step(
        &officer(WATER),
        "officer adds photos, resubmits",
        Command::SubmitResult {
            assignment: aid(1),
            text: "Đã thay 12 m ống D200, hoàn trả mặt đường (kèm ảnh)".into(),
            attachments: vec!["photo-after-1.jpg".into()],
        },
    )?;
    walk.after(30)?;
    walk.step(&leader(WATER), "leader approves: every agency done (R9.3b)", Command::Approve { assignment: aid(1) })?;
    walk.after(60)?;
    walk.step(
        &ioc,
        "edits the answer (R10.3a)",
        Command::EditAnswer {
            text: "Công ty Cấp nước đã thay đường ống bị vỡ và hoàn trả mặt đường.".into()
        },
    )?;
    walk.step(&ioc, "publishes it (R10.3a)", Command::Publish)?;
    walk.after(30)?;
    walk.step(
        &citizen,
        "citizen rates it: satisfied (R11.1)",
        Command::Rate { rating: Rating::Satisfied, feedback: None },
    )?;
    writeln!(walk.out, "\nTry: paht calendar deadline --from 2027-02-04T23:00:00+07:00 --working-days 5")?;
    Ok(())
}
