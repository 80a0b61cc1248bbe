//! The tests `shared/SECURITY.md` requires that apply to the foundation:
//! 4 (no secret in the database files), 6 (recovery code), 7 (cookies and
//! sessions), 8 (CSRF), 10 (sign-in flood), plus headers everywhere.

use std::time::Duration;

use diesel::prelude::*;
use tearsheet::auth::account::{self, Rekey};
use tearsheet::crypto::password::KdfParams;
use tearsheet::crypto::recovery::RecoveryCode;
use tearsheet::db::schema::{audit_events, sessions, therapists};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(
    session_cookie_has_the_contract_attributes_and_changes_at_every_login,
    a_logged_out_cookie_replayed_is_refused,
    posts_without_or_with_another_sessions_csrf_token_are_refused_and_change_nothing,
    sign_in_and_setup_forms_need_their_pre_session_token,
    cross_site_posts_are_refused_before_the_form_is_read,
    security_headers_are_on_pages_static_files_and_errors,
    the_recovery_code_opens_the_notes_key_once_and_a_wrong_code_fails,
    many_concurrent_wrong_passwords_lock_the_account_and_the_server_keeps_answering,
    the_audit_trail_is_hash_chained_and_an_edited_row_is_found,
);

async fn session_cookie_has_the_contract_attributes_and_changes_at_every_login(app: TestApp) {
    let page = app
        .submit_setup(
            "Ada",
            "ada@example.org",
            "correct horse battery staple",
            &[],
        )
        .await;
    let cookie = page
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-tearsheet="))
        .expect("session cookie set at setup");
    let attrs: Vec<String> = cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["secure", "httponly", "samesite=strict", "path=/"] {
        assert!(
            attrs.iter().any(|a| a == wanted),
            "{wanted} missing from {cookie}"
        );
    }
    assert!(
        !attrs.iter().any(|a| a.starts_with("domain")),
        "no Domain: {cookie}"
    );
    let value = cookie
        .split(';')
        .next()
        .expect("pair")
        .split_once('=')
        .expect("value")
        .1
        .to_owned();
    assert!(
        data_encoding::BASE64URL_NOPAD
            .decode(value.as_bytes())
            .expect("base64url")
            .len()
            >= 32,
        "128-bit id + 128-bit secret at least"
    );

    let first = app.cookie("__Host-tearsheet").expect("cookie");
    let code = app.get("/account/recovery-code").await;
    app.confirm_recovery_code(&code).await;
    // Signing in again, even while signed in, never reuses the old session id.
    let token = app.get("/login?x").await;
    assert_eq!(
        token.location(),
        Some("/clients"),
        "signed-in visitors skip the form"
    );
    let other = app.new_agent();
    other.set_cookie("__Host-tearsheet", &first);
    other.log_out().await;
    other
        .log_in("ada@example.org", "correct horse battery staple")
        .await;
    let second = other.cookie("__Host-tearsheet").expect("new cookie");
    assert_ne!(first, second);
    // A fixated cookie is useless: the pre-login value was ended.
    let fixated = app.get("/clients").await;
    assert_eq!(fixated.location(), Some("/login?next=%2Fclients"));
}

async fn a_logged_out_cookie_replayed_is_refused(app: TestApp) {
    app.set_up().await;
    let cookie = app.cookie("__Host-tearsheet").expect("cookie");
    app.log_out().await;
    let replay = app.new_agent();
    replay.set_cookie("__Host-tearsheet", &cookie);
    let page = replay.get("/clients").await;
    assert_eq!(
        (page.status, page.location()),
        (303, Some("/login?next=%2Fclients"))
    );
    let mut conn = app.pool().get().expect("conn");
    let left: i64 = sessions::table
        .count()
        .get_result(&mut *conn)
        .expect("count");
    assert_eq!(left, 0, "logout deleted the row server-side");
}

async fn posts_without_or_with_another_sessions_csrf_token_are_refused_and_change_nothing(
    app: TestApp,
) {
    let account = app.set_up().await;
    let other = app.new_agent();
    other.log_in(&account.email, &account.password).await;
    let others_token = other.get("/clients").await.csrf_token();
    let own_token = app.get("/clients").await.csrf_token();
    assert_ne!(own_token, others_token);

    for fields in [
        vec![],
        vec![("csrf_token", others_token.as_str())],
        vec![("csrf_token", "forged")],
    ] {
        let page = app.post_form("/logout", &fields).await;
        assert_eq!(page.status, 403, "{fields:?}");
        page.assert_contains("security token");
        assert_eq!(app.get("/clients").await.status, 200, "still signed in");
    }
    let mut conn = app.pool().get().expect("conn");
    let live: i64 = sessions::table
        .count()
        .get_result(&mut *conn)
        .expect("count");
    assert_eq!(live, 2);
    assert_eq!(app.audit_count("logout"), 0);
    assert_eq!(
        app.post_form("/logout", &[("csrf_token", &own_token)])
            .await
            .status,
        303
    );
}

async fn sign_in_and_setup_forms_need_their_pre_session_token(app: TestApp) {
    let fields = [
        ("display_name", "Ada"),
        ("email", "ada@example.org"),
        ("password", "correct horse battery staple"),
        ("password_confirm", "correct horse battery staple"),
    ];
    app.get("/setup").await;
    assert_eq!(app.post_form("/setup", &fields).await.status, 403);
    let mut forged = fields.to_vec();
    forged.push(("csrf_token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_eq!(app.post_form("/setup", &forged).await.status, 403);
    // A token from another browser's cookie does not fit this browser's.
    let other = app.new_agent();
    let others = other.get("/setup").await.csrf_token();
    let mut theirs = fields.to_vec();
    theirs.push(("csrf_token", &others));
    assert_eq!(app.post_form("/setup", &theirs).await.status, 403);
    let mut conn = app.pool().get().expect("conn");
    let n: i64 = therapists::table
        .count()
        .get_result(&mut *conn)
        .expect("count");
    assert_eq!(n, 0);

    let account = app.set_up().await;
    let visitor = app.new_agent();
    visitor.get("/login").await;
    let page = visitor
        .post_form(
            "/login",
            &[("email", &account.email), ("password", &account.password)],
        )
        .await;
    assert_eq!(page.status, 403);
    assert!(visitor.cookie("__Host-tearsheet").is_none());
}

async fn cross_site_posts_are_refused_before_the_form_is_read(app: TestApp) {
    app.set_up().await;
    let token = app.get("/clients").await.csrf_token();
    let body = format!("csrf_token={token}").into_bytes();
    for headers in [
        [("sec-fetch-site", "cross-site")],
        [("origin", "https://evil.example")],
        [("origin", "http://127.0.0.1:1")],
    ] {
        let page = app
            .post_raw(
                "/logout",
                "application/x-www-form-urlencoded",
                body.clone(),
                &headers,
            )
            .await;
        assert_eq!(page.status, 403, "{headers:?}");
        page.assert_contains("sent from another site");
    }
    assert_eq!(app.get("/clients").await.status, 200);
    let same = app.address.clone();
    let page = app
        .post_raw(
            "/logout",
            "application/x-www-form-urlencoded",
            body,
            &[("origin", same.as_str()), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(page.status, 303);
}

async fn security_headers_are_on_pages_static_files_and_errors(app: TestApp) {
    app.set_up().await;
    for (path, store) in [
        ("/clients", true),
        ("/static/app.css", false),
        ("/nope", true),
        ("/healthz", true),
        ("/login", true),
    ] {
        let page = app.get(path).await;
        let h = |name: &str| {
            page.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        assert_eq!(
            h("content-security-policy"),
            "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
            "{path}"
        );
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(h("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(
            h("cache-control") == "no-store",
            store,
            "{path}: {}",
            h("cache-control")
        );
        assert!(
            h("strict-transport-security").is_empty(),
            "no HSTS over plain http"
        );
    }
    // No inline script or style anywhere (the CSP would block them).
    for path in ["/clients", "/login", "/nope"] {
        let body = app.get(path).await.body;
        assert!(
            !body.contains("<script") && !body.contains("style=") && !body.contains("<style"),
            "{path}"
        );
    }
}

async fn the_recovery_code_opens_the_notes_key_once_and_a_wrong_code_fails(app: TestApp) {
    let account = app.set_up().await;
    let pool = app.pool();
    let (email, code) = (account.email.clone(), account.recovery_code.clone());
    let typed = format!(" {} ", code.to_lowercase().replace('-', " "));
    let new_code = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().expect("conn");
        let t = account::find_by_email(&mut conn, &email)
            .expect("query")
            .expect("account");
        // A wrong code fails; the right one, typed loosely, opens DK.
        assert!(t.unlock_with_recovery(&RecoveryCode::generate()).is_none());
        let dk = t
            .unlock_with_recovery(&RecoveryCode::parse(&typed).expect("parses"))
            .expect("right code opens DK");
        let rekey = Rekey::new(
            t.id,
            &dk,
            "a brand new long password",
            KdfParams::DEFAULT,
            true,
        )
        .expect("rekey");
        rekey.apply(&mut conn).expect("stored");
        let new_code = rekey
            .recovery_code()
            .expect("new code")
            .display()
            .to_string();
        // The used code no longer opens anything.
        let t = account::find_by_email(&mut conn, &email)
            .expect("query")
            .expect("account");
        assert!(
            t.unlock_with_recovery(&RecoveryCode::parse(&code).expect("parses"))
                .is_none(),
            "old code stops working"
        );
        assert!(
            t.unlock_with_recovery(&RecoveryCode::parse(&new_code).expect("parses"))
                .is_some()
        );
        new_code
    })
    .await
    .expect("blocking");
    assert_ne!(new_code, account.recovery_code);
    // Recovery ended every session, and the old password is gone.
    assert_eq!(
        app.get("/clients").await.location(),
        Some("/login?next=%2Fclients")
    );
    let old = app.log_in(&account.email, &account.password).await;
    old.assert_contains("do not match");
    assert_eq!(
        app.log_in(&account.email, "a brand new long password")
            .await
            .location(),
        Some("/clients")
    );
}

async fn many_concurrent_wrong_passwords_lock_the_account_and_the_server_keeps_answering(
    app: TestApp,
) {
    let account = app.set_up().await;
    let base = app.address.clone();
    // Forty attackers at once, each retrying when told the server is busy
    // (503), as a real attacker would, until the server gives an answer.
    let flood: Vec<_> = (0..40)
        .map(|_| {
            let agent = crate::helpers::Agent::new(&base);
            let email = account.email.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                for _ in 0..200 {
                    let status = agent.log_in(&email, "wrong password, again").await.status;
                    seen.push(status);
                    if status != 503 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                seen
            })
        })
        .collect();
    // While the flood runs, other pages still answer promptly.
    let started = std::time::Instant::now();
    let health = app.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(app.get("/clients").await.status, 200);
    let during = started.elapsed();

    let mut statuses = Vec::new();
    for task in flood {
        statuses.extend(task.await.expect("task"));
    }
    assert!(
        statuses.iter().all(|s| [200, 429, 503].contains(s)),
        "only failure pages, locks and busy pages: {statuses:?}"
    );
    assert!(
        statuses.contains(&429),
        "the account lock engaged: {statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == 200).count() <= 12,
        "few guesses were checked before the lock: {statuses:?}"
    );
    // The account is now locked, even for the right password.
    let visitor = app.new_agent();
    let locked = visitor.log_in(&account.email, &account.password).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    locked.assert_contains("Too many attempts");
    assert!(locked.headers.contains_key("retry-after"));
    assert!(app.audit_count("login.locked") >= 1);
    assert!(
        during < Duration::from_secs(30),
        "other pages kept answering ({during:?})"
    );
}

async fn the_audit_trail_is_hash_chained_and_an_edited_row_is_found(app: TestApp) {
    let account = app.set_up().await;
    app.log_out().await;
    app.log_in(&account.email, "wrong password here").await;
    app.log_in(&account.email, &account.password).await;
    let pool = app.pool();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().expect("conn");
        let (checked, broken) = tearsheet::audit::verify(&mut conn).expect("verify");
        assert_eq!(broken, None);
        assert!(checked >= 6, "{checked}");
        let rows: Vec<(i64, String)> = audit_events::table
            .order(audit_events::id.asc())
            .select((audit_events::id, audit_events::action))
            .load(&mut *conn)
            .expect("rows");
        let failed = rows
            .iter()
            .find(|(_, a)| a == "login.failed")
            .expect("failure recorded")
            .0;
        diesel::update(audit_events::table.find(failed))
            .set(audit_events::action.eq("login.ok"))
            .execute(&mut *conn)
            .expect("tamper");
        let (_, broken) = tearsheet::audit::verify(&mut conn).expect("verify");
        assert_eq!(broken.expect("tampering found").row_id.0, failed);
    })
    .await
    .expect("blocking");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_past_its_timeout_is_refused_and_audited() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::spawn_with(backend, |c| c.idle_timeout = Duration::from_secs(2)).await;
        app.set_up().await;
        assert_eq!(app.get("/clients").await.status, 200);
        tokio::time::sleep(Duration::from_millis(3200)).await;
        let page = app.get("/clients").await;
        assert_eq!(
            page.location(),
            Some("/login?next=%2Fclients&expired=1"),
            "{backend:?}"
        );
        assert!(
            app.cookie("__Host-tearsheet").is_none(),
            "the dead cookie is cleared"
        );
        app.get("/login?expired=1")
            .await
            .assert_contains("signed out because the session was idle");
        assert_eq!(app.audit_count("session.expired"), 1, "{backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_cookie_or_recovery_code_is_in_any_sqlite_file() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let account = app.set_up().await;
    let cookie = app.cookie("__Host-tearsheet").expect("cookie");
    let raw_cookie = data_encoding::BASE64URL_NOPAD
        .decode(cookie.as_bytes())
        .expect("b64");
    let code_plain = account.recovery_code.replace('-', "");
    let files = app.sqlite_files();
    assert!(files.len() >= 2, "main and WAL files exist: {files:?}");
    for file in files {
        let bytes = std::fs::read(&file).expect("read db file");
        for (what, needle) in [
            ("password", account.password.as_bytes()),
            ("cookie", cookie.as_bytes()),
            ("session id", &raw_cookie[..16]),
            ("session secret", &raw_cookie[16..]),
            ("recovery code", account.recovery_code.as_bytes()),
            ("recovery code", code_plain.as_bytes()),
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{what} found in {}",
                file.display()
            );
        }
    }
}
