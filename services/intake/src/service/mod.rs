//! The intake service — submission with idempotency, the completeness check
//! (accept / refuse), staff and public reads, and the audited read of the reporter.
//! Spans carry report ids only; personal data is never logged.

mod limits;
mod mapping;
mod submit;
mod sweep;
mod upload;

use std::sync::Arc;

use paht_domain::actor::Role;
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::UnitId;
use paht_domain::lifecycle::Command;
use paht_domain::tracking::TrackingCode;
use paht_domain::validation::SubmissionRules;
use paht_platform::auth::Caller;
use paht_platform::cache::Cache;
use paht_platform::db::{Db, RelayNotifier, outbox};
use paht_platform::peers::Peer;
use paht_proto::v1;
use paht_routing::RoutingClient;
use uuid::Uuid;

use crate::api::{Intake, UploadStream};
use crate::blob::BlobStore;
use crate::error::IntakeError;
use crate::store::{self, audit};
use crate::vault::Vault;

pub use mapping::{channel_from_name, channel_name};

/// Who submits reports and uploads their attachments: channel adapters and the portal backend
/// (system), citizens with an account (reporter), and IOC operators typing in hotline calls.
const SUBMITTERS: &[Role] = &[Role::System, Role::Reporter, Role::IocOperator];
/// Staff who read reports (never the reporter's identity).
const STAFF_READERS: &[Role] = &Role::STAFF;
/// Who lists an IOC's check queue.
const QUEUE_READERS: &[Role] = &[Role::IocOperator, Role::ProvincialOffice, Role::System];
/// Who checks a report: accepts or refuses it (R7.3a).
const CHECKERS: &[Role] = &[Role::IocOperator];
/// The authorities that may read a reporter's identity, when competent for the report (R6.2).
const IDENTITY_READERS: &[Role] = &[Role::IocOperator, Role::Officer, Role::Leader, Role::ProvincialOffice];

/// The longest purpose of a read of the reporter's identity, written to the audit log (R20.2).
const MAX_PURPOSE_CHARS: usize = 500;

/// Default and largest page of the check queue.
const DEFAULT_PAGE: u64 = 50;
const MAX_PAGE: u64 = 200;

/// Everything the intake service needs, built by the process that hosts it.
pub struct IntakeParts {
    /// The service's database (migrated with [`crate::IntakeMigrator`]).
    pub db: Db,
    /// Shared cache: fast path for idempotency keys.
    pub cache: Arc<dyn Cache>,
    /// Seals reporter identities (R20.1).
    pub vault: Arc<Vault>,
    /// Attachment bytes.
    pub blobs: Arc<BlobStore>,
    /// Working calendar for the R7.2 check deadline.
    pub calendar: Arc<WorkingCalendar>,
    /// What a report must contain (article 6).
    pub rules: SubmissionRules,
    /// The IOC instance this service receives reports for.
    pub instance: UnitId,
    /// Secret pepper of the phone lookup hash.
    pub phone_pepper: Vec<u8>,
    /// Submission and upload rate limits (R19, R21.2).
    pub limits: crate::config::RateLimits,
    /// How long uploads no report claimed are kept.
    pub uploads: crate::config::UploadsConfig,
    /// Wakes the outbox relay after a commit; `None` when the relay only polls.
    pub notifier: Option<RelayNotifier>,
    /// Routing's API, owner of the directory: acceptance checks the category there (R13.5).
    pub routing: Peer<RoutingClient>,
}

/// The intake gRPC service.
pub struct IntakeService {
    parts: IntakeParts,
}

impl std::fmt::Debug for IntakeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeService").field("instance", &self.parts.instance).finish_non_exhaustive()
    }
}

impl IntakeService {
    /// A service over ready parts (the database already migrated).
    pub fn new(parts: IntakeParts) -> Self {
        IntakeService { parts }
    }

    fn notify(&self) {
        if let Some(n) = &self.parts.notifier {
            n.notify();
        }
    }

    /// Accept or refuse: load, apply, save and enqueue the events in one transaction.
    async fn check(
        &self,
        actor: paht_domain::actor::Actor,
        report_id: &str,
        command: Command,
        category: Option<String>,
    ) -> Result<v1::Report, IntakeError> {
        let id = IntakeError::parse_uuid("report_id", report_id)?;
        tracing::Span::current().record("report_id", tracing::field::display(id));
        let now = mapping::now_micros();
        let txn = self.parts.db.begin_write().await?;
        let row = store::find_report(&txn, id).await?.ok_or_else(|| IntakeError::NotFound(format!("report {id}")))?;
        let state = store::lifecycle_of(&row)?;
        let transition = state.apply(command, &actor, now, &self.parts.calendar)?;
        let row = store::update_lifecycle(&txn, row, &transition.report, category, now).await?;
        let category = row.category_id.clone();
        outbox::enqueue(&txn, &mapping::messages(&transition.events, &transition.report, None, category.as_deref()))
            .await?;
        let attachments = store::attachments_of(&txn, id).await?;
        txn.commit().await.map_err(IntakeError::from)?;
        self.notify();
        tracing::info!(status = %transition.report.status, "report checked");
        Ok(mapping::report(&row, &transition.report, &attachments))
    }
}

impl IntakeService {
    /// The category a report is accepted under — the one the operator gives, else the one it
    /// was submitted with — must be in routing's directory and not retired (R13.5); the
    /// refusal lists the categories that may be used. A report without any is accepted as is
    /// (routing's rules then file it). Asked before the check's transaction, with the
    /// operator's own token, so a slow directory never holds the report's row.
    async fn check_category(&self, caller: &Caller, report_id: &str, given: Option<&str>) -> Result<(), IntakeError> {
        let category = match given {
            Some(category) => category.to_owned(),
            None => {
                let id = IntakeError::parse_uuid("report_id", report_id)?;
                let row = store::find_report(self.parts.db.conn(), id)
                    .await?
                    .ok_or_else(|| IntakeError::NotFound(format!("report {id}")))?;
                match row.category_id {
                    Some(category) => category,
                    None => return Ok(()),
                }
            }
        };
        let listed = self
            .parts
            .routing
            .get()?
            .list_categories(caller, v1::ListCategoriesRequest { include_retired: true })
            .await?
            .categories;
        let problem = match listed.iter().find(|c| c.id == category) {
            Some(c) if !c.retired => return Ok(()),
            Some(_) => "đã ngừng sử dụng / is retired",
            None => "không có trong danh mục / is not in the directory",
        };
        let valid: Vec<&str> = listed.iter().filter(|c| !c.retired).map(|c| c.id.as_str()).collect();
        let from = if given.is_some() { "" } else { " (the report's own; give category_id)" };
        Err(IntakeError::field(
            "category_id",
            format!("lĩnh vực {category:?} {problem}{from}; chọn một trong / one of: {}", valid.join(", ")),
        ))
    }
}

/// The business logic of every RPC; the tonic service is the adapter `paht_platform::service_api!`
/// writes over it (see [`crate::api`]).
#[async_trait::async_trait]
impl Intake for IntakeService {
    #[tracing::instrument(name = "submit_report", skip_all, fields(report_id))]
    async fn submit_report(
        &self,
        caller: &Caller,
        request: v1::SubmitReportRequest,
    ) -> Result<v1::SubmitReportResponse, IntakeError> {
        caller.require_role(SUBMITTERS)?;
        self.submit(caller, caller.peer(), request).await
    }

    #[tracing::instrument(name = "upload_attachment", skip_all, fields(attachment_id))]
    async fn upload_attachment(
        &self,
        caller: &Caller,
        messages: UploadStream,
    ) -> Result<v1::UploadAttachmentResponse, IntakeError> {
        caller.require_role(SUBMITTERS)?;
        let attachment = self.upload(caller, caller.peer(), messages).await?;
        Ok(v1::UploadAttachmentResponse { attachment: Some(attachment) })
    }

    #[tracing::instrument(name = "get_report_by_tracking_code", skip_all, fields(report_id))]
    async fn get_report_by_tracking_code(
        &self,
        request: v1::GetReportByTrackingCodeRequest,
    ) -> Result<v1::GetReportByTrackingCodeResponse, IntakeError> {
        // Anonymous by design: the code itself is the credential (mounted behind AuthGuard's
        // anonymous list).
        let code: TrackingCode =
            request.tracking_code.parse().map_err(|e: paht_domain::tracking::TrackingCodeError| {
                IntakeError::field("tracking_code", e.to_string())
            })?;
        let conn = self.parts.db.conn();
        let row = store::find_by_tracking_code(conn, &code.to_string())
            .await?
            .ok_or_else(|| IntakeError::NotFound("tracking code".into()))?;
        tracing::Span::current().record("report_id", tracing::field::display(row.id));
        let state = store::lifecycle_of(&row)?;
        let display = store::find_reporter(conn, row.id).await?.and_then(|r| r.display_name);
        Ok(v1::GetReportByTrackingCodeResponse { report: Some(mapping::public_view(&row, &state, display)) })
    }

    #[tracing::instrument(name = "get_report", skip_all, fields(report_id))]
    async fn get_report(
        &self,
        caller: &Caller,
        request: v1::GetReportRequest,
    ) -> Result<v1::GetReportResponse, IntakeError> {
        caller.require_role(STAFF_READERS)?;
        let id = IntakeError::parse_uuid("report_id", &request.report_id)?;
        tracing::Span::current().record("report_id", tracing::field::display(id));
        let conn = self.parts.db.conn();
        let row = store::find_report(conn, id).await?.ok_or_else(|| IntakeError::NotFound(format!("report {id}")))?;
        let state = store::lifecycle_of(&row)?;
        let attachments = store::attachments_of(conn, id).await?;
        Ok(v1::GetReportResponse { report: Some(mapping::report(&row, &state, &attachments)) })
    }

    #[tracing::instrument(name = "list_check_queue", skip_all)]
    async fn list_check_queue(
        &self,
        caller: &Caller,
        request: v1::ListCheckQueueRequest,
    ) -> Result<v1::ListCheckQueueResponse, IntakeError> {
        caller.require_role(QUEUE_READERS)?;
        let req = &request;
        let instance =
            if req.instance_id.trim().is_empty() { caller.unit().clone() } else { UnitId::new(req.instance_id.trim()) };
        // An operator sees the queue of their own IOC only.
        if caller.role() == Role::IocOperator {
            caller.require_unit(&instance)?;
        }
        let page = req.page.clone().unwrap_or_default();
        let limit = match u64::from(page.page_size) {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let offset = if page.page_token.is_empty() {
            0
        } else {
            page.page_token.parse::<u64>().map_err(|_| IntakeError::field("page.page_token", "unknown page token"))?
        };
        let conn = self.parts.db.conn();
        let (rows, more) = store::check_queue(conn, instance.as_str(), offset, limit).await?;
        let mut reports = Vec::with_capacity(rows.len());
        for row in &rows {
            let state = store::lifecycle_of(row)?;
            reports.push(mapping::report(row, &state, &store::attachments_of(conn, row.id).await?));
        }
        let next_page_token = if more { (offset + limit).to_string() } else { String::new() };
        Ok(v1::ListCheckQueueResponse { reports, next_page_token })
    }

    #[tracing::instrument(name = "accept_report", skip_all, fields(report_id))]
    async fn accept_report(
        &self,
        caller: &Caller,
        req: v1::AcceptReportRequest,
    ) -> Result<v1::AcceptReportResponse, IntakeError> {
        caller.require_role(CHECKERS)?;
        let actor = caller.actor();
        let category = req.category_id.trim();
        let category = if category.is_empty() {
            None
        } else {
            let code = paht_domain::validation::Code::parse(category)
                .map_err(|_| IntakeError::field("category_id", "not a category id"))?;
            Some(code.as_str().to_owned())
        };
        self.check_category(caller, &req.report_id, category.as_deref()).await?;
        let report = self.check(actor, &req.report_id, Command::Accept, category).await?;
        Ok(v1::AcceptReportResponse { report: Some(report) })
    }

    #[tracing::instrument(name = "refuse_report", skip_all, fields(report_id))]
    async fn refuse_report(
        &self,
        caller: &Caller,
        req: v1::RefuseReportRequest,
    ) -> Result<v1::RefuseReportResponse, IntakeError> {
        caller.require_role(CHECKERS)?;
        let actor = caller.actor();
        let report = self.check(actor, &req.report_id, Command::Refuse { reason: req.reason }, None).await?;
        Ok(v1::RefuseReportResponse { report: Some(report) })
    }

    #[tracing::instrument(name = "get_reporter", skip_all, fields(report_id))]
    async fn get_reporter(
        &self,
        caller: &Caller,
        request: v1::GetReporterRequest,
    ) -> Result<v1::GetReporterResponse, IntakeError> {
        caller.require_role(IDENTITY_READERS)?;
        let req = &request;
        let id = IntakeError::parse_uuid("report_id", &req.report_id)?;
        tracing::Span::current().record("report_id", tracing::field::display(id));
        let purpose = req.purpose.trim();
        if purpose.is_empty() {
            return Err(IntakeError::field("purpose", "state why the reporter's data is needed (R20.2)"));
        }
        if purpose.chars().count() > MAX_PURPOSE_CHARS {
            return Err(IntakeError::field("purpose", format!("at most {MAX_PURPOSE_CHARS} characters")));
        }
        if purpose.chars().any(|c| paht_domain::validation::is_forbidden_in_text(c, false)) {
            return Err(IntakeError::field(
                "purpose",
                "one line of plain text: no control or direction-changing characters",
            ));
        }
        let txn = self.parts.db.begin_write().await.map_err(IntakeError::from)?;
        let row = store::find_report(&txn, id).await?.ok_or_else(|| IntakeError::NotFound(format!("report {id}")))?;
        let state = store::lifecycle_of(&row)?;
        // Only the authorities handling this report (R6.2): its IOC, an agency it was
        // dispatched to, or the provincial office.
        let competent = match caller.role() {
            Role::IocOperator => caller.unit() == &state.instance,
            Role::Officer | Role::Leader => state.active_assignments().any(|a| &a.agency == caller.unit()),
            _ => true,
        };
        if !competent {
            return Err(IntakeError::Forbidden(format!("unit {} does not handle this report", caller.unit())));
        }
        let reporter =
            store::find_reporter(&txn, id).await?.ok_or_else(|| IntakeError::NotFound(format!("reporter of {id}")))?;
        let identity =
            self.parts.vault.open_compact(&reporter.sealed, id.to_string().as_bytes()).map_err(IntakeError::from)?;
        let audit_id = Uuid::now_v7();
        store::insert_audit(
            &txn,
            audit::Model {
                id: audit_id,
                at: mapping::now_micros(),
                subject: caller.claims.sub.clone(),
                role: caller.role().as_str().to_owned(),
                unit: caller.unit().to_string(),
                action: "reporter.read".into(),
                report_id: id,
                purpose: purpose.to_owned(),
            },
        )
        .await?;
        txn.commit().await.map_err(IntakeError::from)?;
        tracing::info!(%audit_id, "reporter identity read");
        Ok(v1::GetReporterResponse {
            reporter: Some(v1::Reporter {
                name: identity.name,
                address: identity.address,
                phone: identity.phone,
                email: identity.email.unwrap_or_default(),
                confidential: state.confidential,
                show_name_publicly: reporter.show_name_publicly,
                channel_address: identity.channel_address.unwrap_or_default(),
            }),
            audit_id: audit_id.to_string(),
        })
    }
}
