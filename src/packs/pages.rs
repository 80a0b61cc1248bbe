//! The administrator's pack pages: trusting a publisher's key on
//! `/practice` (paste it, see its key id, confirm), and `/practice/packs`,
//! which lists every pack with its state and any refusal reason, takes
//! uploads (a `.tar` of the pack) and removes uploaded packs.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::files::{self, Refusal};
use super::manifest::{self, TrustedKey};
use super::registry::{self, Source};
use super::store;
use crate::audit::{self, Action};
use crate::auth::account::Role;
use crate::auth::extract::{Signed, SignedForm};
use crate::auth::layout_for;
use crate::auth::session::CurrentSession;
use crate::handouts::Library;
use crate::ids::{PackUploadId, TherapistId};
use crate::web::form::FormLimit;
use crate::web::{AppError, AppState, Layout, render, see_other};

/// The largest upload: a pack at its limit, plus the archive's headers.
const UPLOAD_LIMIT: usize = files::MAX_PACK as usize + 2 * 1024 * 1024;

/// Register the pack routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/practice/packs", web::get().to(list))
        .route("/practice/packs", web::post().to(upload))
        .route("/practice/packs/{id}/remove", web::post().to(remove))
        .service(
            web::resource("/practice/pack-keys")
                .app_data(FormLimit(16 * 1024))
                .route(web::post().to(preview_key)),
        )
        .route("/practice/pack-keys/confirm", web::post().to(trust_key))
        .route(
            "/practice/pack-keys/{key}/remove",
            web::post().to(remove_key),
        );
}

fn admin_only(session: &CurrentSession) -> Result<(), AppError> {
    if session.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "Only the practice's administrator can manage packs.",
        ))
    }
}

/// The audit subject for a key: its id's first eight bytes as a number.
pub fn key_subject(key_id: &str) -> i64 {
    u64::from_str_radix(key_id.get(..16).unwrap_or(key_id), 16).unwrap_or(0) as i64
}

/// Load the packs again whenever another app server changed them (every
/// 15 seconds; the server that made a change loads at once).
pub async fn watch(state: web::Data<AppState>, library: web::Data<Library>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let lib = library.clone();
        if let Err(err) = state
            .db(move |conn| Ok(lib.packs.refresh_if_changed(conn)?))
            .await
        {
            tracing::warn!(error = %err, "could not check for changed packs");
        }
    }
}

/// A trusted key, as the practice page lists it.
pub struct KeyRow {
    /// As minisign prints it.
    pub key_id: String,
    /// "by Dr Ada on 3 Mar 2026", or "from the command line on …".
    pub trusted: String,
}

/// The practice page's list of trusted keys.
pub fn key_rows(
    keys: &[store::StoredKey],
    names: &std::collections::HashMap<TherapistId, String>,
    session: &CurrentSession,
) -> Vec<KeyRow> {
    keys.iter()
        .map(|k| KeyRow {
            key_id: k.key_id.clone(),
            trusted: format!(
                "{} on {}",
                k.trusted_by
                    .and_then(|id| names.get(&id).cloned())
                    .map_or_else(|| "from the command line".to_owned(), |n| format!("by {n}")),
                session.dates.moment(k.trusted_at)
            ),
        })
        .collect()
}

/// One pack as listed.
struct PackRow {
    name: String,
    id: String,
    version: String,
    publisher: String,
    licence: String,
    description: String,
    source: String,
    signed_by: Option<String>,
    contents: String,
    refusal: Option<Refusal>,
    upload: Option<PackUploadId>,
    templates: Vec<String>,
    tags: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "packs/list.html")]
struct PacksPage {
    layout: Layout,
    csrf_token: String,
    packs: Vec<PackRow>,
    keys: usize,
    refused: Option<Refusal>,
    loaded: Option<String>,
    limit_mb: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    loaded: String,
}

async fn packs_page(
    state: &AppState,
    library: &Library,
    session: &CurrentSession,
    refused: Option<Refusal>,
    loaded: Option<String>,
) -> Result<PacksPage, AppError> {
    let (accounts, keys) = state
        .db(|conn| Ok((crate::auth::account::all(conn)?, store::keys(conn)?.len())))
        .await?;
    let name_of = |id: TherapistId| {
        accounts.iter().find(|t| t.id == id).map_or_else(
            || "a former colleague".to_owned(),
            |t| t.display_name.clone(),
        )
    };
    let set = library.packs.current();
    let packs = set
        .entries
        .iter()
        .map(|e| {
            let m = e.manifest.as_ref();
            let source = match &e.source {
                Source::Builtin => "Built in".to_owned(),
                Source::Folder(name) => format!("Packs folder: {name}"),
                Source::Upload { by, at, .. } => format!(
                    "Uploaded by {} on {}",
                    name_of(*by),
                    session.dates.moment(*at)
                ),
            };
            let (contents, templates, tags) = match &e.state {
                Ok(c) => (
                    c.summary(),
                    c.templates.iter().map(|t| t.name.clone()).collect(),
                    c.tags.iter().map(|t| t.label.clone()).collect(),
                ),
                Err(_) => (String::new(), vec![], vec![]),
            };
            PackRow {
                name: m.map_or_else(
                    || "A pack that could not be read".to_owned(),
                    |m| m.name.clone(),
                ),
                id: m.map(|m| m.id.clone()).unwrap_or_default(),
                version: m.map(|m| m.version.to_string()).unwrap_or_default(),
                publisher: m.map(|m| m.publisher.clone()).unwrap_or_default(),
                licence: m.map(|m| m.licence.clone()).unwrap_or_default(),
                description: m.map(|m| m.description.clone()).unwrap_or_default(),
                source,
                signed_by: e.key_id.clone(),
                contents,
                refusal: e.state.as_ref().err().cloned(),
                upload: match e.source {
                    Source::Upload { id, .. } => Some(id),
                    _ => None,
                },
                templates,
                tags,
            }
        })
        .collect();
    Ok(PacksPage {
        layout: layout_for(session, "practice"),
        csrf_token: session.csrf_token.clone(),
        packs,
        keys,
        refused,
        loaded,
        limit_mb: files::MAX_PACK / (1024 * 1024),
    })
}

/// `GET /practice/packs`.
async fn list(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    Signed(session): Signed,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    admin_only(&session)?;
    let loaded = Some(query.into_inner().loaded).filter(|l| !l.is_empty());
    let page = packs_page(&state, &library, &session, None, loaded).await?;
    render(StatusCode::OK, &page)
}

/// `POST /practice/packs`: a `.tar` of a pack. Checked whole before
/// anything is stored; a refusal names the file and the reason.
async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    library: web::Data<Library>,
    Signed(session): Signed,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    // Before the body is read: only an administrator may send one this big.
    admin_only(&session)?;
    let parts = crate::web::form::read_multipart(&req, payload, UPLOAD_LIMIT).await?;
    let (mut csrf, mut file) = (None, None);
    for (name, bytes) in parts {
        match name.as_str() {
            "csrf_token" => csrf = String::from_utf8(bytes).ok(),
            "pack" => file = Some(bytes),
            _ => {}
        }
    }
    crate::auth::extract::verify_csrf(&session, csrf.as_deref())?;
    admin_only(&session)?;
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        let refusal = Refusal::new(
            "the upload",
            "no file was chosen: choose the pack's .tar file",
        );
        return refuse(&state, &library, &session, refusal).await;
    };
    let files = match files::read_tar(&file) {
        Ok(files) => files,
        Err(refusal) => return refuse(&state, &library, &session, refusal).await,
    };
    let by = session.therapist;
    let lib = library.clone();
    let outcome = state
        .db(move |conn| {
            let keys: Vec<TrustedKey> = store::keys(conn)?
                .iter()
                .filter_map(|k| manifest::trusted(&k.key_id, &k.public_key))
                .collect();
            let (m, _, state) = registry::check(&files, &keys);
            let contents = match state {
                Ok(c) => c,
                Err(r) => return Ok(Err(r)),
            };
            let Some(m) = m else {
                return Ok(Err(Refusal::new(files::MANIFEST, "it could not be read")));
            };
            let current = lib.packs.current();
            let clash = current.entries.iter().find(|e| {
                e.loaded()
                    && e.manifest.as_ref().is_some_and(|o| o.id == m.id)
                    && !matches!(e.source, Source::Upload { .. })
            });
            if clash.is_some() {
                return Ok(Err(Refusal::new(
                    files::MANIFEST,
                    format!("its id {} is already used by a built-in or packs-folder pack", m.id),
                )));
            }
            if let Some(v) = store::uploaded_version(conn, &m.id)?
                && v >= m.version
            {
                return Ok(Err(Refusal::new(
                    files::MANIFEST,
                    format!(
                        "version {} of this pack is already loaded; upload a higher version (this one is {})",
                        v, m.version
                    ),
                )));
            }
            let others: Vec<String> = current
                .entries
                .iter()
                .filter(|e| e.manifest.as_ref().is_none_or(|o| o.id != m.id))
                .filter_map(|e| e.state.as_ref().ok())
                .flat_map(|c| c.handouts.iter().map(|h| h.slug.clone()))
                .chain(lib.fixed_local_slugs())
                .chain(
                    crate::handouts::practice::all(conn)?
                        .into_iter()
                        .map(|h| h.slug),
                )
                .collect();
            if let Some(h) = contents.handouts.iter().find(|h| others.contains(&h.slug)) {
                let file = contents
                    .handout_files
                    .get(&h.slug)
                    .cloned()
                    .unwrap_or_default();
                return Ok(Err(Refusal::new(
                    file,
                    "its slug is already used by another handout of the practice",
                )));
            }
            let id = store::save_upload(conn, &m.id, m.version, &files, by)?;
            audit::record(conn, Some(by), Action::PackUpload, Some(id.0))?;
            lib.packs.refresh(conn)?;
            Ok(Ok(m.id))
        })
        .await?;
    match outcome {
        Ok(id) => Ok(see_other(&format!("/practice/packs?loaded={id}"))),
        Err(refusal) => refuse(&state, &library, &session, refusal).await,
    }
}

/// The packs page with a refusal at its top: 422, nothing stored.
async fn refuse(
    state: &AppState,
    library: &Library,
    session: &CurrentSession,
    refusal: Refusal,
) -> Result<HttpResponse, AppError> {
    let by = session.therapist;
    state
        .db(move |conn| Ok(audit::record(conn, Some(by), Action::PackRefused, None)?))
        .await?;
    let page = packs_page(state, library, session, Some(refusal), None).await?;
    render(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// `POST /practice/packs/{id}/remove`: notes written with its templates and
/// tags keep their words.
async fn remove(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    path: web::Path<String>,
    form: SignedForm<crate::web::form::NoFields>,
) -> Result<HttpResponse, AppError> {
    admin_only(&form.session)?;
    let id: PackUploadId = path.parse().map_err(|()| AppError::not_found())?;
    let by = form.session.therapist;
    let removed = change(
        &state,
        &library,
        by,
        Action::PackRemove,
        id.0,
        move |conn| store::remove_upload(conn, id),
    )
    .await?;
    if !removed {
        return Err(AppError::not_found());
    }
    Ok(see_other("/practice/packs"))
}

/// Make a change to the packs tables; if it changed anything, audit it
/// and load the packs again at once (other servers follow within 15 s).
async fn change(
    state: &AppState,
    library: &web::Data<Library>,
    by: TherapistId,
    action: Action,
    subject: i64,
    f: impl FnOnce(&mut crate::db::DbConn) -> diesel::QueryResult<bool> + Send + 'static,
) -> Result<bool, AppError> {
    let lib = library.clone();
    state
        .db(move |conn| {
            let changed = f(conn)?;
            if changed {
                audit::record(conn, Some(by), action, Some(subject))?;
                lib.packs.refresh(conn)?;
            }
            Ok(changed)
        })
        .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct KeyForm {
    public_key: String,
    key_id: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "packs/trust.html")]
struct TrustPage {
    layout: Layout,
    csrf_token: String,
    public_key: String,
    key_id: Option<String>,
    error: Option<String>,
}

/// `POST /practice/pack-keys`: show the pasted key's id to confirm.
async fn preview_key(form: SignedForm<KeyForm>) -> Result<HttpResponse, AppError> {
    let session = &form.session;
    admin_only(session)?;
    let (status, key_id, error, public_key) =
        match manifest::parse_public_key(&form.form.public_key) {
            Ok((id, line)) => (StatusCode::OK, Some(id), None, line),
            Err(why) => (
                StatusCode::BAD_REQUEST,
                None,
                Some(format!("That is not a key Tearsheet can use: {why}.")),
                String::new(),
            ),
        };
    render(
        status,
        &TrustPage {
            layout: layout_for(session, "practice"),
            csrf_token: session.csrf_token.clone(),
            public_key,
            key_id,
            error,
        },
    )
}

/// `POST /practice/pack-keys/confirm`: trust the key whose id was shown.
async fn trust_key(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    form: SignedForm<KeyForm>,
) -> Result<HttpResponse, AppError> {
    admin_only(&form.session)?;
    let (key_id, line) = manifest::parse_public_key(&form.form.public_key)
        .map_err(|_| AppError::bad_request("That is not a minisign public key. Paste it again."))?;
    if key_id != form.form.key_id {
        return Err(AppError::conflict(
            "The key is not the one whose id was shown. Paste it again and check its id.",
        ));
    }
    let by = form.session.therapist;
    let subject = key_subject(&key_id);
    change(
        &state,
        &library,
        by,
        Action::PackKeyTrust,
        subject,
        move |conn| store::trust(conn, &key_id, &line, Some(by)),
    )
    .await?;
    Ok(see_other("/practice/packs"))
}

/// `POST /practice/pack-keys/{key}/remove`: packs it signed stop loading.
async fn remove_key(
    state: web::Data<AppState>,
    library: web::Data<Library>,
    path: web::Path<String>,
    form: SignedForm<crate::web::form::NoFields>,
) -> Result<HttpResponse, AppError> {
    admin_only(&form.session)?;
    let key_id = path.into_inner();
    let subject = key_subject(&key_id);
    let removed = change(
        &state,
        &library,
        form.session.therapist,
        Action::PackKeyRemove,
        subject,
        move |conn| store::untrust(conn, &key_id),
    )
    .await?;
    if !removed {
        return Err(AppError::not_found());
    }
    Ok(see_other("/practice#packs"))
}
