//! Facts held back until their turn (table `held_facts`): a fact decided after another
//! that this service has not folded yet waits here, durably, in the same transaction as
//! its inbox mark, and is folded as soon as the fact it waits for arrives.

use std::collections::HashSet;

use paht_domain::ids::ReportId;
use paht_domain::lifecycle::Seen;
use paht_proto::v1;
use prost::Message as _;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

use super::ReplicaError;

#[derive(sea_orm::DeriveIden)]
enum HeldFacts {
    Table,
    EventId,
    ReportId,
    Producer,
    Sequence,
    Missing,
    Envelope,
    HeldAt,
}

/// A fact waiting for its turn.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldFact {
    /// The event's id.
    pub event_id: Uuid,
    /// The report.
    pub report_id: ReportId,
    /// The producer (`instance/service`) and the fact's number.
    pub producer: String,
    /// The fact's number in its producer's sequence.
    pub sequence: u64,
    /// The first fact it waits for, as `instance/service#number`.
    pub missing: String,
    /// The envelope as it arrived.
    pub envelope: v1::EventEnvelope,
}

/// Keeps `envelope` until the fact it waits for (`missing`) arrives.
pub async fn hold(
    conn: &impl ConnectionTrait,
    event_id: Uuid,
    report_id: ReportId,
    envelope: &v1::EventEnvelope,
    missing: &Seen,
) -> Result<(), ReplicaError> {
    let insert = Query::insert()
        .into_table(HeldFacts::Table)
        .columns([
            HeldFacts::EventId,
            HeldFacts::ReportId,
            HeldFacts::Producer,
            HeldFacts::Sequence,
            HeldFacts::Missing,
            HeldFacts::Envelope,
            HeldFacts::HeldAt,
        ])
        .values([
            event_id.into(),
            report_id.0.into(),
            format!("{}/{}", envelope.instance_id, envelope.producer).into(),
            i64::try_from(envelope.sequence).unwrap_or(i64::MAX).into(),
            format!("{}#{}", missing.producer, missing.seq).into(),
            envelope.encode_to_vec().into(),
            crate::db::outbox::now_micros().into(),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(OnConflict::column(HeldFacts::EventId).do_nothing().to_owned())
        .to_owned();
    conn.execute(&insert).await?;
    Ok(())
}

fn decode(row: &sea_orm::QueryResult) -> Result<HeldFact, ReplicaError> {
    let event_id: Uuid = row.try_get("", "event_id")?;
    let envelope: Vec<u8> = row.try_get("", "envelope")?;
    let sequence: i64 = row.try_get("", "sequence")?;
    Ok(HeldFact {
        event_id,
        report_id: ReportId::from_uuid(row.try_get("", "report_id")?),
        producer: row.try_get("", "producer")?,
        sequence: u64::try_from(sequence).unwrap_or(0),
        missing: row.try_get("", "missing")?,
        envelope: v1::EventEnvelope::decode(envelope.as_slice())
            .map_err(|e| ReplicaError::Decode(format!("held fact {event_id}: {e}")))?,
    })
}

fn select() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .columns([
            HeldFacts::EventId,
            HeldFacts::ReportId,
            HeldFacts::Producer,
            HeldFacts::Sequence,
            HeldFacts::Missing,
            HeldFacts::Envelope,
        ])
        .from(HeldFacts::Table)
        .to_owned()
}

/// The facts held for one report, lowest number first.
pub async fn of_report(conn: &impl ConnectionTrait, report_id: ReportId) -> Result<Vec<HeldFact>, ReplicaError> {
    let query = select()
        .and_where(Expr::col(HeldFacts::ReportId).eq(report_id.0))
        .order_by(HeldFacts::Sequence, sea_orm::Order::Asc)
        .to_owned();
    conn.query_all(&query).await?.iter().map(decode).collect()
}

/// Which of `reports` have facts held, in one query.
pub async fn reports_holding(
    conn: &impl ConnectionTrait,
    reports: &[ReportId],
) -> Result<HashSet<ReportId>, ReplicaError> {
    if reports.is_empty() {
        return Ok(HashSet::new());
    }
    let query = Query::select()
        .distinct()
        .column(HeldFacts::ReportId)
        .from(HeldFacts::Table)
        .and_where(Expr::col(HeldFacts::ReportId).is_in(reports.iter().map(|r| r.0)))
        .to_owned();
    conn.query_all(&query).await?.iter().map(|row| Ok(ReportId::from_uuid(row.try_get("", "report_id")?))).collect()
}

/// Every held fact, oldest first, at most `limit`: for operators.
pub async fn list(conn: &impl ConnectionTrait, limit: u64) -> Result<Vec<HeldFact>, ReplicaError> {
    let query = select().order_by(HeldFacts::HeldAt, sea_orm::Order::Asc).limit(limit).to_owned();
    conn.query_all(&query).await?.iter().map(decode).collect()
}

/// Forgets a held fact once it is folded (or found to be a repeat).
pub async fn release(conn: &impl ConnectionTrait, event_id: Uuid) -> Result<(), ReplicaError> {
    let delete =
        Query::delete().from_table(HeldFacts::Table).and_where(Expr::col(HeldFacts::EventId).eq(event_id)).to_owned();
    conn.execute(&delete).await?;
    Ok(())
}
