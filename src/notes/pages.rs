//! The pages of the notes area (templates under `templates/notes/`).
#![allow(missing_docs)]

use askama::Template;
use askama_web::WebTemplate;

use super::charts::MonthChart;
use super::format::{NoteFormat, SessionType, form_value, name_of, sections_of};
use super::input::{MAX_KEY_MOMENT, NoteInput};
use super::model::MAX_NOTE_CHARS;
use super::search::Snippet;
use crate::ids::{ClientId, NoteId};
use crate::packs::content::Template as NoteTemplate;
use crate::tags::{TagView, Vocabulary};
use crate::web::Layout;
use crate::web::form::FieldErrors;

/// A choice in a `<select>`, or a format to switch to.
pub struct Choice {
    pub key: String,
    pub label: String,
    pub selected: bool,
}

/// A section's textarea.
pub struct SectionField {
    pub key: String,
    pub label: String,
    pub hint: String,
    pub text: String,
}

/// The tags of one pack, as the note form offers them.
pub struct PackTagGroup {
    pub pack: String,
    pub tags: Vec<TagChoice>,
}

/// A tag checkbox.
pub struct TagChoice {
    pub key: String,
    pub label: String,
    pub description: String,
    pub checked: bool,
    pub id: String,
}

/// Where a note form sits: everything but its fields.
pub struct FormFrame {
    pub layout: Layout,
    pub csrf_token: String,
    pub heading: String,
    pub action: String,
    pub cancel_href: String,
    pub client_name: String,
}

/// The note form, for a new note or a draft.
#[derive(Template, WebTemplate)]
#[template(path = "notes/form.html")]
pub struct NoteFormPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub heading: String,
    pub action: String,
    pub cancel_href: String,
    pub client_name: String,
    pub session_date: String,
    pub duration_minutes: String,
    pub session_types: Vec<Choice>,
    pub formats: Vec<Choice>,
    pub sections: Vec<SectionField>,
    pub key_moment: String,
    pub process_note: String,
    pub builtin_tags: Vec<TagChoice>,
    pub pack_tags: Vec<PackTagGroup>,
    pub custom_tags: Vec<TagChoice>,
    /// Templates from packs to switch to.
    pub templates: Vec<Choice>,
    pub new_tags: String,
    pub revision: i32,
    pub errors: FieldErrors,
    pub notice: Option<String>,
    pub key_moment_hint: String,
    pub max_chars: String,
    /// The form's one-time id (a new note sent twice is saved once).
    pub form_id: String,
    /// Whether the note is new (not yet saved).
    pub is_new: bool,
}

impl NoteFormPage {
    /// The form filled from what was typed.
    pub fn from_input(
        frame: FormFrame,
        input: &NoteInput,
        vocabulary: &Vocabulary,
        templates: &[&NoteTemplate],
        chosen: Option<&NoteTemplate>,
    ) -> Self {
        let FormFrame {
            layout,
            csrf_token,
            heading,
            action,
            cancel_href,
            client_name,
        } = frame;
        let format = input.chosen_format();
        let session_type =
            SessionType::parse(&input.session_type).unwrap_or(SessionType::Individual);
        let choice = |t: &TagView, i: usize| TagChoice {
            key: t.key.clone(),
            label: t.label.clone(),
            description: t.description.clone(),
            checked: input.tags.contains(&t.key),
            id: format!("tag-{i}"),
        };
        Self {
            layout,
            csrf_token,
            heading,
            action,
            cancel_href,
            client_name,
            session_date: input.session_date.clone(),
            duration_minutes: input.duration_minutes.clone(),
            session_types: SessionType::ALL
                .iter()
                .map(|t| Choice {
                    key: t.key().to_owned(),
                    label: t.label().to_owned(),
                    selected: *t == session_type,
                })
                .collect(),
            formats: NoteFormat::ALL
                .iter()
                .map(|f| Choice {
                    key: f.key().to_owned(),
                    label: f.label().to_owned(),
                    selected: chosen.is_none() && *f == format,
                })
                .collect(),
            templates: templates
                .iter()
                .map(|t| Choice {
                    key: form_value(NoteFormat::Free, Some(t)),
                    label: name_of(NoteFormat::Free, Some(t)),
                    selected: chosen.is_some_and(|c| c.key == t.key),
                })
                .collect(),
            sections: sections_of(format, chosen)
                .iter()
                .map(|s| SectionField {
                    key: s.key.to_owned(),
                    label: s.label.to_owned(),
                    hint: s.hint.to_owned(),
                    text: input.sections.get(s.key).cloned().unwrap_or_default(),
                })
                .collect(),
            key_moment: input.key_moment.clone(),
            process_note: input.process_note.clone(),
            builtin_tags: vocabulary
                .tags
                .iter()
                .enumerate()
                .filter(|(_, t)| t.builtin)
                .map(|(i, t)| choice(t, i))
                .collect(),
            pack_tags: {
                // A pack's tags under its name; a version no longer loaded
                // only while a note still has it chosen.
                let mut groups: Vec<PackTagGroup> = Vec::new();
                for (i, t) in vocabulary.tags.iter().enumerate() {
                    let Some(pack) = &t.pack else { continue };
                    if !t.offered && !input.tags.contains(&t.key) {
                        continue;
                    }
                    match groups.last_mut() {
                        Some(g) if &g.pack == pack => g.tags.push(choice(t, i)),
                        _ => groups.push(PackTagGroup {
                            pack: pack.clone(),
                            tags: vec![choice(t, i)],
                        }),
                    }
                }
                groups
            },
            custom_tags: vocabulary
                .tags
                .iter()
                .enumerate()
                .filter(|(_, t)| !t.builtin && t.pack.is_none())
                .map(|(i, t)| choice(t, i))
                .collect(),
            new_tags: input.new_tags.clone(),
            revision: input.revision,
            errors: FieldErrors::default(),
            notice: None,
            key_moment_hint: format!(
                "One line for the timeline, such as “cried for the first time when talking about her father” (at most {MAX_KEY_MOMENT} characters)."
            ),
            max_chars: crate::web::layout::thousands(MAX_NOTE_CHARS),
            form_id: input.form_id.clone(),
            is_new: input.revision == 0,
        }
    }
}

/// A section as shown on a note.
pub struct SectionView {
    pub label: String,
    pub text: String,
}

/// An addendum as shown.
pub struct AddendumView {
    pub when: String,
    pub by: String,
    pub body: String,
}

/// A handout suggested by a note's tags.
pub struct Suggestion {
    pub title: String,
    pub href: String,
}

/// `/notes/{id}`.
#[derive(Template, WebTemplate)]
#[template(path = "notes/show.html")]
pub struct NotePage {
    pub layout: Layout,
    pub csrf_token: String,
    pub id: NoteId,
    pub client_id: ClientId,
    pub client_name: String,
    pub date: String,
    pub duration_minutes: i32,
    pub session_type: &'static str,
    pub format: String,
    pub signed: bool,
    pub signed_at: String,
    pub signed_by: String,
    pub updated_at: String,
    pub revision: i32,
    pub sections: Vec<SectionView>,
    pub key_moment: String,
    pub process_note: String,
    pub tags: Vec<TagView>,
    pub addenda: Vec<AddendumView>,
    pub damaged: bool,
    pub tampered: bool,
    pub has_history: bool,
    pub notice: Option<&'static str>,
    pub errors: FieldErrors,
    pub addendum_text: String,
    pub suggestions: Vec<Suggestion>,
    /// Why the draft could not be signed, beside the Sign button.
    pub sign_error: Option<String>,
    /// The reader is the associate's supervisor (read, co-sign, return).
    pub supervising: bool,
    /// The reader wrote the note (else it came with a client handed over).
    pub by_reader: bool,
    /// Signed, the author is supervised, and not yet co-signed.
    pub awaiting_cosign: bool,
    /// "Co-signed by …, credentials, on …".
    pub cosignature: Option<String>,
    /// The supervisor's returns, with their comments.
    pub reviews: Vec<AddendumView>,
    /// Measures recorded with this session.
    pub measures: Vec<crate::measures::view::MeasureView>,
    /// PHQ-9 item 9 above 0 in those measures: date and answer.
    pub self_harm: Vec<(String, &'static str)>,
}

/// One line of a diff.
pub struct DiffLine {
    pub kind: &'static str,
    pub text: String,
}

/// What changed in one part of a note between two revisions.
pub struct FieldDiff {
    pub label: String,
    pub lines: Vec<DiffLine>,
}

/// One step in a note's history.
pub struct HistoryStep {
    pub revision: i32,
    pub when: String,
    pub changes: Vec<FieldDiff>,
    pub current: bool,
}

/// `/notes/{id}/history`.
#[derive(Template, WebTemplate)]
#[template(path = "notes/history.html")]
pub struct HistoryPage {
    pub layout: Layout,
    pub id: NoteId,
    pub client_name: String,
    pub date: String,
    pub steps: Vec<HistoryStep>,
}

/// Both sides of a conflict, section by section.
pub struct ConflictSection {
    pub key: String,
    pub label: String,
    pub theirs: String,
    pub yours: String,
    pub differs: bool,
}

/// The 409 page: a draft changed in another tab.
#[derive(Template, WebTemplate)]
#[template(path = "notes/conflict.html")]
pub struct ConflictPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub id: NoteId,
    pub revision: i32,
    pub their_saved_at: String,
    pub sections: Vec<ConflictSection>,
    pub key_moment_theirs: String,
    pub key_moment_yours: String,
    pub process_theirs: String,
    pub process_yours: String,
    pub hidden: Vec<(String, String)>,
}

/// One result row.
pub struct ResultView {
    pub href: String,
    pub client_name: String,
    pub client_href: String,
    pub date: String,
    pub signed: bool,
    pub tags: Vec<TagView>,
    pub key_moment: String,
    pub snippet: Option<Snippet>,
}

/// A client in the filter.
pub struct ClientChoice {
    pub id: ClientId,
    pub name: String,
    pub selected: bool,
}

/// `/notes`: search, filters and the caseload chart.
#[derive(Template, WebTemplate)]
#[template(path = "notes/search.html")]
pub struct SearchPage {
    pub layout: Layout,
    pub q: String,
    pub tag: String,
    pub from: String,
    pub to: String,
    pub tags: Vec<TagView>,
    pub clients: Vec<ClientChoice>,
    pub searched: bool,
    pub results: Vec<ResultView>,
    pub total: usize,
    pub shown: usize,
    pub chart: MonthChart,
    pub errors: FieldErrors,
}

/// `/notes/{id}/delete`: what deleting would remove, and the confirmation.
#[derive(Template, WebTemplate)]
#[template(path = "notes/delete.html")]
pub struct DeletePage {
    pub layout: Layout,
    pub csrf_token: String,
    pub id: NoteId,
    pub client_name: String,
    pub date: String,
    pub first_words: String,
}
