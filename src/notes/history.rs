//! `/notes/{id}/history`: every saved revision of a note and what changed
//! in each, line by line.

use actix_web::{HttpResponse, web};

use super::format::NoteFormat;
use super::model::NoteContent;
use super::pages::{DiffLine, FieldDiff, HistoryPage, HistoryStep};
use super::versions;
use crate::audit::{self, Action};
use crate::auth::extract::Signed;
use crate::auth::layout_for;
use crate::tags::{self, Vocabulary};
use crate::web::layout::{DAMAGED, shown};
use crate::web::{AppError, AppState, render};

/// Register the history route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/notes/{id}/history", web::get().to(history));
}

fn diff(label: &str, old: &str, new: &str) -> Option<FieldDiff> {
    if old == new {
        return None;
    }
    let lines = similar::TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|change| DiffLine {
            kind: match change.tag() {
                similar::ChangeTag::Delete => "removed",
                similar::ChangeTag::Insert => "added",
                similar::ChangeTag::Equal => "same",
            },
            text: change.value().trim_end_matches('\n').to_owned(),
        })
        .collect();
    Some(FieldDiff {
        label: label.to_owned(),
        lines,
    })
}

fn changes(
    old: &NoteContent,
    new: &NoteContent,
    format: NoteFormat,
    vocabulary: &Vocabulary,
) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    let mut keys: Vec<&String> = old.sections.keys().chain(new.sections.keys()).collect();
    keys.sort();
    keys.dedup();
    let layouts = [new.layout(format), old.layout(format)];
    let label_of = |key: &str| {
        layouts
            .iter()
            .flatten()
            .map(|s| (s.key, s.label))
            .chain(
                NoteFormat::ALL
                    .iter()
                    .flat_map(|f| f.sections())
                    .map(|s| (s.key, s.label)),
            )
            .find(|(k, _)| *k == key)
            .map_or(key.to_owned(), |(_, label)| label.to_owned())
    };
    let order = |k: &&String| {
        layouts[0]
            .iter()
            .position(|s| s.key == k.as_str())
            .unwrap_or(usize::MAX)
    };
    keys.sort_by_key(order);
    for key in keys {
        let (a, b) = (
            old.sections.get(key).map_or("", String::as_str),
            new.sections.get(key).map_or("", String::as_str),
        );
        out.extend(diff(&label_of(key), a, b));
    }
    out.extend(diff("Key moment", &old.key_moment, &new.key_moment));
    out.extend(diff(
        "Private process note",
        &old.process_note,
        &new.process_note,
    ));
    let names = |tags: &[String]| {
        vocabulary
            .views(tags)
            .iter()
            .map(|t| t.label.clone())
            .collect::<Vec<_>>()
            .join("\n")
    };
    out.extend(diff("Tags", &names(&old.tags), &names(&new.tags)));
    out
}

/// What a revision says, or the integrity notice in place of every part.
fn or_notice(content: Option<NoteContent>) -> NoteContent {
    content.unwrap_or_else(|| NoteContent {
        template: None,
        sections: [("text".to_owned(), DAMAGED.to_owned())].into(),
        key_moment: DAMAGED.to_owned(),
        process_note: DAMAGED.to_owned(),
        tags: vec![],
    })
}

/// `GET /notes/{id}/history`: every saved revision and what changed.
async fn history(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (row, client) = super::authored(&state, &session, &path).await?;
    let (therapist, id, dk) = (session.therapist, row.id, session.keys.clone());
    let client_id = row.client_id;
    let (custom, versions) = state
        .db(move |conn| {
            let context = (
                tags::custom::all(conn, therapist, dk.dk())?,
                versions::all(conn, therapist, &dk, client_id, id)?,
            );
            audit::record(conn, Some(therapist), Action::NoteView, Some(id.0))?;
            Ok(context)
        })
        .await?;
    let vocabulary = Vocabulary::new(&custom, &state.packs.current());
    let current = row.open(&session.keys);
    let mut snapshots: Vec<(i32, i64, NoteContent, NoteFormat, bool)> = versions
        .into_iter()
        .map(|v| {
            (
                v.revision,
                v.saved_at,
                or_notice(v.content.ok()),
                v.format,
                false,
            )
        })
        .collect();
    snapshots.push((
        current.revision,
        current.updated_at,
        or_notice(current.content()),
        current.facts.format,
        true,
    ));
    let mut steps = Vec::new();
    let mut previous = NoteContent::default();
    for (revision, saved_at, content, format, is_current) in snapshots {
        steps.push(HistoryStep {
            revision,
            when: session.dates.moment(saved_at),
            changes: changes(&previous, &content, format, &vocabulary),
            current: is_current,
        });
        previous = content;
    }
    steps.reverse();
    let page = HistoryPage {
        layout: layout_for(&session, "clients"),
        id: row.id,
        client_name: shown(&client.full_name),
        date: session.dates.session(&row.session_date),
        steps,
    };
    render(actix_web::http::StatusCode::OK, &page)
}
