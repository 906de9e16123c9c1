//! Identifiers: one newtype per kind of thing, so a report id is never passed where
//! an assignment id belongs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Wraps an existing UUID (ids are minted outside the pure domain).
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        /// Parsed by [`parse_uuid`]'s rule: surrounding blanks ignored, blank is [`IdError::Empty`].
        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, IdError> {
                parse_uuid(s).map(Self)
            }
        }
    };
}

/// Why a text is not an id. The one rule every service applies to ids it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Blank (or only whitespace).
    #[error("required")]
    Empty,
    /// Not a UUID (hyphenated, simple, braced or URN form).
    #[error("must be a UUID")]
    NotUuid,
    /// A unit code longer than [`UnitId::MAX_LEN`] or with whitespace inside.
    #[error("must be a unit code (at most 64 characters, no spaces)")]
    NotUnitCode,
}

/// A UUID sent as text: surrounding whitespace is ignored, blank is [`IdError::Empty`].
pub fn parse_uuid(s: &str) -> Result<Uuid, IdError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    Uuid::try_parse(s).map_err(|_| IdError::NotUuid)
}

uuid_id!(
    /// A report (phản ánh).
    ReportId
);
uuid_id!(
    /// One agency's share of a report.
    AssignmentId
);

/// A unit of the directory: the province, an IOC instance, an agency. Units carry
/// official administrative codes where they exist, so the id is text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnitId(pub String);

impl UnitId {
    /// The longest unit code accepted from outside.
    pub const MAX_LEN: usize = 64;

    /// Builds a unit id from its code.
    pub fn new(code: impl Into<String>) -> Self {
        UnitId(code.into())
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A unit code sent as text: surrounding whitespace is ignored, blank is [`IdError::Empty`].
/// Whether the unit exists is the directory's question, not the parser's.
impl FromStr for UnitId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        let s = s.trim();
        if s.is_empty() {
            Err(IdError::Empty)
        } else if s.len() > UnitId::MAX_LEN || s.chars().any(char::is_whitespace) {
            Err(IdError::NotUnitCode)
        } else {
            Ok(UnitId::new(s))
        }
    }
}

impl fmt::Display for UnitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_by_one_rule() {
        let id = Uuid::from_u128(0x0191_2f3c_7a00_7000_8000_0000_0000_0042);
        let cases: Vec<(String, Result<ReportId, IdError>)> = vec![
            (id.to_string(), Ok(ReportId(id))),
            (format!("  {id}\n"), Ok(ReportId(id))),
            (id.simple().to_string(), Ok(ReportId(id))),
            (String::new(), Err(IdError::Empty)),
            ("  \t".into(), Err(IdError::Empty)),
            ("not-a-uuid".into(), Err(IdError::NotUuid)),
            (format!("{id}x"), Err(IdError::NotUuid)),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<ReportId>(), expected, "{text:?}");
            assert_eq!(text.parse::<AssignmentId>().map(|a| a.0), expected.map(|r| r.0), "{text:?}");
        }
    }

    #[test]
    fn unit_codes_are_trimmed_bounded_and_without_spaces() {
        assert_eq!(" UBND-28756 ".parse::<UnitId>(), Ok(UnitId::new("UBND-28756")));
        assert_eq!("".parse::<UnitId>(), Err(IdError::Empty));
        assert_eq!("SO XD".parse::<UnitId>(), Err(IdError::NotUnitCode));
        assert_eq!("X".repeat(UnitId::MAX_LEN + 1).parse::<UnitId>(), Err(IdError::NotUnitCode));
        assert!("X".repeat(UnitId::MAX_LEN).parse::<UnitId>().is_ok());
    }
}
