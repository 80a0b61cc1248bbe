//! Running Tearsheet for real: several app servers on one PostgreSQL,
//! backups that restore.

use crate::helpers::app::{note_form, serde_urlencoded_encode};
use crate::helpers::binary::{Server, free_port};
use crate::helpers::{Agent, Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_app_servers_on_one_postgresql_share_sessions_and_keep_every_note() {
    let one = TestApp::spawn(Backend::Postgres).await;
    one.set_up().await;
    let two = TestApp::spawn_on(one.database.clone()).await;
    assert_ne!(one.address, two.address);

    // A session made on one server works on the other.
    let cookie = one.cookie("__Host-tearsheet").expect("cookie");
    let on_two = Agent::new(&two.address);
    on_two.set_cookie("__Host-tearsheet", &cookie);
    assert_eq!(on_two.get("/clients").await.status, 200);

    // Concurrent saves through both servers keep every note.
    let client = one.add_client("Shared Client", "").await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let base = if i % 2 == 0 {
            one.address.clone()
        } else {
            two.address.clone()
        };
        let (client, cookie) = (client.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let agent = Agent::new(&base);
            agent.set_cookie("__Host-tearsheet", &cookie);
            agent
                .add_note(
                    &client,
                    &[(
                        "section_subjective",
                        &format!("saved through server {} number {i}", i % 2),
                    )],
                )
                .await
        }));
    }
    let mut notes = Vec::new();
    for t in tasks {
        notes.push(t.await.expect("task"));
    }
    let page = on_two.get(&client).await;
    for note in &notes {
        assert!(page.body.contains(note.as_str()), "{note} listed");
        let i = notes.iter().position(|n| n == note).expect("index");
        on_two
            .get(note)
            .await
            .assert_contains(&format!("number {i}"));
    }

    // Signing out on one server ends the session on both.
    on_two.log_out().await;
    assert_eq!(
        one.get("/clients").await.location(),
        Some("/login?next=%2Fclients"),
        "signed out everywhere"
    );
}

fn tearsheet(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tearsheet"))
        .args(args)
        .output()
        .expect("run tearsheet")
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_writing_restores_and_every_note_reads() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let account = app.set_up().await;
    let client = app.add_client("Backed Up Client", "").await;
    for i in 0..5 {
        app.add_note(
            &client,
            &[("section_subjective", &format!("before the backup {i}"))],
        )
        .await;
    }
    let tearsheet::db::DatabaseUrl::Sqlite(db) = app.database.clone() else {
        unreachable!()
    };
    let dir = tempfile::tempdir().expect("dir");
    let backup = dir.path().join("backup.db");

    // Keep writing while the backup runs.
    let writer = {
        let (base, cookie, client) = (
            app.address.clone(),
            app.cookie("__Host-tearsheet").expect("cookie"),
            client.clone(),
        );
        tokio::spawn(async move {
            let agent = Agent::new(&base);
            agent.set_cookie("__Host-tearsheet", &cookie);
            for i in 0..15 {
                agent
                    .add_note(
                        &client,
                        &[("section_subjective", &format!("during the backup {i}"))],
                    )
                    .await;
            }
        })
    };
    let (db_arg, out_arg) = (db.display().to_string(), backup.display().to_string());
    let out = tokio::task::spawn_blocking(move || {
        tearsheet(&["backup", "--database-url", &db_arg, "--out", &out_arg])
    })
    .await
    .expect("backup");
    writer.await.expect("writer");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Integrity check: ok"), "{}", text(&out));
    let again = tearsheet(&[
        "backup",
        "--database-url",
        &db.display().to_string(),
        "--out",
        &backup.display().to_string(),
    ]);
    assert!(
        !again.status.success() && text(&again).contains("already exists"),
        "no backup is overwritten"
    );

    let restored_dir = dir.path().join("restored");
    let out = tearsheet(&[
        "restore",
        &backup.display().to_string(),
        "--data-dir",
        &restored_dir.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("1 account(s), 1 client(s)"),
        "{}",
        text(&out)
    );

    let copy = TestApp::spawn_on(tearsheet::db::DatabaseUrl::Sqlite(
        restored_dir.join("tearsheet.db"),
    ))
    .await;
    assert_eq!(
        copy.log_in(&account.email, &account.password)
            .await
            .location(),
        Some("/clients")
    );
    let page = copy.get(&client).await;
    let notes: Vec<String> = page
        .body
        .split("href=\"/notes/")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|id| format!("/notes/{id}"))
        .collect();
    assert!(
        notes.len() >= 5,
        "at least the notes written before the backup: {}",
        notes.len()
    );
    for note in &notes {
        let page = copy.get(note).await;
        assert_eq!(page.status, 200);
        assert!(
            !page.body.contains("failed an integrity check"),
            "{note} reads"
        );
        assert!(page.body.contains("the backup"), "{note} has its text");
    }
    for i in 0..5 {
        let found = copy.get(&format!("/notes?q=before+the+backup+{i}")).await;
        found.assert_contains("1 note matches");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_is_owner_only_from_its_first_byte_and_audited() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("data").join("tearsheet.db");
    let db_arg = db.display().to_string();
    // Enough notes that writing the copy takes a while to watch.
    let made = tearsheet(&[
        "demo",
        "--database-url",
        &db_arg,
        "--clients",
        "20",
        "--notes",
        "3000",
    ]);
    assert!(made.status.success(), "{}", text(&made));
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).expect("backups dir");
    let out = backups.join("nightly.db");

    // Watch the folder while a backup runs with a umask that hides nothing.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (stop, backups) = (stop.clone(), backups.clone());
        std::thread::spawn(move || {
            use std::os::unix::fs::PermissionsExt;
            let mut seen = std::collections::BTreeMap::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for entry in std::fs::read_dir(&backups).into_iter().flatten().flatten() {
                    if let Ok(meta) = entry.metadata() {
                        let mode = meta.permissions().mode() & 0o777;
                        seen.entry(entry.file_name()).or_insert(mode);
                        if mode & 0o077 != 0 {
                            seen.insert(entry.file_name(), mode);
                        }
                    }
                }
            }
            seen
        })
    };
    let backup = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 000; exec '{}' backup --database-url '{db_arg}' --out '{}'",
            env!("CARGO_BIN_EXE_tearsheet"),
            out.display()
        ))
        .output()
        .expect("run the backup");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = watcher.join().expect("watcher");
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(!seen.is_empty(), "the watcher saw the backup being written");
    for (name, mode) in &seen {
        assert_eq!(mode & 0o077, 0, "{name:?} was {mode:o} at some point");
    }
    let left: Vec<_> = std::fs::read_dir(&backups)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("nightly.db")],
        "no partial file is left"
    );
    let copy = tearsheet::db::DatabaseUrl::Sqlite(out.clone());
    let pool = tearsheet::db::connect(
        &copy,
        tearsheet::db::PoolOptions {
            max_size: 1,
            timeout: std::time::Duration::from_secs(5),
        },
    )
    .expect("the backup opens");
    drop(pool);
    // The backup is in the live database's audit trail.
    let live = tearsheet::db::connect(
        &tearsheet::db::DatabaseUrl::Sqlite(db),
        tearsheet::db::PoolOptions {
            max_size: 1,
            timeout: std::time::Duration::from_secs(5),
        },
    )
    .expect("live");
    let mut conn = live.get().expect("conn");
    use diesel::prelude::*;
    let backups_audited: i64 = tearsheet::db::schema::audit_events::table
        .filter(tearsheet::db::schema::audit_events::action.eq("backup"))
        .count()
        .get_result(&mut *conn)
        .expect("count");
    assert_eq!(backups_audited, 1);
    let (checked, broken) = tearsheet::audit::verify(&mut conn).expect("verify");
    assert!(broken.is_none() && checked > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_backups_are_refused_clearly_and_nothing_is_half_restored() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.set_up().await;
    let tearsheet::db::DatabaseUrl::Sqlite(db) = app.database.clone() else {
        unreachable!()
    };
    let dir = tempfile::tempdir().expect("dir");
    let backup = dir.path().join("good.db");
    assert!(
        tearsheet(&[
            "backup",
            "--database-url",
            &db.display().to_string(),
            "--out",
            &backup.display().to_string()
        ])
        .status
        .success()
    );
    let good = std::fs::read(&backup).expect("read");
    let target = dir.path().join("target");
    let restore = |file: &std::path::Path, force: bool| {
        let mut args = vec![
            "restore".to_owned(),
            file.display().to_string(),
            "--data-dir".to_owned(),
            target.display().to_string(),
        ];
        if force {
            args.push("--force".into());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        tearsheet(&refs)
    };

    let truncated = dir.path().join("truncated.db");
    std::fs::write(&truncated, &good[..good.len() / 2]).expect("write");
    let out = restore(&truncated, false);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("damaged or truncated") || text(&out).contains("malformed"),
        "{}",
        text(&out)
    );
    assert!(
        !target.join("tearsheet.db").exists() && !target.join("tearsheet.db.restoring").exists(),
        "nothing half-restored"
    );

    let foreign = dir.path().join("notes.txt");
    std::fs::write(&foreign, "these are not the backups you are looking for").expect("write");
    let out = restore(&foreign, false);
    assert!(
        !out.status.success() && text(&out).contains("is not a Tearsheet backup"),
        "{}",
        text(&out)
    );

    let newer = dir.path().join("newer.db");
    std::fs::write(&newer, &good).expect("write");
    {
        use diesel::Connection as _;
        use diesel::connection::SimpleConnection as _;
        let mut conn = diesel::sqlite::SqliteConnection::establish(newer.to_str().expect("utf8"))
            .expect("open");
        conn.batch_execute(
            "INSERT INTO __diesel_schema_migrations (version) VALUES ('99991231000000')",
        )
        .expect("newer schema");
    }
    let out = restore(&newer, false);
    assert!(
        !out.status.success() && text(&out).contains("newer Tearsheet"),
        "{}",
        text(&out)
    );
    assert!(!target.join("tearsheet.db").exists());

    assert!(restore(&backup, false).status.success());
    let out = restore(&backup, false);
    assert!(
        !out.status.success() && text(&out).contains("--force"),
        "a live database is not overwritten: {}",
        text(&out)
    );
    let out = restore(&backup, true);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("is kept at"));
    let kept = std::fs::read_dir(&target)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".replaced-"))
        .count();
    assert!(kept >= 1, "the replaced database is kept");

    let pg = tearsheet(&[
        "backup",
        "--database-url",
        "postgres:///nowhere",
        "--out",
        &dir.path().join("pg.dump").display().to_string(),
    ]);
    assert!(
        !pg.status.success() && text(&pg).contains("pg_dump --format=custom"),
        "{}",
        text(&pg)
    );
}

async fn crash_loop(database: String) {
    let mut server = Server::start(&database, free_port(), |_| {});
    let base = server.base.clone();
    let agent = Agent::new(&base);
    let password = "correct horse battery staple";
    agent
        .submit_setup("Dr Crash", "crash@example.org", password, &[])
        .await;
    let code = agent.get("/account/recovery-code").await;
    agent.confirm_recovery_code(&code).await;
    let client = agent.add_client("Crash Client", "").await;
    let cookie = agent.cookie("__Host-tearsheet").expect("cookie");
    let token = agent.get(&client).await.csrf_token();
    let mut answered: Vec<(String, String)> = Vec::new();
    let mut seed = u64::from_le_bytes(tearsheet::crypto::random_bytes());
    for round in 0..5 {
        if round > 0 {
            server = Server::start(&database, server.port, |_| {});
        }
        // Save in a loop until the server dies under us.
        let writer = {
            let (base, cookie, token, client) =
                (base.clone(), cookie.clone(), token.clone(), client.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .expect("client");
                let mut saved = Vec::new();
                for i in 0.. {
                    let text = format!("round {round} save {i} {}", "words ".repeat(200));
                    let body = serde_urlencoded_encode(&note_form(
                        &[("csrf_token", &token)],
                        "free",
                        &[("section_text", &text), ("intent", "save")],
                    ));
                    let res = http
                        .post(format!("{base}{client}/notes"))
                        .header("cookie", format!("__Host-tearsheet={cookie}"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body)
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status().as_u16() == 303 => {
                            let location = r
                                .headers()
                                .get("location")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned();
                            saved.push((location, text));
                        }
                        _ => break,
                    }
                }
                saved
            })
        };
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(std::time::Duration::from_millis(150 + seed % 450)).await;
        server.kill_hard();
        let saved = writer.await.expect("writer");
        answered.extend(saved);
    }
    server = Server::start(&database, server.port, |_| {});
    assert!(
        answered.len() >= 5,
        "the loop saved notes: {}",
        answered.len()
    );
    for (path, text) in &answered {
        let page = agent.get(path).await;
        assert_eq!(
            page.status, 200,
            "{path}, answered before a crash, is present"
        );
        assert!(
            page.body.contains(
                text.split(' ')
                    .take(4)
                    .collect::<Vec<_>>()
                    .join(" ")
                    .as_str()
            ),
            "{path} reads whole"
        );
        assert!(!page.body.contains("failed an integrity check"));
    }
    // No half-written note: every note the client has opens whole.
    let list = agent.get(&client).await;
    for id in list
        .body
        .split("href=\"/notes/")
        .skip(1)
        .filter_map(|s| s.split('"').next())
    {
        let page = agent.get(&format!("/notes/{id}")).await;
        assert_eq!(page.status, 200);
        assert!(
            !page.body.contains("failed an integrity check"),
            "note {id} is whole"
        );
        assert!(page.body.contains("words words"), "note {id} has its text");
    }
    server.kill_hard();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_no_answered_save_on_sqlite() {
    use diesel::prelude::*;
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("tearsheet.db");
    crash_loop(db.display().to_string()).await;
    let mut conn =
        diesel::sqlite::SqliteConnection::establish(db.to_str().expect("utf8")).expect("open");
    #[derive(QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let rows: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .expect("check");
    assert_eq!(rows[0].integrity_check, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_app_server_loses_no_answered_save_on_postgresql() {
    crash_loop(crate::helpers::pg::cluster().fresh_database()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_in_tls_serves_https_with_hsts() {
    let dir = tempfile::tempdir().expect("dir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian package openssl) makes a test certificate");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = free_port();
    let db = dir.path().join("tearsheet.db");
    let mut server = Server::spawn(&db.display().to_string(), port, |command| {
        command
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key);
    });
    let curl = |url: String| {
        std::process::Command::new("curl")
            .args(["-sk", "-D", "-", "--max-time", "5", &url])
            .output()
            .expect("curl")
    };
    let mut answer = String::new();
    for _ in 0..100 {
        let out = curl(format!("https://127.0.0.1:{port}/healthz"));
        answer = String::from_utf8_lossy(&out.stdout).into_owned();
        if answer.contains("ok") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let plain = curl(format!("http://127.0.0.1:{port}/healthz"));
    server.kill_hard();
    assert!(answer.starts_with("HTTP/"), "https answers: {answer}");
    assert!(
        answer
            .to_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "HSTS over TLS: {answer}"
    );
    assert!(
        !String::from_utf8_lossy(&plain.stdout).contains("\r\n\r\nok"),
        "no plain http on the TLS port"
    );

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_tearsheet"))
        .args([
            "--database-url",
            &db.display().to_string(),
            "--bind",
            "127.0.0.1:0",
            "--tls-cert",
        ])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&cert)
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("private key"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caseload_moves_to_another_practice_and_a_broken_export_imports_nothing() {
    let from = TestApp::spawn(Backend::Sqlite).await;
    let account = from.set_up().await;
    let client = from.add_client("Moving Client", "Mo").await;
    let note = from
        .add_note(
            &client,
            &[
                ("section_subjective", "words that move"),
                ("process_note", "stays behind"),
                ("tag", "self-compassion"),
                ("new_tags", "first laugh"),
            ],
        )
        .await;
    let token = from.get(&note).await.csrf_token();
    from.sign_note(&note, &token).await;
    from.add_addendum(&note, &token, "a moving addendum").await;
    let mut fields = vec![
        ("csrf_token", token.as_str()),
        ("instrument", "phq-9"),
        ("date", "2026-03-02"),
        ("note", note.trim_start_matches("/notes/")),
    ];
    let items: Vec<String> = (1..=9).map(|i| format!("item{i}")).collect();
    fields.extend(items.iter().map(|i| (i.as_str(), "2")));
    let measured = from
        .post_form(&format!("{client}/measures/new"), &fields)
        .await;
    assert_eq!(measured.status, 303, "{}", measured.body);
    let wrong = from
        .post_form(
            "/settings/export",
            &[("csrf_token", &token), ("password", "not my password")],
        )
        .await;
    assert_eq!(wrong.status, 400);
    let export = from
        .post_form(
            "/settings/export",
            &[("csrf_token", &token), ("password", &account.password)],
        )
        .await;
    assert_eq!(export.status, 200);
    assert!(
        export.body.contains("tearsheet.caseload.v3")
            && export.body.contains("words that move")
            && export.body.contains("\"instrument\": \"phq-9\"")
    );
    assert!(
        !export.body.contains("stays behind"),
        "process notes never leave"
    );
    assert_eq!(from.audit_count("caseload.export"), 1);

    let to = TestApp::spawn(Backend::Postgres).await;
    let there = to.set_up().await;
    let url = match &to.database {
        tearsheet::db::DatabaseUrl::Postgres(u) => u.clone(),
        tearsheet::db::DatabaseUrl::Sqlite(p) => p.display().to_string(),
    };
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("caseload.json");
    std::fs::write(&file, &export.body).expect("write");
    let import = |path: &std::path::Path, password: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tearsheet"))
            .args([
                "import",
                &path.display().to_string(),
                "--email",
                &there.email,
                "--database-url",
                &url,
            ])
            .env("TEARSHEET_PASSWORD", password)
            .output()
            .expect("run import")
    };
    let broken_body =
        export
            .body
            .replacen("\"duration_minutes\": 50", "\"duration_minutes\": -3", 1);
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, broken_body).expect("write");
    let out = import(&broken, &there.password);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("nothing was imported")
            && said.contains("client 1")
            && said.contains("note 1")
            && said.contains("duration_minutes"),
        "{said}"
    );
    assert!(
        to.get("/clients").await.body.contains("No clients yet"),
        "nothing half-imported"
    );
    assert!(!import(&file, "wrong password").status.success());
    let bad_measure = dir.path().join("bad-measure.json");
    std::fs::write(
        &bad_measure,
        export
            .body
            .replacen("\"instrument\": \"phq-9\"", "\"instrument\": \"phq-10\"", 1),
    )
    .expect("write");
    let out = import(&bad_measure, &there.password);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("measure 1") && said.contains("phq-10"),
        "{said}"
    );

    let out = import(&file, &there.password);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("Imported 1 client(s), 1 note(s) and 1 measure(s)")
    );
    let list = to.get("/clients").await;
    list.assert_contains("Moving Client");
    let moved_client = list
        .body
        .split("href=\"/clients/")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .find(|id| id.bytes().all(|b| b.is_ascii_digit()))
        .map(|id| format!("/clients/{id}"))
        .expect("client link");
    let moved_note = to
        .get(&moved_client)
        .await
        .body
        .split("href=\"/notes/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(|id| format!("/notes/{id}"))
        .expect("note link");
    let page = to.get(&moved_note).await;
    for text in [
        "words that move",
        "a moving addendum",
        "Self-compassion",
        "first laugh",
        "Signed ",
        // The measure came with its note.
        "<td class=\"num\">18</td>",
    ] {
        page.assert_contains(text);
    }
    to.get(&moved_client)
        .await
        .assert_contains("band-moderately-severe\">moderately severe</span>");
    assert!(!page.body.contains("stays behind"));
    assert!(
        !page.body.contains("no longer matches what was signed"),
        "the signature is sealed afresh and holds"
    );

    // A note marked signed with an empty heading (an older export) arrives
    // as a draft to finish, and the import says so.
    let gap = dir.path().join("gap.json");
    let gap_body = export.body.replacen(
        "\"objective\": \"Calm and engaged.\"",
        "\"objective\": \"\"",
        1,
    );
    assert_ne!(gap_body, export.body);
    std::fs::write(&gap, gap_body).expect("write");
    let out = import(&gap, &there.password);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && said.contains("1 note(s) marked signed in the file have an empty heading"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_caseload_signs_in_and_is_searchable() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("demo.db");
    let out = tearsheet(&[
        "demo",
        "--clients",
        "4",
        "--notes",
        "60",
        "--database-url",
        &db.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("Made 4 fictional client(s) and 60 note(s)"),
        "{said}"
    );
    let field = |name: &str| {
        said.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .expect("printed")
            .to_owned()
    };
    let (email, password) = (field("Sign in as:"), field("Password:"));
    let app = TestApp::spawn_on(tearsheet::db::DatabaseUrl::Sqlite(db)).await;
    assert_eq!(
        app.log_in(&email, &password).await.location(),
        Some("/clients")
    );
    let clients = app.get("/clients").await;
    assert_eq!(
        clients
            .body
            .matches("<li>\n      <a href=\"/clients/")
            .count(),
        4,
        "{}",
        clients.body
    );
    app.get("/notes?q=talked")
        .await
        .assert_contains("60 notes match");
    let mut tagged = 0;
    for tag in [
        "tearful-breakthrough",
        "emotional-release",
        "vulnerability",
        "trust-building",
        "self-compassion",
        "stress-relief",
        "stigma-challenged",
    ] {
        let page = app.get(&format!("/notes?tag={tag}")).await;
        tagged += page.body.matches("<p class=\"result-head\">").count();
    }
    assert!(tagged > 0, "some notes carry breakthrough tags");
    let again = tearsheet(&[
        "demo",
        "--clients",
        "1",
        "--notes",
        "1",
        "--database-url",
        &dir.path().join("demo.db").display().to_string(),
    ]);
    assert!(!again.status.success() && text(&again).contains("already has an account"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().expect("dir");
    let mut server = Server::start(
        &dir.path().join("t.db").display().to_string(),
        free_port(),
        |_| {},
    );
    let base = server.base.clone();
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .expect("up")
            .status()
            .as_u16(),
        200
    );
    let status = server
        .stop("TERM")
        .unwrap_or_else(|| panic!("the server did not stop on SIGTERM"));
    assert!(status.success(), "a clean exit on SIGTERM: {status:?}");
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "no longer listening"
    );
}
