//! Tags for the moments that matter: a built-in vocabulary drawn from the
//! article behind the first handout, and each therapist's own tags (labels
//! sealed, referred to by id so renaming is safe).

use diesel::prelude::*;

use crate::crypto::{DataKey, Record};
use crate::db::schema::custom_tags;
use crate::db::{DbConn, now};
use crate::ids::{CustomTagId, TherapistId};

/// A built-in tag.
#[derive(Debug)]
pub struct BuiltinTag {
    /// Stable slug, used in URLs and stored in notes.
    pub slug: &'static str,
    /// Name shown.
    pub label: &'static str,
    /// One line of help text.
    pub description: &'static str,
}

/// The built-in vocabulary. Slugs are stable: never rename one.
pub const BUILTIN: [BuiltinTag; 7] = [
    BuiltinTag {
        slug: "tearful-breakthrough",
        label: "Tearful breakthrough",
        description: "Tears came with a new understanding or a step forward.",
    },
    BuiltinTag {
        slug: "emotional-release",
        label: "Emotional release",
        description: "Feelings held back for a long time were let out.",
    },
    BuiltinTag {
        slug: "vulnerability",
        label: "Vulnerability",
        description: "The client let themselves be seen, even though it felt risky.",
    },
    BuiltinTag {
        slug: "trust-building",
        label: "Trust building",
        description: "A step in trust between the client and you.",
    },
    BuiltinTag {
        slug: "self-compassion",
        label: "Self-compassion",
        description: "The client met their own pain with kindness.",
    },
    BuiltinTag {
        slug: "stress-relief",
        label: "Stress relief",
        description: "Tension or stress eased during the session.",
    },
    BuiltinTag {
        slug: "stigma-challenged",
        label: "Stigma challenged",
        description: "The client questioned shame about crying or needing help.",
    },
];

/// The built-in tag with this slug.
pub fn builtin(slug: &str) -> Option<&'static BuiltinTag> {
    BUILTIN.iter().find(|t| t.slug == slug)
}

/// How a note refers to a therapist's own tag.
pub fn custom_key(id: CustomTagId) -> String {
    format!("custom:{id}")
}

/// A therapist's own tag, opened.
#[derive(Clone, Debug)]
pub struct CustomTag {
    /// Row id.
    pub id: CustomTagId,
    /// Label as typed.
    pub label: String,
}

/// A tag ready to show: built-in or the therapist's own.
#[derive(Clone, Debug)]
pub struct TagView {
    /// What notes store: a slug or `custom:<id>`.
    pub key: String,
    /// Name shown.
    pub label: String,
    /// Help text (built-ins only).
    pub description: &'static str,
    /// Whether built in.
    pub builtin: bool,
}

/// The vocabulary a therapist can pick from: built-ins, then their own.
pub struct Vocabulary {
    /// Every tag, in display order.
    pub tags: Vec<TagView>,
}

impl Vocabulary {
    /// Built-ins plus these custom tags.
    pub fn new(custom: &[CustomTag]) -> Self {
        let mut tags: Vec<TagView> = BUILTIN
            .iter()
            .map(|t| TagView {
                key: t.slug.to_owned(),
                label: t.label.to_owned(),
                description: t.description,
                builtin: true,
            })
            .collect();
        let mut own: Vec<&CustomTag> = custom.iter().collect();
        own.sort_by_key(|t| t.label.to_lowercase());
        tags.extend(own.into_iter().map(|t| TagView {
            key: custom_key(t.id),
            label: t.label.clone(),
            description: "",
            builtin: false,
        }));
        Self { tags }
    }

    /// The tag a note's stored key refers to, if it still exists.
    pub fn get(&self, key: &str) -> Option<&TagView> {
        self.tags.iter().find(|t| t.key == key)
    }

    /// The therapist's own tags only.
    pub fn custom(&self) -> impl Iterator<Item = &TagView> {
        self.tags.iter().filter(|t| !t.builtin)
    }

    /// Views for stored keys, in vocabulary order, skipping unknown keys.
    pub fn views(&self, keys: &[String]) -> Vec<TagView> {
        self.tags
            .iter()
            .filter(|t| keys.contains(&t.key))
            .cloned()
            .collect()
    }
}

/// Load and open a therapist's own tags.
pub fn custom_tags(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &DataKey,
) -> QueryResult<Vec<CustomTag>> {
    let rows: Vec<(i64, Vec<u8>)> = custom_tags::table
        .filter(custom_tags::therapist_id.eq(therapist.0))
        .select((custom_tags::id, custom_tags::label))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, blob)| {
            let label = Record::new(dk, therapist.0, "custom_tags", id).open("label", &blob);
            match label {
                Ok(label) => Some(CustomTag {
                    id: CustomTagId(id),
                    label,
                }),
                Err(err) => {
                    tracing::warn!(tag = id, error = %err, "a custom tag failed to open");
                    None
                }
            }
        })
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
    let sealed = Record::new(dk, therapist.0, "custom_tags", id.0).seal("label", &label);
    diesel::insert_into(custom_tags::table)
        .values((
            custom_tags::id.eq(id.0),
            custom_tags::therapist_id.eq(therapist.0),
            custom_tags::label.eq(sealed),
            custom_tags::created_at.eq(now()),
        ))
        .execute(conn)?;
    existing.push(CustomTag { id, label });
    Ok(id)
}
