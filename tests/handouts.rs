//! Handouts: the library, printing, giving, suggestions, imports and packs.

use crate::both_backends;
use crate::helpers::TestApp;
use crate::helpers::app::Page;

both_backends!(
    the_library_shows_the_crying_handout_with_its_reading_level,
    a_personalised_print_is_recorded_on_the_chart_and_reprints_the_same_text,
    a_tagged_note_suggests_the_handout_already_personalised,
    the_article_imports_with_its_headings_and_takeaways,
    hostile_empty_and_oversized_imports_are_refused_clearly,
    built_ins_are_read_only_and_my_version_can_be_edited,
    another_therapists_given_handouts_are_404,
    printing_and_recording_is_one_step_with_an_undo_for_an_hour,
    a_print_form_sent_after_the_session_expired_comes_back_after_signing_in,
    a_print_form_from_an_old_tab_comes_back_to_be_sent_again,
);

async fn printing_and_recording_is_one_step_with_an_undo_for_an_hour(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam Undo", "Sam").await;
    let id = sam.trim_start_matches("/clients/");
    let fields = [
        ("client", id),
        ("note", "For you, Sam."),
        ("paper", "letter"),
        ("names", "1"),
        ("give", "1"),
    ];
    let given = app
        .submit(
            "/handouts/crying-in-therapy",
            "/handouts/crying-in-therapy/print",
            &fields,
        )
        .await;
    assert_eq!(given.status, 303, "{}", given.body);
    let printed = app.get(given.location().expect("location")).await;
    printed.assert_contains("Recorded on Sam Undo");
    printed.assert_contains("For you, Sam.");
    printed.assert_contains("Undo: it was not given");
    assert_eq!(app.audit_count("handout.given"), 1);
    let undo = format!("{}/undo", given.location_path().trim_end_matches("/print"));
    // Not someone else's to undo.
    let other = app
        .colleague("other@example.org", "another long password")
        .await;
    let theirs = other.get("/clients").await;
    assert_eq!(other.press(&theirs, &undo).await.status, 404);
    app.get(&sam)
        .await
        .assert_contains("It&#39;s okay to cry in therapy");
    // Undone within the hour: off the chart, audited.
    let undone = app.press(&printed, &undo).await;
    assert_eq!(undone.location(), Some(format!("{sam}?undone=1").as_str()));
    let chart = app.get(&format!("{sam}?undone=1")).await;
    assert!(
        !chart.body.contains("It&#39;s okay to cry in therapy"),
        "{}",
        chart.body
    );
    assert_eq!(app.audit_count("handout.undo"), 1);
    assert_eq!(app.get(&given.location_path()).await.status, 404);
    // After an hour the record stays: it is part of the chart.
    let again = app
        .submit(
            "/handouts/crying-in-therapy",
            "/handouts/crying-in-therapy/print",
            &fields,
        )
        .await;
    {
        use diesel::prelude::*;
        use tearsheet::db::schema::handouts_given as given_handouts;
        let mut conn = app.pool().get().expect("conn");
        diesel::update(given_handouts::table)
            .set(given_handouts::given_at.eq(given_handouts::given_at - 3_601))
            .execute(&mut *conn)
            .expect("age the record");
    }
    let page = app.get(again.location().expect("location")).await;
    assert!(!page.body.contains("Undo: it was not given"));
    let late = app
        .press(
            &app.get(&sam).await,
            &format!("{}/undo", again.location_path().trim_end_matches("/print")),
        )
        .await;
    assert_eq!(late.status, 409, "{}", late.body);
    late.assert_contains("more than an hour");
    app.get(&sam)
        .await
        .assert_contains("It&#39;s okay to cry in therapy");
}

async fn a_print_form_sent_after_the_session_expired_comes_back_after_signing_in(app: TestApp) {
    let account = app.set_up().await;
    let sam = app.add_client("Sam Expired", "Sam").await;
    let id = sam.trim_start_matches("/clients/");
    let token = app.get("/handouts/crying-in-therapy").await.csrf_token();
    app.age_all_sessions();
    let typed = [
        ("csrf_token", token.as_str()),
        ("client", id),
        ("note", "Words chosen with care\nfor Sam."),
        ("paper", "a4"),
        ("large", "1"),
        ("names", "1"),
        ("give", "1"),
    ];
    let reauth = app
        .post_form("/handouts/crying-in-therapy/print", &typed)
        .await;
    assert_eq!(reauth.status, 401, "{}", reauth.body);
    reauth.assert_contains("What you typed is safe on this page");
    // The email is filled in; this account has no second factor, so no
    // code is asked for.
    reauth.assert_contains(&format!("value=\"{}\"", account.email));
    assert!(!reauth.body.contains("reauth_code"));
    let mut again = crate::helpers::app::carried(&reauth.body);
    assert!(again.contains(&("note".into(), "Words chosen with care\nfor Sam.".into())));
    again.push(("reauth_email".into(), account.email.clone()));
    again.push(("reauth_password".into(), account.password.clone()));
    let refs: Vec<(&str, &str)> = again
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let back = app
        .post_form("/handouts/crying-in-therapy/print", &refs)
        .await;
    assert_eq!(back.status, 200, "{}", back.body);
    back.assert_contains("You are signed in again");
    back.assert_contains("Words chosen with care\nfor Sam.");
    back.assert_contains(&format!("<option value=\"{id}\" selected>"));
    back.assert_contains("value=\"a4\" checked");
    back.assert_contains("name=\"large\" value=\"1\" checked");
    assert_eq!(
        app.audit_count("handout.given"),
        0,
        "nothing recorded unseen"
    );
}

async fn a_print_form_from_an_old_tab_comes_back_to_be_sent_again(app: TestApp) {
    let account = app.set_up().await;
    let sam = app.add_client("Sam Oldtab", "Sam").await;
    let id = sam.trim_start_matches("/clients/");
    let old = app.get("/handouts/crying-in-therapy").await.csrf_token();
    // Signed out and in again elsewhere: a new session, a new token.
    app.log_out().await;
    app.log_in(&account.email, &account.password).await;
    let typed = [
        ("csrf_token", old.as_str()),
        ("client", id),
        ("note", "From the tab left open."),
        ("paper", "letter"),
        ("names", "1"),
        ("give", "1"),
    ];
    let resend = app
        .post_form("/handouts/crying-in-therapy/print", &typed)
        .await;
    assert_eq!(resend.status, 409, "{}", resend.body);
    resend.assert_contains("Check your work and send it again");
    assert_eq!(app.audit_count("handout.given"), 0);
    let again = crate::helpers::app::carried(&resend.body);
    assert!(again.contains(&("note".into(), "From the tab left open.".into())));
    assert!(
        !again.iter().any(|(_, v)| v == &old),
        "the old token is not carried"
    );
    let refs: Vec<(&str, &str)> = again
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let form = app
        .post_form("/handouts/crying-in-therapy/print", &refs)
        .await;
    assert_eq!(form.status, 200);
    form.assert_contains("From the tab left open.");
    assert_eq!(app.audit_count("handout.given"), 0);
    // A forged request without any token is still refused outright.
    let forged = app
        .post_form(
            "/handouts/crying-in-therapy/print",
            &[("client", id), ("note", "x"), ("give", "1")],
        )
        .await;
    assert_eq!(forged.status, 403);
}

async fn the_library_shows_the_crying_handout_with_its_reading_level(app: TestApp) {
    app.set_up().await;
    let page = app.get("/handouts").await;
    assert_eq!(page.status, 200);
    page.assert_contains("It&#39;s okay to cry in therapy");
    page.assert_contains("Tears are welcome here");
    page.assert_contains("Tearful breakthrough");
    let grade: f64 = page
        .body
        .split("Reading level: grade ")
        .nth(1)
        .and_then(|s| s.split(' ').next()?.parse().ok())
        .expect("grade shown");
    page.assert_contains("(Flesch–Kincaid)");
    assert!(grade <= 7.0, "grade {grade}");
    page.assert_contains("pages printed");
    let show = app.get("/handouts/crying-in-therapy").await;
    show.assert_contains("more than 6 in 10 people in therapy");
    show.assert_contains("Smith and others, 2020");
    show.assert_contains("Journal of Research in Medical Sciences");
    // It names its source, and where its figures come from.
    show.assert_contains("Embracing Tears: Why It’s Perfectly Okay to Cry in Therapy Sessions");
    show.assert_contains("Smith et al. (2020)");
    assert!(!show.body.contains("the article this handout is based on"));
    show.assert_contains("class=\"write-line\"");
    assert_eq!(app.get("/handouts/no-such-handout").await.status, 404);
    // Every stylesheet and icon these pages link to is served.
    let print = app.get("/handouts/crying-in-therapy/print").await;
    for body in [&page.body, &show.body, &print.body] {
        for link in body.split("href=\"/static/").skip(1) {
            let path = link.split(['"', '?']).next().expect("path");
            assert_eq!(
                app.get(&format!("/static/{path}")).await.status,
                200,
                "/static/{path}"
            );
        }
    }
    assert_eq!(app.get("/handouts/no-such-handout/print").await.status, 404);
}

async fn a_personalised_print_is_recorded_on_the_chart_and_reprints_the_same_text(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Samuel Ortiz", "Sam").await;
    let client_id = sam.trim_start_matches("/clients/").to_owned();
    let token = app.get("/handouts/crying-in-therapy").await.csrf_token();
    let print = app
        .post_form(
            "/handouts/crying-in-therapy/print",
            &[
                ("csrf_token", &token),
                ("client", &client_id),
                ("note", "You were brave today, Sam."),
                ("paper", "a4"),
                ("large", "1"),
                ("names", "1"),
            ],
        )
        .await;
    assert_eq!(print.status, 200);
    print.assert_contains("<span lang=\"en\">For</span> Sam");
    print.assert_contains("<span lang=\"en\">A note for</span> Sam");
    print.assert_contains("You were brave today, Sam.");
    print.assert_contains("class=\"paper-a4 large\"");
    print.assert_contains("Record as given to Samuel Ortiz");
    assert!(
        !print.body.contains("site-header"),
        "the print page has its own layout"
    );

    let given = app
        .post_form(
            "/handouts/crying-in-therapy/give",
            &[
                ("csrf_token", &token),
                ("client", &client_id),
                ("note", "You were brave today, Sam."),
                ("paper", "a4"),
                ("large", "1"),
            ],
        )
        .await;
    assert_eq!(given.status, 303);
    let reprint_path = given.location_path();
    let first = app.get(given.location().expect("location")).await;
    first.assert_contains("Recorded on Samuel Ortiz");
    let chart = app.get(&sam).await;
    chart.assert_contains("Handouts given");
    chart.assert_contains(&reprint_path);
    let again = app.get(&reprint_path).await;
    again.assert_contains("exactly what was given to Samuel Ortiz (version 2)");
    again.assert_contains("You were brave today, Sam.");
    again.assert_contains("class=\"paper-a4 large\"");
    let article = |body: &str| {
        body.split("<article class=\"handout\">")
            .nth(1)
            .and_then(|s| s.split("</article>").next())
            .expect("article")
            .to_owned()
    };
    assert_eq!(
        article(&again.body),
        article(&first.body),
        "a reprint reproduces the same text"
    );
    assert_eq!(app.audit_count("handout.given"), 1);
    assert!(app.audit_count("handout.print") >= 3);
}

async fn a_tagged_note_suggests_the_handout_already_personalised(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam Suggest", "Sammy").await;
    let id = sam.trim_start_matches("/clients/");
    let tagged = app.add_note(&sam, &[("tag", "emotional-release")]).await;
    let page = app.get(&tagged).await;
    page.assert_contains("Handouts that fit this session");
    // The suggestion opens the personalise form with the client chosen
    // and names on, rather than printing straight away.
    let link = format!("/handouts/crying-in-therapy?client={id}#print");
    page.assert_contains(&link);
    let form = app.get(&link).await;
    assert_eq!(form.status, 200);
    form.assert_contains(&format!(
        "<option value=\"{id}\" selected>Sam Suggest (Sammy)</option>"
    ));
    form.assert_contains("name=\"names\" value=\"1\" checked");
    form.assert_contains("id=\"note\" name=\"note\"");
    let print = app
        .submit(
            &link,
            "/handouts/crying-in-therapy/print",
            &[
                ("client", id),
                ("note", "Take this home, Sammy."),
                ("names", "1"),
                ("paper", "letter"),
            ],
        )
        .await;
    print.assert_contains("For</span> Sammy");
    print.assert_contains("Take this home, Sammy.");
    print.assert_contains("Dr Ada Lovelace");
    // Back keeps what was typed.
    let back = app
        .submit(
            &link,
            "/handouts/crying-in-therapy",
            &[
                ("client", id),
                ("note", "Take this home, Sammy."),
                ("names", "1"),
                ("paper", "a4"),
                ("large", "1"),
            ],
        )
        .await;
    assert_eq!(back.status, 200);
    back.assert_contains("Take this home, Sammy.");
    back.assert_contains(&format!("<option value=\"{id}\" selected>"));
    back.assert_contains("value=\"a4\" checked");
    back.assert_contains("name=\"large\" value=\"1\" checked");
    let plain = app.add_note(&sam, &[("tag", "self-compassion")]).await;
    assert!(
        !app.get(&plain)
            .await
            .body
            .contains("Handouts that fit this session")
    );
}

fn article() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/embracing-tears-its-okay-to-cry-in-therapy.txt");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the source article at {} ({e})", path.display()))
}

/// The Markdown of an import's draft page, which must have loaded.
fn draft_body(draft: &Page) -> String {
    assert_eq!(draft.status, 200, "{}", draft.body);
    crate::helpers::app::hidden_textarea(&draft.body, "body")
}

/// The preview part of an import's draft page.
fn preview_of(draft: &Page) -> &str {
    draft
        .body
        .split("<h2>Preview</h2>")
        .nth(1)
        .expect("preview")
}

async fn the_article_imports_with_its_headings_and_takeaways(app: TestApp) {
    app.set_up().await;
    let token = app.get("/handouts/import").await.csrf_token();
    let draft = app
        .post_form(
            "/handouts/import",
            &[("csrf_token", &token), ("source", &article()), ("kind", "")],
        )
        .await;
    let body = draft_body(&draft);
    for heading in [
        "Key Takeaways",
        "Benefits of Crying in Therapy",
        "Normalizing Vulnerability",
        "Building Trust with Your Therapist",
        "Emotional Release and Processing",
        "Overcoming Social Stigmas",
    ] {
        assert_eq!(
            body.matches(&format!("## {heading}\n")).count(),
            1,
            "{heading} once, as a heading:\n{body}"
        );
    }
    let takeaways = body
        .split("## Key Takeaways")
        .nth(1)
        .expect("takeaways")
        .split("\n## ")
        .next()
        .expect("section");
    assert!(
        takeaways.lines().filter(|l| l.starts_with("- ")).count() >= 9,
        "the takeaways are a list:\n{takeaways}"
    );
    assert!(
        body.contains("| Cried in Therapy | Found it Therapeutic |")
            || body.contains("Cried in Therapy | Found it Therapeutic"),
        "the flattened table is a table:\n{body}"
    );
    assert!(body.contains("1. Enhances communication with the therapist"));
    assert!(draft.body.contains(
        "value=\"Embracing Tears: Why It&#39;s Perfectly Okay to Cry in Therapy Sessions\""
    ));
    draft.assert_contains("Reading level: grade");
    draft.assert_contains("reads harder than most clients find easy");
    let preview = preview_of(&draft);
    assert!(preview.contains("<h2>Key Takeaways</h2>"));
    assert!(preview.contains("<li>"));

    let slug = crate::helpers::app::hidden_value(&draft.body, "slug").unwrap_or_else(|| {
        "embracing-tears-why-it-s-perfectly-okay-to-cry-in-therapy-sessions".into()
    });
    let saved = app
        .post_form(
            "/handouts",
            &[
                ("csrf_token", &token),
                ("title", "Embracing tears"),
                ("slug", &slug),
                ("summary", "The article."),
                ("body", &body),
                ("fit", "vulnerability"),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    app.get("/handouts")
        .await
        .assert_contains("Embracing tears");
    app.get(saved.location().expect("location"))
        .await
        .assert_contains("Benefits of Crying in Therapy");
    let again = app
        .post_form(
            "/handouts",
            &[
                ("csrf_token", &token),
                ("title", "Dup"),
                ("slug", &slug),
                ("body", "x"),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(again.status, 409);
    again.assert_contains("already uses that address");
}

async fn hostile_empty_and_oversized_imports_are_refused_clearly(app: TestApp) {
    app.set_up().await;
    let token = app.get("/handouts/import").await.csrf_token();
    let empty = app
        .post_form(
            "/handouts/import",
            &[("csrf_token", &token), ("source", "   ")],
        )
        .await;
    assert_eq!(empty.status, 400);
    empty.assert_contains("Paste the article");
    let script = app
        .post_form(
            "/handouts/import",
            &[
                ("csrf_token", &token),
                ("source", "<script>alert('x')</script>"),
            ],
        )
        .await;
    assert_eq!(script.status, 400);
    script.assert_contains("Nothing readable was left");
    let hostile = "<h1>Kind words</h1><p onmouseover=\"steal()\">Hello <a href=\"javascript:alert(1)\">friend</a></p><img src=\"https://tracker.example/p.gif\"><script>alert(2)</script><style>body{}</style>";
    let draft = app
        .post_form(
            "/handouts/import",
            &[("csrf_token", &token), ("source", hostile)],
        )
        .await;
    let body = draft_body(&draft);
    for bad in [
        "javascript",
        "steal",
        "tracker.example",
        "alert",
        "<script",
        "onmouseover",
    ] {
        assert!(!body.contains(bad), "{bad} survived: {body}");
    }
    assert!(body.contains("Hello"), "{body}");
    let preview = preview_of(&draft);
    assert!(!preview.contains("<script") && !preview.contains("javascript:"));
    let big = format!("csrf_token={token}&source={}", "a".repeat(5 << 20));
    let page = app
        .post_raw(
            "/handouts/import",
            "application/x-www-form-urlencoded",
            big.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(page.status, 413);
    page.assert_contains("at most 4 MB");
}

async fn built_ins_are_read_only_and_my_version_can_be_edited(app: TestApp) {
    app.set_up().await;
    assert_eq!(
        app.get("/handouts/crying-in-therapy/edit").await.status,
        409
    );
    let built_in = app.get("/handouts/crying-in-therapy").await;
    let token = built_in.csrf_token();
    let copy = app
        .press(&built_in, "/handouts/crying-in-therapy/copy")
        .await;
    assert_eq!(copy.status, 303);
    let edit_path = copy.location().expect("location").to_owned();
    let form = app.get(&edit_path).await;
    assert_eq!(form.status, 200);
    let body = crate::helpers::app::hidden_textarea(&form.body, "body");
    assert!(body.contains("You are not alone"));
    let slug = edit_path
        .trim_start_matches("/handouts/")
        .trim_end_matches("/edit");
    let saved = app
        .post_form(
            &edit_path,
            &[
                ("csrf_token", &token),
                ("title", "Crying is okay (ours)"),
                ("summary", "Ours."),
                (
                    "body",
                    &format!("{body}\n\nCall us on 555-0100 if you need to."),
                ),
                ("fit", "tearful-breakthrough"),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(saved.location(), Some(format!("/handouts/{slug}").as_str()));
    let mine = app.get(&format!("/handouts/{slug}")).await;
    mine.assert_contains("Crying is okay (ours)");
    mine.assert_contains("Call us on 555-0100");
    app.get("/handouts/crying-in-therapy")
        .await
        .assert_contains("It&#39;s okay to cry in therapy");
    assert!(
        !app.get("/handouts/crying-in-therapy")
            .await
            .body
            .contains("555-0100"),
        "the built-in is unchanged"
    );
    mine.assert_contains("version 2: last changed by Dr Ada Lovelace");
    let earlier = app.get(&format!("/handouts/{slug}/versions")).await;
    earlier.assert_contains("Version 1: “It&#39;s okay to cry in therapy (our version)”");
    assert!(
        !earlier.body.contains("555-0100"),
        "version 1 is the copy as made"
    );

    // A colleague may use it and copy it, but not change it.
    app.add_therapist("bea@example.org", "another long password")
        .await;
    let bea = app.new_agent();
    bea.log_in("bea@example.org", "another long password").await;
    let theirs = bea.get(&format!("/handouts/{slug}")).await;
    theirs.assert_contains("Call us on 555-0100");
    theirs.assert_contains("Make my version");
    assert!(!theirs.body.contains(&edit_path));
    assert_eq!(bea.get(&edit_path).await.status, 403);
    let refused = bea
        .post_form(
            &edit_path,
            &[
                ("csrf_token", &theirs.csrf_token()),
                ("title", "Bea's rewrite"),
                ("body", "Rewritten."),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert!(
        !app.get(&format!("/handouts/{slug}"))
            .await
            .body
            .contains("Rewritten."),
        "nothing changed"
    );
    // Her own copy is hers to change, and the administrator's too.
    let copy = bea.press(&theirs, "/handouts/crying-in-therapy/copy").await;
    let bea_edit = copy.location().expect("location").to_owned();
    assert_eq!(bea.get(&bea_edit).await.status, 200);
    assert_eq!(app.get(&bea_edit).await.status, 200);
    // Every save is audited.
    assert_eq!(app.audit_count("handout.save"), 3);
}

async fn another_therapists_given_handouts_are_404(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam Given", "").await;
    let id = sam.trim_start_matches("/clients/");
    let token = app.get("/handouts/crying-in-therapy").await.csrf_token();
    let given = app
        .post_form(
            "/handouts/crying-in-therapy/give",
            &[
                ("csrf_token", &token),
                ("client", id),
                ("note", "private note"),
            ],
        )
        .await;
    let path = given.location_path();
    app.add_therapist("bea@example.org", "another long password")
        .await;
    let bea = app.new_agent();
    bea.log_in("bea@example.org", "another long password").await;
    let page = bea.get(&path).await;
    assert_eq!(page.status, 404);
    assert!(!page.body.contains("private note"));
    assert_eq!(
        bea.get(&format!("/handouts/crying-in-therapy/print?client={id}"))
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pack_loads_its_good_files_and_names_the_bad_ones() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("grief.md"), "+++\ntitle = \"Grief comes in waves\"\nslug = \"grief-waves\"\nsummary = \"About grief.\"\nfits = [\"emotional-release\"]\n+++\nGrief can come and go like waves.\n").expect("write");
    std::fs::write(
        dir.path().join("broken.md"),
        "+++\ntitle = \"Broken\nslug = x\n+++\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("clash.md"),
        "+++\ntitle = \"Clash\"\nslug = \"crying-in-therapy\"\n+++\nSame slug.\n",
    )
    .expect("write");
    // A file outside the pack, reached by a link, and files whose broken
    // front matter holds words that must never reach a page.
    let outside = tempfile::tempdir().expect("outside");
    let secret = outside.path().join("secret.md");
    std::fs::write(
        &secret,
        "+++\ntitle = \"OUTSIDECANARY\"\nslug = \"outside\"\n+++\nOUTSIDECANARY body\n",
    )
    .expect("write");
    std::os::unix::fs::symlink(&secret, dir.path().join("linked.md")).expect("symlink");
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("passwd.md")).expect("symlink");
    std::fs::write(
        dir.path().join("leaky.md"),
        "+++\ntitle = \"Leaky\"\nslug = \"leaky\"\nPARSECANARY = \"x\"\n+++\nbody\n",
    )
    .expect("write");
    let pack = dir.path().to_owned();
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, move |c| {
        c.handouts_dir = Some(pack)
    })
    .await;
    app.set_up().await;
    let page = app.get("/handouts").await;
    page.assert_contains("Grief comes in waves");
    page.assert_contains("Some local handouts did not load");
    page.assert_contains("Unsigned, local");
    page.assert_contains("<strong>broken.md</strong>: its front matter is not valid TOML (line 2)");
    page.assert_contains("<strong>clash.md</strong>: its slug is already used");
    page.assert_contains(
        "<strong>linked.md</strong>: it is a symbolic link; a pack may hold only plain files",
    );
    page.assert_contains("<strong>passwd.md</strong>: it is a symbolic link");
    page.assert_contains(
        "<strong>leaky.md</strong>: its front matter has a key Tearsheet does not know",
    );
    page.assert_contains("(line 4)");
    for word in ["OUTSIDECANARY", "PARSECANARY", "root:"] {
        assert!(!page.body.contains(word), "{word} reached the page");
    }
    assert_eq!(app.get("/handouts/outside").await.status, 404);
    app.get("/handouts/grief-waves")
        .await
        .assert_contains("Grief can come and go like waves.");
}

fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "tearsheet-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, filename, value) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/plain\r\n\r\n").as_bytes()),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

both_backends!(an_article_can_be_uploaded_as_a_file);

async fn an_article_can_be_uploaded_as_a_file(app: TestApp) {
    app.set_up().await;
    let token = app.get("/handouts/import").await.csrf_token();
    let text = article();
    let (kind, body) = multipart(&[
        ("csrf_token", None, token.as_bytes()),
        ("kind", None, b""),
        ("file", Some("article.txt"), text.as_bytes()),
    ]);
    let draft = app
        .post_raw("/handouts/import/file", &kind, body, &[])
        .await;
    let md = draft_body(&draft);
    assert_eq!(md.matches("## Key Takeaways\n").count(), 1);

    let (kind, body) = multipart(&[
        ("csrf_token", None, token.as_bytes()),
        ("file", Some("photo.txt"), &[0xff, 0xd8, 0xff, 0xe0, 0x00]),
    ]);
    let binary = app
        .post_raw("/handouts/import/file", &kind, body, &[])
        .await;
    assert_eq!(binary.status, 400);
    binary.assert_contains("not plain text");

    let (kind, body) = multipart(&[("file", Some("article.txt"), text.as_bytes())]);
    assert_eq!(
        app.post_raw("/handouts/import/file", &kind, body, &[])
            .await
            .status,
        403,
        "the CSRF token is required"
    );

    let big = vec![b'a'; 5 << 20];
    let (kind, body) = multipart(&[
        ("csrf_token", None, token.as_bytes()),
        ("file", Some("big.txt"), &big),
    ]);
    // The whole upload is read, so the browser gets the page, never a
    // connection closed under it while it is still sending.
    let too_big = app
        .post_raw("/handouts/import/file", &kind, body, &[])
        .await;
    assert_eq!(too_big.status, 413);
    too_big.assert_contains("That was too large to accept");
}
