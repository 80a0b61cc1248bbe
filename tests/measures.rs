//! Measures (PHQ-9, GAD-7): recorded on the client's page, scored by the
//! instrument's rules, item 9 shown wherever the measure is, charted on
//! the timeline's axis, in the record, and in the FHIR R4 export, which an
//! outside judge (`fhir.resources`) validates.

use crate::both_backends;
use crate::helpers::{TestApp, gates};

both_backends!(
    a_phq9_is_scored_and_item_nine_shows_wherever_the_measure_does,
    scores_share_the_timelines_axis_with_the_tags,
    bad_measure_input_is_named_and_saves_nothing,
    the_fhir_export_validates_and_holds_the_chart_without_process_notes,
    the_caseload_filters_by_latest_band_and_change,
    a_wrong_measure_is_marked_entered_in_error_and_stops_counting,
);

/// Fields for a measure: instrument, date, note, then item answers.
fn measure<'a>(
    token: &'a str,
    instrument: &'a str,
    date: &'a str,
    note: &'a str,
    answers: &'a [&'a str],
) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = vec![
        ("csrf_token".into(), token.into()),
        ("instrument".into(), instrument.into()),
        ("date".into(), date.into()),
        ("note".into(), note.into()),
    ];
    for (i, a) in answers.iter().enumerate() {
        fields.push((format!("item{}", i + 1), (*a).into()));
    }
    fields
}

async fn record_measure(
    app: &TestApp,
    client: &str,
    fields: &[(String, String)],
) -> crate::helpers::app::Page {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    app.post_form(&format!("{client}/measures/new"), &pairs)
        .await
}

async fn a_phq9_is_scored_and_item_nine_shows_wherever_the_measure_does(app: TestApp) {
    app.set_up().await;
    let client = app.add_client("Mara Measure", "Mara").await;
    let note = app
        .add_note(
            &client,
            &[
                ("session_date", "2026-03-02"),
                ("section_subjective", "She cried, and then laughed."),
                ("tag", "tearful-breakthrough"),
            ],
        )
        .await;
    let note_id = note.trim_start_matches("/notes/");
    // The form opened from the note has its date and the note chosen.
    let form = app
        .get(&format!("{client}/measures/new?note={note_id}"))
        .await;
    assert_eq!(form.status, 200);
    form.assert_contains("value=\"2026-03-02\"");
    form.assert_contains(&format!("<option value=\"{note_id}\" selected>"));
    form.assert_contains("Little interest or pleasure in doing things");
    form.assert_contains("Kurt Kroenke");
    let token = form.csrf_token();

    let saved = record_measure(
        &app,
        &client,
        &measure(
            &token,
            "phq-9",
            "2026-03-02",
            note_id,
            &["1", "2", "1", "1", "1", "1", "1", "1", "1"],
        ),
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        saved.location(),
        Some(format!("{client}?measured=1#measures").as_str())
    );
    assert_eq!(app.audit_count("measure.record"), 1);
    // The form carries a one-time id: sent twice (Back, then Save), it is
    // saved once, and the second answer says so.
    let form_id = crate::helpers::app::hidden_value(&form.body, "form_id").expect("form_id");
    let mut twice = measure(&token, "gad-7", "2026-03-20", "", &["1"; 7]);
    twice.push(("form_id".into(), form_id));
    let first = record_measure(&app, &client, &twice).await;
    assert_eq!(first.status, 303);
    let again = record_measure(&app, &client, &twice).await;
    assert_eq!(
        again.location(),
        Some(format!("{client}?already=1#measures").as_str())
    );
    app.get(again.location().expect("location"))
        .await
        .assert_contains("already saved from that form");
    assert_eq!(app.audit_count("measure.record"), 2);

    // A PHQ-9 from the client's paper form, typed as "2026-3-9", with
    // item 9 left blank: stored as 2026-03-09, and "Unanswered" shown.
    let typed = record_measure(
        &app,
        &client,
        &measure(&token, "phq-9", "2026-3-9", "", &["0"; 8]),
    )
    .await;
    assert_eq!(typed.status, 303, "{}", typed.body);

    // A partly answered GAD-7: kept, not scored.
    let partial = record_measure(
        &app,
        &client,
        &measure(&token, "gad-7", "2026-03-03", "", &["2", "", "3"]),
    )
    .await;
    assert_eq!(partial.status, 303, "{}", partial.body);

    let page = app.get(saved.location().expect("location")).await;
    page.assert_contains("Measure saved.");
    page.assert_contains("<th scope=\"row\">9 Mar 2026</th><td>PHQ-9</td>");
    page.assert_contains("<strong>Unanswered</strong>");
    // Total 10 of PHQ-9 is moderate; the partial GAD-7 has no total.
    page.assert_contains("<td class=\"num\">10</td>");
    page.assert_contains("band-moderate\">moderate</span>");
    page.assert_contains("Not scored");
    page.assert_contains("2 of 7 items answered");
    // Item 9 above 0: prominent, with its date, on the client page...
    for text in [
        "PHQ-9 item 9: thoughts of self-harm",
        "<strong>2 Mar 2026</strong>: Several days",
        "⚠ Several days",
    ] {
        page.assert_contains(text);
    }
    // ...on the note it was recorded with...
    let shown = app.get(&note).await;
    shown.assert_contains("PHQ-9 item 9: thoughts of self-harm");
    shown.assert_contains("<strong>2 Mar 2026</strong>: Several days");
    shown.assert_contains("<td class=\"num\">10</td>");
    // ...on the printed record and in the JSON record.
    let printed = app.get(&format!("{client}/record")).await;
    printed.assert_contains("Measures (4)");
    printed.assert_contains("⚠ Several days");
    printed.assert_contains("1 2 1 1 1 1 1 1 1");
    let json: serde_json::Value =
        serde_json::from_str(&app.get(&format!("{client}/record.json")).await.body).expect("JSON");
    assert_eq!(json["format"], "tearsheet.client-record.v4");
    let m = &json["measures"];
    assert_eq!(m[0]["instrument"], "phq-9");
    assert_eq!(m[0]["total"], 10);
    assert_eq!(m[0]["band"], "moderate");
    assert_eq!(m[0]["self_harm"], "Several days");
    assert_eq!(m[0]["session_date"], "2026-03-02");
    assert_eq!(m[2]["taken_on"], "2026-03-09");
    assert_eq!(m[1]["instrument"], "gad-7");
    assert_eq!(m[1]["total"], serde_json::Value::Null);
    assert_eq!(
        m[1]["answers"],
        serde_json::json!([2, null, 3, null, null, null, null])
    );
    // Every sealed measure is the same length, whatever the instrument,
    // the answers left blank or the note: the database cannot tell them
    // apart by size.
    {
        use diesel::prelude::*;
        use tearsheet::db::schema::measures;
        let mut conn = app.pool().get().expect("conn");
        let blobs: Vec<Vec<u8>> = measures::table
            .select(measures::answers)
            .load(&mut *conn)
            .expect("measures");
        assert_eq!(blobs.len(), 4);
        assert!(
            blobs.iter().all(|b| b.len() == blobs[0].len()),
            "lengths differ"
        );
    }
    // The note was a draft; once deleted, its measure stays, without a
    // link to a page that no longer exists.
    let deleted = app
        .post_form(
            &format!("{note}/delete"),
            &[("csrf_token", &token), ("confirm", "yes")],
        )
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    let page = app.get(&client).await;
    page.assert_contains("<td class=\"num\">10</td>");
    assert!(
        !page.body.contains("Open the note"),
        "no link to a deleted note"
    );
}

async fn scores_share_the_timelines_axis_with_the_tags(app: TestApp) {
    app.set_up().await;
    let client = app.add_client("Tim Line", "").await;
    app.add_note(
        &client,
        &[
            ("session_date", "2026-01-05"),
            ("tag", "tearful-breakthrough"),
        ],
    )
    .await;
    app.add_note(
        &client,
        &[("session_date", "2026-03-01"), ("tag", "trust-building")],
    )
    .await;
    let token = app.get(&client).await.csrf_token();
    let nine = |v: &'static str| [v; 9];
    for (date, answers) in [
        ("2026-01-05", nine("2")),
        ("2026-02-02", nine("1")),
        ("2026-03-01", nine("0")),
    ] {
        let r = record_measure(&app, &client, &measure(&token, "phq-9", date, "", &answers)).await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let r = record_measure(
        &app,
        &client,
        &measure(&token, "gad-7", "2026-03-01", "", &["3"; 7]),
    )
    .await;
    assert_eq!(r.status, 303);
    // A partial PHQ-9 has no score, so no point.
    let r = record_measure(
        &app,
        &client,
        &measure(&token, "phq-9", "2026-02-10", "", &["3"]),
    )
    .await;
    assert_eq!(r.status, 303);

    let body = app.get(&client).await.body;
    let dots: Vec<&str> = body
        .match_indices("class=\"tl-score-dot\"")
        .map(|(i, _)| &body[..i])
        .collect();
    assert_eq!(
        dots.len(),
        4,
        "one point per score (three PHQ-9, one GAD-7)"
    );
    let cx = |before: &str| -> String {
        let at = before.rfind("cx=\"").expect("cx") + 4;
        before[at..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let xs: Vec<String> = dots.iter().map(|d| cx(d)).collect();
    // 5 Jan is the axis' start, 1 Mar its end (55 days), 2 Feb day 28.
    assert_eq!(xs, ["0.00%", "50.91%", "100.00%", "100.00%"]);
    // The tags' dots sit on the same positions for the same dates.
    assert!(
        body.contains("<circle cx=\"0.00%\" cy=\"10\" r=\"7\""),
        "tag dot at the start"
    );
    assert!(
        body.contains("<circle cx=\"100.00%\" cy=\"10\" r=\"7\""),
        "tag dot at the end"
    );
    // Higher totals sit higher: 18, 9, 0 on a 0–27 scale.
    let ys: Vec<f64> = dots[..3]
        .iter()
        .map(|before| {
            let at = before.rfind("cy=\"").expect("cy") + 4;
            before[at..]
                .split('"')
                .next()
                .expect("present")
                .parse()
                .expect("present")
        })
        .collect();
    assert!(ys[0] < ys[1] && ys[1] < ys[2], "{ys:?}");
    assert!(body.contains("3 PHQ-9 scores."), "described in words");
    assert!(body.contains("One GAD-7 score."));
    // The bands are drawn behind: five for PHQ-9, four for GAD-7.
    assert_eq!(body.matches("class=\"tl-band ").count(), 9);
}

async fn bad_measure_input_is_named_and_saves_nothing(app: TestApp) {
    app.set_up().await;
    let client = app.add_client("Bad Input", "").await;
    let token = app.get(&client).await.csrf_token();
    let cases: [(Vec<(String, String)>, &str); 6] = [
        (
            measure(&token, "phq-10", "2026-03-01", "", &["1"]),
            "Choose PHQ-9 or GAD-7.",
        ),
        (
            measure(&token, "phq-9", "2026-03-01", "", &["4"]),
            "Item 1: choose one of the four answers",
        ),
        (
            measure(&token, "gad-7", "2026-03-01", "", &["1"; 8]),
            "GAD-7 has 7 items, but an answer to item 8 was sent.",
        ),
        (
            measure(&token, "phq-9", "2999-01-01", "", &["1"]),
            "The date is in the future.",
        ),
        (
            measure(&token, "phq-9", "yesterday", "", &["1"]),
            "Enter the date the form was filled in",
        ),
        (
            measure(&token, "phq-9", "2026-03-01", "", &[]),
            "Answer at least one item.",
        ),
    ];
    for (fields, message) in &cases {
        let page = record_measure(&app, &client, fields).await;
        assert_eq!(page.status, 400, "{message}");
        page.assert_contains(message);
    }
    // The answers typed come back chosen.
    let page = record_measure(
        &app,
        &client,
        &measure(&token, "phq-9", "2999-01-01", "", &["2", "3"]),
    )
    .await;
    page.assert_contains("id=\"item1-2\" name=\"item1\" value=\"2\" checked");
    page.assert_contains("id=\"item2-3\" name=\"item2\" value=\"3\" checked");
    // A note id that is not a number is a field error; another client's
    // note is named; another therapist's note is a 404.
    let other = app.add_client("Other Client", "").await;
    let others_note = app.add_note(&other, &[("section_subjective", "x")]).await;
    let page = record_measure(
        &app,
        &client,
        &measure(
            &token,
            "phq-9",
            "2026-03-01",
            others_note.trim_start_matches("/notes/"),
            &["1"],
        ),
    )
    .await;
    assert_eq!(page.status, 400);
    page.assert_contains("That session note is another client");
    let bea = app
        .colleague("bea@example.org", "another long password")
        .await;
    let bea_client = bea.add_client("Bea's Client", "").await;
    let bea_note = bea
        .add_note(&bea_client, &[("section_subjective", "y")])
        .await;
    let denied = app.audit_count("access.denied");
    let page = record_measure(
        &app,
        &client,
        &measure(
            &token,
            "phq-9",
            "2026-03-01",
            bea_note.trim_start_matches("/notes/"),
            &["1"],
        ),
    )
    .await;
    assert_eq!(page.status, 404);
    assert_eq!(app.audit_count("access.denied"), denied + 1);
    let page = record_measure(
        &app,
        &client,
        &measure(&token, "phq-9", "1949-12-31", "", &["1"]),
    )
    .await;
    assert_eq!(page.status, 400);
    page.assert_contains("Check the year");
    // The form's ?note= is an id like any other: another therapist's is an
    // audited 404, another client's a 404.
    let denied = app.audit_count("access.denied");
    let form = app
        .get(&format!(
            "{client}/measures/new?note={}",
            bea_note.trim_start_matches("/notes/")
        ))
        .await;
    assert_eq!(form.status, 404);
    assert_eq!(app.audit_count("access.denied"), denied + 1);
    let form = app
        .get(&format!(
            "{client}/measures/new?note={}",
            others_note.trim_start_matches("/notes/")
        ))
        .await;
    assert_eq!(form.status, 404);
    // Nothing was saved by any of it.
    assert_eq!(app.audit_count("measure.record"), 0);
    assert!(
        app.get(&client)
            .await
            .body
            .contains("None yet. Record a PHQ-9")
    );
    // No CSRF token: refused.
    let page = app
        .post_form(
            &format!("{client}/measures/new"),
            &[
                ("instrument", "phq-9"),
                ("date", "2026-03-01"),
                ("item1", "1"),
            ],
        )
        .await;
    assert_eq!(page.status, 403);
}

/// Decode every attachment in a bundle.
fn attachments(bundle: &serde_json::Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| {
            e["resource"]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|c| {
            let data = c["attachment"]["data"].as_str().unwrap_or_default();
            String::from_utf8(
                data_encoding::BASE64
                    .decode(data.as_bytes())
                    .expect("base64"),
            )
            .expect("utf8")
        })
        .collect()
}

async fn the_fhir_export_validates_and_holds_the_chart_without_process_notes(app: TestApp) {
    app.set_up().await;
    app.submit(
        "/settings",
        "/settings/profile",
        &[
            ("display_name", "Dr Ada Lovelace"),
            ("credentials", "LCSW"),
            ("licence", ""),
        ],
    )
    .await;
    let client = app.add_client("Fay <Hear>", "Fay").await;
    let signed = app
        .add_note(
            &client,
            &[
                ("session_date", "2026-03-02"),
                ("section_subjective", "Spoke of <b>loss</b> & tears."),
                ("process_note", "PROCESS-CANARY my private musing"),
                ("key_moment", "First tears in session"),
                ("tag", "tearful-breakthrough"),
            ],
        )
        .await;
    let token = app.get(&signed).await.csrf_token();
    app.sign_note(&signed, &token).await;
    app.add_note(
        &client,
        &[
            ("session_date", "2026-03-09"),
            ("section_subjective", "draft words"),
            ("process_note", "PROCESS-CANARY again"),
        ],
    )
    .await;
    let note_id = signed.trim_start_matches("/notes/");
    record_measure(
        &app,
        &client,
        &measure(&token, "phq-9", "2026-03-02", note_id, &["3"; 9]),
    )
    .await;
    record_measure(
        &app,
        &client,
        &measure(&token, "gad-7", "2026-03-09", "", &["1", "", "1"]),
    )
    .await;

    let page = app.get(&format!("{client}/fhir")).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/fhir+json")
    );
    let errors = gates::fhir_errors(&[("bundle".into(), page.body.clone())]);
    assert!(
        errors.is_empty(),
        "the FHIR judge found:\n{}",
        errors.join("\n")
    );

    let bundle: serde_json::Value = serde_json::from_str(&page.body).expect("JSON");
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    let resources: Vec<&serde_json::Value> = bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["resource"])
        .collect();
    let of = |t: &str| {
        resources
            .iter()
            .filter(|r| r["resourceType"] == t)
            .copied()
            .collect::<Vec<_>>()
    };
    assert_eq!(of("Patient").len(), 1);
    assert_eq!(of("Patient")[0]["name"][0]["text"], "Fay <Hear>");
    assert_eq!(of("Encounter").len(), 2, "one per session");
    let docs = of("DocumentReference");
    assert_eq!(docs.len(), 1, "one per signed note");
    assert_eq!(docs[0]["type"]["coding"][0]["code"], "11506-3");
    assert_eq!(docs[0]["authenticator"]["display"], "Dr Ada Lovelace, LCSW");
    assert_eq!(
        docs[0]["category"][0]["coding"][0]["code"],
        "tearful-breakthrough"
    );
    assert_eq!(
        docs[0]["category"][0]["coding"][0]["system"],
        "urn:tearsheet:breakthrough-tag"
    );
    let texts = attachments(&bundle);
    assert_eq!(texts.len(), 2);
    assert!(
        texts[0].contains("Spoke of <b>loss</b> & tears."),
        "{}",
        texts[0]
    );
    assert!(
        texts[1].contains("Spoke of &#60;b&#62;loss&#60;/b&#62; &#38; tears."),
        "{}",
        texts[1]
    );
    assert_eq!(of("QuestionnaireResponse").len(), 2);
    let observations = of("Observation");
    assert_eq!(observations.len(), 1, "only a scored measure has a total");
    assert_eq!(observations[0]["code"]["coding"][0]["code"], "44261-6");
    assert_eq!(observations[0]["valueInteger"], 27);
    // derivedFrom names the response, and both name the session's encounter.
    let derived = observations[0]["derivedFrom"][0]["reference"]
        .as_str()
        .expect("derivedFrom");
    let response = bundle["entry"]
        .as_array()
        .expect("present")
        .iter()
        .find(|e| e["fullUrl"] == derived)
        .expect("the response is in the bundle");
    assert_eq!(
        response["resource"]["resourceType"],
        "QuestionnaireResponse"
    );
    assert_eq!(response["resource"]["item"][8]["linkId"], "44260-8");
    assert_eq!(
        response["resource"]["item"][8]["answer"][0]["valueCoding"]["code"],
        "LA6571-9"
    );
    assert!(
        observations[0]["note"][0]["text"]
            .as_str()
            .expect("present")
            .contains("item 9")
    );
    let encounter = docs[0]["context"]["encounter"][0]["reference"]
        .as_str()
        .expect("present");
    assert_eq!(observations[0]["encounter"]["reference"], encounter);
    // No process note anywhere, nor in any attachment, nor the draft's text.
    assert!(!page.body.contains("PROCESS-CANARY"));
    assert!(
        texts
            .iter()
            .all(|t| !t.contains("PROCESS-CANARY") && !t.contains("draft words"))
    );
    assert_eq!(app.audit_count("client.export"), 1);

    // A foreign client is a 404.
    let bea = app
        .colleague("bea@example.org", "another long password")
        .await;
    assert_eq!(bea.get(&format!("{client}/fhir")).await.status, 404);
    assert_eq!(bea.get("/clients/12345/fhir").await.status, 404);
}

/// The judge can fail: a bundle with an Observation missing its status
/// and a Patient with a misspelt field.
#[test]
fn the_fhir_judge_rejects_an_invalid_bundle() {
    let bad = serde_json::json!({
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            { "fullUrl": "urn:uuid:0", "resource": { "resourceType": "Observation", "code": { "text": "x" } } },
            { "fullUrl": "urn:uuid:1", "resource": { "resourceType": "Patient", "birthdate": "1990-01-01" } }
        ]
    });
    let errors = gates::fhir_errors(&[("bad".into(), bad.to_string())]);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("Observation") && e.contains("status")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.contains("Patient")), "{errors:?}");
}

async fn the_caseload_filters_by_latest_band_and_change(app: TestApp) {
    app.set_up().await;
    let ann = app.add_client("Ann Better", "").await;
    let ben = app.add_client("Ben Worse", "").await;
    let cat = app.add_client("Cat Anxious", "").await;
    app.add_client("Dan Unmeasured", "").await;
    let token = app.get(&ann).await.csrf_token();
    // Ann: PHQ-9 20 then 8 (better, mild). Ben: 10 then 16 with item 9
    // (worse, moderately severe). Cat: one GAD-7 of 12 (moderate).
    let phq = |total: usize, item9: &'static str| -> Vec<&'static str> {
        let mut a: Vec<&'static str> = vec!["0"; 9];
        let mut left = total - item9.parse::<usize>().expect("digit");
        for slot in a.iter_mut().take(8) {
            let v = left.min(3);
            *slot = ["0", "1", "2", "3"][v];
            left -= v;
        }
        a[8] = item9;
        a
    };
    for (client, date, answers) in [
        (&ann, "2026-01-05", phq(20, "0")),
        (&ann, "2026-03-01", phq(8, "0")),
        (&ben, "2026-01-05", phq(10, "0")),
        (&ben, "2026-03-01", phq(16, "2")),
    ] {
        let r = record_measure(&app, client, &measure(&token, "phq-9", date, "", &answers)).await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let r = record_measure(
        &app,
        &cat,
        &measure(
            &token,
            "gad-7",
            "2026-02-01",
            "",
            &["2", "2", "2", "2", "2", "1", "1"],
        ),
    )
    .await;
    assert_eq!(r.status, 303);

    let names = |body: &str| -> Vec<&'static str> {
        ["Ann Better", "Ben Worse", "Cat Anxious", "Dan Unmeasured"]
            .into_iter()
            .filter(|n| body.contains(n))
            .collect()
    };
    let all = app.get("/clients").await.body;
    assert_eq!(
        names(&all),
        ["Ann Better", "Ben Worse", "Cat Anxious", "Dan Unmeasured"]
    );
    assert!(all.contains("PHQ-9 8, mild"), "latest scores in the list");
    assert!(all.contains("GAD-7 12, moderate"));
    assert_eq!(
        all.matches("PHQ-9 item 9 above 0 on the latest form")
            .count(),
        1
    );
    // Ben's latest PHQ-9 has item 9 above 0, so no filter hides him: he is
    // listed, marked, even where his scores do not match.
    for (query, expected, ben_only_for_safety) in [
        (
            "measure=phq-9&change=better",
            vec!["Ann Better", "Ben Worse"],
            true,
        ),
        ("measure=phq-9&change=worse", vec!["Ben Worse"], false),
        ("band=moderately-severe", vec!["Ben Worse"], false),
        ("measure=gad-7", vec!["Ben Worse", "Cat Anxious"], true),
        ("measure=phq-9", vec!["Ann Better", "Ben Worse"], false),
        ("band=moderate", vec!["Ben Worse", "Cat Anxious"], true),
        ("change=steady", vec!["Ben Worse"], true),
    ] {
        let page = app.get(&format!("/clients?{query}")).await;
        assert_eq!(page.status, 200, "{query}");
        assert_eq!(names(&page.body), expected, "{query}");
        page.assert_contains("PHQ-9 item 9 above 0 on the latest form");
        assert_eq!(
            page.body.contains("(shown whatever the filters)"),
            ben_only_for_safety,
            "{query}"
        );
    }
    // The list is kept in the session's memory; a new measure shows at once.
    let r = record_measure(
        &app,
        &ann,
        &measure(&token, "phq-9", "2026-03-20", "", &["3"; 9]),
    )
    .await;
    assert_eq!(r.status, 303);
    let page = app.get("/clients?band=severe").await;
    assert!(names(&page.body).contains(&"Ann Better"), "{}", page.body);
    assert!(page.body.contains("PHQ-9 27, severe"));
    // Unknown filter values show the whole list.
    assert_eq!(
        names(&app.get("/clients?band=awful&change=x").await.body).len(),
        4
    );
}

async fn a_wrong_measure_is_marked_entered_in_error_and_stops_counting(app: TestApp) {
    app.set_up().await;
    let client = app.add_client("Wren Mistake", "").await;
    let token = app.get(&client).await.csrf_token();
    // Entered for the wrong client, with item 9 mis-clicked.
    let r = record_measure(
        &app,
        &client,
        &measure(&token, "phq-9", "2026-03-02", "", &["3"; 9]),
    )
    .await;
    assert_eq!(r.status, 303);
    assert!(app.get("/clients").await.body.contains("PHQ-9 27, severe"));
    let page = app.get(&client).await;
    page.assert_contains("PHQ-9 item 9: thoughts of self-harm");
    let href = crate::helpers::app::links_starting(&page.body, &format!("{client}/measures/"))
        .into_iter()
        .find(|h| h.ends_with("/error"))
        .expect("the correction link");

    // Another therapist cannot reach it.
    let bea = app
        .colleague("bea@example.org", "another long password")
        .await;
    assert_eq!(bea.get(&href).await.status, 404);
    let bea_token = bea.get("/clients").await.csrf_token();
    let denied = app.audit_count("access.denied");
    assert_eq!(
        bea.post_form(&href, &[("csrf_token", &bea_token), ("confirm", "yes")])
            .await
            .status,
        404
    );
    assert!(app.audit_count("access.denied") > denied);

    // A page names it first; without the confirmation nothing changes.
    let confirm = app.get(&href).await;
    assert_eq!(confirm.status, 200);
    confirm.assert_contains("Mark this measure entered in error?");
    confirm.assert_contains("<strong>PHQ-9</strong> of <strong>2 Mar 2026</strong>");
    let unconfirmed = app.post_form(&href, &[("csrf_token", &token)]).await;
    assert_eq!(unconfirmed.location(), Some(href.as_str()));
    assert_eq!(app.audit_count("measure.error"), 0);
    let marked = app
        .post_form(&href, &[("csrf_token", &token), ("confirm", "yes")])
        .await;
    assert_eq!(marked.status, 303);
    assert_eq!(app.audit_count("measure.error"), 1);
    // Sent again (Back, then the button): nothing more happens.
    app.post_form(&href, &[("csrf_token", &token), ("confirm", "yes")])
        .await;
    assert_eq!(app.audit_count("measure.error"), 1);

    let page = app.get(marked.location().expect("location")).await;
    page.assert_contains("The measure is marked entered in error.");
    page.assert_contains("Entered in error (marked");
    assert!(
        !page.body.contains("PHQ-9 item 9: thoughts of self-harm"),
        "no longer counted"
    );
    assert!(!page.body.contains("tl-score-dot"), "not charted");
    let list = app.get("/clients").await.body;
    assert!(
        !list.contains("PHQ-9 27") && !list.contains("item 9 above 0"),
        "the caseload forgets it at once"
    );
    let json: serde_json::Value =
        serde_json::from_str(&app.get(&format!("{client}/record.json")).await.body).expect("JSON");
    assert_eq!(json["measures"][0]["entered_in_error"], true);
    let fhir = app.get(&format!("{client}/fhir")).await.body;
    let errors = gates::fhir_errors(&[("bundle".into(), fhir.clone())]);
    assert!(errors.is_empty(), "{errors:?}");
    let bundle: serde_json::Value = serde_json::from_str(&fhir).expect("JSON");
    let statuses: Vec<&str> = bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["resource"]["resourceType"] != "Patient")
        .filter_map(|e| e["resource"]["status"].as_str())
        .collect();
    assert_eq!(statuses, ["entered-in-error", "entered-in-error"]);
}
