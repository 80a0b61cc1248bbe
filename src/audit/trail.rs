//! `/audit`: a therapist's own trail; the administrator also sees the
//! practice's security events. Ids and actions only, never content.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::ledger::{self, Action, TrailFilter};
use crate::auth::account::{self, Role};
use crate::auth::extract::Signed;
use crate::auth::layout_for;
use crate::web::{AppError, AppState, Layout};

/// Register the audit routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(trail));
}

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
    code: &'static str,
    label: &'static str,
    subject: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit/trail.html")]
struct TrailPage {
    layout: Layout,
    rows: Vec<Row>,
    actions: Vec<(&'static str, &'static str)>,
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
) -> Result<TrailPage, AppError> {
    let q = query.into_inner();
    let is_admin = session.role == Role::Admin;
    let page = q.page.parse::<i64>().unwrap_or(1).clamp(1, 10_000);
    let mut error = None;
    let mut day = |raw: &str, shift: i64| {
        if raw.is_empty() {
            return None;
        }
        day_start(raw).map(|t| t + shift).or_else(|| {
            error = Some("Enter dates as year-month-day.");
            None
        })
    };
    let filter = TrailFilter {
        therapist: session.therapist,
        practice: is_admin && q.scope == "practice",
        action: Action::parse(&q.action),
        from: day(&q.from, 0),
        before: day(&q.to, 86_400),
    };
    let practice = filter.practice;
    let (events, names) = state
        .db(move |conn| {
            Ok((
                ledger::trail(conn, &filter, (page - 1) * PAGE, PAGE + 1)?,
                account::all(conn)?,
            ))
        })
        .await?;
    let more = events.len() as i64 > PAGE;
    let rows = events
        .into_iter()
        .take(PAGE as usize)
        .map(|e| {
            let action = Action::parse(&e.action);
            Row {
                when: session.dates.moment(e.at),
                who: match e.therapist_id {
                    Some(id) => names
                        .iter()
                        .find(|t| t.id == id)
                        .map_or_else(|| format!("account {id}"), |t| t.display_name.clone()),
                    None if action == Some(Action::Backup) => "The server's operator".to_owned(),
                    None => "unknown email".to_owned(),
                },
                code: action.map_or("unknown", Action::as_str),
                label: action.map_or("Unknown event", Action::label),
                subject: e.subject_id.map(|s| s.to_string()).unwrap_or_default(),
            }
        })
        .collect();
    Ok(TrailPage {
        layout: layout_for(&session, "audit"),
        rows,
        actions: Action::ALL
            .iter()
            .map(|a| (a.as_str(), a.label()))
            .collect(),
        action: q.action,
        from: q.from,
        to: q.to,
        practice,
        is_admin,
        page,
        more,
        error,
    })
}
