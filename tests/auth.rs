//! Setup, sign-in and sign-out as a therapist meets them, and the bad input
//! they must survive. Each runs on SQLite and on PostgreSQL.

use diesel::prelude::*;
use tearsheet::db::schema::{audit_events, sessions, therapists};

use crate::both_backends;
use crate::helpers::TestApp;

fn count_therapists(app: &TestApp) -> i64 {
    let mut conn = app.pool().get().expect("conn");
    therapists::table
        .count()
        .get_result(&mut *conn)
        .expect("count")
}

fn audit_actions(app: &TestApp) -> Vec<String> {
    let mut conn = app.pool().get().expect("conn");
    audit_events::table
        .order(audit_events::id.asc())
        .select(audit_events::action)
        .load(&mut *conn)
        .expect("audit")
}

both_backends!(
    first_visit_goes_to_setup_and_setup_then_disappears,
    setup_shows_the_recovery_code_once_and_requires_confirming_it,
    a_therapist_signs_out_and_back_in,
    a_wrong_password_and_an_unknown_email_look_the_same,
    setup_refuses_bad_input_and_keeps_what_was_typed,
    oversized_and_malformed_bodies_get_clear_pages_and_change_nothing,
    health_check_answers_ok,
    unknown_pages_and_ids_are_friendly_404s,
    signed_out_visitors_are_sent_to_sign_in_and_come_back,
    login_over_plain_http_on_a_lan_address_explains_instead_of_failing,
);

async fn first_visit_goes_to_setup_and_setup_then_disappears(app: TestApp) {
    let root = app.get("/").await;
    assert_eq!((root.status, root.location()), (303, Some("/setup")));
    assert_eq!(app.get("/login").await.location(), Some("/setup"));

    let setup = app.get("/setup").await;
    assert_eq!(setup.status, 200);
    setup.assert_contains("cannot be recovered by anyone");
    setup.assert_contains(r#"autocomplete="username""#);
    setup.assert_contains(r#"autocomplete="new-password""#);

    app.set_up().await;
    assert_eq!(app.get("/setup").await.status, 404);
    let other = app.new_agent();
    assert_eq!(other.get("/setup").await.status, 404);
    assert_eq!(other.get("/").await.location(), Some("/login"));
    assert_eq!(app.get("/").await.location(), Some("/clients"));
    let home = app.get("/clients").await;
    assert_eq!(home.status, 200);
    home.assert_contains("No clients yet");
    home.assert_contains("Dr Ada Lovelace");

    // A second setup, even with a valid pre-session token, changes nothing.
    let late = other
        .submit(
            "/login",
            "/setup",
            &[
                ("display_name", "Mallory"),
                ("email", "m@example.org"),
                ("password", "another long password"),
                ("password_confirm", "another long password"),
            ],
        )
        .await;
    assert_eq!(late.status, 404);
    assert_eq!(count_therapists(&app), 1);
    assert_eq!(
        audit_actions(&app)[..2],
        ["setup".to_owned(), "login.ok".to_owned()]
    );
}

async fn setup_shows_the_recovery_code_once_and_requires_confirming_it(app: TestApp) {
    let page = app
        .submit_setup("Sam", "Sam@Example.org", "a long enough password", &[])
        .await;
    assert_eq!(page.location(), Some("/account/recovery-code"));
    // Until the code is confirmed, the app keeps showing it.
    assert_eq!(
        app.get("/clients").await.location(),
        Some("/account/recovery-code")
    );
    let code_page = app.get("/account/recovery-code").await;
    code_page.assert_contains("shown <strong>only now</strong>");
    code_page.assert_contains("nobody can recover your notes");
    code_page.assert_contains(r#"media="print""#);
    // Never stored by the browser, so Back cannot show it again.
    assert_eq!(
        code_page
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let code = crate::helpers::app::recovery_code_from(&code_page.body);
    assert_eq!(code.split('-').count(), 8, "eight groups: {code}");
    assert!(code.split('-').all(|g| g.len() == 4));

    // Reloading shows the same code; no confirmation means no way on.
    assert_eq!(
        crate::helpers::app::recovery_code_from(&app.get("/account/recovery-code").await.body),
        code
    );
    let unticked = app
        .post_form(
            "/account/recovery-code",
            &[("csrf_token", &code_page.csrf_token())],
        )
        .await;
    assert_eq!(unticked.status, 400);
    unticked.assert_contains("Tick the box");
    unticked.assert_contains(code.split('-').next().expect("group"));

    let done = app.confirm_recovery_code(&code_page).await;
    assert_eq!(done.location(), Some("/clients"));
    // Confirming also tells the browser to drop any page it cached.
    assert_eq!(
        done.headers
            .get("clear-site-data")
            .and_then(|v| v.to_str().ok()),
        Some("\"cache\"")
    );
    // Once confirmed, it is gone for good.
    assert_eq!(
        app.get("/account/recovery-code").await.location(),
        Some("/clients")
    );
    assert_eq!(app.get("/clients").await.status, 200);
    // The email was stored lower-cased, so signing in with either case works.
    app.log_out().await;
    assert_eq!(
        app.log_in("sam@example.org", "a long enough password")
            .await
            .status,
        303
    );
}

async fn a_therapist_signs_out_and_back_in(app: TestApp) {
    let account = app.set_up().await;
    let out = app.log_out().await;
    assert_eq!(out.location(), Some("/login?signed_out=1"));
    assert!(
        app.cookie("__Host-tearsheet").is_none(),
        "sign-out removes the cookie"
    );
    assert_eq!(
        app.get("/clients").await.location(),
        Some("/login?next=%2Fclients")
    );
    app.get("/login?signed_out=1")
        .await
        .assert_contains("You have signed out.");

    let login = app.get("/login").await;
    login.assert_contains(r#"autocomplete="current-password""#);
    login.assert_contains(r#"autocomplete="username""#);
    let back = app.log_in(&account.email, &account.password).await;
    assert_eq!((back.status, back.location()), (303, Some("/clients")));
    assert_eq!(app.get("/clients").await.status, 200);
    let actions = audit_actions(&app);
    assert!(
        actions.ends_with(&["logout".to_owned(), "login.ok".to_owned()]),
        "{actions:?}"
    );
}

async fn a_wrong_password_and_an_unknown_email_look_the_same(app: TestApp) {
    let account = app.set_up().await;
    let visitor = app.new_agent();
    let wrong = visitor
        .log_in(&account.email, "not the password at all")
        .await;
    let unknown = visitor
        .log_in("nobody@example.org", "not the password at all")
        .await;
    assert_eq!(wrong.status, 200);
    assert_eq!(wrong.status, unknown.status);
    let message = "That email and password do not match an account.";
    wrong.assert_contains(message);
    unknown.assert_contains(message);
    assert!(visitor.cookie("__Host-tearsheet").is_none());
    // The email is kept in the form; the password never is.
    wrong.assert_contains(r#"value="ada@example.org""#);
    assert!(!wrong.body.contains("not the password at all"));
    let actions = audit_actions(&app);
    assert_eq!(actions.iter().filter(|a| *a == "login.failed").count(), 2);
}

async fn setup_refuses_bad_input_and_keeps_what_was_typed(app: TestApp) {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "Enter your name"),
        (
            &[
                ("display_name", "Kim"),
                ("email", "kim@example.org"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
            "at least 12 characters",
        ),
        (
            &[
                ("display_name", "Kim"),
                ("email", "kim@example.org"),
                ("password", "a long enough password"),
                ("password_confirm", "a long enough passw0rd"),
            ],
            "The two passwords are different",
        ),
        (
            &[
                ("display_name", "Kim"),
                ("email", "not an email"),
                ("password", "a long enough password"),
                ("password_confirm", "a long enough password"),
            ],
            "Enter an email address like",
        ),
    ];
    for (fields, message) in cases {
        let page = app.submit("/setup", "/setup", fields).await;
        assert_eq!(page.status, 400, "{fields:?}");
        page.assert_contains(message);
        page.assert_contains(r#"role="alert""#);
        page.assert_contains(r#"aria-invalid="true""#);
        if let Some((_, name)) = fields.iter().find(|(k, _)| *k == "display_name") {
            page.assert_contains(&format!(r#"value="{name}""#));
        }
        assert!(
            !page.body.contains("a long enough password"),
            "passwords are never echoed"
        );
    }
    // Hostile HTML in the name is shown inert.
    let page = app
        .submit(
            "/setup",
            "/setup",
            &[
                ("display_name", "<script>alert(1)</script>"),
                ("email", "x"),
                ("password", "p"),
                ("password_confirm", "p"),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
    assert!(!page.body.contains("<script>alert(1)"));
    page.assert_contains("&#60;script&#62;alert(1)&#60;/script&#62;");
    assert_eq!(count_therapists(&app), 0);
}

async fn oversized_and_malformed_bodies_get_clear_pages_and_change_nothing(app: TestApp) {
    let token = app.get("/setup").await.csrf_token();
    let huge = format!(
        "csrf_token={token}&display_name={}",
        "a".repeat(10 * 1024 * 1024)
    );
    let page = app
        .post_raw(
            "/setup",
            "application/x-www-form-urlencoded",
            huge.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(page.status, 413);
    page.assert_contains("too large");

    let mut invalid = format!("csrf_token={token}&email=a%40b.c&password=").into_bytes();
    invalid.extend_from_slice(b"\xff\xfe long enough password");
    let page = app
        .post_raw("/setup", "application/x-www-form-urlencoded", invalid, &[])
        .await;
    assert_eq!(page.status, 400);
    page.assert_contains("not valid text");

    let page = app
        .post_raw(
            "/setup",
            "application/json",
            br#"{"email":"a@b.c"}"#.to_vec(),
            &[],
        )
        .await;
    assert_eq!(page.status, 400);
    page.assert_contains("expects a form");

    let page = app
        .post_raw(
            "/login",
            "application/x-www-form-urlencoded",
            format!("csrf_token={token}&email=%zz").into_bytes(),
            &[],
        )
        .await;
    // `%zz` is not an escape, so it is kept as typed; with no password the
    // form is incomplete, and the page says so.
    assert_eq!(page.status, 400, "{}", page.body);
    page.assert_contains("Enter both your email address and your password.");
    assert!(
        !page.body.contains("panicked") && !page.body.contains("src/"),
        "no internals: {}",
        page.body
    );
    assert_eq!(count_therapists(&app), 0);
}

async fn health_check_answers_ok(app: TestApp) {
    let page = app.get("/healthz").await;
    assert_eq!((page.status, page.body.as_str()), (200, "ok"));
}

async fn unknown_pages_and_ids_are_friendly_404s(app: TestApp) {
    app.set_up().await;
    for path in [
        "/nope",
        "/clients/123",
        "/static/../Cargo.toml",
        "/static/nothing.css",
    ] {
        let page = app.get(path).await;
        assert_eq!(page.status, 404, "{path}");
        page.assert_contains("Page not found");
    }
    let page = app.post_form("/no-such-form", &[]).await;
    assert_eq!(page.status, 404);
}

async fn signed_out_visitors_are_sent_to_sign_in_and_come_back(app: TestApp) {
    let account = app.set_up().await;
    let visitor = app.new_agent();
    let page = visitor.get("/clients").await;
    assert_eq!(page.location(), Some("/login?next=%2Fclients"));
    let form = visitor.get("/login?next=%2Fclients").await;
    assert_eq!(
        crate::helpers::app::hidden_value(&form.body, "next").as_deref(),
        Some("/clients")
    );
    let token = form.csrf_token();
    let done = visitor
        .post_form(
            "/login",
            &[
                ("email", &account.email),
                ("password", &account.password),
                ("next", "/clients"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(done.location(), Some("/clients"));
    // Another site is never a destination.
    visitor.log_out().await;
    let done = visitor
        .submit(
            "/login",
            "/login",
            &[
                ("email", &account.email),
                ("password", &account.password),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(done.location(), Some("/clients"));
}

async fn login_over_plain_http_on_a_lan_address_explains_instead_of_failing(app: TestApp) {
    app.set_up().await;
    let visitor = app.new_agent();
    let page = visitor
        .get_with("/login", &[("host", "192.168.1.20:8080")])
        .await;
    assert_eq!(page.status, 200);
    page.assert_contains("Signing in will not work at this address");
    page.assert_contains("https");
    assert!(
        !page.body.contains(r#"action="/login""#),
        "no form that would silently fail"
    );
    let local = visitor
        .get_with("/login", &[("host", "localhost:8080")])
        .await;
    local.assert_contains(r#"action="/login""#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_rows_hold_a_hash_of_the_cookie_id_not_the_id() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    app.set_up().await;
    let cookie = app.cookie("__Host-tearsheet").expect("session cookie");
    let raw = data_encoding::BASE64URL_NOPAD
        .decode(cookie.as_bytes())
        .expect("base64url");
    let mut conn = app.pool().get().expect("conn");
    let stored: Vec<Vec<u8>> = sessions::table
        .select(sessions::token_hash)
        .load(&mut *conn)
        .expect("sessions");
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], raw[..16].to_vec());
    assert!(
        !stored[0].windows(16).any(|w| w == &raw[..16]),
        "the raw session id is not stored"
    );
}
