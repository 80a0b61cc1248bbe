//! Clients: the therapist's caseload (`routes`: the list, adding, editing,
//! archiving and deleting), each client's page with their breakthrough
//! timeline (`show`, `timeline`), their record as a printable page and
//! JSON (`record`) and as a FHIR R4 bundle (`fhir`), and the whole caseload as a file to move elsewhere
//! (`caseload`). The model is `model`.

pub mod caseload;
pub mod fhir;
pub mod model;
pub mod pages;
pub mod record;
pub mod routes;
pub mod show;
pub mod timeline;

use actix_web::web;

use crate::auth::session::CurrentSession;
use crate::ids::ClientId;
use crate::web::{AppError, AppState};
use model::ClientRow;

/// Register the clients routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(routes::configure)
        .configure(show::configure)
        .configure(record::configure)
        .configure(caseload::configure)
        .configure(fhir::configure);
}

/// One of the signed-in therapist's clients, from an id as typed (in a
/// path or a query); anything else (not an id, not theirs) is a 404, with
/// an `access.denied` event.
pub async fn owned(
    state: &AppState,
    session: &CurrentSession,
    raw_id: &str,
) -> Result<ClientRow, AppError> {
    let Ok(id) = raw_id.parse::<ClientId>() else {
        return Err(crate::audit::denied(state, session.therapist, None).await);
    };
    let therapist = session.therapist;
    match state
        .db(move |conn| Ok(model::find(conn, therapist, id)?))
        .await?
    {
        Some(row) => Ok(row),
        None => Err(crate::audit::denied(state, therapist, Some(id.0)).await),
    }
}

/// A client the signed-in therapist may read whole: their own (`false`),
/// or (`true`) a client of a colleague whose records have been released to
/// them as custodian. Anything else is an audited 404.
pub async fn readable(
    state: &AppState,
    session: &CurrentSession,
    raw_id: &str,
) -> Result<(ClientRow, bool), AppError> {
    let Ok(id) = raw_id.parse::<ClientId>() else {
        return Err(crate::audit::denied(state, session.therapist, None).await);
    };
    let (me, at) = (session.therapist, state.config.custody_clock.now());
    let found = state
        .db(move |conn| {
            if let Some(row) = model::find(conn, me, id)? {
                return Ok(Some((row, false)));
            }
            let Some(row) = model::find_any(conn, id)? else {
                return Ok(None);
            };
            let released = crate::sharing::keys::released_to(conn, me, at)?;
            Ok(released.contains(&row.therapist_id).then_some((row, true)))
        })
        .await?;
    match found {
        Some(found) => Ok(found),
        None => Err(crate::audit::denied(state, me, Some(id.0)).await),
    }
}
