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
    // Nothing to search or to find archived yet, so neither is offered.
    let empty = b.text("main").await;
    assert!(
        !empty.contains("Find by name") && !empty.contains("Archived clients"),
        "{empty}"
    );
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
    b.fill(
        "#section_objective",
        "Tearful, then settled; good eye contact.",
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
    b.click("button.primary[name=intent][value=save]").await;
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
        .find_all(fantoccini::Locator::Css(".timeline .tl-dot"))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_therapist_records_a_phq9_and_sees_it_beside_a_tearful_breakthrough() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let account = app.set_up().await;
    let client = app.add_client("Noor Haddad", "Noor").await;
    let note = app
        .add_note(
            &client,
            &[
                ("session_date", "2026-03-02"),
                (
                    "section_subjective",
                    "Noor cried while talking about her mother.",
                ),
                ("tag", "tearful-breakthrough"),
            ],
        )
        .await;
    // Two earlier sessions with a PHQ-9 each, so there is a line.
    app.add_note(
        &client,
        &[("session_date", "2026-01-12"), ("tag", "trust-building")],
    )
    .await;
    let token = app.get(&client).await.csrf_token();
    let items: Vec<String> = (1..=8).map(|i| format!("item{i}")).collect();
    for (date, answer) in [("2026-01-12", "3"), ("2026-02-09", "2")] {
        let mut fields = vec![
            ("csrf_token", token.as_str()),
            ("instrument", "phq-9"),
            ("date", date),
            ("item9", "0"),
        ];
        fields.extend(items.iter().map(|i| (i.as_str(), answer)));
        let saved = app
            .post_form(&format!("{client}/measures/new"), &fields)
            .await;
        assert_eq!(saved.status, 303, "{}", saved.body);
    }
    let b = Browser::start().await;
    sign_in(&b, &app, &account.email, &account.password).await;
    b.wait_for_path("/clients").await;

    // From the session's note: the form opens with that session chosen.
    b.goto(&format!("{}{note}", app.address)).await;
    b.click("a[href*='/measures/new?note=']").await;
    b.find("form[action$='/measures/new']").await;
    assert_eq!(
        b.find("#date")
            .await
            .prop("value")
            .await
            .expect("date")
            .as_deref(),
        Some("2026-03-02")
    );
    assert_eq!(
        b.find("#note")
            .await
            .prop("value")
            .await
            .expect("note")
            .as_deref(),
        Some(note.trim_start_matches("/notes/"))
    );
    b.check("measure-form").await;
    // Answers read from the client's paper form: 2 on each of items 1-8,
    // "Several days" on item 9.
    for item in 1..=8 {
        b.click(&format!("label[for='item{item}-2']")).await;
    }
    b.click("label[for='item9-1']").await;
    b.click("form[action$='/measures/new'] button.primary")
        .await;
    b.find(".notice").await;
    assert!(b.path().await.starts_with(&client));
    assert_eq!(b.text(".notice").await, "Measure saved.");
    // Item 9 is shown prominently, with its date.
    let warning = b.text(".self-harm").await;
    assert!(
        warning.contains("PHQ-9 item 9") && warning.contains("2 Mar 2026: Several days"),
        "{warning}"
    );
    // The score (17, moderately severe) on the timeline, on the same day
    // as the tearful breakthrough's dot.
    let row = b.text("table.measures tbody tr").await;
    assert!(
        row.contains("17") && row.contains("moderately severe"),
        "{row}"
    );
    let centres = |css: &'static str| {
        let b = &b;
        async move {
            b.js(&format!("return [...document.querySelectorAll('{css}')].map(c => c.getBoundingClientRect().left + c.getBoundingClientRect().width / 2);"))
                .await
                .as_array()
                .expect("dots")
                .iter()
                .map(|v| v.as_f64().expect("x"))
                .collect::<Vec<f64>>()
        }
    };
    let tags = centres(".timeline .tl-dot").await;
    let scores = centres(".timeline .tl-score-dot").await;
    assert_eq!((tags.len(), scores.len()), (2, 3), "{tags:?} {scores:?}");
    // 12 Jan: trust and the first score; 2 Mar: the tears and the new one.
    let near = |a: f64, b: f64| (a - b).abs() < 1.0;
    assert!(
        tags.iter().any(|t| near(*t, scores[0])),
        "{tags:?} {scores:?}"
    );
    assert!(
        tags.iter().any(|t| near(*t, scores[2])),
        "{tags:?} {scores:?}"
    );
    assert!(scores[0] < scores[1] && scores[1] < scores[2]);
    b.check("client-measures").await;
    b.js("document.querySelector('.timeline').scrollIntoView(); return 0;")
        .await;
    b.screenshots("client-timeline-scores").await;
    // On a phone the score line keeps its size and the page does not
    // scroll sideways (`check` measured that); the line spans the track.
    b.resize(390, 844).await;
    let width = b
        .js("return document.querySelector('.tl-score .tl-track').getBoundingClientRect().width;")
        .await
        .as_f64()
        .expect("width");
    assert!(width >= 280.0, "score track {width}px wide on a phone");
    b.close().await;
}

/// Fill the handout's print form for the client and press `button`
/// (`just` for "Just print", `give` for "Print and record as given").
async fn open_print_page(
    b: &Browser,
    app: &TestApp,
    client_id: &str,
    paper: &str,
    large: bool,
    discreet: bool,
    button: &str,
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
    let selector = match button {
        "give" => ".print-options button[name=give]",
        _ => ".print-options button:not([name=give])",
    };
    b.click(selector).await;
    b.find("article.handout").await;
}

/// The body text's size on the page on screen, in CSS pixels.
async fn body_text_px(b: &Browser) -> f64 {
    b.client
        .execute(
            "return parseFloat(getComputedStyle(document.querySelector('.handout .part:nth-child(2) p')).fontSize);",
            vec![],
        )
        .await
        .expect("font size")
        .as_f64()
        .expect("number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crying_handout_prints_as_two_full_pages_on_letter_and_a4() {
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

    let today = b
        .client
        .execute(
            "return new Date().toLocaleDateString('en-GB', {day: 'numeric', month: 'short', year: 'numeric'});",
            vec![],
        )
        .await
        .expect("today")
        .as_str()
        .expect("a date")
        .replace("Sept", "Sep");
    let mut normal_px = 0.0;
    for (paper, size) in [("letter", Paper::Letter), ("a4", Paper::A4)] {
        for large in [false, true] {
            let name = format!("handout-{paper}-{}", if large { "large" } else { "normal" });
            open_print_page(&b, &app, &client_id, paper, large, false, "just").await;
            if paper == "letter" {
                b.check(&format!("{name}-print")).await;
            }
            // The face is the one shipped in static/, loaded from there.
            let loaded = b
                .client
                .execute(
                    "return [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family).join(',');",
                    vec![],
                )
                .await
                .expect("fonts");
            assert!(
                loaded
                    .as_str()
                    .unwrap_or("")
                    .contains("Atkinson Hyperlegible"),
                "{name}: {loaded}"
            );
            let px = body_text_px(&b).await;
            if large {
                assert!(
                    px >= 18.5 && px >= normal_px * 1.15,
                    "{name}: large print is 14 pt or more ({px}px against {normal_px}px)"
                );
            } else {
                assert!(px >= 15.9, "{name}: 12 pt body text ({px}px)");
                normal_px = px;
            }
            let pdf = b.print_pdf(size).await;
            b.keep_print_pages(size, &name);
            // Two full pages: the second at least 70% filled.
            assert_eq!(pdf.pages, 2, "{name}: {} pages", pdf.pages);
            assert!(
                pdf.fill(0) > 0.85 && pdf.fill(1) > 0.7,
                "{name}: pages filled {:.2} and {:.2}",
                pdf.fill(0),
                pdf.fill(1)
            );
            // Embedded, from static/, and nothing else.
            assert!(
                pdf.fonts.contains("AtkinsonHyperlegible-Regular")
                    && pdf.fonts.contains("AtkinsonHyperlegible-Bold"),
                "{name}:\n{}",
                pdf.fonts
            );
            for row in pdf.fonts.lines().skip(2) {
                assert!(row.contains("AtkinsonHyperlegible"), "{name}: {row}");
                assert!(row.contains(" yes "), "{name}: not embedded: {row}");
            }
            // The running head at the top and the foot on the last line of
            // every page.
            for (i, (height, lines)) in pdf.page_lines.iter().enumerate() {
                let (head, foot) = (&lines[0], &lines[lines.len() - 1]);
                assert!(
                    head.text.contains("For Sam"),
                    "{name} page {}: {head:?}",
                    i + 1
                );
                assert!(
                    foot.text.contains("Dr Ada Lovelace") && foot.text.contains(&today),
                    "{name} page {}: the last line is {foot:?}",
                    i + 1
                );
                assert!(
                    foot.bottom > height * 0.9,
                    "{name} page {}: the foot is at {:.0} of {height:.0} pt",
                    i + 1,
                    foot.bottom
                );
            }
            for text in [
                "It's okay to cry in therapy",
                "you showed real courage today",
                "Riverside Counselling",
                "You are not alone",
                "Questions people ask",
                "How could you be kind to yourself this week?",
                "Smith et al. (2020)",
            ] {
                assert!(
                    pdf.text.contains(text),
                    "{name}: {text:?} missing from the PDF:\n{}",
                    pdf.text
                );
            }
        }
    }

    // The summary card fits one page on both papers, at both sizes.
    for (paper, size) in [("letter", Paper::Letter), ("a4", Paper::A4)] {
        for large in ["", "&large=1"] {
            b.goto(&format!(
                "{}/handouts/crying-in-therapy-card/print?client={client_id}&paper={paper}&names=1{large}",
                app.address
            ))
            .await;
            b.find("article.handout").await;
            let pdf = b.print_pdf(size).await;
            assert_eq!(pdf.pages, 1, "the card on {paper}{large}");
            assert!(
                pdf.text.contains("One thing I want to remember") && pdf.text.contains("For Sam")
            );
        }
    }
    b.check("handout-card-print").await;

    // Discreet: a title that does not say "cry", no practice name, and no
    // "therapy" in the running head or foot.
    open_print_page(&b, &app, &client_id, "letter", false, true, "just").await;
    let title = b.text(".band h1").await;
    assert_eq!(title, "Feelings are welcome here");
    assert!(!title.to_lowercase().contains("cry"));
    let running = format!(
        "{} {}",
        b.text(".running-head").await,
        b.text(".running-foot").await
    );
    assert!(!running.to_lowercase().contains("therapy"), "{running}");
    assert!(!running.contains("Riverside"), "{running}");
    let pdf = b.print_pdf(Paper::Letter).await;
    b.keep_print_pages(Paper::Letter, "handout-discreet");
    assert_eq!(pdf.pages, 2);
    assert!(
        !pdf.text.contains("Riverside Counselling") && !pdf.text.contains("It's okay to cry"),
        "neither the practice nor the crying title on a discreet print"
    );
    assert!(pdf.text.contains("For Sam"));
    b.check("handout-discreet-print").await;

    // Print and record in one step, then undo it.
    open_print_page(&b, &app, &client_id, "a4", true, false, "give").await;
    let notice = b.text(".toolbar .notice").await;
    assert!(notice.contains("Recorded on Samantha Reyes"), "{notice}");
    b.check("handout-given").await;
    b.goto(&format!("{}{client}", app.address)).await;
    assert!(b.text("main").await.contains("It's okay to cry in therapy"));
    b.client.back().await.expect("back");
    b.click(".toolbar form[action$='/undo'] button").await;
    b.wait_for_path(&client).await;
    let main = b.text("main").await;
    assert!(!main.contains("It's okay to cry in therapy"), "{main}");
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
    b.click("button.primary[name=intent][value=save]").await;
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

/// Wait (up to ten seconds) for a new document to have loaded after a
/// click, and count it.
async fn next_page(b: &Browser, seen: &mut f64, loads: &mut usize) {
    for _ in 0..100 {
        let now = b.document().await;
        if now != *seen && b.js("return document.readyState").await == "complete" {
            *seen = now;
            *loads += 1;
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no new page loaded; still at {}", b.path().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_core_journey_takes_six_page_loads_without_javascript() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let account = app.set_up().await;
    let client = app.add_client("Samantha Reyes", "Sam").await;
    let b = Browser::start_without_javascript().await;
    // Page scripts really do not run in this browser.
    b.goto("data:text/html,<title>before</title><script>document.title='ran'</script>")
        .await;
    assert_eq!(b.js("return document.title").await, "before");

    // From the sign-in page: sign in, open the client, write a SOAP note
    // with two breakthrough tags and sign it, print the crying handout for
    // the client with a personal note, and record it as given.
    b.goto(&format!("{}/login", app.address)).await;
    let (mut seen, mut loads, mut clicks, mut fields) = (b.document().await, 0, 0, 0);
    b.fill("#email", &account.email).await;
    b.fill("#password", &account.password).await;
    fields += 2;
    b.click("form[action='/login'] button").await;
    clicks += 1;
    next_page(&b, &mut seen, &mut loads).await;
    assert_eq!(b.path().await, "/clients");

    b.click(&format!("a[href='{client}']")).await;
    clicks += 1;
    next_page(&b, &mut seen, &mut loads).await;
    b.click("a.button.primary[href$='/notes/new']").await;
    clicks += 1;
    next_page(&b, &mut seen, &mut loads).await;

    for (id, text) in [
        (
            "#section_subjective",
            "Sam spoke about her mother's illness and cried.",
        ),
        (
            "#section_objective",
            "Tearful, then calmer; steady eye contact.",
        ),
        (
            "#section_assessment",
            "Grief surfacing safely; trust growing.",
        ),
        ("#section_plan", "Weekly; a handout about tears in therapy."),
    ] {
        b.fill(id, text).await;
        fields += 1;
    }
    for tag in ["tearful-breakthrough", "emotional-release"] {
        b.click(&format!("input[name=tag][value='{tag}']")).await;
        clicks += 1;
    }
    b.click("button[name=intent][value=sign]").await;
    clicks += 1;
    next_page(&b, &mut seen, &mut loads).await;
    let note = b.path().await;
    assert!(note.starts_with("/notes/"), "{note}");
    assert!(
        b.text(".status")
            .await
            .starts_with("Signed by Dr Ada Lovelace")
    );

    b.click(".suggestions a[href^='/handouts/crying-in-therapy?']")
        .await;
    clicks += 1;
    next_page(&b, &mut seen, &mut loads).await;
    // The personalise form, with the client chosen and names on.
    let chosen = b.js("return document.querySelector('#client').value").await;
    assert_eq!(chosen, client.trim_start_matches("/clients/"));
    assert_eq!(
        b.js("return document.querySelector('#names').checked")
            .await,
        true
    );
    b.fill(
        "#note",
        "Sam, you were brave today. Read this when you like.",
    )
    .await;
    fields += 1;
    b.click(".print-options button[name=give]").await;
    clicks += 1;
    next_page(&b, &mut seen, &mut loads).await;
    let notice = b.text(".toolbar .notice").await;
    assert!(notice.contains("Recorded on Samantha Reyes"), "{notice}");
    assert!(
        b.text("article.handout")
            .await
            .contains("Sam, you were brave today.")
    );
    b.screenshots("journey-given").await;

    assert!(loads <= 6, "{loads} page loads");
    assert_eq!(
        (loads, clicks, fields),
        (6, 8, 7),
        "page loads, clicks, fields"
    );
    // Nothing was skipped: the note is signed with both tags, and the
    // handout is on the client's chart.
    assert_eq!(app.audit_count("note.sign"), 1);
    assert_eq!(app.audit_count("handout.given"), 1);
    b.goto(&format!("{}{client}", app.address)).await;
    let chart = b.text("main").await;
    assert!(chart.contains("It's okay to cry in therapy"), "{chart}");
    assert!(chart.contains("Tearful breakthrough") && chart.contains("Emotional release"));
    b.close().await;
}

/// Where an element is on screen: `[left, top, width, height]`.
async fn rect(b: &Browser, css: &str) -> [f64; 4] {
    let v = b
        .js(&format!(
            "const r = document.querySelector({css:?}).getBoundingClientRect(); return [r.left, r.top, r.width, r.height];"
        ))
        .await;
    let n = |i: usize| v[i].as_f64().expect("a number");
    [n(0), n(1), n(2), n(3)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_reflow_on_a_phone_and_use_the_width_on_a_desktop() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let account = app.set_up().await;
    let client = app.add_client("Rowan Thistlewood", "Rowan").await;
    for (date, tags) in [
        ("2026-01-12", vec!["tearful-breakthrough"]),
        ("2026-02-09", vec!["trust-building", "self-compassion"]),
        ("2026-04-20", vec!["emotional-release"]),
        ("2026-06-15", vec!["tearful-breakthrough", "trust-building"]),
        ("2026-09-07", vec!["self-compassion"]),
        ("2026-11-02", vec!["tearful-breakthrough"]),
    ] {
        let mut fields = vec![("session_date", date), ("key_moment", "let the tears come")];
        fields.extend(tags.iter().map(|t| ("tag", *t)));
        app.add_note(&client, &fields).await;
    }
    let b = Browser::start().await;
    sign_in(&b, &app, &account.email, &account.password).await;
    b.wait_for_path("/clients").await;

    // The timeline: as wide as the panel on a desktop with a few dated
    // ticks; on a phone each label above its track, text its real size.
    b.goto(&format!("{}{client}", app.address)).await;
    let visible_ticks = "return [...document.querySelectorAll('.tl-tick')].filter(t => getComputedStyle(t).display !== 'none').map(t => { const r = t.getBoundingClientRect(); return [r.left, r.right, parseFloat(getComputedStyle(t).fontSize)]; });";
    let track = rect(&b, ".tl-row .tl-track").await;
    let panel = rect(&b, ".timeline").await;
    assert!(
        track[2] > panel[2] * 0.7,
        "the track uses the width: {track:?} in {panel:?}"
    );
    let ticks = b.js(visible_ticks).await;
    let ticks = ticks.as_array().expect("ticks");
    assert!(ticks.len() >= 3, "a few dated ticks: {ticks:?}");
    b.check("client-timeline").await;
    b.resize(390, 844).await;
    let label = rect(&b, ".tl-row .tl-label").await;
    let track = rect(&b, ".tl-row .tl-track").await;
    assert!(
        label[1] + label[3] <= track[1] + 1.0,
        "label above track: {label:?} {track:?}"
    );
    assert!(track[2] >= 280.0, "the track spans the phone: {track:?}");
    let ticks = b.js(visible_ticks).await;
    let ticks = ticks.as_array().expect("ticks");
    assert!(ticks.len() >= 2, "{ticks:?}");
    let mut right_of_last = f64::MIN;
    for t in ticks {
        let (left, right, px) = (
            t[0].as_f64().unwrap_or(0.0),
            t[1].as_f64().unwrap_or(0.0),
            t[2].as_f64().unwrap_or(0.0),
        );
        assert!(
            px >= 12.0,
            "tick labels at 12px or more, not scaled down: {px}"
        );
        assert!(
            left >= right_of_last,
            "tick labels do not overlap: {ticks:?}"
        );
        right_of_last = right;
    }
    let label_px = b
        .js("return parseFloat(getComputedStyle(document.querySelector('.tl-label')).fontSize);")
        .await;
    assert!(label_px.as_f64().unwrap_or(0.0) >= 14.0, "{label_px}");
    // The five areas sit on one line of the header.
    let tops = b
        .js("return [...document.querySelectorAll('.site-nav a')].map(a => Math.round(a.getBoundingClientRect().top));")
        .await;
    let tops = tops.as_array().expect("tops");
    assert!(
        tops.iter().all(|t| *t == tops[0]),
        "nav on one line: {tops:?}"
    );
    b.resize(1280, 900).await;

    // The notes search: a wide Words box, the dates side by side on any
    // screen, the count clear of the button, chips with room in them.
    b.goto(&format!("{}/notes?q=tears&from=2026-01-01", app.address))
        .await;
    b.find("#results").await;
    for (width, height) in [(1280, 900), (390, 844)] {
        b.resize(width, height).await;
        let words = rect(&b, "#q").await;
        assert!(
            words[2] >= (width as f64 * 0.25).min(300.0),
            "{width}: Words {words:?}"
        );
        let (from, to) = (rect(&b, "#from").await, rect(&b, "#to").await);
        assert!(
            (from[1] - to[1]).abs() < 1.0,
            "{width}: From and To on one row: {from:?} {to:?}"
        );
        let button = rect(&b, ".search-form .actions").await;
        let count = rect(&b, "#results").await;
        assert!(
            count[1] - (button[1] + button[3]) >= 16.0,
            "{width}: {button:?} {count:?}"
        );
        let chip = b
            .js("const c = document.querySelector('.results .chip'); const s = getComputedStyle(c); return [parseFloat(s.paddingLeft), c.getBoundingClientRect().height, parseFloat(s.lineHeight) || 20];")
            .await;
        let (pad, h, line) = (
            chip[0].as_f64().unwrap_or(0.0),
            chip[1].as_f64().unwrap_or(0.0),
            chip[2].as_f64().unwrap_or(20.0),
        );
        assert!(
            pad >= 6.0 && h < line * 2.0,
            "{width}: chip padding {pad}px, height {h}px"
        );
    }
    b.resize(1280, 900).await;
    b.check("search-layout").await;

    // An error summary keeps its distance from the field below it.
    b.goto(&format!("{}/clients/new", app.address)).await;
    b.click("form[action='/clients'] button[type=submit]").await;
    b.find(".error-summary").await;
    let summary = rect(&b, ".error-summary").await;
    let next = b
        .js("const s = document.querySelector('.error-summary'); let n = s.nextElementSibling; while (n && n.getBoundingClientRect().height === 0) { n = n.nextElementSibling; } return n.getBoundingClientRect().top;")
        .await;
    assert!(
        next.as_f64().unwrap_or(0.0) - (summary[1] + summary[3]) >= 12.0,
        "space under the error summary: {summary:?} then {next}"
    );
    b.check("client-form-errors").await;

    // A draft's Delete asks first, on a page that names the note.
    let draft = app
        .add_note(&client, &[("section_subjective", "A draft about the move")])
        .await;
    b.goto(&format!("{}{draft}", app.address)).await;
    b.click(&format!("a[href='{draft}/delete']")).await;
    b.wait_for_path(&format!("{draft}/delete")).await;
    let text = b.text("main").await;
    assert!(
        text.contains("Rowan Thistlewood") && text.contains("A draft about the move"),
        "{text}"
    );
    b.check("note-delete-confirm").await;
    b.click(
        "a.button[href='{draft}']"
            .replace("{draft}", &draft)
            .as_str(),
    )
    .await;
    b.wait_for_path(&draft).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_associate_signs_a_note_and_the_supervisor_co_signs_it() {
    use diesel::prelude::*;
    use tearsheet::db::schema::therapists;
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.set_up().await;
    let password = "a long enough password";
    let bo = app.colleague("bo@example.org", password).await;
    app.colleague("cy@example.org", password).await;
    {
        let mut conn = app.pool().get().expect("conn");
        for (email, name, level) in [
            ("bo@example.org", "Bo Associate", "associate"),
            ("cy@example.org", "Cy Supervisor", "licensed"),
        ] {
            diesel::update(therapists::table.filter(therapists::email.eq(email)))
                .set((
                    therapists::display_name.eq(name),
                    therapists::licence_level.eq(level),
                ))
                .execute(&mut *conn)
                .expect("profile");
        }
    }
    let client = bo.add_client("Ines Moreau", "Ines").await;

    let b = Browser::start().await;
    // Cy reads out their fingerprint from Settings.
    sign_in(&b, &app, "cy@example.org", password).await;
    b.wait_for_path("/clients").await;
    b.goto(&format!("{}/settings", app.address)).await;
    let cy_fingerprint = b.text("#fingerprint").await;
    b.check("settings-fingerprint").await;
    sign_out(&b).await;

    // Bo names Cy, confirming the same fingerprint.
    sign_in(&b, &app, "bo@example.org", password).await;
    b.wait_for_path("/clients").await;
    b.goto(&format!("{}/settings/supervision", app.address))
        .await;
    b.check("supervision-name").await;
    b.fill("#email", "cy@example.org").await;
    b.click("form[action='/settings/supervision'] button").await;
    b.find("#fingerprint").await;
    assert_eq!(b.text("#fingerprint").await, cy_fingerprint);
    b.check("supervision-confirm").await;
    b.click("form[action='/settings/supervision/confirm'] button")
        .await;
    b.find(".notice").await;
    assert!(b.text("main").await.contains("Cy Supervisor"));
    b.check("supervision-named").await;

    // Bo writes and signs a note.
    b.goto(&format!("{}{client}/notes/new", app.address)).await;
    b.fill(
        "#section_subjective",
        "Ines wept when she spoke of her son.",
    )
    .await;
    b.fill("#section_objective", "Tearful, then calm.").await;
    b.fill("#section_assessment", "Grief is moving.").await;
    b.fill("#section_plan", "Meet weekly.").await;
    b.fill("#process_note", "My own countertransference notes.")
        .await;
    b.click("label[for='tag-0']").await;
    b.click("button.primary[name=intent][value=save]").await;
    b.find("form[action$='/sign'] button").await;
    let note = b.path().await;
    b.click("form[action$='/sign'] button").await;
    b.find("#addenda").await;
    assert!(b.text(".facts").await.contains("Awaiting co-signature"));
    sign_out(&b).await;

    // Cy finds it on the Supervision page and co-signs it.
    sign_in(&b, &app, "cy@example.org", password).await;
    b.wait_for_path("/clients").await;
    b.goto(&format!("{}/supervision", app.address)).await;
    assert!(b.text("main").await.contains("Ines Moreau"));
    b.check("supervision-queue").await;
    b.click(&format!("a[href='{note}']")).await;
    b.wait_for_path(&note).await;
    let text = b.text("main").await;
    assert!(text.contains("Ines wept when she spoke of her son."));
    assert!(!text.contains("countertransference"), "{text}");
    b.check("supervision-note").await;
    b.click(&format!("form[action='{note}/cosign'] button"))
        .await;
    b.find(".cosignature").await;
    assert!(
        b.text(".cosignature")
            .await
            .starts_with("Co-signed by Cy Supervisor")
    );
    b.check("supervision-cosigned").await;
    b.goto(&format!("{}/custodianship", app.address)).await;
    b.check("custodianship-empty").await;
    sign_out(&b).await;

    // Bo sees the co-signature, and names a custodian.
    sign_in(&b, &app, "bo@example.org", password).await;
    b.wait_for_path("/clients").await;
    b.goto(&format!("{}{note}", app.address)).await;
    assert!(
        b.text(".cosignature")
            .await
            .starts_with("Co-signed by Cy Supervisor")
    );
    assert!(b.text("main").await.contains("countertransference"));
    b.goto(&format!("{}/settings/custodian", app.address)).await;
    b.check("custodian-settings").await;
    b.goto(&format!("{}{client}/transfer", app.address)).await;
    b.check("transfer-form").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_from_a_tool_becomes_a_note_with_a_pack_template() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let account = app.set_up().await;
    // The practice trusts a publisher and loads its pack (over HTTP: the
    // pages themselves are checked in tests/packs.rs).
    let publisher = crate::helpers::packs::Publisher::new();
    crate::packs::trust(&app, &publisher).await;
    let parent = tempfile::tempdir().expect("temp");
    let dir = crate::packs::signed_example(parent.path(), "example", &publisher);
    let loaded = crate::packs::upload(&app, &crate::helpers::packs::tar_of(&dir)).await;
    assert_eq!(loaded.status, 303, "{}", loaded.body);
    let client = app.add_client("Maya Lindqvist", "Maya").await;

    let b = Browser::start().await;
    sign_in(&b, &app, &account.email, &account.password).await;
    b.wait_for_path("/clients").await;
    b.goto(&format!("{}/settings", app.address)).await;
    b.click("a[href='/settings/inbox-tokens']").await;
    b.wait_for_path("/settings/inbox-tokens").await;
    b.fill("#name", "Dictation on my phone").await;
    b.click("form[action='/settings/inbox-tokens'] button")
        .await;
    let token = b.text("#new-token").await;
    assert!(token.starts_with("tsin_"), "{token}");
    b.check("inbox-token-made").await;

    // The tool posts a draft in the example pack's intake template.
    let draft = serde_json::json!({
        "tool": "Example Dictation 2.1",
        "session_date": "2026-03-02",
        "format": "template:example-pack/intake",
        "client_reference": "Maya L.",
        "sections": {
            "presenting_concern": "Grief since her father's illness.",
            "history": "No earlier therapy.",
            "risk": "None reported.",
            "strengths": "Close to her sister.",
            "goals": "To cry without shame.",
            "plan": "Weekly sessions."
        }
    });
    let posted = crate::inbox::post(&app.new_agent(), &token, &draft).await;
    crate::inbox::draft_id(&posted);

    b.click("a[href='/inbox']").await;
    b.wait_for_path("/inbox").await;
    assert!(b.text("main").await.contains("Maya L."));
    b.check("inbox").await;
    b.click(".inbox-list h2 a").await;
    b.find("#client").await;
    b.check("inbox-draft").await;
    let id = client.trim_start_matches("/clients/");
    b.find(&format!("#client option[value='{id}']"))
        .await
        .click()
        .await
        .expect("choose the client");
    b.click("form[action$='/accept'] button").await;
    b.find("#section_presenting_concern").await;
    let text = b.text("main").await;
    assert!(
        text.contains("This note uses the template Intake assessment"),
        "{text}"
    );
    assert!(text.contains("Grief since her father's illness."), "{text}");
    b.check("inbox-accepted-note-form").await;
    // Save it: an ordinary draft, under the client's key.
    b.click("button.primary[name=intent][value=save]").await;
    b.find("form[action$='/sign'] button").await;
    let note = b.text("main").await;
    assert!(
        note.contains("Presenting concern") && note.contains("Close to her sister."),
        "{note}"
    );
    b.check("inbox-note").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spanish_speaking_client_gets_the_spanish_handout_and_opens_it_on_a_phone() {
    use crate::helpers::browser::Paper;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let account = app.set_up().await;
    let client = app.add_client_speaking("Ana Beltrán", "Ana", "es").await;
    let client_id = client.trim_start_matches("/clients/").to_owned();
    let b = Browser::start().await;
    sign_in(&b, &app, &account.email, &account.password).await;
    b.wait_for_path("/clients").await;

    // Its quality record, and the form for a handout without one.
    b.goto(&format!(
        "{}/handouts/llorar-en-terapia/quality",
        app.address
    ))
    .await;
    b.check("handout-quality-shipped").await;

    // From the English handout's page, for a client who reads Spanish.
    b.goto(&format!("{}/handouts/crying-in-therapy", app.address))
        .await;
    b.find("#client")
        .await
        .select_by_value(&client_id)
        .await
        .expect("choose client");
    b.fill(
        "#note",
        "Ana, hoy diste un paso muy valiente. Nos vemos el jueves.",
    )
    .await;
    b.click(".print-options button[name=give]").await;
    b.find("article.handout").await;
    let lang = b.js("return document.documentElement.lang;").await;
    assert_eq!(lang.as_str(), Some("es"));
    assert_eq!(b.text(".band h1").await, "Está bien llorar en terapia");
    b.check("handout-spanish-given").await;
    let given_path = b.path().await;
    for (size, name) in [(Paper::Letter, "letter"), (Paper::A4, "a4")] {
        let pdf = b.print_pdf(size).await;
        b.keep_print_pages(size, &format!("handout-spanish-{name}"));
        assert!(pdf.pages <= 2, "{name}: {} pages", pdf.pages);
        let flat = pdf.text.split_whitespace().collect::<Vec<_>>().join(" ");
        for text in [
            "Para Ana",
            "Una nota para Ana",
            "hoy diste un paso muy valiente",
            "6 de cada 10 personas en terapia",
            "Journal of Research",
            "Smith y otros",
            "Para pensar",
        ] {
            assert!(
                flat.contains(text),
                "{name}: {text:?} missing:\n{}",
                pdf.text
            );
        }
        for english in ["For Ana", "A note for", "Where this comes from"] {
            assert!(!flat.contains(english), "{name}: English {english:?}");
        }
    }

    // A private link: its QR code on the page reads back as the link.
    b.click(".link-tools form button").await;
    b.find("#private-link").await;
    let url = b.text("#private-link").await;
    assert!(
        url.starts_with(&app.address) && url.contains("/h/"),
        "{url}"
    );
    let png = b
        .find("svg.qr")
        .await
        .screenshot()
        .await
        .expect("a screenshot of the QR code");
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("qr.png"), png).expect("save");
    let out = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(dir.path().join("qr.png"))
        .output()
        .expect("zbarimg runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), url);
    b.check("handout-spanish-with-link").await;
    // With the QR code and the short code, still two pages at most.
    for (size, name) in [(Paper::Letter, "letter"), (Paper::A4, "a4")] {
        let pdf = b.print_pdf(size).await;
        b.keep_print_pages(size, &format!("handout-spanish-link-{name}"));
        assert!(pdf.pages <= 2, "{name} with its link: {} pages", pdf.pages);
        let flat = pdf.text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("escribe el código"), "{name}:\n{}", pdf.text);
    }
    assert!(given_path.starts_with("/handouts/given/"));
    b.close().await;

    // On a phone, without scripts: readable at 390px, larger text by a
    // switch that needs no script.
    let phone = Browser::start_without_javascript().await;
    phone.goto(&url).await;
    phone.find("article.handout").await;
    let text = phone.text("main").await;
    assert!(text.contains("hoy diste un paso muy valiente"), "{text}");
    phone.screenshots("handout-link-phone").await;
    phone.click("label[for=larger]").await;
    phone.screenshots("handout-link-phone-larger").await;
    phone.close().await;
    let chart = app.get(&client).await;
    chart.assert_contains("Private link: Opened once");
}
