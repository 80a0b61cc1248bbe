//! Clients: the therapist's caseload. For now the signed-in home page; the
//! client records and notes arrive with the notes issue.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

use crate::auth::extract::Signed;
use crate::auth::layout_for;
use crate::web::Layout;

/// Register the clients routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/clients", web::get().to(home));
}

/// `/clients`: the caseload (an empty state until clients exist).
#[derive(Template, WebTemplate)]
#[template(path = "clients/home.html")]
pub struct ClientsHome {
    layout: Layout,
}

async fn home(Signed(session): Signed) -> ClientsHome {
    ClientsHome {
        layout: layout_for(&session, "clients"),
    }
}
