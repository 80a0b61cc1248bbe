//! Quality gates over HTTP: every page the server sends, error pages
//! included, is valid HTML by the Nu Html Checker.

use crate::helpers::app::edit_fields;
use crate::helpers::gates::assert_valid_html;
use crate::helpers::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_served_is_valid_html() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut pages: Vec<(String, String)> = Vec::new();
    let mut keep = |name: &str, page: crate::helpers::app::Page| {
        let html = page
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .starts_with("text/html");
        assert!(html, "{name} is HTML");
        pages.push((name.to_owned(), page.body));
    };

    keep("setup", app.get("/setup").await);
    keep(
        "setup-errors",
        app.submit(
            "/setup",
            "/setup",
            &[("display_name", ""), ("email", "x"), ("password", "short")],
        )
        .await,
    );
    keep(
        "csrf-403",
        app.post_form("/setup", &[("display_name", "x")]).await,
    );
    let token = app.get("/setup").await.csrf_token();
    keep(
        "invalid-utf8-400",
        app.post_raw(
            "/setup",
            "application/x-www-form-urlencoded",
            format!("csrf_token={token}&email=%FF").into_bytes(),
            &[],
        )
        .await,
    );
    keep(
        "too-large-413",
        app.post_raw(
            "/setup",
            "application/x-www-form-urlencoded",
            vec![b'a'; 100_000],
            &[],
        )
        .await,
    );

    app.submit_setup(
        "Ada",
        "ada@example.org",
        "correct horse battery staple",
        &[],
    )
    .await;
    let code_page = app.get("/account/recovery-code").await;
    keep("recovery-code", app.get("/account/recovery-code").await);
    keep(
        "recovery-code-unticked",
        app.post_form(
            "/account/recovery-code",
            &[("csrf_token", &code_page.csrf_token())],
        )
        .await,
    );
    app.confirm_recovery_code(&code_page).await;
    keep("clients", app.get("/clients").await);
    let client = app.add_client("Quality Client", "Q").await;
    let note = app
        .add_note(
            &client,
            &[
                ("section_subjective", "a note"),
                ("tag", "vulnerability"),
                ("key_moment", "moment"),
            ],
        )
        .await;
    let token = app.get(&note).await.csrf_token();
    app.post_form(
        &format!("{note}/edit"),
        &edit_fields("1", "a changed note", &token),
    )
    .await;
    // A measure with item 9 and one partly answered, so the client and
    // note pages show the chart, the table and the warning.
    let note_id = note.trim_start_matches("/notes/").to_owned();
    for (instrument, answers) in [("phq-9", &["2"; 9][..]), ("gad-7", &["1", "2"][..])] {
        let mut fields = vec![
            ("csrf_token".to_owned(), token.clone()),
            ("instrument".to_owned(), instrument.to_owned()),
            ("date".to_owned(), "2026-03-02".to_owned()),
            ("note".to_owned(), note_id.clone()),
        ];
        for (i, a) in answers.iter().enumerate() {
            fields.push((format!("item{}", i + 1), (*a).to_owned()));
        }
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let saved = app
            .post_form(&format!("{client}/measures/new"), &pairs)
            .await;
        assert_eq!(saved.status, 303, "{}", saved.body);
    }
    keep(
        "measure-errors",
        app.post_form(
            &format!("{client}/measures/new"),
            &[
                ("csrf_token", &token),
                ("instrument", "phq-9"),
                ("date", "x"),
                ("item1", "7"),
            ],
        )
        .await,
    );
    for (name, path) in [
        ("client", client.clone()),
        ("measure-new", format!("{client}/measures/new")),
        (
            "measure-error",
            crate::helpers::app::links_starting(
                &app.get(&client).await.body,
                &format!("{client}/measures/"),
            )
            .into_iter()
            .find(|h| h.ends_with("/error"))
            .expect("a correction link"),
        ),
        (
            "measure-new-gad",
            format!("{client}/measures/new?instrument=gad-7&note={note_id}"),
        ),
        (
            "clients-scored",
            "/clients?measure=phq-9&band=severe".to_owned(),
        ),
        ("clients-scored-none", "/clients?band=minimal".to_owned()),
        ("client-edit", format!("{client}/edit")),
        ("client-delete", format!("{client}/delete")),
        ("client-record", format!("{client}/record")),
        ("note", note.clone()),
        ("note-edit", format!("{note}/edit")),
        ("note-history", format!("{note}/history")),
        ("note-new", format!("{client}/notes/new")),
        ("notes-search", "/notes?q=note&tag=vulnerability".to_owned()),
        ("notes-chart", "/notes".to_owned()),
        ("handouts", "/handouts".to_owned()),
        ("handout", "/handouts/crying-in-therapy".to_owned()),
        (
            "handout-print",
            format!(
                "/handouts/crying-in-therapy/print?client={}",
                client.trim_start_matches("/clients/")
            ),
        ),
        (
            "handout-card-print",
            "/handouts/crying-in-therapy-card/print".to_owned(),
        ),
        ("handout-import", "/handouts/import".to_owned()),
        ("settings", "/settings".to_owned()),
        ("two-factor", "/settings/two-factor".to_owned()),
        ("practice", "/practice".to_owned()),
        ("audit", "/audit".to_owned()),
    ] {
        let page = app.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        keep(name, page);
    }
    keep(
        "note-conflict",
        app.post_form(&format!("{note}/edit"), &edit_fields("1", "stale", &token))
            .await,
    );
    keep(
        "import-draft",
        app.post_form(
            "/handouts/import",
            &[
                ("csrf_token", &token),
                (
                    "source",
                    "Title\n\nSome words here.\n\n- a point\n- another",
                ),
            ],
        )
        .await,
    );
    keep("not-found", app.get("/nothing-here").await);
    app.log_out().await;
    keep("login", app.get("/login").await);
    keep("recover", app.get("/recover").await);
    keep("login-signed-out", app.get("/login?signed_out=1").await);
    keep(
        "login-expired",
        app.get("/login?expired=1&next=%2Fclients").await,
    );
    keep(
        "login-insecure",
        app.get_with("/login", &[("host", "10.0.0.5:8080")]).await,
    );
    keep(
        "login-failed",
        app.log_in("ada@example.org", "wrong password").await,
    );
    let mut locked = None;
    for _ in 0..6 {
        let page = app.log_in("ada@example.org", "wrong password").await;
        if page.status == 429 {
            locked = Some(page);
            break;
        }
    }
    keep("locked-429", locked.expect("the account locks"));
    assert_valid_html(&pages);
}

#[test]
fn the_html_judge_can_fail() {
    let errors = crate::helpers::gates::html_errors(&[(
        "broken".to_owned(),
        "<!DOCTYPE html><html lang=en><head><title>x</title></head><body><div><p>open</div><img></body></html>".to_owned(),
    )]);
    assert!(errors.iter().any(|e| e.contains("img")), "{errors:?}");
    assert!(errors.len() >= 2, "{errors:?}");
}
