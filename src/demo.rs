//! `tearsheet demo`: a realistic, plainly fictional caseload for trying the
//! app and for the benchmarks. Names are invented combinations; note text is
//! assembled from varied phrases, so search has real words to find; about a
//! third of notes carry breakthrough tags.

use std::io::IsTerminal as _;

use crate::auth::account::{self, Enrolment, Role};
use crate::clients::model::{self as clients, ClientFields};
use crate::crypto::password::KdfParams;
use crate::db::{self, DbConn, now, write_transaction};
use crate::notes::format::{NoteFormat, SessionType};
use crate::notes::model::{self as notes, NoteContent, SessionFacts};

const FIRST: [&str; 24] = [
    "Avery", "Rowan", "Juniper", "Ellis", "Marlowe", "Sasha", "Quinn", "Tamsin", "Ezra", "Linnea",
    "Oren", "Priya", "Caspian", "Nell", "Idris", "Maren", "Teodor", "Wren", "Ines", "Bastian",
    "Sol", "Hollis", "Anouk", "Kit",
];
const LAST: [&str; 20] = [
    "Quillfield",
    "Thistlewood",
    "Marrowby",
    "Fenwick-Rye",
    "Ashgrove",
    "Larkspur",
    "Brightwater",
    "Hollowell",
    "Sorrelby",
    "Wrenfold",
    "Amberley-Vane",
    "Coldharbour",
    "Pennywhistle",
    "Starling",
    "Oakenshaw",
    "Vellacott",
    "Mistral",
    "Underhill",
    "Greaves-Lumen",
    "Kestrel",
];
const FEELINGS: [&str; 12] = [
    "grief about a parent",
    "anger at a former partner",
    "worry about work",
    "loneliness since moving",
    "guilt about a friendship",
    "fear of being a burden",
    "shame about crying",
    "pride in a small change",
    "relief after a hard week",
    "sadness about the holidays",
    "tension with a sibling",
    "hope about a new job",
];
const OBSERVED: [&str; 8] = [
    "tearful when describing the memory",
    "calm and reflective",
    "restless, looked away often",
    "laughed, then went quiet",
    "spoke slowly and carefully",
    "visibly relieved by the end",
    "guarded at first, then open",
    "tired but engaged",
];
const WORK: [&str; 8] = [
    "reflected the feeling back",
    "explored the earliest memory of it",
    "practised a grounding exercise",
    "named the pattern gently",
    "invited self-compassion",
    "looked at the evidence for the belief",
    "stayed with the silence",
    "normalised crying in the room",
];
const PLANS: [&str; 8] = [
    "journal twice this week",
    "try the breathing exercise before calls",
    "notice the inner critic and write it down",
    "call the friend mentioned",
    "walk outside each morning",
    "bring the letter next session",
    "rest without apology on Sunday",
    "continue weekly sessions",
];
const MOMENTS: [&str; 8] = [
    "cried for the first time about a parent",
    "let the tears come without apologising",
    "said out loud what they feared most",
    "laughed at the old story",
    "asked for what they needed",
    "forgave themselves a little",
    "trusted me with the secret",
    "noticed their shoulders drop",
];
const TAGS: [&str; 7] = [
    "tearful-breakthrough",
    "emotional-release",
    "vulnerability",
    "trust-building",
    "self-compassion",
    "stress-relief",
    "stigma-challenged",
];

fn pick<'a>(rng: &mut fastrand::Rng, list: &[&'a str]) -> &'a str {
    list[rng.usize(..list.len())]
}

fn note_content(rng: &mut fastrand::Rng, format: NoteFormat) -> NoteContent {
    let feeling = pick(rng, &FEELINGS);
    let mut sections = std::collections::BTreeMap::new();
    let said = format!(
        "Talked about {feeling}. Said it has been on their mind since {}.",
        pick(
            rng,
            &[
                "last month",
                "the spring",
                "childhood",
                "the move",
                "the diagnosis"
            ]
        )
    );
    let seen = format!("Presented {}.", pick(rng, &OBSERVED));
    let did = format!(
        "I {}; they responded {}.",
        pick(rng, &WORK),
        pick(
            rng,
            &[
                "with recognition",
                "slowly",
                "with tears",
                "with a new thought",
                "warmly"
            ]
        )
    );
    let plan = format!("Agreed to {}.", pick(rng, &PLANS));
    match format {
        NoteFormat::Soap => {
            sections.insert("subjective".into(), said);
            sections.insert("objective".into(), seen);
            sections.insert("assessment".into(), did);
            sections.insert("plan".into(), plan);
        }
        NoteFormat::Dap => {
            sections.insert("data".into(), format!("{said} {seen}"));
            sections.insert("assessment".into(), did);
            sections.insert("plan".into(), plan);
        }
        NoteFormat::Birp => {
            sections.insert("behaviour".into(), seen);
            sections.insert("intervention".into(), did);
            sections.insert("response".into(), said);
            sections.insert("plan".into(), plan);
        }
        NoteFormat::Free => {
            sections.insert("text".into(), format!("{said} {seen} {did} {plan}"));
        }
    }
    let tagged = rng.u8(..3) == 0;
    let mut tags: Vec<String> = Vec::new();
    if tagged {
        for _ in 0..rng.usize(1..=3) {
            let t = pick(rng, &TAGS).to_owned();
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
    }
    NoteContent {
        template: None,
        sections,
        key_moment: if tagged {
            pick(rng, &MOMENTS).to_owned()
        } else {
            String::new()
        },
        process_note: if rng.u8(..5) == 0 {
            "Notice my own pull to reassure.".into()
        } else {
            String::new()
        },
        tags,
    }
}

/// What `tearsheet demo` made.
pub struct Made {
    /// Sign in with this.
    pub email: String,
    /// And this.
    pub password: String,
    /// The account's recovery code.
    pub recovery_code: String,
    /// Clients made.
    pub clients: usize,
    /// Notes made.
    pub notes: usize,
    /// Measures made (a PHQ-9 and a GAD-7 every fourth session).
    pub measures: usize,
}

/// Make a demo therapist with `n_clients` clients and `n_notes` notes
/// (and measures with every fourth session of each client).
pub fn run(
    url: &db::DatabaseUrl,
    email: &str,
    n_clients: usize,
    n_notes: usize,
) -> anyhow::Result<Made> {
    anyhow::ensure!(n_clients >= 1, "--clients must be at least 1");
    let mut conn = db::connect_one(url, std::time::Duration::from_secs(10))?;
    db::migrate(&mut conn)?;
    anyhow::ensure!(
        account::find_by_email(&mut conn, email)?.is_none(),
        "{email} already has an account; choose another with --email"
    );
    let password = format!(
        "demo-{}",
        crate::crypto::random_token()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect::<String>()
    );
    let first = !account::practice_exists(&mut conn)?;
    let role = if first { Role::Admin } else { Role::Therapist };
    let enrolment = Enrolment::new(
        email,
        "Dr Demo (fictional)",
        role,
        &password,
        KdfParams::DEFAULT,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    write_transaction(&mut conn, |conn: &mut DbConn| {
        if first {
            account::claim_practice(conn, now(), "Demo Practice (fictional)")?;
        }
        enrolment.insert(conn, now())
    })?;
    crate::sharing::keys::ensure_key_pair(&mut conn, enrolment.id, &enrolment.dk)?;
    // Each client's key is made with the client and kept here.
    let keys = crate::crypto::Keys::only(enrolment.id.0, enrolment.dk.duplicate());
    let (therapist, dk) = (enrolment.id, &keys);
    let signature = account::signature_of(&mut conn, therapist)?;
    let mut rng = fastrand::Rng::new();
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new((n_clients + n_notes) as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut client_ids = Vec::new();
    write_transaction(&mut conn, |conn: &mut DbConn| -> anyhow::Result<()> {
        for i in 0..n_clients {
            let first_name = FIRST[i % FIRST.len()];
            let last = LAST[(i / FIRST.len() + i) % LAST.len()];
            let fields = ClientFields {
                full_name: format!("{first_name} {last}"),
                preferred_name: if i % 3 == 0 {
                    first_name.to_owned()
                } else {
                    String::new()
                },
                pronouns: pick(&mut rng, &["she/her", "he/him", "they/them", ""]).to_owned(),
                // From the index, not the generator, so the rest of the demo
                // data stays as it was.
                language: if i % 4 == 1 { "es" } else { "" }.to_owned(),
                date_of_birth: format!(
                    "{}-{:02}-{:02}",
                    1950 + rng.u32(..55),
                    rng.u32(1..=12),
                    rng.u32(1..=28)
                ),
                about: format!(
                    "Fictional demo client. Referred for {}.",
                    pick(&mut rng, &FEELINGS)
                ),
            };
            client_ids.push(clients::insert(conn, therapist, dk, &fields)?);
            bar.inc(1);
        }
        Ok(())
    })?;
    let today = chrono::Local::now().date_naive();
    let mut made = 0;
    let mut measures = 0;
    let batch = 500;
    let total_batches = n_notes.div_ceil(batch).max(1);
    for b in 0..total_batches {
        write_transaction(&mut conn, |conn: &mut DbConn| -> anyhow::Result<()> {
            for i in (b * batch)..((b + 1) * batch).min(n_notes) {
                let client = client_ids[i % client_ids.len()];
                let days_ago = (n_notes - i) as i64 * 3 * 365 / n_notes.max(1) as i64;
                let date = today - chrono::Duration::days(days_ago);
                let format = [
                    NoteFormat::Soap,
                    NoteFormat::Soap,
                    NoteFormat::Dap,
                    NoteFormat::Birp,
                    NoteFormat::Free,
                ][rng.usize(..5)];
                let facts = SessionFacts {
                    session_date: date.format("%Y-%m-%d").to_string(),
                    duration_minutes: [45, 50, 50, 60, 90][rng.usize(..5)],
                    session_type: SessionType::ALL[if rng.u8(..10) == 0 {
                        rng.usize(1..4)
                    } else {
                        0
                    }],
                    format,
                };
                let id = notes::create(
                    conn,
                    therapist,
                    dk,
                    client,
                    &facts,
                    &note_content(&mut rng, format),
                    None,
                )?;
                if days_ago > 7 {
                    notes::sign(conn, therapist, dk, id, 1, &signature)?;
                }
                // Every fourth session of a client, a PHQ-9 and a GAD-7
                // with it, easing over the years as therapy helps.
                if (i / client_ids.len()) % 4 == 0 {
                    let progress = i as f64 / n_notes.max(1) as f64;
                    for (instrument, items) in [("phq-9", 9), ("gad-7", 7)] {
                        let answers: Vec<Option<u8>> = (0..items)
                            .map(|item| {
                                let centre = 2.2 - 1.6 * progress;
                                let value =
                                    (centre + rng.f64() * 1.2 - 0.6).round().clamp(0.0, 3.0) as u8;
                                // Item 9 (self-harm) is rare and mild here.
                                Some(if item == 8 {
                                    u8::from(rng.u8(..25) == 0)
                                } else {
                                    value
                                })
                            })
                            .collect();
                        crate::measures::model::insert(
                            conn,
                            therapist,
                            dk,
                            client,
                            &facts.session_date,
                            &crate::measures::model::Answers {
                                instrument: instrument.to_owned(),
                                items: answers,
                                note: Some(id),
                                scale: None,
                            },
                            None,
                        )?;
                    }
                    measures += 2;
                }
                made += 1;
                bar.inc(1);
            }
            Ok(())
        })?;
        if !std::io::stderr().is_terminal() {
            eprintln!("demo: {made} of {n_notes} notes written");
        }
    }
    bar.finish_and_clear();
    Ok(Made {
        email: email.to_owned(),
        password,
        recovery_code: enrolment.recovery_code.display().to_string(),
        clients: n_clients,
        notes: made,
        measures,
    })
}
