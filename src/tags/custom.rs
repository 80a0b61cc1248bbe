//! Each therapist's own tags: the `custom_tags` table. Labels are sealed
//! under the therapist's key; notes refer to a tag by id.

use diesel::prelude::*;

use crate::crypto::{DataKey, Record};
use crate::db::schema::custom_tags;
use crate::db::{DbConn, now};
use crate::ids::{CustomTagId, TherapistId};

/// A therapist's own tag, opened.
#[derive(Clone, Debug)]
pub struct CustomTag {
    /// Row id.
    pub id: CustomTagId,
    /// Label as typed.
    pub label: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = custom_tags)]
struct CustomTagRow {
    id: CustomTagId,
    label: Vec<u8>,
}

#[derive(Insertable)]
#[diesel(table_name = custom_tags)]
struct NewCustomTag {
    id: CustomTagId,
    therapist_id: TherapistId,
    label: Vec<u8>,
    created_at: i64,
}

fn record(dk: &DataKey, therapist: TherapistId, id: CustomTagId) -> Record<'_> {
    Record::new(dk, therapist.0, "custom_tags", id.0)
}

/// Load and open a therapist's own tags. A label that fails its integrity
/// check is left out (and logged): it cannot be offered.
pub fn all(conn: &mut DbConn, therapist: TherapistId, dk: &DataKey) -> QueryResult<Vec<CustomTag>> {
    let rows: Vec<CustomTagRow> = custom_tags::table
        .filter(custom_tags::therapist_id.eq(therapist))
        .select(CustomTagRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(
            |row| match record(dk, therapist, row.id).open("label", &row.label) {
                Ok(label) => Some(CustomTag { id: row.id, label }),
                Err(err) => {
                    tracing::warn!(tag = row.id.0, error = %err, "a custom tag failed to open");
                    None
                }
            },
        )
        .collect())
}

/// Normalise a typed tag label: trimmed, inner spaces collapsed.
pub fn clean_label(label: &str) -> String {
    label.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The id of the therapist's tag with this label (case-insensitive), made if new.
pub fn find_or_create(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    existing: &mut Vec<CustomTag>,
    label: &str,
) -> QueryResult<CustomTagId> {
    let label = clean_label(label);
    if let Some(tag) = existing
        .iter()
        .find(|t| t.label.to_lowercase() == label.to_lowercase())
    {
        return Ok(tag.id);
    }
    let id = CustomTagId::generate();
    diesel::insert_into(custom_tags::table)
        .values(NewCustomTag {
            id,
            therapist_id: therapist,
            label: record(dk, therapist, id).seal("label", &label),
            created_at: now(),
        })
        .execute(conn)?;
    existing.push(CustomTag { id, label });
    Ok(id)
}

/// Turn typed labels into tag keys, making the tags that do not exist yet.
pub fn keys_for_labels(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
    existing: &mut Vec<CustomTag>,
    labels: &[String],
) -> QueryResult<Vec<String>> {
    labels
        .iter()
        .map(|label| find_or_create(conn, therapist, dk, existing, label).map(super::custom_key))
        .collect()
}
