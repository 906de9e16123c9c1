//! The directory as the service serves it: the shipped [`Directory`] with the administrators'
//! changes (categories R13.5/R14.6, focal officers R14.3/R18.1) read from routing's tables.
//!
//! Every change runs in one transaction that first bumps `directory_version` (its row lock
//! orders concurrent changes), then writes its rows. Readers keep the last [`Snapshot`] they
//! built and compare its version with the stored one on every read — one indexed single-row
//! query — so a change committed by any replica of the service is seen by every replica on
//! its next read (R18.1), and the tables are only read again after a change.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use paht_domain::actor::Role;
use paht_domain::deadline::Stage;
use paht_platform::db::{Db, DbError};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entity::{category, focal_point, focal_unit};
use crate::deadlines::Recipients;
use crate::directory::{Category, CategoryId, Directory, UnitId, UnitKind};

/// An agency's focal officer (cán bộ đầu mối), who receives its assignments and reminders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FocalPoint {
    /// The unit.
    pub unit: UnitId,
    /// The officer's account subject.
    pub subject: String,
    /// Display name.
    pub name: String,
    /// `Officer` or `Leader`.
    pub role: Role,
    /// Work phone in +84 form, or empty.
    pub phone: String,
    /// Work e-mail, or empty.
    pub email: String,
}

/// Roles whose people are reminded of their unit's deadlines when it has no focal officer.
const REMINDED_ROLES: [Role; 4] = [Role::Officer, Role::Leader, Role::IocOperator, Role::ProvincialOffice];

/// One version of the directory as served: the shipped units and people, the categories with
/// the administrators' changes, and the focal officers they set.
#[derive(Debug, Clone)]
pub struct Snapshot {
    version: i64,
    directory: Directory,
    focal: BTreeMap<UnitId, Vec<FocalPoint>>,
}

impl Snapshot {
    /// The stored version it was built for (0: nothing changed since the shipped directory).
    pub fn version(&self) -> i64 {
        self.version
    }

    /// Units, categories (with the administrators' changes) and people.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Whether an administrator set the focal officers of `unit`.
    pub fn focal_points_set(&self, unit: &UnitId) -> bool {
        self.focal.contains_key(unit)
    }

    /// The focal officers of `unit`: those an administrator set, otherwise the shipped ones.
    pub fn focal_points(&self, unit: &UnitId) -> Vec<FocalPoint> {
        if let Some(set) = self.focal.get(unit) {
            return set.clone();
        }
        self.directory
            .focal_points_of(unit)
            .into_iter()
            .map(|p| FocalPoint {
                unit: unit.clone(),
                subject: p.id.to_string(),
                name: p.name.clone(),
                role: p.role,
                phone: String::new(),
                email: String::new(),
            })
            .collect()
    }

    /// Whom to remind of `unit`'s deadline of `stage` (R13.1, R14.4): its focal officers, or
    /// when it has none its officers and leaders (its operators for an IOC); for a leader's
    /// approval (R9) its leaders as well. Subjects, each once, in that order.
    pub fn concerned(&self, unit: &UnitId, stage: Stage) -> Vec<String> {
        let mut subjects: Vec<String> = self.focal_points(unit).into_iter().map(|f| f.subject).collect();
        if subjects.is_empty() {
            subjects = self
                .directory
                .people_of(unit)
                .into_iter()
                .filter(|p| REMINDED_ROLES.contains(&p.role))
                .map(|p| p.id.to_string())
                .collect();
        }
        if stage == Stage::Approval {
            subjects.extend(self.directory.leaders_of(unit).into_iter().map(|p| p.id.to_string()));
        }
        let mut seen = std::collections::HashSet::new();
        subjects.retain(|s| seen.insert(s.clone()));
        subjects
    }
}

/// The directory of the service: the shipped baseline, the database, and the last snapshot.
/// Cheap to clone: clones share the snapshot.
#[derive(Clone)]
pub struct DirectoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    base: Directory,
    cached: RwLock<Option<Arc<Snapshot>>>,
}

impl std::fmt::Debug for DirectoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let version = self.cached().map(|s| s.version);
        f.debug_struct("DirectoryStore").field("cached_version", &version).finish_non_exhaustive()
    }
}

impl DirectoryStore {
    /// The directory over `db` (migrated with [`crate::RoutingMigrator`]) with `base` as the
    /// shipped baseline.
    pub fn new(db: Db, base: Directory) -> Self {
        DirectoryStore { inner: Arc::new(Inner { db, base, cached: RwLock::new(None) }) }
    }

    /// The shipped baseline, without the administrators' changes.
    pub fn base(&self) -> &Directory {
        &self.inner.base
    }

    fn cached(&self) -> Option<Arc<Snapshot>> {
        self.inner.cached.read().map(|c| c.clone()).unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// The directory as it stands now: the cached snapshot if the stored version is still its
    /// version, otherwise a new one read from the tables.
    pub async fn current(&self) -> Result<Arc<Snapshot>, DbError> {
        let conn = self.inner.db.conn();
        let version = read_version(conn).await?;
        if let Some(cached) = self.cached().filter(|c| c.version == version) {
            return Ok(cached);
        }
        let fresh = Arc::new(load(conn, &self.inner.base, version).await?);
        let mut slot = self.inner.cached.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if slot.as_ref().is_none_or(|c| c.version <= version) {
            *slot = Some(Arc::clone(&fresh));
        }
        Ok(fresh)
    }

    /// Starts a change in `txn`: bumps the version (which locks its row until the end of the
    /// transaction, so changes are applied one after the other) and reads the directory as it
    /// stands under that lock.
    pub async fn begin_change(&self, txn: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Snapshot, DbError> {
        let bump = Query::update()
            .table(Alias::new("directory_version"))
            .value(Alias::new("version"), Expr::col(Alias::new("version")).add(1))
            .value(Alias::new("updated_at"), now)
            .and_where(Expr::col(Alias::new("id")).eq(1))
            .to_owned();
        txn.execute(&bump).await?;
        let version = read_version(txn).await?;
        load(txn, &self.inner.base, version).await
    }
}

#[async_trait]
impl Recipients for DirectoryStore {
    async fn concerned(&self, unit_id: &str, stage: Stage) -> Result<Vec<String>, DbError> {
        Ok(self.current().await?.concerned(&UnitId::new(unit_id), stage))
    }
}

/// The stored directory version; 0 when nothing was changed.
async fn read_version(conn: &impl ConnectionTrait) -> Result<i64, DbError> {
    let select = Query::select()
        .column(Alias::new("version"))
        .from(Alias::new("directory_version"))
        .and_where(Expr::col(Alias::new("id")).eq(1))
        .to_owned();
    match conn.query_one(&select).await? {
        Some(row) => Ok(row.try_get::<i64>("", "version")?),
        None => Ok(0),
    }
}

fn role_named(name: &str) -> Option<Role> {
    Role::ALL.into_iter().find(|r| r.as_str() == name)
}

fn category_of(row: &category::Model) -> Option<Category> {
    let id = CategoryId::parse(&row.id)?;
    let kinds: Vec<UnitKind> = serde_json::from_str(&row.default_agency_kinds).ok()?;
    Some(Category {
        id,
        name_vi: row.name_vi.clone(),
        name_en: row.name_en.clone(),
        active: row.active,
        default_agency_kinds: kinds,
    })
}

/// Reads the administrators' changes and lays them over `base`, as `version`.
async fn load(conn: &impl ConnectionTrait, base: &Directory, version: i64) -> Result<Snapshot, DbError> {
    let rows = category::Entity::find().order_by_asc(category::Column::Position).all(conn).await?;
    let mut stored: Vec<Category> = Vec::with_capacity(rows.len());
    for row in &rows {
        match category_of(row) {
            Some(c) => stored.push(c),
            None => tracing::warn!(category_id = %row.id, "unreadable stored category; the shipped one stays"),
        }
    }
    let mut categories: Vec<Category> = base
        .categories()
        .iter()
        .map(|shipped| stored.iter().find(|c| c.id == shipped.id).cloned().unwrap_or_else(|| shipped.clone()))
        .collect();
    categories.extend(stored.into_iter().filter(|c| base.category(c.id.as_str()).is_none()));
    let directory = base.with_categories(categories, base.version() + u64::try_from(version).unwrap_or(0));

    let mut focal: BTreeMap<UnitId, Vec<FocalPoint>> = BTreeMap::new();
    for unit in focal_unit::Entity::find().all(conn).await? {
        focal.insert(UnitId::new(unit.unit_id), Vec::new());
    }
    let points = focal_point::Entity::find()
        .order_by_asc(focal_point::Column::UnitId)
        .order_by_asc(focal_point::Column::Position)
        .all(conn)
        .await?;
    for p in points {
        let Some(role) = role_named(&p.role) else {
            tracing::warn!(unit_id = %p.unit_id, "focal officer with an unknown role left out");
            continue;
        };
        let unit = UnitId::new(p.unit_id);
        focal.entry(unit.clone()).or_default().push(FocalPoint {
            unit,
            subject: p.subject,
            name: p.name,
            role,
            phone: p.phone,
            email: p.email,
        });
    }
    Ok(Snapshot { version, directory, focal })
}

/// Stores a category as the administrator left it (R13.5, R14.6): a new one after the others,
/// a changed one in place.
pub async fn save_category(
    txn: &impl ConnectionTrait,
    c: &Category,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let kinds = serde_json::to_string(&c.default_agency_kinds).unwrap_or_else(|_| String::from("[]"));
    let existing = category::Entity::find_by_id(c.id.as_str().to_owned()).one(txn).await?;
    let position = match &existing {
        Some(row) => row.position,
        None => {
            let last: Option<i64> = category::Entity::find()
                .select_only()
                .column_as(category::Column::Position.max(), "last")
                .into_tuple::<Option<i64>>()
                .one(txn)
                .await?
                .flatten();
            last.unwrap_or(0) + 1
        }
    };
    let row = category::ActiveModel {
        id: ActiveValue::Set(c.id.as_str().to_owned()),
        name_vi: ActiveValue::Set(c.name_vi.clone()),
        name_en: ActiveValue::Set(c.name_en.clone()),
        active: ActiveValue::Set(c.active),
        default_agency_kinds: ActiveValue::Set(kinds),
        position: ActiveValue::Set(position),
        updated_at: ActiveValue::Set(now),
        updated_by: ActiveValue::Set(by.to_owned()),
    };
    if existing.is_some() {
        category::Entity::update(row).exec(txn).await?;
    } else {
        category::Entity::insert(row).exec_without_returning(txn).await?;
    }
    Ok(())
}

/// Replaces the focal officers of `unit` with `points` (R14.3, R18.1).
pub async fn replace_focal_points(
    txn: &impl ConnectionTrait,
    unit: &UnitId,
    points: &[FocalPoint],
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    focal_point::Entity::delete_many().filter(focal_point::Column::UnitId.eq(unit.as_str())).exec(txn).await?;
    focal_unit::Entity::delete_many().filter(focal_unit::Column::UnitId.eq(unit.as_str())).exec(txn).await?;
    let marker = focal_unit::ActiveModel {
        unit_id: ActiveValue::Set(unit.to_string()),
        updated_at: ActiveValue::Set(now),
        updated_by: ActiveValue::Set(by.to_owned()),
    };
    focal_unit::Entity::insert(marker).exec_without_returning(txn).await?;
    if points.is_empty() {
        return Ok(());
    }
    let rows = points.iter().enumerate().map(|(i, p)| focal_point::ActiveModel {
        unit_id: ActiveValue::Set(unit.to_string()),
        subject: ActiveValue::Set(p.subject.clone()),
        position: ActiveValue::Set(i32::try_from(i).unwrap_or(i32::MAX)),
        name: ActiveValue::Set(p.name.clone()),
        role: ActiveValue::Set(p.role.as_str().to_owned()),
        phone: ActiveValue::Set(p.phone.clone()),
        email: ActiveValue::Set(p.email.clone()),
    });
    focal_point::Entity::insert_many(rows).exec_without_returning(txn).await?;
    Ok(())
}
