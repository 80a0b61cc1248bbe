//! The practice scenario and how cost grows with a caseload.
//!
//! **Practice**: `BENCH_THERAPISTS` (24) demo therapists with
//! `BENCH_PRACTICE_NOTES` (4,000) notes and 60 clients each, in one fresh
//! database. Each signs in on a keep-alive connection of their own and runs
//! their first search; then, for `BENCH_PRACTICE_SECONDS` (30), each works
//! through a day: client pages, notes, saving their own draft, searches,
//! tag filters, the caseload and handout prints, in the mix of [`DAY`],
//! pausing between pages for a random think time (exponential, mean
//! `BENCH_THINK_MS`, 250 ms: a therapist at a keyboard clicks every few
//! seconds, so two dozen clicking four times a second is several times a
//! busy practice's peak). Every page's latency is kept by kind, with the
//! server's peak resident memory.
//!
//! **Growth**: for each of `BENCH_GROWTH` (1,000, 10,000 and 50,000 notes),
//! a fresh database with one demo therapist; the first search of a session
//! (median of three sessions), the client page of a typical client
//! (median of 20 loads on one connection), and the decrypt floors, written
//! as `docs/growth-<backend>.svg`.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use tearsheet::db::DatabaseUrl;

use super::binary::{Server, free_port};
use super::{Stats, Tally, Visitor, caseload, env_or, form_fields, hidden, memory, summarise};

/// What a day is made of: (page, weight). Weights are out of 100.
const DAY: [(&str, u32); 7] = [
    ("client page", 30),
    ("note view", 25),
    ("save draft", 10),
    ("word search", 12),
    ("tag filter", 8),
    ("clients", 10),
    ("handout print", 5),
];

/// Words a therapist looks for (all occur in demo notes but one).
const WORDS: [&str; 8] = [
    "journal",
    "grief",
    "breathing",
    "sibling",
    "letter",
    "tears",
    "critic",
    "passport",
];

const TAGS: [&str; 5] = [
    "tearful-breakthrough",
    "emotional-release",
    "trust-building",
    "self-compassion",
    "stress-relief",
];

/// The practice scenario's results.
#[derive(Serialize, Default)]
pub struct PracticeReport {
    pub therapists: usize,
    pub notes_each: usize,
    pub clients_each: usize,
    pub demo_seconds: f64,
    pub seconds: f64,
    pub think_ms: f64,
    /// Each therapist's first search, right after signing in.
    pub first_search: Stats,
    /// The day, by page.
    pub pages: BTreeMap<String, Stats>,
    /// Every page of the day together.
    pub all_pages: Stats,
    pub memory_peak_mib: f64,
}

/// The numbers in the text of a page after each `prefix` (ids in links).
fn ids_after(page: &str, prefix: &str) -> Vec<i64> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(i) = rest.find(prefix) {
        rest = &rest[i + prefix.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(id) = digits.parse() {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

/// One therapist at their desk.
struct Desk {
    visitor: Visitor,
    csrf: String,
    clients: Vec<i64>,
    notes: Vec<i64>,
    draft: String,
    fields: Vec<(String, String)>,
    revision: i64,
}

impl Desk {
    /// Sign in, run the first search (timed), and find the clients, some
    /// notes and a draft of one's own to keep saving.
    async fn sit_down(base: &str, email: &str, password: &str) -> (Self, Duration) {
        let visitor = Visitor::new(base);
        let csrf = visitor.log_in(email, password).await;
        let t = Instant::now();
        let (status, _) = visitor.get("/notes?q=journal").await.expect("search");
        let first = t.elapsed();
        assert_eq!(status, 200, "first search");
        let (_, page) = visitor.get("/clients").await.expect("clients");
        let clients = ids_after(&page, "href=\"/clients/");
        assert!(!clients.is_empty(), "the demo therapist has clients");
        let (_, page) = visitor
            .get(&format!("/clients/{}", clients[0]))
            .await
            .expect("client page");
        let notes = ids_after(&page, "href=\"/notes/");
        let draft = visitor.new_draft(clients[0], &csrf).await;
        let (_, form) = visitor
            .get(&format!("{draft}/edit"))
            .await
            .expect("edit form");
        let revision = hidden(&form, "revision")
            .and_then(|r| r.parse().ok())
            .unwrap_or(1);
        let desk = Self {
            visitor,
            csrf,
            clients,
            notes,
            draft,
            fields: form_fields(&form),
            revision,
        };
        (desk, first)
    }

    /// Work until `deadline`; latencies by page, statuses, errors.
    async fn work(
        mut self,
        seed: u64,
        think_ms: f64,
        deadline: Instant,
    ) -> BTreeMap<&'static str, Tally> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut out: BTreeMap<&'static str, Tally> = BTreeMap::new();
        loop {
            // Exponential think time with the given mean.
            let pause = -think_ms * (1.0 - rng.f64()).ln();
            tokio::time::sleep(Duration::from_secs_f64(pause / 1000.0)).await;
            if Instant::now() >= deadline {
                break;
            }
            let mut roll = rng.u32(..100);
            let page = DAY
                .iter()
                .find(|(_, w)| {
                    if roll < *w {
                        true
                    } else {
                        roll -= w;
                        false
                    }
                })
                .map_or("client page", |(p, _)| *p);
            let client = self.clients[rng.usize(..self.clients.len())];
            let v = &self.visitor;
            let t = Instant::now();
            let (result, expect) = match page {
                "client page" => (v.get(&format!("/clients/{client}")).await, 200),
                "note view" if !self.notes.is_empty() => {
                    let note = self.notes[rng.usize(..self.notes.len())];
                    (v.get(&format!("/notes/{note}")).await, 200)
                }
                "note view" => (v.get(&self.draft).await, 200),
                "save draft" => {
                    let rev = self.revision.to_string();
                    let mut all: Vec<(&str, &str)> = self
                        .fields
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    all.extend([
                        ("csrf_token", self.csrf.as_str()),
                        ("revision", &rev),
                        ("intent", "save"),
                    ]);
                    (v.post(&format!("{}/edit", self.draft), &all).await, 303)
                }
                "word search" => {
                    let word = WORDS[rng.usize(..WORDS.len())];
                    (v.get(&format!("/notes?q={word}")).await, 200)
                }
                "tag filter" => {
                    let tag = TAGS[rng.usize(..TAGS.len())];
                    (v.get(&format!("/notes?tag={tag}")).await, 200)
                }
                "clients" => (v.get("/clients").await, 200),
                _ => (
                    v.get(&format!(
                        "/handouts/crying-in-therapy/print?client={client}&paper=letter&names=on"
                    ))
                    .await,
                    200,
                ),
            };
            let took = t.elapsed();
            let entry = out.entry(page).or_default();
            entry.0.push(took);
            match result {
                Ok((status, body)) => {
                    *entry.1.entry(status).or_insert(0) += 1;
                    if status != expect {
                        entry.2 += 1;
                    }
                    if page == "save draft" {
                        self.revision += 1;
                        if status != expect {
                            // Carry on from what is stored.
                            if let Ok((_, form)) = v.get(&format!("{}/edit", self.draft)).await {
                                self.revision = hidden(&form, "revision")
                                    .and_then(|r| r.parse().ok())
                                    .unwrap_or(self.revision);
                            }
                        }
                    }
                    if page == "client page" && status == 200 {
                        // The notes a therapist would click next.
                        let notes = ids_after(&body, "href=\"/notes/");
                        if !notes.is_empty() {
                            self.notes = notes;
                        }
                    }
                }
                Err(_) => entry.2 += 1,
            }
        }
        out
    }
}

/// Make `therapists` demo therapists in `url`, two at a time (the demo is
/// mostly sealing, which is CPU work). Returns their emails and passwords.
fn staff(
    url: &DatabaseUrl,
    therapists: usize,
    notes: usize,
    clients: usize,
) -> Vec<(String, String)> {
    let make = |i: usize| {
        let email = format!("therapist{i}@practice.invalid");
        let made = tearsheet::demo::run(url, &email, clients, notes).expect("demo therapist");
        (email, made.password)
    };
    // The first alone: it migrates the database and claims the practice.
    let mut out = vec![make(0)];
    let rest: Vec<usize> = (1..therapists).collect();
    let halves: Vec<Vec<(usize, (String, String))>> = std::thread::scope(|s| {
        rest.chunks(rest.len().div_ceil(2).max(1))
            .map(|chunk| s.spawn(move || chunk.iter().map(|&i| (i, make(i))).collect()))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().expect("demo thread"))
            .collect()
    });
    let mut made: Vec<_> = halves.into_iter().flatten().collect();
    made.sort_by_key(|(i, _)| *i);
    out.extend(made.into_iter().map(|(_, m)| m));
    out
}

/// Run the practice scenario on a fresh database at `url`.
pub fn practice(name: &str, url: &str, rt: &tokio::runtime::Runtime) -> PracticeReport {
    let therapists: usize = env_or("BENCH_THERAPISTS", 24);
    let notes_each: usize = env_or("BENCH_PRACTICE_NOTES", 4_000);
    let clients_each: usize = 60;
    let seconds: f64 = env_or("BENCH_PRACTICE_SECONDS", 30.0);
    let think_ms: f64 = env_or("BENCH_THINK_MS", 250.0);
    let parsed = DatabaseUrl::parse(url).expect("database url");
    eprintln!(
        "[{name}] making the practice ({therapists} therapists × {notes_each} notes, {clients_each} clients each)…"
    );
    let t = Instant::now();
    let staff = staff(&parsed, therapists, notes_each, clients_each);
    let demo_seconds = t.elapsed().as_secs_f64();
    let server = Server::start(url, free_port(), |command| {
        command.arg("serve").stderr(Stdio::inherit());
    });
    let base = server.base.clone();
    let (first_search, pages, all_pages) = rt.block_on(async {
        // Everyone signs in at once and runs a first search; the sign-in
        // permits spread them out as a morning would.
        let started = Instant::now();
        let arrivals: Vec<_> = staff
            .into_iter()
            .map(|(email, password)| {
                let base = base.clone();
                tokio::spawn(async move { Desk::sit_down(&base, &email, &password).await })
            })
            .collect();
        let mut desks = Vec::new();
        let mut firsts = Vec::new();
        for a in arrivals {
            let (desk, first) = a.await.expect("sign in");
            desks.push(desk);
            firsts.push(first);
        }
        let first_search = summarise(firsts, BTreeMap::new(), 0, started.elapsed());
        eprintln!(
            "[{name}] practice: {therapists} signed in; first search p50 {:.1} ms, max {:.1} ms",
            first_search.p50_ms, first_search.max_ms
        );
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        let started = Instant::now();
        let tasks: Vec<_> = desks
            .into_iter()
            .enumerate()
            .map(|(i, desk)| tokio::spawn(desk.work(i as u64 + 1, think_ms, deadline)))
            .collect();
        let mut by_page: BTreeMap<&str, Tally> = BTreeMap::new();
        for task in tasks {
            for (page, (latencies, statuses, errors)) in task.await.expect("desk") {
                let entry = by_page.entry(page).or_default();
                entry.0.extend(latencies);
                for (k, n) in statuses {
                    *entry.1.entry(k).or_insert(0) += n;
                }
                entry.2 += errors;
            }
        }
        let elapsed = started.elapsed();
        let mut all: Tally = Default::default();
        let mut pages = BTreeMap::new();
        for (page, (latencies, statuses, errors)) in by_page {
            all.0.extend(&latencies);
            for (k, n) in &statuses {
                *all.1.entry(*k).or_insert(0) += n;
            }
            all.2 += errors;
            pages.insert(
                page.to_owned(),
                summarise(latencies, statuses, errors, elapsed),
            );
        }
        (first_search, pages, summarise(all.0, all.1, all.2, elapsed))
    });
    let peak = memory(&server).peak_mib;
    for (page, s) in &pages {
        eprintln!(
            "[{name}] practice {page:<14} {:>6} pages  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}",
            s.requests, s.p50_ms, s.p99_ms, s.errors
        );
    }
    eprintln!("[{name}] practice: peak RSS {peak:.1} MiB");
    drop(server);
    PracticeReport {
        therapists,
        notes_each,
        clients_each,
        demo_seconds,
        seconds,
        think_ms,
        first_search,
        pages,
        all_pages,
        memory_peak_mib: peak,
    }
}

/// One size of caseload, measured.
#[derive(Serialize, Clone, Copy, Default)]
pub struct GrowthPoint {
    pub notes: usize,
    /// The first search of a session, median of three sessions.
    pub first_search_ms: f64,
    /// The client page of the client with about `notes / 60` notes,
    /// median of 20 loads on one connection.
    pub client_page_ms: f64,
    /// Opening every sealed field of every note in one thread.
    pub raw_floor_ms: f64,
    /// The same, and parsing sections and tags.
    pub floor_ms: f64,
}

/// The median of `samples` (sorted here).
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// The first search of `sessions` fresh sessions, median, in ms.
pub async fn first_searches(base: &str, email: &str, password: &str, sessions: usize) -> f64 {
    let mut times = Vec::new();
    for _ in 0..sessions {
        let v = Visitor::new(base);
        v.log_in(email, password).await;
        let t = Instant::now();
        let (status, _) = v.get("/notes?q=journal").await.expect("search");
        assert_eq!(status, 200);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        let (_, page) = v.get("/clients").await.expect("clients");
        if let Some(token) = hidden(&page, "csrf_token") {
            let _ = v.post("/logout", &[("csrf_token", &token)]).await;
        }
    }
    median(times)
}

/// Measure each size in `BENCH_GROWTH` on fresh databases from `fresh`.
pub fn growth(
    name: &str,
    fresh: &dyn Fn(usize) -> String,
    rt: &tokio::runtime::Runtime,
) -> Vec<GrowthPoint> {
    let sizes: String = env_or("BENCH_GROWTH", "1000,10000,50000".to_owned());
    let mut points = Vec::new();
    for n in sizes
        .split(',')
        .filter_map(|s| s.trim().parse::<usize>().ok())
    {
        let url = fresh(n);
        let parsed = DatabaseUrl::parse(&url).expect("database url");
        let email = "growth@bench.invalid";
        eprintln!("[{name}] growth: {n} notes…");
        let made = tearsheet::demo::run(&parsed, email, 60, n).expect("demo caseload");
        let floors = caseload(&parsed, email, &made.password, n / 60);
        let server = Server::start(&url, free_port(), |command| {
            command.arg("serve").stderr(Stdio::inherit());
        });
        let (first_search_ms, client_page_ms) = rt.block_on(async {
            let first = first_searches(&server.base, email, &made.password, 3).await;
            let v = Visitor::new(&server.base);
            v.log_in(email, &made.password).await;
            let page = format!("/clients/{}", floors.client);
            let mut times = Vec::new();
            for _ in 0..21 {
                let t = Instant::now();
                let (status, _) = v.get(&page).await.expect("client page");
                assert_eq!(status, 200);
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            // The first load also opens the client's keys; count the warm ones.
            times.remove(0);
            (first, median(times))
        });
        drop(server);
        let point = GrowthPoint {
            notes: n,
            first_search_ms,
            client_page_ms,
            raw_floor_ms: floors.raw_floor_ms,
            floor_ms: floors.floor_ms,
        };
        eprintln!(
            "[{name}] growth: {n} notes: first search {:.1} ms (raw floor {:.1}, with parsing {:.1}); client page ({} notes) {:.2} ms",
            point.first_search_ms,
            point.raw_floor_ms,
            point.floor_ms,
            floors.client_notes,
            point.client_page_ms
        );
        points.push(point);
    }
    points
}

/// A line of the plot: label, colour, dashes, value.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&GrowthPoint) -> f64,
);

/// The growth plot as SVG: milliseconds against notes, one line each for
/// the first search, the raw decrypt floor and the client page.
pub fn plot(backend: &str, machine: &str, points: &[GrowthPoint]) -> String {
    let (w, h, left, right, top, bottom) = (720.0, 420.0, 70.0, 190.0, 50.0, 60.0);
    let max_x = points.iter().map(|p| p.notes).max().unwrap_or(1) as f64;
    let max_y = points
        .iter()
        .map(|p| p.first_search_ms.max(p.client_page_ms).max(p.floor_ms))
        .fold(1.0, f64::max)
        * 1.1;
    let x = |n: f64| left + n / max_x * (w - left - right);
    let y = |ms: f64| h - bottom - ms / max_y * (h - top - bottom);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-labelledby=\"t d\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <title id=\"t\">How cost grows with the caseload ({backend})</title>\n\
         <desc id=\"d\">{}</desc>\n\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#fff\"/>\n\
         <text x=\"{left}\" y=\"24\" font-size=\"15\">How cost grows with the caseload: {backend}</text>\n\
         <text x=\"{left}\" y=\"40\" fill=\"#555\">{}</text>\n",
        points
            .iter()
            .map(|p| format!(
                "{} notes: first search {:.0} ms, raw floor {:.0} ms, client page {:.1} ms",
                p.notes, p.first_search_ms, p.raw_floor_ms, p.client_page_ms
            ))
            .collect::<Vec<_>>()
            .join("; "),
        escape(machine),
    );
    // Axes with five ticks each.
    svg += &format!(
        "<path d=\"M{left} {top} V{} H{}\" stroke=\"#333\" fill=\"none\"/>\n",
        h - bottom,
        w - right
    );
    for i in 0..=5 {
        let (tx, ty) = (max_x * f64::from(i) / 5.0, max_y * f64::from(i) / 5.0);
        svg += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}</text>\n<path d=\"M{left} {:.1} H{}\" stroke=\"#eee\"/>\n",
            x(tx),
            h - bottom + 18.0,
            thousands(tx),
            left - 6.0,
            y(ty) + 4.0,
            ty,
            y(ty),
            w - right
        );
    }
    svg += &format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">notes in the caseload</text>\n<text x=\"18\" y=\"{:.1}\" transform=\"rotate(-90 18 {:.1})\" text-anchor=\"middle\">milliseconds</text>\n",
        (left + w - right) / 2.0,
        h - 18.0,
        (top + h - bottom) / 2.0,
        (top + h - bottom) / 2.0
    );
    let series: [Series; 4] = [
        ("first search", "#b3261e", "", |p| p.first_search_ms),
        ("decrypt + parse floor", "#7a5c00", "6 3", |p| p.floor_ms),
        ("raw decrypt floor", "#555", "2 3", |p| p.raw_floor_ms),
        ("client page", "#1f5fa8", "", |p| p.client_page_ms),
    ];
    for (i, (label, colour, dash, value)) in series.iter().enumerate() {
        let d: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(j, p)| {
                format!(
                    "{}{:.1},{:.1}",
                    if j == 0 { "M" } else { "L" },
                    x(p.notes as f64),
                    y(value(p))
                )
            })
            .collect();
        let dashes = if dash.is_empty() {
            String::new()
        } else {
            format!(" stroke-dasharray=\"{dash}\"")
        };
        svg += &format!(
            "<path d=\"{}\" stroke=\"{colour}\" stroke-width=\"2\" fill=\"none\"{dashes}/>\n",
            d.join(" ")
        );
        for p in points {
            svg += &format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"/>\n",
                x(p.notes as f64),
                y(value(p))
            );
        }
        let ly = top + 10.0 + 22.0 * i as f64;
        svg += &format!(
            "<path d=\"M{} {ly} h24\" stroke=\"{colour}\" stroke-width=\"2\"{dashes}/><text x=\"{}\" y=\"{}\">{label}</text>\n",
            w - right + 14.0,
            w - right + 44.0,
            ly + 4.0
        );
    }
    svg += "</svg>\n";
    svg
}

fn thousands(n: f64) -> String {
    if n >= 1000.0 {
        format!("{:.0}k", n / 1000.0)
    } else {
        format!("{n:.0}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
