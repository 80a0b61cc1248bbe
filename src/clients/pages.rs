//! The pages of the clients area (templates under `templates/clients/`).
#![allow(missing_docs)]

use askama::Template;
use askama_web::WebTemplate;

use super::timeline::Timeline;
use crate::ids::ClientId;
use crate::measures::view::MeasureView;
use crate::tags::TagView;
use crate::web::Layout;
use crate::web::form::FieldErrors;

/// One client in the list.
pub struct ClientListItem {
    pub href: String,
    pub name: String,
    pub preferred: String,
    pub last_session: String,
    /// Latest scores in words, or empty.
    pub scores: String,
    /// The latest PHQ-9 answered item 9 above 0.
    pub self_harm: bool,
    /// Shown only because of item 9: the score filters would hide it.
    pub shown_for_safety: bool,
}

/// `/clients`.
#[derive(Template, WebTemplate)]
#[template(path = "clients/list.html")]
pub struct ClientList {
    /// Links to clients colleagues offer this therapist.
    pub offers: Vec<String>,
    /// Drafts from tools waiting in the inbox.
    pub inbox_waiting: i64,
    pub layout: Layout,
    pub q: String,
    pub archived: bool,
    pub clients: Vec<ClientListItem>,
    pub total_active: usize,
    pub total_archived: usize,
    /// Any client has a measure (so the score filters are worth showing).
    pub has_measures: bool,
    /// A score filter is on.
    pub filtered: bool,
    pub measure: String,
    pub band: String,
    pub change: String,
    pub bands: Vec<(&'static str, &'static str)>,
    pub notice: Option<&'static str>,
}

/// `/clients/new` and `/clients/{id}/edit`.
#[derive(Template, WebTemplate)]
#[template(path = "clients/form.html")]
pub struct ClientForm {
    pub layout: Layout,
    pub csrf_token: String,
    pub heading: String,
    pub action: String,
    pub cancel_href: String,
    pub full_name: String,
    pub preferred_name: String,
    pub pronouns: String,
    pub date_of_birth: String,
    pub about: String,
    /// The language chosen, and the languages offered: (tag, name).
    pub language: String,
    pub languages: Vec<(String, String)>,
    pub errors: FieldErrors,
    pub notice: Option<&'static str>,
}

/// `/clients/{id}`.
#[derive(Template, WebTemplate)]
#[template(path = "clients/show.html")]
pub struct ClientPage {
    /// Who has owned the client: one line per hand-over, oldest first.
    pub owners: Vec<String>,
    /// Rating scales from the practice's packs: (key, title).
    pub scales: Vec<(String, String)>,
    pub layout: Layout,
    pub csrf_token: String,
    pub id: ClientId,
    pub full_name: String,
    pub preferred_name: String,
    pub pronouns: String,
    pub date_of_birth: String,
    pub about: String,
    /// The preferred language's name ("Spanish"), empty when not recorded.
    pub language: String,
    pub archived: bool,
    pub damaged: bool,
    pub notes: Vec<TimelineRow>,
    pub timeline: Option<TimelineView>,
    pub handouts: Vec<GivenHandout>,
    /// Measures, newest first.
    pub measures: Vec<MeasureView>,
    /// PHQ-9 item 9 answered above 0: date and answer, newest first.
    pub self_harm: Vec<(String, &'static str)>,
    pub notice: Option<&'static str>,
}

/// A handout given to the client.
pub struct GivenHandout {
    pub title: String,
    pub when: String,
    pub href: String,
    /// Its private link's state: opened when, works until when.
    pub link: Option<String>,
}

/// `/clients/{id}/delete`.
#[derive(Template, WebTemplate)]
#[template(path = "clients/delete.html")]
pub struct DeletePage {
    pub layout: Layout,
    pub csrf_token: String,
    pub id: ClientId,
    pub full_name: String,
    pub signed_notes: i64,
    pub draft_notes: i64,
    pub errors: FieldErrors,
}

/// The timeline and its table, on the client page.
pub struct TimelineView {
    pub chart: Timeline,
    pub rows: Vec<TimelineRow>,
}

/// One session in the timeline's table and the list of notes.
#[derive(Clone)]
pub struct TimelineRow {
    pub date: String,
    pub href: String,
    pub tags: Vec<TagView>,
    pub key_moment: String,
}
