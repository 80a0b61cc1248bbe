//! Private links to a given handout (SECURITY.md "Private handout links").
//!
//! A therapist who has given a handout may also make a link the client
//! opens on a phone without an account: `/h/ABCD-EFGH-JKMN-PQRS-TVWX`. The
//! code is an id (8 characters, 40 bits) and a secret (12 characters, 60
//! bits) in Crockford's base 32, short enough to type from paper. The
//! database holds a hash of the id, to find the row, and the personalised
//! handout sealed under a key Argon2id derives from the secret
//! ([`crate::crypto::password::link_key`]): a copy of the database opens
//! nothing, and an id that is not there is a plain 404, counted per client
//! address. The whole code is also sealed under the client's key, so the
//! therapist's reprint can show its QR code again.
//!
//! A link works for 30 days (or as chosen) and [`MAX_OPENS`] opens; each
//! open is counted by one conditional update and recorded on the chart.
//! Revoked, expired or used up, its sealed handout is wiped and the client
//! sees a kind page saying so (410).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::given::{self, Given};
use crate::audit::{self, Action};
use crate::auth::extract::SignedForm;
use crate::clients::model::Client;
use crate::crypto::seal::{Place, open, seal};
use crate::crypto::{Keys, LinkKey, Record, hash_parts};
use crate::db::schema::handout_links;
use crate::db::{DbConn, now};
use crate::ids::{ClientId, GivenHandoutId, HandoutLinkId, TherapistId};
use crate::web::{AppError, AppState, render, see_other};

/// Register the therapist's link routes (before `/handouts/{slug}`) and
/// the public ones.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/handouts/given/{id}/link", web::post().to(create))
        .route("/handouts/given/{id}/link/revoke", web::post().to(revoke))
        .route("/h", web::get().to(code_form))
        .route("/h/{code}", web::get().to(open_link));
}

/// How long a link works unless the therapist chooses otherwise, in days.
pub const DEFAULT_DAYS: i64 = 30;
/// The lifetimes offered, in days.
pub const DAYS_OFFERED: [i64; 4] = [7, 14, 30, 90];
/// How many times a link opens before it stops.
pub const MAX_OPENS: i32 = 20;
/// Crockford's base 32: no I, L, O or U to misread.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const ID_CHARS: usize = 8;
const SECRET_CHARS: usize = 12;
/// Sealed handouts are padded to a multiple of this, so their size says
/// little about the note's length.
const PAD: usize = 1024;

/// Per client address: twenty wrong codes in a quarter hour, then a
/// quarter hour of 429s (a link that exists is not counted).
const GUESSES: crate::auth::throttle::Policy = crate::auth::throttle::Policy {
    max_failures: 20,
    window: 15 * 60,
    base_lock: 15 * 60,
    max_lock: 15 * 60,
};

/// A link's code: its id and its secret, upper-case, without dashes.
pub struct Code {
    id: String,
    /// Wiped from memory when dropped.
    secret: zeroize::Zeroizing<String>,
}

impl Code {
    fn generate() -> Self {
        let bytes: [u8; ID_CHARS + SECRET_CHARS] = crate::crypto::random_bytes();
        let chars: String = bytes
            .iter()
            .map(|b| ALPHABET[usize::from(b & 31)] as char)
            .collect();
        let code = Self {
            id: chars[..ID_CHARS].to_owned(),
            secret: zeroize::Zeroizing::new(chars[ID_CHARS..].to_owned()),
        };
        drop(zeroize::Zeroizing::new(chars));
        code
    }

    /// Read a code as typed or scanned: dashes and spaces ignored, any
    /// case, O read as 0 and I or L as 1. `None` if it cannot be one.
    pub fn parse(raw: &str) -> Option<Self> {
        let chars: String = raw
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            })
            .collect();
        (chars.len() == ID_CHARS + SECRET_CHARS && chars.bytes().all(|b| ALPHABET.contains(&b)))
            .then(|| Self {
                id: chars[..ID_CHARS].to_owned(),
                secret: zeroize::Zeroizing::new(chars[ID_CHARS..].to_owned()),
            })
    }

    /// In groups of four: `ABCD-EFGH-JKMN-PQRS-TVWX`.
    pub fn grouped(&self) -> String {
        let all = zeroize::Zeroizing::new(format!("{}{}", self.id, self.secret.as_str()));
        all.as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// What the database finds the link by.
    fn lookup(&self) -> [u8; 32] {
        hash_parts(&[b"tearsheet/v1/handout-link-id", self.id.as_bytes()])
    }

    /// The key its handout is sealed under (slow: Argon2id).
    fn key(&self) -> Result<LinkKey, AppError> {
        crate::crypto::password::link_key(&self.secret, &self.id).map_err(AppError::internal)
    }
}

/// Derive a link's key on a blocking thread, behind the KDF semaphore.
async fn key_of(state: &AppState, code: &Code) -> Result<LinkKey, AppError> {
    let permit = state.kdf_permit()?;
    let code = Code {
        id: code.id.clone(),
        secret: code.secret.clone(),
    };
    web::block(move || {
        let _permit = permit;
        code.key()
    })
    .await?
}

/// What a link shows: the handout exactly as given.
#[derive(Serialize, Deserialize)]
struct Content {
    lang: String,
    title: String,
    body: String,
    for_name: String,
    personal_note: String,
}

fn content_place(id: HandoutLinkId) -> Place<'static> {
    Place::new(0, "handout_links", "content", id.0)
}

fn verifier_place(id: HandoutLinkId) -> Place<'static> {
    Place::new(0, "handout_links", "verifier", id.0)
}

/// What the verifier seals: any fixed value; only its opening matters.
const VERIFIER: &[u8] = b"tearsheet handout link";

/// The sealed column holding the code, under the client's key.
fn code_record(
    keys: &Keys,
    therapist: TherapistId,
    client: ClientId,
    id: HandoutLinkId,
) -> Record<'_> {
    Record::of_client(keys, therapist.0, client.0, "handout_links", id.0).under(client.0)
}

/// Why a link no longer works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The therapist turned it off.
    Revoked,
    /// Its time ran out.
    Expired,
    /// It was opened as many times as it allows.
    UsedUp,
}

impl Ended {
    fn key(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::UsedUp => "used",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "expired" => Self::Expired,
            "used" => Self::UsedUp,
            _ => Self::Revoked,
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = handout_links)]
struct LinkRow {
    id: HandoutLinkId,
    given_id: GivenHandoutId,
    content: Vec<u8>,
    verifier: Vec<u8>,
    code: Vec<u8>,
    lang: String,
    created_at: i64,
    expires_at: i64,
    max_opens: i32,
    opens: i32,
    first_opened_at: Option<i64>,
    last_opened_at: Option<i64>,
    ended_at: Option<i64>,
    ended_why: Option<String>,
}

impl LinkRow {
    /// Why it does not work at `now`, if it does not.
    fn ended(&self, now: i64) -> Option<Ended> {
        if self.ended_at.is_some() {
            return Some(Ended::parse(self.ended_why.as_deref().unwrap_or_default()));
        }
        if now >= self.expires_at {
            return Some(Ended::Expired);
        }
        (self.opens >= self.max_opens).then_some(Ended::UsedUp)
    }
}

/// A link's state, for the chart and the reprint.
pub struct LinkState {
    /// The given handout it shows.
    pub given_id: GivenHandoutId,
    /// Why it stopped, if it did.
    pub ended: Option<Ended>,
    /// When it was made, stops by date, and was last opened.
    pub created_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    pub opens: i32,
    pub max_opens: i32,
    pub first_opened_at: Option<i64>,
    pub last_opened_at: Option<i64>,
}

impl LinkState {
    fn of(row: &LinkRow, now: i64) -> Self {
        Self {
            given_id: row.given_id,
            ended: row.ended(now),
            created_at: row.created_at,
            expires_at: row.expires_at,
            ended_at: row.ended_at,
            opens: row.opens,
            max_opens: row.max_opens,
            first_opened_at: row.first_opened_at,
            last_opened_at: row.last_opened_at,
        }
    }

    /// In words, with dates in the practice's style: "Opened 2 times, last
    /// on 3 Dec 2026, 14:05. Works until 31 Dec 2026 or 18 more opens."
    pub fn describe(&self, dates: crate::web::dates::DateStyle) -> String {
        let opened = match (self.opens, self.last_opened_at) {
            (0, _) | (_, None) => "Not opened yet.".to_owned(),
            (1, Some(at)) => format!("Opened once, on {}.", dates.moment(at)),
            (n, Some(at)) => format!("Opened {n} times, last on {}.", dates.moment(at)),
        };
        let state = match self.ended {
            None => format!(
                "Works until {} or {} more opens.",
                dates.day_of(self.expires_at),
                self.max_opens - self.opens
            ),
            Some(Ended::Revoked) => format!(
                "Turned off on {}.",
                dates.moment(self.ended_at.unwrap_or(self.expires_at))
            ),
            Some(Ended::Expired) => format!("Ended on {}.", dates.day_of(self.expires_at)),
            Some(Ended::UsedUp) => format!("Stopped after {} opens, its limit.", self.max_opens),
        };
        format!("{opened} {state}")
    }
}

/// The link to each of these given handouts: one each, as making a link
/// deletes the last; should two ever meet, the working one, else the
/// newer.
fn newest(rows: Vec<LinkRow>) -> Vec<LinkRow> {
    let mut out: Vec<LinkRow> = Vec::new();
    for row in rows {
        match out.iter_mut().find(|r| r.given_id == row.given_id) {
            None => out.push(row),
            Some(kept) => {
                let better = (row.ended_at.is_none(), row.created_at)
                    > (kept.ended_at.is_none(), kept.created_at);
                if better {
                    *kept = row;
                }
            }
        }
    }
    out
}

/// The state of the link to each of these given handouts, if it has one.
pub fn states(conn: &mut DbConn, given: &[GivenHandoutId]) -> QueryResult<Vec<LinkState>> {
    let rows: Vec<LinkRow> = handout_links::table
        .filter(handout_links::given_id.eq_any(given))
        .select(LinkRow::as_select())
        .load(conn)?;
    let at = now();
    Ok(newest(rows).iter().map(|r| LinkState::of(r, at)).collect())
}

/// End a link for `why` and wipe its sealed handout.
fn end(conn: &mut DbConn, id: HandoutLinkId, why: Ended, at: i64) -> QueryResult<()> {
    diesel::update(
        handout_links::table
            .find(id)
            .filter(handout_links::ended_at.is_null()),
    )
    .set((
        handout_links::ended_at.eq(at),
        handout_links::ended_why.eq(why.key()),
        handout_links::content.eq(Vec::<u8>::new()),
    ))
    .execute(conn)
    .map(|_| ())
}

/// Turn off every working link to a given handout; how many there were.
fn revoke_all(conn: &mut DbConn, given: GivenHandoutId, at: i64) -> QueryResult<usize> {
    let ids: Vec<HandoutLinkId> = handout_links::table
        .filter(handout_links::given_id.eq(given))
        .filter(handout_links::ended_at.is_null())
        .select(handout_links::id)
        .load(conn)?;
    for id in &ids {
        end(conn, *id, Ended::Revoked, at)?;
    }
    Ok(ids.len())
}

/// The handout as it was given, for sealing into a link.
fn content_of(given: &Given) -> Result<Content, AppError> {
    let Ok(text) = &given.text else {
        return Err(AppError::conflict(
            "This record failed an integrity check, so no link can be made from it.",
        ));
    };
    Ok(Content {
        lang: given.lang.clone(),
        title: text.title.clone(),
        body: text.body.clone(),
        for_name: text.for_name.clone(),
        personal_note: text.personal_note.clone(),
    })
}

/// The address clients reach this server at: the configured one, else the
/// one the therapist's browser used (a Host header that is not a plain
/// host and port is not trusted, and gives `localhost`).
pub fn public_base(req: &HttpRequest, state: &AppState) -> String {
    if let Some(url) = &state.config.public_url {
        return url.clone();
    }
    let scheme = if crate::web::client::is_https(req, &state.config) {
        "https"
    } else {
        "http"
    };
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 253
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// The private-link part of a given handout's print page: the working
/// link with its QR code, or the form to make one.
pub async fn block(
    state: &AppState,
    req: &HttpRequest,
    session: &crate::auth::session::CurrentSession,
    given: &Given,
) -> Result<super::pages::LinkBlock, AppError> {
    use super::pages::{LinkBlock, LiveLink};
    let (keys, therapist) = (session.keys.clone(), session.therapist);
    let id = given.id;
    let client = given.client_id;
    let found = state
        .db(move |conn| {
            let rows: Vec<LinkRow> = handout_links::table
                .filter(handout_links::given_id.eq(id))
                .select(LinkRow::as_select())
                .load(conn)?;
            Ok(newest(rows).into_iter().next().map(|row| {
                let state = LinkState::of(&row, now());
                let code = state.ended.is_none().then(|| {
                    code_record(&keys, therapist, client, row.id)
                        .open("code", &row.code)
                        .ok()
                });
                (state, code.flatten())
            }))
        })
        .await?;
    let offer = |last: Option<String>, live: bool| LinkBlock::Offer {
        action: format!("/handouts/given/{id}/link"),
        days: DAYS_OFFERED
            .iter()
            .map(|d| (*d, *d == DEFAULT_DAYS))
            .collect(),
        last,
        revoke: live.then(|| format!("/handouts/given/{id}/link/revoke")),
    };
    Ok(match found {
        None => offer(None, false),
        Some((link, Some(code))) => {
            let base = public_base(req, state);
            let url = format!("{base}/h/{code}");
            let (qr_width, qr_dark) = crate::auth::totp::qr(&url);
            let insecure = base.starts_with("http://") && !loopback(&base);
            LinkBlock::Live(LiveLink {
                insecure,
                typed_at: format!("{base}/h"),
                code,
                qr_width,
                qr_dark,
                state: link.describe(session.dates),
                revoke: format!("/handouts/given/{id}/link/revoke"),
                url,
            })
        }
        Some((link, None)) => {
            let live = link.ended.is_none();
            offer(
                Some(if live {
                    format!(
                        "A link works, but its code failed an integrity check and cannot be shown. Turn it off, and make a new one. {}",
                        link.describe(session.dates)
                    )
                } else {
                    format!("The last link: {}", link.describe(session.dates))
                }),
                live,
            )
        }
    })
}

/// Whether an address is this computer's (`http://127.0.0.1:8080`).
fn loopback(base: &str) -> bool {
    let host = base
        .split("://")
        .nth(1)
        .unwrap_or_default()
        .trim_start_matches('[');
    host.starts_with("localhost") || host.starts_with("127.") || host.starts_with("::1]")
}

/// The choices of the form that makes a link.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LinkForm {
    /// How many days it works (one of [`DAYS_OFFERED`]).
    pub days: String,
}

/// One of this therapist's given handouts, or an audited 404.
pub async fn owned_given(
    state: &AppState,
    session: &crate::auth::session::CurrentSession,
    raw: &str,
) -> Result<(Given, Client), AppError> {
    let therapist = session.therapist;
    let Ok(id) = raw.parse::<GivenHandoutId>() else {
        return Err(audit::denied(state, therapist, None).await);
    };
    let keys = session.keys.clone();
    let found = state
        .db(move |conn| Ok(given::find(conn, therapist, &keys, id)?))
        .await?;
    match found {
        Some(found) => Ok(found),
        None => Err(audit::denied(state, therapist, Some(id.0)).await),
    }
}

/// `POST /handouts/given/{id}/link`: make a private link (turning off any
/// earlier one) and show the print page with it.
async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: SignedForm<LinkForm>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let days = match form.form.days.trim() {
        "" => DEFAULT_DAYS,
        d => d
            .parse::<i64>()
            .ok()
            .filter(|d| DAYS_OFFERED.contains(d))
            .ok_or_else(|| {
                AppError::bad_request("Choose how long the link works from the list.")
            })?,
    };
    let (given, client) = owned_given(&state, &session, &path).await?;
    let content = content_of(&given)?;
    let code = Code::generate();
    let key = key_of(&state, &code).await?;
    let id = HandoutLinkId::generate();
    let mut plain = serde_json::to_vec(&content).map_err(AppError::internal)?;
    plain.resize(plain.len().div_ceil(PAD) * PAD, b' ');
    let sealed = seal(&key, &content_place(id), &plain);
    let verifier = seal(&key, &verifier_place(id), VERIFIER);
    drop(key);
    let (therapist, given_id) = (session.therapist, given.id);
    let sealed_code =
        code_record(&session.keys, therapist, given.client_id, id).seal("code", &code.grouped());
    let lookup = code.lookup().to_vec();
    let lang = given.lang.clone();
    state
        .db(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let at = now();
                // A new link replaces the last, working or not: one link
                // per given handout (the audit trail keeps the history).
                diesel::delete(handout_links::table.filter(handout_links::given_id.eq(given_id)))
                    .execute(conn)?;
                diesel::insert_into(handout_links::table)
                    .values((
                        handout_links::id.eq(id),
                        handout_links::given_id.eq(given_id),
                        handout_links::lookup.eq(lookup),
                        handout_links::content.eq(sealed),
                        handout_links::verifier.eq(verifier),
                        handout_links::code.eq(sealed_code),
                        handout_links::lang.eq(lang),
                        handout_links::created_at.eq(at),
                        handout_links::expires_at.eq(at + days * 24 * 60 * 60),
                        handout_links::max_opens.eq(MAX_OPENS),
                    ))
                    .execute(conn)?;
                audit::record(
                    conn,
                    Some(therapist),
                    Action::HandoutLinkCreate,
                    Some(given_id.0),
                )
            })?;
            Ok(())
        })
        .await?;
    let page = super::print::reprint_page(&state, &req, &session, given, client, false).await?;
    render(StatusCode::OK, &page)
}

/// `POST /handouts/given/{id}/link/revoke`: turn the link off.
async fn revoke(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: SignedForm<crate::web::form::NoFields>,
) -> Result<HttpResponse, AppError> {
    let session = form.session.clone();
    let (given, _) = owned_given(&state, &session, &path).await?;
    let (therapist, given_id) = (session.therapist, given.id);
    state
        .db(move |conn| {
            crate::db::write_transaction(conn, |conn| -> QueryResult<()> {
                if revoke_all(conn, given_id, now())? > 0 {
                    audit::record(
                        conn,
                        Some(therapist),
                        Action::HandoutLinkRevoke,
                        Some(given_id.0),
                    )?;
                }
                Ok(())
            })?;
            Ok(())
        })
        .await?;
    Ok(see_other(&format!("/handouts/given/{given_id}/print")))
}

/// The page a link opens: the handout, made for a phone.
#[derive(Template, WebTemplate)]
#[template(path = "handouts/link.html")]
struct LinkPage {
    version: &'static str,
    lang: String,
    words: &'static crate::lang::Words,
    title: String,
    for_name: String,
    personal_note: String,
    body_html: String,
}

/// What the public pages say when they do not show a handout.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Note {
    /// The form to type a code in.
    Form,
    /// The link has ended (410).
    Ended,
    /// No such link (404).
    NotFound,
    /// Too many wrong codes from here (429).
    TooMany,
    /// The key derivation is busy (503).
    Busy,
}

/// The public pages that show no handout: in the link's language when it
/// is known, else in English and Spanish together. Nothing of the
/// practice, and none of the therapists' wording ("sign in", "your
/// clients").
#[derive(Template, WebTemplate)]
#[template(path = "handouts/link_note.html")]
struct LinkNote {
    version: &'static str,
    lang: &'static str,
    words: &'static crate::lang::Words,
    note: Note,
    /// The same words in the other language, when the page's is unknown.
    also: Option<&'static crate::lang::Words>,
}

impl LinkNote {
    /// The title in these words.
    fn heading(&self, w: &crate::lang::Words) -> &'static str {
        match self.note {
            Note::Form => w.code_title,
            Note::Ended => w.ended_title,
            Note::NotFound => w.not_found_title,
            Note::TooMany => w.too_many_title,
            Note::Busy => w.busy_title,
        }
    }

    /// What it says in these words (nothing for the form).
    fn says(&self, w: &crate::lang::Words) -> &'static str {
        match self.note {
            Note::Form => "",
            Note::Ended => w.ended_text,
            Note::NotFound => w.not_found_text,
            Note::TooMany => w.too_many_text,
            Note::Busy => w.busy_text,
        }
    }

    /// Whether it offers the form to type a code in.
    fn asks_for_code(&self) -> bool {
        matches!(self.note, Note::Form | Note::NotFound)
    }
}

/// A public page with no handout. `lang` is the link's language when it
/// has been proven (the secret checked), else `None`: both languages.
fn note_page(note: Note, lang: Option<&str>) -> Result<HttpResponse, AppError> {
    let words = lang.map_or(&crate::lang::ENGLISH, crate::lang::words);
    let status = match note {
        Note::Form => StatusCode::OK,
        Note::Ended => StatusCode::GONE,
        Note::NotFound => StatusCode::NOT_FOUND,
        Note::TooMany => StatusCode::TOO_MANY_REQUESTS,
        Note::Busy => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut response = render(
        status,
        &LinkNote {
            version: crate::web::assets::VERSION,
            lang: words.lang,
            words,
            note,
            also: lang.is_none().then_some(&crate::lang::SPANISH),
        },
    )?;
    if matches!(note, Note::TooMany | Note::Busy) {
        let wait = if note == Note::TooMany { "900" } else { "60" };
        response.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from_static(wait),
        );
    }
    Ok(response)
}

/// The throttle key for wrong codes from a client address.
fn address_key(req: &HttpRequest, state: &AppState) -> Vec<u8> {
    crate::auth::throttle::address_key(&format!(
        "handout-link/{}",
        crate::web::client::throttle_address(req, &state.config)
    ))
}

/// The throttle key for wrong secrets given with one link's id: ten lock
/// the link for a quarter hour, so an id alone cannot keep Argon2id busy.
fn link_throttle_key(id: HandoutLinkId) -> Vec<u8> {
    hash_parts(&[b"tearsheet/v1/throttle/handout-link", &id.0.to_be_bytes()]).to_vec()
}

/// Per link: ten wrong secrets in a quarter hour, then a quarter hour shut.
const WRONG_SECRETS: crate::auth::throttle::Policy = crate::auth::throttle::Policy {
    max_failures: 10,
    window: 15 * 60,
    base_lock: 15 * 60,
    max_lock: 15 * 60,
};

/// Count a wrong code against the address (and the link, when its id was
/// right); the page to show: 404, or 429 once the address is locked.
async fn wrong_code(
    state: &AppState,
    address: Vec<u8>,
    link: Option<HandoutLinkId>,
) -> Result<HttpResponse, AppError> {
    let locked = state
        .db(move |conn| {
            let at = now();
            if let Some(id) = link {
                crate::auth::throttle::record_failure(
                    conn,
                    &link_throttle_key(id),
                    WRONG_SECRETS,
                    at,
                )?;
            }
            Ok(crate::auth::throttle::record_failure(
                conn, &address, GUESSES, at,
            )?)
        })
        .await?;
    note_page(
        if locked.is_some() {
            Note::TooMany
        } else {
            Note::NotFound
        },
        None,
    )
}

/// The code typed into `/h`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeQuery {
    code: String,
}

/// `GET /h`: type the code printed on a handout (in English and Spanish:
/// whose handout it is, and so its language, is not known yet). With a
/// code, go to its link.
async fn code_form(query: web::Query<CodeQuery>) -> Result<HttpResponse, AppError> {
    if !query.code.trim().is_empty() {
        // A code that cannot be one still goes to /h/…, to be counted.
        let code = Code::parse(&query.code).map_or_else(|| "-".to_owned(), |c| c.grouped());
        return Ok(see_other(&format!("/h/{code}")));
    }
    note_page(Note::Form, None)
}

/// Whether a request is a browser's speculative prefetch, not a person
/// opening the link: it must not spend an open.
fn prefetch(req: &HttpRequest) -> bool {
    ["sec-purpose", "purpose", "x-moz"].iter().any(|h| {
        req.headers()
            .get(*h)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("prefetch"))
    })
}

/// `GET /h/{code}`: the handout, to whoever has the link; counted, and
/// recorded on the chart.
async fn open_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    if prefetch(&req) {
        return Ok(HttpResponse::NoContent().finish());
    }
    let address = address_key(&req, &state);
    let code = Code::parse(&path);
    let lookup = code.as_ref().map(|c| c.lookup().to_vec());
    let (address_locked, row, link_locked) = {
        let address = address.clone();
        state
            .db(move |conn| {
                let at = now();
                let address_locked =
                    crate::auth::throttle::locked_for(conn, &[&address], at)?.is_some();
                let row: Option<LinkRow> = match lookup {
                    Some(lookup) => handout_links::table
                        .filter(handout_links::lookup.eq(lookup))
                        .select(LinkRow::as_select())
                        .first(conn)
                        .optional()?,
                    None => None,
                };
                let link_locked = match &row {
                    Some(r) => {
                        crate::auth::throttle::locked_for(conn, &[&link_throttle_key(r.id)], at)?
                            .is_some()
                    }
                    None => false,
                };
                Ok((address_locked, row, link_locked))
            })
            .await?
    };
    // A locked address may still open a link whose id exists (behind a
    // shared address, one guesser must not shut out every client); a link
    // locked by wrong secrets is not tried at all.
    let (Some(code), Some(row)) = (code, row) else {
        return if address_locked {
            note_page(Note::TooMany, None)
        } else {
            wrong_code(&state, address, None).await
        };
    };
    if link_locked {
        return note_page(Note::NotFound, None);
    }
    let key = match key_of(&state, &code).await {
        Ok(key) => key,
        Err(AppError::Unavailable(_)) => return note_page(Note::Busy, None),
        Err(err) => return Err(err),
    };
    if open(&key, &verifier_place(row.id), &row.verifier).is_err() {
        // The id exists but the secret is wrong: a guess, like any other.
        return wrong_code(&state, address, Some(row.id)).await;
    }
    if let Some(why) = row.ended(now()) {
        if row.ended_at.is_none() {
            let id = row.id;
            state.db(move |conn| Ok(end(conn, id, why, now())?)).await?;
        }
        return note_page(Note::Ended, Some(&row.lang));
    }
    let Ok(plain) = open(&key, &content_place(row.id), &row.content) else {
        // Wiped between reading and opening: it has just ended.
        return note_page(Note::Ended, Some(&row.lang));
    };
    let Ok(content) = serde_json::from_slice::<Content>(&plain) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "a handout link's content did not parse"
        )));
    };
    let (id, given_id, first_opened) = (row.id, row.given_id, row.first_opened_at);
    let counted = state
        .db(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let at = now();
                let n = diesel::update(
                    handout_links::table
                        .find(id)
                        .filter(handout_links::ended_at.is_null())
                        .filter(handout_links::opens.lt(handout_links::max_opens))
                        .filter(handout_links::expires_at.gt(at)),
                )
                .set((
                    handout_links::opens.eq(handout_links::opens + 1),
                    handout_links::last_opened_at.eq(at),
                    handout_links::first_opened_at.eq(first_opened.or(Some(at))),
                ))
                .execute(conn)?;
                if n == 1 {
                    // The last open it allows ends it now, wiping the
                    // sealed handout, rather than at the next visit.
                    diesel::update(
                        handout_links::table
                            .find(id)
                            .filter(handout_links::ended_at.is_null())
                            .filter(handout_links::opens.ge(handout_links::max_opens)),
                    )
                    .set((
                        handout_links::ended_at.eq(at),
                        handout_links::ended_why.eq(Ended::UsedUp.key()),
                        handout_links::content.eq(Vec::<u8>::new()),
                    ))
                    .execute(conn)?;
                    let owner: Option<TherapistId> = crate::db::schema::handouts_given::table
                        .find(given_id)
                        .select(crate::db::schema::handouts_given::therapist_id)
                        .first(conn)
                        .optional()?;
                    audit::record(conn, owner, Action::HandoutLinkOpen, Some(given_id.0))?;
                }
                Ok::<_, diesel::result::Error>(n == 1)
            })
            .map_err(AppError::from)
        })
        .await?;
    if !counted {
        // It ended between reading it and counting this open.
        return note_page(Note::Ended, Some(&row.lang));
    }
    let words = crate::lang::words(&content.lang);
    render(
        StatusCode::OK,
        &LinkPage {
            version: crate::web::assets::VERSION,
            lang: content.lang,
            words,
            title: content.title,
            for_name: content.for_name,
            personal_note: content.personal_note.trim_end().to_owned(),
            body_html: super::render::to_html(&content.body),
        },
    )
}

/// End and wipe every link whose time has run out (run every few minutes,
/// so an expired handout does not wait for a visit to be wiped). Returns
/// how many.
pub fn sweep(conn: &mut DbConn, at: i64) -> QueryResult<usize> {
    diesel::update(
        handout_links::table
            .filter(handout_links::ended_at.is_null())
            .filter(handout_links::expires_at.le(at)),
    )
    .set((
        handout_links::ended_at.eq(at),
        handout_links::ended_why.eq(Ended::Expired.key()),
        handout_links::content.eq(Vec::<u8>::new()),
    ))
    .execute(conn)
}

/// Sweep expired links now and every ten minutes.
pub async fn sweep_forever(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        match state.db(|conn| Ok(sweep(conn, now())?)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(links = n, "ended expired handout links"),
            Err(_) => tracing::warn!("could not sweep expired handout links"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_as_people_type_them() {
        let code = Code::generate();
        let grouped = code.grouped();
        assert_eq!(grouped.len(), 24);
        assert_eq!(grouped.matches('-').count(), 4);
        let typed = grouped.to_lowercase().replace('-', " ");
        let read = Code::parse(&typed).expect("reads");
        assert_eq!(read.grouped(), grouped);
        assert_eq!(read.lookup(), code.lookup());
        // O for 0, I and L for 1.
        let o = Code::parse("0000-1111-2222-3333-4444")
            .expect("test value")
            .grouped();
        assert_eq!(
            Code::parse("oooo-iiii-2222-3333-4444")
                .expect("test value")
                .grouped(),
            o
        );
        assert_eq!(
            Code::parse("OOOO-LLLL-2222-3333-4444")
                .expect("test value")
                .grouped(),
            o
        );
        for bad in [
            "",
            "ABCD",
            "ABCD-EFGH-JKMN-PQRS-TVWXY",
            "ABCD-EFGH-JKMN-PQRS-TVW!",
            "UUUU-EFGH-JKMN-PQRS-TVWX",
        ] {
            assert!(Code::parse(bad).is_none(), "{bad}");
        }
        // Two codes differ.
        assert_ne!(Code::generate().grouped(), grouped);
    }

    #[test]
    fn a_links_key_depends_on_its_secret_and_id() {
        let code = Code::parse("ABCD-EFGH-JKMN-PQRS-TVWX").expect("test value");
        let other_secret = Code::parse("ABCD-EFGH-JKMN-PQRS-TVWY").expect("test value");
        let place = content_place(HandoutLinkId(7));
        let sealed = seal(&code.key().expect("test value"), &place, b"hello");
        assert_eq!(
            open(&code.key().expect("test value"), &place, &sealed)
                .expect("test value")
                .as_slice(),
            b"hello"
        );
        assert!(open(&other_secret.key().expect("test value"), &place, &sealed).is_err());
        assert!(
            open(
                &code.key().expect("test value"),
                &content_place(HandoutLinkId(8)),
                &sealed
            )
            .is_err()
        );
    }
}
