//! AMQP routing keys of the domain events, `<entity>.<fact>`.
//!
//! The table mirrors the comments in `proto/paht/v1/events.proto`; publishers use it to
//! route an envelope and consumers to bind their queues.

use crate::v1::event_envelope::Payload;

/// Every routing key [`routing_key`] can return, in the order of the `payload` oneof.
pub const ROUTING_KEYS: &[&str] = &[
    "report.received",
    "report.accepted",
    "report.refused",
    "report.dispatched",
    "assignment.returned",
    "assignment.explained",
    "assignment.resolved",
    "assignment.approved",
    "assignment.sent_back",
    "report.escalated",
    "directive.issued",
    "report.closed",
    "report.resolved",
    "report.published",
    "report.answered_privately",
    "report.withheld",
    "report.rated",
    "report.reopened",
    "deadline.due_soon",
    "deadline.missed",
    "report.linked_as_duplicate",
    "report.answer_edited",
    "follow_up.opened",
    "follow_up.closed",
];

/// The AMQP routing key an event is published with, e.g. `report.received`.
///
/// The match is exhaustive: a new event in `events.proto` does not compile until it has a key.
pub fn routing_key(payload: &Payload) -> &'static str {
    match payload {
        Payload::ReportReceived(_) => "report.received",
        Payload::ReportAccepted(_) => "report.accepted",
        Payload::ReportRefused(_) => "report.refused",
        Payload::ReportDispatched(_) => "report.dispatched",
        Payload::AssignmentReturned(_) => "assignment.returned",
        Payload::AssignmentExplained(_) => "assignment.explained",
        // The fact is "the assignment is resolved (result written)"; the architecture names the key so.
        Payload::AssignmentResultSubmitted(_) => "assignment.resolved",
        Payload::AssignmentApproved(_) => "assignment.approved",
        Payload::AssignmentSentBack(_) => "assignment.sent_back",
        Payload::ReportEscalated(_) => "report.escalated",
        Payload::DirectiveIssued(_) => "directive.issued",
        Payload::ReportClosed(_) => "report.closed",
        Payload::ReportResolved(_) => "report.resolved",
        Payload::ReportPublished(_) => "report.published",
        Payload::ReportAnsweredPrivately(_) => "report.answered_privately",
        Payload::ReportWithheld(_) => "report.withheld",
        Payload::ReportRated(_) => "report.rated",
        Payload::ReportReopened(_) => "report.reopened",
        Payload::DeadlineDueSoon(_) => "deadline.due_soon",
        Payload::DeadlineMissed(_) => "deadline.missed",
        Payload::ReportLinkedAsDuplicate(_) => "report.linked_as_duplicate",
        Payload::AnswerEdited(_) => "report.answer_edited",
        Payload::FollowUpOpened(_) => "follow_up.opened",
        Payload::FollowUpClosed(_) => "follow_up.closed",
    }
}

impl Payload {
    /// The AMQP routing key of this event; see [`routing_key`].
    pub fn routing_key(&self) -> &'static str {
        routing_key(self)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// One value of every payload variant, in the order of the oneof in `events.proto`.
    pub(crate) fn every_payload() -> Vec<Payload> {
        vec![
            Payload::ReportReceived(Default::default()),
            Payload::ReportAccepted(Default::default()),
            Payload::ReportRefused(Default::default()),
            Payload::ReportDispatched(Default::default()),
            Payload::AssignmentReturned(Default::default()),
            Payload::AssignmentExplained(Default::default()),
            Payload::AssignmentResultSubmitted(Default::default()),
            Payload::AssignmentApproved(Default::default()),
            Payload::AssignmentSentBack(Default::default()),
            Payload::ReportEscalated(Default::default()),
            Payload::DirectiveIssued(Default::default()),
            Payload::ReportClosed(Default::default()),
            Payload::ReportResolved(Default::default()),
            Payload::ReportPublished(Default::default()),
            Payload::ReportAnsweredPrivately(Default::default()),
            Payload::ReportWithheld(Default::default()),
            Payload::ReportRated(Default::default()),
            Payload::ReportReopened(Default::default()),
            Payload::DeadlineDueSoon(Default::default()),
            Payload::DeadlineMissed(Default::default()),
            Payload::ReportLinkedAsDuplicate(Default::default()),
            Payload::AnswerEdited(Default::default()),
            Payload::FollowUpOpened(Default::default()),
            Payload::FollowUpClosed(Default::default()),
        ]
    }

    /// `<entity>.<fact>`: two non-empty lowercase snake_case words joined by one dot.
    fn is_well_formed(key: &str) -> bool {
        let word = |w: &str| {
            !w.is_empty()
                && !w.starts_with('_')
                && !w.ends_with('_')
                && w.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        };
        matches!(key.split_once('.'), Some((entity, fact)) if word(entity) && word(fact))
    }

    #[test]
    fn every_event_has_a_distinct_well_formed_key() {
        let payloads = every_payload();
        let keys: Vec<&str> = payloads.iter().map(routing_key).collect();
        let distinct: HashSet<&str> = keys.iter().copied().collect();
        assert_eq!(distinct.len(), keys.len(), "duplicate routing key in {keys:?}");
        for key in &keys {
            assert!(is_well_formed(key), "{key} is not <entity>.<fact>");
        }
    }

    #[test]
    fn the_published_table_matches_the_function() {
        let keys: Vec<&str> = every_payload().iter().map(routing_key).collect();
        assert_eq!(keys, ROUTING_KEYS);
    }

    #[test]
    fn the_test_covers_every_variant_of_the_oneof() {
        // Guards every_payload() itself: it must list as many variants as the proto oneof has.
        use prost::Message as _;
        let fds = prost_types::FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET).expect("descriptor set decodes");
        let envelope = fds
            .file
            .iter()
            .filter(|f| f.package() == "paht.v1")
            .flat_map(|f| &f.message_type)
            .find(|m| m.name() == "EventEnvelope")
            .expect("EventEnvelope is declared");
        let payload_index =
            envelope.oneof_decl.iter().position(|o| o.name() == "payload").expect("payload oneof") as i32;
        let variants = envelope.field.iter().filter(|f| f.oneof_index == Some(payload_index)).count();
        assert_eq!(variants, every_payload().len());
    }

    #[test]
    fn keys_named_in_the_architecture_brief_are_kept() {
        for key in [
            "report.received",
            "report.refused",
            "report.dispatched",
            "assignment.returned",
            "assignment.explained",
            "assignment.resolved",
            "assignment.approved",
            "assignment.sent_back",
            "report.escalated",
            "report.published",
            "report.rated",
            "report.reopened",
            "deadline.due_soon",
            "deadline.missed",
        ] {
            assert!(ROUTING_KEYS.contains(&key), "{key} is missing");
        }
    }

    #[test]
    fn result_submitted_is_routed_as_assignment_resolved() {
        let payload = Payload::AssignmentResultSubmitted(Default::default());
        assert_eq!(payload.routing_key(), "assignment.resolved");
    }
}
