//! The caseload: adding, finding, editing, archiving and deleting clients.

use crate::both_backends;
use crate::helpers::TestApp;

both_backends!(
    a_therapist_adds_edits_and_finds_clients,
    clients_are_listed_by_most_recent_session,
    archiving_keeps_the_record_out_of_the_active_caseload,
    deleting_needs_the_typed_word_and_never_removes_signed_notes,
    bad_client_input_is_named_and_kept,
);

async fn a_therapist_adds_edits_and_finds_clients(app: TestApp) {
    app.set_up().await;
    let empty = app.get("/clients").await;
    empty.assert_contains("Add your first client");
    let sam = app.add_client("Samantha Okafor", "Sam").await;
    let page = app.get(&sam).await;
    assert_eq!(page.status, 200);
    page.assert_contains("Samantha Okafor");
    page.assert_contains("Sam");
    assert_eq!(app.audit_count("client.create"), 1);
    assert_eq!(app.audit_count("client.view"), 1);

    let edit = app
        .submit(
            &format!("{sam}/edit"),
            &format!("{sam}/edit"),
            &[
                ("full_name", "Samantha Okafor"),
                ("preferred_name", "Sami"),
                ("pronouns", "she/her"),
                ("date_of_birth", "1990-04-12"),
                ("about", "Referred by her GP.\nLikes mornings."),
            ],
        )
        .await;
    assert_eq!(edit.location(), Some(format!("{sam}?saved=1").as_str()));
    let page = app.get(&sam).await;
    // A date of birth is a plain date, without a weekday.
    for text in ["Sami", "she/her", "12 Apr 1990", "Referred by her GP."] {
        page.assert_contains(text);
    }
    assert!(
        !page.body.contains("Thu 12 Apr 1990"),
        "no weekday on a birthday"
    );
    app.add_client("Jonas Berg", "").await;
    let found = app.get("/clients?q=sami").await;
    found.assert_contains("Samantha Okafor");
    assert!(
        !found.body.contains("Jonas Berg"),
        "the filter narrows the list"
    );
    let none = app.get("/clients?q=nobody").await;
    none.assert_contains("No client matches");
}

async fn clients_are_listed_by_most_recent_session(app: TestApp) {
    app.set_up().await;
    let ada = app.add_client("Ada Early", "").await;
    let bo = app.add_client("Bo Recent", "").await;
    app.add_client("Cy Never", "").await;
    app.add_note(&ada, &[("session_date", "2026-01-05")]).await;
    app.add_note(&bo, &[("session_date", "2026-02-20")]).await;
    let list = app.get("/clients").await.body;
    let (b, a, c) = (
        list.find("Bo Recent").expect("bo"),
        list.find("Ada Early").expect("ada"),
        list.find("Cy Never").expect("cy"),
    );
    assert!(b < a && a < c, "most recent session first, never-seen last");
    assert!(list.contains("Last session Fri 20 Feb 2026"));
}

async fn archiving_keeps_the_record_out_of_the_active_caseload(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam Archive", "").await;
    let page = app.get(&sam).await;
    let done = app.press(&page, &format!("{sam}/archive")).await;
    assert_eq!(done.location(), Some(format!("{sam}?archived=1").as_str()));
    assert!(!app.get("/clients").await.body.contains("Sam Archive"));
    let archived = app.get("/clients?archived=1").await;
    archived.assert_contains("Sam Archive");
    app.press(&page, &format!("{sam}/unarchive")).await;
    app.get("/clients").await.assert_contains("Sam Archive");
    assert_eq!(app.audit_count("client.archive"), 1);
    assert_eq!(app.audit_count("client.unarchive"), 1);
}

async fn deleting_needs_the_typed_word_and_never_removes_signed_notes(app: TestApp) {
    app.set_up().await;
    let gone = app.add_client("Gone Soon", "").await;
    app.add_note(&gone, &[("section_subjective", "a draft")])
        .await;
    let wrong = app.delete_client(&gone, "yes").await;
    assert_eq!(wrong.status, 400);
    wrong.assert_contains("Type the word delete");
    assert_eq!(app.get(&gone).await.status, 200, "nothing deleted");
    let done = app.delete_client(&gone, "delete").await;
    assert_eq!(done.location(), Some("/clients?deleted=1"));
    assert_eq!(app.get(&gone).await.status, 404);
    assert_eq!(app.audit_count("client.delete"), 1);

    let kept = app.add_client("Kept Record", "").await;
    let note = app
        .add_note(&kept, &[("section_subjective", "signed words")])
        .await;
    let page = app.get(&note).await;
    app.sign_note(&note, &page.csrf_token()).await;
    app.get(&format!("{kept}/delete"))
        .await
        .assert_contains("cannot be deleted");
    let refused = app.delete_client(&kept, "delete").await;
    assert_eq!(refused.status, 409);
    refused.assert_contains("Archive the client instead");
    assert_eq!(
        app.get(&note).await.status,
        200,
        "the signed note is still there"
    );
}

async fn bad_client_input_is_named_and_kept(app: TestApp) {
    app.set_up().await;
    let page = app
        .submit(
            "/clients/new",
            "/clients",
            &[
                ("full_name", ""),
                ("date_of_birth", "1990-02-30"),
                ("about", "kept <b>text</b>"),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
    page.assert_contains("Enter the client&#39;s full name.");
    page.assert_contains("Enter a real date");
    page.assert_contains("kept &#60;b&#62;text&#60;/b&#62;");
    let hostile = "<img src=x onerror=alert(1)><script>alert(2)</script>";
    let sam = app.add_client(hostile, hostile).await;
    let shown = app.get(&sam).await.body;
    assert!(
        !shown.contains("<img src=x") && !shown.contains("<script>alert"),
        "hostile HTML is inert"
    );
    assert!(shown.contains("&#60;img src=x onerror=alert(1)&#62;"));
    let list = app.get("/clients").await.body;
    assert!(!list.contains("<script>alert"));
}

both_backends!(a_clients_record_exports_everything_but_process_notes);

async fn a_clients_record_exports_everything_but_process_notes(app: TestApp) {
    app.set_up().await;
    let profile = app
        .submit(
            "/settings",
            "/settings/profile",
            &[
                ("display_name", "Dr Ada Lovelace"),
                ("credentials", "LCSW"),
                ("licence", "12345"),
            ],
        )
        .await;
    assert_eq!(profile.status, 303, "{}", profile.body);
    let client = app.add_client("Rita Export", "Rita").await;
    let note = app
        .add_note(
            &client,
            &[
                ("section_subjective", "record-worthy words"),
                ("process_note", "my private musing"),
                ("tag", "trust-building"),
                ("key_moment", "a record moment"),
            ],
        )
        .await;
    let token = app.get(&note).await.csrf_token();
    app.sign_note(&note, &token).await;
    app.add_addendum(&note, &token, "an addendum for the record")
        .await;
    let id = client.trim_start_matches("/clients/");
    app.post_form(
        "/handouts/crying-in-therapy/give",
        &[("csrf_token", &token), ("client", id), ("note", "for Rita")],
    )
    .await;

    let json = app.get(&format!("{client}/record.json")).await;
    assert_eq!(json.status, 200);
    assert!(
        json.headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .contains("attachment")
    );
    let record: serde_json::Value = serde_json::from_str(&json.body).expect("JSON");
    assert_eq!(record["format"], "tearsheet.client-record.v4");
    assert_eq!(record["full_name"], "Rita Export");
    let n = &record["notes"][0];
    assert_eq!(n["signed"], true);
    assert_eq!(n["signed_by"], "Dr Ada Lovelace, LCSW, licence 12345");
    assert_eq!(n["sections"][0][1], "record-worthy words");
    assert_eq!(n["key_moment"], "a record moment");
    assert_eq!(n["tags"][0], "Trust building");
    assert_eq!(n["addenda"][0]["text"], "an addendum for the record");
    assert_eq!(
        n["addenda"][0]["by"],
        "Dr Ada Lovelace, LCSW, licence 12345"
    );
    assert_eq!(record["handouts"][0]["personal_note"], "for Rita");
    assert!(
        !json.body.contains("my private musing"),
        "no process notes in the JSON"
    );

    let print = app.get(&format!("{client}/record")).await;
    print.assert_contains("record-worthy words");
    // The printed record names the signer and writes dates for people.
    print.assert_contains("Signed by Dr Ada Lovelace, LCSW, licence 12345");
    print.assert_contains("Mon 2 Mar 2026");
    assert!(
        !has_rfc3339(&print.body) && !print.body.contains("+00:00"),
        "no RFC 3339 stamps on the printed record"
    );
    print.assert_contains("an addendum for the record");
    assert!(
        !print.body.contains("my private musing"),
        "no process notes in the printable record"
    );
    assert_eq!(app.audit_count("client.export"), 2);

    let other = app
        .colleague("other@example.org", "another long password")
        .await;
    assert_eq!(
        other.get(&format!("{client}/record.json")).await.status,
        404
    );
    assert_eq!(other.get(&format!("{client}/record")).await.status, 404);
}

/// Whether `text` holds a machine timestamp such as `2026-03-02T17:05`
/// (a plain search for "T0" also matched random CSRF tokens, 1 page in
/// about 100).
fn has_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    (0..b.len()).any(|i| {
        (0..4).all(|k| digit(i + k))
            && b.get(i + 4) == Some(&b'-')
            && digit(i + 5)
            && digit(i + 6)
            && b.get(i + 7) == Some(&b'-')
            && digit(i + 8)
            && digit(i + 9)
            && b.get(i + 10) == Some(&b'T')
            && digit(i + 11)
            && digit(i + 12)
            && b.get(i + 13) == Some(&b':')
    })
}

#[test]
fn the_timestamp_check_finds_timestamps_and_not_tokens() {
    assert!(has_rfc3339("signed 2026-03-02T17:05:00+00:00"));
    assert!(!has_rfc3339(
        "token dZxT0c5BnSZKy91T09 and Mon 2 Mar 2026, 17:05"
    ));
}
