//! Session notes: writing them (`write`), the note page (`show`), signing,
//! addenda and deleting drafts (`sign`), their history (`history`), and
//! finding them across the caseload (`find`, over the engine in `search`,
//! with the monthly chart in `charts`). Models: `model` (notes), `versions`
//! (earlier versions), `addenda`; `format` and `input` hold the formats and
//! the form.

pub mod addenda;
pub mod charts;
pub mod find;
pub mod format;
pub mod history;
pub mod input;
pub mod model;
pub mod pages;
pub mod search;
pub mod show;
pub mod sign;
pub mod upgrade;
pub mod versions;
pub mod write;

use actix_web::web;

use crate::auth::session::CurrentSession;
use crate::clients::model::{self as clients, Client};
use crate::ids::NoteId;
use crate::tags::{self, CustomTag, Vocabulary};
use crate::web::{AppError, AppState};
use model::NoteRow;

/// Register the notes routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(find::configure)
        .configure(write::configure)
        .configure(show::configure)
        .configure(sign::configure)
        .configure(history::configure);
}

/// A note of the signed-in therapist, with its client opened; `None` if
/// there is no such note of theirs.
async fn find_owned(
    state: &AppState,
    session: &CurrentSession,
    id: NoteId,
) -> Result<Option<(NoteRow, Client)>, AppError> {
    let (therapist, dk) = (session.therapist, session.keys.clone());
    state
        .db(move |conn| {
            let Some(note) = model::find(conn, therapist, id)? else {
                return Ok(None);
            };
            let client = clients::find(conn, therapist, note.client_id)?;
            Ok(client.map(|c| (note, c.open(&dk))))
        })
        .await
}

/// A note of the signed-in therapist from an id as typed, with its client
/// opened; anything else (not an id, not theirs) is an audited 404.
pub async fn owned(
    state: &AppState,
    session: &CurrentSession,
    raw_id: &str,
) -> Result<(NoteRow, Client), AppError> {
    let Ok(id) = raw_id.parse::<NoteId>() else {
        return Err(crate::audit::denied(state, session.therapist, None).await);
    };
    match find_owned(state, session, id).await? {
        Some(found) => Ok(found),
        None => Err(crate::audit::denied(state, session.therapist, Some(id.0)).await),
    }
}

/// A note the signed-in therapist owns and wrote: what editing, signing,
/// deleting and the history of changes need (a note that came with a
/// client handed over is read-only, and its history holds its author's
/// private process notes). Anything else is an audited 404.
pub async fn authored(
    state: &AppState,
    session: &CurrentSession,
    raw_id: &str,
) -> Result<(NoteRow, Client), AppError> {
    let (row, client) = owned(state, session, raw_id).await?;
    if !row.written_by(&session.keys) {
        return Err(crate::audit::denied(state, session.therapist, Some(row.id.0)).await);
    }
    Ok((row, client))
}

/// A note the signed-in therapist owns, or (`true`) a signed note of an
/// associate they supervise; anything else is an audited 404.
pub async fn owned_or_supervised(
    state: &AppState,
    session: &CurrentSession,
    raw_id: &str,
) -> Result<(NoteRow, Client, bool), AppError> {
    let Ok(id) = raw_id.parse::<NoteId>() else {
        return Err(crate::audit::denied(state, session.therapist, None).await);
    };
    if let Some((note, client)) = find_owned(state, session, id).await? {
        return Ok((note, client, false));
    }
    match crate::sharing::supervising::supervised_note(state, session, id).await? {
        Some((note, client)) => Ok((note, client, true)),
        None => Err(crate::audit::denied(state, session.therapist, Some(id.0)).await),
    }
}

/// The signed-in therapist's tag vocabulary, and their own tags.
pub async fn vocabulary(
    state: &AppState,
    session: &CurrentSession,
) -> Result<(Vocabulary, Vec<CustomTag>), AppError> {
    let (therapist, dk) = (session.therapist, session.keys.clone());
    let custom = state
        .db(move |conn| Ok(tags::custom::all(conn, therapist, dk.dk())?))
        .await?;
    Ok((Vocabulary::new(&custom, &state.packs.current()), custom))
}
