//! Session notes: writing, tagging, signing, amending, history, conflicts,
//! expiry while writing, search and the timeline. SQLite and PostgreSQL.

use std::time::Duration;

use crate::both_backends;
use crate::helpers::app::{edit_fields, hidden_value, note_form};
use crate::helpers::{Backend, TestApp};

both_backends!(
    a_soap_note_with_tags_and_a_key_moment_is_saved_and_shown,
    signing_locks_the_note_and_addenda_are_appended,
    deleting_a_draft_asks_first_and_names_the_note,
    an_empty_note_cannot_be_signed_and_the_page_says_what_is_missing,
    save_and_sign_is_one_step_and_a_resubmitted_form_makes_no_second_note,
    every_save_keeps_the_previous_version_with_what_changed,
    changing_format_keeps_the_text_already_typed,
    a_save_from_a_stale_tab_gets_409_with_both_texts,
    a_note_submitted_after_the_session_expired_comes_back_after_signing_in,
    notes_are_found_by_tag_word_client_and_date,
    search_sees_every_change_made_after_it_first_read_the_notes,
    the_timeline_marks_each_tagged_session,
    bad_note_input_is_named_and_the_typed_text_kept,
    custom_tags_are_made_once_and_offered_again,
);

async fn a_soap_note_with_tags_and_a_key_moment_is_saved_and_shown(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam Rivers", "Sam").await;
    let form = app.get(&format!("{sam}/notes/new")).await;
    form.assert_contains("Tearful breakthrough");
    form.assert_contains("Tears came with a new understanding");
    form.assert_contains("up to 1,000,000 characters");
    assert!(
        form.body
            .contains(r#"name="session_date" type="date" value="20"#),
        "today's date by default"
    );
    let note = app
        .add_note(
            &sam,
            &[
                ("section_subjective", "Talked about her father."),
                ("section_plan", "Journal twice this week."),
                ("key_moment", "cried for the first time about her father"),
                ("process_note", "I felt protective; watch for rescuing."),
                ("tag", "tearful-breakthrough"),
                ("tag", "trust-building"),
            ],
        )
        .await;
    let page = app.get(&note).await;
    assert_eq!(page.status, 200);
    for text in [
        "Sam Rivers, Mon 2 Mar 2026",
        "Individual session, 50 minutes, SOAP",
        "Talked about her father.",
        "Journal twice this week.",
        "cried for the first time about her father",
        "Tearful breakthrough",
        "Trust building",
        "Private process note",
        "I felt protective",
        "Draft, saved",
    ] {
        page.assert_contains(text);
    }
    assert!(
        !page.body.contains("Vulnerability</li>"),
        "only the chosen tags are shown"
    );
    assert_eq!(app.audit_count("note.create"), 1);
    assert_eq!(app.audit_count("note.view"), 1);
}

async fn signing_locks_the_note_and_addenda_are_appended(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam Sign", "").await;
    let note = app
        .add_note(&sam, &[("section_subjective", "The signed words.")])
        .await;
    let page = app.get(&note).await;
    let signed = app.sign_note(&note, &page.csrf_token()).await;
    assert_eq!(signed.location(), Some(format!("{note}?signed=1").as_str()));
    let page = app.get(&note).await;
    page.assert_contains("Signed by Dr Ada Lovelace on ");
    assert!(!page.body.contains("Edit draft"));

    // The text can no longer change, by form or by a hand-made request.
    assert_eq!(
        app.get(&format!("{note}/edit")).await.location(),
        Some(note.as_str())
    );
    let edit = app
        .post_form(
            &format!("{note}/edit"),
            &note_form(
                &[("csrf_token", &page.csrf_token()), ("revision", "1")],
                "soap",
                &[("section_subjective", "Rewritten history")],
            ),
        )
        .await;
    assert_eq!(edit.status, 409);
    edit.assert_contains("signed");
    // What was typed is not lost: it waits in the addendum box.
    assert_eq!(
        crate::helpers::app::hidden_textarea(&edit.body, "body"),
        "Subjective:\nRewritten history"
    );
    // A stale draft page's Delete leads back to the note, never to a dead end.
    let stale = app.get(&format!("{note}/delete")).await;
    assert_eq!(stale.location(), Some(format!("{note}?kept=1").as_str()));
    let deleted = app
        .post_form(
            &format!("{note}/delete"),
            &[("csrf_token", &page.csrf_token()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(deleted.location(), Some(format!("{note}?kept=1").as_str()));
    app.get(&format!("{note}?kept=1"))
        .await
        .assert_contains("signed notes are part of the clinical record");
    let page = app.get(&note).await;
    page.assert_contains("The signed words.");
    assert!(!page.body.contains("Rewritten history"));

    let added = app
        .add_addendum(&note, &page.csrf_token(), "Client phoned: she is safe.")
        .await;
    assert_eq!(
        added.location(),
        Some(format!("{note}?amended=1#addenda").as_str())
    );
    let empty = app.add_addendum(&note, &page.csrf_token(), "  ").await;
    assert_eq!(empty.status, 400);
    let page = app.get(&note).await;
    page.assert_contains("Client phoned: she is safe.");
    page.assert_contains("Added by Dr Ada Lovelace on ");
    page.assert_contains("The signed words.");
    assert_eq!(app.audit_count("note.sign"), 1);
    assert_eq!(app.audit_count("note.addendum"), 1);
}

async fn deleting_a_draft_asks_first_and_names_the_note(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam Delete", "").await;
    let draft = app
        .add_note(
            &sam,
            &[(
                "section_subjective",
                "Talked about the move to Leeds and the new job there",
            )],
        )
        .await;
    let page = app.get(&draft).await;
    // The note page links to a confirmation; it does not delete.
    page.assert_contains(&format!("href=\"{draft}/delete\""));
    let confirm = app.get(&format!("{draft}/delete")).await;
    assert_eq!(confirm.status, 200);
    for text in [
        "Delete this draft note?",
        "Sam Delete",
        "Mon 2 Mar 2026",
        "Talked about the move to Leeds and the new job there",
        "Keep it",
    ] {
        confirm.assert_contains(text);
    }
    // A post without the confirmation (a hand-made one, or an old page's
    // one-click button) deletes nothing and asks.
    let unconfirmed = app.press(&page, &format!("{draft}/delete")).await;
    assert_eq!(
        unconfirmed.location(),
        Some(format!("{draft}/delete").as_str())
    );
    assert_eq!(app.get(&draft).await.status, 200);
    assert_eq!(app.audit_count("note.delete"), 0);
    let gone = app
        .post_form(
            &format!("{draft}/delete"),
            &[("csrf_token", &confirm.csrf_token()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(
        gone.location(),
        Some(format!("{sam}?note_deleted=1").as_str())
    );
    assert_eq!(app.get(&draft).await.status, 404);
    assert_eq!(app.audit_count("note.delete"), 1);
    // Another therapist's draft cannot be asked about or deleted.
    let mine = app.add_note(&sam, &[]).await;
    let other = app
        .colleague("other@example.org", "another long password")
        .await;
    assert_eq!(other.get(&format!("{mine}/delete")).await.status, 404);
    let token = other.get("/clients").await.csrf_token();
    let refused = other
        .post_form(
            &format!("{mine}/delete"),
            &[("csrf_token", &token), ("confirm", "yes")],
        )
        .await;
    assert_eq!(refused.status, 404);
    assert_eq!(app.get(&mine).await.status, 200);
}

async fn an_empty_note_cannot_be_signed_and_the_page_says_what_is_missing(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam Empty", "").await;
    let note = app
        .add_note(
            &sam,
            &[
                ("section_subjective", ""),
                ("section_objective", "Tearful at first."),
                ("section_assessment", " "),
                ("section_plan", ""),
            ],
        )
        .await;
    let page = app.get(&note).await;
    let refused = app.sign_note(&note, &page.csrf_token()).await;
    assert_eq!(refused.status, 400);
    refused.assert_contains(
        "Not signed yet: write something under Subjective, Assessment and Plan first",
    );
    assert_eq!(app.audit_count("note.sign"), 0);
    let page = app.get(&note).await;
    page.assert_contains("Draft, saved");
    // "Save and sign" on a new form keeps the draft and says the same.
    let token = app.get(&format!("{sam}/notes/new")).await.csrf_token();
    let half = app
        .post_form(
            &format!("{sam}/notes"),
            &note_form(
                &[("csrf_token", &token)],
                "soap",
                &[
                    ("section_subjective", "Only this so far."),
                    ("intent", "sign"),
                ],
            ),
        )
        .await;
    assert_eq!(half.status, 400);
    half.assert_contains("Your note is saved as a draft.");
    half.assert_contains("write something under Objective, Assessment and Plan");
    half.assert_contains("Only this so far.");
    assert_eq!(app.audit_count("note.create"), 2);
    assert_eq!(app.audit_count("note.sign"), 0);
}

async fn save_and_sign_is_one_step_and_a_resubmitted_form_makes_no_second_note(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam Twice", "").await;
    let form = app.get(&format!("{sam}/notes/new")).await;
    let form_id = hidden_value(&form.body, "form_id").expect("a one-time form id");
    let again = app.get(&format!("{sam}/notes/new")).await;
    assert_ne!(
        hidden_value(&again.body, "form_id").as_deref(),
        Some(form_id.as_str()),
        "each form gets its own"
    );
    let token = form.csrf_token();
    let mut fields = note_form(
        &[("csrf_token", &token), ("form_id", &form_id)],
        "soap",
        &[("intent", "sign")],
    );
    fields.extend(crate::helpers::app::NOTE_DEFAULTS);
    let signed = app.post_form(&format!("{sam}/notes"), &fields).await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    let note = signed.location_path();
    assert_eq!(signed.location(), Some(format!("{note}?signed=1").as_str()));
    app.get(&note)
        .await
        .assert_contains("Signed by Dr Ada Lovelace");
    // Back, then the same form sent again: the note it made, not a second.
    let resent = app.post_form(&format!("{sam}/notes"), &fields).await;
    assert_eq!(
        resent.location(),
        Some(format!("{note}?already=1").as_str())
    );
    app.get(&format!("{note}?already=1"))
        .await
        .assert_contains("already saved from that form");
    assert_eq!(app.audit_count("note.create"), 1);
    assert_eq!(app.audit_count("note.sign"), 1);
    assert_eq!(
        crate::helpers::app::links_starting(&app.get(&sam).await.body, "/notes/").len(),
        1,
        "one note on the client's page"
    );
    // The same one-time id from another therapist's form is theirs alone.
    let other = app
        .colleague("other@example.org", "another long password")
        .await;
    let theirs = other.add_client("Their Client", "").await;
    let token = other.get(&format!("{theirs}/notes/new")).await.csrf_token();
    let mut fields = note_form(
        &[("csrf_token", &token), ("form_id", &form_id)],
        "soap",
        &[("intent", "save")],
    );
    fields.extend(crate::helpers::app::NOTE_DEFAULTS);
    let made = other.post_form(&format!("{theirs}/notes"), &fields).await;
    assert_eq!(made.status, 303);
    assert_ne!(made.location_path(), note, "never someone else's note");
    assert_eq!(other.get(&made.location_path()).await.status, 200);
}

async fn every_save_keeps_the_previous_version_with_what_changed(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam History", "").await;
    let note = app
        .add_note(&sam, &[("section_subjective", "first wording")])
        .await;
    let token = app.get(&note).await.csrf_token();
    let saved = app
        .post_form(
            &format!("{note}/edit"),
            &edit_fields("1", "second wording", &token),
        )
        .await;
    assert_eq!(saved.location(), Some(format!("{note}?saved=1").as_str()));
    app.post_form(
        &format!("{note}/edit"),
        &edit_fields("2", "third wording", &token),
    )
    .await;
    let page = app.get(&note).await;
    page.assert_contains("third wording");
    page.assert_contains("History of changes");
    let history = app.get(&format!("{note}/history")).await;
    assert_eq!(history.status, 200);
    for text in [
        "Revision 3 (current)",
        "Revision 2",
        "Revision 1",
        "first wording",
        "second wording",
        "third wording",
        "class=\"removed\"",
        "class=\"added\"",
    ] {
        history.assert_contains(text);
    }
    assert_eq!(app.audit_count("note.edit"), 2);
}

async fn changing_format_keeps_the_text_already_typed(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam Format", "").await;
    let token = app.get(&format!("{sam}/notes/new")).await.csrf_token();
    let switched = app
        .post_form(
            &format!("{sam}/notes"),
            &note_form(
                &[("csrf_token", &token)],
                "soap",
                &[
                    ("section_subjective", "what she said"),
                    ("section_objective", "tearful"),
                    ("section_plan", "next week"),
                    ("key_moment", "kept moment"),
                    ("switch_format", "dap"),
                ],
            ),
        )
        .await;
    assert_eq!(switched.status, 200);
    switched.assert_contains("now in DAP format");
    // In the order the therapist wrote them: Subjective, then Objective.
    let data = crate::helpers::app::hidden_textarea(&switched.body, "section_data");
    assert_eq!(data, "Subjective:\nwhat she said\n\nObjective:\ntearful");
    switched.assert_contains("next week");
    // The switch is a button that says what it does; Enter saves a draft.
    switched.assert_contains("name=\"switch_format\" value=\"soap\"");
    switched.assert_contains(">Switch to SOAP</button>");
    let save = switched.body.find("name=\"intent\" value=\"save\"");
    let switch = switched.body.find("name=\"switch_format\"");
    assert!(
        save.is_some() && save < switch,
        "the form's first (default) button saves the draft"
    );
    switched.assert_contains(r#"value="kept moment""#);
    assert!(switched.body.contains("name=\"section_data\""));
    let list = app.get(&sam).await;
    list.assert_contains("No notes yet");
}

async fn a_save_from_a_stale_tab_gets_409_with_both_texts(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam Tabs", "").await;
    let note = app
        .add_note(&sam, &[("section_subjective", "original")])
        .await;
    let tab_a = app.get(&format!("{note}/edit")).await;
    let tab_b = app.get(&format!("{note}/edit")).await;
    assert_eq!(hidden_value(&tab_a.body, "revision").as_deref(), Some("1"));
    let token = tab_a.csrf_token();
    let first = app
        .post_form(
            &format!("{note}/edit"),
            &edit_fields("1", "written in tab A", &token),
        )
        .await;
    assert_eq!(first.status, 303);
    let second = app
        .post_form(
            &format!("{note}/edit"),
            &edit_fields("1", "written in tab B", &tab_b.csrf_token()),
        )
        .await;
    assert_eq!(second.status, 409);
    second.assert_contains("changed in another window");
    second.assert_contains("written in tab A");
    second.assert_contains("written in tab B");
    assert_eq!(hidden_value(&second.body, "revision").as_deref(), Some("2"));
    app.get(&note).await.assert_contains("written in tab A");
    // Saving from the conflict page keeps tab B's words on top of revision 2.
    let resolved = app
        .post_form(
            &format!("{note}/edit"),
            &edit_fields("2", "merged A and B", &token),
        )
        .await;
    assert_eq!(resolved.status, 303);
    app.get(&note).await.assert_contains("merged A and B");
    app.get(&format!("{note}/history"))
        .await
        .assert_contains("written in tab A");
}

async fn a_note_submitted_after_the_session_expired_comes_back_after_signing_in(app: TestApp) {
    let account = app.set_up().await;
    let sam = app.add_client("Sam Expiry", "").await;
    let token = app.get(&format!("{sam}/notes/new")).await.csrf_token();
    // Simulate the idle timeout passing by ending the session server-side.
    end_all_sessions(&app);
    let typed = [
        ("csrf_token", token.as_str()),
        ("session_date", "2026-03-02"),
        ("duration_minutes", "55"),
        ("session_type", "couple"),
        ("format", "birp"),
        ("section_behaviour", "Long careful words\nover two lines"),
        ("key_moment", "a moment worth keeping"),
        ("tag", "emotional-release"),
        ("intent", "save"),
    ];
    let reauth = app.post_form(&format!("{sam}/notes"), &typed).await;
    assert_eq!(reauth.status, 401);
    reauth.assert_contains("Sign in to save your work");
    reauth.assert_contains("What you typed is safe on this page");
    assert_eq!(
        hidden_value(&reauth.body, "section_behaviour").as_deref(),
        Some("Long careful words\nover two lines")
    );
    assert_eq!(
        hidden_value(&reauth.body, "tag").as_deref(),
        Some("emotional-release")
    );

    // Post the carried form back with the credentials, as the page does.
    let mut again = crate::helpers::app::carried(&reauth.body);
    again.push(("reauth_email".into(), account.email.clone()));
    again.push(("reauth_password".into(), "wrong password".into()));
    let refs: Vec<(&str, &str)> = again
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let wrong = app.post_form(&format!("{sam}/notes"), &refs).await;
    assert_eq!(wrong.status, 401);
    wrong.assert_contains("do not match");
    wrong.assert_contains("a moment worth keeping");

    let mut again = crate::helpers::app::carried(&wrong.body);
    again.push(("reauth_email".into(), account.email.clone()));
    again.push(("reauth_password".into(), account.password.clone()));
    let refs: Vec<(&str, &str)> = again
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let back = app.post_form(&format!("{sam}/notes"), &refs).await;
    assert_eq!(back.status, 200, "{}", back.body);
    back.assert_contains("You are signed in again");
    back.assert_contains("Long careful words\nover two lines");
    back.assert_contains(r#"value="a moment worth keeping""#);
    back.assert_contains(r#"value="55""#);
    assert!(back.body.contains(r#"value="emotional-release" checked"#));
    assert!(back.body.contains(r#"value="couple" selected"#));
    assert!(app.cookie("__Host-tearsheet").is_some(), "a new session");
    app.get(&sam).await.assert_contains("No notes yet");

    // Saving from the restored form works as usual.
    let token = back.csrf_token();
    let mut fields: Vec<(&str, &str)> = typed.to_vec();
    fields[0] = ("csrf_token", &token);
    let saved = app.post_form(&format!("{sam}/notes"), &fields).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    app.get(saved.location().expect("note"))
        .await
        .assert_contains("Long careful words");
}

fn end_all_sessions(app: &TestApp) {
    use diesel::prelude::*;
    let mut conn = app.pool().get().expect("conn");
    diesel::delete(tearsheet::db::schema::sessions::table)
        .execute(&mut *conn)
        .expect("end sessions");
}

async fn notes_are_found_by_tag_word_client_and_date(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam Search", "").await;
    let kit = app.add_client("Kit Other", "").await;
    app.add_note(
        &sam,
        &[
            ("session_date", "2026-01-10"),
            ("section_assessment", "Grief is softening into memory."),
            ("tag", "tearful-breakthrough"),
        ],
    )
    .await;
    app.add_note(
        &sam,
        &[
            ("session_date", "2026-02-10"),
            ("section_plan", "Practise self-kindness."),
            ("tag", "self-compassion"),
        ],
    )
    .await;
    app.add_note(
        &kit,
        &[
            ("session_date", "2026-02-11"),
            ("key_moment", "laughed at the memory"),
            ("tag", "tearful-breakthrough"),
        ],
    )
    .await;

    let by_tag = app.get("/notes?tag=tearful-breakthrough").await;
    by_tag.assert_contains("2 notes match");
    by_tag.assert_contains("Sam Search, Sat 10 Jan 2026");
    by_tag.assert_contains("Kit Other, Wed 11 Feb 2026");
    assert!(!by_tag.body.contains("Tue 10 Feb 2026"));

    let by_word = app.get("/notes?q=MEMORY").await;
    by_word.assert_contains("2 notes match");
    by_word.assert_contains("<mark>memory</mark>");
    by_word.assert_contains("Assessment:");
    let by_client_word = app.get("/notes?q=softening").await;
    by_client_word.assert_contains("1 note matches");
    let narrowed = app
        .get(&format!(
            "/notes?q=memory&client={}",
            sam.trim_start_matches("/clients/")
        ))
        .await;
    narrowed.assert_contains("1 note matches");
    let dated = app.get("/notes?from=2026-02-01&to=2026-02-10").await;
    dated.assert_contains("1 note matches");
    dated.assert_contains("Sam Search, Tue 10 Feb 2026");
    let bad = app.get("/notes?from=2026-02-30&tag=no-such").await;
    bad.assert_contains("Enter a real date");
    bad.assert_contains("not one of yours");
    let chart = app.get("/notes").await;
    chart.assert_contains("Tags noted per month");
    chart.assert_contains("<caption>Tags per month</caption>");
    assert!(app.audit_count("note.search") >= 5);
    assert!(!chart.body.contains("memory</mark>"));
}

/// A session keeps opened note text in memory for search; an edit made in
/// another session (as on another app server), a new tag and a deletion must
/// all show in the next search, never the remembered text.
async fn search_sees_every_change_made_after_it_first_read_the_notes(app: TestApp) {
    let account = app.set_up().await;
    let sam = app.add_client("Sam Memory", "").await;
    let note = app
        .add_note(&sam, &[("section_subjective", "walked by the lighthouse")])
        .await;
    app.get("/notes?q=lighthouse")
        .await
        .assert_contains("1 note matches");
    app.get("/notes?tag=self-compassion")
        .await
        .assert_contains("No notes match");

    let elsewhere = app.new_agent();
    assert_eq!(
        elsewhere
            .log_in(&account.email, &account.password)
            .await
            .status,
        303
    );
    let form = elsewhere.get(&format!("{note}/edit")).await;
    let mut fields = edit_fields("1", "walked by the harbour", "");
    let token = form.csrf_token();
    fields[0] = ("csrf_token", &token);
    fields.push(("tag", "self-compassion"));
    let saved = elsewhere.post_form(&format!("{note}/edit"), &fields).await;
    assert_eq!(saved.status, 303, "{}", saved.body);

    app.get("/notes?q=lighthouse")
        .await
        .assert_contains("No notes match");
    let found = app.get("/notes?q=harbour").await;
    found.assert_contains("1 note matches");
    found.assert_contains("<mark>harbour</mark>");
    app.get("/notes?tag=self-compassion")
        .await
        .assert_contains("1 note matches");

    let deleted = app
        .post_form(
            &format!("{note}/delete"),
            &[
                ("csrf_token", &app.get(&note).await.csrf_token()),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    app.get("/notes?q=harbour")
        .await
        .assert_contains("No notes match");

    // Deleting a client removes their drafts through the database's
    // cascade, which must move the list version too.
    let kit = app.add_client("Kit Lantern", "").await;
    app.add_note(&kit, &[("section_subjective", "carried a lantern")])
        .await;
    app.get("/notes?q=lantern")
        .await
        .assert_contains("1 note matches");
    let gone = app.delete_client(&kit, "delete").await;
    assert_eq!(gone.location(), Some("/clients?deleted=1"));
    app.get("/notes?q=lantern")
        .await
        .assert_contains("No notes match");
}

async fn the_timeline_marks_each_tagged_session(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam Timeline", "").await;
    app.get(&sam)
        .await
        .assert_contains("The timeline appears once there are session notes or measures.");
    app.add_note(
        &sam,
        &[
            ("session_date", "2026-01-05"),
            ("tag", "vulnerability"),
            ("key_moment", "first risk taken"),
        ],
    )
    .await;
    app.add_note(
        &sam,
        &[
            ("session_date", "2026-02-05"),
            ("tag", "tearful-breakthrough"),
            ("tag", "vulnerability"),
        ],
    )
    .await;
    app.add_note(&sam, &[("session_date", "2026-03-01")]).await;
    let page = app.get(&sam).await;
    page.assert_contains("<h2>Breakthrough timeline</h2>");
    page.assert_contains(
        "3 sessions from Mon 5 Jan 2026 to Sun 1 Mar 2026; 2 with breakthrough tags.",
    );
    assert_eq!(
        page.body.matches("class=\"tl-dot\"").count(),
        3,
        "one marker per (session, tag)"
    );
    // A row per tag, the first session at the left edge, the last at the
    // right, and dated ticks a fortnight apart between them.
    assert_eq!(page.body.matches("class=\"tl-row\"").count(), 2);
    page.assert_contains("cx=\"0.00%\"");
    page.assert_contains("x1=\"100.00%\" y1=\"1\"");
    for tick in ["5 Jan", "19 Jan", "2 Feb", "16 Feb"] {
        page.assert_contains(&format!(">{tick}</text>"));
    }
    page.assert_contains("Thu 5 Feb 2026: Tearful breakthrough");
    page.assert_contains("<caption>Sessions with tagged moments</caption>");
    page.assert_contains("first risk taken");
    let newest = page.body.find("Sun 1 Mar 2026</a>").expect("newest");
    let oldest = page.body.rfind("Mon 5 Jan 2026</a>").expect("oldest");
    assert!(newest < oldest, "notes newest first");
}

async fn bad_note_input_is_named_and_the_typed_text_kept(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam Bad", "").await;
    let token = app.get(&format!("{sam}/notes/new")).await.csrf_token();
    let hostile = "<script>alert('x')</script><img src=x onerror=alert(1)>";
    let page = app
        .post_form(
            &format!("{sam}/notes"),
            &[
                ("csrf_token", &token),
                ("session_date", "2026-02-30"),
                ("duration_minutes", "-5"),
                ("session_type", "individual"),
                ("format", "soap"),
                ("section_subjective", hostile),
                ("key_moment", hostile),
                ("process_note", hostile),
                ("new_tags", hostile),
                ("tag", "not-a-tag"),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
    for message in [
        "That is not a real date",
        "between 1 and 600 minutes",
        "not known any more",
    ] {
        page.assert_contains(message);
    }
    assert!(
        !page.body.contains("<script>alert") && !page.body.contains("<img src=x"),
        "inert"
    );
    assert!(
        page.body
            .matches("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;")
            .count()
            >= 4,
        "every field kept"
    );
    app.get(&sam).await.assert_contains("No notes yet");

    // A million characters is the stated limit: a 1 MB note is refused
    // clearly, with its text kept; 20 MB is refused before it is read.
    let big = "a".repeat(1 << 20);
    let page = app
        .post_form(
            &format!("{sam}/notes"),
            &[
                ("csrf_token", &token),
                ("session_date", "2026-03-01"),
                ("duration_minutes", "50"),
                ("session_type", "individual"),
                ("format", "free"),
                ("section_text", &big),
                ("intent", "save"),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
    page.assert_contains("A note can hold up to 1,000,000 characters; this one has 1,048,576.");
    assert!(page.body.contains(&big), "the typed text is kept");
    let ok = "b".repeat(900_000);
    let saved = app
        .add_note(&sam, &[("format", "free"), ("section_text", &ok)])
        .await;
    assert!(app.get(&saved).await.body.contains(&ok));
    let huge = format!("csrf_token={token}&section_text={}", "c".repeat(20 << 20));
    let page = app
        .post_raw(
            &format!("{sam}/notes"),
            "application/x-www-form-urlencoded",
            huge.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(page.status, 413);

    let mut invalid = format!("csrf_token={token}&section_subjective=").into_bytes();
    invalid.extend_from_slice(b"%C3%28");
    let page = app
        .post_raw(
            &format!("{sam}/notes"),
            "application/x-www-form-urlencoded",
            invalid,
            &[],
        )
        .await;
    assert_eq!(page.status, 400);
    page.assert_contains("not valid text");
}

async fn custom_tags_are_made_once_and_offered_again(app: TestApp) {
    app.set_up().await;
    let sam = app.add_client("Sam Tags", "").await;
    let first = app
        .add_note(&sam, &[("new_tags", "first laugh, Anger softened")])
        .await;
    app.get(&first).await.assert_contains("first laugh");
    let form = app.get(&format!("{sam}/notes/new")).await;
    form.assert_contains("Your tags");
    form.assert_contains("Anger softened");
    let second = app.add_note(&sam, &[("new_tags", "FIRST LAUGH")]).await;
    app.get(&second).await.assert_contains("first laugh");
    let form = app.get(&format!("{sam}/notes/new")).await;
    assert_eq!(
        form.body.matches(">first laugh</label>").count(),
        1,
        "no duplicate tag"
    );
    // The "first laugh" tag's own key: both notes carry it.
    let before_label = form
        .body
        .split(">first laugh</label>")
        .next()
        .expect("label");
    let key = before_label
        .rsplit("value=\"custom:")
        .next()
        .and_then(|s| s.split('"').next())
        .expect("custom tag key");
    let found = app.get(&format!("/notes?tag=custom:{key}")).await;
    found.assert_contains("2 notes match");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_while_writing_loses_nothing() {
    // The same round trip with a real idle timeout rather than a deleted row.
    let app =
        TestApp::spawn_with(Backend::Sqlite, |c| c.idle_timeout = Duration::from_secs(2)).await;
    app.set_up().await;
    let sam = app.add_client("Sam Idle", "").await;
    let token = app.get(&format!("{sam}/notes/new")).await.csrf_token();
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let page = app
        .post_form(
            &format!("{sam}/notes"),
            &note_form(
                &[("csrf_token", &token)],
                "soap",
                &[("section_plan", "idle but kept"), ("intent", "save")],
            ),
        )
        .await;
    assert_eq!(page.status, 401);
    assert_eq!(
        hidden_value(&page.body, "section_plan").as_deref(),
        Some("idle but kept")
    );
    assert_eq!(app.audit_count("session.expired"), 1);
}
