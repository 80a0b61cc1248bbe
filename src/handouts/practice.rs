//! The practice's own handouts (imported articles, "my version" copies):
//! the `practice_handouts` table and the earlier versions each change keeps
//! (`practice_handout_versions`). Shared practice material about no client,
//! so stored as written; only the colleague who added one, or an
//! administrator, may change it (see README, "What is protected").

use diesel::prelude::*;

use super::content::{Handout, Origin, PracticeMeta};
use crate::db::schema::{practice_handout_versions, practice_handouts};
use crate::db::{DbConn, now};
use crate::ids::{PracticeHandoutId, PracticeHandoutVersionId, TherapistId};

#[derive(Queryable, Selectable)]
#[diesel(table_name = practice_handouts)]
struct PracticeRow {
    id: PracticeHandoutId,
    slug: String,
    title: String,
    summary: String,
    body: String,
    fits: String,
    sources: String,
    version: i32,
    created_by: TherapistId,
    updated_by: Option<TherapistId>,
    updated_at: i64,
    lang: String,
}

impl From<PracticeRow> for Handout {
    fn from(r: PracticeRow) -> Self {
        Handout {
            slug: r.slug,
            title: r.title,
            version: r.version,
            summary: r.summary,
            fits: serde_json::from_str(&r.fits).unwrap_or_default(),
            sources: serde_json::from_str(&r.sources).unwrap_or_default(),
            card_of: None,
            discreet_title: None,
            body: r.body,
            lang: r.lang,
            languages: Default::default(),
            origin: Origin::Practice(PracticeMeta {
                id: r.id,
                author: r.created_by,
                last_editor: r.updated_by.unwrap_or(r.created_by),
                changed_at: r.updated_at,
            }),
        }
    }
}

/// The practice's own handouts.
pub fn all(conn: &mut DbConn) -> QueryResult<Vec<Handout>> {
    let rows: Vec<PracticeRow> = practice_handouts::table
        .order(practice_handouts::title.asc())
        .select(PracticeRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(Handout::from).collect())
}

/// A practice handout's text columns, as written.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = practice_handouts)]
struct HandoutText<'a> {
    title: &'a str,
    summary: &'a str,
    body: &'a str,
    fits: String,
    lang: &'a str,
}

impl<'a> From<&'a Handout> for HandoutText<'a> {
    fn from(h: &'a Handout) -> Self {
        Self {
            title: &h.title,
            summary: &h.summary,
            body: &h.body,
            fits: serde_json::to_string(&h.fits).unwrap_or_default(),
            lang: &h.lang,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = practice_handouts)]
struct NewPracticeHandout<'a> {
    id: PracticeHandoutId,
    slug: &'a str,
    #[diesel(embed)]
    text: HandoutText<'a>,
    sources: String,
    version: i32,
    created_by: TherapistId,
    created_at: i64,
    updated_at: i64,
    updated_by: TherapistId,
}

/// Save a new practice handout; a taken slug is a unique violation.
pub fn insert(
    conn: &mut DbConn,
    author: TherapistId,
    h: &Handout,
) -> QueryResult<PracticeHandoutId> {
    let (id, at) = (PracticeHandoutId::generate(), now());
    diesel::insert_into(practice_handouts::table)
        .values(NewPracticeHandout {
            id,
            slug: &h.slug,
            text: h.into(),
            sources: serde_json::to_string(&h.sources).unwrap_or_default(),
            version: 1,
            created_by: author,
            created_at: at,
            updated_at: at,
            updated_by: author,
        })
        .execute(conn)?;
    Ok(id)
}

#[derive(Insertable)]
#[diesel(table_name = practice_handout_versions)]
struct NewVersion<'a> {
    id: PracticeHandoutVersionId,
    handout_id: PracticeHandoutId,
    version: i32,
    title: &'a str,
    summary: &'a str,
    body: &'a str,
    fits: &'a str,
    written_by: TherapistId,
    written_at: i64,
}

/// Replace a practice handout's text, keeping the text it replaces (with
/// who wrote it and when) as an earlier version; its version goes up by one.
pub fn update(
    conn: &mut DbConn,
    id: PracticeHandoutId,
    editor: TherapistId,
    h: &Handout,
) -> QueryResult<bool> {
    crate::db::write_transaction(conn, |conn| {
        let Some(current) = practice_handouts::table
            .find(id)
            .select(PracticeRow::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(false);
        };
        diesel::insert_into(practice_handout_versions::table)
            .values(NewVersion {
                id: PracticeHandoutVersionId::generate(),
                handout_id: id,
                version: current.version,
                title: &current.title,
                summary: &current.summary,
                body: &current.body,
                fits: &current.fits,
                written_by: current.updated_by.unwrap_or(current.created_by),
                written_at: current.updated_at,
            })
            .execute(conn)?;
        let n = diesel::update(
            practice_handouts::table
                .find(id)
                .filter(practice_handouts::version.eq(current.version)),
        )
        .set((
            HandoutText::from(h),
            practice_handouts::version.eq(current.version + 1),
            practice_handouts::updated_at.eq(now()),
            practice_handouts::updated_by.eq(editor),
        ))
        .execute(conn)?;
        Ok(n == 1)
    })
}

/// An earlier version of a practice handout.
#[derive(Queryable, Selectable)]
#[diesel(table_name = practice_handout_versions)]
pub struct PracticeVersion {
    /// Its version number.
    pub version: i32,
    /// Its title then.
    pub title: String,
    /// Its Markdown then.
    pub body: String,
    /// Who wrote it (none for versions from before this was recorded).
    pub written_by: Option<TherapistId>,
    /// When it was written.
    pub written_at: i64,
}

/// A practice handout's earlier versions, newest first.
pub fn earlier_versions(
    conn: &mut DbConn,
    id: PracticeHandoutId,
) -> QueryResult<Vec<PracticeVersion>> {
    practice_handout_versions::table
        .filter(practice_handout_versions::handout_id.eq(id))
        .order(practice_handout_versions::version.desc())
        .select(PracticeVersion::as_select())
        .load(conn)
}
