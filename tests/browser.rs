//! Journeys in real headless Chromium over WebDriver.

use fantoccini::key::Key;

use crate::helpers::browser::Browser;
use crate::helpers::{Backend, TestApp};

/// Fill in and send the sign-in form.
async fn sign_in(b: &Browser, app: &TestApp, email: &str, password: &str) {
    b.goto(&format!("{}/login", app.address)).await;
    b.fill("#email", email).await;
    b.fill("#password", password).await;
    b.click("form[action='/login'] button").await;
}

/// Sign out with the button in the header.
async fn sign_out(b: &Browser) {
    b.click("form[action='/logout'] button").await;
    b.wait_for_path("/login").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_therapist_sets_up_stores_the_code_signs_out_and_back_in() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let b = Browser::start().await;
    b.goto(&format!("{}/", app.address)).await;
    b.wait_for_path("/setup").await;
    b.check("setup").await;

    b.fill("#display_name", "Dr Jo Brook").await;
    b.fill("#email", "jo@example.org").await;
    b.fill("#password", "tea and biscuits at four").await;
    b.fill("#password_confirm", "tea and biscuits at four")
        .await;
    b.click("button[type=submit]").await;
    b.wait_for_path("/account/recovery-code").await;
    b.check("recovery-code").await;
    let code = b.text(".recovery-code").await;
    assert_eq!(
        code.split_whitespace().count(),
        8,
        "eight groups shown: {code:?}"
    );

    // Continuing without ticking the box is refused by the browser's own
    // required check; tick it and go on.
    b.click("#stored").await;
    b.click("form[action='/account/recovery-code'] button[type=submit]")
        .await;
    b.wait_for_path("/clients").await;
    assert!(b.text("main").await.contains("No clients yet"));
    b.check("clients-empty").await;

    sign_out(&b).await;
    assert!(b.text(".notice").await.contains("You have signed out."));
    b.check("signed-out").await;

    b.fill("#email", "jo@example.org").await;
    b.fill("#password", "tea and biscuits at five").await;
    b.click("form[action='/login'] button").await;
    b.wait_for_path("/login").await;
    assert!(
        b.text(".form-error").await.contains("do not match"),
        "a wrong password gets a clear message"
    );

    b.fill("#password", "tea and biscuits at four").await;
    b.click("form[action='/login'] button").await;
    b.wait_for_path("/clients").await;
    assert!(b.text(".who").await.contains("Dr Jo Brook"));

    sign_out(&b).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_errors_are_announced_beside_their_fields() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let b = Browser::start().await;
    b.goto(&format!("{}/setup", app.address)).await;
    b.fill("#display_name", "Kim").await;
    b.fill("#email", "kim@example.org").await;
    b.fill("#password", "short").await;
    b.fill("#password_confirm", "short").await;
    b.click("button[type=submit]").await;
    b.wait_for_path("/setup").await;
    assert!(
        b.text(".error-summary")
            .await
            .contains("at least 12 characters")
    );
    let described = b
        .find("#password")
        .await
        .attr("aria-describedby")
        .await
        .expect("attr")
        .unwrap_or_default();
    assert!(
        described.contains("password-error"),
        "the error is tied to its field: {described}"
    );
    b.check("setup-errors").await;
    b.goto(&format!("{}/no-such-page", app.address)).await;
    b.check("not-found").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_therapist_can_sign_in_and_out_with_the_keyboard_alone() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let account = app.set_up().await;
    app.log_out().await;
    let b = Browser::start().await;
    b.goto(&format!("{}/login", app.address)).await;
    b.wait_for_path("/login").await;

    // The first Tab reaches the skip link, which jumps to the content.
    b.keys(&Key::Tab.to_string()).await;
    assert!(
        b.focused().await.starts_with("a#:Skip to main content"),
        "{}",
        b.focused().await
    );
    let mut steps = 0;
    while !b.focused().await.starts_with("input#email") {
        b.keys(&Key::Tab.to_string()).await;
        steps += 1;
        assert!(
            steps < 10,
            "email field reachable by Tab; stuck at {}",
            b.focused().await
        );
    }
    b.keys(&account.email).await;
    b.keys(&Key::Tab.to_string()).await;
    assert!(
        b.focused().await.starts_with("input#password"),
        "{}",
        b.focused().await
    );
    b.keys(&account.password).await;
    b.keys(&Key::Enter.to_string()).await;
    b.wait_for_path("/clients").await;

    let mut steps = 0;
    while b.focused().await != "button#:Sign out" {
        b.keys(&Key::Tab.to_string()).await;
        steps += 1;
        assert!(
            steps < 15,
            "sign-out reachable by Tab; stuck at {}",
            b.focused().await
        );
    }
    b.keys(&Key::Enter.to_string()).await;
    b.wait_for_path("/login").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accessibility_judge_can_fail() {
    // A page with an unlabelled field and unreadable text: axe-core must see it.
    let b = Browser::start().await;
    b.goto("data:text/html,<!doctype html><html><body><input type=text><p style='color:%23eee;background:%23fff'>faint</p></body></html>").await;
    let violations = b.axe_violations().await;
    assert!(
        violations.iter().any(|v| v.contains("label")),
        "{violations:?}"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_therapist_documents_a_breakthrough_and_finds_it_again() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let account = app.set_up().await;
    let b = Browser::start().await;
    sign_in(&b, &app, &account.email, &account.password).await;
    b.wait_for_path("/clients").await;
    b.check("clients-none").await;

    b.click("a.button.primary[href='/clients/new']").await;
    b.wait_for_path("/clients/new").await;
    b.check("client-form").await;
    b.fill("#full_name", "Maya Lindqvist").await;
    b.fill("#preferred_name", "Maya").await;
    b.click("form[action='/clients'] button[type=submit]").await;
    b.find("a.button.primary[href$='/notes/new']").await;
    let client_path = b.path().await;
    assert!(client_path.starts_with("/clients/"), "{client_path}");

    b.click("a.button.primary[href$='/notes/new']").await;
    b.wait_for_path(&format!("{client_path}/notes/new")).await;
    b.fill(
        "#section_subjective",
        "Maya spoke about her father's illness.",
    )
    .await;
    b.fill("#section_assessment", "Grief surfacing; trust is growing.")
        .await;
    b.fill("#section_plan", "Continue weekly; gentle journaling.")
        .await;
    b.fill("#key_moment", "cried for the first time about her father")
        .await;
    b.click("label[for='tag-0']").await;
    b.click("label[for='tag-3']").await;
    b.check("note-form").await;
    b.click("button[name=intent][value=save]").await;
    b.find("form[action$='/sign'] button").await;
    let note_path = b.path().await;
    assert!(note_path.starts_with("/notes/"), "{note_path}");
    let text = b.text("main").await;
    assert!(
        text.contains("Tearful breakthrough") && text.contains("Trust building"),
        "{text}"
    );
    assert!(text.contains("cried for the first time about her father"));

    b.click("form[action$='/sign'] button").await;
    b.find("#addenda").await;
    assert!(b.text(".status").await.starts_with("Signed"));
    b.fill("#body", "Maya emailed to say the session helped.")
        .await;
    b.click("form[action$='/addenda'] button").await;
    b.find(".addendum").await;
    assert!(
        b.text(".addenda")
            .await
            .contains("Maya emailed to say the session helped.")
    );
    b.check("note-signed").await;

    // Find it through /notes, by tag and by a word.
    b.click("nav a[href='/notes']").await;
    b.wait_for_path("/notes").await;
    b.find("#tag")
        .await
        .select_by_value("tearful-breakthrough")
        .await
        .expect("choose tag");
    b.click(".search-form button[type=submit]").await;
    b.find("#results").await;
    assert!(b.text("#results").await.contains("1 note matches"));
    assert!(b.text(".results").await.contains("Maya Lindqvist"));
    b.check("search-by-tag").await;
    b.goto(&format!("{}/notes", app.address)).await;
    b.fill("#q", "journaling").await;
    b.click(".search-form button[type=submit]").await;
    b.find("#results").await;
    assert_eq!(b.text("mark").await, "journaling");
    b.check("search-by-word").await;

    // Its marker on the client's timeline.
    b.click(".results a").await;
    b.wait_for_path(&note_path).await;
    b.goto(&format!("{}{client_path}", app.address)).await;
    b.find(".timeline").await;
    let markers = b
        .client
        .find_all(fantoccini::Locator::Css(".timeline circle"))
        .await
        .expect("markers");
    assert_eq!(markers.len(), 2, "one marker per tag on the session");
    assert!(
        b.text(".timeline + .table-wrap")
            .await
            .contains("cried for the first time about her father")
    );
    b.check("client-timeline").await;
    b.close().await;
}

async fn open_print_page(
    b: &Browser,
    app: &TestApp,
    client_id: &str,
    paper: &str,
    large: bool,
    discreet: bool,
) {
    b.goto(&format!("{}/handouts/crying-in-therapy", app.address))
        .await;
    b.find("#client")
        .await
        .select_by_value(client_id)
        .await
        .expect("choose client");
    b.fill(
        "#note",
        "Sam, you showed real courage today. See you Thursday.",
    )
    .await;
    b.click(&format!("#paper-{paper}")).await;
    if large {
        b.click("#large").await;
    }
    if discreet {
        b.click("#discreet").await;
    }
    b.click(".print-options button[type=submit]").await;
    b.find("article.handout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crying_handout_prints_on_letter_and_a4_within_two_pages() {
    use crate::helpers::browser::Paper;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let account = app.set_up().await;
    let client = app.add_client("Samantha Reyes", "Sam").await;
    let client_id = client.trim_start_matches("/clients/").to_owned();
    let b = Browser::start().await;
    sign_in(&b, &app, &account.email, &account.password).await;
    b.wait_for_path("/clients").await;
    b.goto(&format!("{}/handouts", app.address)).await;
    b.check("handout-library").await;
    b.goto(&format!("{}/handouts/crying-in-therapy", app.address))
        .await;
    b.check("handout-show").await;

    let mut normal_pages = 0;
    for (paper, size) in [("letter", Paper::Letter), ("a4", Paper::A4)] {
        open_print_page(&b, &app, &client_id, paper, false, false).await;
        if paper == "letter" {
            b.check("handout-print").await;
        }
        let pdf = b.print_pdf(size).await;
        assert!(pdf.pages <= 2, "{paper}: {} pages", pdf.pages);
        normal_pages = normal_pages.max(pdf.pages);
        for text in [
            "For Sam",
            "you showed real courage today",
            "Riverside Counselling",
            "Dr Ada Lovelace",
            "How could you be kind to yourself this week?",
        ] {
            assert!(
                pdf.text.contains(text),
                "{paper}: {text:?} missing from the PDF:\n{}",
                pdf.text
            );
        }
    }

    // The summary card fits one page on both papers.
    for (paper, size) in [("letter", Paper::Letter), ("a4", Paper::A4)] {
        b.goto(&format!(
            "{}/handouts/crying-in-therapy-card/print?client={client_id}&paper={paper}&names=1",
            app.address
        ))
        .await;
        b.find("article.handout").await;
        let pdf = b.print_pdf(size).await;
        assert_eq!(pdf.pages, 1, "the card on {paper}");
        assert!(pdf.text.contains("One thing I want to remember") && pdf.text.contains("For Sam"));
    }

    // Discreet: no practice name, and no "therapy" in the header or footer.
    open_print_page(&b, &app, &client_id, "letter", false, true).await;
    let header_footer = format!(
        "{} {}",
        b.text(".print-header").await,
        b.text(".print-footer").await
    );
    assert!(
        !header_footer.to_lowercase().contains("therapy"),
        "{header_footer}"
    );
    assert!(!header_footer.contains("Riverside"), "{header_footer}");
    let pdf = b.print_pdf(Paper::Letter).await;
    assert!(
        !pdf.text.contains("Riverside Counselling"),
        "the practice name is nowhere in a discreet print"
    );
    assert!(pdf.text.contains("For Sam"));

    // Large print: bigger type, more pages, nothing lost.
    open_print_page(&b, &app, &client_id, "a4", true, false).await;
    let size: f64 = b
        .client
        .execute(
            "return parseFloat(getComputedStyle(document.querySelector('.handout p')).fontSize);",
            vec![],
        )
        .await
        .expect("font size")
        .as_f64()
        .expect("number");
    assert!(size >= 19.0, "large print is larger: {size}px");
    let pdf = b.print_pdf(Paper::A4).await;
    assert!(
        pdf.pages > normal_pages,
        "large print takes more pages ({} vs {normal_pages})",
        pdf.pages
    );
    for text in [
        "For Sam",
        "You are not alone",
        "Questions people ask",
        "How could you be kind to yourself this week?",
    ] {
        assert!(pdf.text.contains(text), "large print still has {text:?}");
    }

    // Record it as given; the chart lists it.
    b.click("button.give").await;
    b.find(".toolbar .notice").await;
    assert!(
        b.text(".toolbar .notice")
            .await
            .contains("Recorded on Samantha Reyes")
    );
    b.goto(&format!("{}{client}", app.address)).await;
    assert!(b.text("main").await.contains("It's okay to cry in therapy"));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_invites_a_colleague_who_keeps_their_notes_private_and_uses_two_factor() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let admin = app.set_up().await;
    let b = Browser::start().await;
    sign_in(&b, &app, &admin.email, &admin.password).await;
    b.wait_for_path("/clients").await;
    b.click("nav a[href='/practice']").await;
    b.wait_for_path("/practice").await;
    b.fill("#email", "noor@example.org").await;
    b.click("form[action='/practice/invites'] button").await;
    let link = b.text("#invite-link").await;
    b.check("practice-invite").await;
    sign_out(&b).await;

    // The colleague accepts and writes a note.
    b.goto(&link).await;
    b.check("invite-accept").await;
    b.fill("#display_name", "Dr Noor Haddad").await;
    b.fill("#password", "noor's long password").await;
    b.fill("#password_confirm", "noor's long password").await;
    b.click("form button[type=submit]").await;
    b.wait_for_path("/account/recovery-code").await;
    b.click("#stored").await;
    b.click("form[action='/account/recovery-code'] button")
        .await;
    b.wait_for_path("/clients").await;
    b.click("a.button.primary[href='/clients/new']").await;
    b.fill("#full_name", "Omar Client").await;
    b.click("form[action='/clients'] button[type=submit]").await;
    b.find("a.button.primary[href$='/notes/new']").await;
    b.click("a.button.primary[href$='/notes/new']").await;
    b.fill(
        "#section_subjective",
        "Omar spoke about his brother for the first time.",
    )
    .await;
    b.click("button[name=intent][value=save]").await;
    b.find("form[action$='/sign'] button").await;
    let note = b.path().await;
    sign_out(&b).await;

    // The administrator cannot reach it by any URL.
    sign_in(&b, &app, &admin.email, &admin.password).await;
    b.wait_for_path("/clients").await;
    b.goto(&format!("{}{note}", app.address)).await;
    let text = b.text("main").await;
    assert!(
        text.contains("Page not found") && !text.contains("his brother"),
        "{text}"
    );
    b.goto(&format!("{}/clients", app.address)).await;
    sign_out(&b).await;

    // The colleague turns on two-factor sign-in and signs in with it.
    sign_in(&b, &app, "noor@example.org", "noor's long password").await;
    b.wait_for_path("/clients").await;
    b.goto(&format!("{}/settings", app.address)).await;
    b.check("settings").await;
    b.click("a[href='/settings/two-factor']").await;
    b.wait_for_path("/settings/two-factor").await;
    b.check("two-factor-enrol").await;
    let secret =
        tearsheet::auth::totp::decode_secret(&b.text("code.secret").await).expect("secret shown");
    let now = crate::helpers::app::unix_now();
    b.fill("#code", &tearsheet::auth::totp::code_at(&secret, now))
        .await;
    b.click("form[action='/settings/two-factor'] button").await;
    b.find(".backup-codes").await;
    b.click("a.button.primary[href='/settings']").await;
    b.wait_for_path("/settings").await;
    sign_out(&b).await;
    sign_in(&b, &app, "noor@example.org", "noor's long password").await;
    b.wait_for_path("/login/code").await;
    b.check("login-code").await;
    b.fill("#code", &tearsheet::auth::totp::code_at(&secret, now + 30))
        .await;
    b.click("form[action='/login/code'] button").await;
    b.wait_for_path("/clients").await;
    assert!(b.text("main").await.contains("Omar Client"));
    b.close().await;
}
