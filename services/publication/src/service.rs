//! The gRPC `PublicationService`: the answer of a resolved report — drafted from the approved
//! results, edited by the IOC, published (through the personal-data guard), sent privately or
//! withheld (R10.3) — and the reporter's rating (R11.1), its follow-up (R11.2) and reopening
//! (R11.3). Each decision runs on the service's replica of the report in one transaction
//! (replica, outbox, index); the domain checks role, unit and state. Spans carry report ids only.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use paht_domain::actor::{Actor, Role};
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::{ReportId, UnitId};
use paht_domain::lifecycle::{self as lc, Command, Rating, ReportStatus};
use paht_domain::privacy;
use paht_domain::tracking::TrackingCode;
use paht_intake::IntakeClient;
use paht_platform::auth::Caller;
use paht_platform::db::{Db, RelayNotifier, outbox};
use paht_platform::error::{ApiError, Condition};
use paht_platform::peers::Peer;
use paht_platform::replica::{self, Replica};
use paht_proto::convert;
use paht_proto::v1;
use paht_proto::v1::event_envelope::Payload;
use paht_routing::RoutingClient;
use uuid::Uuid;

use crate::api::Publication;
use crate::hook::PublicationIndex;
use crate::secret::RatingKey;
use crate::store::{self, Cursor};

/// Who prepares and gives answers, and follows ratings up: the IOC of the report's instance.
const IOC: &[Role] = &[Role::IocOperator];
/// Who reads the follow-up queue: the IOC, the provincial office and inspectors every item, an
/// agency's leaders and officers those of the answers their agency led (R11.2).
const FOLLOW_UP_READERS: &[Role] =
    &[Role::IocOperator, Role::ProvincialOffice, Role::Inspector, Role::Leader, Role::Officer];
/// Default and largest page of the follow-up queue.
const DEFAULT_PAGE: u64 = 50;
const MAX_PAGE: u64 = 200;
/// The purpose written to intake's audit log when the guard reads the reporter (R20.2).
pub const GUARD_PURPOSE: &str =
    "Kiểm tra dữ liệu cá nhân trước khi công bố trả lời (R6.2, R10.3a) / personal-data check of a public answer";
/// The longest rating secret read, in characters (a secret is 29).
const MAX_SECRET_CHARS: usize = 64;

/// What the answer must still be when a decision commits: the check ran on it.
#[derive(Debug, Clone, Copy)]
enum Expected<'a> {
    /// Whatever it is (the command checks what it needs).
    Any,
    /// Not edited yet: the draft was checked and is edited in by the decision.
    Draft,
    /// This text, as checked.
    Text(&'a str),
}

/// The clock the service stamps its decisions with.
pub use paht_platform::clock::Clock;

/// Everything the publication service needs, built by the process that hosts it.
pub struct PublicationParts {
    /// The service's database (migrated with [`crate::PublicationMigrator`]).
    pub db: Db,
    /// The instance's working calendar (reopened assignments' deadlines, follow-up deadlines).
    pub calendar: Arc<WorkingCalendar>,
    /// The IOC instance this service runs for.
    pub instance: UnitId,
    /// Wakes the outbox relay after a commit; `None` when the relay only polls.
    pub notifier: Option<RelayNotifier>,
    /// Derives each answer's rating secret.
    pub rating_key: RatingKey,
    /// Working days the IOC has to check an "unsatisfied" rating (R11.2).
    pub follow_up_working_days: u32,
    /// Intake: the reporter for the guard (audited), the display name of a public answer.
    pub intake: Peer<IntakeClient>,
    /// Routing: the agencies' names for the draft.
    pub routing: Peer<RoutingClient>,
}

/// The publication service: [`Publication`] in-process, and the gRPC service (its tonic adapter).
pub struct PublicationService {
    parts: PublicationParts,
    clock: Clock,
    index: PublicationIndex,
    /// The agencies' names, read from routing at most once per [`NAMES_TTL`].
    names: tokio::sync::Mutex<Option<(std::time::Instant, UnitNames)>>,
}

/// Unit id → official name.
type UnitNames = Arc<HashMap<String, String>>;

/// How long the draft's agency names are kept: a renamed unit shows in drafts within a minute
/// (the operator reads and edits every draft before it is given).
const NAMES_TTL: std::time::Duration = std::time::Duration::from_secs(60);

impl std::fmt::Debug for PublicationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicationService").field("instance", &self.parts.instance).finish_non_exhaustive()
    }
}

fn record_report(id: impl std::fmt::Display) {
    tracing::Span::current().record("report_id", tracing::field::display(id));
}

/// The guard's findings as the protocol carries them.
fn finding_view(f: &privacy::Finding) -> v1::PrivacyFinding {
    v1::PrivacyFinding {
        kind: f.kind.as_str().to_owned(),
        start: u32::try_from(f.span.start).unwrap_or(u32::MAX),
        end: u32::try_from(f.span.end).unwrap_or(u32::MAX),
        reason_vi: f.kind.reason_vi().to_owned(),
        reason_en: f.kind.reason_en().to_owned(),
    }
}

/// The refusal of a public answer the guard found personal data in (R10.3a): each finding with
/// its span and both reasons.
fn unpublishable(findings: &[privacy::Finding]) -> ApiError {
    ApiError::Unmet {
        message: format!(
            "câu trả lời chứa dữ liệu cá nhân ({} chỗ), cần sửa trước khi công bố / the answer carries personal data in {} place(s); edit it before publishing",
            findings.len(),
            findings.len()
        ),
        conditions: findings
            .iter()
            .map(|f| Condition {
                kind: f.kind.as_str().to_owned(),
                subject: format!("text[{}..{}]", f.span.start, f.span.end),
                description: format!("{} / {}", f.kind.reason_vi(), f.kind.reason_en()),
            })
            .collect(),
    }
}

/// An event outside the lifecycle (a follow-up opened or closed): no view folds it, so it has
/// no place in a producer's sequence.
fn outside_lifecycle(state: &lc::Report, actor: &Actor, at: DateTime<Utc>, payload: Payload) -> v1::EventEnvelope {
    v1::EventEnvelope {
        event_id: Uuid::now_v7().to_string(),
        report_id: state.id.to_string(),
        instance_id: state.instance.to_string(),
        occurred_at: Some(convert::timestamp(at)),
        actor: Some(convert::actor(actor)),
        producer: String::new(),
        sequence: 0,
        after: Vec::new(),
        payload: Some(payload),
    }
}

/// A tracking code from a request.
fn tracking_code(value: &str) -> Result<TrackingCode, ApiError> {
    value.parse().map_err(|e: paht_domain::tracking::TrackingCodeError| ApiError::field("tracking_code", e.to_string()))
}

/// What the reporter said, bounded before anything is read.
fn bounded_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let chars = value.chars().count();
    if chars > max {
        return Err(ApiError::field(field, format!("at most {max} characters, {chars} given")));
    }
    Ok(())
}

/// The rating a request names (the protocol's mapping), or why not.
fn rating_from(value: i32) -> Result<Rating, ApiError> {
    paht_proto::fact::rating_from(value).ok_or_else(|| match value {
        0 => ApiError::field("value", "required: SATISFIED, NORMAL or UNSATISFIED (R11.1)"),
        other => ApiError::field("value", format!("unknown rating value {other}")),
    })
}

fn follow_up_view(row: &store::follow_up::Model) -> v1::FollowUp {
    let (subject, actor) = match row.closed_by.as_deref() {
        Some(by) => (Some(by), true),
        None => (None, false),
    };
    v1::FollowUp {
        id: row.id.to_string(),
        report_id: row.report_id.to_string(),
        tracking_code: row.tracking_code.clone(),
        rating: Some(v1::Rating {
            value: v1::RatingValue::Unsatisfied as i32,
            feedback: row.feedback.clone().unwrap_or_default(),
            rated_at: Some(convert::timestamp(row.opened_at)),
        }),
        opened_at: Some(convert::timestamp(row.opened_at)),
        due_at: Some(convert::timestamp(row.due_at)),
        closed_at: row.closed_at.map(convert::timestamp),
        closed_by: actor.then(|| closed_by_actor(subject.unwrap_or_default())),
        note: row.note.clone().unwrap_or_default(),
        agency_unit_ids: row.agency_unit_ids.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
    }
}

/// `closed_by` is stored as `role unit subject`.
fn closed_by_actor(stored: &str) -> v1::Actor {
    let mut parts = stored.splitn(3, ' ');
    let role = parts.next().unwrap_or_default();
    let unit = parts.next().unwrap_or_default();
    let subject = parts.next().unwrap_or_default();
    let role = Role::ALL.into_iter().find(|r| r.as_str() == role).unwrap_or(Role::IocOperator);
    convert::actor(&Actor::new(subject, role, UnitId::new(unit)))
}

impl PublicationService {
    /// A service over ready parts (the database already migrated), on the business clock.
    pub fn new(parts: PublicationParts) -> Self {
        PublicationService {
            parts,
            clock: Arc::new(paht_platform::clock::now),
            index: PublicationIndex,
            names: tokio::sync::Mutex::new(None),
        }
    }

    /// The same service stamping its decisions with `clock` (tests, replays of a past day).
    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The service's database.
    pub fn db(&self) -> &Db {
        &self.parts.db
    }

    /// The rating key (the notifier derives the secrets it sends from it).
    pub fn rating_key(&self) -> &RatingKey {
        &self.parts.rating_key
    }

    fn now(&self) -> DateTime<Utc> {
        paht_platform::clock::micros((self.clock)())
    }

    fn notify(&self) {
        if let Some(n) = &self.parts.notifier {
            n.notify();
        }
    }

    async fn replica(&self, report_id: &str) -> Result<Replica, ApiError> {
        let id: ReportId = ApiError::parse_id("report_id", report_id)?;
        record_report(id);
        replica::load(self.parts.db.conn(), id).await?.ok_or_else(|| ApiError::NotFound(format!("report {id}")))
    }

    /// The replica a tracking code names, for the reporter's anonymous calls.
    async fn replica_by_code(&self, code: &str) -> Result<Replica, ApiError> {
        let code = tracking_code(code)?;
        let row = store::by_tracking_code(self.parts.db.conn(), &code.to_string())
            .await?
            .ok_or_else(|| ApiError::NotFound("tracking code".into()))?;
        record_report(row.report_id);
        replica::load(self.parts.db.conn(), ReportId::from_uuid(row.report_id))
            .await?
            .ok_or_else(|| ApiError::Corrupt(format!("publication row of report {} without replica", row.report_id)))
    }

    /// The IOC of another instance does not prepare this one's answers.
    fn require_instance(caller: &Caller, state: &lc::Report) -> Result<(), ApiError> {
        if caller.unit() != &state.instance {
            return Err(ApiError::Forbidden(format!(
                "report {} belongs to instance {}; the caller acts for unit {}",
                state.id,
                state.instance,
                caller.unit()
            )));
        }
        Ok(())
    }

    /// The agencies' names from routing's directory, for the draft (kept for [`NAMES_TTL`]).
    async fn unit_names(&self, caller: &Caller) -> Result<UnitNames, ApiError> {
        let mut cached = self.names.lock().await;
        if let Some((at, names)) = cached.as_ref()
            && at.elapsed() < NAMES_TTL
        {
            return Ok(names.clone());
        }
        let names = Arc::new(self.read_unit_names(caller).await?);
        *cached = Some((std::time::Instant::now(), names.clone()));
        Ok(names)
    }

    async fn read_unit_names(&self, caller: &Caller) -> Result<HashMap<String, String>, ApiError> {
        let routing = self.parts.routing.get()?;
        let mut names = HashMap::new();
        let mut token = String::new();
        loop {
            let page = v1::PageRequest { page_size: 500, page_token: token };
            let req = v1::ListUnitsRequest { page: Some(page), ..Default::default() };
            let resp = routing.list_units(caller, req).await?;
            names.extend(resp.units.into_iter().map(|u| (u.id, u.name)));
            if resp.next_page_token.is_empty() {
                return Ok(names);
            }
            token = resp.next_page_token;
        }
    }

    /// The answer's text: as edited, else drafted from the approved results.
    async fn text_of(&self, caller: &Caller, state: &lc::Report) -> Result<Option<String>, ApiError> {
        if let Some(answer) = &state.answer {
            return Ok(Some(answer.text.clone()));
        }
        let names = self.unit_names(caller).await?;
        Ok(state.draft_answer(|unit| names.get(unit.as_str()).cloned()))
    }

    /// What the guard finds in `text` for the report's reporter, read from intake's vault with the
    /// caller's own token and audited there (R20.2): the findings and the audit id.
    async fn scan(
        &self,
        caller: &Caller,
        report: ReportId,
        text: &str,
    ) -> Result<(Vec<privacy::Finding>, String), ApiError> {
        let intake = self.parts.intake.get()?;
        let req = v1::GetReporterRequest { report_id: report.to_string(), purpose: GUARD_PURPOSE.to_owned() };
        let resp = intake.get_reporter(caller, req).await?;
        let reporter = resp.reporter.unwrap_or_default();
        let name = Some(reporter.name.as_str()).filter(|n| !n.trim().is_empty());
        let address = Some(reporter.address.as_str()).filter(|a| !a.trim().is_empty());
        let guard = privacy::Reporter { name, name_public: reporter.show_name_publicly, address };
        Ok((privacy::scan(text, &guard), resp.audit_id))
    }

    /// Runs `commands` in order on the replica of `report`, locked, in one transaction; the
    /// answer must still be as `expected` (an edit in between is refused: read it again).
    async fn decide(
        &self,
        report: ReportId,
        commands: Vec<Command>,
        actor: &Actor,
        expected: Expected<'_>,
    ) -> Result<Replica, ApiError> {
        let now = self.now();
        let txn = self.parts.db.begin_write().await?;
        let mut current =
            replica::lock(&txn, report).await?.ok_or_else(|| ApiError::NotFound(format!("report {report}")))?;
        let answer = current.state.answer.as_ref().map(|a| a.text.as_str());
        let unchanged = match expected {
            Expected::Any => true,
            Expected::Draft => answer.is_none(),
            Expected::Text(text) => answer == Some(text),
        };
        if !unchanged {
            return Err(ApiError::FailedPrecondition(
                "the answer was edited while it was being checked; read it again and decide again".into(),
            ));
        }
        for command in commands {
            let executed =
                replica::execute(&txn, current, command, actor, now, &self.parts.calendar, &self.index).await?;
            current = executed.replica;
        }
        txn.commit().await?;
        self.notify();
        Ok(current)
    }

    /// The commands that give the answer as `give`, editing in the draft first when no operator
    /// edited it; tried on a copy so a refusal reads nothing and changes nothing.
    async fn giving(
        &self,
        caller: &Caller,
        replica: &Replica,
        give: Command,
    ) -> Result<(Vec<Command>, Option<String>), ApiError> {
        let actor = caller.actor();
        let now = self.now();
        let state = &replica.state;
        // Role, unit and state first, as the domain orders them, before any text is drafted.
        if state.answer.is_some() {
            state.apply(give.clone(), &actor, now, &self.parts.calendar)?;
            return Ok((vec![give], None));
        }
        let probe = state.apply(Command::EditAnswer { text: "probe".into() }, &actor, now, &self.parts.calendar);
        probe?;
        let draft = self.text_of(caller, state).await?.ok_or(ApiError::Lifecycle(lc::LifecycleError::NoAnswer))?;
        let chars = draft.chars().count();
        if chars > lc::MAX_TEXT_CHARS {
            return Err(ApiError::FailedPrecondition(format!(
                "the draft from the agencies' results has {chars} characters, over the {} an answer may have; \
                 shorten it with EditAnswer first",
                lc::MAX_TEXT_CHARS
            )));
        }
        let edit = Command::EditAnswer { text: draft.clone() };
        let edited = state.apply(edit.clone(), &actor, now, &self.parts.calendar)?;
        edited.report.apply(give.clone(), &actor, now, &self.parts.calendar)?;
        Ok((vec![edit, give], Some(draft)))
    }

    /// The reporter's proof: the rating secret of the answer given now.
    fn require_secret(&self, replica: &Replica, secret: &str) -> Result<(), ApiError> {
        if secret.trim().is_empty() {
            return Err(ApiError::field("rating_secret", "required: the secret sent with the answer (R11.1)"));
        }
        bounded_text("rating_secret", secret, MAX_SECRET_CHARS)?;
        let state = &replica.state;
        if !matches!(state.status, ReportStatus::Published | ReportStatus::AnsweredPrivately | ReportStatus::Rated) {
            // No answer is out, so no secret is valid; say what the state is, not whether it matched.
            return Err(ApiError::Lifecycle(lc::LifecycleError::WrongState {
                action: lc::Action::Rate,
                status: state.status,
            }));
        }
        if !self.parts.rating_key.verify(state.id, state.reopen_count, secret) {
            return Err(ApiError::Unauthenticated(
                "mã đánh giá không đúng với câu trả lời này / the rating secret does not match this answer".into(),
            ));
        }
        Ok(())
    }

    /// The reporter as the domain's actor: no token, proved by the secret.
    fn reporter_actor(&self, replica: &Replica) -> Actor {
        Actor::new(format!("reporter:{}", replica.view.tracking_code), Role::Reporter, replica.state.instance.clone())
    }

    fn follow_up_due(&self, at: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
        self.parts
            .calendar
            .add_working_days(at, self.parts.follow_up_working_days)
            .map_err(|e| ApiError::Internal(format!("follow-up deadline: {e}")))
    }
}

#[async_trait::async_trait]
impl Publication for PublicationService {
    #[tracing::instrument(name = "get_answer", skip_all, fields(report_id))]
    async fn get_answer(
        &self,
        caller: &Caller,
        request: v1::GetAnswerRequest,
    ) -> Result<v1::GetAnswerResponse, ApiError> {
        caller.require_role(IOC)?;
        let replica = self.replica(&request.report_id).await?;
        let state = &replica.state;
        Self::require_instance(caller, state)?;
        if state.answer_deadline.is_none() {
            return Err(ApiError::FailedPrecondition(format!(
                "report {} is {}: it has no answer before it is resolved",
                state.id, state.status
            )));
        }
        let text = self.text_of(caller, state).await?.unwrap_or_default();
        let preparing = state.status == ReportStatus::Resolved;
        let (findings, audit_id) = if preparing && !state.confidential && !text.is_empty() {
            self.scan(caller, state.id, &text).await?
        } else {
            (Vec::new(), String::new())
        };
        let mut answer = convert::answer_of(state).unwrap_or_default();
        if state.answer.is_none() {
            answer.text = text;
        }
        Ok(v1::GetAnswerResponse {
            draft: Some(v1::AnswerDraft {
                report_id: state.id.to_string(),
                tracking_code: replica.view.tracking_code.clone(),
                status: convert::report_status(state.status) as i32,
                answer: Some(answer),
                edited: state.answer.is_some(),
                findings: findings.iter().map(finding_view).collect(),
                answer_deadline: state.answer_deadline.as_ref().map(convert::deadline),
                reporter_confidential: state.confidential,
                audit_id,
            }),
        })
    }

    #[tracing::instrument(name = "edit_answer", skip_all, fields(report_id))]
    async fn edit_answer(
        &self,
        caller: &Caller,
        request: v1::EditAnswerRequest,
    ) -> Result<v1::EditAnswerResponse, ApiError> {
        bounded_text("text", &request.text, lc::MAX_TEXT_CHARS)?;
        let replica = self.replica(&request.report_id).await?;
        let id = replica.id();
        let command = Command::EditAnswer { text: request.text.clone() };
        // Tried on a copy first: a refused edit reads no reporter; then the guard, so a failing
        // read of the reporter leaves the answer as it was.
        replica.state.apply(command.clone(), &caller.actor(), self.now(), &self.parts.calendar)?;
        let findings = if replica.state.confidential {
            Vec::new()
        } else {
            self.scan(caller, id, &request.text).await?.0.iter().map(finding_view).collect()
        };
        let saved = self.decide(id, vec![command], &caller.actor(), Expected::Any).await?;
        tracing::info!("answer edited");
        Ok(v1::EditAnswerResponse { answer: convert::answer_of(&saved.state), findings })
    }

    #[tracing::instrument(name = "publish_answer", skip_all, fields(report_id))]
    async fn publish_answer(
        &self,
        caller: &Caller,
        request: v1::PublishAnswerRequest,
    ) -> Result<v1::PublishAnswerResponse, ApiError> {
        let replica = self.replica(&request.report_id).await?;
        let (commands, drafted) = self.giving(caller, &replica, Command::Publish).await?;
        let text = match (&drafted, &replica.state.answer) {
            (Some(draft), _) => draft.clone(),
            (None, Some(answer)) => answer.text.clone(),
            (None, None) => return Err(ApiError::Lifecycle(lc::LifecycleError::NoAnswer)),
        };
        let (findings, _) = self.scan(caller, replica.id(), &text).await?;
        if !findings.is_empty() {
            tracing::info!(findings = findings.len(), "answer refused by the personal-data guard");
            return Err(unpublishable(&findings));
        }
        let expected = if drafted.is_some() { Expected::Draft } else { Expected::Text(&text) };
        let saved = self.decide(replica.id(), commands, &caller.actor(), expected).await?;
        tracing::info!("answer published");
        Ok(v1::PublishAnswerResponse { answer: convert::answer_of(&saved.state) })
    }

    #[tracing::instrument(name = "answer_privately", skip_all, fields(report_id))]
    async fn answer_privately(
        &self,
        caller: &Caller,
        request: v1::AnswerPrivatelyRequest,
    ) -> Result<v1::AnswerPrivatelyResponse, ApiError> {
        bounded_text("note", &request.note, lc::MAX_NOTE_CHARS)?;
        let delivery = convert::delivery_from(request.delivery)
            .ok_or_else(|| ApiError::field("delivery", "required: PHONE, SMS, EMAIL or CHANNEL_MESSAGE (R10.3b)"))?;
        let replica = self.replica(&request.report_id).await?;
        let note = Some(request.note).filter(|n| !n.trim().is_empty());
        let (commands, drafted) = self.giving(caller, &replica, Command::AnswerPrivately { delivery, note }).await?;
        let expected = match (&drafted, &replica.state.answer) {
            (Some(_), _) => Expected::Draft,
            (None, Some(answer)) => Expected::Text(&answer.text),
            (None, None) => Expected::Any,
        };
        let saved = self.decide(replica.id(), commands, &caller.actor(), expected).await?;
        tracing::info!("answer sent privately");
        Ok(v1::AnswerPrivatelyResponse { answer: convert::answer_of(&saved.state) })
    }

    #[tracing::instrument(name = "withhold_answer", skip_all, fields(report_id))]
    async fn withhold_answer(
        &self,
        caller: &Caller,
        request: v1::WithholdAnswerRequest,
    ) -> Result<v1::WithholdAnswerResponse, ApiError> {
        bounded_text("reason", &request.reason, lc::MAX_NOTE_CHARS)?;
        let replica = self.replica(&request.report_id).await?;
        let command = Command::Withhold { legal_basis: request.reason };
        let saved =
            self.decide(replica.id(), vec![command], &caller.actor(), Expected::Any).await.map_err(|e| match e {
                ApiError::Lifecycle(lc::LifecycleError::MissingField { field: "legal_basis", .. }) => {
                    ApiError::field("reason", "required: the legal basis for withholding (R10.3c)")
                }
                ApiError::Lifecycle(ref l @ lc::LifecycleError::BadText { field: "legal_basis", .. }) => {
                    ApiError::field("reason", l.to_string())
                }
                other => other,
            })?;
        tracing::info!("answer withheld");
        Ok(v1::WithholdAnswerResponse { answer: convert::answer_of(&saved.state) })
    }

    #[tracing::instrument(name = "list_follow_ups", skip_all)]
    async fn list_follow_ups(
        &self,
        caller: &Caller,
        request: v1::ListFollowUpsRequest,
    ) -> Result<v1::ListFollowUpsResponse, ApiError> {
        caller.require_role(FOLLOW_UP_READERS)?;
        if caller.role() == Role::IocOperator && caller.unit() != &self.parts.instance {
            return Err(ApiError::Forbidden(format!(
                "the follow-ups are instance {}'s; the caller acts for unit {}",
                self.parts.instance,
                caller.unit()
            )));
        }
        let lead = matches!(caller.role(), Role::Leader | Role::Officer).then(|| caller.unit().as_str());
        let page = request.page.unwrap_or_default();
        let limit = match u64::from(page.page_size) {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let after = match page.page_token.trim() {
            "" => None,
            token => Some(
                Cursor::parse(token).ok_or_else(|| ApiError::field("page.page_token", "not a token of this list"))?,
            ),
        };
        let (rows, more) = store::follow_ups(self.parts.db.conn(), request.include_closed, lead, after, limit).await?;
        let next_page_token = match rows.last() {
            Some(last) if more => Cursor::after(last).token(),
            _ => String::new(),
        };
        Ok(v1::ListFollowUpsResponse { follow_ups: rows.iter().map(follow_up_view).collect(), next_page_token })
    }

    #[tracing::instrument(name = "close_follow_up", skip_all, fields(report_id))]
    async fn close_follow_up(
        &self,
        caller: &Caller,
        request: v1::CloseFollowUpRequest,
    ) -> Result<v1::CloseFollowUpResponse, ApiError> {
        caller.require_role(IOC)?;
        let id = ApiError::parse_uuid("follow_up_id", &request.follow_up_id)?;
        let note = request.note.trim();
        if note.is_empty() {
            return Err(ApiError::field("note", "required: what was checked and done (R11.2)"));
        }
        bounded_text("note", note, lc::MAX_NOTE_CHARS)?;
        if note.chars().any(|c| paht_domain::validation::is_forbidden_in_text(c, true)) {
            return Err(ApiError::field("note", "control or bidirectional-override characters are not allowed"));
        }
        let conn = self.parts.db.conn();
        let row = store::follow_up(conn, id).await?.ok_or_else(|| ApiError::NotFound(format!("follow-up {id}")))?;
        record_report(row.report_id);
        let state = replica::load(conn, ReportId::from_uuid(row.report_id))
            .await?
            .ok_or_else(|| ApiError::Corrupt(format!("follow-up {id} without its report")))?
            .state;
        Self::require_instance(caller, &state)?;
        let by = format!("{} {} {}", caller.role().as_str(), caller.unit(), caller.auth().claims.sub);
        let now = self.now();
        let txn = self.parts.db.begin_write().await?;
        if !store::close_follow_up(&txn, id, &by, note, now).await? {
            return Err(ApiError::FailedPrecondition(format!("follow-up {id} is already closed")));
        }
        // For reporting and the agencies that follow ratings (R11.2), in the same transaction.
        let payload =
            Payload::FollowUpClosed(v1::FollowUpClosed { follow_up_id: id.to_string(), note: note.to_owned() });
        let envelope = outside_lifecycle(&state, &caller.actor(), now, payload);
        outbox::enqueue(&txn, &[paht_platform::events::message(&envelope)]).await?;
        txn.commit().await?;
        self.notify();
        let row = store::follow_up(conn, id).await?.ok_or_else(|| ApiError::NotFound(format!("follow-up {id}")))?;
        tracing::info!("follow-up closed");
        Ok(v1::CloseFollowUpResponse { follow_up: Some(follow_up_view(&row)) })
    }

    #[tracing::instrument(name = "rate_report", skip_all, fields(report_id))]
    async fn rate_report(&self, request: v1::RateReportRequest) -> Result<v1::RateReportResponse, ApiError> {
        let rating = rating_from(request.value)?;
        bounded_text("feedback", &request.feedback, lc::MAX_NOTE_CHARS)?;
        if request.feedback.chars().any(|c| paht_domain::validation::is_forbidden_in_text(c, true)) {
            return Err(ApiError::field("feedback", "control or bidirectional-override characters are not allowed"));
        }
        let replica = self.replica_by_code(&request.tracking_code).await?;
        self.require_secret(&replica, &request.rating_secret)?;
        let actor = self.reporter_actor(&replica);
        let feedback = Some(request.feedback.trim().to_owned()).filter(|f| !f.is_empty());
        let round = replica.state.reopen_count;
        let now = self.now();
        // One transaction: the rating and, for "unsatisfied", its follow-up item (R11.2).
        let txn = self.parts.db.begin_write().await?;
        let locked = replica::lock(&txn, replica.id())
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("report {}", replica.id())))?;
        if locked.state.reopen_count != round {
            return Err(ApiError::FailedPrecondition(
                "the report was reopened meanwhile: the answer rated is no longer its answer".into(),
            ));
        }
        let command = Command::Rate { rating, feedback: feedback.clone() };
        let executed = replica::execute(&txn, locked, command, &actor, now, &self.parts.calendar, &self.index).await?;
        let mut follow_up_id = String::new();
        if rating == Rating::Unsatisfied {
            let state = &executed.replica.state;
            let approved: Vec<&lc::Assignment> =
                state.assignments.iter().filter(|a| a.status == lc::AssignmentStatus::Approved).collect();
            let lead = approved.iter().find(|a| a.lead).or(approved.first()).map(|a| a.agency.to_string());
            let id = Uuid::now_v7();
            let item = store::follow_up::Model {
                id,
                report_id: state.id.0,
                tracking_code: executed.replica.view.tracking_code.clone(),
                round: i32::try_from(round).unwrap_or(i32::MAX),
                rating: rating.as_str().to_owned(),
                feedback,
                lead_agency_unit_id: lead.unwrap_or_default(),
                agency_unit_ids: approved.iter().map(|a| a.agency.to_string()).collect::<Vec<_>>().join(","),
                opened_at: now,
                due_at: self.follow_up_due(now)?,
                closed_at: None,
                closed_by: None,
                note: None,
            };
            let opened = v1::FollowUpOpened {
                follow_up_id: id.to_string(),
                rating: Some(v1::Rating {
                    value: convert::rating(rating) as i32,
                    feedback: item.feedback.clone().unwrap_or_default(),
                    rated_at: Some(convert::timestamp(now)),
                }),
                due_at: Some(convert::timestamp(item.due_at)),
                lead_agency_unit_id: item.lead_agency_unit_id.clone(),
                agency_unit_ids: approved.iter().map(|a| a.agency.to_string()).collect(),
                round,
            };
            if store::open_follow_up(&txn, item).await? {
                let envelope = outside_lifecycle(state, &actor, now, Payload::FollowUpOpened(opened));
                outbox::enqueue(&txn, &[paht_platform::events::message(&envelope)]).await?;
            }
            follow_up_id = id.to_string();
        }
        txn.commit().await?;
        self.notify();
        tracing::info!(rating = rating.as_str(), "report rated");
        let rating = executed.replica.state.rating.as_ref().map(|(r, f)| v1::Rating {
            value: convert::rating(*r) as i32,
            feedback: f.clone().unwrap_or_default(),
            rated_at: Some(convert::timestamp(now)),
        });
        Ok(v1::RateReportResponse { rating, follow_up_id })
    }

    #[tracing::instrument(name = "reopen_report", skip_all, fields(report_id))]
    async fn reopen_report(&self, request: v1::ReopenReportRequest) -> Result<v1::ReopenReportResponse, ApiError> {
        bounded_text("reason", &request.reason, lc::MAX_NOTE_CHARS)?;
        let replica = self.replica_by_code(&request.tracking_code).await?;
        self.require_secret(&replica, &request.rating_secret)?;
        let actor = self.reporter_actor(&replica);
        let command = Command::Reopen { feedback: request.reason };
        let saved = self.decide(replica.id(), vec![command], &actor, Expected::Any).await.map_err(|e| match e {
            ApiError::Lifecycle(
                ref l @ (lc::LifecycleError::MissingField { .. } | lc::LifecycleError::BadText { .. }),
            ) => ApiError::field("reason", l.to_string()),
            other => other,
        })?;
        tracing::info!(reopen_count = saved.state.reopen_count, "report reopened");
        Ok(v1::ReopenReportResponse {
            report_id: saved.id().to_string(),
            status: convert::report_status(saved.state.status) as i32,
        })
    }

    #[tracing::instrument(name = "get_published_answer", skip_all, fields(report_id))]
    async fn get_published_answer(
        &self,
        request: v1::GetPublishedAnswerRequest,
    ) -> Result<v1::GetPublishedAnswerResponse, ApiError> {
        let replica = self.replica_by_code(&request.tracking_code).await?;
        let state = &replica.state;
        // Nothing tells a private or withheld answer from none at all (R10.3b, R10.3c).
        let answer = state.answer.as_ref().filter(|_| state.answer_is_public());
        let answer = answer.ok_or_else(|| ApiError::NotFound("published answer".into()))?;
        // The name only when the reporter chose to show it (intake's public view knows).
        let intake = self.parts.intake.get()?;
        let public = intake
            .get_report_by_tracking_code(v1::GetReportByTrackingCodeRequest {
                tracking_code: replica.view.tracking_code.clone(),
            })
            .await?
            .report
            .unwrap_or_default();
        let agencies = state
            .assignments
            .iter()
            .filter(|a| a.status == lc::AssignmentStatus::Approved)
            .map(|a| a.agency.to_string())
            .collect();
        Ok(v1::GetPublishedAnswerResponse {
            published_answer: Some(v1::PublishedAnswer {
                tracking_code: replica.view.tracking_code.clone(),
                category_id: replica.category_id().unwrap_or_default().to_owned(),
                content: replica.view.content.clone(),
                answer_text: answer.text.clone(),
                published_at: answer.decided_at.map(convert::timestamp),
                agency_unit_ids: agencies,
                // The value only: the reporter's feedback is for the IOC (it may name them).
                rating: state.rating.as_ref().map(|(r, _)| v1::Rating {
                    value: convert::rating(*r) as i32,
                    feedback: String::new(),
                    rated_at: None,
                }),
                reporter_display_name: public.reporter_display_name,
            }),
        })
    }
}
