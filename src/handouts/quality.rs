//! A quality record for each handout version: the PEMAT-P self-assessment
//! (the Patient Education Materials Assessment Tool for printable
//! materials, from the US Agency for Healthcare Research and Quality;
//! Shoemaker, Wolf and Brach, 2013). Each item is agreed, disagreed or, for
//! some, not applicable; understandability and actionability are each the
//! percentage of applicable items agreed, and 70% or more is the usual bar.
//!
//! Built-in handouts ship with theirs ([`builtin`], scored honestly, each
//! failed item with the reason). Any other handout version (a pack's, an
//! import, an edit) starts unscored and says so, until someone in the
//! practice fills the form in (`handout_assessments`, one per slug and
//! version, practice material about no client, stored as written).

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::content::{Handout, Origin};
use super::library::Library;
use crate::audit::{self, Action};
use crate::auth::extract::{Signed, SignedForm};
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::db::DbConn;
use crate::db::schema::handout_assessments;
use crate::ids::TherapistId;
use crate::web::form::FieldErrors;
use crate::web::{AppError, AppState, Layout, render, see_other};

/// Register the quality pages (distinct paths under `/handouts/{slug}`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/handouts/{slug}/quality", web::get().to(show))
        .route("/handouts/{slug}/quality", web::post().to(save));
}

/// The part of the tool an item belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// Can readers understand it?
    Understandability,
    /// Can readers tell what they can do?
    Actionability,
}

/// One PEMAT-P item, numbered as in the tool.
pub struct Item {
    /// Its number in the tool (13 and 14 are for audiovisual materials
    /// only, so the printable version skips them).
    pub number: u8,
    /// Understandability or actionability.
    pub area: Area,
    /// The tool's topic heading.
    pub topic: &'static str,
    /// The statement agreed or disagreed with.
    pub text: &'static str,
    /// When it may be answered not applicable: in which case.
    pub not_applicable: Option<&'static str>,
}

const fn item(
    number: u8,
    area: Area,
    topic: &'static str,
    text: &'static str,
    not_applicable: Option<&'static str>,
) -> Item {
    Item {
        number,
        area,
        topic,
        text,
        not_applicable,
    }
}

use Area::{Actionability as A, Understandability as U};

/// The 24 items of PEMAT-P: 17 for understandability, 7 for actionability.
pub const ITEMS: [Item; 24] = [
    item(
        1,
        U,
        "Content",
        "The material makes its purpose completely evident.",
        None,
    ),
    item(
        2,
        U,
        "Content",
        "The material does not include information or content that distracts from its purpose.",
        None,
    ),
    item(
        3,
        U,
        "Word choice and style",
        "The material uses common, everyday language.",
        None,
    ),
    item(
        4,
        U,
        "Word choice and style",
        "Medical terms are used only to familiarize the audience with the terms. When used, medical terms are defined.",
        None,
    ),
    item(
        5,
        U,
        "Word choice and style",
        "The material uses the active voice.",
        None,
    ),
    item(
        6,
        U,
        "Use of numbers",
        "Numbers appearing in the material are clear and easy to understand.",
        Some("no numbers"),
    ),
    item(
        7,
        U,
        "Use of numbers",
        "The material does not expect the user to perform calculations.",
        None,
    ),
    item(
        8,
        U,
        "Organization",
        "The material breaks or “chunks” information into short sections.",
        Some("very short material"),
    ),
    item(
        9,
        U,
        "Organization",
        "The material’s sections have informative headers.",
        Some("very short material"),
    ),
    item(
        10,
        U,
        "Organization",
        "The material presents information in a logical sequence.",
        None,
    ),
    item(
        11,
        U,
        "Organization",
        "The material provides a summary.",
        Some("very short material"),
    ),
    item(
        12,
        U,
        "Layout and design",
        "The material uses visual cues (e.g., arrows, boxes, bullets, bold, larger font, highlighting) to draw attention to key points.",
        None,
    ),
    item(
        15,
        U,
        "Use of visual aids",
        "The material uses visual aids whenever they could make content more easily understood.",
        None,
    ),
    item(
        16,
        U,
        "Use of visual aids",
        "The material’s visual aids reinforce rather than distract from the content.",
        Some("no visual aids"),
    ),
    item(
        17,
        U,
        "Use of visual aids",
        "The material’s visual aids have clear titles or captions.",
        Some("no visual aids"),
    ),
    item(
        18,
        U,
        "Use of visual aids",
        "The material uses illustrations and photographs that are clear and uncluttered.",
        Some("no visual aids"),
    ),
    item(
        19,
        U,
        "Use of visual aids",
        "The material uses simple tables with short and clear row and column headings.",
        Some("no tables"),
    ),
    item(
        20,
        A,
        "Actionability",
        "The material clearly identifies at least one action the user can take.",
        None,
    ),
    item(
        21,
        A,
        "Actionability",
        "The material addresses the user directly when describing actions.",
        None,
    ),
    item(
        22,
        A,
        "Actionability",
        "The material breaks down any action into manageable, explicit steps.",
        None,
    ),
    item(
        23,
        A,
        "Actionability",
        "The material provides a tangible tool (e.g., menu planners, checklists) whenever it could help the user take action.",
        None,
    ),
    item(
        24,
        A,
        "Actionability",
        "The material provides simple instructions or examples of how to perform calculations.",
        Some("no calculations"),
    ),
    item(
        25,
        A,
        "Actionability",
        "The material explains how to use the charts, graphs, tables, or diagrams to take actions.",
        Some("no charts, graphs, tables or diagrams"),
    ),
    item(
        26,
        A,
        "Actionability",
        "The material uses visual aids whenever they could make it easier to act on the instructions.",
        None,
    ),
];

/// The usual bar: 70% or more of applicable items agreed.
pub const BAR: u32 = 70;

/// An answer to one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    /// Agree: 1 point.
    Agree,
    /// Disagree: 0 points.
    Disagree,
    /// Not applicable: left out of the count.
    Na,
}

/// A completed assessment of one handout version.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Assessment {
    /// Every item's answer, by number.
    pub answers: BTreeMap<u8, Answer>,
    /// Why, for any item (every disagreement in the built-in ones).
    #[serde(default)]
    pub notes: BTreeMap<u8, String>,
}

/// A percentage for each part: `None` when no item of it applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Score {
    /// Understandability, in percent (rounded).
    pub understandability: Option<u32>,
    /// Actionability, in percent (rounded).
    pub actionability: Option<u32>,
}

impl Assessment {
    /// Each part's percentage of applicable items agreed.
    pub fn score(&self) -> Score {
        let part = |area: Area| {
            let (mut agreed, mut applicable) = (0u32, 0u32);
            for item in ITEMS.iter().filter(|i| i.area == area) {
                match self.answers.get(&item.number) {
                    Some(Answer::Agree) => {
                        agreed += 1;
                        applicable += 1;
                    }
                    Some(Answer::Disagree) => applicable += 1,
                    Some(Answer::Na) | None => {}
                }
            }
            (applicable > 0).then(|| (agreed * 100 + applicable / 2) / applicable)
        };
        Score {
            understandability: part(Area::Understandability),
            actionability: part(Area::Actionability),
        }
    }

    /// Whether every item is answered, and not applicable only where the
    /// tool allows it.
    fn complete(&self) -> bool {
        ITEMS.iter().all(|i| match self.answers.get(&i.number) {
            Some(Answer::Na) => i.not_applicable.is_some(),
            Some(_) => true,
            None => false,
        })
    }
}

fn answers(pairs: &[(u8, Answer)], notes: &[(u8, &str)]) -> Assessment {
    Assessment {
        answers: pairs.iter().copied().collect(),
        notes: notes.iter().map(|(n, t)| (*n, (*t).to_owned())).collect(),
    }
}

/// The assessments shipped with the built-in handouts, by slug and
/// version: made by Tearsheet's authors against the tool's guide, the
/// Spanish versions judged on the same points as the English (the same
/// structure, prompts and lines).
pub fn builtin(slug: &str, version: i32) -> Option<Assessment> {
    use Answer::{Agree as Y, Disagree as N, Na};
    let no_visuals = [(16, Na), (17, Na), (18, Na), (19, Na), (24, Na), (25, Na)];
    let common = |nine: Answer, eleven: Answer| {
        let mut pairs = vec![
            (1, Y),
            (2, Y),
            (3, Y),
            (4, Y),
            (5, Y),
            (6, Y),
            (7, Y),
            (8, Y),
            (9, nine),
            (10, Y),
            (11, eleven),
            (12, Y),
            (15, N),
            (20, Y),
            (21, Y),
            (22, N),
            (23, Y),
            (26, N),
        ];
        pairs.extend(no_visuals);
        pairs
    };
    const FIFTEEN: &str = "No pictures. A simple illustration (a tissue box, two chairs) could help readers who read little, and none is there.";
    const TWENTY_TWO: &str =
        "Its actions (ask for a pause, be kind to yourself) are named but not broken into steps.";
    const TWENTY_SIX: &str = "No visual aids for acting on it.";
    match (slug, version) {
        ("crying-in-therapy", 2) | ("llorar-en-terapia", 1) => Some(answers(
            &common(Y, N),
            &[
                (
                    11,
                    "No summary inside the handout: the one-page card is its summary, printed separately.",
                ),
                (15, FIFTEEN),
                (22, TWENTY_TWO),
                (
                    23,
                    "Agreed: the three questions with lines to write on are a tool to use at home.",
                ),
                (26, TWENTY_SIX),
            ],
        )),
        ("crying-in-therapy-card", 2) | ("llorar-en-terapia-tarjeta", 1) => Some(answers(
            &common(N, Y),
            &[
                (
                    9,
                    "One page of points with bold lead words, but no section headers.",
                ),
                (
                    11,
                    "Agreed: the card is itself the summary of the full handout.",
                ),
                (15, FIFTEEN),
                (22, TWENTY_TWO),
                (26, TWENTY_SIX),
            ],
        )),
        _ => None,
    }
}

/// Who made a handout version's assessment, and when.
pub enum Source {
    /// Shipped with Tearsheet.
    Shipped,
    /// Filled in by someone in the practice (or a former colleague).
    Practice {
        /// Who.
        by: Option<TherapistId>,
        /// When (Unix seconds).
        at: i64,
    },
}

/// What an assessment was made of: the title and text, hashed.
fn text_hash(h: &Handout) -> String {
    crate::crypto::hash_parts(&[
        b"tearsheet/v1/handout-assessed",
        h.title.as_bytes(),
        &[0],
        h.body.as_bytes(),
    ])
    .iter()
    .map(|b| format!("{b:02x}"))
    .collect()
}

/// A handout version's assessment, if it has one (one made of other text
/// under the same slug and version does not count).
pub fn of(conn: &mut DbConn, h: &Handout) -> QueryResult<Option<(Assessment, Source)>> {
    if matches!(h.origin, Origin::Builtin) {
        if let Some(a) = builtin(&h.slug, h.version) {
            return Ok(Some((a, Source::Shipped)));
        }
    }
    let row: Option<(String, String, Option<TherapistId>, i64)> = handout_assessments::table
        .find((&h.slug, h.version))
        .select((
            handout_assessments::answers,
            handout_assessments::text_hash,
            handout_assessments::assessed_by,
            handout_assessments::assessed_at,
        ))
        .first(conn)
        .optional()?;
    let hash = text_hash(h);
    Ok(row.and_then(|(json, stored, by, at)| {
        if stored != hash {
            return None;
        }
        let a: Assessment = serde_json::from_str(&json).ok()?;
        a.complete().then_some((a, Source::Practice { by, at }))
    }))
}

/// The line the handout page and the library show.
pub fn summary(found: Option<&Assessment>, h: &Handout) -> String {
    let Some(a) = found else {
        return match h.origin {
            Origin::Practice(_) => format!(
                "Quality (PEMAT-P): not yet assessed. This version {} is the practice's own, so it starts unscored.",
                h.version
            ),
            _ => "Quality (PEMAT-P): not yet assessed.".to_owned(),
        };
    };
    let s = a.score();
    let part = |name: &str, p: Option<u32>| match p {
        Some(p) if p >= BAR => format!("{name} {p}% (meets the usual 70% bar)"),
        Some(p) => format!("{name} {p}% (below the usual 70% bar)"),
        None => format!("{name}: no item applies"),
    };
    format!(
        "Quality (PEMAT-P): {}; {}.",
        part("understandability", s.understandability),
        part("actionability", s.actionability)
    )
}

/// An item on the quality page.
pub struct ItemView {
    pub number: u8,
    pub topic: &'static str,
    pub text: &'static str,
    pub not_applicable: Option<&'static str>,
    /// `agree`, `disagree`, `na` or empty.
    pub answer: &'static str,
    pub note: String,
}

/// `/handouts/{slug}/quality`.
#[derive(Template, WebTemplate)]
#[template(path = "handouts/quality.html")]
pub struct QualityPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub slug: String,
    pub title: String,
    pub version: i32,
    pub summary: String,
    /// "Shipped with Tearsheet" or "Assessed by … on …", when assessed.
    pub source: Option<String>,
    /// Whether the form is open (unscored, or being assessed again).
    pub editable: bool,
    /// ("Understandability", its items), ("Actionability", its items).
    pub parts: Vec<(&'static str, Vec<ItemView>)>,
    pub errors: FieldErrors,
}

fn views(area: Area, a: Option<&Assessment>) -> Vec<ItemView> {
    ITEMS
        .iter()
        .filter(|i| i.area == area)
        .map(|i| {
            let answer = match a.and_then(|a| a.answers.get(&i.number)) {
                Some(Answer::Agree) => "agree",
                Some(Answer::Disagree) => "disagree",
                Some(Answer::Na) => "na",
                None => "",
            };
            ItemView {
                number: i.number,
                topic: i.topic,
                text: i.text,
                not_applicable: i.not_applicable,
                answer,
                note: a
                    .and_then(|a| a.notes.get(&i.number).cloned())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

async fn page(
    state: &AppState,
    library: &Library,
    session: &CurrentSession,
    slug: &str,
    draft: Option<Assessment>,
    errors: FieldErrors,
) -> Result<QualityPage, AppError> {
    let h = super::find(state, library, slug).await?;
    let found = {
        let h = h.clone();
        state.db(move |conn| Ok(of(conn, &h)?)).await?
    };
    let source = match &found {
        Some((_, Source::Shipped)) => {
            Some("Shipped with Tearsheet, assessed by its authors.".to_owned())
        }
        Some((_, Source::Practice { by, at })) => {
            let name = match by {
                Some(id) => super::browse::therapist_name(state, *id).await?,
                None => "a former colleague".to_owned(),
            };
            Some(format!(
                "Assessed by {name} on {}.",
                session.dates.moment(*at)
            ))
        }
        None => None,
    };
    let shipped = matches!(found, Some((_, Source::Shipped)));
    let editable = !shipped && (found.is_none() || draft.is_some());
    let shown = draft.as_ref().or(found.as_ref().map(|(a, _)| a));
    Ok(QualityPage {
        layout: layout_for(session, "handouts"),
        csrf_token: session.csrf_token.clone(),
        summary: summary(found.as_ref().map(|(a, _)| a), &h),
        source,
        editable,
        parts: vec![
            ("Understandability", views(Area::Understandability, shown)),
            ("Actionability", views(Area::Actionability, shown)),
        ],
        errors,
        slug: h.slug,
        title: h.title,
        version: h.version,
    })
}

/// Whether to open the form again over an existing assessment.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ShowQuery {
    again: Option<String>,
}

/// `GET /handouts/{slug}/quality`: the assessment, or the form to make it.
async fn show(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    Signed(session): Signed,
    path: web::Path<String>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, AppError> {
    let mut p = page(
        &state,
        &library,
        &session,
        &path,
        None,
        FieldErrors::default(),
    )
    .await?;
    if query.again.is_some()
        && p.source
            .as_deref()
            .is_some_and(|s| !s.starts_with("Shipped"))
    {
        p.editable = true;
    }
    render(StatusCode::OK, &p)
}

/// Read the form: `item{N}` = agree, disagree or na; `note{N}` = why.
fn read(fields: &[(String, String)]) -> (Assessment, FieldErrors) {
    let mut a = Assessment {
        answers: BTreeMap::new(),
        notes: BTreeMap::new(),
    };
    for (name, value) in fields {
        if let Some(n) = name.strip_prefix("item").and_then(|n| n.parse::<u8>().ok()) {
            let answer = match value.as_str() {
                "agree" => Answer::Agree,
                "disagree" => Answer::Disagree,
                "na" => Answer::Na,
                _ => continue,
            };
            if ITEMS.iter().any(|i| i.number == n) {
                a.answers.insert(n, answer);
            }
        } else if let Some(n) = name.strip_prefix("note").and_then(|n| n.parse::<u8>().ok()) {
            let note = value.trim();
            if ITEMS.iter().any(|i| i.number == n) && !note.is_empty() {
                a.notes.insert(n, note.chars().take(500).collect());
            }
        }
    }
    let mut errors = FieldErrors::default();
    if !a.complete() {
        errors.add(
            "items",
            "Answer every item (not applicable only where the item allows it).",
        );
    }
    (a, errors)
}

/// `POST /handouts/{slug}/quality`: save the practice's assessment of this
/// version (not for a built-in handout that ships with one).
async fn save(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    path: web::Path<String>,
    form: SignedForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let h = super::find(&state, &library, &path).await?;
    if matches!(h.origin, Origin::Builtin) && builtin(&h.slug, h.version).is_some() {
        return Err(AppError::conflict(
            "This handout ships with its assessment, which stays as it is.",
        ));
    }
    let (a, errors) = read(&form.form);
    if !errors.is_empty() {
        let p = page(&state, &library, &session, &path, Some(a), errors).await?;
        return render(StatusCode::BAD_REQUEST, &p);
    }
    let json = serde_json::to_string(&a).map_err(AppError::internal)?;
    let (slug, version, therapist) = (h.slug.clone(), h.version, session.therapist);
    let hash = text_hash(&h);
    state
        .db(move |conn| {
            crate::db::write_transaction(conn, |conn| -> QueryResult<()> {
                diesel::delete(handout_assessments::table.find((&slug, version))).execute(conn)?;
                diesel::insert_into(handout_assessments::table)
                    .values((
                        handout_assessments::slug.eq(&slug),
                        handout_assessments::version.eq(version),
                        handout_assessments::answers.eq(&json),
                        handout_assessments::text_hash.eq(&hash),
                        handout_assessments::assessed_by.eq(Some(therapist)),
                        handout_assessments::assessed_at.eq(crate::db::now()),
                    ))
                    .execute(conn)?;
                audit::record(conn, Some(therapist), Action::HandoutAssess, None)
            })?;
            Ok(())
        })
        .await?;
    Ok(see_other(&format!("/handouts/{}/quality", h.slug)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pemat_p_has_its_24_items_numbered_as_the_tool_does() {
        assert_eq!(
            ITEMS
                .iter()
                .filter(|i| i.area == Area::Understandability)
                .count(),
            17
        );
        assert_eq!(
            ITEMS
                .iter()
                .filter(|i| i.area == Area::Actionability)
                .count(),
            7
        );
        assert!(!ITEMS.iter().any(|i| i.number == 13 || i.number == 14));
    }

    #[test]
    fn scores_are_the_share_of_applicable_items_agreed() {
        let crying = builtin("crying-in-therapy", 2).expect("shipped");
        // 11 of 13 applicable understandability items (11 and 15 fail); 3
        // of 5 actionability items (22 and 26 fail).
        assert_eq!(
            crying.score(),
            Score {
                understandability: Some(85),
                actionability: Some(60)
            }
        );
        assert!(crying.complete());
        for slug in [
            "crying-in-therapy-card",
            "llorar-en-terapia",
            "llorar-en-terapia-tarjeta",
        ] {
            let version = if slug.starts_with("llorar") { 1 } else { 2 };
            let a = builtin(slug, version).expect(slug);
            assert!(a.complete(), "{slug}");
            // Every disagreement says why.
            for (n, answer) in &a.answers {
                if *answer == Answer::Disagree {
                    assert!(a.notes.contains_key(n), "{slug} item {n}");
                }
            }
        }
        // Each built-in handout is assessed, at its current version.
        for h in super::super::content::builtins() {
            assert!(
                builtin(&h.slug, h.version).is_some(),
                "{} v{}",
                h.slug,
                h.version
            );
        }
        let mut none_apply = crying.clone();
        for item in ITEMS.iter().filter(|i| i.area == Area::Actionability) {
            none_apply.answers.insert(item.number, Answer::Na);
        }
        assert_eq!(none_apply.score().actionability, None);
        assert!(!none_apply.complete(), "item 20 cannot be not applicable");
    }
}
