//! Who acts: a role and the unit the person acts for.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::UnitId;

/// The roles of the regulation (see "Actors" in the requirements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A citizen or organisation that sends a report and rates the answer.
    Reporter,
    /// Cán bộ tiếp nhận of an IOC instance: checks, dispatches, answers.
    IocOperator,
    /// Cán bộ xử lý of a handling agency.
    Officer,
    /// Lãnh đạo phụ trách of a handling agency: approves or sends back.
    Leader,
    /// Văn phòng UBND tỉnh: directs escalated cases.
    ProvincialOffice,
    /// Trung tâm Thông tin điện tử: accounts, directory, calendars.
    SystemOperator,
    /// Sở Nội vụ: read-only evaluation.
    Inspector,
    /// The system itself (channels, sweepers).
    System,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 8] = [
        Role::Reporter,
        Role::IocOperator,
        Role::Officer,
        Role::Leader,
        Role::ProvincialOffice,
        Role::SystemOperator,
        Role::Inspector,
        Role::System,
    ];

    /// Every role but the reporter: the people and systems that work on reports.
    pub const STAFF: [Role; 7] = [
        Role::IocOperator,
        Role::Officer,
        Role::Leader,
        Role::ProvincialOffice,
        Role::SystemOperator,
        Role::Inspector,
        Role::System,
    ];

    /// The role's name in tokens and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reporter => "reporter",
            Role::IocOperator => "ioc_operator",
            Role::Officer => "officer",
            Role::Leader => "leader",
            Role::ProvincialOffice => "provincial_office",
            Role::SystemOperator => "system_operator",
            Role::Inspector => "inspector",
            Role::System => "system",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Someone acting on a report: who, in which role, for which unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// The authenticated subject (account id; for a reporter, the reporter reference).
    pub subject: String,
    /// The role the subject acts in.
    pub role: Role,
    /// The unit the subject acts for.
    pub unit: UnitId,
}

impl Actor {
    /// Builds an actor.
    pub fn new(subject: impl Into<String>, role: Role, unit: UnitId) -> Self {
        Actor { subject: subject.into(), role, unit }
    }
}

#[cfg(test)]
mod tests {
    use super::Role;

    #[test]
    fn staff_is_every_role_but_the_reporter() {
        let staff: Vec<Role> = Role::ALL.into_iter().filter(|r| *r != Role::Reporter).collect();
        assert_eq!(staff, Role::STAFF);
    }
}
