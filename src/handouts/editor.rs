//! The editor for the practice's own handouts: saving an imported draft,
//! "make my version" of a read-only handout, and changing one (only its
//! author or an administrator may; each change keeps the text it
//! replaced).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::content::{Handout, Origin, PracticeMeta, valid_slug};
use super::import::{IMPORT_FORM_LIMIT, MAX_IMPORT_CHARS};
use super::library::Library;
use super::pages::EditPage;
use super::practice;
use super::render::{reading_level, to_html};
use crate::audit::{self, Action};
use crate::auth::account::Role;
use crate::auth::extract::{Signed, SignedForm};
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::db::is_unique_violation;
use crate::ids::{PracticeHandoutId, TherapistId};
use crate::tags::{BUILTIN, TagView};
use crate::web::form::{FieldErrors, FormLimit, NoFields};
use crate::web::layout::thousands;
use crate::web::{AppError, AppState, render, see_other};

/// Register `POST /handouts` (a new handout; before the `{slug}` routes).
pub fn configure_new(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/handouts")
            .app_data(FormLimit(IMPORT_FORM_LIMIT))
            .route(web::post().to(create)),
    );
}

/// Register the editing routes of a handout.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/handouts/{slug}/copy", web::post().to(copy))
        .service(
            web::resource("/handouts/{slug}/edit")
                .app_data(FormLimit(IMPORT_FORM_LIMIT))
                .route(web::get().to(edit_form))
                .route(web::post().to(update)),
        );
}

/// Which editor a draft is in: a new handout (from an import), or the
/// practice's own handout at a slug.
pub struct Editor {
    heading: &'static str,
    action: String,
    slug_editable: bool,
}

impl Editor {
    /// Saving a new handout, its address still to choose.
    pub fn new_handout() -> Self {
        Self {
            heading: "Check and save the imported handout",
            action: "/handouts".into(),
            slug_editable: true,
        }
    }

    /// Changing the practice's handout at `slug`.
    fn existing(slug: &str) -> Self {
        Self {
            heading: "Edit handout",
            action: format!("/handouts/{slug}/edit"),
            slug_editable: false,
        }
    }

    /// The editor with `draft` in it, its preview and reading level.
    pub fn page(&self, session: &CurrentSession, draft: &Draft, errors: FieldErrors) -> EditPage {
        let level = reading_level(&draft.body, draft.language());
        EditPage {
            layout: layout_for(session, "handouts"),
            csrf_token: session.csrf_token.clone(),
            heading: self.heading.to_owned(),
            action: self.action.clone(),
            title: draft.title.clone(),
            slug: draft.slug.clone(),
            slug_editable: self.slug_editable,
            summary: draft.summary.clone(),
            body: draft.body.clone(),
            fits: BUILTIN
                .iter()
                .map(|t| (TagView::from(t), draft.fit.iter().any(|f| f == t.slug)))
                .collect(),
            preview_html: to_html(&draft.body),
            level: level.describe(),
            hard: level.hard,
            lang: draft.language().to_owned(),
            languages: crate::lang::OFFERED
                .iter()
                .map(|(tag, name)| ((*tag).to_owned(), (*name).to_owned()))
                .chain(
                    (!crate::lang::OFFERED
                        .iter()
                        .any(|(t, _)| *t == draft.language()))
                    .then(|| {
                        (
                            draft.language().to_owned(),
                            crate::lang::name(draft.language()),
                        )
                    }),
                )
                .collect(),
            errors,
        }
    }

    /// The editor shown again instead of saving: to look at the preview
    /// (200) or with its errors (400). `None` when the draft is to be saved.
    fn again(
        &self,
        session: &CurrentSession,
        draft: &Draft,
        errors: FieldErrors,
    ) -> Option<Result<HttpResponse, AppError>> {
        if draft.intent != "preview" && errors.is_empty() {
            return None;
        }
        let status = if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        Some(render(status, &self.page(session, draft, errors)))
    }
}

/// The draft editor's fields.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Draft {
    /// Title.
    pub title: String,
    /// Address (`/handouts/{slug}`).
    pub slug: String,
    /// One line for the library.
    pub summary: String,
    /// Markdown.
    pub body: String,
    /// Built-in tags it fits.
    pub fit: Vec<String>,
    /// The language it is written in (BCP 47); English when empty.
    pub lang: String,
    /// `preview` to look again before saving.
    pub intent: String,
}

impl Draft {
    /// The language it is written in.
    pub fn language(&self) -> &str {
        match self.lang.trim() {
            "" => "en",
            tag => tag,
        }
    }
}

fn check(draft: &Draft) -> FieldErrors {
    let mut errors = FieldErrors::default();
    if draft.title.trim().is_empty() {
        errors.add("title", "Give the handout a title.");
    } else if draft.title.chars().count() > 150 {
        errors.add("title", "Keep the title under 150 characters.");
    }
    if !valid_slug(&draft.slug) {
        errors.add(
            "slug",
            "Use lower-case letters, digits and dashes, like my-handout.",
        );
    }
    if draft.body.trim().is_empty() {
        errors.add("body", "The handout has no text.");
    } else if draft.body.chars().count() > MAX_IMPORT_CHARS {
        errors.add(
            "body",
            format!(
                "A handout can be at most {} characters.",
                thousands(MAX_IMPORT_CHARS)
            ),
        );
    }
    if draft
        .fit
        .iter()
        .any(|f| !BUILTIN.iter().any(|t| t.slug == f))
    {
        errors.add("fit", "One of the tags is not known.");
    }
    if !crate::lang::valid_tag(draft.language()) {
        errors.add("lang", "Choose the language the handout is written in.");
    }
    errors
}

/// The handout a draft describes, as written by `author` now.
fn handout_of(draft: &Draft, author: TherapistId) -> Handout {
    Handout {
        slug: draft.slug.trim().to_owned(),
        title: draft.title.trim().to_owned(),
        version: 1,
        summary: draft.summary.trim().to_owned(),
        fits: draft.fit.clone(),
        sources: vec![],
        card_of: None,
        discreet_title: None,
        body: draft.body.clone(),
        lang: crate::lang::canonical(draft.language()),
        languages: Default::default(),
        origin: Origin::Practice(PracticeMeta {
            id: PracticeHandoutId(0),
            author,
            last_editor: author,
            changed_at: crate::db::now(),
        }),
    }
}

/// `POST /handouts`: save a new practice handout (or preview it again).
async fn create(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    form: SignedForm<Draft>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let draft = form.form;
    let editor = Editor::new_handout();
    let mut errors = check(&draft);
    if library.is_fixed(&draft.slug) {
        errors.add(
            "slug",
            "That address is taken by a built-in handout. Choose another.",
        );
    }
    if let Some(page) = editor.again(&session, &draft, errors) {
        return page;
    }
    let (therapist, handout) = (session.therapist, handout_of(&draft, session.therapist));
    let saved = state
        .db(
            move |conn| match practice::insert(conn, therapist, &handout) {
                Ok(id) => {
                    audit::record(conn, Some(therapist), Action::HandoutSave, Some(id.0))?;
                    Ok(true)
                }
                Err(err) if is_unique_violation(&err) => Ok(false),
                Err(err) => Err(err.into()),
            },
        )
        .await?;
    if !saved {
        let mut errors = FieldErrors::default();
        errors.add(
            "slug",
            "Another handout already uses that address. Choose another.",
        );
        return render(StatusCode::CONFLICT, &editor.page(&session, &draft, errors));
    }
    Ok(see_other(&format!("/handouts/{}", draft.slug.trim())))
}

/// `POST /handouts/{slug}/copy`: "make my version" of a read-only handout.
async fn copy(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let all = super::all(&state, &library).await?;
    let original = all
        .iter()
        .find(|h| h.slug == *path)
        .ok_or_else(AppError::not_found)?;
    let mut mine = original.clone();
    mine.slug = super::free_slug(&all, &format!("{}-our-version", original.slug));
    let ours = if crate::lang::same(&original.lang, "es") {
        "nuestra versión"
    } else {
        "our version"
    };
    mine.title = format!("{} ({ours})", original.title);
    // A copy is a handout of its own: the original's other languages are
    // the original's.
    mine.languages.clear();
    let (therapist, slug) = (session.therapist, mine.slug.clone());
    state
        .db(move |conn| {
            let id = practice::insert(conn, therapist, &mine)?;
            audit::record(conn, Some(therapist), Action::HandoutSave, Some(id.0))?;
            Ok(())
        })
        .await?;
    Ok(see_other(&format!("/handouts/{slug}/edit")))
}

/// A practice handout this therapist may change (they added it, or they
/// are an administrator), with its row id.
async fn editable(
    state: &AppState,
    library: &Library,
    session: &CurrentSession,
    slug: &str,
) -> Result<(Handout, PracticeHandoutId), AppError> {
    let h = super::find(state, library, slug).await?;
    let admin = session.role == Role::Admin;
    match &h.origin {
        Origin::Practice(meta) if h.editable_by(session.therapist, admin) => {
            let id = meta.id;
            Ok((h, id))
        }
        Origin::Practice(_) => Err(AppError::forbidden(
            "Only the colleague who added this handout, or the practice's administrator, can change it. Use “Make my version” to get a copy you can edit.",
        )),
        _ => Err(AppError::conflict(
            "Built-in handouts are read-only. Use “Make my version” to get a copy you can edit.",
        )),
    }
}

/// `GET /handouts/{slug}/edit`: the practice's own handouts only.
async fn edit_form(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<EditPage, AppError> {
    let (h, _) = editable(&state, &library, &session, &path).await?;
    let draft = Draft {
        title: h.title,
        slug: h.slug.clone(),
        summary: h.summary,
        body: h.body,
        fit: h.fits,
        lang: h.lang,
        intent: String::new(),
    };
    Ok(Editor::existing(&h.slug).page(&session, &draft, FieldErrors::default()))
}

/// `POST /handouts/{slug}/edit`.
async fn update(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    path: web::Path<String>,
    form: SignedForm<Draft>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let (h, id) = editable(&state, &library, &session, &path).await?;
    let mut draft = form.form;
    draft.slug = h.slug.clone();
    let errors = check(&draft);
    if let Some(page) = Editor::existing(&h.slug).again(&session, &draft, errors) {
        return page;
    }
    let (therapist, handout) = (session.therapist, handout_of(&draft, session.therapist));
    state
        .db(move |conn| {
            practice::update(conn, id, therapist, &handout)?;
            audit::record(conn, Some(therapist), Action::HandoutSave, Some(id.0))?;
            Ok(())
        })
        .await?;
    Ok(see_other(&format!("/handouts/{}", h.slug)))
}
