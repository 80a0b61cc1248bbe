//! `TestApp`: the real application on its own fresh database, on SQLite or
//! PostgreSQL, listening on a random loopback port; and `Agent`, a browser
//! stand-in for HTTP-level tests with its own cookie jar.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{self, HeaderMap};
use tearsheet::config::Config;
use tearsheet::db::{self, DatabaseUrl, DbPool, PoolOptions};
use tearsheet::startup::Application;

use super::pg;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    pub database: DatabaseUrl,
    /// The default visitor.
    pub agent: Agent,
    /// Holds the SQLite files until the test ends.
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TestApp {
    type Target = Agent;
    fn deref(&self) -> &Agent {
        &self.agent
    }
}

/// A page as a browser received it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    /// The `Location` without its query, such as a given handout's path.
    pub fn location_path(&self) -> String {
        self.location()
            .expect("location")
            .split('?')
            .next()
            .expect("path")
            .to_owned()
    }

    /// The value of the first `csrf_token` hidden field.
    pub fn csrf_token(&self) -> String {
        hidden_value(&self.body, "csrf_token").expect("page has a csrf_token field")
    }

    /// The path segment after the first `prefix` in the page, such as the
    /// id in the first `/settings/sessions/ID/end`.
    pub fn segment_after(&self, prefix: &str) -> String {
        self.body
            .split(prefix)
            .nth(1)
            .and_then(|s| s.split('/').next())
            .unwrap_or_else(|| panic!("no {prefix} in the page"))
            .to_owned()
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    #[track_caller]
    pub fn assert_contains(&self, text: &str) {
        assert!(
            self.body.contains(text),
            "expected {text:?} in page (status {}):\n{}",
            self.status,
            self.body
        );
    }
}

pub fn hidden_value(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')?;
    Some(body[start..start + end].to_owned())
}

/// A visitor with its own cookies.
pub struct Agent {
    pub base: String,
    client: reqwest::Client,
    jar: Mutex<BTreeMap<String, String>>,
}

impl Agent {
    pub fn new(base: &str) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        Self {
            base: base.to_owned(),
            client,
            jar: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().expect("jar").get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar
            .lock()
            .expect("jar")
            .insert(name.to_owned(), value.to_owned());
    }

    fn cookie_header(&self) -> Option<String> {
        let jar = self.jar.lock().expect("jar");
        (!jar.is_empty()).then(|| {
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Page {
        let req = match self.cookie_header() {
            Some(c) => req.header(header::COOKIE, c),
            None => req,
        };
        let res = req.send().await.expect("request reaches the server");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.text().await.expect("body");
        let page = Page {
            status,
            headers,
            body,
        };
        let mut jar = self.jar.lock().expect("jar");
        for cookie in page.set_cookies() {
            let (pair, attrs) = cookie.split_once(';').unwrap_or((&cookie, ""));
            let (name, value) = pair.split_once('=').expect("cookie has a value");
            if attrs.to_ascii_lowercase().contains("max-age=0") {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        page
    }

    pub async fn get(&self, path: &str) -> Page {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut req = self.client.get(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }

    /// POST a form as a browser would.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded_encode(fields);
        self.post_raw(
            path,
            "application/x-www-form-urlencoded",
            body.into_bytes(),
            &[],
        )
        .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header(header::CONTENT_TYPE, content_type)
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }

    /// Fetch `form_page`, then post `fields` plus its CSRF token to `action`.
    pub async fn submit(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.get(form_page).await.csrf_token();
        let mut all = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post_form(action, &all).await
    }

    /// Press a button on `page` that posts nothing but the page's CSRF
    /// token to `action` (disable, delete, copy, sign out...).
    pub async fn press(&self, page: &Page, action: &str) -> Page {
        self.post_form(action, &[("csrf_token", &page.csrf_token())])
            .await
    }
}

pub fn serde_urlencoded_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A therapist made through the setup pages.
pub struct Account {
    pub name: String,
    pub email: String,
    pub password: String,
    pub recovery_code: String,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Another app server on an existing database (several servers, one
    /// PostgreSQL; or a server started on a restored copy).
    pub async fn spawn_on(database: DatabaseUrl) -> Self {
        Self::start(database, tempfile::tempdir().expect("temp dir"), |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_prepared(backend, adjust, |_| {}).await
    }

    /// The app on a database that first holds `tests/fixtures/<name>`
    /// (`.sqlite.sql` or `.pg.sql`): data written by an older Tearsheet.
    pub async fn spawn_from_fixture(backend: Backend, name: &str) -> Self {
        let file = match backend {
            Backend::Sqlite => format!("{name}.sqlite.sql"),
            Backend::Postgres => format!("{name}.pg.sql"),
        };
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(file);
        let sql = std::fs::read_to_string(&path).expect("fixture");
        Self::spawn_prepared(
            backend,
            |_| {},
            move |database| {
                use diesel::Connection as _;
                use diesel::connection::SimpleConnection as _;
                match database {
                    DatabaseUrl::Sqlite(path) => {
                        std::fs::create_dir_all(path.parent().expect("dir")).expect("data dir");
                        let mut conn =
                            diesel::SqliteConnection::establish(path.to_str().expect("utf-8 path"))
                                .expect("open the fixture database");
                        conn.batch_execute(&sql).expect("load the fixture");
                    }
                    DatabaseUrl::Postgres(url) => {
                        let mut conn =
                            diesel::PgConnection::establish(url).expect("connect to the database");
                        conn.batch_execute(&sql).expect("load the fixture");
                    }
                }
            },
        )
        .await
    }

    async fn spawn_prepared(
        backend: Backend,
        adjust: impl FnOnce(&mut Config),
        prepare: impl FnOnce(&DatabaseUrl),
    ) -> Self {
        // The app's log lines appear with a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn")
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().expect("temp dir");
        let database = match backend {
            Backend::Sqlite => DatabaseUrl::Sqlite(dir.path().join("data").join("tearsheet.db")),
            Backend::Postgres => DatabaseUrl::Postgres(pg::cluster().fresh_database()),
        };
        prepare(&database);
        Self::start(database, dir, adjust).await
    }

    /// The app on `database` with two workers on a random loopback port,
    /// its configuration `adjust`ed; `dir` is kept until the test ends.
    async fn start(
        database: DatabaseUrl,
        dir: tempfile::TempDir,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::new(database.clone());
        config.bind = "127.0.0.1:0".into();
        config.workers = 2;
        adjust(&mut config);
        let app = Application::build(config).await.expect("the app starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let agent = Agent::new(&address);
        Self {
            address,
            database,
            agent,
            _dir: dir,
        }
    }

    /// Another visitor (another browser) on the same app.
    pub fn new_agent(&self) -> Agent {
        Agent::new(&self.address)
    }

    /// A direct pool on the app's database, for checking stored state.
    pub fn pool(&self) -> DbPool {
        db::connect(
            &self.database,
            PoolOptions {
                max_size: 2,
                timeout: Duration::from_secs(10),
            },
        )
        .expect("pool")
    }

    /// The SQLite files (main, -wal, -shm) that exist now.
    pub fn sqlite_files(&self) -> Vec<PathBuf> {
        let DatabaseUrl::Sqlite(path) = &self.database else {
            return vec![];
        };
        ["", "-wal", "-shm"]
            .iter()
            .map(|suffix| PathBuf::from(format!("{}{suffix}", path.display())))
            .filter(|p| p.exists())
            .collect()
    }

    /// Set up the practice through the pages, confirm the recovery code, and
    /// stay signed in as the administrator.
    pub async fn set_up(&self) -> Account {
        let account = Account {
            name: "Dr Ada Lovelace".into(),
            email: "ada@example.org".into(),
            password: "correct horse battery staple".into(),
            recovery_code: String::new(),
        };
        let page = self
            .submit_setup(
                &account.name,
                &account.email,
                &account.password,
                &[("practice_name", "Riverside Counselling")],
            )
            .await;
        assert_eq!(page.status, 303, "setup redirects: {}", page.body);
        assert_eq!(page.location(), Some("/account/recovery-code"));
        let code_page = self.get("/account/recovery-code").await;
        assert_eq!(code_page.status, 200);
        let recovery_code = recovery_code_from(&code_page.body);
        let done = self.confirm_recovery_code(&code_page).await;
        assert_eq!(done.status, 303, "{}", done.body);
        Account {
            recovery_code,
            ..account
        }
    }
}

/// Read the grouped recovery code off its page.
pub fn recovery_code_from(body: &str) -> String {
    codes_listed(body).join("-")
}

/// Every `<li><code>` of a page: the groups of a recovery code, or the
/// backup codes of two-factor sign-in.
pub fn codes_listed(body: &str) -> Vec<String> {
    body.split("<li><code>")
        .skip(1)
        .filter_map(|part| part.split("</code>").next())
        .map(str::to_owned)
        .collect()
}

/// Seconds since the Unix epoch, as an authenticator app counts time.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

impl Agent {
    /// Send the setup form (with its pre-session token) as the practice's
    /// first therapist, with `more` fields such as the practice's name.
    pub async fn submit_setup(
        &self,
        name: &str,
        email: &str,
        password: &str,
        more: &[(&str, &str)],
    ) -> Page {
        let mut fields = vec![
            ("display_name", name),
            ("email", email),
            ("password", password),
            ("password_confirm", password),
        ];
        fields.extend_from_slice(more);
        self.submit("/setup", "/setup", &fields).await
    }

    /// Tick "I have stored it" on the recovery-code page `code_page`.
    pub async fn confirm_recovery_code(&self, code_page: &Page) -> Page {
        self.post_form(
            "/account/recovery-code",
            &[("stored", "yes"), ("csrf_token", &code_page.csrf_token())],
        )
        .await
    }

    /// Sign in through the sign-in page.
    pub async fn log_in(&self, email: &str, password: &str) -> Page {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// Sign out with the CSRF token from a signed-in page.
    pub async fn log_out(&self) -> Page {
        self.press(&self.get("/clients").await, "/logout").await
    }
}

impl TestApp {
    /// Another therapist in the practice, made with the library's own
    /// enrolment (the invite pages arrive with the accounts issue).
    pub async fn add_therapist(&self, email: &str, password: &str) {
        let pool = self.pool();
        let (email, password) = (email.to_owned(), password.to_owned());
        tokio::task::spawn_blocking(move || {
            use tearsheet::auth::account::{Enrolment, Role};
            let enrolment = Enrolment::new(
                &email,
                "Dr Second",
                Role::Therapist,
                &password,
                tearsheet::crypto::password::KdfParams::DEFAULT,
            )
            .expect("enrol");
            let mut conn = pool.get().expect("conn");
            enrolment
                .insert(&mut conn, tearsheet::db::now())
                .expect("insert therapist");
        })
        .await
        .expect("blocking");
    }

    /// Count audit events with this action.
    /// Enrol a colleague in the practice and sign them in; their visitor.
    pub async fn colleague(&self, email: &str, password: &str) -> Agent {
        self.add_therapist(email, password).await;
        let agent = self.new_agent();
        let signed_in = agent.log_in(email, password).await;
        assert_eq!(signed_in.status, 303, "{}", signed_in.body);
        agent
    }

    /// Make every session look idle for a day, as the idle timeout would
    /// find it: the next request ends it and asks to sign in again.
    pub fn age_all_sessions(&self) {
        use diesel::prelude::*;
        use tearsheet::db::schema::sessions;
        let mut conn = self.pool().get().expect("conn");
        diesel::update(sessions::table)
            .set(sessions::last_seen_at.eq(sessions::last_seen_at - 86_400))
            .execute(&mut *conn)
            .expect("age sessions");
    }

    /// The data format of the (first) therapist's sealed data, which
    /// `tearsheet::upgrade` moves after a sign-in.
    pub fn data_format(&self) -> i32 {
        use diesel::prelude::*;
        use tearsheet::db::schema::therapists;
        therapists::table
            .select(therapists::data_format)
            .first(&mut *self.pool().get().expect("conn"))
            .expect("format")
    }

    pub fn audit_count(&self, action: &str) -> i64 {
        use diesel::prelude::*;
        use tearsheet::db::schema::audit_events;
        let mut conn = self.pool().get().expect("conn");
        audit_events::table
            .filter(audit_events::action.eq(action))
            .count()
            .get_result(&mut *conn)
            .expect("count")
    }
}

impl Agent {
    /// Add a client through the form; returns the client's page path.
    pub async fn add_client(&self, full_name: &str, preferred: &str) -> String {
        let page = self
            .submit(
                "/clients/new",
                "/clients",
                &[("full_name", full_name), ("preferred_name", preferred)],
            )
            .await;
        assert_eq!(page.status, 303, "client saved: {}", page.body);
        page.location().expect("location").to_owned()
    }

    /// Add a client whose preferred language is `language` (a BCP 47
    /// tag); returns the client's page path.
    pub async fn add_client_speaking(
        &self,
        full_name: &str,
        preferred: &str,
        language: &str,
    ) -> String {
        let page = self
            .submit(
                "/clients/new",
                "/clients",
                &[
                    ("full_name", full_name),
                    ("preferred_name", preferred),
                    ("language", language),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "client saved: {}", page.body);
        page.location().expect("location").to_owned()
    }

    /// Send a client's delete form with `confirm` typed in its box.
    pub async fn delete_client(&self, client_path: &str, confirm: &str) -> Page {
        let form = format!("{client_path}/delete");
        self.submit(&form, &form, &[("confirm", confirm)]).await
    }

    /// Write a draft note for a client; returns the note's path. Every
    /// SOAP section has a plain default (signing needs them all); `fields`
    /// replace them.
    pub async fn add_note(&self, client_path: &str, fields: &[(&str, &str)]) -> String {
        let mut all = note_form(&[], "soap", &[("intent", "save")]);
        all.extend(NOTE_DEFAULTS);
        for (k, v) in fields {
            all.retain(|(key, _)| key != k || *k == "tag");
            all.push((k, v));
        }
        let page = self
            .submit(
                &format!("{client_path}/notes/new"),
                &format!("{client_path}/notes"),
                &all,
            )
            .await;
        assert_eq!(page.status, 303, "note saved: {}", page.body);
        page.location().expect("location").to_owned()
    }

    /// Sign the draft at `note` (at revision 1) with `token`, a CSRF token
    /// of this visitor's session.
    pub async fn sign_note(&self, note: &str, token: &str) -> Page {
        self.post_form(
            &format!("{note}/sign"),
            &[("csrf_token", token), ("revision", "1")],
        )
        .await
    }

    /// Add an addendum to the signed note at `note`.
    pub async fn add_addendum(&self, note: &str, token: &str, body: &str) -> Page {
        self.post_form(
            &format!("{note}/addenda"),
            &[("csrf_token", token), ("body", body)],
        )
        .await
    }
}

/// What `add_note` writes in each SOAP section unless told otherwise:
/// words no test searches for.
pub const NOTE_DEFAULTS: [(&str, &str); 4] = [
    ("section_subjective", "Spoke about the week."),
    ("section_objective", "Calm and engaged."),
    ("section_assessment", "Steady."),
    ("section_plan", "Continue weekly."),
];

/// A note form's fields as a browser sends them: `before` (the CSRF token,
/// the revision), the session facts `add_note` uses (a 50-minute individual
/// session on Mon 2 Mar 2026) in `format`, then `after` (sections, intent).
pub fn note_form<'a>(
    before: &[(&'a str, &'a str)],
    format: &'a str,
    after: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut fields = before.to_vec();
    fields.extend([
        ("session_date", "2026-03-02"),
        ("duration_minutes", "50"),
        ("session_type", "individual"),
        ("format", format),
    ]);
    fields.extend_from_slice(after);
    fields
}

/// A SOAP note's edit form saving `subjective` over `revision`.
pub fn edit_fields<'a>(
    revision: &'a str,
    subjective: &'a str,
    token: &'a str,
) -> Vec<(&'a str, &'a str)> {
    note_form(
        &[("csrf_token", token), ("revision", revision)],
        "soap",
        &[("section_subjective", subjective), ("intent", "save")],
    )
}

/// The text of a `<textarea name=...>` (unescaped).
pub fn hidden_textarea(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\"");
    let start = body.find(&marker).expect("textarea");
    let open_end = body[start..].find('>').expect("tag end") + start + 1;
    let close = body[open_end..].find("</textarea>").expect("close") + open_end;
    let text = body[open_end..close]
        .strip_prefix('\n')
        .unwrap_or(&body[open_end..close]);
    html_unescape(text)
}

/// Text as it was before the page escaped it.
pub fn html_unescape(s: &str) -> String {
    s.replace("&#10;", "\n")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

/// The `href` of the link whose text starts with `text`.
pub fn link_to(body: &str, text: &str) -> String {
    let at = body
        .find(&format!(">{text}"))
        .unwrap_or_else(|| panic!("no link to {text:?}"));
    let start = body[..at]
        .rfind("href=\"")
        .expect("an href before the text")
        + 6;
    let end = body[start..].find('"').expect("href ends") + start;
    body[start..end].to_owned()
}

/// Every distinct `href` starting with `prefix`, in page order, without a
/// query or fragment.
pub fn links_starting(body: &str, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in body.split("href=\"").skip(1) {
        let href = part.split('"').next().unwrap_or_default();
        let href = href.split(['?', '#']).next().unwrap_or_default();
        if href.starts_with(prefix) && !out.iter().any(|h| h == href) {
            out.push(href.to_owned());
        }
    }
    out
}

/// The hidden fields a page carries, as a browser would send them back.
pub fn carried(body: &str) -> Vec<(String, String)> {
    body.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|part| {
            let (name, rest) = part.split_once("\" value=\"")?;
            let value = rest.split('"').next()?;
            Some((name.to_owned(), html_unescape(value)))
        })
        .collect()
}
