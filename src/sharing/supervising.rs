//! The pages of supervision: `/settings/supervision` (an associate, or the
//! administrator for them, names or ends a supervisor), `/supervision`
//! (the supervisor's list of notes awaiting co-signature), and the
//! supervisor's actions on a note (`/notes/{id}/cosign`, `/return`,
//! `/supervisory-addendum`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::colleague::{self, Colleague};
use super::supervision::{self, NotNamed};
use crate::audit::{self, Action};
use crate::auth::account::{self, Role};
use crate::auth::extract::{Signed, SignedForm};
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::clients::model::{self as clients, Client};
use crate::ids::{NoteId, TherapistId};
use crate::notes::model::{self as notes, NoteRow};
use crate::tags::{TagView, Vocabulary};
use crate::web::form::FieldErrors;
use crate::web::layout::shown;
use crate::web::{AppError, AppState, Layout, render, see_other};

/// Register the supervision routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/supervision", web::get().to(settings))
        .route("/settings/supervision", web::post().to(choose))
        .route("/settings/supervision/confirm", web::post().to(confirm))
        .route("/settings/supervision/end", web::post().to(end))
        .route("/settings/supervision/accept", web::post().to(accept))
        .route("/supervision", web::get().to(supervision))
        .route("/notes/{id}/cosign", web::post().to(cosign))
        .route("/notes/{id}/return", web::post().to(return_note))
        .route(
            "/notes/{id}/supervisory-addendum",
            web::post().to(supervisory_addendum),
        );
}

/// The confirmation page shared by everything that names a colleague.
#[derive(Template, WebTemplate)]
#[template(path = "sharing/confirm.html")]
pub struct ConfirmPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub heading: &'static str,
    pub explanation: String,
    pub name: String,
    pub signature: String,
    pub fingerprint: String,
    pub action: String,
    pub hidden: Vec<(&'static str, String)>,
    pub confirm_label: &'static str,
    pub cancel_href: String,
}

/// What a confirmation asks.
pub struct Confirmation {
    /// The page's heading.
    pub heading: &'static str,
    /// What confirming does.
    pub explanation: String,
    /// Where the confirmation posts.
    pub action: String,
    /// Fields the post carries besides the colleague and fingerprint.
    pub hidden: Vec<(&'static str, String)>,
    /// The button.
    pub confirm_label: &'static str,
    /// Where Cancel goes.
    pub cancel_href: String,
}

impl ConfirmPage {
    /// The page for `colleague`, posting the confirmation's fields (and
    /// the colleague's id and the fingerprint shown) to its action.
    pub fn new(session: &CurrentSession, colleague: &Colleague, c: Confirmation) -> Self {
        let mut hidden = c.hidden;
        hidden.push(("colleague", colleague.id.to_string()));
        hidden.push(("fingerprint", colleague.fingerprint.clone()));
        Self {
            layout: layout_for(session, "settings"),
            csrf_token: session.csrf_token.clone(),
            heading: c.heading,
            explanation: c.explanation,
            name: colleague.name.clone(),
            signature: colleague.signature.clone(),
            fingerprint: colleague.fingerprint.clone(),
            action: c.action,
            hidden,
            confirm_label: c.confirm_label,
            cancel_href: c.cancel_href,
        }
    }
}

struct CurrentSupervisor {
    name: String,
    fingerprint: String,
    since: String,
    key_changed: bool,
    /// Named by the administrator, waiting for the associate's consent.
    proposed: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "sharing/supervision_settings.html")]
struct SettingsPage {
    layout: Layout,
    csrf_token: String,
    back_href: String,
    for_name: Option<String>,
    associate_id: Option<TherapistId>,
    associate: bool,
    current: Option<CurrentSupervisor>,
    email: String,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Whose {
    associate: Option<String>,
    named: Option<String>,
    ended: Option<String>,
    accepted: Option<String>,
}

/// Whose supervision a request is about: the signed-in therapist's own, or
/// (for the administrator) another account's. Anything else is a 404.
async fn whose(
    state: &AppState,
    session: &CurrentSession,
    raw: Option<&str>,
) -> Result<(TherapistId, Option<String>, bool), AppError> {
    let target = match raw.filter(|s| !s.is_empty()) {
        None => session.therapist,
        Some(raw) => {
            let id = raw
                .parse::<TherapistId>()
                .map_err(|_| AppError::not_found())?;
            if id != session.therapist && session.role != Role::Admin {
                return Err(crate::audit::denied(state, session.therapist, Some(id.0)).await);
            }
            id
        }
    };
    let account = state
        .db(move |conn| Ok(account::find(conn, target)?))
        .await?
        .ok_or_else(AppError::not_found)?;
    let for_name = (target != session.therapist).then(|| account.display_name.clone());
    Ok((target, for_name, account.licence_level == "associate"))
}

async fn settings_page(
    state: &AppState,
    session: &CurrentSession,
    raw: Option<&str>,
    email: String,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> Result<SettingsPage, AppError> {
    let (target, for_name, associate) = whose(state, session, raw).await?;
    let keys = session.keys.clone();
    let mine = target == session.therapist;
    let current = state
        .db(move |conn| {
            let Some(open) = supervision::open_of(conn, target)? else {
                return Ok(None);
            };
            let name = account::find(conn, open.supervisor_id)?
                .map(|t| t.display_name)
                .unwrap_or_default();
            let current_fp =
                super::keys::public_key(conn, open.supervisor_id)?.map(|k| k.fingerprint());
            // The associate's own pin, checked with their keys; the
            // administrator sees whether the key still matches what was
            // confirmed.
            let key_changed = if mine {
                super::grants::key_matches(conn, &keys, open.supervisor_id)? == Some(false)
            } else {
                current_fp.as_deref() != Some(open.fingerprint.as_str())
            };
            Ok(Some((open, name, key_changed)))
        })
        .await?;
    Ok(SettingsPage {
        layout: layout_for(session, "settings"),
        csrf_token: session.csrf_token.clone(),
        back_href: if mine {
            "/settings".into()
        } else {
            "/practice".into()
        },
        associate_id: (!mine).then_some(target),
        for_name,
        associate,
        current: current.map(|(open, name, key_changed)| CurrentSupervisor {
            name,
            proposed: open.grant_sealed.is_none(),
            fingerprint: open.fingerprint,
            since: session.dates.moment(open.created_at),
            key_changed,
        }),
        email,
        errors,
        notice,
    })
}

/// `GET /settings/supervision`.
async fn settings(
    state: web::Data<AppState>,
    Signed(session): Signed,
    query: web::Query<Whose>,
) -> Result<SettingsPage, AppError> {
    let notice = if query.accepted.is_some() {
        Some("Accepted. Your supervisor can now read and co-sign your signed notes.")
    } else if query.named.is_some() {
        Some("Supervisor named.")
    } else if query.ended.is_some() {
        Some(
            "Supervision ended. Their access is removed and every client key changed, so nothing written from now on opens for them. What they could already read cannot be taken back.",
        )
    } else {
        None
    };
    settings_page(
        &state,
        &session,
        query.associate.as_deref(),
        String::new(),
        FieldErrors::default(),
        notice,
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChooseForm {
    email: String,
    associate: Option<String>,
}

/// `POST /settings/supervision`: the colleague's fingerprint, to confirm.
async fn choose(
    state: web::Data<AppState>,
    form: SignedForm<ChooseForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let raw = form.form.associate.clone();
    let (target, for_name, associate) = whose(&state, &session, raw.as_deref()).await?;
    if !associate {
        return Err(AppError::bad_request(
            "Only an associate names a supervisor. The administrator marks associates on the Practice page.",
        ));
    }
    let email = account::normalize_email(&form.form.email);
    let e = email.clone();
    let found = state
        .db(move |conn| Ok(colleague::by_email(conn, target, &e)?))
        .await?;
    let problem = match &found {
        Err(not) => Some(not.message()),
        Ok(c) if !c.licensed => {
            Some("That colleague is not marked as licensed, so they cannot supervise.")
        }
        Ok(c) if c.id == session.therapist => Some(
            "You cannot name yourself: the associate's supervisor must be another licensed colleague.",
        ),
        Ok(_) => None,
    };
    let colleague = match (problem, found) {
        (None, Ok(colleague)) => colleague,
        (problem, _) => {
            let mut errors = FieldErrors::default();
            errors.add(
                "email",
                problem.unwrap_or("Choose a licensed colleague in this practice."),
            );
            let page = settings_page(
                &state,
                &session,
                raw.as_deref(),
                form.form.email,
                errors,
                None,
            )
            .await?;
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    let mut hidden = Vec::new();
    if let Some(a) = raw.filter(|a| !a.is_empty()) {
        hidden.push(("associate", a));
    }
    let explanation = match &for_name {
        Some(name) => format!(
            "{} will supervise {name}: they will read and co-sign {name}'s signed notes once {name} next signs in. You get no access to any note.",
            colleague.name
        ),
        None => format!(
            "{} will read your signed notes (never your private process notes), co-sign them or return them with a comment.",
            colleague.name
        ),
    };
    let back = match &for_name {
        Some(_) => format!("/settings/supervision?associate={target}"),
        None => "/settings/supervision".into(),
    };
    render(
        StatusCode::OK,
        &ConfirmPage::new(
            &session,
            &colleague,
            Confirmation {
                heading: "Confirm your supervisor",
                explanation,
                action: "/settings/supervision/confirm".into(),
                hidden,
                confirm_label: "Confirm and name them supervisor",
                cancel_href: back,
            },
        ),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ConfirmForm {
    pub(super) colleague: String,
    pub(super) fingerprint: String,
    pub(super) associate: Option<String>,
}

/// The page shown when a colleague's key is not the one confirmed.
pub(super) fn key_changed(name: &str) -> AppError {
    AppError::conflict(format!(
        "{name}'s key is not the one confirmed before, so nothing was shared. Someone may have changed the key stored for them. Ask {name} to read out the fingerprint in their Settings and tell the administrator."
    ))
}

/// `POST /settings/supervision/confirm`.
async fn confirm(
    state: web::Data<AppState>,
    form: SignedForm<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let raw = form.form.associate.clone();
    let (target, for_name, associate) = whose(&state, &session, raw.as_deref()).await?;
    let supervisor: TherapistId = form
        .form
        .colleague
        .parse()
        .map_err(|_| AppError::bad_request("Choose the colleague again."))?;
    if !associate {
        return Err(AppError::bad_request(
            "Only an associate names a supervisor.",
        ));
    }
    let (fingerprint, by, keys) = (
        form.form.fingerprint.clone(),
        session.therapist,
        session.keys.clone(),
    );
    let outcome = state
        .db(move |conn| {
            let colleague = colleague::by_id(conn, target, supervisor)?;
            let Ok(colleague) = colleague else {
                return Ok(Err(None));
            };
            // Never oneself: an administrator naming themselves for an
            // associate would be granting themselves the associate's notes.
            if !colleague.licensed || colleague.id == by {
                return Ok(Err(None));
            }
            // With the associate's own keys the caseload is shared now;
            // the administrator's session shares nothing.
            let own = (target == by).then_some(keys.as_ref());
            Ok(
                match supervision::name(conn, target, supervisor, &fingerprint, by, own)? {
                    Ok(_) => Ok(()),
                    Err(e) => Err(Some((e, colleague.name))),
                },
            )
        })
        .await?;
    match outcome {
        Ok(()) => Ok(see_other(&match for_name {
            Some(_) => format!("/settings/supervision?associate={target}&named=1"),
            None => "/settings/supervision?named=1".into(),
        })),
        Err(None) => Err(AppError::bad_request(
            "That colleague cannot supervise. Choose a licensed colleague again.",
        )),
        Err(Some((NotNamed::AlreadySupervised, _))) => Err(AppError::conflict(
            "A supervisor is already named. End that supervision first.",
        )),
        Err(Some((NotNamed::KeyChanged, name))) => Err(key_changed(&name)),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AcceptForm {
    fingerprint: String,
}

/// `POST /settings/supervision/accept`: the associate accepts the
/// supervisor the administrator proposed, having compared the fingerprint.
async fn accept(
    state: web::Data<AppState>,
    form: SignedForm<AcceptForm>,
) -> Result<HttpResponse, AppError> {
    let keys = form.session.keys.clone();
    let fingerprint = form.form.fingerprint.clone();
    let outcome = state
        .db(move |conn| Ok(supervision::accept(conn, &keys, &fingerprint)?))
        .await?;
    match outcome {
        Ok(true) => Ok(see_other("/settings/supervision?accepted=1")),
        Ok(false) => Ok(see_other("/settings/supervision")),
        Err(_) => Err(key_changed("Your proposed supervisor")),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EndForm {
    associate: Option<String>,
}

/// `POST /settings/supervision/end`.
async fn end(
    state: web::Data<AppState>,
    form: SignedForm<EndForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let raw = form.form.associate.clone();
    let (target, for_name, _) = whose(&state, &session, raw.as_deref()).await?;
    let (by, keys) = (session.therapist, session.keys.clone());
    state
        .db(move |conn| {
            let own = (target == by).then_some(keys.as_ref());
            Ok(supervision::end(conn, target, by, own)?)
        })
        .await?;
    Ok(see_other(&match for_name {
        Some(_) => format!("/settings/supervision?associate={target}&ended=1"),
        None => "/settings/supervision?ended=1".into(),
    }))
}

struct SuperviseeView {
    id: TherapistId,
    name: String,
    since: String,
    selected: bool,
}

struct AwaitingView {
    id: NoteId,
    date: String,
    client: String,
    by: String,
    tags: Vec<TagView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "sharing/supervision.html")]
struct SupervisionPage {
    layout: Layout,
    supervisees: Vec<SuperviseeView>,
    tags: Vec<(&'static str, &'static str, bool)>,
    notes: Vec<AwaitingView>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SupervisionQuery {
    supervisee: String,
    tag: String,
}

/// `GET /supervision`: the supervisor's page.
async fn supervision(
    state: web::Data<AppState>,
    Signed(session): Signed,
    query: web::Query<SupervisionQuery>,
) -> Result<SupervisionPage, AppError> {
    let me = session.therapist;
    let chosen: Option<TherapistId> = query.supervisee.parse().ok();
    let tag = crate::tags::BUILTIN
        .iter()
        .find(|t| t.slug == query.tag)
        .map(|t| t.slug);
    let keys = session.keys.clone();
    let (supervisees, rows) = state
        .db(move |conn| {
            let supervisees = supervision::supervisees(conn, me)?;
            let ids: Vec<TherapistId> = supervisees
                .iter()
                .map(|(s, _)| s.supervisee_id)
                .filter(|id| chosen.is_none_or(|c| c == *id))
                .collect();
            let mut rows = Vec::new();
            for note in super::review::awaiting(conn, &ids)? {
                let tags = note.open_tags(&keys).unwrap_or_default();
                if tag.is_some_and(|t| !tags.iter().any(|k| k == t)) {
                    continue;
                }
                let client = clients::find(conn, note.therapist_id, note.client_id)?
                    .map(|c| c.open_names(&keys).0);
                rows.push((note, client, tags));
            }
            Ok((supervisees, rows))
        })
        .await?;
    let vocabulary = Vocabulary::new(&[], &state.packs.current());
    let names: std::collections::HashMap<TherapistId, String> = supervisees
        .iter()
        .map(|(s, n)| (s.supervisee_id, n.clone()))
        .collect();
    Ok(SupervisionPage {
        layout: layout_for(&session, "supervision"),
        tags: crate::tags::BUILTIN
            .iter()
            .map(|t| (t.slug, t.label, Some(t.slug) == tag))
            .collect(),
        notes: rows
            .into_iter()
            .map(|(note, client, tags)| AwaitingView {
                id: note.id,
                date: session.dates.session(&note.session_date),
                client: client.map(|c| shown(&c)).unwrap_or_default(),
                by: names.get(&note.therapist_id).cloned().unwrap_or_default(),
                tags: vocabulary.views(&tags),
            })
            .collect(),
        supervisees: supervisees
            .into_iter()
            .map(|(s, name)| SuperviseeView {
                id: s.supervisee_id,
                name,
                since: session.dates.moment(s.shared_at.unwrap_or(s.created_at)),
                selected: chosen == Some(s.supervisee_id),
            })
            .collect(),
    })
}

/// A signed note of an associate the signed-in therapist supervises, with
/// its client opened with their keys; `None` for anything else.
pub async fn supervised_note(
    state: &AppState,
    session: &CurrentSession,
    id: NoteId,
) -> Result<Option<(NoteRow, Client)>, AppError> {
    let (me, keys) = (session.therapist, session.keys.clone());
    state
        .db(move |conn| {
            let Some(note) = notes::find_any(conn, id)? else {
                return Ok(None);
            };
            if !note.is_signed() || !supervision::supervises(conn, me, note.therapist_id)? {
                return Ok(None);
            }
            let client = clients::find(conn, note.therapist_id, note.client_id)?;
            Ok(client.map(|c| (note, c.open(&keys))))
        })
        .await
}

/// The note a supervisor's form names, or an audited 404.
async fn supervised_or_404(
    state: &AppState,
    session: &CurrentSession,
    raw: &str,
) -> Result<NoteRow, AppError> {
    let Ok(id) = raw.parse::<NoteId>() else {
        return Err(crate::audit::denied(state, session.therapist, None).await);
    };
    match supervised_note(state, session, id).await? {
        Some((note, _)) => Ok(note),
        None => Err(crate::audit::denied(state, session.therapist, Some(id.0)).await),
    }
}

/// `POST /notes/{id}/cosign`.
async fn cosign(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<crate::web::form::NoFields>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let note = supervised_or_404(&state, &session, &path).await?;
    let (me, keys, id) = (session.therapist, session.keys.clone(), note.id);
    let done = state
        .db(move |conn| {
            let as_ = account::signature_of(conn, me)?;
            let done = super::review::review(conn, &keys, me, &note, None, &as_)?;
            if done == super::review::Reviewed::Done {
                audit::record(conn, Some(me), Action::NoteCosign, Some(note.id.0))?;
            }
            Ok(done)
        })
        .await?;
    Ok(see_other(&match done {
        super::review::Reviewed::Done => format!("/notes/{id}?cosigned=1"),
        super::review::Reviewed::AlreadyCosigned => format!("/notes/{id}"),
    }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CommentForm {
    comment: String,
    body: String,
}

fn text_or_error(text: &str, what: &str) -> Result<String, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::bad_request(format!(
            "Write the {what} first; nothing was saved."
        )));
    }
    if text.chars().count() > 20_000 {
        return Err(AppError::bad_request(format!(
            "Keep the {what} under 20,000 characters; nothing was saved."
        )));
    }
    Ok(text.to_owned())
}

/// `POST /notes/{id}/return`: back to the associate with a comment.
async fn return_note(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<CommentForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let note = supervised_or_404(&state, &session, &path).await?;
    let comment = text_or_error(&form.form.comment, "comment")?;
    let (me, keys, id) = (session.therapist, session.keys.clone(), note.id);
    state
        .db(move |conn| {
            let as_ = account::signature_of(conn, me)?;
            if super::review::review(conn, &keys, me, &note, Some(&comment), &as_)?
                == super::review::Reviewed::Done
            {
                audit::record(conn, Some(me), Action::NoteReturn, Some(note.id.0))?;
            }
            Ok(())
        })
        .await?;
    Ok(see_other(&format!("/notes/{id}?returned=1")))
}

/// `POST /notes/{id}/supervisory-addendum`.
async fn supervisory_addendum(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<CommentForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let note = supervised_or_404(&state, &session, &path).await?;
    let body = text_or_error(&form.form.body, "addendum")?;
    let (me, keys, id) = (session.therapist, session.keys.clone(), note.id);
    state
        .db(move |conn| {
            let as_ = format!("{} (supervisor)", account::signature_of(conn, me)?);
            if crate::notes::addenda::add(conn, note.therapist_id, &keys, note.id, &body, &as_)? {
                audit::record(
                    conn,
                    Some(me),
                    Action::NoteSupervisoryAddendum,
                    Some(note.id.0),
                )?;
            }
            Ok(())
        })
        .await?;
    Ok(see_other(&format!("/notes/{id}?amended=1")))
}
