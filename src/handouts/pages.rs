//! The pages of the handouts area (templates under `templates/handouts/`).
#![allow(missing_docs)]

use askama::Template;
use askama_web::WebTemplate;

use crate::ids::ClientId;
use crate::tags::TagView;
use crate::web::Layout;
use crate::web::form::FieldErrors;

/// A handout on the library page.
pub struct LibraryCard {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub level: String,
    pub hard: bool,
    pub length: String,
    /// Its language (tag, name).
    pub lang: String,
    pub language: String,
    pub fits: Vec<TagView>,
    pub own: bool,
    pub card: bool,
    /// "Unsigned, local…" or "From the signed pack…".
    pub provenance: Option<String>,
}

/// `/handouts`.
#[derive(Template, WebTemplate)]
#[template(path = "handouts/library.html")]
pub struct LibraryPage {
    pub layout: Layout,
    pub cards: Vec<LibraryCard>,
    pub problems: Vec<(String, String)>,
}

/// A client to print for.
pub struct ClientOption {
    pub id: ClientId,
    pub name: String,
    pub selected: bool,
}

/// `/handouts/{slug}`: on screen, with the print options.
#[derive(Template, WebTemplate)]
#[template(path = "handouts/show.html")]
pub struct HandoutPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub slug: String,
    pub title: String,
    pub body_html: String,
    pub level: String,
    pub length: String,
    /// Its language (tag, name), and its versions in others: (name, slug).
    pub lang: String,
    pub language: String,
    pub other_languages: Vec<(String, String)>,
    /// The print form's language choice: (tag, name, chosen), the first
    /// being the client's preferred language (empty tag).
    pub print_languages: Vec<(String, String, bool)>,
    /// "Quality (PEMAT-P): understandability 85% (meets …); …", and
    /// whether it is assessed.
    pub quality: String,
    pub assessed: bool,
    pub fits: Vec<TagView>,
    pub sources: Vec<String>,
    pub editable: bool,
    /// For the practice's own: its version, who changed it last, when.
    pub changed: Option<String>,
    pub has_versions: bool,
    pub clients: Vec<ClientOption>,
    /// The print form as chosen and typed so far.
    pub choices: Choices,
    pub notice: Option<&'static str>,
    pub errors: FieldErrors,
}

/// The print form's choices, to fill it in again.
pub struct Choices {
    pub note: String,
    pub a4: bool,
    pub large: bool,
    pub discreet: bool,
    pub names: bool,
}

/// An earlier version of a practice handout.
pub struct VersionView {
    pub version: i32,
    pub title: String,
    pub written: String,
    pub body_html: String,
}

/// `/handouts/{slug}/versions`.
#[derive(Template, WebTemplate)]
#[template(path = "handouts/versions.html")]
pub struct VersionsPage {
    pub layout: Layout,
    pub slug: String,
    pub title: String,
    pub current: i32,
    pub versions: Vec<VersionView>,
}

/// The screen-only tools above a print page.
pub struct GiveForm {
    pub action: String,
    pub client_id: ClientId,
    pub client_name: String,
    /// The print form's fields, sent again to record exactly this print.
    pub fields: Vec<(&'static str, String)>,
}

/// What the print page of a given handout says about the record.
pub struct GivenNote {
    pub text: String,
    /// Where to take the record back, while that can still be done.
    pub undo: Option<String>,
    pub client_href: String,
}

/// A given handout's private link on its print page.
pub enum LinkBlock {
    /// None yet (or it ended): the form to make one, with the lifetimes
    /// offered (days, and whether the default); what happened to the last,
    /// if there was one; and where to turn off a last one that still works
    /// though its code cannot be shown (it failed to open).
    Offer {
        action: String,
        days: Vec<(i64, bool)>,
        last: Option<String>,
        revoke: Option<String>,
    },
    /// A link that works: shown to the therapist (absolute URL, short
    /// code, state) and printed with its QR code.
    Live(LiveLink),
}

/// A private link that works.
pub struct LiveLink {
    pub url: String,
    /// Where the short code can be typed: the address of `/h`.
    pub typed_at: String,
    /// The short code, in groups of four.
    pub code: String,
    /// The QR code of `url`: its width in modules and the dark ones.
    pub qr_width: usize,
    pub qr_dark: Vec<(usize, usize)>,
    /// "Opened twice, last on …; works until …, for 18 more opens."
    pub state: String,
    pub revoke: String,
    /// Set when the link is plain http to a host other than this computer:
    /// the secret would cross the network unencrypted.
    pub insecure: bool,
}

/// `/handouts/{slug}/print`: its own layout, made for paper.
#[derive(Template, WebTemplate)]
#[template(path = "handouts/print.html")]
pub struct PrintPage {
    pub version: &'static str,
    pub csrf_token: String,
    /// The handout's language (`<html lang>`), and Tearsheet's words for
    /// its labels (in that language when it has them).
    pub lang: String,
    pub words: &'static crate::lang::Words,
    /// For the therapist: "In Spanish, their preferred language."
    pub printed_in: Option<String>,
    /// A given handout's private link: shown, or offered.
    pub link: Option<LinkBlock>,
    pub title: String,
    pub body_html: String,
    pub for_name: Option<String>,
    pub personal_note: String,
    pub paper: &'static str,
    pub large: bool,
    pub discreet: bool,
    pub header_left: String,
    pub header_right: String,
    pub footer_left: String,
    pub footer_right: String,
    pub sources: Vec<String>,
    /// Back to the form, with everything as chosen: where, and the fields.
    pub back: Option<(String, Vec<(&'static str, String)>)>,
    pub give: Option<GiveForm>,
    pub given: Option<GivenNote>,
}

/// The import form and the draft editor.
#[derive(Template, WebTemplate)]
#[template(path = "handouts/edit.html")]
pub struct EditPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub heading: String,
    pub action: String,
    pub title: String,
    pub slug: String,
    pub slug_editable: bool,
    pub summary: String,
    pub body: String,
    pub fits: Vec<(TagView, bool)>,
    pub preview_html: String,
    /// "Reading level: grade 3.2 (Flesch–Kincaid)".
    pub level: String,
    pub hard: bool,
    /// The language it is written in, and those offered: (tag, name).
    pub lang: String,
    pub languages: Vec<(String, String)>,
    pub errors: FieldErrors,
}

/// `/handouts/import`: paste an article.
#[derive(Template, WebTemplate)]
#[template(path = "handouts/import.html")]
pub struct ImportPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub source: String,
    pub kind: String,
    pub errors: FieldErrors,
    pub limit: String,
}
