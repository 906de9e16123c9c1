//! SubmitReport: validate (article 6), then in one transaction the report, its sealed
//! reporter and the `report.received` event; idempotent on (channel, key).

use std::net::SocketAddr;
use std::time::Duration;

use paht_domain::actor::Role;
use paht_domain::deadline::Stage;
use paht_domain::ids::ReportId;
use paht_domain::lifecycle::{NewReport, Report};
use paht_domain::tracking::TrackingCode;
use paht_domain::validation::{EventTimeSource, validate_report};
use paht_platform::auth::AuthContext;
use paht_platform::db::outbox;
use paht_proto::{convert, v1};
use uuid::Uuid;

use super::limits::Origin;
use super::{IntakeService, mapping};
use crate::error::{IntakeError, LimitScope};
use crate::store::{self, reporter};
use crate::vault::{Identity, phone_lookup_hash};

/// Tracking codes have 40 random bits; a collision is rare, several in a row mean a bug.
const TRACKING_CODE_ATTEMPTS: usize = 5;
/// The violation of an attachment id that names no upload free to use.
const UNCLAIMED: &str = "no attachment you uploaded with this id is free to use (each belongs to one report \
                         only, and to the caller who uploaded it); upload the file, then send its new id";
/// The longest channel address kept (a Zalo or Facebook id is a few dozen characters; an e-mail
/// address at most 254).
const MAX_CHANNEL_ADDRESS: usize = 320;
/// How long the cache remembers an idempotency key; the database remembers for ever.
const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

fn receipt(row: &store::report::Model) -> Result<v1::SubmitReportResponse, IntakeError> {
    let state = store::lifecycle_of(row)?;
    // The lifecycle mapping computes the open check deadline exactly as reads show it.
    let mut check = v1::Report::default();
    convert::fill_lifecycle(&mut check, &state, state.received_at);
    Ok(v1::SubmitReportResponse {
        report_id: row.id.to_string(),
        tracking_code: row.tracking_code.clone(),
        received_at: Some(convert::timestamp(row.received_at)),
        check_deadline: check.check_deadline.or_else(|| {
            // After the check the deadline is no longer open; the stored due time still answers.
            Some(v1::Deadline {
                stage: convert::stage(Stage::Check) as i32,
                started_at: Some(convert::timestamp(row.received_at)),
                due_at: Some(convert::timestamp(row.check_due_at)),
                basis: String::new(),
            })
        }),
    })
}

/// The cache key of an idempotency key: scoped like the unique index (channel, subject, key); the
/// subject is hashed so the key stays short whatever the token says.
fn idempotency_cache_key(channel: &str, subject_hash: &str, key: &str) -> String {
    format!("intake:idem:{channel}:{subject_hash}:{key}")
}

/// The receipt of the first report sent with this key, if the request is the same; otherwise the
/// refusal that the key names another request (the IETF Idempotency-Key draft's 422).
fn replay(row: &store::report::Model, request_hash: &str) -> Result<v1::SubmitReportResponse, IntakeError> {
    if row.request_hash.as_deref() != Some(request_hash) {
        return Err(IntakeError::field(
            "idempotency_key",
            "this key was already used for a different request; send a new key for a new report \
             (khóa này đã dùng cho một yêu cầu khác)",
        ));
    }
    tracing::Span::current().record("report_id", tracing::field::display(row.id));
    receipt(row)
}

impl IntakeService {
    async fn existing(
        &self,
        channel: &str,
        subject: &str,
        key: &str,
    ) -> Result<Option<store::report::Model>, IntakeError> {
        if key.is_empty() {
            return Ok(None);
        }
        // The cache is only a shortcut; the unique index decides.
        let cache_key = idempotency_cache_key(channel, &self.subject_hash(subject), key);
        if let Ok(Some(id)) = self.parts.cache.get(&cache_key).await
            && let Ok(id) = Uuid::parse_str(&id)
            && let Some(row) = store::find_report(self.parts.db.conn(), id).await?
        {
            return Ok(Some(row));
        }
        store::find_by_idempotency_key(self.parts.db.conn(), channel, subject, key).await
    }

    fn subject_hash(&self, subject: &str) -> String {
        crate::vault::keyed_hash("idempotency-subject", subject, &self.parts.phone_pepper)[..32].to_owned()
    }

    /// The violations of attachments that another report claimed while this one was validated.
    async fn claimed_attachments(&self, ids: &[Uuid], uploader: &str) -> IntakeError {
        let mut violations = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            match store::find_unclaimed_attachment(self.parts.db.conn(), *id, uploader).await {
                Ok(Some(_)) => {}
                Ok(None) => violations.push((format!("attachment_ids[{i}]"), UNCLAIMED.into())),
                Err(err) => return err,
            }
        }
        if violations.is_empty() {
            // Defensive: every id looks free again (the other submission rolled back), so a retry passes.
            violations.push(("attachment_ids".into(), "changed during submission; send the report again".into()));
        }
        IntakeError::Invalid(violations)
    }

    /// Records a new report, or returns the receipt of the first one with the same key. `peer` is
    /// the gRPC peer's address, counted when the request names no client address.
    pub(super) async fn submit(
        &self,
        auth: &AuthContext,
        peer: Option<SocketAddr>,
        req: v1::SubmitReportRequest,
    ) -> Result<v1::SubmitReportResponse, IntakeError> {
        let actor = auth.actor();
        let mut violations: Vec<(String, String)> = Vec::new();
        let channel = v1::Channel::try_from(req.channel).unwrap_or(v1::Channel::Unspecified);
        if channel == v1::Channel::Unspecified {
            violations.push(("channel".into(), "choose the channel the report came through".into()));
        }
        let channel = mapping::channel_name(channel);
        // Bounds first, before any lookup: a request with thousands of ids costs nothing (issue 10).
        let max_attachments = self.parts.rules.max_attachments;
        if req.attachment_ids.len() > max_attachments {
            let count = req.attachment_ids.len();
            violations.push((
                "attachment_ids".into(),
                format!(
                    "{count} attachments, at most {max_attachments} are allowed: keep the clearest images and videos"
                ),
            ));
            return Err(IntakeError::Invalid(violations));
        }
        let channel_address = match req.reporter.as_ref().map(|r| r.channel_address.trim()).unwrap_or_default() {
            "" => None,
            address if address.chars().count() > MAX_CHANNEL_ADDRESS => {
                violations
                    .push(("reporter.channel_address".into(), format!("at most {MAX_CHANNEL_ADDRESS} characters")));
                None
            }
            address if address.chars().any(char::is_control) => {
                violations.push(("reporter.channel_address".into(), "no control characters".into()));
                None
            }
            address => Some(address.to_owned()),
        };
        let key = req.idempotency_key.trim().to_owned();
        // The request as sent, keyed (it holds personal data): a retry sends the same bytes.
        let request_hash = {
            use sha2::Digest;
            let digest = hex::encode(sha2::Sha256::digest(prost::Message::encode_to_vec(&req)));
            crate::vault::keyed_hash("idempotency-request", &digest, &self.parts.phone_pepper)
        };
        if key.chars().count() > 200 {
            violations.push(("idempotency_key".into(), "at most 200 characters".into()));
        } else if let Some(row) = self.existing(&channel, &actor.subject, &key).await? {
            return replay(&row, &request_hash);
        }
        // Limits count only after the retry check: a retry of an accepted report costs nothing,
        // while every other attempt, valid or not, does (R19, R21.2).
        let origin =
            match Origin::resolve(auth, req.origin.as_ref(), "origin", &channel, peer, &self.parts.phone_pepper) {
                Ok(origin) => origin,
                Err(IntakeError::Invalid(mut fields)) => {
                    violations.append(&mut fields);
                    return Err(IntakeError::Invalid(violations));
                }
                Err(other) => return Err(other),
            };
        self.take(LimitScope::Sender, &origin.sender, self.parts.limits.per_sender).await?;
        if let Some(address) = &origin.address {
            self.take(LimitScope::Address, address, self.parts.limits.per_address).await?;
        }
        let mut attachments = Vec::with_capacity(req.attachment_ids.len());
        let mut attachment_ids = Vec::with_capacity(req.attachment_ids.len());
        for (i, raw) in req.attachment_ids.iter().enumerate() {
            let field = format!("attachment_ids[{i}]");
            match paht_domain::ids::parse_uuid(raw) {
                Ok(id) if attachment_ids.contains(&id) => violations.push((field, "listed twice".into())),
                Ok(id) => match store::find_unclaimed_attachment(self.parts.db.conn(), id, &actor.subject).await? {
                    Some(row) => {
                        attachment_ids.push(id);
                        attachments.push(row);
                    }
                    None => violations.push((field, UNCLAIMED.into())),
                },
                Err(e) => violations.push((field, e.to_string())),
            }
        }
        let now = mapping::now_micros();
        let draft = mapping::draft(&req, &attachments);
        let valid = match validate_report(&draft, &self.parts.rules, now) {
            Ok(valid) if violations.is_empty() => valid,
            Ok(_) => return Err(IntakeError::Invalid(violations)),
            Err(found) => {
                let mut domain = crate::error::request_violations(&found);
                domain.append(&mut violations);
                return Err(IntakeError::Invalid(domain));
            }
        };

        let id = Uuid::now_v7();
        tracing::Span::current().record("report_id", tracing::field::display(id));
        let new = NewReport {
            id: ReportId::from_uuid(id),
            instance: self.parts.instance.clone(),
            reporter_ref: (actor.role == Role::Reporter).then(|| actor.subject.clone()),
            confidential: valid.reporter.confidential,
        };
        let transition = Report::receive(new, &actor, now, &self.parts.calendar)?;
        let state = &transition.report;
        let reporter_in = req.reporter.clone().unwrap_or_default();
        let identity = Identity {
            name: valid.reporter.name.as_str().to_owned(),
            phone: valid.reporter.phone.as_e164().to_owned(),
            address: valid.reporter.address.as_str().to_owned(),
            email: valid.reporter.email.as_ref().map(|e| e.to_string()),
            channel_address,
        };
        let sealed = self.parts.vault.seal(&identity, id.to_string().as_bytes())?.to_compact();
        let show_name = reporter_in.show_name_publicly && !valid.reporter.confidential;
        let reporter_row = reporter::Model {
            report_id: id,
            sealed,
            phone_hash: phone_lookup_hash(&identity.phone, &self.parts.phone_pepper),
            show_name_publicly: show_name,
            display_name: show_name.then(|| identity.name.clone()),
        };
        let check_due_at = state
            .open_deadlines
            .iter()
            .find(|d| d.stage == Stage::Check)
            .map(|d| d.due_at)
            .ok_or_else(|| IntakeError::Corrupt("a received report has no check deadline".into()))?;
        let place = &valid.place;
        let mut row = store::report::Model {
            id,
            tracking_code: String::new(),
            instance_id: self.parts.instance.to_string(),
            channel: channel.clone(),
            category_id: valid.category_code.as_ref().map(|c| c.as_str().to_owned()),
            content: valid.content.as_str().to_owned(),
            event_time: valid.event_time.at().with_timezone(&chrono::Utc),
            event_time_assumed: valid.event_time.source() == EventTimeSource::AssumedReceived,
            latitude: place.coordinates().map(|c| c.latitude()),
            longitude: place.coordinates().map(|c| c.longitude()),
            address: place.address().map(|a| a.as_str().to_owned()),
            unit_code: place.unit_code().map(|c| c.as_str().to_owned()),
            status: state.status.as_str().to_owned(),
            check_due_at,
            received_at: now,
            lifecycle: serde_json::to_string(state).map_err(|e| IntakeError::Corrupt(e.to_string()))?,
            idempotency_key: (!key.is_empty()).then(|| key.clone()),
            idempotency_subject: (!key.is_empty()).then(|| actor.subject.clone()),
            request_hash: (!key.is_empty()).then(|| request_hash.clone()),
            updated_at: now,
        };

        for _ in 0..TRACKING_CODE_ATTEMPTS {
            let random = Uuid::new_v4().as_u64_pair().0;
            row.tracking_code = TrackingCode::from_random(random).to_string();
            let txn = self.parts.db.begin_write().await?;
            if let Err(err) = store::insert_report(&txn, row.clone(), reporter_row.clone()).await {
                drop(txn);
                if !store::is_unique_violation(&err) {
                    return Err(err.into());
                }
                // A concurrent retry with the same key won the race: answer with its report.
                if let Some(first) = self.existing(&channel, &actor.subject, &key).await? {
                    return replay(&first, &request_hash);
                }
                tracing::warn!("tracking code collision, drawing another");
                continue;
            }
            if store::link_attachments(&txn, &attachment_ids, id, &actor.subject).await? != attachment_ids.len() as u64
            {
                // A concurrent submission claimed one of them first (or the sweep removed it);
                // this one stores nothing.
                drop(txn);
                return Err(self.claimed_attachments(&attachment_ids, &actor.subject).await);
            }
            let received = mapping::report(&row, state, &attachments);
            outbox::enqueue(&txn, &mapping::messages(&transition.events, state, Some(&received), None)).await?;
            txn.commit().await?;
            self.notify();
            if !key.is_empty() {
                // Best effort: a cache outage only costs the shortcut.
                let _ = self
                    .parts
                    .cache
                    .put_if_absent(
                        &idempotency_cache_key(&channel, &self.subject_hash(&actor.subject), &key),
                        &id.to_string(),
                        IDEMPOTENCY_TTL,
                    )
                    .await;
            }
            tracing::info!(channel = %channel, "report received");
            return receipt(&row);
        }
        Err(IntakeError::Corrupt("could not draw a free tracking code".into()))
    }
}
