//! Who decides what, and how a fact finds its place among the others.
//!
//! Every transition of a report is decided by exactly one service, its owner
//! ([`Action::owner`], [`EventKind::producer`]). The owner checks the command; every other
//! service folds the owner's fact into its own view as stated ([`Report::fold`]) and never
//! refuses it. Each fact carries a [`Stamp`]: its producer (instance and service), its
//! number in that producer's sequence for the report, and the numbers of the other
//! producers' facts the producer had folded when it decided (`after`). A view folds a
//! fact only once it has folded everything the fact was decided after ([`Admission`]):
//! a gap waits, a repeat is skipped, and facts decided without knowing of each other
//! (routing's and processing's, concurrently) fold to the same view in either order.
//!
//! [`Report::fold`]: super::Report::fold
//! [`EventKind::producer`]: super::EventKind::producer

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::command::Action;
use crate::ids::UnitId;

/// A service of the suite that owns decisions about reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// Receives reports and checks them: receive, accept, refuse.
    Intake,
    /// Dispatch, re-dispatch, escalation, directive, duplicate links, resolution.
    Routing,
    /// Each assignment's actions: return, explain, result, approval, send-back.
    Processing,
    /// The answer, its publication, the rating and reopening.
    Publication,
}

impl Service {
    /// Every service that owns decisions.
    pub const ALL: [Service; 4] = [Service::Intake, Service::Routing, Service::Processing, Service::Publication];

    /// The service's name, as in configuration and `paht serve --services`.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Intake => "intake",
            Service::Routing => "routing",
            Service::Processing => "processing",
            Service::Publication => "publication",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not one of a service's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown service {0:?} (expected intake, routing, processing or publication)")]
pub struct UnknownService(pub String);

impl FromStr for Service {
    type Err = UnknownService;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Service::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| UnknownService(s.to_string()))
    }
}

impl Action {
    /// The one service that checks and decides this action.
    pub fn owner(self) -> Service {
        match self {
            Action::Accept | Action::Refuse => Service::Intake,
            Action::Dispatch | Action::Escalate | Action::Direct | Action::Resolve => Service::Routing,
            Action::Return | Action::Explain | Action::SubmitResult | Action::Approve | Action::SendBack => {
                Service::Processing
            }
            Action::EditAnswer
            | Action::Publish
            | Action::AnswerPrivately
            | Action::Withhold
            | Action::Rate
            | Action::Reopen => Service::Publication,
        }
    }
}

/// Who produced a fact: the IOC instance and the service that decided it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Producer {
    /// The IOC instance where the fact was decided.
    pub instance: UnitId,
    /// The owning service.
    pub service: Service,
}

impl fmt::Display for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.instance, self.service)
    }
}

/// How far a view has folded one producer's facts about a report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Seen {
    /// The producer.
    pub producer: Producer,
    /// The number of its last fact folded (facts are numbered from 1).
    pub seq: u64,
}

/// A fact's place: producer, number, and what the producer had folded of the others.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// Who decided it.
    pub producer: Producer,
    /// Its number in the producer's sequence for this report, from 1.
    pub seq: u64,
    /// The other producers' facts the producer had folded when it decided, by last number.
    pub after: Vec<Seen>,
}

/// Whether a view can fold a fact now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Fold it.
    Fold,
    /// The view has it already.
    Duplicate,
    /// Something it was decided after has not been folded yet: keep it until that arrives.
    Wait {
        /// The first missing fact: producer and number.
        missing: Seen,
    },
}

/// A set of last numbers per producer, kept sorted by producer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Progress(pub Vec<Seen>);

impl Progress {
    /// The number of the last fact of `producer` folded, 0 for none.
    pub fn get(&self, producer: &Producer) -> u64 {
        self.0.iter().find(|s| &s.producer == producer).map_or(0, |s| s.seq)
    }

    /// Records that `producer`'s facts up to `seq` are folded.
    pub fn advance(&mut self, producer: &Producer, seq: u64) {
        match self.0.binary_search_by(|s| s.producer.cmp(producer)) {
            Ok(i) => self.0[i].seq = self.0[i].seq.max(seq),
            Err(i) => self.0.insert(i, Seen { producer: producer.clone(), seq }),
        }
    }

    /// Whether `stamp` can be folded after what this records.
    pub fn admit(&self, stamp: &Stamp) -> Admission {
        let have = self.get(&stamp.producer);
        if stamp.seq <= have {
            return Admission::Duplicate;
        }
        if stamp.seq > have + 1 {
            return Admission::Wait { missing: Seen { producer: stamp.producer.clone(), seq: have + 1 } };
        }
        match stamp.after.iter().find(|s| self.get(&s.producer) < s.seq) {
            Some(s) => {
                Admission::Wait { missing: Seen { producer: s.producer.clone(), seq: self.get(&s.producer) + 1 } }
            }
            None => Admission::Fold,
        }
    }

    /// The stamp of the next fact `producer` decides after what this records.
    pub fn next_stamp(&self, producer: Producer) -> Stamp {
        let seq = self.get(&producer) + 1;
        let after = self.0.iter().filter(|s| s.producer != producer && s.seq > 0).cloned().collect();
        Stamp { producer, seq, after }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn producer(service: Service) -> Producer {
        Producer { instance: UnitId::new("IOC-86"), service }
    }

    fn seen(service: Service, seq: u64) -> Seen {
        Seen { producer: producer(service), seq }
    }

    #[test]
    fn the_next_fact_folds_a_repeat_is_skipped_and_a_gap_waits() {
        let mut p = Progress::default();
        p.advance(&producer(Service::Intake), 2);
        let intake = |seq| Stamp { producer: producer(Service::Intake), seq, after: vec![] };
        assert_eq!(p.admit(&intake(3)), Admission::Fold);
        assert_eq!(p.admit(&intake(2)), Admission::Duplicate);
        assert_eq!(p.admit(&intake(1)), Admission::Duplicate);
        assert_eq!(p.admit(&intake(5)), Admission::Wait { missing: seen(Service::Intake, 3) });
    }

    #[test]
    fn a_fact_waits_for_what_its_producer_had_folded() {
        let mut p = Progress::default();
        p.advance(&producer(Service::Intake), 2);
        let approve = Stamp {
            producer: producer(Service::Processing),
            seq: 1,
            after: vec![seen(Service::Intake, 2), seen(Service::Routing, 1)],
        };
        assert_eq!(p.admit(&approve), Admission::Wait { missing: seen(Service::Routing, 1) });
        p.advance(&producer(Service::Routing), 1);
        assert_eq!(p.admit(&approve), Admission::Fold);
    }

    #[test]
    fn a_producer_numbers_its_facts_and_names_what_it_had_seen_of_the_others() {
        let mut p = Progress::default();
        p.advance(&producer(Service::Routing), 4);
        p.advance(&producer(Service::Intake), 2);
        let next = p.next_stamp(producer(Service::Routing));
        assert_eq!(next.seq, 5);
        assert_eq!(next.after, vec![seen(Service::Intake, 2)]);
        // Kept sorted, so equal progress serialises equally in every view.
        assert_eq!(p.0.iter().map(|s| s.producer.service).collect::<Vec<_>>(), [Service::Intake, Service::Routing]);
    }

    #[test]
    fn every_action_has_one_owner_and_names_parse_back() {
        let owners: Vec<Service> = Action::ALL.iter().map(|a| a.owner()).collect();
        assert_eq!(owners.iter().filter(|s| **s == Service::Intake).count(), 2);
        assert_eq!(owners.iter().filter(|s| **s == Service::Routing).count(), 4);
        assert_eq!(owners.iter().filter(|s| **s == Service::Processing).count(), 5);
        assert_eq!(owners.iter().filter(|s| **s == Service::Publication).count(), 6);
        for s in Service::ALL {
            assert_eq!(s.as_str().parse::<Service>(), Ok(s));
        }
        assert!("gateway".parse::<Service>().is_err());
    }
}
