//! Records are bound to what owns them: a note to its client, an addendum
//! to its note, a given handout to its client. Moving one in the database
//! shows the integrity notice, never the record under another owner; and
//! data written before that binding existed still reads and is bound at
//! its owner's next sign-in.

use diesel::prelude::*;
use tearsheet::db::schema::{addenda, handouts_given, note_versions, notes};

use crate::both_backends;
use crate::helpers::{Agent, Backend, TestApp};

both_backends!(records_moved_to_another_owner_show_the_integrity_notice);

const NOTICE: &str = "failed an integrity check";

/// The record id in a path such as `/notes/12` or `/handouts/given/34/print`.
fn id_of(path: &str) -> i64 {
    path.split(['/', '?'])
        .find_map(|part| part.parse().ok())
        .expect("an id in the path")
}

async fn sign(agent: &Agent, note: &str) {
    let page = agent.get(note).await;
    let revision = crate::helpers::app::hidden_value(&page.body, "revision").expect("revision");
    let signed = agent
        .post_form(
            &format!("{note}/sign"),
            &[("csrf_token", &page.csrf_token()), ("revision", &revision)],
        )
        .await;
    assert_eq!(signed.status, 303, "{}", signed.body);
}

async fn give_handout(agent: &Agent, client: &str, note: &str) -> String {
    let token = agent.get("/handouts/crying-in-therapy").await.csrf_token();
    let given = agent
        .post_form(
            "/handouts/crying-in-therapy/give",
            &[
                ("csrf_token", &token),
                ("client", &id_of(client).to_string()),
                ("note", note),
                ("paper", "letter"),
            ],
        )
        .await;
    assert_eq!(given.status, 303, "{}", given.body);
    given.location_path()
}

/// Run one statement on the app's database.
fn set(app: &TestApp, f: impl FnOnce(&mut tearsheet::db::DbConn) -> QueryResult<usize>) {
    let mut conn = app.pool().get().expect("conn");
    assert_eq!(f(&mut conn).expect("update"), 1);
}

async fn records_moved_to_another_owner_show_the_integrity_notice(app: TestApp) {
    app.set_up().await;
    let ada = app.add_client("Ada Moved", "").await;
    let bea = app.add_client("Bea Other", "").await;
    let note = app
        .add_note(
            &ada,
            &[
                ("section_subjective", "MOVEDCANARY her own words"),
                ("key_moment", "MOVEDCANARY moment"),
                ("tag", "tearful-breakthrough"),
            ],
        )
        .await;
    sign(&app, &note).await;
    let token = app.get(&note).await.csrf_token();
    let added = app
        .add_addendum(&note, &token, "MOVEDCANARY addendum")
        .await;
    assert_eq!(added.status, 303);
    let other_note = app
        .add_note(&bea, &[("section_subjective", "Bea's session")])
        .await;
    let given = give_handout(&app, &ada, "MOVEDCANARY for Ada").await;
    let (ada_id, bea_id, note_id) = (id_of(&ada), id_of(&bea), id_of(&note));

    // A signed note moved under another client.
    set(&app, |c| {
        diesel::update(notes::table.find(note_id))
            .set(notes::client_id.eq(bea_id))
            .execute(c)
    });
    let page = app.get(&note).await;
    assert_eq!(page.status, 200);
    page.assert_contains(NOTICE);
    assert!(!page.body.contains("MOVEDCANARY her own words"));
    let bea_page = app.get(&bea).await;
    bea_page.assert_contains(NOTICE);
    assert!(!bea_page.body.contains("MOVEDCANARY"));
    // Put back, it reads again: the notice came from the move alone.
    set(&app, |c| {
        diesel::update(notes::table.find(note_id))
            .set(notes::client_id.eq(ada_id))
            .execute(c)
    });
    app.get(&note)
        .await
        .assert_contains("MOVEDCANARY her own words");

    // An addendum moved onto another note.
    set(&app, |c| {
        diesel::update(addenda::table.filter(addenda::note_id.eq(note_id)))
            .set(addenda::note_id.eq(id_of(&other_note)))
            .execute(c)
    });
    let page = app.get(&other_note).await;
    page.assert_contains(NOTICE);
    assert!(!page.body.contains("MOVEDCANARY"));

    // A given handout moved to another client.
    set(&app, |c| {
        diesel::update(handouts_given::table.find(id_of(&given)))
            .set(handouts_given::client_id.eq(bea_id))
            .execute(c)
    });
    let reprint = app.get(&given).await;
    assert_eq!(reprint.status, 409);
    reprint.assert_contains(NOTICE);
    let bea_page = app.get(&bea).await;
    bea_page.assert_contains("A handout record that failed an integrity check");
    assert!(!bea_page.body.contains("MOVEDCANARY"));
}

/// Every sealed value of notes, their versions and addenda, and given
/// handouts, as (table, first byte).
fn blob_versions(app: &TestApp) -> Vec<(&'static str, u8)> {
    let mut conn = app.pool().get().expect("conn");
    let mut out = Vec::new();
    let first = |b: &Vec<u8>| b.first().copied().unwrap_or(0);
    type NoteBlobs = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>, Option<Vec<u8>>);
    let rows: Vec<NoteBlobs> = notes::table
        .select((
            notes::sections,
            notes::key_moment,
            notes::process_note,
            notes::tags,
            notes::content_hash,
        ))
        .load(&mut *conn)
        .expect("notes");
    for (a, b, c, d, e) in rows {
        out.extend([&a, &b, &c, &d].map(|x| ("notes", first(x))));
        out.extend(e.iter().map(|x| ("notes", first(x))));
    }
    let rows: Vec<(Vec<u8>, Vec<u8>)> = note_versions::table
        .select((note_versions::sections, note_versions::tags))
        .load(&mut *conn)
        .expect("versions");
    out.extend(
        rows.iter()
            .flat_map(|(a, b)| [("note_versions", first(a)), ("note_versions", first(b))]),
    );
    let rows: Vec<Vec<u8>> = addenda::table
        .select(addenda::body)
        .load(&mut *conn)
        .expect("addenda");
    out.extend(rows.iter().map(|b| ("addenda", first(b))));
    let rows: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = handouts_given::table
        .select((
            handouts_given::body,
            handouts_given::personal_note,
            handouts_given::text_hash,
        ))
        .load(&mut *conn)
        .expect("given");
    for (a, b, c) in rows {
        out.extend([&a, &b, &c].map(|x| ("handouts_given", first(x))));
    }
    out
}

/// Sign in as the fixture's therapist and wait for the background upgrade.
async fn sign_in_and_wait_for_the_upgrade(app: &TestApp) {
    let page = app
        .log_in("legacy@example.org", "legacy fixture password")
        .await;
    assert_eq!(page.location(), Some("/clients"), "{}", page.body);
    for _ in 0..200 {
        if app.data_format() == tearsheet::upgrade::CURRENT {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the data was not brought to the current format after sign-in");
}

async fn legacy_data_reads_and_is_bound_to_its_owners_after_sign_in(backend: Backend) {
    let app = TestApp::spawn_from_fixture(backend, "legacy-v1").await;
    assert!(
        blob_versions(&app).iter().all(|(_, v)| *v == 1),
        "the fixture is version 1"
    );
    assert_eq!(app.data_format(), 1);
    sign_in_and_wait_for_the_upgrade(&app).await;
    let versions = blob_versions(&app);
    // Three notes (one signed), an earlier version, an addendum, a handout.
    assert_eq!(versions.len(), 19);
    assert!(
        versions.iter().all(|(_, v)| *v == 2),
        "every owned value is version 2 now: {versions:?}"
    );
    // Everything still reads.
    let list = app.get("/clients").await;
    list.assert_contains("Ione Legacyfixture");
    let ione = crate::helpers::app::link_to(&list.body, "Ione Legacyfixture");
    let page = app.get(&ione).await;
    assert!(!page.body.contains(NOTICE), "{}", page.body);
    page.assert_contains("cried for the first time LEGACYCANARY");
    page.assert_contains("It&#39;s okay to cry in therapy");
    for note in crate::helpers::app::links_starting(&page.body, "/notes/") {
        let shown = app.get(&note).await;
        assert!(!shown.body.contains(NOTICE), "{note}: {}", shown.body);
        shown.assert_contains("LEGACYCANARY subjective words");
    }
    let given = crate::helpers::app::links_starting(&page.body, "/handouts/given/")
        .pop()
        .expect("a given handout");
    let reprint = app.get(&given).await;
    assert_eq!(reprint.status, 200, "{}", reprint.body);
    reprint.assert_contains("LEGACYCANARY personal note");
    reprint.assert_contains("For</span> Ione");
    // And now a move is caught, as for new data.
    let note = crate::helpers::app::links_starting(&page.body, "/notes/")
        .pop()
        .expect("a note");
    let otto = crate::helpers::app::link_to(&list.body, "Otto Secondclient");
    set(&app, |c| {
        diesel::update(notes::table.find(id_of(&note)))
            .set(notes::client_id.eq(id_of(&otto)))
            .execute(c)
    });
    app.get(&note).await.assert_contains(NOTICE);
}

async fn a_legacy_handout_moved_before_sign_in_is_caught_by_its_hash(backend: Backend) {
    let app = TestApp::spawn_from_fixture(backend, "legacy-v1").await;
    // Version 1 did not bind the client into the seal, only into the hash of
    // the text printed (with the client's name): move the record to the
    // other client before anyone signs in.
    let otto: i64 = {
        use tearsheet::db::schema::clients;
        let mut conn = app.pool().get().expect("conn");
        let ids: Vec<i64> = clients::table
            .select(clients::id)
            .load(&mut *conn)
            .expect("clients");
        let given_to: i64 = handouts_given::table
            .select(handouts_given::client_id)
            .first(&mut *conn)
            .expect("given");
        ids.into_iter()
            .find(|id| *id != given_to)
            .expect("the other client")
    };
    set(&app, |c| {
        diesel::update(handouts_given::table)
            .set(handouts_given::client_id.eq(otto))
            .execute(c)
    });
    sign_in_and_wait_for_the_upgrade(&app).await;
    let page = app.get(&format!("/clients/{otto}")).await;
    page.assert_contains("A handout record that failed an integrity check");
    assert!(!page.body.contains("LEGACYCANARY personal note"));
    let given = crate::helpers::app::links_starting(&page.body, "/handouts/given/")
        .pop()
        .expect("the moved record is listed");
    let reprint = app.get(&given).await;
    assert_eq!(reprint.status, 409);
    assert!(!reprint.body.contains("LEGACYCANARY"));
}

mod legacy {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn data_reads_and_is_bound_to_its_owners_after_sign_in_on_sqlite() {
        legacy_data_reads_and_is_bound_to_its_owners_after_sign_in(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn data_reads_and_is_bound_to_its_owners_after_sign_in_on_postgres() {
        legacy_data_reads_and_is_bound_to_its_owners_after_sign_in(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_handout_moved_before_sign_in_is_caught_by_its_hash_on_sqlite() {
        a_legacy_handout_moved_before_sign_in_is_caught_by_its_hash(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_handout_moved_before_sign_in_is_caught_by_its_hash_on_postgres() {
        a_legacy_handout_moved_before_sign_in_is_caught_by_its_hash(Backend::Postgres).await;
    }
}
