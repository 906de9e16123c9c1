//! The directory as the protocol shows it: units, categories, focal officers.

use paht_domain::actor::Role;
use paht_proto::{convert, v1};

use crate::directory::{Category, Unit, UnitKind};
use crate::store::FocalPoint;

/// The protocol's kind of a directory unit: communes, wards and special zones are all
/// commune-level People's Committees; the police is a central agency in the province.
pub fn unit_kind(kind: UnitKind) -> v1::UnitKind {
    match kind {
        UnitKind::Province => v1::UnitKind::Province,
        UnitKind::IocInstance => v1::UnitKind::Ioc,
        UnitKind::ProvincialOffice => v1::UnitKind::ProvincialOffice,
        UnitKind::Department => v1::UnitKind::Department,
        UnitKind::Commune | UnitKind::Ward | UnitKind::SpecialZone => v1::UnitKind::Commune,
        UnitKind::PublicUtility => v1::UnitKind::PublicUtility,
        UnitKind::Police | UnitKind::CentralAgency => v1::UnitKind::CentralAgency,
        UnitKind::PublicServiceUnit => v1::UnitKind::PublicServiceUnit,
        UnitKind::District => v1::UnitKind::District,
        UnitKind::Other => v1::UnitKind::Other,
    }
}

/// The code a unit is listed and ordered by: its official administrative code, or its stable
/// id for units the national list does not code (departments, utilities, the IOC).
pub fn unit_code(unit: &Unit) -> &str {
    unit.code.as_deref().unwrap_or(unit.id.as_str())
}

/// A unit as the protocol's.
pub fn unit(u: &Unit) -> v1::Unit {
    v1::Unit {
        id: u.id.to_string(),
        code: unit_code(u).to_owned(),
        name: u.name.clone(),
        kind: unit_kind(u.kind) as i32,
        parent_id: u.parent.as_ref().map(|p| p.to_string()).unwrap_or_default(),
    }
}

/// A category as the protocol's: the slug is both its id and its code; the name is the
/// Vietnamese one.
pub fn category(c: &Category) -> v1::Category {
    v1::Category { id: c.id.to_string(), code: c.id.to_string(), name: c.name_vi.clone(), retired: !c.active }
}

/// A focal officer as the protocol's.
pub fn focal_point(f: &FocalPoint) -> v1::FocalPoint {
    v1::FocalPoint {
        unit_id: f.unit.to_string(),
        subject: f.subject.clone(),
        name: f.name.clone(),
        role: convert::role(f.role) as i32,
        phone: f.phone.clone(),
        email: f.email.clone(),
    }
}

/// A focal officer's role named in a request: officer or leader.
pub fn focal_role(value: i32) -> Option<Role> {
    match v1::Role::try_from(value).ok()? {
        v1::Role::Officer => Some(Role::Officer),
        v1::Role::Leader => Some(Role::Leader),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_directory_kind_has_a_protocol_kind() {
        for kind in UnitKind::ALL {
            assert_ne!(unit_kind(kind), v1::UnitKind::Unspecified, "{kind}");
        }
        assert_eq!(unit_kind(UnitKind::Ward), v1::UnitKind::Commune);
        assert_eq!(unit_kind(UnitKind::SpecialZone), v1::UnitKind::Commune);
        assert_eq!(unit_kind(UnitKind::Police), v1::UnitKind::CentralAgency);
        assert_eq!(unit_kind(UnitKind::IocInstance), v1::UnitKind::Ioc);
    }

    #[test]
    fn units_carry_their_official_code_or_their_id() {
        let d = crate::directory::Directory::shipped();
        let ward = unit(d.by_code("28756").unwrap());
        assert_eq!((ward.id.as_str(), ward.code.as_str(), ward.parent_id.as_str()), ("UBND-28756", "28756", "UBND-86"));
        let department = unit(d.unit(&crate::directory::UnitId::new("SO-XD-86")).unwrap());
        assert_eq!(department.code, "SO-XD-86");
        assert_eq!(department.kind, v1::UnitKind::Department as i32);
        assert_eq!(unit(d.root()).parent_id, "");
    }

    #[test]
    fn only_officers_and_leaders_are_focal_roles() {
        assert_eq!(focal_role(v1::Role::Officer as i32), Some(Role::Officer));
        assert_eq!(focal_role(v1::Role::Leader as i32), Some(Role::Leader));
        assert_eq!(focal_role(v1::Role::IocOperator as i32), None);
        assert_eq!(focal_role(0), None);
        assert_eq!(focal_role(99), None);
    }
}
