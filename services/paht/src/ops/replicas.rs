//! The operator's check that every service's view of every report agrees
//! (`paht replicas check`).
//!
//! Intake (on its `reports` rows), routing and processing (each in its `report_replicas`
//! table) keep their own view of every report, folded from the owners' facts. Once every
//! fact is delivered, views that folded the same facts are equal (the property test
//! `domain/tests/lifecycle_props.rs`); this check looks at the stores themselves, report by
//! report, and names what differs.
//!
//! # What is compared
//!
//! Everything a fact states or that is derived from the facts alone — what every view must
//! agree on:
//!
//! - the report: instance, status, received at, confidentiality, category (intake's
//!   `category_id` column against the others' view, as confirmed at the check), at the
//!   IOC since, awaiting re-dispatch, the report-level open deadlines, the check and answer
//!   deadlines, refusal reason, escalation, directive, answer, rating, reopen count, the
//!   returns a dispatch answered;
//! - every assignment, by id and in dispatch order: agency, lead, status, assigned at,
//!   handling deadline, open deadlines, return check, instructions, explanation, result,
//!   return and send-back reasons, approval;
//! - the sequences: for every producer, the number of its last fact the view folded
//!   (`seen`) — a view that lags shows here first.
//!
//! Each service's denormalised `status` column is checked against its own lifecycle too,
//! so a row changed by hand is found even when its JSON was left alone.
//!
//! Not compared, because they are the service's own and need not agree: the reporter
//! reference (only intake knows who sent the report; it is in no fact), the store's save
//! counter (`version`) and `updated_at`, and the report's content as received (text, place,
//! attachments: intake keeps it in its own columns, the others a copy of `report.received`,
//! and it is personal data).
//!
//! # What is printed
//!
//! Ids, states, instants, counts and sequence numbers only. A field that holds text or a
//! person (reasons, notes, results, the answer, who approved, the rating) is compared but
//! its values are never shown: each service gets a class (`#1`, `#2`) instead.
//!
//! # Missing reports and lag
//!
//! Every service folds `report.received`, so every store should hold every report; one
//! missing from a store is a divergence ("missing in routing"). A live system may simply
//! not have delivered the latest facts yet: [`check_until`] re-reads the stores until they
//! agree or the time is up, so a lag passes and a real divergence stays.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use paht_domain::deadline::Deadline;
use paht_domain::lifecycle as lc;
use paht_platform::config::Config;
use paht_platform::db::{Db, DbError};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbErr};
use thiserror::Error;
use uuid::Uuid;

use paht_platform::service::Views;

use crate::runtime::REGISTRY;

/// A service, by its registered name.
type ServiceName = &'static str;
use crate::settings;

/// How many reports are read from each store at once.
const PAGE: usize = 500;

/// Why the check could not run.
#[derive(Debug, Error)]
pub enum CheckError {
    /// Embedded mode: a service's SQLite file is not there.
    #[error("no {service} database at {} (did `paht up` run with this data directory?)", path.display())]
    NoStore {
        /// The service.
        service: ServiceName,
        /// Where its file should be.
        path: PathBuf,
    },
    /// A database could not be opened or read.
    #[error("the {service} database: {source}")]
    Db {
        /// The service.
        service: ServiceName,
        /// What failed.
        #[source]
        source: DbError,
    },
    /// A stored lifecycle is not a lifecycle.
    #[error("the {service} view of report {report} cannot be decoded: {detail}")]
    Decode {
        /// The service.
        service: ServiceName,
        /// The report.
        report: Uuid,
        /// The decoder's message.
        detail: String,
    },
}

/// One service's stored view of one report.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// The lifecycle state.
    pub state: lc::Report,
    /// The denormalised `status` column next to it.
    pub status_column: String,
    /// The report's category as this service holds it.
    pub category: Option<String>,
}

/// What differs about one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The service has no view of the report.
    Missing(ServiceName),
    /// A service's `status` column disagrees with its own lifecycle.
    Column {
        /// The service.
        service: ServiceName,
        /// The column's value.
        column: String,
        /// The lifecycle's status.
        view: String,
    },
    /// The views differ in a field: each service with the value it holds (or its class,
    /// for fields whose values are not shown).
    Field {
        /// The field, e.g. `status` or `assignments[<id>].handling`.
        field: String,
        /// Each service holding the report, with its value as shown.
        values: Vec<(ServiceName, String)>,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Missing(service) => write!(f, "missing in {service}"),
            Difference::Column { service, column, view } => {
                write!(f, "{service} status column {column} but its view {view}")
            }
            Difference::Field { field, values } => {
                write!(f, "{field}:")?;
                for (service, value) in values {
                    write!(f, " {service}={value}")?;
                }
                Ok(())
            }
        }
    }
}

/// A report the services disagree about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The report.
    pub report: Uuid,
    /// What differs.
    pub differences: Vec<Difference>,
}

impl Divergence {
    /// The services involved: those missing the report or holding a value of a differing field.
    pub fn services(&self) -> BTreeSet<&'static str> {
        let mut out = BTreeSet::new();
        for d in &self.differences {
            match d {
                Difference::Missing(s) | Difference::Column { service: s, .. } => {
                    out.insert(*s);
                }
                Difference::Field { values, .. } => out.extend(values.iter().map(|(s, _)| *s)),
            }
        }
        out
    }

    /// The fields that differ (`missing` and `status column` included).
    pub fn fields(&self) -> Vec<String> {
        self.differences
            .iter()
            .map(|d| match d {
                Difference::Missing(_) => "missing".to_owned(),
                Difference::Column { .. } => "status column".to_owned(),
                Difference::Field { field, .. } => field.clone(),
            })
            .collect()
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "report {}:", self.report)?;
        for (i, d) in self.differences.iter().enumerate() {
            write!(f, "{} {d}", if i == 0 { "" } else { ";" })?;
        }
        Ok(())
    }
}

/// The result of one check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// How many reports were compared (every report any store holds).
    pub compared: usize,
    /// The reports that differ, by id.
    pub divergences: Vec<Divergence>,
    /// Facts each service holds back, waiting for one they were decided after (a lag).
    pub held: Vec<(ServiceName, u64)>,
}

impl Outcome {
    /// `N reports compared, M divergences`.
    pub fn summary(&self) -> String {
        format!("{} reports compared, {} divergences", self.compared, self.divergences.len())
    }

    /// Whether every view agrees.
    pub fn is_clean(&self) -> bool {
        self.divergences.is_empty()
    }
}

/// One service's store, open for reading.
pub struct Store {
    service: ServiceName,
    views: Views,
    db: Db,
}

impl Store {
    /// The service whose store this is.
    pub fn service(&self) -> ServiceName {
        self.service
    }

    fn error(&self, err: impl Into<DbError>) -> CheckError {
        CheckError::Db { service: self.service, source: err.into() }
    }

    /// `(table, id column)` of the views.
    fn table(&self) -> (&'static str, &'static str) {
        (self.views.table, self.views.id_column)
    }

    async fn ids(&self) -> Result<Vec<Uuid>, CheckError> {
        let (table, id) = self.table();
        let query = Query::select().column(Alias::new(id)).from(Alias::new(table)).to_owned();
        let rows = self.db.conn().query_all(&query).await.map_err(|e| self.error(DbError::Query(e)))?;
        rows.iter().map(|r| r.try_get::<Uuid>("", id).map_err(|e| self.error(DbError::Query(e)))).collect()
    }

    async fn load(&self, ids: &[Uuid]) -> Result<BTreeMap<Uuid, Stored>, CheckError> {
        let (table, id) = self.table();
        let query = Query::select()
            .columns([Alias::new(id), Alias::new("status"), Alias::new("category_id"), Alias::new("lifecycle")])
            .from(Alias::new(table))
            .and_where(Expr::col(Alias::new(id)).is_in(ids.iter().copied()))
            .to_owned();
        let rows = self.db.conn().query_all(&query).await.map_err(|e| self.error(DbError::Query(e)))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let get = |e: DbErr| self.error(DbError::Query(e));
            let report: Uuid = row.try_get("", id).map_err(get)?;
            let lifecycle: String = row.try_get("", "lifecycle").map_err(get)?;
            let state = serde_json::from_str(&lifecycle).map_err(|e| CheckError::Decode {
                service: self.service,
                report,
                detail: e.to_string(),
            })?;
            let stored = Stored {
                state,
                status_column: row.try_get("", "status").map_err(get)?,
                category: row.try_get::<Option<String>>("", "category_id").map_err(get)?,
            };
            out.insert(report, stored);
        }
        Ok(out)
    }

    async fn held(&self) -> Result<u64, CheckError> {
        let query =
            Query::select().expr_as(Expr::cust("COUNT(*)"), Alias::new("n")).from(Alias::new("held_facts")).to_owned();
        let row = self.db.conn().query_one(&query).await.map_err(|e| self.error(DbError::Query(e)))?;
        let n = row.map(|r| r.try_get::<i64>("", "n")).transpose().map_err(|e| self.error(DbError::Query(e)))?;
        Ok(u64::try_from(n.unwrap_or(0)).unwrap_or(0))
    }

    /// Closes the store's pool.
    pub async fn close(self) {
        let _ = self.db.close().await;
    }
}

/// Opens every service's store as the configuration names it: the SQLite files in the
/// data directory (embedded mode; a missing file is an error, never created) or the
/// suite's Postgres, one schema per service.
pub async fn open(config: &Config) -> Result<Vec<Store>, CheckError> {
    let mut stores = Vec::new();
    for registration in REGISTRY {
        let service = registration.name;
        if settings::is_embedded(config) {
            let path = config.data_dir.join(format!("{service}.db"));
            if !path.is_file() {
                return Err(CheckError::NoStore { service, path });
            }
        }
        let (url, schema) = config.database.for_service(&config.data_dir, service);
        let db = Db::connect(&url, &schema, &config.database.pool)
            .await
            .map_err(|source| CheckError::Db { service, source })?;
        stores.push(Store { service, views: registration.views, db });
    }
    Ok(stores)
}

/// Compares every report the stores hold, once.
pub async fn check(stores: &[Store]) -> Result<Outcome, CheckError> {
    let mut ids = BTreeSet::new();
    for store in stores {
        ids.extend(store.ids().await?);
    }
    let ids: Vec<Uuid> = ids.into_iter().collect();
    let mut outcome = Outcome { compared: ids.len(), ..Outcome::default() };
    for page in ids.chunks(PAGE) {
        let mut loaded = Vec::new();
        for store in stores {
            loaded.push((store.service, store.load(page).await?));
        }
        for id in page {
            let views: Vec<(ServiceName, Option<&Stored>)> = loaded.iter().map(|(s, m)| (*s, m.get(id))).collect();
            let differences = compare(&views);
            if !differences.is_empty() {
                outcome.divergences.push(Divergence { report: *id, differences });
            }
        }
    }
    for store in stores {
        outcome.held.push((store.service, store.held().await?));
    }
    Ok(outcome)
}

/// [`check`] again and again until the views agree or `wait` has passed (the services
/// may still be folding the latest facts); returns the last outcome.
pub async fn check_until(stores: &[Store], wait: Duration) -> Result<Outcome, CheckError> {
    let deadline = Instant::now() + wait;
    loop {
        let outcome = check(stores).await?;
        if outcome.is_clean() || Instant::now() >= deadline {
            return Ok(outcome);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Opens the stores of `config`, checks them (for up to `wait` while they differ) and
/// closes them.
pub async fn check_config(config: &Config, wait: Duration) -> Result<Outcome, CheckError> {
    let stores = open(config).await?;
    let outcome = check_until(&stores, wait).await;
    for store in stores {
        store.close().await;
    }
    outcome
}

/// What differs between the services' views of one report (`None`: the service has none).
pub fn compare(views: &[(ServiceName, Option<&Stored>)]) -> Vec<Difference> {
    let mut out: Vec<Difference> =
        views.iter().filter(|(_, v)| v.is_none()).map(|(s, _)| Difference::Missing(s)).collect();
    let present: Vec<(ServiceName, &Stored)> = views.iter().filter_map(|(s, v)| v.map(|v| (*s, v))).collect();
    for (service, stored) in &present {
        if stored.status_column != stored.state.status.as_str() {
            out.push(Difference::Column {
                service,
                column: stored.status_column.clone(),
                view: stored.state.status.to_string(),
            });
        }
    }
    let flat: Vec<(ServiceName, Vec<(String, Shown)>)> = present.iter().map(|(s, v)| (*s, fields(v))).collect();
    let mut keys: Vec<&str> = Vec::new();
    for (_, f) in &flat {
        for (k, _) in f {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
    }
    let absent = Shown::Public("absent".into());
    let mut differing: Vec<&str> = Vec::new();
    for key in keys {
        // A field of something that already differs (an assignment one view lacks) says nothing more.
        if differing.iter().any(|d| key.strip_prefix(d).is_some_and(|rest| rest.starts_with('.'))) {
            continue;
        }
        let values: Vec<(ServiceName, &Shown)> =
            flat.iter().map(|(s, f)| (*s, f.iter().find(|(k, _)| k == key).map_or(&absent, |(_, v)| v))).collect();
        if values.windows(2).all(|w| w[0].1 == w[1].1) {
            continue;
        }
        differing.push(key);
        let mut classes: Vec<&Shown> = Vec::new();
        let shown = values
            .iter()
            .map(|(s, v)| {
                let text = match v {
                    Shown::Public(text) => text.clone(),
                    Shown::Private(_) => {
                        let class = classes.iter().position(|c| c == v).unwrap_or_else(|| {
                            classes.push(v);
                            classes.len() - 1
                        });
                        format!("#{}", class + 1)
                    }
                };
                (*s, text)
            })
            .collect();
        out.push(Difference::Field { field: key.to_owned(), values: shown });
    }
    out
}

/// A field's value: shown as is, or compared but never shown (text, people).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shown {
    Public(String),
    Private(String),
}

#[derive(Default)]
struct Fields(Vec<(String, Shown)>);

impl Fields {
    fn public(&mut self, key: impl Into<String>, value: impl fmt::Display) {
        self.0.push((key.into(), Shown::Public(value.to_string())));
    }

    fn private(&mut self, key: impl Into<String>, value: &impl serde::Serialize) {
        let text = serde_json::to_string(value).unwrap_or_default();
        self.0.push((key.into(), Shown::Private(text)));
    }
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn deadline(d: &Deadline) -> String {
    format!("{}:{}..{}/{:?}", d.stage.as_str(), instant(d.started_at), instant(d.due_at), d.rule)
}

fn deadlines(list: &[Deadline]) -> String {
    if list.is_empty() {
        return "none".into();
    }
    list.iter().map(deadline).collect::<Vec<_>>().join(",")
}

fn maybe<T>(value: Option<&T>, show: impl Fn(&T) -> String) -> String {
    value.map_or_else(|| "none".into(), show)
}

/// The compared fields of a view, in a stable order (see the module's documentation).
fn fields(stored: &Stored) -> Vec<(String, Shown)> {
    let r = &stored.state;
    let mut f = Fields::default();
    f.public("instance", &r.instance);
    f.public("status", r.status);
    f.public("received_at", instant(r.received_at));
    f.public("confidential", r.confidential);
    f.public("category", stored.category.as_deref().filter(|c| !c.is_empty()).unwrap_or("none"));
    f.public("at_ioc_since", instant(r.at_ioc_since));
    f.public("awaiting_redispatch", r.awaiting_redispatch);
    f.public("open_deadlines", deadlines(&r.open_deadlines));
    f.public("check_deadline", maybe(r.check_deadline.as_ref(), deadline));
    f.public("answer_deadline", maybe(r.answer_deadline.as_ref(), deadline));
    f.private("refusal_reason", &r.refusal_reason);
    f.public("escalation", maybe(r.escalation.as_ref(), |e| format!("{:?}", e.reason)));
    if let Some(e) = &r.escalation {
        f.public("escalation.at", instant(e.at));
        f.public("escalation.deadline", deadline(&e.deadline));
        f.public("escalation.duplicate_of", maybe(e.duplicate_of.as_ref(), ToString::to_string));
        f.private("escalation.note", &e.note);
    }
    f.public(
        "directive",
        maybe(r.directive.as_ref(), |d| match d {
            lc::Directive::Dispatch { .. } => "dispatch".into(),
            lc::Directive::Close { .. } => "close".into(),
        }),
    );
    if let Some(d) = &r.directive {
        f.private("directive.content", d);
    }
    f.public("answer", maybe(r.answer.as_ref(), |a| instant(a.edited_at)));
    if let Some(a) = &r.answer {
        f.private("answer.content", a);
    }
    f.private("rating", &r.rating);
    f.public("reopen_count", r.reopen_count);
    f.public("answered_returns", r.answered_returns.iter().map(ToString::to_string).collect::<Vec<_>>().join(","));
    f.public("assignments", r.assignments.iter().map(|a| a.id.to_string()).collect::<Vec<_>>().join(","));
    for a in &r.assignments {
        let p = format!("assignments[{}]", a.id);
        f.public(p.clone(), "present");
        f.public(format!("{p}.agency"), &a.agency);
        f.public(format!("{p}.lead"), a.lead);
        f.public(format!("{p}.status"), a.status);
        f.public(format!("{p}.assigned_at"), instant(a.assigned_at));
        f.public(format!("{p}.handling"), deadline(&a.handling));
        f.public(format!("{p}.open_deadlines"), deadlines(&a.open_deadlines));
        f.public(format!("{p}.return_check"), maybe(a.return_check.as_ref(), deadline));
        f.private(format!("{p}.instructions"), &a.instructions);
        f.public(
            format!("{p}.explanation"),
            maybe(a.explanation.as_ref(), |e| format!("{}@{}", e.expected_completion, instant(e.at))),
        );
        if let Some(e) = &a.explanation {
            f.private(format!("{p}.explanation.reason"), &e.reason);
        }
        f.public(format!("{p}.result"), maybe(a.result.as_ref(), |r| instant(r.at)));
        if let Some(result) = &a.result {
            f.private(format!("{p}.result.content"), result);
        }
        f.private(format!("{p}.return_reason"), &a.return_reason);
        f.private(format!("{p}.send_back_reason"), &a.send_back_reason);
        f.public(format!("{p}.approval"), maybe(a.approval.as_ref(), |(_, at)| instant(*at)));
        if let Some((by, _)) = &a.approval {
            f.private(format!("{p}.approval.by"), by);
        }
    }
    for seen in &r.seen.0 {
        f.public(format!("seen[{}]", seen.producer), seen.seq);
    }
    f.0
}

#[cfg(test)]
mod tests {
    use paht_domain::actor::{Actor, Role};
    use paht_domain::calendar::WorkingCalendar;
    use paht_domain::ids::{AssignmentId, ReportId, UnitId};

    use super::*;

    const IOC: &str = "IOC-86";

    fn dispatched() -> lc::Report {
        let cal = WorkingCalendar::vietnam();
        let now = DateTime::parse_from_rfc3339("2027-01-04T08:00:00+07:00").unwrap().to_utc();
        let new = lc::NewReport {
            id: ReportId::from_uuid(Uuid::from_u128(7)),
            instance: UnitId::new(IOC),
            reporter_ref: Some("citizen-1".into()),
            confidential: false,
        };
        let system = Actor::new("zalo", Role::System, UnitId::new(IOC));
        let operator = Actor::new("op", Role::IocOperator, UnitId::new(IOC));
        let report = lc::Report::receive(new, &system, now, &cal).unwrap().report;
        let report = report.apply(lc::Command::Accept, &operator, now, &cal).unwrap().report;
        let dispatch = lc::Command::Dispatch {
            assignments: vec![lc::NewAssignment {
                id: AssignmentId::from_uuid(Uuid::from_u128(8)),
                agency: UnitId::new("SO-XD-86"),
                lead: true,
                instructions: Some("Khẩn".into()),
            }],
        };
        report.apply(dispatch, &operator, now, &cal).unwrap().report
    }

    fn stored(state: lc::Report) -> Stored {
        Stored { status_column: state.status.as_str().into(), category: Some("ha-tang".into()), state }
    }

    #[test]
    fn equal_views_do_not_differ_and_the_reporter_is_intakes_alone() {
        let routing = stored(dispatched());
        let mut intake = routing.clone();
        intake.state.reporter_ref = Some("someone".into());
        let views = [("intake", Some(&intake)), ("routing", Some(&routing)), ("processing", Some(&routing))];
        assert_eq!(compare(&views), []);
    }

    #[test]
    fn a_changed_deadline_a_missing_view_and_a_hand_edited_column_are_named() {
        let routing = stored(dispatched());
        let mut processing = routing.clone();
        processing.state.assignments[0].handling.due_at += chrono::TimeDelta::hours(1);
        processing.state.assignments[0].instructions = Some("secret text".into());
        let mut intake = routing.clone();
        intake.status_column = "resolved".into();
        let views = [("intake", Some(&intake)), ("routing", Some(&routing)), ("processing", Some(&processing))];
        let found = compare(&views);
        let divergence = Divergence { report: Uuid::from_u128(7), differences: found };
        let a = Uuid::from_u128(8);
        assert_eq!(
            divergence.fields(),
            ["status column", &format!("assignments[{a}].handling"), &format!("assignments[{a}].instructions")]
        );
        let line = divergence.to_string();
        assert!(line.contains("intake status column resolved but its view dispatched"), "{line}");
        assert!(line.contains("instructions: intake=#1 routing=#1 processing=#2"), "{line}");
        assert!(!line.contains("secret") && !line.contains("Khẩn"), "no text shown: {line}");

        let views = [("intake", Some(&intake)), ("routing", None)];
        assert_eq!(compare(&views)[0], Difference::Missing("routing"));
    }

    #[test]
    fn the_fields_of_an_assignment_one_view_lacks_are_not_listed_one_by_one() {
        let routing = stored(dispatched());
        let mut processing = routing.clone();
        processing.state.assignments.clear();
        let views = [("routing", Some(&routing)), ("processing", Some(&processing))];
        let fields = Divergence { report: Uuid::nil(), differences: compare(&views) }.fields();
        let a = Uuid::from_u128(8);
        assert_eq!(fields, ["assignments".to_owned(), format!("assignments[{a}]")]);
    }
}
