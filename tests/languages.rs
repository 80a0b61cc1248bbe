//! Handouts in the client's language: a client's preferred language, the
//! Spanish crying handout and card, printing in the client's language (or
//! asking), and reading levels by each language's own formula.

use crate::both_backends;
use crate::helpers::TestApp;
use crate::helpers::app::Page;

both_backends!(
    a_spanish_speaking_clients_handout_is_printed_in_spanish_throughout,
    a_language_without_a_version_is_asked_about_never_replaced_silently,
    the_spanish_handouts_keep_the_facts_and_are_measured_by_a_spanish_formula,
    each_handout_version_has_a_pemat_p_record_and_the_practices_own_start_unscored,
);

async fn print_for(app: &TestApp, slug: &str, client: &str, extra: &[(&str, &str)]) -> Page {
    let id = client.trim_start_matches("/clients/");
    let mut fields = vec![
        ("client", id),
        ("note", "Hoy fuiste muy valiente."),
        ("paper", "letter"),
        ("names", "1"),
    ];
    fields.extend_from_slice(extra);
    app.submit(
        &format!("/handouts/{slug}"),
        &format!("/handouts/{slug}/print"),
        &fields,
    )
    .await
}

async fn a_spanish_speaking_clients_handout_is_printed_in_spanish_throughout(app: TestApp) {
    app.set_up().await;
    let ana = app.add_client_speaking("Ana Beltrán", "Ana", "es-MX").await;
    let chart = app.get(&ana).await;
    chart.assert_contains("Preferred language");
    chart.assert_contains("<dd>Spanish</dd>");
    // The form keeps the tag as given, in its usual case.
    let edit = app.get(&format!("{ana}/edit")).await;
    edit.assert_contains("<option value=\"es-MX\" selected>");

    // Asked for the English handout, a Spanish-speaking client gets the
    // Spanish one, with every label in Spanish.
    let page = print_for(&app, "crying-in-therapy", &ana, &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_contains("<html lang=\"es\"");
    page.assert_contains("Está bien llorar en terapia");
    page.assert_contains("<span lang=\"es\">Para</span> Ana");
    page.assert_contains("<span lang=\"es\">Una nota para</span> Ana");
    page.assert_contains("De dónde viene esta información");
    page.assert_contains("In Spanish, their preferred language.");
    let paper = page
        .body
        .split("<main class=\"paper\">")
        .nth(1)
        .expect("paper");
    for english in [
        "For Ana",
        "A note for",
        "Where this comes from",
        "okay to cry",
        "December",
    ] {
        assert!(
            !paper.contains(english),
            "English {english:?} on the Spanish page"
        );
    }
    // Today's date, written the Spanish way: "1 de diciembre de 2026".
    let today = tearsheet::lang::SPANISH.date(&chrono::Local::now().date_naive().to_string());
    assert!(today.contains(" de "), "{today}");
    assert!(
        paper.contains(&today),
        "the date is written in Spanish: {today}"
    );

    // Recorded as given, the record and its reprint stay Spanish.
    let given = print_for(&app, "crying-in-therapy", &ana, &[("give", "1")]).await;
    assert_eq!(given.status, 303, "{}", given.body);
    let reprint = app.get(&given.location_path()).await;
    reprint.assert_contains("<html lang=\"es\"");
    reprint.assert_contains("Hoy fuiste muy valiente.");
    app.get(&ana)
        .await
        .assert_contains("Está bien llorar en terapia");

    // The therapist may still choose English explicitly.
    let english = print_for(&app, "crying-in-therapy", &ana, &[("lang", "en")]).await;
    assert_eq!(english.status, 200);
    english.assert_contains("<html lang=\"en\"");
    english.assert_contains("In English, as you chose.");
    // And the card follows the client's language too.
    let card = print_for(&app, "crying-in-therapy-card", &ana, &[]).await;
    card.assert_contains("<html lang=\"es\"");
    card.assert_contains("Aquí las lágrimas son bienvenidas");
}

async fn a_language_without_a_version_is_asked_about_never_replaced_silently(app: TestApp) {
    app.set_up().await;
    let joao = app
        .add_client_speaking("João Pereira", "João", "pt-BR")
        .await;
    let asked = print_for(&app, "crying-in-therapy", &joao, &[("give", "1")]).await;
    assert_eq!(asked.status, 400, "{}", asked.body);
    asked.assert_contains(
        "preferred language is Portuguese, and this handout has no Portuguese version",
    );
    asked.assert_contains("name=\"lang\" value=\"es\"");
    // Nothing was printed or recorded, and the note is kept.
    asked.assert_contains("Hoy fuiste muy valiente.");
    assert_eq!(app.audit_count("handout.given"), 0);
    assert_eq!(app.audit_count("handout.print"), 0);
    let chosen = print_for(&app, "crying-in-therapy", &joao, &[("lang", "es")]).await;
    assert_eq!(chosen.status, 200);
    chosen.assert_contains("<html lang=\"es\"");
    chosen.assert_contains("In Spanish, as you chose.");
    // A language the handout does not have cannot be chosen either.
    let missing = print_for(&app, "crying-in-therapy", &joao, &[("lang", "fr")]).await;
    assert_eq!(missing.status, 400);
    missing.assert_contains("This handout has no French version");
    // A bad tag is refused on the client form, and changes nothing.
    let bad = app
        .submit(
            "/clients/new",
            "/clients",
            &[("full_name", "Bad Tag"), ("language", "<b>es</b>")],
        )
        .await;
    assert_eq!(bad.status, 400);
    bad.assert_contains("give a language tag such as es");
    // Clients with no language recorded get the handout chosen, in
    // whichever language it is.
    let sam = app.add_client("Sam Smith", "Sam").await;
    let page = print_for(&app, "llorar-en-terapia", &sam, &[]).await;
    page.assert_contains("<html lang=\"es\"");
    page.assert_contains("In Spanish (no preferred language is recorded for them).");
    let english = print_for(&app, "crying-in-therapy", &sam, &[]).await;
    english.assert_contains("<html lang=\"en\"");
    english.assert_contains("It&#39;s okay to cry in therapy");
}

async fn the_spanish_handouts_keep_the_facts_and_are_measured_by_a_spanish_formula(app: TestApp) {
    app.set_up().await;
    let show = app.get("/handouts/llorar-en-terapia").await;
    assert_eq!(show.status, 200);
    show.assert_contains("<h1 lang=\"es\">Está bien llorar en terapia</h1>");
    // The facts and their attribution, as the English handout has them.
    show.assert_contains("más de 6 de cada 10 personas en terapia");
    show.assert_contains("Smith y otros, 2020");
    show.assert_contains("más del 60 %");
    show.assert_contains("Smith y colaboradores (2020)");
    show.assert_contains("Journal of Research in Medical Sciences");
    show.assert_contains("hormonas del estrés");
    show.assert_contains("Embracing Tears: Why It’s Perfectly Okay to Cry in Therapy Sessions");
    // The same structure: three prompts, each with three lines to write on.
    assert_eq!(show.body.matches("class=\"write-line\"").count(), 9);
    show.assert_contains("Also in <a href=\"/handouts/crying-in-therapy\">English</a>");
    // Its reading level comes from a Spanish formula, named.
    show.assert_contains("(Szigriszt-Pazos perspicuity, INFLESZ scale)");
    let score: f64 = show
        .body
        .split("Reading level: ")
        .nth(1)
        .and_then(|s| s.split(' ').next()?.parse().ok())
        .expect("score shown");
    assert!((65.0..=100.0).contains(&score), "{score}");
    let english = app.get("/handouts/crying-in-therapy").await;
    english.assert_contains("(Flesch–Kincaid)");
    english.assert_contains("Also in <a href=\"/handouts/llorar-en-terapia\">Spanish</a>");
    let card = app.get("/handouts/llorar-en-terapia-tarjeta").await;
    card.assert_contains("más de 6 de cada 10");
    card.assert_contains("Journal of Research in Medical Sciences");
    card.assert_contains("Smith y colaboradores (2020)");
    let library = app.get("/handouts").await;
    library.assert_contains("In Spanish.");
    library.assert_contains("lang=\"es\">Está bien llorar en terapia</a>");
}

async fn each_handout_version_has_a_pemat_p_record_and_the_practices_own_start_unscored(
    app: TestApp,
) {
    app.set_up().await;
    // Built-in: shipped with its assessment, scored honestly.
    let show = app.get("/handouts/crying-in-therapy").await;
    show.assert_contains("Quality (PEMAT-P): understandability 85% (meets the usual 70% bar); actionability 60% (below the usual 70% bar).");
    let spanish = app.get("/handouts/llorar-en-terapia").await;
    spanish.assert_contains("understandability 85%");
    let shipped = app.get("/handouts/crying-in-therapy/quality").await;
    assert_eq!(shipped.status, 200);
    shipped.assert_contains("Shipped with Tearsheet");
    shipped
        .assert_contains("11. The material provides a summary.</td><td><strong>Disagree</strong>");
    shipped.assert_contains("the one-page card is its summary");
    shipped.assert_contains("22. The material breaks down any action");
    assert!(!shipped.body.contains("Save the assessment"));
    let refused = app
        .submit(
            "/handouts/crying-in-therapy/quality",
            "/handouts/crying-in-therapy/quality",
            &[("item1", "agree")],
        )
        .await;
    assert_eq!(refused.status, 409);

    // The practice's own copy starts unscored, and says so.
    let copy = app.press(&show, "/handouts/crying-in-therapy/copy").await;
    let slug = copy
        .location_path()
        .trim_start_matches("/handouts/")
        .trim_end_matches("/edit")
        .to_owned();
    let ours = app.get(&format!("/handouts/{slug}")).await;
    ours.assert_contains("Quality (PEMAT-P): not yet assessed. This version 1 is the practice&#39;s own, so it starts unscored.");
    let form = app.get(&format!("/handouts/{slug}/quality")).await;
    form.assert_contains("Save the assessment");
    form.assert_contains("Not applicable (no visual aids)");
    // Incomplete, or not applicable where the tool does not allow it.
    let action = format!("/handouts/{slug}/quality");
    let half = app
        .submit(&action, &action, &[("item1", "agree"), ("item20", "na")])
        .await;
    assert_eq!(half.status, 400);
    half.assert_contains("Answer every item");
    half.assert_contains("id=\"item1-agree\" name=\"item1\" value=\"agree\" checked");
    let mut fields: Vec<(String, String)> = vec![];
    for n in (1..=26).filter(|n| *n != 13 && *n != 14) {
        let answer = match n {
            16..=19 | 24 | 25 => "na",
            15 | 26 => "disagree",
            _ => "agree",
        };
        fields.push((format!("item{n}"), answer.to_owned()));
    }
    fields.push(("note15".into(), "<b>No pictures</b>".into()));
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let saved = app.submit(&action, &action, &borrowed).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let record = app.get(&action).await;
    // 12 of 13 understandability items, 4 of 5 actionability items.
    record.assert_contains("understandability 92% (meets the usual 70% bar); actionability 80% (meets the usual 70% bar)");
    record.assert_contains("Assessed by");
    record.assert_contains("&#60;b&#62;No pictures&#60;/b&#62;");
    assert_eq!(app.audit_count("handout.assess"), 1);
    crate::helpers::gates::assert_valid_html(&[
        ("the shipped assessment".to_owned(), shipped.body.clone()),
        (
            "the assessment form with errors".to_owned(),
            half.body.clone(),
        ),
        ("a practice assessment".to_owned(), record.body.clone()),
    ]);
    // A new version of the handout starts unscored again.
    let edit = format!("/handouts/{slug}/edit");
    let body = crate::helpers::app::hidden_textarea(&app.get(&edit).await.body, "body");
    let changed = app
        .submit(
            &edit,
            &edit,
            &[
                ("title", "Ours"),
                ("slug", &slug),
                ("body", &format!("{body}\n\nOne more line.")),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    app.get(&format!("/handouts/{slug}"))
        .await
        .assert_contains("not yet assessed. This version 2");
    // An assessment holds only for the text it was made of: the same slug
    // and version with other words (a pack re-signed without a new
    // version, say) is unscored.
    let saved = app.submit(&action, &action, &borrowed).await;
    assert_eq!(saved.status, 303);
    app.get(&action)
        .await
        .assert_contains("understandability 92%");
    {
        use diesel::prelude::*;
        use tearsheet::db::schema::practice_handouts;
        let mut conn = app.pool().get().expect("conn");
        diesel::update(practice_handouts::table.filter(practice_handouts::slug.eq(&slug)))
            .set(practice_handouts::title.eq("Ours, renamed quietly"))
            .execute(&mut *conn)
            .expect("rename");
    }
    app.get(&action).await.assert_contains("not yet assessed");
}
