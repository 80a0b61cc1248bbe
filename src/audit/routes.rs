//! `/audit`: a therapist's own trail; the administrator also sees the
//! practice's security events. Ids and actions only, never content.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use diesel::prelude::*;
use serde::Deserialize;

use super::AuditEvent;
use crate::auth::account::Role;
use crate::auth::extract::Signed;
use crate::auth::layout_for;
use crate::db::schema::{audit_events, therapists};
use crate::web::layout::local_time;
use crate::web::{AppError, AppState, Layout, render};

/// Register the audit routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(trail));
}

/// Security events the administrator sees for the whole practice.
pub const PRACTICE_SECURITY: [&str; 10] = [
    "login.ok",
    "login.failed",
    "login.locked",
    "invite.create",
    "invite.accept",
    "account.disable",
    "account.enable",
    "password.change",
    "recovery.use",
    "backup",
];

const PAGE: i64 = 50;

#[derive(Deserialize, Default)]
#[serde(default)]
struct TrailQuery {
    action: String,
    from: String,
    to: String,
    page: String,
    scope: String,
}

struct Row {
    when: String,
    who: String,
    action: String,
    subject: String,
}

#[derive(Template)]
#[template(path = "audit/trail.html")]
struct TrailPage {
    layout: Layout,
    rows: Vec<Row>,
    actions: Vec<&'static str>,
    action: String,
    from: String,
    to: String,
    practice: bool,
    is_admin: bool,
    page: i64,
    more: bool,
    error: Option<&'static str>,
}

fn day_start(date: &str) -> Option<i64> {
    use chrono::TimeZone as _;
    let d = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok()?;
    chrono::Local
        .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.timestamp())
}

/// `GET /audit`.
async fn trail(
    state: web::Data<AppState>,
    Signed(session): Signed,
    query: web::Query<TrailQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let is_admin = session.role == Role::Admin;
    let practice = is_admin && q.scope == "practice";
    let page = q.page.parse::<i64>().unwrap_or(1).clamp(1, 10_000);
    let mut error = None;
    let from = if q.from.is_empty() {
        None
    } else {
        day_start(&q.from).or_else(|| {
            error = Some("Enter dates as year-month-day.");
            None
        })
    };
    let to = if q.to.is_empty() {
        None
    } else {
        day_start(&q.to).map(|t| t + 86_400).or_else(|| {
            error = Some("Enter dates as year-month-day.");
            None
        })
    };
    let (therapist, action) = (session.therapist, q.action.clone());
    let (events, names) = state
        .db(move |conn| {
            let mut query = audit_events::table.into_boxed();
            if practice {
                query = query.filter(
                    audit_events::action
                        .eq_any(PRACTICE_SECURITY)
                        .or(audit_events::therapist_id.eq(therapist.0)),
                );
            } else {
                query = query.filter(audit_events::therapist_id.eq(therapist.0));
            }
            if !action.is_empty() {
                query = query.filter(audit_events::action.eq(action));
            }
            if let Some(from) = from {
                query = query.filter(audit_events::at.ge(from));
            }
            if let Some(to) = to {
                query = query.filter(audit_events::at.lt(to));
            }
            let events: Vec<AuditEvent> = query
                .order(audit_events::id.desc())
                .limit(PAGE + 1)
                .offset((page - 1) * PAGE)
                .select(AuditEvent::as_select())
                .load(conn)?;
            let names: Vec<(i64, String)> = therapists::table
                .select((therapists::id, therapists::display_name))
                .load(conn)?;
            Ok((events, names))
        })
        .await?;
    let more = events.len() as i64 > PAGE;
    let name_of = |id: Option<i64>| match id {
        Some(id) => names
            .iter()
            .find(|(i, _)| *i == id)
            .map_or_else(|| format!("account {id}"), |(_, n)| n.clone()),
        None => "unknown email".to_owned(),
    };
    let rows = events
        .into_iter()
        .take(PAGE as usize)
        .map(|e| Row {
            when: local_time(e.at),
            who: if e.therapist_id.is_none() && e.action == "backup" {
                "The server's operator".to_owned()
            } else {
                name_of(e.therapist_id)
            },
            action: e.action,
            subject: e.subject_id.map(|s| s.to_string()).unwrap_or_default(),
        })
        .collect();
    let page = TrailPage {
        layout: layout_for(&session, "audit"),
        rows,
        actions: ALL_ACTIONS.to_vec(),
        action: q.action,
        from: q.from,
        to: q.to,
        practice,
        is_admin,
        page,
        more,
        error,
    };
    render(StatusCode::OK, &page)
}

const ALL_ACTIONS: [&str; 39] = [
    "setup",
    "login.ok",
    "login.failed",
    "login.locked",
    "logout",
    "session.expired",
    "recovery_code.stored",
    "access.denied",
    "client.view",
    "client.create",
    "client.edit",
    "client.archive",
    "client.unarchive",
    "client.delete",
    "note.view",
    "note.create",
    "note.edit",
    "note.sign",
    "note.addendum",
    "note.delete",
    "note.search",
    "handout.print",
    "handout.given",
    "handout.save",
    "password.change",
    "recovery_code.new",
    "recovery.use",
    "session.end",
    "totp.enable",
    "totp.disable",
    "totp.replace",
    "invite.create",
    "invite.accept",
    "account.disable",
    "account.enable",
    "client.export",
    "caseload.export",
    "caseload.import",
    "backup",
];
