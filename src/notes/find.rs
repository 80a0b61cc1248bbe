//! `/notes`: finding notes across the caseload by words, tag, client and
//! dates, with the chart of breakthrough tags per month. The matching
//! itself is in `search`.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::model::NoteMeta;
use super::pages::{ClientChoice, ResultView, SearchPage};
use super::search::{self, Filter};
use super::{addenda, charts};
use crate::audit::{self, Action};
use crate::auth::extract::Signed;
use crate::auth::layout_for;
use crate::clients::model as clients;
use crate::ids::ClientId;
use crate::web::form::FieldErrors;
use crate::web::layout::{shown, today};
use crate::web::{AppError, AppState, render};

/// Register the search route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/notes", web::get().to(search));
}

/// The search form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct SearchQuery {
    q: String,
    tag: String,
    client: String,
    from: String,
    to: String,
}

const MAX_RESULTS: usize = 200;

/// `GET /notes`: search and filter across the caseload.
async fn search(
    state: web::Data<AppState>,
    Signed(session): Signed,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let (vocabulary, _) = super::vocabulary(&state, &session).await?;
    let mut errors = FieldErrors::default();
    let date = |raw: &str, field: &'static str, errors: &mut FieldErrors| {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        match chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            Ok(d) => Some(d.format("%Y-%m-%d").to_string()),
            Err(_) => {
                errors.add(field, "Enter a real date as year-month-day.");
                None
            }
        }
    };
    let from = date(&query.from, "from", &mut errors);
    let to = date(&query.to, "to", &mut errors);
    let tag = (!query.tag.is_empty()).then_some(query.tag.as_str());
    if let Some(tag) = tag {
        if vocabulary.get(tag).is_none() {
            errors.add("tag", "That tag is not one of yours.");
        }
    }
    let therapist = session.therapist;
    // A client id in the query is an id like any other: not this
    // therapist's (or not an id at all) is a 404, audited.
    let client = if query.client.is_empty() {
        None
    } else {
        Some(
            crate::clients::owned(&state, &session, &query.client)
                .await?
                .id,
        )
    };
    let words = query.q.trim().to_owned();
    let searched =
        !words.is_empty() || tag.is_some() || client.is_some() || from.is_some() || to.is_some();
    let need_addenda = !words.is_empty();
    let dk = session.keys.clone();
    let memory = state.memory.of(session.id);
    let in_memory = memory.clone();
    let (held, client_rows, addenda) = state
        .db(move |conn| {
            let held = search::peek(conn, &in_memory, therapist)?;
            let clients = clients::list(conn, therapist)?;
            let addenda = if need_addenda {
                addenda::texts_by_note(conn, therapist, &dk)?
            } else {
                HashMap::new()
            };
            Ok((held, clients, addenda))
        })
        .await?;
    let dk = &session.keys;
    let names: HashMap<ClientId, String> = client_rows
        .iter()
        .map(|(c, _)| (c.id, shown(&c.open_names(dk).0)))
        .collect();
    // Opening notes not yet in this session's memory is CPU work, and so is
    // reading 10,000 notes: do it on a blocking thread so the async worker
    // keeps answering other requests.
    let list = search::current_list(
        &memory,
        held,
        async || {
            let memory = memory.clone();
            state
                .db(move |conn| Ok(search::fetch(conn, &memory, therapist)?))
                .await
        },
        async |stale| {
            let (memory, dk) = (memory.clone(), session.keys.clone());
            Ok::<_, AppError>(web::block(move || stale.into_list(&memory, &dk)).await?)
        },
    )
    .await?;
    let run_search = searched && errors.is_empty();
    let tag_owned = tag.map(str::to_owned);
    let ((total, hits), chart, families, names, client_rows) = web::block(move || {
        // The chart reads the counts where they are kept (no copy of the
        // tag keys to free unwiped).
        let families = vocabulary.families();
        let chart = charts::monthly(&list.months, &families, &today());
        let hits = if run_search {
            let within = |m: &NoteMeta| {
                client.is_none_or(|c| c == m.client_id)
                    && from.as_deref().is_none_or(|f| m.session_date.as_str() >= f)
                    && to.as_deref().is_none_or(|t| m.session_date.as_str() <= t)
            };
            search::run(
                &list,
                within,
                &vocabulary,
                &names,
                &addenda,
                &Filter {
                    words: &words,
                    tag: tag_owned.as_deref(),
                },
                MAX_RESULTS,
            )
        } else {
            (0, vec![])
        };
        (hits, chart, families, names, client_rows)
    })
    .await?;
    let results = hits
        .into_iter()
        .map(|h| ResultView {
            href: format!("/notes/{}", h.note_id),
            client_name: names.get(&h.client_id).cloned().unwrap_or_default(),
            client_href: format!("/clients/{}", h.client_id),
            date: session.dates.session(&h.session_date),
            signed: h.signed,
            tags: h.tags,
            key_moment: h.key_moment,
            snippet: h.snippet,
        })
        .collect::<Vec<_>>();
    let mut clients_sorted: Vec<ClientChoice> = client_rows
        .iter()
        .map(|(c, _)| ClientChoice {
            id: c.id,
            name: names.get(&c.id).cloned().unwrap_or_default(),
            selected: client == Some(c.id),
        })
        .collect();
    clients_sorted.sort_by_key(|c| c.name.to_lowercase());
    if searched {
        audit::log(&state, therapist, Action::NoteSearch, None).await?;
    }
    let page = SearchPage {
        layout: layout_for(&session, "notes"),
        q: query.q,
        tag: query.tag,
        from: query.from,
        to: query.to,
        tags: families,
        clients: clients_sorted,
        searched,
        shown: results.len(),
        results,
        total,
        chart,
        errors,
    };
    render(StatusCode::OK, &page)
}
