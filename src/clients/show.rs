//! A client's page, `/clients/{id}`: their details, the breakthrough
//! timeline with their measures' scores on the same axis, the measures,
//! the handouts given, and every session note, newest first.

use actix_web::web;
use serde::Deserialize;

use super::pages::{ClientPage, GivenHandout, TimelineRow, TimelineView};
use super::timeline;
use crate::audit::{self, Action};
use crate::auth::extract::Signed;
use crate::auth::layout_for;
use crate::crypto::Keys;
use crate::measures;
use crate::notes::model::NoteRow;
use crate::tags::{self, Vocabulary};
use crate::web::dates::DateStyle;
use crate::web::layout::shown;
use crate::web::{AppError, AppState};

/// Register the client page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/clients/{id}", web::get().to(show));
}

/// Messages a redirect can ask the client page to show.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ShowQuery {
    saved: Option<String>,
    archived: Option<String>,
    unarchived: Option<String>,
    note_deleted: Option<String>,
    transferred: Option<String>,
    undone: Option<String>,
    measured: Option<String>,
    in_error: Option<String>,
    already: Option<String>,
}

impl ShowQuery {
    fn notice(&self) -> Option<&'static str> {
        if self.transferred.is_some() {
            Some(
                "You are now this client's therapist. Their record is yours; the previous therapist's private process notes stay with them.",
            )
        } else if self.saved.is_some() {
            Some("Saved.")
        } else if self.archived.is_some() {
            Some("Archived. The record is kept; find it under Archived clients.")
        } else if self.unarchived.is_some() {
            Some("Back in your active caseload.")
        } else if self.note_deleted.is_some() {
            Some("The draft note was deleted.")
        } else if self.undone.is_some() {
            Some("The handout is no longer recorded as given.")
        } else if self.measured.is_some() {
            Some("Measure saved.")
        } else if self.already.is_some() {
            Some(
                "This measure was already saved from that form, so it was not saved a second time.",
            )
        } else if self.in_error.is_some() {
            Some(
                "The measure is marked entered in error. It stays on the record, struck through, and no longer counts in scores or charts.",
            )
        } else {
            None
        }
    }
}

/// `GET /clients/{id}`: the record, the timeline, handouts given, notes.
async fn show(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
    query: web::Query<ShowQuery>,
) -> Result<ClientPage, AppError> {
    let client = super::owned(&state, &session, &path)
        .await?
        .open(&session.keys);
    let (therapist, dk, opened) = (session.therapist, session.keys.clone(), client.clone());
    let (notes, (given, links), custom, measures, owners) = state
        .db(move |conn| {
            let given = crate::handouts::given::to_client(conn, therapist, &dk, &opened)?;
            let ids: Vec<_> = given.iter().map(|g| g.id).collect();
            let links = crate::handouts::links::states(conn, &ids)?;
            let context = (
                crate::notes::model::for_client(conn, therapist, opened.id)?,
                (given, links),
                tags::custom::all(conn, therapist, dk.dk())?,
                measures::model::for_client(conn, therapist, &dk, opened.id)?,
                crate::sharing::transfer::history(conn, opened.id)?,
            );
            audit::record(conn, Some(therapist), Action::ClientView, Some(opened.id.0))?;
            Ok(context)
        })
        .await?;
    let vocabulary = Vocabulary::new(&custom, &state.packs.current());
    let (list, timeline) = notes_overview(
        &notes,
        &session.keys,
        &vocabulary,
        &score_points(&measures),
        session.dates,
    );
    Ok(ClientPage {
        scales: state
            .packs
            .current()
            .instruments()
            .map(|i| (i.key.clone(), i.title.clone()))
            .collect(),
        layout: layout_for(&session, "clients"),
        csrf_token: session.csrf_token.clone(),
        id: client.id,
        damaged: client.damaged(),
        archived: client.archived,
        date_of_birth: match &client.date_of_birth {
            Ok(dob) if dob.is_empty() => String::new(),
            Ok(dob) => session.dates.day(dob),
            Err(_) => shown(&client.date_of_birth),
        },
        full_name: shown(&client.full_name),
        preferred_name: shown(&client.preferred_name),
        pronouns: shown(&client.pronouns),
        about: shown(&client.about),
        language: match &client.language {
            Ok(tag) if tag.is_empty() => String::new(),
            Ok(tag) => crate::lang::name(tag),
            Err(_) => shown(&client.language),
        },
        notes: list,
        timeline,
        handouts: given
            .into_iter()
            .map(|g| GivenHandout {
                title: match &g.text {
                    Ok(text) => text.title.clone(),
                    Err(_) => "⚠ A handout record that failed an integrity check".to_owned(),
                },
                when: session.dates.moment(g.given_at),
                href: format!("/handouts/given/{}/print", g.id),
                link: links
                    .iter()
                    .find(|l| l.given_id == g.id)
                    .map(|l| format!("Private link: {}", l.describe(session.dates))),
            })
            .collect(),
        self_harm: measures::view::self_harm_answers(&measures, session.dates),
        measures: measures::view::rows(&measures, session.dates, |n| {
            notes.iter().any(|row| row.id == n)
        })
        .into_iter()
        .rev()
        .collect(),
        notice: query.notice(),
        owners: owners
            .into_iter()
            .map(|(from, to, at)| {
                format!(
                    "{from} handed this client to {to} on {}",
                    session.dates.moment(at)
                )
            })
            .collect(),
    })
}

/// The scored totals, for the timeline.
fn score_points(measures: &[measures::model::Measure]) -> Vec<timeline::ScorePoint> {
    measures
        .iter()
        .filter_map(|m| {
            let taken = m.counted()?;
            Some(timeline::ScorePoint {
                date: m.taken_on.clone(),
                instrument: taken.instrument,
                total: taken.score.total?,
                band: taken.score.band?,
            })
        })
        .collect()
}

/// A client's notes, newest first, and their timeline.
fn notes_overview(
    rows: &[NoteRow],
    dk: &Keys,
    vocabulary: &Vocabulary,
    scores: &[timeline::ScorePoint],
    dates: DateStyle,
) -> (Vec<TimelineRow>, Option<TimelineView>) {
    let mut list = Vec::new();
    let mut points = Vec::new();
    for row in rows {
        let tags = row.open_tags(dk).unwrap_or_default();
        let views = vocabulary.views(&tags);
        let key_moment = shown(&row.open_key_moment(dk));
        points.push(timeline::Point {
            date: row.session_date.clone(),
            tags: views.clone(),
            href: format!("/notes/{}", row.id),
        });
        list.push(TimelineRow {
            date: dates.session(&row.session_date),
            href: format!("/notes/{}", row.id),
            tags: views,
            key_moment,
        });
    }
    points.reverse();
    let timeline =
        timeline::timeline(&points, &vocabulary.families(), scores, dates).map(|chart| {
            TimelineView {
                chart,
                rows: list
                    .iter()
                    .filter(|r| !r.tags.is_empty() || !r.key_moment.is_empty())
                    .cloned()
                    .collect(),
            }
        });
    (list, timeline)
}
