//! Writing notes: the form for a new note and for a draft, changing
//! format, saving (never over newer work: a save from a stale revision gets
//! both texts side by side), and coming back after the session ended.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::format::{NoteFormat, Template, form_value, name_of, reformat_into};
use super::input::NoteInput;
use super::model::{self, NoteContent, NoteRow, SaveOutcome, SessionFacts, SignOutcome};
use super::pages::{ConflictPage, ConflictSection, FormFrame, NoteFormPage};
use crate::audit::{self, Action};
use crate::auth::extract::{Signed, WritingForm};
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::crypto::Keys;
use crate::db::{DbConn, write_transaction};
use crate::ids::{ClientId, NoteId, TherapistId};
use crate::tags::{self, CustomTag, Vocabulary};
use crate::web::form::{FormLimit, NoFields};
use crate::web::layout::{shown, today};
use crate::web::{AppError, AppState, render, see_other, with_cookie};

/// Note forms may carry up to a million characters of any script, which
/// percent-encoding can make about nine times larger.
pub const NOTE_FORM_LIMIT: usize = 12 * 1024 * 1024;

/// Register the writing routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/clients/{id}/notes/new", web::get().to(new_form))
        .service(
            web::resource("/clients/{id}/notes")
                .app_data(FormLimit(NOTE_FORM_LIMIT))
                .route(web::post().to(create)),
        )
        .service(
            web::resource("/notes/{id}/edit")
                .app_data(FormLimit(NOTE_FORM_LIMIT))
                .route(web::get().to(edit_form))
                .route(web::post().to(save)),
        );
}

/// Where a note form goes.
#[derive(Clone, Copy)]
enum Target {
    /// A new note for this client.
    New(ClientId),
    /// This draft.
    Draft(NoteId),
}

/// The templates a note form can use: those the loaded packs offer now,
/// and the one a draft already keeps (which stays usable, at its version,
/// whatever happens to its pack).
pub struct Templates {
    offered: Vec<Template>,
    stored: Option<Template>,
}

impl Templates {
    /// What the packs offer now, and what this note keeps.
    pub fn new(state: &AppState, stored: Option<Template>) -> Self {
        Self {
            offered: state.packs.current().templates().cloned().collect(),
            stored,
        }
    }

    /// The template with this key: the note's own first, else an offered one.
    fn find(&self, key: Option<&str>) -> Option<&Template> {
        let key = key?;
        self.stored
            .iter()
            .chain(&self.offered)
            .find(|t| t.key == key)
    }
}

fn form_page(
    session: &CurrentSession,
    target: Target,
    client_name: &str,
    input: &NoteInput,
    vocabulary: &Vocabulary,
    templates: &Templates,
) -> NoteFormPage {
    let (heading, action, cancel_href) = match target {
        Target::New(client) => (
            format!("New note for {client_name}"),
            format!("/clients/{client}/notes"),
            format!("/clients/{client}"),
        ),
        Target::Draft(id) => (
            format!("Edit draft note for {client_name}"),
            format!("/notes/{id}/edit"),
            format!("/notes/{id}"),
        ),
    };
    let frame = FormFrame {
        layout: layout_for(session, "clients"),
        csrf_token: session.csrf_token.clone(),
        heading,
        action,
        cancel_href,
        client_name: client_name.to_owned(),
    };
    let chosen = templates.find(input.template_key());
    let mut offered: Vec<&Template> = templates.offered.iter().collect();
    if let Some(kept) = &templates.stored
        && !offered.iter().any(|t| t.key == kept.key)
    {
        offered.push(kept);
    }
    NoteFormPage::from_input(frame, input, vocabulary, &offered, chosen)
}

const RESUMED: &str = "You are signed in again. Your note is below exactly as you typed it, and it is not saved yet: check it and press Save draft.";

fn reformat_notice(input: &mut NoteInput, templates: &Templates) -> String {
    let chosen = templates.find(input.template_key());
    let from = templates.find(input.previous_template_key());
    let moved = input.apply_format(chosen, from);
    let format = name_of(input.chosen_format(), chosen);
    if moved.is_empty() {
        format!("The note is now in {format} format. Nothing is saved until you press Save draft.")
    } else {
        format!(
            "The note is now in {format} format. Text from {} was moved into the first section so nothing is lost. Nothing is saved until you press Save draft.",
            moved.join(", ")
        )
    }
}

/// `GET /clients/{id}/notes/new`.
async fn new_form(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<NoteFormPage, AppError> {
    let client = crate::clients::owned(&state, &session, &path)
        .await?
        .open(&session.keys);
    let (vocabulary, _) = super::vocabulary(&state, &session).await?;
    let input = NoteInput {
        session_date: today(),
        duration_minutes: "50".into(),
        session_type: "individual".into(),
        format: NoteFormat::Soap.key().into(),
        form_id: crate::crypto::random_token(),
        ..NoteInput::default()
    };
    Ok(form_page(
        &session,
        Target::New(client.id),
        &shown(&client.full_name),
        &input,
        &vocabulary,
        &Templates::new(&state, None),
    ))
}

/// A checked note, ready to store, with the labels of any new tags.
struct ToStore {
    facts: SessionFacts,
    content: NoteContent,
    new_tags: Vec<String>,
}

/// What a note form sent, checked: either a page to show again (after
/// signing in again, a change of format, or with its errors), or the note
/// to store.
type Checked = Result<ToStore, HttpResponse>;

/// Check a note form against the therapist's vocabulary.
fn check(
    form: &WritingForm<NoFields>,
    target: Target,
    client_name: &str,
    vocabulary: &Vocabulary,
    templates: &Templates,
) -> Result<Checked, AppError> {
    let session = &form.session;
    let mut input = NoteInput::from_pairs(&form.pairs);
    if form.resumed || input.intent == "reformat" {
        let notice = if form.resumed {
            RESUMED.to_owned()
        } else {
            reformat_notice(&mut input, templates)
        };
        let page = NoteFormPage {
            notice: Some(notice),
            ..form_page(session, target, client_name, &input, vocabulary, templates)
        };
        return Ok(Err(with_cookie(
            render(StatusCode::OK, &page)?,
            form.cookie.clone(),
        )?));
    }
    match input.validate(vocabulary, templates.find(input.template_key()), &today()) {
        Ok((facts, content)) => Ok(Ok(ToStore {
            facts,
            content,
            new_tags: input.new_tag_labels(),
        })),
        Err(errors) => {
            if input.template_key().is_some() && templates.find(input.template_key()).is_none() {
                // Its template is gone (its pack removed, or not loaded on
                // this server yet): every word moves into free text under
                // its section's name, so nothing typed is lost.
                input.format = NoteFormat::Free.key().to_owned();
                input.apply_format(None, None);
            }
            let page = NoteFormPage {
                errors,
                ..form_page(session, target, client_name, &input, vocabulary, templates)
            };
            Ok(Err(render(StatusCode::BAD_REQUEST, &page)?))
        }
    }
}

/// `POST /clients/{id}/notes`: write a new draft (or change format first).
async fn create(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: WritingForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let client = crate::clients::owned(&state, &session, &path)
        .await?
        .open(&session.keys);
    let (vocabulary, custom) = super::vocabulary(&state, &session).await?;
    let target = Target::New(client.id);
    let templates = Templates::new(&state, None);
    let ToStore {
        facts,
        mut content,
        new_tags,
    } = match check(
        &form,
        target,
        &shown(&client.full_name),
        &vocabulary,
        &templates,
    )? {
        Ok(checked) => checked,
        Err(page) => return Ok(page),
    };
    // Sealing happens on the blocking thread, with a copy of the key that
    // is dropped (and zeroed) there.
    let input = NoteInput::from_pairs(&form.pairs);
    let client_name = shown(&client.full_name);
    let (therapist, dk, client, sign) = (
        session.therapist,
        session.keys.clone(),
        client.id,
        input.intent == "sign",
    );
    let form_id = Some(input.form_id.clone()).filter(|f| !f.is_empty() && f.len() <= 64);
    let (id, made, signed) = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                if let Some(existing) = form_id
                    .as_deref()
                    .map(|f| model::made_from_form(conn, therapist, f))
                    .transpose()?
                    .flatten()
                {
                    // The same form sent again (Back, then Save): the note
                    // it made is the answer, not a second note.
                    return Ok((existing, false, None));
                }
                add_new_tags(conn, therapist, &dk, custom, &new_tags, &mut content)?;
                let id = model::create(
                    conn,
                    therapist,
                    &dk,
                    client,
                    &facts,
                    &content,
                    form_id.as_deref(),
                )?;
                audit::record(conn, Some(therapist), Action::NoteCreate, Some(id.0))?;
                let signed = if sign {
                    Some(sign_now(conn, therapist, &dk, id, 1)?)
                } else {
                    None
                };
                Ok((id, true, signed))
            })
        })
        .await?;
    if !made {
        return Ok(see_other(&format!("/notes/{id}?already=1")));
    }
    match signed {
        None => Ok(see_other(&format!("/notes/{id}"))),
        Some(SignOutcome::Signed) => Ok(see_other(&format!("/notes/{id}?signed=1"))),
        Some(outcome) => not_signed(
            &session,
            (id, 1),
            &client_name,
            &input,
            (&vocabulary, &templates),
            &outcome,
        ),
    }
}

/// Sign a note just saved (the form's "Save and sign"), auditing it.
fn sign_now(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &Keys,
    id: NoteId,
    revision: i32,
) -> diesel::QueryResult<SignOutcome> {
    let signed_as = crate::auth::account::signature_of(conn, therapist)?;
    let outcome = model::sign(conn, therapist, dk, id, revision, &signed_as)?;
    if outcome == SignOutcome::Signed {
        audit::record(conn, Some(therapist), Action::NoteSign, Some(id.0))?;
    }
    Ok(outcome)
}

/// The draft's form again after "Save and sign" saved it but could not
/// sign it (headings left empty): what was typed, now saved, and why.
fn not_signed(
    session: &CurrentSession,
    (id, revision): (NoteId, i32),
    client_name: &str,
    input: &NoteInput,
    (vocabulary, templates): (&Vocabulary, &Templates),
    outcome: &SignOutcome,
) -> Result<HttpResponse, AppError> {
    let why = match outcome {
        SignOutcome::Incomplete(missing) => super::sign::incomplete_message(missing),
        _ => "Saved as a draft, but it could not be signed. Open the note to sign it.".to_owned(),
    };
    let input = NoteInput {
        revision,
        intent: String::new(),
        form_id: String::new(),
        ..input.clone()
    };
    let mut errors = crate::web::form::FieldErrors::default();
    errors.add("section_", why);
    let page = NoteFormPage {
        errors,
        notice: Some("Your note is saved as a draft.".to_owned()),
        ..form_page(
            session,
            Target::Draft(id),
            client_name,
            &input,
            vocabulary,
            templates,
        )
    };
    render(StatusCode::BAD_REQUEST, &page)
}

/// Give the note the new tags typed, making those that do not exist yet
/// (in the caller's transaction, so a save that fails makes none).
fn add_new_tags(
    conn: &mut DbConn,
    therapist: TherapistId,
    dk: &Keys,
    mut existing: Vec<CustomTag>,
    labels: &[String],
    content: &mut NoteContent,
) -> diesel::QueryResult<()> {
    let keys = tags::custom::keys_for_labels(conn, therapist, dk.dk(), &mut existing, labels)?;
    content.tags.extend(keys);
    Ok(())
}

fn input_from_note(row: &NoteRow, content: &NoteContent) -> NoteInput {
    let facts = row.facts();
    NoteInput {
        session_date: facts.session_date,
        duration_minutes: facts.duration_minutes.to_string(),
        session_type: facts.session_type.key().to_owned(),
        format: form_value(facts.format, content.template.as_ref()),
        previous_format: String::new(),
        sections: content.sections.clone(),
        key_moment: content.key_moment.clone(),
        process_note: content.process_note.clone(),
        tags: content.tags.clone(),
        new_tags: String::new(),
        revision: row.revision,
        intent: String::new(),
        form_id: String::new(),
    }
}

/// `GET /notes/{id}/edit`.
async fn edit_form(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (row, client) = super::authored(&state, &session, &path).await?;
    if row.is_signed() {
        return Ok(see_other(&format!("/notes/{}", row.id)));
    }
    let Some(content) = row.open(&session.keys).content() else {
        return Err(AppError::conflict(
            "This note failed an integrity check, so it cannot be edited. Nothing has been changed.",
        ));
    };
    let (vocabulary, _) = super::vocabulary(&state, &session).await?;
    let page = form_page(
        &session,
        Target::Draft(row.id),
        &shown(&client.full_name),
        &input_from_note(&row, &content),
        &vocabulary,
        &Templates::new(&state, content.template.clone()),
    );
    render(StatusCode::OK, &page)
}

/// `POST /notes/{id}/edit`: save a draft, refusing to overwrite newer work.
async fn save(
    state: web::Data<AppState>,
    library: web::Data<crate::handouts::Library>,
    path: web::Path<String>,
    form: WritingForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let (row, client) = super::authored(&state, &session, &path).await?;
    let (vocabulary, custom) = super::vocabulary(&state, &session).await?;
    let target = Target::Draft(row.id);
    let kept = row.open_template(&session.keys);
    let templates = Templates::new(&state, kept);
    let ToStore {
        facts,
        content,
        new_tags,
    } = match check(
        &form,
        target,
        &shown(&client.full_name),
        &vocabulary,
        &templates,
    )? {
        Ok(checked) => checked,
        Err(page) => return Ok(page),
    };
    let input = NoteInput::from_pairs(&form.pairs);
    let (base, sign) = (input.revision, input.intent == "sign");
    let (therapist, id, dk) = (session.therapist, row.id, session.keys.clone());
    let (saved_facts, mut saved_content) = (facts.clone(), content.clone());
    let (outcome, signed) = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                add_new_tags(conn, therapist, &dk, custom, &new_tags, &mut saved_content)?;
                let outcome = model::save_draft(
                    conn,
                    therapist,
                    &dk,
                    id,
                    base,
                    &saved_facts,
                    &saved_content,
                )?;
                let mut signed = None;
                if let SaveOutcome::Saved(revision) = outcome {
                    audit::record(conn, Some(therapist), Action::NoteEdit, Some(id.0))?;
                    if sign {
                        signed = Some(sign_now(conn, therapist, &dk, id, revision)?);
                    }
                }
                Ok((outcome, signed))
            })
        })
        .await?;
    match outcome {
        SaveOutcome::Saved(revision) => match signed {
            None => Ok(see_other(&format!("/notes/{id}?saved=1"))),
            Some(SignOutcome::Signed) => Ok(see_other(&format!("/notes/{id}?signed=1"))),
            Some(outcome) => not_signed(
                &session,
                (id, revision),
                &shown(&client.full_name),
                &input,
                (&vocabulary, &templates),
                &outcome,
            ),
        },
        SaveOutcome::NotFound => Err(audit::denied(&state, therapist, Some(id.0)).await),
        SaveOutcome::Signed => {
            // A draft page from before the note was signed (Back, or another
            // tab): the note as it is, with what was typed waiting in the
            // addendum box, never a dead end.
            let mut page =
                super::show::note_page(&state, &library, &session, &row, &client, None, false)
                    .await?;
            page.notice = Some(
                "This note was signed before these changes were saved, so it cannot change. What you typed is in the addendum box below, not added yet: keep what matters and add it.",
            );
            page.addendum_text = as_addendum(&row, &content);
            render(StatusCode::CONFLICT, &page)
        }
        SaveOutcome::Damaged => Err(AppError::conflict(
            "This note failed an integrity check, so it cannot be changed. Nothing was saved.",
        )),
        SaveOutcome::Stale(current) => {
            let theirs = current.open(&session.keys).content().unwrap_or_default();
            let page = conflict_page(&session, &current, &theirs, &facts, &content, &input);
            render(StatusCode::CONFLICT, &page)
        }
    }
}

/// What was typed into a draft form, as one text to add to the signed note.
fn as_addendum(row: &NoteRow, content: &NoteContent) -> String {
    let mut parts: Vec<String> = content
        .layout(row.facts().format)
        .iter()
        .filter_map(|s| {
            let text = content.sections.get(s.key)?.trim();
            (!text.is_empty()).then(|| format!("{}:\n{text}", s.label))
        })
        .collect();
    if !content.key_moment.trim().is_empty() {
        parts.push(format!("Key moment: {}", content.key_moment.trim()));
    }
    parts.join("\n\n")
}

fn conflict_page(
    session: &CurrentSession,
    current: &NoteRow,
    theirs: &NoteContent,
    facts: &SessionFacts,
    yours: &NoteContent,
    input: &NoteInput,
) -> ConflictPage {
    let layout = yours.layout(facts.format);
    let theirs_moved = reformat_into(&theirs.sections, &layout, theirs.template.as_ref()).0;
    let sections = layout
        .iter()
        .map(|s| {
            let their_text = theirs_moved.get(s.key).cloned().unwrap_or_default();
            let your_text = yours.sections.get(s.key).cloned().unwrap_or_default();
            ConflictSection {
                key: s.key.to_owned(),
                label: s.label.to_owned(),
                differs: their_text != your_text,
                theirs: their_text,
                yours: your_text,
            }
        })
        .collect();
    let mut hidden = vec![
        ("session_date".to_owned(), facts.session_date.clone()),
        (
            "duration_minutes".to_owned(),
            facts.duration_minutes.to_string(),
        ),
        (
            "session_type".to_owned(),
            facts.session_type.key().to_owned(),
        ),
        (
            "format".to_owned(),
            form_value(facts.format, yours.template.as_ref()),
        ),
        ("new_tags".to_owned(), input.new_tags.clone()),
    ];
    hidden.extend(yours.tags.iter().map(|t| ("tag".to_owned(), t.clone())));
    ConflictPage {
        layout: layout_for(session, "clients"),
        csrf_token: session.csrf_token.clone(),
        id: current.id,
        revision: current.revision,
        their_saved_at: session.dates.moment(current.updated_at),
        sections,
        key_moment_theirs: theirs.key_moment.clone(),
        key_moment_yours: yours.key_moment.clone(),
        process_theirs: theirs.process_note.clone(),
        process_yours: yours.process_note.clone(),
        hidden,
    }
}
