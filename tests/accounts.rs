//! Accounts for a practice: invitations, disabling, password change,
//! recovery, two-factor sign-in, sessions and the audit trail.

use crate::both_backends;
use crate::helpers::app::{codes_listed, hidden_value, unix_now};
use crate::helpers::{Agent, TestApp};

both_backends!(
    an_invited_colleague_joins_once_and_expired_or_forged_links_fail,
    a_disabled_account_is_signed_out_at_once_and_cannot_sign_in,
    changing_the_password_keeps_every_note_and_ends_other_sessions,
    the_recovery_page_works_once_and_wrong_codes_are_throttled,
    two_factor_codes_work_once_and_backup_codes_once,
    two_factor_guesses_count_across_every_waiting_sign_in,
    two_factor_is_replaced_only_with_the_password_and_a_current_code,
    sessions_can_be_ended_from_settings,
    the_audit_trail_is_shown_and_verified,
    a_profile_signs_notes_and_the_practice_chooses_how_dates_read,
    signing_in_again_asks_for_a_code_only_from_accounts_that_use_one,
);

/// Invite a colleague as the administrator; returns the invitation path.
async fn invite(app: &TestApp, email: &str) -> String {
    let token = app.get("/practice").await.csrf_token();
    let page = app
        .post_form(
            "/practice/invites",
            &[
                ("csrf_token", &token),
                ("email", email),
                ("role", "therapist"),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let link = page
        .body
        .split("id=\"invite-link\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("link shown")
        .to_owned();
    format!("/invite/{}", link.rsplit('/').next().expect("token"))
}

/// Accept an invitation in a new browser; returns the signed-in colleague.
async fn accept(app: &TestApp, path: &str, password: &str) -> Agent {
    let colleague = app.new_agent();
    let page = colleague
        .submit(
            path,
            path,
            &[
                ("display_name", "Dr Colleague"),
                ("password", password),
                ("password_confirm", password),
            ],
        )
        .await;
    assert_eq!(
        page.location(),
        Some("/account/recovery-code"),
        "{}",
        page.body
    );
    let code = colleague.get("/account/recovery-code").await;
    colleague.confirm_recovery_code(&code).await;
    colleague
}

async fn an_invited_colleague_joins_once_and_expired_or_forged_links_fail(app: TestApp) {
    app.set_up().await;
    let page = app.get("/practice").await;
    page.assert_contains("cannot read, export or reset anyone else");
    let path = invite(&app, "cole@example.org").await;
    let colleague = accept(&app, &path, "colleague long password").await;
    assert_eq!(colleague.get("/clients").await.status, 200);
    app.get("/practice")
        .await
        .assert_contains("cole@example.org");
    assert_eq!(
        colleague.get("/practice").await.status,
        403,
        "a therapist sees no practice page"
    );

    let again = app.new_agent().get(&path).await;
    assert_eq!(again.status, 410);
    again.assert_contains("not valid any more");
    assert_eq!(
        app.new_agent().get("/invite/forged-token").await.status,
        410
    );

    let late = invite(&app, "late@example.org").await;
    {
        use diesel::prelude::*;
        let mut conn = app.pool().get().expect("conn");
        diesel::update(
            tearsheet::db::schema::invites::table
                .filter(tearsheet::db::schema::invites::email.eq("late@example.org")),
        )
        .set(tearsheet::db::schema::invites::expires_at.eq(tearsheet::db::now() - 1))
        .execute(&mut *conn)
        .expect("expire");
    }
    let expired = app.new_agent().get(&late).await;
    assert_eq!(expired.status, 410);
    assert_eq!(app.audit_count("invite.create"), 2);
    assert_eq!(app.audit_count("invite.accept"), 1);

    // The administrator cannot reach the colleague's records by any URL.
    let client = colleague.add_client("Colleague's Client", "").await;
    let note = colleague
        .add_note(&client, &[("section_subjective", "colleague's words")])
        .await;
    for path in [client.as_str(), note.as_str()] {
        let page = app.get(path).await;
        assert_eq!(page.status, 404);
        assert!(!page.body.contains("colleague's words"));
    }
}

async fn a_disabled_account_is_signed_out_at_once_and_cannot_sign_in(app: TestApp) {
    app.set_up().await;
    let path = invite(&app, "dee@example.org").await;
    let colleague = accept(&app, &path, "colleague long password").await;
    let page = app.get("/practice").await;
    // The one account with a turn-off form: the colleague's.
    let id = page
        .body
        .split("/disable\"")
        .next()
        .and_then(|before| before.rsplit("/practice/accounts/").next())
        .expect("a turn-off form")
        .to_owned();
    let off = app
        .press(&page, &format!("/practice/accounts/{id}/disable"))
        .await;
    assert_eq!(off.status, 303);
    assert_eq!(
        colleague.get("/clients").await.location(),
        Some("/login?next=%2Fclients"),
        "the open session stopped working"
    );
    let refused = colleague
        .log_in("dee@example.org", "colleague long password")
        .await;
    assert_eq!(refused.status, 403);
    refused.assert_contains("disabled");
    let on = app
        .press(&page, &format!("/practice/accounts/{id}/enable"))
        .await;
    assert_eq!(on.status, 303);
    assert_eq!(
        colleague
            .log_in("dee@example.org", "colleague long password")
            .await
            .location(),
        Some("/clients")
    );
    assert_eq!(app.audit_count("account.disable"), 1);
}

async fn changing_the_password_keeps_every_note_and_ends_other_sessions(app: TestApp) {
    let account = app.set_up().await;
    let client = app.add_client("Kept Client", "").await;
    let note = app
        .add_note(
            &client,
            &[("section_subjective", "words that must survive")],
        )
        .await;
    let other = app.new_agent();
    other.log_in(&account.email, &account.password).await;
    assert_eq!(other.get("/clients").await.status, 200);
    let token = app.get("/settings").await.csrf_token();
    let wrong = app
        .post_form(
            "/settings/password",
            &[
                ("csrf_token", &token),
                ("current_password", "not it at all"),
                ("new_password", "a new long password"),
                ("new_password_confirm", "a new long password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 400);
    wrong.assert_contains("not your current password");
    let changed = app
        .post_form(
            "/settings/password",
            &[
                ("csrf_token", &token),
                ("current_password", &account.password),
                ("new_password", "a new long password"),
                ("new_password_confirm", "a new long password"),
            ],
        )
        .await;
    assert_eq!(changed.location(), Some("/settings?changed=1"));
    assert_eq!(
        app.get(&note).await.status,
        200,
        "this browser stays signed in"
    );
    app.get(&note)
        .await
        .assert_contains("words that must survive");
    assert_eq!(
        other.get("/clients").await.location(),
        Some("/login?next=%2Fclients"),
        "the other session ended"
    );
    other
        .log_in(&account.email, &account.password)
        .await
        .assert_contains("do not match");
    assert_eq!(
        other
            .log_in(&account.email, "a new long password")
            .await
            .location(),
        Some("/clients")
    );
    other
        .get(&note)
        .await
        .assert_contains("words that must survive");
    assert_eq!(app.audit_count("password.change"), 1);
}

async fn the_recovery_page_works_once_and_wrong_codes_are_throttled(app: TestApp) {
    let account = app.set_up().await;
    let client = app.add_client("Recovered Client", "").await;
    let visitor = app.new_agent();
    let typed = format!(
        "  {} ",
        account.recovery_code.to_lowercase().replace('-', " - ")
    );
    let page = recover(&visitor, &account.email, &typed, "recovered long password").await;
    assert_eq!(
        page.location(),
        Some("/account/recovery-code"),
        "{}",
        page.body
    );
    let code_page = visitor.get("/account/recovery-code").await;
    let new_code = crate::helpers::app::recovery_code_from(&code_page.body);
    assert_ne!(new_code, account.recovery_code);
    visitor.confirm_recovery_code(&code_page).await;
    assert_eq!(
        visitor.get(&client).await.status,
        200,
        "the notes open with the recovered key"
    );
    assert_eq!(
        app.get("/clients").await.location(),
        Some("/login?next=%2Fclients"),
        "every other session ended"
    );

    let used = recover(
        &app.new_agent(),
        &account.email,
        &account.recovery_code,
        "yet another password",
    )
    .await;
    used.assert_contains("do not match");
    let thief = app.new_agent();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let page = recover(
            &thief,
            &account.email,
            "AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA",
            "yet another password",
        )
        .await;
        statuses.push(page.status);
    }
    assert!(
        statuses.contains(&429),
        "wrong codes are throttled: {statuses:?}"
    );
    assert_eq!(app.audit_count("recovery.use"), 1);
}

async fn two_factor_codes_work_once_and_backup_codes_once(app: TestApp) {
    let account = app.set_up().await;
    let enrol = app.get("/settings/two-factor").await;
    enrol.assert_contains("<title id=\"qr-title\">");
    let secret = hidden_value(&enrol.body, "secret").expect("secret");
    let raw = tearsheet::auth::totp::decode_secret(&secret).expect("base32 secret");
    let now = unix_now();
    let wrong = app
        .post_form(
            "/settings/two-factor",
            &[
                ("csrf_token", &enrol.csrf_token()),
                ("secret", &secret),
                ("code", "12a456"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 400);
    let done = app
        .post_form(
            "/settings/two-factor",
            &[
                ("csrf_token", &enrol.csrf_token()),
                ("secret", &secret),
                ("code", &tearsheet::auth::totp::code_at(&raw, now)),
            ],
        )
        .await;
    assert_eq!(done.status, 200);
    let backups = codes_listed(&done.body);
    assert_eq!(backups.len(), 10);

    // Sign in: the password alone is not enough.
    let phone = app.new_agent();
    assert_eq!(
        phone
            .log_in(&account.email, &account.password)
            .await
            .location(),
        Some("/login/code")
    );
    assert_eq!(phone.get("/clients").await.location(), Some("/login/code"));
    let form = phone.get("/login/code").await;
    let letters = phone
        .post_form(
            "/login/code",
            &[("csrf_token", &form.csrf_token()), ("code", "abcdef")],
        )
        .await;
    letters.assert_contains("does not match");
    // A code from the next step (clock skew) is accepted once.
    let code = tearsheet::auth::totp::code_at(&raw, now + 30);
    let ok = phone
        .post_form(
            "/login/code",
            &[("csrf_token", &form.csrf_token()), ("code", &code)],
        )
        .await;
    assert_eq!(ok.location(), Some("/clients"));
    assert_eq!(phone.get("/clients").await.status, 200);

    let replay = app.new_agent();
    replay.log_in(&account.email, &account.password).await;
    let form = replay.get("/login/code").await;
    let again = replay
        .post_form(
            "/login/code",
            &[("csrf_token", &form.csrf_token()), ("code", &code)],
        )
        .await;
    again.assert_contains("already used");
    let backup = replay
        .post_form(
            "/login/code",
            &[
                ("csrf_token", &form.csrf_token()),
                ("code", &backups[0].to_lowercase()),
            ],
        )
        .await;
    assert_eq!(backup.location(), Some("/clients"));
    let reuse = app.new_agent();
    reuse.log_in(&account.email, &account.password).await;
    let form = reuse.get("/login/code").await;
    reuse
        .post_form(
            "/login/code",
            &[("csrf_token", &form.csrf_token()), ("code", &backups[0])],
        )
        .await
        .assert_contains("does not match");

    // Turning it off needs the password and a code.
    let page = app.get("/settings/two-factor").await;
    let off = app
        .post_form(
            "/settings/two-factor/disable",
            &[
                ("csrf_token", &page.csrf_token()),
                ("password", &account.password),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(off.status, 400);
    let off = app
        .post_form(
            "/settings/two-factor/disable",
            &[
                ("csrf_token", &page.csrf_token()),
                ("password", &account.password),
                ("code", &backups[1]),
            ],
        )
        .await;
    assert_eq!(off.location(), Some("/settings?disabled=1"));
    assert_eq!(
        app.new_agent()
            .log_in(&account.email, &account.password)
            .await
            .location(),
        Some("/clients")
    );
    assert_eq!(app.audit_count("totp.enable"), 1);
    assert_eq!(app.audit_count("totp.disable"), 1);
}

async fn sessions_can_be_ended_from_settings(app: TestApp) {
    let account = app.set_up().await;
    let laptop = app.new_agent();
    laptop.log_in(&account.email, &account.password).await;
    let page = app.get("/settings").await;
    page.assert_contains("(this one)");
    assert_eq!(page.body.matches("End this session").count(), 2);
    let done = app.press(&page, "/settings/sessions/end-others").await;
    assert_eq!(done.location(), Some("/settings?ended=1"));
    assert_eq!(
        laptop.get("/clients").await.location(),
        Some("/login?next=%2Fclients")
    );
    assert_eq!(app.get("/clients").await.status, 200);
    let page = app.get("/settings").await;
    let own = page.segment_after("/settings/sessions/");
    let end = app
        .press(&page, &format!("/settings/sessions/{own}/end"))
        .await;
    assert_eq!(end.location(), Some("/login?signed_out=1"));
    assert_eq!(
        app.get("/clients").await.location(),
        Some("/login?next=%2Fclients")
    );
}

async fn the_audit_trail_is_shown_and_verified(app: TestApp) {
    let account = app.set_up().await;
    app.new_agent()
        .log_in(&account.email, "a wrong password")
        .await;
    let trail = app.get("/audit").await;
    assert_eq!(trail.status, 200);
    for action in ["setup", "login.ok", "login.failed"] {
        trail.assert_contains(&format!("<code>{action}</code>"));
    }
    let filtered = app.get("/audit?action=login.failed").await;
    assert!(!filtered.body.contains("<code>setup</code>"));
    app.get("/audit?scope=practice")
        .await
        .assert_contains("Practice security events");

    let url = match &app.database {
        tearsheet::db::DatabaseUrl::Sqlite(p) => p.display().to_string(),
        tearsheet::db::DatabaseUrl::Postgres(u) => u.clone(),
    };
    let verify = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tearsheet"))
            .args(["audit", "verify", "--database-url", &url])
            .output()
            .expect("run")
    };
    let ok = verify();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("audit trail intact"));
    {
        use diesel::prelude::*;
        use tearsheet::db::schema::audit_events;
        let mut conn = app.pool().get().expect("conn");
        let first: i64 = audit_events::table
            .select(audit_events::id)
            .order(audit_events::id.asc())
            .first(&mut *conn)
            .expect("row");
        diesel::update(audit_events::table.find(first))
            .set(audit_events::action.eq("edited"))
            .execute(&mut *conn)
            .expect("tamper");
    }
    let broken = verify();
    assert!(!broken.status.success());
    assert!(String::from_utf8_lossy(&broken.stdout).contains("BROKEN"));
}

/// Turn on two-factor sign-in for the signed-in therapist; returns the
/// authenticator secret and the backup codes shown.
async fn enable_two_factor(app: &TestApp) -> (Vec<u8>, Vec<String>) {
    let enrol = app.get("/settings/two-factor").await;
    let secret = hidden_value(&enrol.body, "secret").expect("secret");
    let raw = tearsheet::auth::totp::decode_secret(&secret).expect("base32 secret");
    let done = app
        .post_form(
            "/settings/two-factor",
            &[
                ("csrf_token", &enrol.csrf_token()),
                ("secret", &secret),
                ("code", &tearsheet::auth::totp::code_at(&raw, unix_now())),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    (raw.to_vec(), codes_listed(&done.body))
}

/// Send the recovery form: a new password with a recovery code.
async fn recover(
    agent: &Agent,
    email: &str,
    code: &str,
    password: &str,
) -> crate::helpers::app::Page {
    agent
        .submit(
            "/recover",
            "/recover",
            &[
                ("email", email),
                ("recovery_code", code),
                ("password", password),
                ("password_confirm", password),
            ],
        )
        .await
}

fn waiting_sign_ins(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use tearsheet::db::schema::sessions;
    sessions::table
        .filter(sessions::needs_second_factor.eq(true))
        .count()
        .get_result(&mut *app.pool().get().expect("conn"))
        .expect("count")
}

async fn post_code(agent: &Agent, code: &str) -> crate::helpers::app::Page {
    let form = agent.get("/login/code").await;
    assert_eq!(form.status, 200, "still waiting for a code: {}", form.body);
    agent
        .post_form(
            "/login/code",
            &[("csrf_token", &form.csrf_token()), ("code", code)],
        )
        .await
}

async fn two_factor_guesses_count_across_every_waiting_sign_in(app: TestApp) {
    let account = app.set_up().await;
    let (secret, _) = enable_two_factor(&app).await;
    // Someone who knows the password starts eight sign-ins; only the newest
    // three keep waiting for a code.
    let mut agents = Vec::new();
    for _ in 0..8 {
        let agent = app.new_agent();
        let page = agent.log_in(&account.email, &account.password).await;
        assert_eq!(page.location(), Some("/login/code"));
        agents.push(agent);
    }
    assert_eq!(waiting_sign_ins(&app), 3);
    let mut live = Vec::new();
    for agent in &agents {
        match agent.get("/login/code").await.status {
            200 => live.push(agent),
            _ => assert_eq!(
                agent.get("/clients").await.location(),
                Some("/login?next=%2Fclients"),
                "an ended waiting sign-in leads back to sign-in"
            ),
        }
    }
    assert_eq!(live.len(), 3);
    assert!(
        std::ptr::eq(live[2], &agents[7]),
        "the newest sign-in is always kept"
    );
    // Five wrong codes, spread over the waiting sign-ins, lock the account.
    for (i, agent) in live.iter().cycle().take(4).enumerate() {
        let page = post_code(agent, "000000").await;
        assert_eq!(page.status, 200, "guess {i}");
        page.assert_contains("does not match");
    }
    let fifth = post_code(live[1], "000000").await;
    assert_eq!(fifth.status, 429, "{}", fifth.body);
    assert_eq!(
        waiting_sign_ins(&app),
        0,
        "a lock ends every waiting sign-in"
    );
    // The right code on another waiting sign-in no longer gets in.
    let right = tearsheet::auth::totp::code_at(&secret, unix_now());
    let page = live[2]
        .post_form(
            "/login/code",
            &[("csrf_token", "whatever"), ("code", &right)],
        )
        .await;
    assert_eq!(page.location(), Some("/login"), "{}", page.body);
    assert_eq!(
        live[2].get("/clients").await.location(),
        Some("/login?next=%2Fclients")
    );
    // Nor does a new sign-in with the right password while the lock lasts.
    let page = app
        .new_agent()
        .log_in(&account.email, &account.password)
        .await;
    assert_eq!(page.status, 429);
    // Nor the right recovery code: the lock is checked before any code.
    let page = recover(
        &app.new_agent(),
        &account.email,
        &account.recovery_code,
        "a brand new long password",
    )
    .await;
    assert_eq!(page.status, 429);
    assert_eq!(app.audit_count("recovery.use"), 0);
    assert_eq!(app.audit_count("login.locked"), 1);
}

async fn two_factor_is_replaced_only_with_the_password_and_a_current_code(app: TestApp) {
    let account = app.set_up().await;
    let (_, backups) = enable_two_factor(&app).await;
    let page = app.get("/settings/two-factor").await;
    page.assert_contains("Move to a new phone");
    let replace = app.get("/settings/two-factor?replace=1").await;
    replace.assert_contains("Code from the app you use now");
    let secret = hidden_value(&replace.body, "secret").expect("secret");
    let raw = tearsheet::auth::totp::decode_secret(&secret).expect("base32");
    let new_code = tearsheet::auth::totp::code_at(&raw, unix_now());
    let token = replace.csrf_token();
    let attempt = |password: &'static str, current: String| {
        let fields = [
            ("csrf_token".to_owned(), token.clone()),
            ("secret".to_owned(), secret.clone()),
            ("code".to_owned(), new_code.clone()),
            ("password".to_owned(), password.to_owned()),
            ("current_code".to_owned(), current),
        ];
        let app = &app;
        async move {
            let fields: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            app.post_form("/settings/two-factor", &fields).await
        }
    };
    // The session alone (no password, no current code) changes nothing.
    let alone = app
        .post_form(
            "/settings/two-factor",
            &[
                ("csrf_token", &replace.csrf_token()),
                ("secret", &secret),
                ("code", &new_code),
            ],
        )
        .await;
    assert_eq!(alone.status, 400, "{}", alone.body);
    alone.assert_contains("That is not your password");
    let wrong_password = attempt("not my password", backups[0].clone()).await;
    assert_eq!(wrong_password.status, 400);
    let wrong_code = attempt("correct horse battery staple", "000000".into()).await;
    assert_eq!(wrong_code.status, 400);
    wrong_code.assert_contains("does not match your current app");
    assert_eq!(app.audit_count("totp.replace"), 0);

    let done = attempt("correct horse battery staple", backups[1].clone()).await;
    assert_eq!(done.status, 200, "{}", done.body);
    done.assert_contains("Your backup codes");
    assert_eq!(app.audit_count("totp.replace"), 1);
    // The old backup codes stopped working; the new app's codes work.
    let phone = app.new_agent();
    phone.log_in(&account.email, &account.password).await;
    post_code(&phone, &backups[2])
        .await
        .assert_contains("does not match");
    let ok = post_code(
        &phone,
        &tearsheet::auth::totp::code_at(&raw, unix_now() + 30),
    )
    .await;
    assert_eq!(ok.location(), Some("/clients"));
}

async fn a_profile_signs_notes_and_the_practice_chooses_how_dates_read(app: TestApp) {
    app.set_up().await;
    let settings = app.get("/settings").await;
    settings.assert_contains("Your profile");
    // Too long: named beside the field, nothing changed.
    let long = "P".repeat(121);
    let refused = app
        .submit(
            "/settings",
            "/settings/profile",
            &[("display_name", "Dr Ada Lovelace"), ("credentials", &long)],
        )
        .await;
    assert_eq!(refused.status, 400);
    refused.assert_contains("Keep your credentials under 120 characters.");
    let saved = app
        .submit(
            "/settings",
            "/settings/profile",
            &[
                ("display_name", "Dr Ada Lovelace"),
                ("credentials", "PhD, Licensed Psychologist"),
                ("licence", "PSY 12345"),
            ],
        )
        .await;
    assert_eq!(saved.location(), Some("/settings?profile=1"));
    assert_eq!(app.audit_count("profile.change"), 1);
    let client = app.add_client("Dana Dates", "").await;
    let note = app
        .add_note(&client, &[("session_date", "2026-03-02")])
        .await;
    let token = app.get(&note).await.csrf_token();
    app.sign_note(&note, &token).await;
    app.add_addendum(&note, &token, "Later words.").await;
    let page = app.get(&note).await;
    page.assert_contains(
        "Signed by Dr Ada Lovelace, PhD, Licensed Psychologist, licence PSY 12345 on ",
    );
    page.assert_contains(
        "Added by Dr Ada Lovelace, PhD, Licensed Psychologist, licence PSY 12345 on ",
    );
    page.assert_contains("Mon 2 Mar 2026");

    // The practice writes dates the US way: every page follows.
    let practice = app.get("/practice").await;
    practice.assert_contains("United States: Thu, Nov 26, 2026, 2:05 PM");
    let us = app
        .post_form(
            "/practice/dates",
            &[("csrf_token", &practice.csrf_token()), ("date_style", "us")],
        )
        .await;
    assert_eq!(us.location(), Some("/practice"));
    assert_eq!(app.audit_count("practice.settings"), 1);
    app.get(&client).await.assert_contains("Mon, Mar 2, 2026");
    let page = app.get(&note).await;
    page.assert_contains("Mon, Mar 2, 2026");
    assert!(
        page.body.contains(" AM") || page.body.contains(" PM"),
        "a 12-hour time"
    );
    app.get(&format!("{client}/record"))
        .await
        .assert_contains("Mon, Mar 2, 2026");

    // Only an administrator chooses for the practice.
    let colleague = app
        .colleague("colleague@example.org", "a colleague's password")
        .await;
    let token = colleague.get("/clients").await.csrf_token();
    let refused = colleague
        .post_form(
            "/practice/dates",
            &[("csrf_token", &token), ("date_style", "intl")],
        )
        .await;
    assert_eq!(refused.status, 403);
    app.get(&client).await.assert_contains("Mon, Mar 2, 2026");
}

async fn signing_in_again_asks_for_a_code_only_from_accounts_that_use_one(app: TestApp) {
    let account = app.set_up().await;
    enable_two_factor(&app).await;
    let client = app.add_client("Cody Code", "").await;
    let token = app.get(&format!("{client}/notes/new")).await.csrf_token();
    app.age_all_sessions();
    let mut fields = crate::helpers::app::note_form(
        &[("csrf_token", &token)],
        "soap",
        &[
            ("section_subjective", "Typed before the timeout."),
            ("intent", "save"),
        ],
    );
    let reauth = app.post_form(&format!("{client}/notes"), &fields).await;
    assert_eq!(reauth.status, 401);
    reauth.assert_contains(&format!("value=\"{}\"", account.email));
    reauth.assert_contains("name=\"reauth_code\"");
    // A stranger's browser (no expired session) is asked for no code and
    // given no email.
    let stranger = app.new_agent();
    fields[0] = ("csrf_token", "");
    let anonymous = stranger
        .post_form(&format!("{client}/notes"), &fields)
        .await;
    assert_eq!(anonymous.status, 401);
    assert!(!anonymous.body.contains(&account.email));
    assert!(!anonymous.body.contains("name=\"reauth_code\""));
}
