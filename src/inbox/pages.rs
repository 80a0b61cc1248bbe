//! The therapist's side of the inbox: making, listing and revoking tokens
//! (`/settings/inbox-tokens`), and the Inbox (`/inbox`), where a draft from
//! a tool is read, given a client, and becomes an ordinary draft note under
//! that client's key, or is declined and deleted.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::api::Posted;
use super::store;
use crate::audit::{self, Action};
use crate::auth::extract::{Signed, SignedForm};
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::crypto::share::InboxDrop;
use crate::handouts::pages::ClientOption;
use crate::ids::{InboxDraftId, InboxTokenId};
use crate::notes::format::{NoteFormat, SessionType, TEMPLATE_PREFIX, reformat_into, sections_of};
use crate::notes::model::{NoteContent, SessionFacts};
use crate::web::form::{FieldErrors, NoFields};
use crate::web::{AppError, AppState, Layout, render, see_other};

/// Register the inbox pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/inbox-tokens", web::get().to(tokens))
        .route("/settings/inbox-tokens", web::post().to(create_token))
        .route(
            "/settings/inbox-tokens/{id}/revoke",
            web::post().to(revoke_token),
        )
        .route("/inbox", web::get().to(list))
        .route("/inbox/{id}", web::get().to(show))
        .route("/inbox/{id}/accept", web::post().to(accept))
        .route("/inbox/{id}/decline", web::post().to(decline));
}

struct TokenRow {
    id: InboxTokenId,
    name: String,
    created: String,
    used: String,
    revoked: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "inbox/tokens.html")]
struct TokensPage {
    layout: Layout,
    csrf_token: String,
    tokens: Vec<TokenRow>,
    new_token: Option<(String, String)>,
    /// The name typed (not `name`: askama's macro has a parameter so called).
    typed_name: String,
    errors: FieldErrors,
    endpoint: String,
}

async fn tokens_page(
    state: &AppState,
    session: &CurrentSession,
    new_token: Option<(String, String)>,
    name: String,
    errors: FieldErrors,
) -> Result<TokensPage, AppError> {
    let (therapist, keys) = (session.therapist, session.keys.clone());
    let rows = state
        .db(move |conn| Ok(store::tokens(conn, therapist, keys.dk())?))
        .await?;
    Ok(TokensPage {
        layout: layout_for(session, "settings"),
        csrf_token: session.csrf_token.clone(),
        tokens: rows
            .into_iter()
            .map(|t| TokenRow {
                id: t.id,
                name: t.name,
                created: session.dates.moment(t.created_at),
                used: t
                    .last_used_at
                    .map_or_else(|| "never".to_owned(), |at| session.dates.moment(at)),
                revoked: t.revoked_at.map(|at| session.dates.moment(at)),
            })
            .collect(),
        new_token,
        typed_name: name,
        errors,
        endpoint: super::api::INBOX_PATH.to_owned(),
    })
}

/// `GET /settings/inbox-tokens`.
async fn tokens(
    state: web::Data<AppState>,
    Signed(session): Signed,
) -> Result<HttpResponse, AppError> {
    let page = tokens_page(
        &state,
        &session,
        None,
        String::new(),
        FieldErrors::default(),
    )
    .await?;
    render(StatusCode::OK, &page)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NameForm {
    name: String,
}

/// `POST /settings/inbox-tokens`: a token, shown once.
async fn create_token(
    state: web::Data<AppState>,
    form: SignedForm<NameForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let name = form
        .form
        .name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut errors = FieldErrors::default();
    if name.is_empty() {
        errors.add(
            "name",
            "Give the token a name, such as the tool that will use it.",
        );
    } else if name.chars().count() > 80 {
        errors.add("name", "Keep the name under 80 characters.");
    }
    if !errors.is_empty() {
        let page = tokens_page(&state, &session, None, form.form.name.clone(), errors).await?;
        return render(StatusCode::BAD_REQUEST, &page);
    }
    let (therapist, keys) = (session.therapist, session.keys.clone());
    // Drafts are sealed to the key this session holds, pinned in the
    // token; a session without a key pair (none before its first sign-in
    // since keys that travel) cannot make a token.
    let Some(public_key) = keys.private_key().and_then(|k| k.public_key()) else {
        return Err(AppError::conflict(
            "Your account has no key pair yet. Sign out and in again, then make the token.",
        ));
    };
    let shown_name = name.clone();
    let token = state
        .db(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let (id, token) =
                    store::create_token(conn, therapist, keys.dk(), &public_key, &name)?;
                audit::record(conn, Some(therapist), Action::InboxTokenCreate, Some(id.0))?;
                Ok::<_, diesel::result::Error>(token)
            })
            .map_err(AppError::from)
        })
        .await?;
    let page = tokens_page(
        &state,
        &session,
        Some((shown_name, token)),
        String::new(),
        FieldErrors::default(),
    )
    .await?;
    render(StatusCode::OK, &page)
}

/// `POST /settings/inbox-tokens/{id}/revoke`.
async fn revoke_token(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let therapist = form.session.therapist;
    let Ok(id) = path.parse::<InboxTokenId>() else {
        return Err(AppError::not_found());
    };
    let revoked = state
        .db(move |conn| {
            let revoked = store::revoke(conn, therapist, id)?;
            if revoked {
                audit::record(conn, Some(therapist), Action::InboxTokenRevoke, Some(id.0))?;
            }
            Ok(revoked)
        })
        .await?;
    if !revoked {
        return Err(crate::audit::denied(&state, therapist, Some(id.0)).await);
    }
    Ok(see_other("/settings/inbox-tokens"))
}

/// A waiting draft, opened.
struct Opened {
    id: InboxDraftId,
    received_at: i64,
    draft: Option<Posted>,
}

/// Open a waiting draft with the therapist's private key.
fn open(session: &CurrentSession, sealed: &store::SealedDraft) -> Opened {
    let draft = session.keys.private_key().and_then(|key| {
        InboxDrop {
            therapist: session.therapist.0,
            draft: sealed.id.0,
            token: sealed.token_id,
        }
        .open(key, &sealed.sealed)
        .ok()
        // Checked again as when it arrived: anything sealed to this key by
        // another way (a public key is public) must still be a sound draft.
        .and_then(|json| super::api::check(json.as_bytes(), far_future()).ok())
    });
    Opened {
        id: sealed.id,
        received_at: sealed.received_at,
        draft,
    }
}

/// A day after any session date, for checking a stored draft again (its
/// date was checked against the day it arrived).
fn far_future() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default()
}

/// How a draft's format reads.
fn format_name(format: &str) -> String {
    match format.strip_prefix(TEMPLATE_PREFIX) {
        Some(key) => format!("template {key}"),
        None => {
            NoteFormat::parse(format).map_or_else(|| format.to_owned(), |f| f.label().to_owned())
        }
    }
}

struct DraftRow {
    id: InboxDraftId,
    received: String,
    tool: String,
    date: String,
    format: String,
    client_reference: String,
    first_words: String,
    damaged: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "inbox/list.html")]
struct InboxPage {
    layout: Layout,
    csrf_token: String,
    drafts: Vec<DraftRow>,
    notice: Option<&'static str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    declined: String,
}

/// `GET /inbox`: drafts from tools, newest first.
async fn list(
    state: web::Data<AppState>,
    Signed(session): Signed,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let therapist = session.therapist;
    let sealed = state
        .db(move |conn| Ok(store::drafts(conn, therapist)?))
        .await?;
    let drafts = sealed
        .iter()
        .map(|s| {
            let o = open(&session, s);
            let received = session.dates.moment(o.received_at);
            match o.draft {
                Some(d) => DraftRow {
                    id: o.id,
                    received,
                    tool: d.tool.clone(),
                    date: session.dates.session(&d.session_date),
                    format: format_name(&d.format),
                    client_reference: d.client_reference.clone().unwrap_or_default(),
                    first_words: first_words(&d),
                    damaged: false,
                },
                None => DraftRow {
                    id: o.id,
                    received,
                    tool: String::new(),
                    date: String::new(),
                    format: String::new(),
                    client_reference: String::new(),
                    first_words: String::new(),
                    damaged: true,
                },
            }
        })
        .collect();
    render(
        StatusCode::OK,
        &InboxPage {
            layout: layout_for(&session, "inbox"),
            csrf_token: session.csrf_token.clone(),
            drafts,
            notice: (query.declined == "1").then_some("The draft was declined and deleted."),
        },
    )
}

/// Each section of a draft under its heading, in its format's order; a
/// section the format lacks under its own name.
fn headed(d: &Posted) -> Vec<(String, String)> {
    let format = NoteFormat::parse(&d.format).unwrap_or(NoteFormat::Free);
    let known = sections_of(format, None);
    let mut out: Vec<(String, String)> = known
        .iter()
        .filter_map(|s| Some((s.label.to_owned(), d.sections.get(s.key)?.clone())))
        .collect();
    out.extend(
        d.sections
            .iter()
            .filter(|(k, _)| !known.iter().any(|s| s.key == k.as_str()))
            .map(|(k, t)| (k.replace('_', " "), t.clone())),
    );
    out
}

/// The draft's first words, in its format's order of sections.
fn first_words(d: &Posted) -> String {
    let format = NoteFormat::parse(&d.format).unwrap_or(NoteFormat::Free);
    let ordered = sections_of(format, None);
    let text = ordered
        .iter()
        .filter_map(|s| d.sections.get(s.key))
        .chain(d.sections.values())
        .map(|t| t.trim())
        .find(|t| !t.is_empty())
        .unwrap_or_default();
    let words: Vec<&str> = text.split_whitespace().take(14).collect();
    let more = text.split_whitespace().count() > words.len();
    format!("{}{}", words.join(" "), if more { "…" } else { "" })
}

#[derive(Template, WebTemplate)]
#[template(path = "inbox/show.html")]
struct DraftPage {
    layout: Layout,
    csrf_token: String,
    id: InboxDraftId,
    received: String,
    draft: Posted,
    /// Heading and text of each section, in the format's order.
    sections: Vec<(String, String)>,
    date: String,
    format: String,
    clients: Vec<ClientOption>,
    errors: FieldErrors,
}

/// One of this therapist's drafts, opened; a 404 (audited) otherwise.
async fn find(
    state: &AppState,
    session: &CurrentSession,
    raw: &str,
) -> Result<(InboxDraftId, i64, Posted), AppError> {
    let therapist = session.therapist;
    let Ok(id) = raw.parse::<InboxDraftId>() else {
        return Err(AppError::not_found());
    };
    let Some(sealed) = state
        .db(move |conn| Ok(store::draft(conn, therapist, id)?))
        .await?
    else {
        return Err(crate::audit::denied(state, therapist, Some(id.0)).await);
    };
    let opened = open(session, &sealed);
    match opened.draft {
        Some(d) => Ok((id, opened.received_at, d)),
        None => Err(AppError::conflict(
            "This draft failed an integrity check, so it cannot be opened. You can delete it from your inbox.",
        )),
    }
}

async fn draft_page(
    state: &AppState,
    session: &CurrentSession,
    raw: &str,
    errors: FieldErrors,
) -> Result<DraftPage, AppError> {
    let (id, received_at, draft) = find(state, session, raw).await?;
    Ok(DraftPage {
        layout: layout_for(session, "inbox"),
        csrf_token: session.csrf_token.clone(),
        id,
        received: session.dates.moment(received_at),
        date: session.dates.session(&draft.session_date),
        format: format_name(&draft.format),
        clients: crate::handouts::browse::client_options(state, session, None).await?,
        sections: headed(&draft),
        draft,
        errors,
    })
}

/// `GET /inbox/{id}`.
async fn show(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let page = draft_page(&state, &session, &path, FieldErrors::default()).await?;
    render(StatusCode::OK, &page)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AcceptForm {
    client: String,
}

/// `POST /inbox/{id}/accept`: the draft becomes a draft note of the chosen
/// client, sealed under their key, and leaves the inbox, in one transaction.
async fn accept(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<AcceptForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    if form.form.client.is_empty() {
        let mut errors = FieldErrors::default();
        errors.add("client", "Choose the client this note is about.");
        let page = draft_page(&state, &session, &path, errors).await?;
        return render(StatusCode::BAD_REQUEST, &page);
    }
    let (id, _, draft) = find(&state, &session, &path).await?;
    let client = crate::clients::owned(&state, &session, &form.form.client)
        .await?
        .id;
    let template = draft
        .format
        .strip_prefix(TEMPLATE_PREFIX)
        .and_then(|key| state.packs.current().template(key).cloned());
    let format = if template.is_some() {
        NoteFormat::Free
    } else {
        // A template no longer loaded: its text is kept, under its own
        // section names, in a free-text note.
        NoteFormat::parse(&draft.format).unwrap_or(NoteFormat::Free)
    };
    let (sections, _) = reformat_into(
        &draft.sections,
        &sections_of(format, template.as_ref()),
        None,
    );
    let mut key_moment = draft.key_moment.clone().unwrap_or_default();
    key_moment.truncate(
        key_moment
            .char_indices()
            .nth(crate::notes::input::MAX_KEY_MOMENT)
            .map_or(key_moment.len(), |(i, _)| i),
    );
    let facts = SessionFacts {
        session_date: draft.session_date.clone(),
        duration_minutes: 50,
        session_type: SessionType::Individual,
        format,
    };
    let content = NoteContent {
        sections,
        key_moment,
        process_note: String::new(),
        tags: Vec::new(),
        template,
    };
    let (therapist, keys) = (session.therapist, session.keys.clone());
    let note = state
        .db(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                if !store::remove(conn, therapist, id)? {
                    // Accepted or declined a moment ago, in another tab.
                    return Ok::<_, diesel::result::Error>(None);
                }
                let note = crate::notes::model::create(
                    conn, therapist, &keys, client, &facts, &content, None,
                )?;
                audit::record(conn, Some(therapist), Action::InboxAccept, Some(id.0))?;
                audit::record(conn, Some(therapist), Action::NoteCreate, Some(note.0))?;
                Ok::<_, diesel::result::Error>(Some(note))
            })
            .map_err(AppError::from)
        })
        .await?;
    match note {
        Some(note) => Ok(see_other(&format!("/notes/{note}/edit"))),
        None => Err(AppError::not_found()),
    }
}

/// `POST /inbox/{id}/decline`: the draft is deleted.
async fn decline(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let therapist = form.session.therapist;
    let Ok(id) = path.parse::<InboxDraftId>() else {
        return Err(AppError::not_found());
    };
    let removed = state
        .db(move |conn| {
            let removed = store::remove(conn, therapist, id)?;
            if removed {
                audit::record(conn, Some(therapist), Action::InboxDecline, Some(id.0))?;
            }
            Ok(removed)
        })
        .await?;
    if !removed {
        return Err(crate::audit::denied(&state, therapist, Some(id.0)).await);
    }
    Ok(see_other("/inbox?declined=1"))
}
