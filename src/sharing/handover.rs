//! The pages of handing a client over: `/clients/{id}/transfer` (offer,
//! withdraw; or, for the colleague offered the client, accept or decline).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::colleague;
use super::supervising::{ConfirmForm, ConfirmPage, Confirmation, key_changed};
use super::transfer::{self, NotAccepted, NotOffered, TransferRow};
use crate::auth::account;
use crate::auth::extract::{Signed, SignedForm};
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::clients::model::{self as clients, ClientRow};
use crate::ids::{ClientId, TherapistId};
use crate::web::form::{FieldErrors, NoFields};
use crate::web::layout::shown;
use crate::web::{AppError, AppState, Layout, render, see_other};

/// Register the hand-over routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/clients/{id}/transfer", web::get().to(page))
        .route("/clients/{id}/transfer", web::post().to(choose))
        .route("/clients/{id}/transfer/confirm", web::post().to(confirm))
        .route("/clients/{id}/transfer/withdraw", web::post().to(withdraw))
        .route("/clients/{id}/transfer/accept", web::post().to(accept))
        .route("/clients/{id}/transfer/decline", web::post().to(decline));
}

/// How the signed-in therapist stands to a client being handed over.
enum Standing {
    /// They own it.
    Owner(ClientRow),
    /// Its owner's account is turned off, named them custodian, and access
    /// has been released to them.
    Custodian(ClientRow),
    /// It is offered to them.
    Offered(ClientRow, TransferRow),
}

impl Standing {
    fn row(&self) -> &ClientRow {
        match self {
            Self::Owner(r) | Self::Custodian(r) | Self::Offered(r, _) => r,
        }
    }
}

async fn standing(
    state: &AppState,
    session: &CurrentSession,
    raw: &str,
) -> Result<Standing, AppError> {
    let Ok(id) = raw.parse::<ClientId>() else {
        return Err(crate::audit::denied(state, session.therapist, None).await);
    };
    let (me, at) = (session.therapist, state.config.custody_clock.now());
    let found = state
        .db(move |conn| {
            let Some(row) = clients::find_any(conn, id)? else {
                return Ok(None);
            };
            if row.therapist_id == me {
                return Ok(Some(Standing::Owner(row)));
            }
            if let Some(offer) = transfer::pending(conn, id)? {
                if offer.to_id == me {
                    return Ok(Some(Standing::Offered(row, offer)));
                }
            }
            let owner_active =
                account::find(conn, row.therapist_id)?.is_some_and(|t| t.is_active());
            if !owner_active && super::keys::released_to(conn, me, at)?.contains(&row.therapist_id)
            {
                return Ok(Some(Standing::Custodian(row)));
            }
            Ok(None)
        })
        .await?;
    match found {
        Some(s) => Ok(s),
        None => Err(crate::audit::denied(state, me, Some(id.0)).await),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "sharing/transfer.html")]
struct TransferPage {
    layout: Layout,
    csrf_token: String,
    id: ClientId,
    client_name: String,
    recipient: bool,
    from_name: String,
    by_custodian: bool,
    pending_to: Option<String>,
    back_href: String,
    email: String,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

async fn transfer_page(
    state: &AppState,
    session: &CurrentSession,
    standing: &Standing,
    email: String,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> Result<TransferPage, AppError> {
    let row = standing.row();
    let (id, owner, me, dk) = (
        row.id,
        row.therapist_id,
        session.therapist,
        session.dk.duplicate(),
    );
    let offered_to_me = matches!(standing, Standing::Offered(..));
    let (client_name, from_name, pending_to) = {
        state
            .db(move |conn| {
                let Some(row) = clients::find_any(conn, id)? else {
                    return Err(AppError::not_found());
                };
                // Offered to me: the name opens with the offer's envelopes.
                let name = if offered_to_me {
                    let keys = super::keys::offered(conn, me, id, dk)?;
                    shown(&row.open_names(&keys).0)
                } else {
                    String::new()
                };
                let from = account::find(conn, owner)?
                    .map(|t| t.display_name)
                    .unwrap_or_default();
                let pending = match transfer::pending(conn, id)? {
                    Some(p) => account::find(conn, p.to_id)?.map(|t| t.display_name),
                    None => None,
                };
                Ok((name, from, pending))
            })
            .await?
    };
    let client_name = if offered_to_me {
        client_name
    } else {
        shown(&row.open_names(&session.keys).0)
    };
    Ok(TransferPage {
        layout: layout_for(session, "clients"),
        csrf_token: session.csrf_token.clone(),
        id,
        client_name,
        recipient: offered_to_me,
        from_name,
        by_custodian: matches!(standing, Standing::Custodian(_)),
        pending_to,
        back_href: match standing {
            Standing::Custodian(_) => "/custodianship".into(),
            _ => format!("/clients/{id}"),
        },
        email,
        errors,
        notice,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PageQuery {
    offered: Option<String>,
    withdrawn: Option<String>,
}

/// `GET /clients/{id}/transfer`.
async fn page(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<TransferPage, AppError> {
    let standing = standing(&state, &session, &path).await?;
    let notice = if query.offered.is_some() {
        Some("Offered. Nothing changes until your colleague accepts.")
    } else if query.withdrawn.is_some() {
        Some("Offer withdrawn.")
    } else {
        None
    };
    transfer_page(
        &state,
        &session,
        &standing,
        String::new(),
        FieldErrors::default(),
        notice,
    )
    .await
}

/// The standing of someone who may offer the client, or a 404.
async fn offerer(
    state: &AppState,
    session: &CurrentSession,
    raw: &str,
) -> Result<Standing, AppError> {
    match standing(state, session, raw).await? {
        Standing::Offered(row, _) => {
            Err(crate::audit::denied(state, session.therapist, Some(row.id.0)).await)
        }
        s => Ok(s),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChooseForm {
    email: String,
}

/// `POST /clients/{id}/transfer`: the colleague's fingerprint, to confirm.
async fn choose(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<ChooseForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let standing = offerer(&state, &session, &path).await?;
    let (me, owner) = (session.therapist, standing.row().therapist_id);
    let email = account::normalize_email(&form.form.email);
    let found = state
        .db(move |conn| {
            Ok(match colleague::by_email(conn, me, &email)? {
                Ok(c) if c.id == owner => Err(colleague::NotChosen::NoSuchColleague),
                other => other,
            })
        })
        .await?;
    let colleague = match found {
        Ok(c) => c,
        Err(not) => {
            let mut errors = FieldErrors::default();
            errors.add("email", not.message());
            let page = transfer_page(
                &state,
                &session,
                &standing,
                form.form.email.clone(),
                errors,
                None,
            )
            .await?;
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    let id = standing.row().id;
    let name = shown(&standing.row().open_names(&session.keys).0);
    render(
        StatusCode::OK,
        &ConfirmPage::new(
            &session,
            &colleague,
            Confirmation {
                heading: "Confirm the colleague taking over",
                explanation: format!(
                    "{} will be offered {name}. Once they accept, they are this client's therapist.",
                    colleague.name
                ),
                action: format!("/clients/{id}/transfer/confirm"),
                hidden: Vec::new(),
                confirm_label: "Offer the client",
                cancel_href: format!("/clients/{id}/transfer"),
            },
        ),
    )
}

/// `POST /clients/{id}/transfer/confirm`: the offer.
async fn confirm(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let standing = offerer(&state, &session, &path).await?;
    let to: TherapistId = form
        .form
        .colleague
        .parse()
        .map_err(|_| AppError::bad_request("Choose the colleague again."))?;
    let (id, owner) = (standing.row().id, standing.row().therapist_id);
    let (me, keys, fingerprint) = (
        session.therapist,
        session.keys.clone(),
        form.form.fingerprint.clone(),
    );
    let outcome = state
        .db(move |conn| {
            let colleague = match colleague::by_id(conn, me, to)? {
                Ok(c) if c.id != owner => c,
                _ => return Ok(Err(None)),
            };
            Ok(transfer::offer(conn, &keys, id, owner, to, &fingerprint)?
                .map_err(|e| Some((e, colleague.name))))
        })
        .await?;
    match outcome {
        Ok(_) => Ok(see_other(&format!("/clients/{id}/transfer?offered=1"))),
        Err(None) => Err(AppError::bad_request("Choose the colleague again.")),
        Err(Some((NotOffered::AlreadyOffered, _))) => Err(AppError::conflict(
            "This client is already offered to a colleague. Withdraw that offer first.",
        )),
        Err(Some((NotOffered::NotMoved, _))) => Err(AppError::conflict(
            "This client's record is still being moved to its own key, which happens after its therapist signs in. Try again in a minute.",
        )),
        Err(Some((NotOffered::KeyChanged, name))) => Err(key_changed(&name)),
    }
}

/// `POST /clients/{id}/transfer/withdraw`.
async fn withdraw(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let standing = offerer(&state, &session, &path).await?;
    let (id, me) = (standing.row().id, session.therapist);
    state
        .db(move |conn| {
            if let Some(offer) = transfer::pending(conn, id)? {
                transfer::close(conn, &offer, me, false)?;
            }
            Ok(())
        })
        .await?;
    Ok(see_other(&format!("/clients/{id}/transfer?withdrawn=1")))
}

async fn offered(
    state: &AppState,
    session: &CurrentSession,
    raw: &str,
) -> Result<TransferRow, AppError> {
    match standing(state, session, raw).await? {
        Standing::Offered(_, offer) => Ok(offer),
        s => Err(crate::audit::denied(state, session.therapist, Some(s.row().id.0)).await),
    }
}

/// `POST /clients/{id}/transfer/accept`: the colleague becomes the owner.
async fn accept(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let offer = offered(&state, &session, &path).await?;
    let (me, dk, id) = (session.therapist, session.dk.duplicate(), offer.client_id);
    let outcome = state
        .db(move |conn| {
            let keys = super::keys::offered(conn, me, id, dk)?;
            Ok(transfer::accept(conn, &keys, &offer)?)
        })
        .await?;
    match outcome {
        Ok(()) => Ok(see_other(&format!("/clients/{id}?transferred=1"))),
        Err(NotAccepted::Integrity) => Err(AppError::conflict(
            "The keys offered for this client failed an integrity check, so nothing changed. Ask your colleague to withdraw the offer and make it again.",
        )),
        Err(NotAccepted::Stale) => Err(AppError::conflict(
            "This offer is no longer open, so nothing changed.",
        )),
    }
}

/// `POST /clients/{id}/transfer/decline`.
async fn decline(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let offer = offered(&state, &session, &path).await?;
    let me = session.therapist;
    state
        .db(move |conn| Ok(transfer::close(conn, &offer, me, true)?))
        .await?;
    Ok(see_other("/clients?declined=1"))
}
