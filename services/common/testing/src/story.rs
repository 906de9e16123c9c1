//! A report's life as the other services publish it, built with the real domain.

use std::sync::Arc;

use paht_domain::actor::{Actor, Role};
use paht_domain::calendar::WorkingCalendar;
use paht_domain::ids::{ReportId, UnitId};
use paht_domain::lifecycle::{self as lc, Command, NewReport};
use paht_platform::db::Db;
use paht_platform::replica;
use paht_proto::{convert, v1};
use uuid::Uuid;

use crate::clock::vn;

/// An IOC operator of `instance`.
pub fn ioc_actor(instance: &str) -> Actor {
    Actor::new("op-1", Role::IocOperator, UnitId::new(instance))
}

/// A report moved through the domain lifecycle; each step returns the envelopes its
/// producer would publish.
pub struct Story {
    pub report: lc::Report,
    cal: Arc<WorkingCalendar>,
}

impl Story {
    /// `report.received` from intake at `at`, with the submitted `view` (content, category,
    /// place …; its lifecycle fields are filled in).
    pub fn received(
        cal: &Arc<WorkingCalendar>,
        instance: &str,
        mut view: v1::Report,
        at: &str,
    ) -> (Story, v1::EventEnvelope) {
        let new = NewReport {
            id: ReportId::from_uuid(Uuid::now_v7()),
            instance: UnitId::new(instance),
            reporter_ref: None,
            confidential: false,
        };
        let system = Actor::new("web", Role::System, UnitId::new(instance));
        let t = lc::Report::receive(new, &system, vn(at), cal).expect("the report is received");
        convert::fill_lifecycle(&mut view, &t.report, t.report.received_at);
        let event = &t.events[0];
        let envelope = convert::envelope(Uuid::now_v7(), event, convert::payload(event, &t.report, Some(view)));
        (Story { report: t.report, cal: Arc::clone(cal) }, envelope)
    }

    /// Applies a command of another service and returns its envelopes.
    pub fn step(&mut self, actor: &Actor, command: Command, at: &str) -> Vec<v1::EventEnvelope> {
        // Routing resolves the report as soon as every assignment at work is approved.
        let t = self.report.apply(command, actor, vn(at), &self.cal).and_then(|t| t.with_resolution(vn(at), &self.cal));
        let t = t.unwrap();
        self.report = t.report;
        t.events.iter().map(|e| convert::envelope(Uuid::now_v7(), e, convert::payload(e, &self.report, None))).collect()
    }

    /// `report.accepted` from intake (the category as submitted).
    pub fn accepted(&mut self, at: &str) -> v1::EventEnvelope {
        let ioc = ioc_actor(self.report.instance.as_str());
        self.step(&ioc, Command::Accept, at).remove(0)
    }

    /// Catches up with the replica in `db`: what the service under test did itself.
    pub async fn sync(&mut self, db: &Db) {
        self.report = replica::load(db.conn(), self.id()).await.expect("read the replica").expect("a replica").state;
    }

    pub fn id(&self) -> ReportId {
        self.report.id
    }
}
