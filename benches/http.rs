//! `cargo bench --bench http`: the release server under concurrent load on
//! the demo caseload, on SQLite and on PostgreSQL.
//!
//! For each backend it builds a fresh demo caseload (60 clients, 10,000
//! notes) with the library's own `demo`, starts the real `tearsheet` binary
//! on loopback, signs in through the sign-in form, and drives keep-alive
//! connections at each scenario for a fixed time. It prints a table, checks
//! the ratio targets of docs/PERFORMANCE.md, and writes everything to
//! `target/bench/http.json`.
//!
//! Then the practice scenario (24 therapists at once) and the growth plot
//! (`docs/growth-<backend>.svg`), described in `practice.rs`.
//!
//! Knobs (environment): `BENCH_PARTS` (`single,practice,growth`),
//! `BENCH_SECONDS` per scenario (10), `BENCH_CONNECTIONS`
//! (16), `BENCH_NOTES` (10000), `BENCH_CLIENTS` (60), `BENCH_BACKENDS`
//! (`sqlite,postgres`), `BENCH_SCENARIOS` (labels such as
//! `save draft,word search`, or `flood`; all by default). The load
//! generator runs in this process on the same machine, so it shares the
//! cores with the server, as a reverse proxy would.

#[allow(dead_code)]
#[path = "../tests/helpers/pg.rs"]
mod pg;

#[path = "../tests/helpers/binary.rs"]
mod binary;

#[path = "http/practice.rs"]
mod practice;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use binary::{Server, free_port};

use serde::Serialize;
use tearsheet::auth::account::{self, Enrolment, Role};
use tearsheet::crypto::password::KdfParams;
use tearsheet::db::{self, DatabaseUrl, PoolOptions};
use tearsheet::notes::model;

const SAMPLE_CLIENT_NOTES: usize = 170;
const FLOOD_CLIENTS: usize = 64;
const OTHER_ACCOUNTS: usize = 8;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Latency summary of one scenario.
#[derive(Serialize, Clone, Default)]
struct Stats {
    requests: usize,
    errors: usize,
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    statuses: BTreeMap<u16, usize>,
    /// The server's resident memory just after, and its peak so far.
    memory_after: Memory,
}

fn summarise(
    mut latencies: Vec<Duration>,
    statuses: BTreeMap<u16, usize>,
    errors: usize,
    elapsed: Duration,
) -> Stats {
    latencies.sort();
    let at = |q: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    Stats {
        requests: latencies.len(),
        errors,
        requests_per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        statuses,
        memory_after: Memory::default(),
    }
}

/// The resident memory of the server now, and its peak so far.
fn memory(server: &Server) -> Memory {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Memory {
        rss_mib: kib("VmRSS:") / 1024.0,
        peak_mib: kib("VmHWM:") / 1024.0,
    }
}

#[derive(Serialize, Clone, Copy, Default)]
struct Memory {
    rss_mib: f64,
    peak_mib: f64,
}

/// A browser-like visitor: one keep-alive connection and a cookie jar.
#[derive(Clone)]
struct Visitor {
    base: String,
    http: reqwest::Client,
    cookies: Arc<std::sync::Mutex<BTreeMap<String, String>>>,
    headers: Vec<(String, String)>,
}

impl Visitor {
    fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(60))
                .build()
                .expect("http client"),
            cookies: Arc::default(),
            headers: Vec::new(),
        }
    }

    /// The same cookies on a connection of its own.
    fn another_connection(&self) -> Self {
        let mut v = Self::new(&self.base);
        v.cookies = Arc::new(std::sync::Mutex::new(
            self.cookies.lock().expect("jar").clone(),
        ));
        v
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<(u16, String), reqwest::Error> {
        self.send_full(req)
            .await
            .map(|(status, body, _)| (status, body))
    }

    /// Status, body and `Location`.
    async fn send_full(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(u16, String, Option<String>), reqwest::Error> {
        let jar = self
            .cookies
            .lock()
            .expect("jar")
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = if jar.is_empty() {
            req
        } else {
            req.header("cookie", jar)
        };
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        for value in res.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                let mut jar = self.cookies.lock().expect("jar");
                if text.to_ascii_lowercase().contains("max-age=0") {
                    jar.remove(name.trim());
                } else {
                    jar.insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        let body = res.text().await?;
        Ok((status, body, location))
    }

    async fn get(&self, path: &str) -> Result<(u16, String), reqwest::Error> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<(u16, String), reqwest::Error> {
        self.post_full(path, fields)
            .await
            .map(|(status, body, _)| (status, body))
    }

    async fn post_full(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<(u16, String, Option<String>), reqwest::Error> {
        let body = serde_urlencoded::to_string(fields).expect("form");
        self.send_full(
            self.http
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }

    /// Write a new draft for `client`; returns its path (`/notes/ID`).
    async fn new_draft(&self, client: i64, csrf: &str) -> String {
        let (_, form) = self
            .get(&format!("/clients/{client}/notes/new"))
            .await
            .expect("note form");
        let fields = form_fields(&form);
        let mut all: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        all.extend([("csrf_token", csrf), ("intent", "save")]);
        let (status, _, location) = self
            .post_full(&format!("/clients/{client}/notes"), &all)
            .await
            .expect("create a draft");
        assert_eq!(status, 303, "draft created");
        location.expect("the new note's address")
    }

    async fn log_in(&self, email: &str, password: &str) -> String {
        let (_, page) = self.get("/login").await.expect("sign-in page");
        let token = hidden(&page, "csrf_token").expect("sign-in form token");
        let mut tries = 0;
        let status = loop {
            let (status, _) = self
                .post(
                    "/login",
                    &[
                        ("email", email),
                        ("password", password),
                        ("csrf_token", &token),
                    ],
                )
                .await
                .expect("sign in");
            // Busy (every sign-in permit taken, as when a whole practice
            // signs in at once): try again shortly, as a person would.
            if status != 503 || tries == 100 {
                break status;
            }
            tries += 1;
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        assert_eq!(status, 303, "the demo therapist signs in");
        let (_, clients) = self.get("/clients").await.expect("clients");
        hidden(&clients, "csrf_token").expect("session token")
    }
}

/// The `value` of the first input named `name` in a page.
fn hidden(body: &str, name: &str) -> Option<String> {
    let rest = &body[body.find(&format!("name=\"{name}\""))?..];
    let rest = &rest[rest.find("value=\"")? + "value=\"".len()..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// What one request of a scenario is.
#[derive(Clone)]
enum Step {
    Get(String),
    /// Save the connection's own draft note of this client again and again.
    SaveDraft {
        client: i64,
        csrf: String,
    },
}

/// What one connection counted: latencies, statuses, errors.
type Tally = (Vec<Duration>, BTreeMap<u16, usize>, usize);

/// Merge what each connection counted.
async fn gather(tasks: Vec<tokio::task::JoinHandle<Tally>>) -> Tally {
    let mut all: Tally = Default::default();
    for t in tasks {
        let (latencies, statuses, errors) = t.await.expect("load task");
        all.0.extend(latencies);
        for (k, n) in statuses {
            *all.1.entry(k).or_insert(0) += n;
        }
        all.2 += errors;
    }
    all
}

/// Drive `connections` keep-alive connections at `step` for `seconds`.
async fn drive(
    visitor: &Visitor,
    step: Step,
    expect: u16,
    connections: usize,
    seconds: f64,
) -> Stats {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let v = visitor.another_connection();
        let step = step.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut statuses = BTreeMap::new();
            let mut errors = 0;
            let mut revision = 0;
            let mut fields = Vec::new();
            let mut note = String::new();
            if let Step::SaveDraft { client, csrf } = &step {
                // Each connection writes and then keeps saving its own draft,
                // as one therapist saves one note.
                note = v.new_draft(*client, csrf).await;
                let (_, form) = v.get(&format!("{note}/edit")).await.expect("edit form");
                revision = hidden(&form, "revision")
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(1);
                fields = form_fields(&form);
            }
            while Instant::now() < deadline {
                let t = Instant::now();
                let result = match &step {
                    Step::Get(path) => v.get(path).await,
                    Step::SaveDraft { csrf, .. } => {
                        let rev = revision.to_string();
                        let mut all: Vec<(&str, &str)> = fields
                            .iter()
                            .map(|(k, v): &(String, String)| (k.as_str(), v.as_str()))
                            .collect();
                        all.extend([
                            ("csrf_token", csrf.as_str()),
                            ("revision", &rev),
                            ("intent", "save"),
                        ]);
                        v.post(&format!("{note}/edit"), &all).await
                    }
                };
                latencies.push(t.elapsed());
                match result {
                    Ok((status, _)) => {
                        *statuses.entry(status).or_insert(0) += 1;
                        if status != expect {
                            errors += 1;
                            if matches!(step, Step::SaveDraft { .. }) {
                                // Carry on from what is stored, as a
                                // therapist would after an error page.
                                if let Ok((_, form)) = v.get(&format!("{note}/edit")).await {
                                    revision = hidden(&form, "revision")
                                        .and_then(|r| r.parse().ok())
                                        .unwrap_or(revision);
                                }
                            }
                        } else if matches!(step, Step::SaveDraft { .. }) {
                            revision += 1;
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
            (latencies, statuses, errors)
        }));
    }
    let (all, statuses, errors) = gather(tasks).await;
    summarise(all, statuses, errors, started.elapsed())
}

/// The draft form's own fields, as a browser would send them back.
fn form_fields(form: &str) -> Vec<(String, String)> {
    let mut out = vec![
        (
            "session_date".to_owned(),
            hidden(form, "session_date").unwrap_or_default(),
        ),
        (
            "duration_minutes".to_owned(),
            hidden(form, "duration_minutes").unwrap_or_default(),
        ),
        ("session_type".to_owned(), "individual".to_owned()),
        ("format".to_owned(), "soap".to_owned()),
    ];
    for key in ["subjective", "objective", "assessment", "plan"] {
        out.push((
            format!("section_{key}"),
            format!("Benchmark text for {key}: the client talked about the week and what helped."),
        ));
    }
    out.push((
        "key_moment".to_owned(),
        "A quiet, steady session.".to_owned(),
    ));
    out
}

/// The login flood: `FLOOD_CLIENTS` visitors, each from its own address
/// (X-Forwarded-For, believed from the loopback proxy), sending wrong
/// passwords. `email` picks the address each try uses.
async fn flood(base: &str, seconds: f64, label: &'static str, email: EmailChoice) -> Stats {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..FLOOD_CLIENTS {
        let mut v = Visitor::new(base);
        v.headers.push((
            "x-forwarded-for".into(),
            format!(
                "2001:db8:{}:{c:x}::1",
                if label == "accounts" { 1 } else { 2 }
            ),
        ));
        let email = email.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
            let Ok((_, page)) = v.get("/login").await else {
                return (latencies, statuses, 1);
            };
            let token = hidden(&page, "csrf_token").unwrap_or_default();
            let mut n = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                let e = email(c, n);
                let r = v
                    .post(
                        "/login",
                        &[
                            ("email", &e),
                            ("password", "not-the-password"),
                            ("csrf_token", &token),
                        ],
                    )
                    .await;
                latencies.push(t.elapsed());
                *statuses.entry(r.map_or(0, |(s, _)| s)).or_insert(0) += 1;
                n += 1;
            }
            (latencies, statuses, 0)
        }));
    }
    let (all, statuses, mut errors) = gather(tasks).await;
    // Anything but "wrong password" (200 with the form again), "too many
    // tries" (429) or "busy" (503) is an error.
    errors += statuses
        .iter()
        .filter(|(k, _)| !matches!(k, 200 | 429 | 503))
        .map(|(_, n)| n)
        .sum::<usize>();
    summarise(all, statuses, errors, started.elapsed())
}

#[derive(Serialize, Default)]
struct BackendReport {
    backend: String,
    notes: usize,
    clients: usize,
    demo_seconds: f64,
    startup_ms: f64,
    memory_idle: Memory,
    memory_peak_mib: f64,
    decrypt_floor_ms: f64,
    /// XChaCha20-Poly1305 alone, no parsing.
    raw_floor_ms: f64,
    note_text_mib: f64,
    /// The first search of a session, median of three sessions.
    cold_search_ms: f64,
    scenarios: BTreeMap<String, Stats>,
    flood: BTreeMap<String, Stats>,
    practice: Option<practice::PracticeReport>,
    growth: Vec<practice::GrowthPoint>,
}

fn pool(url: &DatabaseUrl) -> db::DbPool {
    db::connect(
        url,
        PoolOptions {
            max_size: 1,
            timeout: Duration::from_secs(10),
        },
    )
    .expect("pool")
}

/// The stored demo caseload, read with the library.
struct Caseload {
    /// The client whose note count is nearest the sample size asked for.
    client: i64,
    client_notes: usize,
    /// Opening every sealed text of every note in one thread and parsing
    /// its sections and tags, best of five.
    floor_ms: f64,
    /// Opening the same sealed bytes (XChaCha20-Poly1305) in one thread
    /// and parsing nothing, best of five: the raw floor.
    raw_floor_ms: f64,
    /// How much text that is.
    text_mib: f64,
}

fn caseload(url: &DatabaseUrl, email: &str, password: &str, sample: usize) -> Caseload {
    let pool = pool(url);
    let mut conn = pool.get().expect("connection");
    let therapist = account::find_by_email(&mut conn, email)
        .expect("query")
        .expect("demo account");
    let dk = therapist
        .unlock(password)
        .expect("kdf")
        .expect("right password");
    let ids: Vec<_> = model::metas(&mut conn, therapist.id)
        .expect("notes")
        .iter()
        .map(|m| m.id)
        .collect();
    let rows = model::rows_by_ids(&mut conn, therapist.id, &ids).expect("notes");
    // The therapist's keyring: each client's key opens on first use.
    let dk = tearsheet::sharing::keys::load(&mut conn, therapist.id, dk, 0).expect("keys");
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for row in &rows {
        *counts.entry(row.client_id.0).or_insert(0) += 1;
    }
    let (client, client_notes) = counts
        .into_iter()
        .min_by_key(|(_, n)| n.abs_diff(sample))
        .expect("the demo has clients");
    let (mut floor_ms, mut bytes) = (f64::MAX, 0);
    for _ in 0..5 {
        let t = Instant::now();
        bytes = 0;
        for row in &rows {
            let c = row.open_text(&dk).expect("every note opens");
            bytes += c.key_moment.len() + c.process_note.len();
            bytes += c.tags.iter().map(String::len).sum::<usize>();
            bytes += c.sections.values().map(String::len).sum::<usize>();
        }
        std::hint::black_box(bytes);
        floor_ms = floor_ms.min(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut raw_floor_ms = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let opened: usize = rows
            .iter()
            .map(|row| row.open_raw(&dk).expect("every note opens"))
            .sum();
        std::hint::black_box(opened);
        raw_floor_ms = raw_floor_ms.min(t.elapsed().as_secs_f64() * 1000.0);
    }
    Caseload {
        client,
        client_notes,
        floor_ms,
        raw_floor_ms,
        text_mib: bytes as f64 / 1024.0 / 1024.0,
    }
}

fn other_accounts(url: &DatabaseUrl) -> Vec<String> {
    let pool = pool(url);
    let mut conn = pool.get().expect("connection");
    (0..OTHER_ACCOUNTS)
        .map(|i| {
            let email = format!("colleague{i}@bench.invalid");
            let e = Enrolment::new(
                &email,
                "A colleague",
                Role::Therapist,
                &format!("the-right-password-{i}"),
                KdfParams::DEFAULT,
            )
            .expect("enrol");
            e.insert(&mut conn, db::now()).expect("insert");
            email
        })
        .collect()
}

/// A login flood's choice of email for visitor `c`'s `n`th try.
type EmailChoice = Arc<dyn Fn(usize, usize) -> String + Send + Sync>;

fn run_backend(name: &str, url: &str, rt: &tokio::runtime::Runtime) -> BackendReport {
    let seconds: f64 = env_or("BENCH_SECONDS", 10.0);
    let connections: usize = env_or("BENCH_CONNECTIONS", 16);
    let n_notes: usize = env_or("BENCH_NOTES", 10_000);
    let n_clients: usize = env_or("BENCH_CLIENTS", 60);
    let parsed = DatabaseUrl::parse(url).expect("database url");
    let email = "demo@bench.invalid";
    let mut report = BackendReport {
        backend: name.to_owned(),
        notes: n_notes,
        clients: n_clients,
        ..Default::default()
    };

    eprintln!("[{name}] making the demo caseload ({n_clients} clients, {n_notes} notes)…");
    let t = Instant::now();
    let made = tearsheet::demo::run(&parsed, email, n_clients, n_notes).expect("demo caseload");
    report.demo_seconds = t.elapsed().as_secs_f64();
    let others = other_accounts(&parsed);
    let Caseload {
        client,
        client_notes,
        floor_ms,
        raw_floor_ms,
        text_mib,
    } = caseload(&parsed, email, &made.password, SAMPLE_CLIENT_NOTES);
    report.decrypt_floor_ms = floor_ms;
    report.raw_floor_ms = raw_floor_ms;
    report.note_text_mib = text_mib;
    eprintln!(
        "[{name}] decrypt floor {:.1} ms (raw XChaCha20-Poly1305 {:.1} ms); sample client has {client_notes} notes",
        report.decrypt_floor_ms, report.raw_floor_ms
    );

    // `serve` on the demo caseload, with the loopback trusted as a proxy so
    // that the login flood can come from many addresses.
    let port = free_port();
    let started = Instant::now();
    let server = Server::start(url, port, |command| {
        command
            .args(["--trusted-proxy", "127.0.0.1", "serve"])
            .stderr(Stdio::inherit());
    });
    report.startup_ms = started.elapsed().as_secs_f64() * 1000.0;
    report.memory_idle = memory(&server);

    rt.block_on(async {
        // The first search of a session, before any other request warms
        // anything: three sessions, the median.
        report.cold_search_ms =
            practice::first_searches(&server.base, email, &made.password, 3).await;
        let visitor = Visitor::new(&server.base);
        let csrf = visitor.log_in(email, &made.password).await;

        let client_page = format!("/clients/{client}");
        let scenarios: Vec<(&str, Step, u16)> = vec![
            ("healthz", Step::Get("/healthz".into()), 200),
            ("login page", Step::Get("/login".into()), 200),
            // The least a signed-in request does: find the session, open
            // its key, and redirect a signed-in visitor away from /login.
            ("signed-in redirect", Step::Get("/login".into()), 303),
            ("clients", Step::Get("/clients".into()), 200),
            ("client page", Step::Get(client_page.clone()), 200),
            ("tag filter", Step::Get("/notes?tag=tearful-breakthrough".into()), 200),
            ("word search", Step::Get("/notes?q=journal".into()), 200),
            (
                "handout print",
                Step::Get(format!("/handouts/crying-in-therapy/print?client={client}&paper=letter&names=on")),
                200,
            ),
            ("save draft", Step::SaveDraft { client, csrf: csrf.clone() }, 303),
        ];
        let only: String = env_or("BENCH_SCENARIOS", String::new());
        for (label, step, expect) in scenarios {
            if !only.is_empty() && !only.split(',').any(|o| o.trim() == label) {
                continue;
            }
            // The sign-in page is for visitors who are not signed in.
            let anonymous = Visitor::new(&server.base);
            let who = if label == "login page" {
                &anonymous
            } else {
                &visitor
            };
            let mut stats = drive(who, step, expect, connections, seconds).await;
            stats.memory_after = memory(&server);
            eprintln!(
                "[{name}] {label:<14} {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}",
                stats.requests_per_second, stats.p50_ms, stats.p99_ms, stats.errors
            );
            report.scenarios.insert(label.to_owned(), stats);
        }

        if !only.is_empty() && !only.split(',').any(|o| o.trim() == "flood") {
            return;
        }
        // The login flood: one therapist on their client page, alone and then
        // while 64 visitors send wrong passwords.
        let page = Step::Get(client_page.clone());
        let alone = drive(&visitor, page.clone(), 200, 1, seconds).await;
        eprintln!("[{name}] client page, one therapist alone: p99 {:.2} ms", alone.p99_ms);
        report.flood.insert("client page alone".into(), alone);
        let floods: Vec<(&'static str, EmailChoice)> = vec![
            ("accounts", Arc::new(move |c, n| others[(c + n) % others.len()].clone())),
            ("spray", Arc::new(|c, n| format!("nobody-{c}-{n}@bench.invalid"))),
        ];
        for (label, email) in floods {
            let base = server.base.clone();
            let flooding = tokio::spawn(async move { flood(&base, seconds, label, email).await });
            tokio::time::sleep(Duration::from_millis(200)).await;
            let during = drive(&visitor, page.clone(), 200, 1, seconds - 0.4).await;
            let flood_stats = flooding.await.expect("flood");
            eprintln!(
                "[{name}] flood ({label}): client page p99 {:.2} ms, errors {}; flood statuses {:?}, flood errors {}",
                during.p99_ms, during.errors, flood_stats.statuses, flood_stats.errors
            );
            report.flood.insert(format!("client page during {label} flood"), during);
            report.flood.insert(format!("{label} flood"), flood_stats);
        }
    });
    report.memory_peak_mib = memory(&server).peak_mib;
    drop(server);
    report
}

#[derive(Serialize)]
struct Target {
    what: String,
    measured: String,
    met: bool,
}

fn targets(reports: &[BackendReport]) -> Vec<Target> {
    let mut out = Vec::new();
    for r in reports {
        if r.notes == 0 {
            // The single-therapist part did not run.
            out.extend(issue_19_targets(r));
            continue;
        }
        let s = |k: &str| r.scenarios.get(k).cloned().unwrap_or_default();
        let b = &r.backend;
        let ratio = s("clients").requests_per_second / s("login page").requests_per_second.max(1.0);
        let floor = s("signed-in redirect").requests_per_second
            / s("login page").requests_per_second.max(1.0);
        out.push(Target {
            what: format!("{b}: /clients throughput ≥ 0.5× /login"),
            measured: format!(
                "{ratio:.2}× (a bare signed-in redirect: {floor:.2}×; /clients is {:.2}× of that)",
                s("clients").requests_per_second
                    / s("signed-in redirect").requests_per_second.max(1.0)
            ),
            met: ratio >= 0.5,
        });
        for k in ["tag filter", "word search"] {
            let x = s(k);
            let ratio = x.p50_ms / r.decrypt_floor_ms;
            out.push(Target {
                what: format!("{b}: {k} p50 ≤ 2× decrypt floor, p99 < 100 ms"),
                measured: format!(
                    "p50 {:.1} ms = {ratio:.2}× floor ({:.1} ms); p99 {:.1} ms",
                    x.p50_ms, r.decrypt_floor_ms, x.p99_ms
                ),
                met: ratio <= 2.0 && x.p99_ms < 100.0,
            });
        }
        let alone = r
            .flood
            .get("client page alone")
            .cloned()
            .unwrap_or_default();
        for label in ["accounts", "spray"] {
            let during = r
                .flood
                .get(&format!("client page during {label} flood"))
                .cloned()
                .unwrap_or_default();
            let f = r
                .flood
                .get(&format!("{label} flood"))
                .cloned()
                .unwrap_or_default();
            let ratio = during.p99_ms / alone.p99_ms.max(0.001);
            out.push(Target {
                what: format!("{b}: client page p99 during the {label} flood ≤ 3× alone; flood gets only 200/429/503"),
                measured: format!(
                    "{:.2} ms vs {:.2} ms = {ratio:.2}×; page errors {}; flood {:?}",
                    during.p99_ms, alone.p99_ms, during.errors, f.statuses
                ),
                met: ratio <= 3.0 && during.errors == 0 && f.errors == 0,
            });
        }
        out.push(Target {
            what: format!("{b}: memory < 40 MB idle, < 200 MB peak"),
            measured: format!(
                "{:.1} MiB idle, {:.1} MiB peak",
                r.memory_idle.rss_mib, r.memory_peak_mib
            ),
            met: r.memory_idle.rss_mib < 40.0 && r.memory_peak_mib < 200.0,
        });
        out.push(Target {
            what: format!("{b}: start to first /healthz < 0.5 s"),
            measured: format!("{:.0} ms", r.startup_ms),
            met: r.startup_ms < 500.0,
        });
        let errors: usize = r.scenarios.values().map(|s| s.errors).sum();
        out.push(Target {
            what: format!("{b}: no scenario errs"),
            measured: format!("{errors} errors"),
            met: errors == 0,
        });
        out.extend(issue_19_targets(r));
    }
    if let (Some(sqlite), Some(pg)) = (
        reports.iter().find(|r| r.backend == "sqlite"),
        reports.iter().find(|r| r.backend == "postgres"),
    ) {
        let rps = |r: &BackendReport| {
            r.scenarios
                .get("client page")
                .map_or(0.0, |s| s.requests_per_second)
        };
        let ratio = rps(pg) / rps(sqlite).max(1.0);
        out.push(Target {
            what: "PostgreSQL client-page throughput ≥ 0.5× SQLite's".into(),
            measured: format!("{ratio:.2}×"),
            met: ratio >= 0.5,
        });
    }
    out
}

/// The targets of issue 19 (practice size), for the parts that ran.
fn issue_19_targets(r: &BackendReport) -> Vec<Target> {
    let b = &r.backend;
    let mut out = Vec::new();
    if r.cold_search_ms > 0.0 {
        let ratio = r.cold_search_ms / r.raw_floor_ms.max(0.001);
        out.push(Target {
            what: format!("{b}: first search of a session ≤ 3× the raw decrypt floor"),
            measured: format!(
                "{:.1} ms = {ratio:.2}× raw floor ({:.1} ms; {:.1} ms with parsing, {:.2}×)",
                r.cold_search_ms,
                r.raw_floor_ms,
                r.decrypt_floor_ms,
                r.cold_search_ms / r.decrypt_floor_ms.max(0.001)
            ),
            met: ratio <= 3.0,
        });
    }
    if let Some(tag) = r.scenarios.get("tag filter") {
        let ratio = tag.p50_ms / r.decrypt_floor_ms.max(0.001);
        out.push(Target {
            what: format!("{b}: warm tag filter p50 ≤ 0.3× decrypt floor"),
            measured: format!("{:.1} ms = {ratio:.2}×", tag.p50_ms),
            met: ratio <= 0.3,
        });
    }
    if let Some(p) = &r.practice {
        let worst = p
            .pages
            .iter()
            .max_by(|a, b| a.1.p99_ms.total_cmp(&b.1.p99_ms));
        let errors: usize = p.pages.values().map(|s| s.errors).sum();
        out.push(Target {
            what: format!(
                "{b}: practice ({} therapists × {} notes, {:.0} s): every page p99 < 100 ms, no errors",
                p.therapists, p.notes_each, p.seconds
            ),
            measured: format!(
                "slowest p99: {} {:.1} ms; all pages p99 {:.1} ms over {} pages; {errors} errors",
                worst.map_or("none", |w| w.0.as_str()),
                worst.map_or(0.0, |w| w.1.p99_ms),
                p.all_pages.p99_ms,
                p.all_pages.requests
            ),
            met: worst.is_some_and(|w| w.1.p99_ms < 100.0) && errors == 0,
        });
        out.push(Target {
            what: format!("{b}: practice peak RSS < 300 MB"),
            measured: format!("{:.1} MiB", p.memory_peak_mib),
            met: p.memory_peak_mib * 1.048_576 < 300.0,
        });
    }
    let at = |n: usize| r.growth.iter().find(|g| g.notes == n);
    if let (Some(ten), Some(last)) = (at(10_000), r.growth.iter().max_by_key(|g| g.notes)) {
        if last.notes > ten.notes {
            let scale = last.notes as f64 / ten.notes as f64;
            let search = last.first_search_ms / ten.first_search_ms.max(0.001) / scale;
            let page = last.client_page_ms / ten.client_page_ms.max(0.001) / scale;
            out.push(Target {
                what: format!(
                    "{b}: cost grows linearly or better from 10,000 to {} notes (per-note cost within 1.2×)",
                    last.notes
                ),
                measured: format!(
                    "per-note cost at {} notes over 10,000: first search {search:.2}×, client page {page:.2}×",
                    last.notes
                ),
                met: search <= 1.2 && page <= 1.2,
            });
        }
    }
    out
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem} RAM")
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks backends too.
    let backends: String = env_or("BENCH_BACKENDS", "sqlite,postgres".to_owned());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let parts: String = env_or("BENCH_PARTS", "single,practice,growth".to_owned());
    let part = |p: &str| parts.split(',').any(|x| x.trim() == p);
    let mut reports = Vec::new();
    for backend in backends.split(',').map(str::trim) {
        let fresh = |label: &str| match backend {
            "sqlite" => dir.path().join(format!("{label}.db")).display().to_string(),
            "postgres" => pg::cluster().fresh_database(),
            other => panic!("unknown backend {other}"),
        };
        let mut report = if part("single") {
            run_backend(backend, &fresh("bench"), &rt)
        } else {
            BackendReport {
                backend: backend.to_owned(),
                ..Default::default()
            }
        };
        if part("practice") {
            report.practice = Some(practice::practice(backend, &fresh("practice"), &rt));
        }
        if part("growth") {
            report.growth = practice::growth(backend, &|n| fresh(&format!("growth-{n}")), &rt);
            let svg = practice::plot(backend, &machine(), &report.growth);
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("docs/growth-{backend}.svg"));
            std::fs::write(&path, svg).expect("write the growth plot");
            eprintln!("[{backend}] wrote {}", path.display());
        }
        reports.push(report);
    }
    let targets = targets(&reports);
    println!();
    println!("Machine: {}", machine());
    for r in reports.iter().filter(|r| r.notes > 0) {
        println!();
        println!(
            "{}: {} notes, {} clients; demo {:.1} s; start to /healthz {:.0} ms; RSS idle {:.1} MiB, peak {:.1} MiB; decrypt floor {:.1} ms, raw {:.1} ms ({:.1} MiB of note text); first search of a session {:.1} ms (median of three)",
            r.backend,
            r.notes,
            r.clients,
            r.demo_seconds,
            r.startup_ms,
            r.memory_idle.rss_mib,
            r.memory_peak_mib,
            r.decrypt_floor_ms,
            r.raw_floor_ms,
            r.note_text_mib,
            r.cold_search_ms
        );
        println!("| Scenario | req/s | p50 ms | p99 ms | max ms | errors | RSS after, MiB |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (k, s) in r.scenarios.iter().chain(r.flood.iter()) {
            println!(
                "| {k} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.0} |",
                s.requests_per_second,
                s.p50_ms,
                s.p99_ms,
                s.max_ms,
                s.errors,
                s.memory_after.rss_mib
            );
        }
    }
    for r in &reports {
        if let Some(p) = &r.practice {
            println!();
            println!(
                "{} practice: {} therapists × {} notes ({} clients each), each on its own connection, think time {:.0} ms mean, {:.0} s; demo {:.1} s; first search after sign-in p50 {:.1} ms, max {:.1} ms; peak RSS {:.1} MiB",
                r.backend,
                p.therapists,
                p.notes_each,
                p.clients_each,
                p.think_ms,
                p.seconds,
                p.demo_seconds,
                p.first_search.p50_ms,
                p.first_search.max_ms,
                p.memory_peak_mib
            );
            println!("| Page | pages | p50 ms | p99 ms | max ms | errors |");
            println!("| --- | ---: | ---: | ---: | ---: | ---: |");
            for (k, s) in p
                .pages
                .iter()
                .chain([(&"all pages".to_owned(), &p.all_pages)])
            {
                println!(
                    "| {k} | {} | {:.2} | {:.2} | {:.2} | {} |",
                    s.requests, s.p50_ms, s.p99_ms, s.max_ms, s.errors
                );
            }
        }
        if !r.growth.is_empty() {
            println!();
            println!("{} growth (60 clients):", r.backend);
            println!(
                "| Notes | first search ms | raw floor ms | floor with parsing ms | first search / raw floor | client page ms |"
            );
            println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
            for g in &r.growth {
                println!(
                    "| {} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} |",
                    g.notes,
                    g.first_search_ms,
                    g.raw_floor_ms,
                    g.floor_ms,
                    g.first_search_ms / g.raw_floor_ms.max(0.001),
                    g.client_page_ms
                );
            }
        }
    }
    println!();
    println!("| Target | Measured | Met |");
    println!("| --- | --- | --- |");
    for t in &targets {
        println!(
            "| {} | {} | {} |",
            t.what,
            t.measured,
            if t.met { "yes" } else { "**no**" }
        );
    }
    let out_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out_dir).expect("target/bench");
    let json = serde_json::json!({
        "machine": machine(),
        "backends": reports,
        "targets": targets,
    });
    let path = out_dir.join("http.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&json).expect("json"))
        .expect("write http.json");
    println!("\nWrote {}", path.display());
}
