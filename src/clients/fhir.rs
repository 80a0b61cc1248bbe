//! A client's chart as FHIR R4, for another EHR: `GET /clients/{id}/fhir`
//! answers a `Bundle` of type `collection` (`application/fhir+json`):
//!
//! - `Patient`: only what the therapist entered (name, preferred name,
//!   pronouns, date of birth);
//! - an `Encounter` per session note (date, kind, minutes);
//! - a `DocumentReference` per signed note: LOINC 11506-3 (progress
//!   note), the note as `text/plain` and `text/html`, the signer as
//!   `authenticator`, the breakthrough tags as a coded `category`;
//! - a `QuestionnaireResponse` per measure (LOINC item and answer codes)
//!   and, when it has a total, an `Observation` (LOINC 44261-6 PHQ-9 or
//!   70274-6 GAD-7 total) `derivedFrom` it.
//!
//! Private process notes are never in it. Resources refer to each other
//! by `urn:uuid:` full URLs made fresh for each export. The format is
//! documented in `docs/EXPORT.md`.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use serde_json::{Value, json};

use super::record::{Whole, WholeMeasure, WholeNote, load_whole};
use crate::auth::extract::Signed;
use crate::ids::NoteId;
use crate::measures::instrument::ANSWERS;
use crate::web::{AppError, AppState};

/// The code system of Tearsheet's breakthrough tags in exports.
pub const TAG_SYSTEM: &str = "urn:tearsheet:breakthrough-tag";

/// Register the FHIR export.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/clients/{id}/fhir", web::get().to(fhir));
}

/// `GET /clients/{id}/fhir`: the client's chart as a FHIR R4 Bundle.
async fn fhir(
    state: web::Data<AppState>,
    Signed(session): Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let whole = load_whole(&state, &session, &path).await?;
    crate::web::json_download(
        &bundle(&whole)?,
        "application/fhir+json",
        &format!("client-{}-fhir.json", whole.id),
    )
}

/// A fresh random UUID (version 4) as a `urn:uuid:` URL.
fn urn() -> String {
    let mut b: [u8; 16] = crate::crypto::random_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = data_encoding::HEXLOWER.encode(&b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn reference(url: &str) -> Value {
    json!({ "reference": url })
}

/// A signed note as HTML for the `text/html` attachment (askama escapes
/// every value).
#[derive(Template)]
#[template(path = "clients/fhir_note.html")]
struct NoteHtml<'a> {
    heading: String,
    signed_by: Option<&'a str>,
    signed_at: String,
    key_moment: &'a str,
    tags: Vec<String>,
    sections: Vec<(String, String)>,
    addenda: Vec<(String, Option<&'a str>, &'a str)>,
}

/// The note's text as the record has it: sections, key moment, tags,
/// addenda; never the process note.
fn note_parts<'a>(whole: &Whole, n: &'a WholeNote) -> NoteHtml<'a> {
    NoteHtml {
        heading: format!(
            "{} session, {}, {} minutes",
            n.facts.session_type.label(),
            n.facts.session_date,
            n.facts.duration_minutes
        ),
        signed_by: n.signed_as.as_deref(),
        signed_at: n.signed_at.map(rfc3339).unwrap_or_default(),
        key_moment: &n.content.key_moment,
        tags: whole
            .vocabulary
            .views(&n.content.tags)
            .into_iter()
            .map(|t| t.label)
            .collect(),
        sections: n
            .content
            .layout(n.facts.format)
            .iter()
            .map(|s| {
                (
                    s.label.to_owned(),
                    n.content.sections.get(s.key).cloned().unwrap_or_default(),
                )
            })
            .collect(),
        addenda: n
            .addenda
            .iter()
            .map(|(at, by, text)| (rfc3339(*at), by.as_deref(), text.as_str()))
            .collect(),
    }
}

fn plain_text(parts: &NoteHtml<'_>) -> String {
    let mut out = format!("{}\n", parts.heading);
    if let Some(by) = parts.signed_by {
        out.push_str(&format!("Signed by {by} at {}\n", parts.signed_at));
    }
    if !parts.key_moment.is_empty() {
        out.push_str(&format!("Key moment: {}\n", parts.key_moment));
    }
    if !parts.tags.is_empty() {
        out.push_str(&format!("Tags: {}\n", parts.tags.join(", ")));
    }
    for (label, text) in &parts.sections {
        out.push_str(&format!("\n{label}\n{text}\n"));
    }
    for (at, by, text) in &parts.addenda {
        out.push_str(&format!(
            "\nAddendum{} at {at}\n{text}\n",
            by.map(|b| format!(" by {b}")).unwrap_or_default()
        ));
    }
    out
}

fn patient(whole: &Whole) -> Value {
    let c = &whole.client;
    let mut names = vec![json!({ "use": "official", "text": c.full_name })];
    if !c.preferred_name.is_empty() && c.preferred_name != c.full_name {
        names.push(json!({ "use": "usual", "text": c.preferred_name }));
    }
    let mut p = json!({ "resourceType": "Patient", "name": names });
    if !c.date_of_birth.is_empty() {
        p["birthDate"] = json!(c.date_of_birth);
    }
    if !c.language.is_empty() {
        p["communication"] = json!([{
            "language": {
                "coding": [{ "system": "urn:ietf:bcp:47", "code": c.language }],
                "text": crate::lang::name(&c.language),
            },
            "preferred": true,
        }]);
    }
    if !c.pronouns.is_empty() {
        p["extension"] = json!([{
            "url": "http://hl7.org/fhir/StructureDefinition/individual-pronouns",
            "extension": [{ "url": "value", "valueCodeableConcept": { "text": c.pronouns } }]
        }]);
    }
    p
}

fn encounter(n: &WholeNote, patient: &str) -> Value {
    json!({
        "resourceType": "Encounter",
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
            "display": "ambulatory"
        },
        "type": [{ "text": format!("{} psychotherapy session", n.facts.session_type.label()) }],
        "subject": reference(patient),
        "period": { "start": n.facts.session_date, "end": n.facts.session_date },
        "length": {
            "value": n.facts.duration_minutes,
            "unit": "min",
            "system": "http://unitsofmeasure.org",
            "code": "min"
        }
    })
}

fn document(
    whole: &Whole,
    n: &WholeNote,
    patient: &str,
    encounter: &str,
) -> Result<Value, AppError> {
    let parts = note_parts(whole, n);
    let html = parts.render().map_err(AppError::internal)?;
    let text = plain_text(&parts);
    let b64 = |s: &str| data_encoding::BASE64.encode(s.as_bytes());
    let title = format!("Progress note, {}", n.facts.session_date);
    let mut doc = json!({
        "resourceType": "DocumentReference",
        "status": "current",
        "docStatus": "final",
        "type": { "coding": [{ "system": "http://loinc.org", "code": "11506-3", "display": "Progress note" }] },
        "subject": reference(patient),
        "description": title,
        "content": [
            { "attachment": { "contentType": "text/plain; charset=utf-8", "language": "en", "title": title, "data": b64(&text) } },
            { "attachment": { "contentType": "text/html; charset=utf-8", "language": "en", "title": title, "data": b64(&html) } }
        ],
        "context": {
            "encounter": [reference(encounter)],
            "period": { "start": n.facts.session_date, "end": n.facts.session_date }
        }
    });
    if let Some(at) = n.signed_at {
        doc["date"] = json!(rfc3339(at));
    }
    if let Some(by) = &n.signed_as {
        doc["authenticator"] = json!({ "display": by });
        doc["author"] = json!([{ "display": by }]);
        if let Some((cosigner, at)) = &n.cosigned {
            // R4 has one authenticator; the supervisor's co-signature is a
            // second author, named as such.
            doc["author"] = json!([
                { "display": by },
                { "display": format!("Co-signed by {cosigner} on {}", rfc3339(*at)) }
            ]);
        }
    }
    let tags: Vec<Value> = whole
        .vocabulary
        .views(&n.content.tags)
        .into_iter()
        .map(|t| json!({ "coding": [{ "system": TAG_SYSTEM, "code": t.key, "display": t.label }], "text": t.label }))
        .collect();
    if !tags.is_empty() {
        doc["category"] = json!(tags);
    }
    Ok(doc)
}

fn response(m: &WholeMeasure, patient: &str, encounter: Option<&String>) -> Value {
    let instrument = m.taken.instrument;
    let items: Vec<Value> = instrument
        .items()
        .enumerate()
        .map(|(i, text)| {
            let code = instrument.item_code(i).unwrap_or_default();
            let mut item = json!({ "linkId": code, "text": text });
            if let Some(answer) = m.taken.items.get(i).copied().flatten() {
                let (display, answer_code) = ANSWERS[answer as usize];
                item["answer"] = json!([{
                    "valueCoding": { "system": "http://loinc.org", "code": answer_code, "display": display }
                }]);
            }
            item
        })
        .collect();
    let mut qr = json!({
        "resourceType": "QuestionnaireResponse",
        "questionnaire": format!("http://loinc.org/q/{}", instrument.panel_code()),
        "status": if m.entered_in_error_at.is_some() { "entered-in-error" } else { "completed" },
        "subject": reference(patient),
        "authored": m.taken_on,
        "item": items
    });
    if let Some(e) = encounter {
        qr["encounter"] = reference(e);
    }
    qr
}

/// A pack's rating scale as a QuestionnaireResponse: each answer as the
/// scale coded it, against the scale's own canonical URL when it has one.
fn scale_response(
    s: &super::record::WholeScale,
    patient: &str,
    encounter: Option<&String>,
) -> Value {
    let scale = &s.taken.scale;
    let items: Vec<Value> = scale
        .items
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let mut item = json!({ "linkId": q.link_id, "text": q.text });
            if let Some(answer) = s
                .taken
                .items
                .get(i)
                .copied()
                .flatten()
                .and_then(|a| q.answers.get(usize::from(a)))
            {
                item["answer"] = json!([{
                    "valueCoding": { "code": answer.code, "display": answer.display }
                }]);
            }
            item
        })
        .collect();
    let mut qr = json!({
        "resourceType": "QuestionnaireResponse",
        "status": if s.entered_in_error_at.is_some() { "entered-in-error" } else { "completed" },
        "subject": reference(patient),
        "authored": s.taken_on,
        "item": items
    });
    if let Some(url) = &scale.url {
        qr["questionnaire"] = json!(url);
    }
    if let Some(e) = encounter {
        qr["encounter"] = reference(e);
    }
    qr
}

fn observation(
    m: &WholeMeasure,
    total: u8,
    patient: &str,
    response: &str,
    encounter: Option<&String>,
) -> Value {
    let instrument = m.taken.instrument;
    let mut obs = json!({
        "resourceType": "Observation",
        "status": if m.entered_in_error_at.is_some() { "entered-in-error" } else { "final" },
        "category": [{ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "survey",
            "display": "Survey"
        }] }],
        "code": { "coding": [{ "system": "http://loinc.org", "code": instrument.total_code(), "display": instrument.total_display() }], "text": format!("{} total score", instrument.name()) },
        "subject": reference(patient),
        "effectiveDateTime": m.taken_on,
        "valueInteger": total,
        "derivedFrom": [reference(response)]
    });
    if let Some(band) = m.taken.score.band {
        obs["interpretation"] =
            json!([{ "text": format!("{} ({})", band.label(), instrument.name()) }]);
    }
    if let Some(answer) = m.taken.score.self_harm {
        obs["note"] = json!([{ "text": format!(
            "PHQ-9 item 9 (thoughts that you would be better off dead, or of hurting yourself) answered: {}",
            ANSWERS[answer as usize].0
        ) }]);
    }
    if let Some(e) = encounter {
        obs["encounter"] = reference(e);
    }
    obs
}

/// The bundle for a whole record.
pub fn bundle(whole: &Whole) -> Result<Value, AppError> {
    let entry = |url: &str, resource: Value| json!({ "fullUrl": url, "resource": resource });
    let patient_url = urn();
    let mut entries = vec![entry(&patient_url, patient(whole))];
    let mut notes: Vec<&WholeNote> = whole.notes.iter().collect();
    notes.sort_by(|a, b| a.facts.session_date.cmp(&b.facts.session_date));
    let mut encounters: HashMap<NoteId, String> = HashMap::new();
    for n in &notes {
        let url = urn();
        entries.push(entry(&url, encounter(n, &patient_url)));
        encounters.insert(n.id, url);
    }
    for n in notes.iter().filter(|n| n.signed) {
        let doc = document(whole, n, &patient_url, &encounters[&n.id])?;
        entries.push(entry(&urn(), doc));
    }
    for m in &whole.measures {
        let enc = m.taken.note.and_then(|n| encounters.get(&n));
        let qr_url = urn();
        entries.push(entry(&qr_url, response(m, &patient_url, enc)));
        if let Some(total) = m.taken.score.total {
            entries.push(entry(
                &urn(),
                observation(m, total, &patient_url, &qr_url, enc),
            ));
        }
    }
    for s in &whole.scales {
        let enc = s.taken.note.and_then(|n| encounters.get(&n));
        entries.push(entry(&urn(), scale_response(s, &patient_url, enc)));
    }
    Ok(json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": rfc3339(crate::db::now()),
        "entry": entries
    }))
}
