//! The directory over gRPC: units, categories (R13.5, R14.6) and focal officers (R14.3, R18.1).
//!
//! Writes run in one transaction that bumps the directory's version first (see
//! [`DirectoryStore`](crate::store::DirectoryStore)), so every replica of the service serves the
//! change from its next read on. Retiring a retired category again is an idempotent success.

use paht_domain::validation::{Email, PhoneNumber};
use paht_platform::auth::AuthContext;
use paht_proto::v1;

use super::{RoutingService, mapping};
use crate::directory::{CategoryId, DirectoryError, PersonId, UnitId, UnitKind};
use crate::error::RoutingError;
use crate::store::{FocalPoint, directory as store};

/// Default and largest page of ListUnits.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 500;
/// Most focal officers per unit.
const MAX_FOCAL_POINTS: usize = 50;
/// Longest name of a category or a person.
const MAX_NAME_CHARS: usize = 200;
/// The unit kinds a category created through the API is handled by until the routing rules name
/// agencies for it: the People's Committee of the commune, ward or special zone where the event
/// happened, the general authority of local government.
const NEW_CATEGORY_KINDS: [UnitKind; 3] = [UnitKind::Commune, UnitKind::Ward, UnitKind::SpecialZone];

/// A refused category change, with the request field it concerns.
fn category_refusal(err: DirectoryError, field: &str) -> RoutingError {
    match &err {
        DirectoryError::BadId { .. } | DirectoryError::DuplicateCategory { .. } => {
            RoutingError::field(field, err.to_string())
        }
        DirectoryError::BlankName { .. } => RoutingError::field("category.name", err.to_string()),
        DirectoryError::UnknownCategory { id } => RoutingError::NotFound(format!("category {id}")),
        DirectoryError::CategoryRetired { .. } => RoutingError::FailedPrecondition(err.to_string()),
        _ => RoutingError::Corrupt(err.to_string()),
    }
}

impl RoutingService {
    /// ListUnits: active units, optionally the children of one unit and of some kinds, ordered
    /// by code, in pages.
    pub(super) async fn units(&self, req: &v1::ListUnitsRequest) -> Result<v1::ListUnitsResponse, RoutingError> {
        let snapshot = self.directory.current().await?;
        let directory = snapshot.directory();
        let mut violations: Vec<(String, String)> = Vec::new();
        let parent = match req.parent_id.trim() {
            "" => None,
            id => {
                let id = UnitId::new(id);
                if directory.unit(&id).is_none() {
                    violations.push(("parent_id".into(), format!("unit {id} is not in the directory")));
                }
                Some(id)
            }
        };
        let mut kinds = Vec::with_capacity(req.kinds.len());
        for (i, value) in req.kinds.iter().enumerate() {
            match v1::UnitKind::try_from(*value) {
                Ok(v1::UnitKind::Unspecified) | Err(_) => {
                    violations.push((format!("kinds[{i}]"), format!("{value} is not a unit kind")));
                }
                Ok(kind) => kinds.push(kind),
            }
        }
        let page = req.page.clone().unwrap_or_default();
        let size = match page.page_size as usize {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let offset = match page.page_token.trim() {
            "" => 0,
            token => token.parse::<usize>().unwrap_or_else(|_| {
                violations.push(("page.page_token".into(), "not a token of this list; start again without one".into()));
                0
            }),
        };
        if !violations.is_empty() {
            return Err(RoutingError::Invalid(violations));
        }
        let mut units: Vec<_> = directory
            .units()
            .filter(|u| u.active)
            .filter(|u| parent.as_ref().is_none_or(|p| u.parent.as_ref() == Some(p)))
            .filter(|u| kinds.is_empty() || kinds.contains(&mapping::unit_kind(u.kind)))
            .collect();
        units.sort_by(|a, b| mapping::unit_code(a).cmp(mapping::unit_code(b)).then_with(|| a.id.cmp(&b.id)));
        let next = offset.saturating_add(size);
        let next_page_token = if next < units.len() { next.to_string() } else { String::new() };
        Ok(v1::ListUnitsResponse {
            units: units.into_iter().skip(offset).take(size).map(mapping::unit).collect(),
            next_page_token,
        })
    }

    /// ListCategories: ordered by code, retired ones only when asked (R13.5, R14.6).
    pub(super) async fn categories(
        &self,
        req: &v1::ListCategoriesRequest,
    ) -> Result<v1::ListCategoriesResponse, RoutingError> {
        let snapshot = self.directory.current().await?;
        let mut categories: Vec<_> =
            snapshot.directory().categories().iter().filter(|c| req.include_retired || c.active).collect();
        categories.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v1::ListCategoriesResponse { categories: categories.into_iter().map(mapping::category).collect() })
    }

    /// UpsertCategory: an empty id creates the category `code`; an existing id renames it
    /// (R13.5, R14.6). A retired category cannot be changed; ids are never reused.
    pub(super) async fn upsert(
        &self,
        auth: &AuthContext,
        req: &v1::UpsertCategoryRequest,
    ) -> Result<v1::UpsertCategoryResponse, RoutingError> {
        let input = req.category.as_ref().ok_or_else(|| RoutingError::field("category", "required"))?;
        let (id, code, name) = (input.id.trim(), input.code.trim(), input.name.trim());
        let mut violations: Vec<(String, String)> = Vec::new();
        if name.is_empty() {
            violations.push(("category.name".into(), "required: the field's name in Vietnamese".into()));
        } else if name.chars().count() > MAX_NAME_CHARS {
            violations.push(("category.name".into(), format!("at most {MAX_NAME_CHARS} characters")));
        }
        let (target, field) = if id.is_empty() { (code, "category.code") } else { (id, "category.id") };
        if id.is_empty() && code.is_empty() {
            violations.push(("category.code".into(), "required for a new category, e.g. \"cay-xanh\"".into()));
        } else if CategoryId::parse(target).is_none() {
            violations.push((field.into(), format!("not a category id: use {}", CategoryId::EXPECTED)));
        }
        if !id.is_empty() && !code.is_empty() && code != id {
            violations.push(("category.code".into(), "a category's code is its id and never changes".into()));
        }
        if !violations.is_empty() {
            return Err(RoutingError::Invalid(violations));
        }
        let now = self.now();
        let txn = self.db.begin_write().await?;
        let snapshot = self.directory.begin_change(&txn, now).await?;
        let directory = snapshot.directory();
        let changed = if id.is_empty() {
            directory.add_category(code, name, name, &NEW_CATEGORY_KINDS).map_err(|e| category_refusal(e, field))?
        } else {
            let current = directory.category(id).ok_or_else(|| RoutingError::NotFound(format!("category {id}")))?;
            // A category created here has its Vietnamese name in both; keep a real English one.
            let name_en = if current.name_en == current.name_vi { name } else { current.name_en.as_str() };
            directory.rename_category(id, name, name_en).map_err(|e| category_refusal(e, field))?
        };
        let category = changed
            .category(target)
            .cloned()
            .ok_or_else(|| RoutingError::Corrupt(format!("category {target} vanished from its own change")))?;
        store::save_category(&txn, &category, &auth.claims.sub, now).await?;
        txn.commit().await?;
        tracing::info!(category_id = %category.id, "category saved");
        Ok(v1::UpsertCategoryResponse { category: Some(mapping::category(&category)) })
    }

    /// RetireCategory: no longer offered for new reports, kept on old ones (R14.6).
    pub(super) async fn retire(
        &self,
        auth: &AuthContext,
        req: &v1::RetireCategoryRequest,
    ) -> Result<v1::RetireCategoryResponse, RoutingError> {
        let id = req.category_id.trim();
        if id.is_empty() {
            return Err(RoutingError::field("category_id", "required"));
        }
        let now = self.now();
        let txn = self.db.begin_write().await?;
        let snapshot = self.directory.begin_change(&txn, now).await?;
        let current =
            snapshot.directory().category(id).ok_or_else(|| RoutingError::NotFound(format!("category {id}")))?;
        if !current.active {
            // Already retired: nothing to change (the version bump rolls back with the rest).
            let category = mapping::category(current);
            txn.rollback().await?;
            return Ok(v1::RetireCategoryResponse { category: Some(category) });
        }
        let changed = snapshot.directory().retire_category(id).map_err(|e| category_refusal(e, "category_id"))?;
        let category = changed
            .category(id)
            .cloned()
            .ok_or_else(|| RoutingError::Corrupt(format!("category {id} vanished from its own change")))?;
        store::save_category(&txn, &category, &auth.claims.sub, now).await?;
        txn.commit().await?;
        tracing::info!(category_id = %category.id, "category retired");
        Ok(v1::RetireCategoryResponse { category: Some(mapping::category(&category)) })
    }

    /// ListFocalPoints: the unit's focal officers in effect now (R14.3).
    pub(super) async fn focal_points(
        &self,
        req: &v1::ListFocalPointsRequest,
    ) -> Result<v1::ListFocalPointsResponse, RoutingError> {
        let unit = match req.unit_id.trim() {
            "" => return Err(RoutingError::field("unit_id", "required")),
            id => UnitId::new(id),
        };
        let snapshot = self.directory.current().await?;
        if snapshot.directory().unit(&unit).is_none() {
            return Err(RoutingError::NotFound(format!("unit {unit}")));
        }
        let focal_points = snapshot.focal_points(&unit).iter().map(mapping::focal_point).collect();
        Ok(v1::ListFocalPointsResponse { focal_points })
    }

    /// SetFocalPoints: replaces the unit's focal officers; in effect for every replica of the
    /// service at once (R14.3, R18.1).
    pub(super) async fn set_focal(
        &self,
        auth: &AuthContext,
        req: &v1::SetFocalPointsRequest,
    ) -> Result<v1::SetFocalPointsResponse, RoutingError> {
        let unit = match req.unit_id.trim() {
            "" => return Err(RoutingError::field("unit_id", "required")),
            id => UnitId::new(id),
        };
        let snapshot = self.directory.current().await?;
        let directory = snapshot.directory();
        let target = directory.unit(&unit).ok_or_else(|| RoutingError::NotFound(format!("unit {unit}")))?;
        let mut violations: Vec<(String, String)> = Vec::new();
        if !target.kind.is_agency() {
            violations.push((
                "unit_id".into(),
                format!("{unit} is a {}; focal officers are registered for handling agencies (R14.3)", target.kind),
            ));
        } else if !target.active {
            violations.push(("unit_id".into(), format!("{unit} is retired")));
        }
        if req.focal_points.len() > MAX_FOCAL_POINTS {
            violations.push(("focal_points".into(), format!("at most {MAX_FOCAL_POINTS} focal officers per unit")));
        }
        let mut points: Vec<FocalPoint> = Vec::with_capacity(req.focal_points.len());
        let mut seen: Vec<&str> = Vec::with_capacity(req.focal_points.len());
        for (i, f) in req.focal_points.iter().enumerate() {
            let at = |field: &str| format!("focal_points[{i}].{field}");
            let unit_id = f.unit_id.trim();
            if !unit_id.is_empty() && unit_id != unit.as_str() {
                violations.push((at("unit_id"), "must be empty or the request's unit_id".into()));
            }
            let subject = f.subject.trim();
            match PersonId::parse(subject) {
                None => violations.push((at("subject"), format!("not an account subject: use {}", PersonId::EXPECTED))),
                Some(_) if seen.contains(&subject) => {
                    violations.push((at("subject"), format!("{subject} is listed twice")));
                }
                Some(id) => {
                    seen.push(subject);
                    if let Some(person) = directory.person(id.as_str())
                        && person.unit != unit
                    {
                        violations.push((
                            at("subject"),
                            format!("{subject} acts for unit {}; a person acts for one unit", person.unit),
                        ));
                    }
                }
            }
            let name = f.name.trim();
            if name.is_empty() {
                violations.push((at("name"), "required: the officer's full name".into()));
            } else if name.chars().count() > MAX_NAME_CHARS {
                violations.push((at("name"), format!("at most {MAX_NAME_CHARS} characters")));
            }
            let role = mapping::focal_role(f.role);
            if role.is_none() {
                violations.push((at("role"), "ROLE_OFFICER or ROLE_LEADER".into()));
            }
            let phone = match f.phone.trim() {
                "" => String::new(),
                raw => match PhoneNumber::parse(raw) {
                    Ok(phone) => phone.as_e164().to_owned(),
                    Err(_) => {
                        violations.push((at("phone"), "not a Vietnamese phone number, e.g. +84912345678".into()));
                        String::new()
                    }
                },
            };
            let email = match f.email.trim() {
                "" => String::new(),
                raw => match Email::parse(raw) {
                    Ok(email) => email.as_str().to_owned(),
                    Err(_) => {
                        violations.push((at("email"), "not an e-mail address".into()));
                        String::new()
                    }
                },
            };
            if let Some(role) = role {
                points.push(FocalPoint {
                    unit: unit.clone(),
                    subject: subject.to_owned(),
                    name: name.to_owned(),
                    role,
                    phone,
                    email,
                });
            }
        }
        if !violations.is_empty() {
            return Err(RoutingError::Invalid(violations));
        }
        let now = self.now();
        let txn = self.db.begin_write().await?;
        self.directory.begin_change(&txn, now).await?;
        store::replace_focal_points(&txn, &unit, &points, &auth.claims.sub, now).await?;
        txn.commit().await?;
        tracing::info!(unit_id = %unit, focal_points = points.len(), "focal officers set");
        Ok(v1::SetFocalPointsResponse { focal_points: points.iter().map(mapping::focal_point).collect() })
    }
}
