//! Security tests 4 and 9 of `shared/SECURITY.md` for client records:
//! nothing protected reaches the database files, a dump or the logs, and no
//! therapist can reach another's records by any route.

use std::io::Read as _;
use std::process::{Command, Stdio};

use crate::both_backends;
use crate::helpers::app::note_form;
use crate::helpers::binary::{Server, free_port};
use crate::helpers::{Agent, Backend, TestApp};

both_backends!(another_therapists_ids_get_404_on_every_route_and_are_audited);

async fn another_therapists_ids_get_404_on_every_route_and_are_audited(app: TestApp) {
    app.set_up().await;
    let client = app.add_client("Private Person", "Priv").await;
    let note = app
        .add_note(
            &client,
            &[
                ("section_subjective", "private words"),
                ("tag", "vulnerability"),
            ],
        )
        .await;
    let signed = app
        .add_note(&client, &[("section_subjective", "signed private words")])
        .await;
    let token = app.get(&signed).await.csrf_token();
    app.sign_note(&signed, &token).await;

    app.add_therapist("bea@example.org", "another long password")
        .await;
    let bea = app.new_agent();
    assert_eq!(
        bea.log_in("bea@example.org", "another long password")
            .await
            .location(),
        Some("/clients")
    );
    let token = bea.get("/clients").await.csrf_token();
    let denied_before = app.audit_count("access.denied");

    let client_id = client.trim_start_matches("/clients/");
    let gets = [
        client.clone(),
        format!("{client}/edit"),
        format!("{client}/delete"),
        format!("{client}/notes/new"),
        format!("{client}/record"),
        format!("{client}/record.json"),
        format!("{client}/fhir"),
        format!("{client}/measures/new"),
        note.clone(),
        format!("{note}/edit"),
        format!("{note}/history"),
        signed.clone(),
        // Ids in query strings are ids too.
        format!("/notes?q=private&client={client_id}"),
        format!("/notes?client={client_id}"),
        "/notes?client=not-an-id".to_owned(),
        format!("/handouts/crying-in-therapy/print?client={client_id}"),
    ];
    for path in &gets {
        let page = bea.get(path).await;
        assert_eq!(page.status, 404, "GET {path}");
        assert!(
            !page.body.contains("Private Person") && !page.body.contains("private words"),
            "GET {path} leaks"
        );
    }
    let note_fields = note_form(
        &[("csrf_token", &token), ("revision", "1")],
        "soap",
        &[
            ("section_subjective", "overwritten"),
            ("body", "intruding addendum"),
            ("full_name", "Renamed"),
            ("confirm", "delete"),
            ("intent", "save"),
        ],
    );
    let posts = [
        format!("{client}/edit"),
        format!("{client}/archive"),
        format!("{client}/unarchive"),
        format!("{client}/delete"),
        format!("{client}/notes"),
        format!("{note}/edit"),
        format!("{note}/sign"),
        format!("{note}/delete"),
        format!("{signed}/addenda"),
        format!("{client}/measures/new"),
    ];
    for path in &posts {
        let page = bea.post_form(path, &note_fields).await;
        assert_eq!(page.status, 404, "POST {path}: {}", page.body);
    }
    assert!(!bea.get("/clients").await.body.contains("Private Person"));
    assert_eq!(
        app.audit_count("access.denied") - denied_before,
        (gets.len() + posts.len()) as i64
    );

    // The owner's records are untouched.
    let page = app.get(&client).await;
    page.assert_contains("Private Person");
    assert!(!page.body.contains("Archived"));
    let page = app.get(&note).await;
    page.assert_contains("private words");
    page.assert_contains("Draft");
    assert!(!app.get(&signed).await.body.contains("intruding addendum"));
}

const CANARY: &str = "Quillfeather";
/// Words in content that is not about a client (the practice's own
/// handouts may be stored as written) but must still never reach a log.
const LOG_CANARY: &str = "Bramblewick";

/// Start the real binary with debug logging to a file, on `database_url`.
fn start_binary(database_url: &str, log: &std::path::Path) -> Server {
    Server::start(database_url, free_port(), |command| {
        // The most a server can say: every crate at its most verbose.
        command
            .env("RUST_LOG", "trace")
            .stdout(Stdio::from(
                std::fs::File::create(log.with_extension("out")).expect("log"),
            ))
            .stderr(Stdio::from(std::fs::File::create(log).expect("log")));
    })
}

async fn write_canaries(base: &str) {
    let agent = Agent::new(base);
    // The password itself must never be logged either.
    let password = format!("correct horse {CANARY} staple");
    let page = agent
        .submit_setup("Dr Canary Test", "t@example.org", &password, &[])
        .await;
    assert_eq!(page.status, 303);
    let code = agent.get("/account/recovery-code").await;
    agent.confirm_recovery_code(&code).await;
    // A wrong password with the canary, and signing in again.
    let visitor = Agent::new(base);
    visitor
        .log_in("t@example.org", &format!("wrong {CANARY}"))
        .await;
    assert_eq!(visitor.log_in("t@example.org", &password).await.status, 303);
    let page = agent
        .submit(
            "/clients/new",
            "/clients",
            &[
                ("full_name", &format!("Robin {CANARY}")),
                ("preferred_name", CANARY),
                ("pronouns", &format!("{CANARY}/they")),
                ("date_of_birth", "1984-07-21"),
                ("about", &format!("Referred after the {CANARY} incident.")),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let client = page.location().expect("client").to_owned();
    let note = agent
        .add_note(
            &client,
            &[
                (
                    "section_subjective",
                    &format!("She spoke of the {CANARY} letters."),
                ),
                ("section_objective", &format!("{CANARY} affect")),
                ("section_assessment", &format!("{CANARY} grief")),
                ("section_plan", &format!("{CANARY} journal")),
                ("key_moment", &format!("{CANARY} moment")),
                ("process_note", &format!("my {CANARY} thoughts")),
                ("new_tags", &format!("{CANARY} tag")),
                ("tag", "tearful-breakthrough"),
            ],
        )
        .await;
    let token = agent.get(&note).await.csrf_token();
    agent.sign_note(&note, &token).await;
    agent
        .add_addendum(&note, &token, &format!("{CANARY} addendum"))
        .await;
    // A PHQ-9 with the note: which scale and every answer are sealed,
    // so neither the instrument's name nor its answers reach a file.
    let measured = agent
        .post_form(
            &format!("{client}/measures/new"),
            &[
                ("csrf_token", &token),
                ("instrument", "phq-9"),
                ("date", "2026-03-01"),
                ("note", note.trim_start_matches("/notes/")),
                ("item1", "3"),
                ("item2", "2"),
                ("item9", "1"),
            ],
        )
        .await;
    assert_eq!(measured.status, 303, "{}", measured.body);
    assert_eq!(agent.get(&format!("{client}/fhir")).await.status, 200);
    for path in [
        client.clone(),
        note.clone(),
        format!("/notes?q={CANARY}"),
        "/clients".into(),
        "/notes?tag=tearful-breakthrough".into(),
    ] {
        let page = agent.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.body.contains(CANARY),
            "{path} shows the canary to its owner"
        );
    }
    // A handout given with a personal note.
    let id = client.trim_start_matches("/clients/");
    let given = agent
        .post_form(
            "/handouts/crying-in-therapy/give",
            &[
                ("csrf_token", &token),
                ("client", id),
                ("note", &format!("{CANARY} note for you")),
            ],
        )
        .await;
    assert_eq!(given.status, 303);
    assert!(
        agent
            .get(given.location().expect("location"))
            .await
            .body
            .contains(CANARY)
    );
    // Its private link, made and opened without a session: the handout and
    // note are sealed under a key from the link's secret, the code under
    // the client's key.
    let linked = agent
        .post_form(
            &format!("{}/link", given.location_path().trim_end_matches("/print")),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(linked.status, 200, "{}", linked.body);
    let url = linked
        .body
        .split("id=\"private-link\" class=\"private-link\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("the link is shown")
        .to_owned();
    let opened = crate::helpers::app::Agent::new(base)
        .get(url.trim_start_matches(base))
        .await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert!(opened.body.contains(CANARY));
    // A print with a personal note that is not recorded.
    let print = agent
        .post_form(
            "/handouts/crying-in-therapy/print",
            &[
                ("csrf_token", &token),
                ("client", id),
                ("note", &format!("{CANARY} printed only")),
            ],
        )
        .await;
    assert!(print.body.contains(CANARY));
    // An article imported (pasted as HTML, then uploaded as a file), whose
    // text goes through the HTML sanitiser, and a practice handout saved
    // from it: not about a client, so it may be stored, but never logged.
    let article = format!(
        "<h1>{LOG_CANARY} on tears</h1><p>Crying is {LOG_CANARY} and human.</p><script>{LOG_CANARY}()</script>"
    );
    let preview = agent
        .submit(
            "/handouts/import",
            "/handouts/import",
            &[("source", &article), ("kind", "html")],
        )
        .await;
    assert!(preview.body.contains(LOG_CANARY), "{}", preview.body);
    let saved = agent
        .post_form(
            "/handouts",
            &[
                ("csrf_token", &token),
                ("title", &format!("{LOG_CANARY} handout")),
                ("slug", "log-canary"),
                ("summary", &format!("{LOG_CANARY} summary")),
                ("body", &format!("{LOG_CANARY} body")),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let boundary = "canary-boundary";
    let upload = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.html\"\r\nContent-Type: text/html\r\n\r\n{article}\r\n--{boundary}--\r\n"
    );
    let uploaded = agent
        .post_raw(
            "/handouts/import/file",
            &format!("multipart/form-data; boundary={boundary}"),
            upload.into_bytes(),
            &[],
        )
        .await;
    assert!(uploaded.body.contains(LOG_CANARY), "{}", uploaded.body);
    // Errors too: a bad form.
    agent
        .submit(
            "/clients/new",
            "/clients",
            &[("full_name", ""), ("about", CANARY)],
        )
        .await;
    // Drafts from an outside tool: one left waiting in the inbox (sealed to
    // the therapist's public key), one accepted as a note, one refused for
    // a bad field (whose text must not be logged either).
    let inbox_token = crate::inbox::make_token(&agent, &format!("{CANARY} dictation")).await;
    let draft = |words: &str| {
        serde_json::json!({
            "tool": format!("{CANARY} Dictate"),
            "session_date": "2026-03-02",
            "format": "soap",
            "client_reference": format!("Robin {CANARY}"),
            "key_moment": format!("{CANARY} {words}"),
            "sections": {"subjective": format!("{CANARY} {words}"), "plan": "Weekly."},
        })
    };
    let waiting = crate::inbox::post(&agent, &inbox_token, &draft("waiting")).await;
    assert_eq!(waiting.status, 202, "{}", waiting.body);
    let accepted = crate::inbox::post(&agent, &inbox_token, &draft("accepted")).await;
    let id = crate::inbox::draft_id(&accepted);
    let made = agent
        .post_form(
            &format!("/inbox/{id}/accept"),
            &[
                ("csrf_token", &token),
                ("client", client.trim_start_matches("/clients/")),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let mut bad = draft("refused");
    bad["session_date"] = serde_json::json!(format!("{CANARY}-03-02"));
    assert_eq!(
        crate::inbox::post(&agent, &inbox_token, &bad).await.status,
        400
    );
    let inbox = agent.get("/inbox").await;
    assert!(
        inbox.body.contains(CANARY),
        "the inbox shows the canary to its owner"
    );
}

/// Neither canary in a log.
fn assert_not_logged(what: &str, bytes: &[u8]) {
    assert_absent(what, bytes);
    let needle = LOG_CANARY.to_lowercase();
    assert!(
        !bytes
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes())),
        "{LOG_CANARY} is in {what}"
    );
}

fn assert_absent(what: &str, bytes: &[u8]) {
    // A measure's sealed JSON names its instrument; no file may.
    for name in ["phq-9", "gad-7"] {
        assert!(
            !bytes
                .windows(name.len())
                .any(|w| w.eq_ignore_ascii_case(name.as_bytes())),
            "{name} is in {what}"
        );
    }
    let needle = CANARY.as_bytes();
    assert!(
        !bytes.windows(needle.len()).any(|w| w == needle),
        "the canary is in {what}"
    );
    let lower = CANARY.to_lowercase();
    assert!(
        !bytes
            .windows(lower.len())
            .any(|w| w.eq_ignore_ascii_case(lower.as_bytes())),
        "the canary is in {what} (any case)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_written_through_the_app_is_in_no_sqlite_file_and_no_log() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("data").join("tearsheet.db");
    let log = dir.path().join("server.log");
    let mut server = start_binary(db.to_str().expect("utf8"), &log);
    write_canaries(&server.base).await;
    // Read the files while the server still runs: the WAL holds recent pages.
    let files: Vec<_> = ["", "-wal", "-shm"]
        .iter()
        .map(|s| std::path::PathBuf::from(format!("{}{s}", db.display())))
        .filter(|p| p.exists())
        .collect();
    assert!(files.len() >= 2, "{files:?}");
    for file in &files {
        assert_absent(
            &file.display().to_string(),
            &std::fs::read(file).expect("read"),
        );
    }
    server.stop("TERM");
    for file in &files {
        if file.exists() {
            assert_absent(
                &file.display().to_string(),
                &std::fs::read(file).expect("read"),
            );
        }
    }
    let mut logged = String::new();
    std::fs::File::open(&log)
        .expect("log")
        .read_to_string(&mut logged)
        .expect("read log");
    assert!(logged.contains("request"), "the log was written: {logged}");
    assert_not_logged("the server log", logged.as_bytes());
    assert_not_logged(
        "the server's stdout",
        &std::fs::read(log.with_extension("out")).expect("stdout"),
    );
    // A backup holds what the database holds: no canary either.
    let backup = dir.path().join("backup.db");
    let out = Command::new(env!("CARGO_BIN_EXE_tearsheet"))
        .args(["backup", "--database-url"])
        .arg(&db)
        .arg("--out")
        .arg(&backup)
        .env("RUST_LOG", "trace")
        .output()
        .expect("backup");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_absent("the backup", &std::fs::read(&backup).expect("backup"));
    assert_not_logged("the backup's output", &[out.stdout, out.stderr].concat());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_written_through_the_app_is_nowhere_in_pg_dump_or_the_log() {
    let cluster = crate::helpers::pg::cluster();
    let url = cluster.fresh_database();
    let dir = tempfile::tempdir().expect("dir");
    let log = dir.path().join("server.log");
    let mut server = start_binary(&url, &log);
    write_canaries(&server.base).await;
    let dump = cluster.dump(&url);
    assert!(
        String::from_utf8_lossy(&dump).contains("CREATE TABLE public.notes"),
        "the dump is real"
    );
    assert_absent("pg_dump", &dump);
    server.stop("TERM");
    assert_not_logged("the server log", &std::fs::read(&log).expect("log"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_moved_to_another_row_shows_an_integrity_failure_not_the_other_text() {
    use diesel::prelude::*;
    use tearsheet::db::schema::clients;
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.set_up().await;
    let first = app.add_client("First Person", "").await;
    let second = app.add_client("Second Person", "").await;
    let mut conn = app.pool().get().expect("conn");
    let id = |p: &str| {
        p.trim_start_matches("/clients/")
            .parse::<i64>()
            .expect("id")
    };
    let blob: Vec<u8> = clients::table
        .find(id(&first))
        .select(clients::full_name)
        .first(&mut *conn)
        .expect("blob");
    diesel::update(clients::table.find(id(&second)))
        .set(clients::full_name.eq(blob))
        .execute(&mut *conn)
        .expect("move");
    let page = app.get(&second).await;
    assert_eq!(page.status, 200);
    page.assert_contains("failed an integrity check");
    assert!(
        !page.body.contains("First Person"),
        "another record's text is never shown"
    );
    // The list shows the first client once (its own row) and never twice.
    assert_eq!(
        app.get("/clients")
            .await
            .body
            .matches("First Person")
            .count(),
        1
    );
}
