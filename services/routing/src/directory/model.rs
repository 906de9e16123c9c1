//! What the directory holds: units, categories, people, and the ids that name them.

use std::fmt;

use paht_domain::actor::Role;
pub use paht_domain::ids::UnitId;
use serde::{Deserialize, Serialize};

/// The kind of a unit; the unit tree itself is data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// The Provincial People's Committee (UBND tỉnh), root of the tree.
    Province,
    /// An IOC centre, provincial or local, that receives and dispatches reports (R7).
    IocInstance,
    /// Văn phòng UBND tỉnh, which directs escalated cases (R8.2c).
    ProvincialOffice,
    /// A provincial department (sở) or an agency of the same rank (Thanh tra tỉnh).
    Department,
    /// The People's Committee of a commune (UBND xã).
    Commune,
    /// The People's Committee of a ward (UBND phường).
    Ward,
    /// The People's Committee of a special zone (đặc khu), commune level since 2025.
    SpecialZone,
    /// A public-utility company (power, water …).
    PublicUtility,
    /// The provincial police (Công an tỉnh), a unit of the Ministry of Public Security.
    Police,
    /// Another central agency located in the province.
    CentralAgency,
    /// A public service unit (đơn vị sự nghiệp công lập).
    PublicServiceUnit,
    /// A district-level People's Committee; only for history before 1 July 2025.
    District,
    /// Any other unit.
    Other,
}

impl UnitKind {
    /// Every kind.
    pub const ALL: [UnitKind; 13] = [
        UnitKind::Province,
        UnitKind::IocInstance,
        UnitKind::ProvincialOffice,
        UnitKind::Department,
        UnitKind::Commune,
        UnitKind::Ward,
        UnitKind::SpecialZone,
        UnitKind::PublicUtility,
        UnitKind::Police,
        UnitKind::CentralAgency,
        UnitKind::PublicServiceUnit,
        UnitKind::District,
        UnitKind::Other,
    ];

    /// The kind's name in the data files.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Province => "province",
            UnitKind::IocInstance => "ioc_instance",
            UnitKind::ProvincialOffice => "provincial_office",
            UnitKind::Department => "department",
            UnitKind::Commune => "commune",
            UnitKind::Ward => "ward",
            UnitKind::SpecialZone => "special_zone",
            UnitKind::PublicUtility => "public_utility",
            UnitKind::Police => "police",
            UnitKind::CentralAgency => "central_agency",
            UnitKind::PublicServiceUnit => "public_service_unit",
            UnitKind::District => "district",
            UnitKind::Other => "other",
        }
    }

    /// True for the kinds that handle reports (cơ quan xử lý): reports are dispatched to
    /// them, and their officers and leaders act on assignments. The province, the IOC and
    /// the provincial office take part in the process but are not handling agencies.
    pub fn is_agency(self) -> bool {
        !matches!(self, UnitKind::Province | UnitKind::IocInstance | UnitKind::ProvincialOffice)
    }

    /// The number of digits of the unit's official code in the national list (Decision
    /// 19/2025/QĐ-TTg), for the kinds that must have one.
    pub fn official_code_digits(self) -> Option<usize> {
        match self {
            UnitKind::Province => Some(2),
            UnitKind::District => Some(3),
            UnitKind::Commune | UnitKind::Ward | UnitKind::SpecialZone => Some(5),
            _ => None,
        }
    }
}

impl fmt::Display for UnitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One node of the unit tree: the province, an IOC instance, the provincial office or a
/// handling agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unit {
    /// Stable id, never reused (e.g. `IOC-86`, `UBND-29551`).
    pub id: UnitId,
    /// Official administrative code where one exists (`86`, `29551`).
    pub code: Option<String>,
    /// Official name in Vietnamese.
    pub name: String,
    /// What kind of unit this is.
    pub kind: UnitKind,
    /// The parent unit; `None` only for the root.
    pub parent: Option<UnitId>,
    /// False once retired: kept for history, no longer dispatched to.
    pub active: bool,
    /// For a merged province: the former province (before 1 July 2025) the unit belongs to
    /// or serves, e.g. a water company's area.
    pub former_province: Option<String>,
}

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $check:path, $expected:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// What a valid id looks like, for error messages.
            pub const EXPECTED: &'static str = $expected;

            /// Checks the shape of an id; `None` when it is not valid (see [`Self::EXPECTED`]).
            pub fn parse(raw: &str) -> Option<Self> {
                $check(raw).then(|| Self(raw.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_id!(
    /// The stable id of a category: a lower-case slug such as `giao-thong`.
    CategoryId,
    is_slug,
    "1 to 64 of lower-case a-z, 0-9 and '-', not starting or ending with '-'"
);
text_id!(
    /// The id of a person in the directory: the subject of their tokens.
    PersonId,
    is_code,
    "1 to 64 of ASCII letters, digits, '.', '_' and '-'"
);

/// What a valid unit id looks like, for error messages.
pub const UNIT_ID_EXPECTED: &str = PersonId::EXPECTED;

/// True for 1 to 64 of `a-z 0-9 -`, with no leading or trailing `-`.
pub(crate) fn is_slug(raw: &str) -> bool {
    (1..=64).contains(&raw.len())
        && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !raw.starts_with('-')
        && !raw.ends_with('-')
}

/// True for 1 to 64 of `A-Z a-z 0-9 . _ -` (the shape of `paht_domain`'s `Code`).
pub(crate) fn is_code(raw: &str) -> bool {
    (1..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A field (lĩnh vực) reports are filed under; the list is configurable (R13.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    /// Stable id, never reused, also after retirement.
    pub id: CategoryId,
    /// Name in Vietnamese.
    pub name_vi: String,
    /// Name in English.
    pub name_en: String,
    /// False once retired: kept on old reports, not offered for new ones.
    pub active: bool,
    /// The kinds of unit that usually handle the field, the leading one first.
    pub default_agency_kinds: Vec<UnitKind>,
}

/// Someone who acts for a unit: an officer, a leader, an IOC operator … (R14.3, R18.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    /// Stable id: the subject of the person's tokens.
    pub id: PersonId,
    /// Full name.
    pub name: String,
    /// The unit the person acts for.
    pub unit: UnitId,
    /// The role the person acts in.
    pub role: Role,
    /// True for an agency's focal officer (cán bộ đầu mối); only an officer can be one.
    pub focal_point: bool,
}

/// The roles a person of the directory may hold, and the unit kinds they fit: reporters
/// and the system itself are not staff. `None` when the role is not a staff role.
pub(crate) fn role_fits(role: Role, kind: UnitKind) -> Option<bool> {
    match role {
        Role::Officer | Role::Leader => Some(kind.is_agency()),
        Role::IocOperator => Some(kind == UnitKind::IocInstance),
        Role::ProvincialOffice => Some(kind == UnitKind::ProvincialOffice),
        Role::SystemOperator | Role::Inspector => Some(true),
        Role::Reporter | Role::System => None,
    }
}
