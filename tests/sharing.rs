//! Keys that travel (SECURITY.md): supervision with co-signature, handing a
//! client over, and the professional will, each on both backends, plus
//! the move of existing data to client keys. Every check goes through the
//! pages; the database is read only to look at what it holds, and written
//! only to play an attacker who can write it.

use diesel::prelude::*;
use tearsheet::db::schema::{client_keys, notes, therapists};

use crate::both_backends;
use crate::helpers::app::{hidden_value, link_to, links_starting};
use crate::helpers::{Agent, Backend, TestApp};

both_backends!(
    an_associates_signed_note_is_read_and_co_signed_by_the_supervisor_only,
    a_note_can_be_returned_with_a_comment_and_comes_back_after_an_addendum,
    sharing_leaves_no_canary_and_a_moved_envelope_does_not_open,
    a_swapped_public_key_is_refused_at_the_next_share,
    after_a_supervision_ends_new_notes_do_not_open_with_the_old_keys,
    a_transferred_client_is_read_whole_by_the_new_owner_only,
);

const NOTICE: &str = "failed an integrity check";
const PASSWORD: &str = "a long enough password";

/// The id at the end of a path such as `/notes/12`.
fn id_of(path: &str) -> i64 {
    path.split(['/', '?'])
        .find_map(|p| p.parse().ok())
        .expect("an id in the path")
}

fn therapist_id(app: &TestApp, email: &str) -> i64 {
    therapists::table
        .filter(therapists::email.eq(email))
        .select(therapists::id)
        .first(&mut *app.pool().get().expect("conn"))
        .expect("therapist")
}

/// A colleague signed in, with their own display name.
async fn colleague(app: &TestApp, email: &str, name: &str) -> Agent {
    let agent = app.colleague(email, PASSWORD).await;
    let id = therapist_id(app, email);
    diesel::update(therapists::table.find(id))
        .set(therapists::display_name.eq(name))
        .execute(&mut *app.pool().get().expect("conn"))
        .expect("rename");
    agent
}

/// The fingerprint a therapist's Settings page shows.
async fn fingerprint(agent: &Agent) -> String {
    let page = agent.get("/settings").await;
    page.body
        .split("id=\"fingerprint\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("a fingerprint on Settings")
        .to_owned()
}

/// The administrator marks an account as an associate.
async fn mark_associate(admin: &Agent, id: i64) {
    let token = admin.get("/practice").await.csrf_token();
    let marked = admin
        .post_form(
            &format!("/practice/accounts/{id}/licence"),
            &[("csrf_token", &token), ("level", "associate")],
        )
        .await;
    assert_eq!(marked.status, 303, "{}", marked.body);
}

/// Send the form that names a colleague by email and then press the
/// confirmation page's button, checking it showed `expected` fingerprint.
async fn name_and_confirm(
    agent: &Agent,
    form_page: &str,
    action: &str,
    fields: &[(&str, &str)],
    expected: &str,
) -> crate::helpers::app::Page {
    let confirm = agent.submit(form_page, action, fields).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    confirm.assert_contains(expected);
    let mut hidden: Vec<(String, String)> = Vec::new();
    for name in ["colleague", "fingerprint", "associate", "waiting_days"] {
        if let Some(v) = hidden_value(&confirm.body, name) {
            hidden.push((name.to_owned(), v));
        }
    }
    let target = links_in_forms(&confirm.body, "/confirm");
    let token = confirm.csrf_token();
    let mut send: Vec<(&str, &str)> = vec![("csrf_token", &token)];
    send.extend(hidden.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    agent.post_form(&target, &send).await
}

/// A practice of an administrator, an associate (Bo), a licensed
/// supervisor (Cy) and a third therapist (Di); Bo has a client with a
/// signed note whose process note holds a canary.
struct Practice {
    bo: Agent,
    cy: Agent,
    di: Agent,
    client: String,
    note: String,
}

const PROCESS_CANARY: &str = "PROCESSCANARY only for Bo";
const NOTE_WORDS: &str = "SHAREDWORDS she cried and laughed";

async fn practice(app: &TestApp) -> Practice {
    app.set_up().await;
    let bo = colleague(app, "bo@example.org", "Bo Associate").await;
    let cy = colleague(app, "cy@example.org", "Cy Supervisor").await;
    let di = colleague(app, "di@example.org", "Di Colleague").await;
    mark_associate(app, therapist_id(app, "bo@example.org")).await;
    let client = bo.add_client("Ria Sharedclient", "Ria").await;
    let note = bo
        .add_note(
            &client,
            &[
                ("section_subjective", NOTE_WORDS),
                ("process_note", PROCESS_CANARY),
                ("tag", "tearful-breakthrough"),
            ],
        )
        .await;
    let token = bo.get(&note).await.csrf_token();
    assert_eq!(bo.sign_note(&note, &token).await.status, 303);
    Practice {
        bo,
        cy,
        di,
        client,
        note,
    }
}

/// Bo names Cy as supervisor, confirming Cy's fingerprint.
async fn supervise(p: &Practice) {
    let expected = fingerprint(&p.cy).await;
    let named = name_and_confirm(
        &p.bo,
        "/settings/supervision",
        "/settings/supervision",
        &[("email", "cy@example.org")],
        &expected,
    )
    .await;
    assert_eq!(named.status, 303, "{}", named.body);
}

async fn an_associates_signed_note_is_read_and_co_signed_by_the_supervisor_only(app: TestApp) {
    let p = practice(&app).await;
    // Before anyone is named, Cy sees nothing.
    assert_eq!(p.cy.get(&p.note).await.status, 404);
    supervise(&p).await;
    p.bo.get("/settings/supervision")
        .await
        .assert_contains("Cy Supervisor");

    let list = p.cy.get("/supervision").await;
    list.assert_contains("Bo Associate");
    list.assert_contains(&format!("href=\"{}\"", p.note));
    list.assert_contains("Ria Sharedclient");
    // Filtered by a moment the note does not have: not listed.
    let other = p.cy.get("/supervision?tag=self-compassion").await;
    assert!(!other.body.contains(&format!("href=\"{}\"", p.note)));
    let tagged = p.cy.get("/supervision?tag=tearful-breakthrough").await;
    tagged.assert_contains(&format!("href=\"{}\"", p.note));

    let seen = p.cy.get(&p.note).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    seen.assert_contains("SHAREDWORDS");
    assert!(!seen.body.contains(NOTICE), "{}", seen.body);
    assert!(
        !seen.body.contains("PROCESSCANARY"),
        "the supervisor never sees the process note"
    );
    // Every way to the process note is closed to the supervisor.
    for path in [
        format!("{}/history", p.note),
        format!("{}/edit", p.note),
        format!("{}/delete", p.note),
        p.client.clone(),
        format!("{}/record", p.client),
    ] {
        assert_eq!(p.cy.get(&path).await.status, 404, "{path}");
    }
    let token = seen.csrf_token();
    let signed =
        p.cy.post_form(&format!("{}/cosign", p.note), &[("csrf_token", &token)])
            .await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    p.cy.get(&p.note)
        .await
        .assert_contains("Co-signed by Cy Supervisor");
    p.bo.get(&p.note)
        .await
        .assert_contains("Co-signed by Cy Supervisor");
    let record = p.bo.get(&format!("{}/record", p.client)).await;
    record.assert_contains("Co-signed by Cy Supervisor");
    let json = p.bo.get(&format!("{}/record.json", p.client)).await;
    json.assert_contains("\"cosigned_by\": \"Cy Supervisor\"");
    // The FHIR export names the co-signer, and the FHIR judge accepts it.
    let fhir = p.bo.get(&format!("{}/fhir", p.client)).await.body;
    assert!(fhir.contains("Co-signed by Cy Supervisor"));
    assert!(!fhir.contains("PROCESSCANARY"));
    let errors = crate::helpers::gates::fhir_errors(&[("cosigned".into(), fhir)]);
    assert!(
        errors.is_empty(),
        "the FHIR judge found:\n{}",
        errors.join("\n")
    );
    // No longer waiting.
    assert!(
        !p.cy
            .get("/supervision")
            .await
            .body
            .contains(&format!("href=\"{}\"", p.note))
    );
    // A supervisory addendum shows on the note, marked as such.
    let token = p.cy.get(&p.note).await.csrf_token();
    let added =
        p.cy.post_form(
            &format!("{}/supervisory-addendum", p.note),
            &[
                ("csrf_token", &token),
                ("body", "Discussed in supervision."),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    p.bo.get(&p.note)
        .await
        .assert_contains("Cy Supervisor (supervisor)");

    // The administrator (not a supervisor) and a third therapist: 404 on
    // every id, and the forms refuse too.
    for agent in [&app.agent, &p.di] {
        for path in [
            p.note.clone(),
            p.client.clone(),
            format!("{}/record", p.client),
            format!("{}/history", p.note),
            format!("{}/transfer", p.client),
        ] {
            assert_eq!(agent.get(&path).await.status, 404, "{path}");
        }
        let token = agent.get("/settings").await.csrf_token();
        let refused = agent
            .post_form(&format!("{}/cosign", p.note), &[("csrf_token", &token)])
            .await;
        assert_eq!(refused.status, 404);
    }
    assert!(app.audit_count("note.cosign") == 1);
    assert!(app.audit_count("supervision.shared") == 1);
}

async fn a_note_can_be_returned_with_a_comment_and_comes_back_after_an_addendum(app: TestApp) {
    let p = practice(&app).await;
    // The administrator names the supervisor for Bo: nothing is shared
    // until Bo signs in again, and the administrator reads nothing.
    let bo_id = therapist_id(&app, "bo@example.org");
    let expected = fingerprint(&p.cy).await;
    let page = format!("/settings/supervision?associate={bo_id}");
    let named = name_and_confirm(
        &app,
        &page,
        "/settings/supervision",
        &[
            ("email", "cy@example.org"),
            ("associate", &bo_id.to_string()),
        ],
        &expected,
    )
    .await;
    assert_eq!(named.status, 303, "{}", named.body);
    app.get(&page)
        .await
        .assert_contains("Nothing is shared until the associate accepts");
    assert!(
        !p.cy
            .get("/supervision")
            .await
            .body
            .contains(&format!("href=\"{}\"", p.note)),
        "nothing shared before Bo signs in"
    );
    assert_eq!(app.get(&p.note).await.status, 404);
    // Bo's next sign-in lands on the proposal; signing in alone shares
    // nothing: Bo accepts after comparing the fingerprint.
    let again = app.new_agent();
    let landing = again.log_in("bo@example.org", PASSWORD).await;
    assert_eq!(landing.location(), Some("/settings/supervision#proposal"));
    assert!(
        !p.cy
            .get("/supervision")
            .await
            .body
            .contains(&format!("href=\"{}\"", p.note)),
        "nothing shared before Bo accepts"
    );
    let proposal = again.get("/settings/supervision").await;
    proposal.assert_contains(&expected);
    // A different fingerprint accepts nothing.
    let token = proposal.csrf_token();
    let wrong = again
        .post_form(
            "/settings/supervision/accept",
            &[
                ("csrf_token", &token),
                ("fingerprint", "AAAA-BBBB-CCCC-DDDD"),
            ],
        )
        .await;
    assert_eq!(wrong.location(), Some("/settings/supervision"));
    let accepted = again
        .post_form(
            "/settings/supervision/accept",
            &[("csrf_token", &token), ("fingerprint", &expected)],
        )
        .await;
    assert_eq!(
        accepted.location(),
        Some("/settings/supervision?accepted=1"),
        "{}",
        accepted.body
    );
    p.cy.get("/supervision")
        .await
        .assert_contains(&format!("href=\"{}\"", p.note));
    // The administrator never names themselves.
    let myself = app
        .submit(
            &page,
            "/settings/supervision",
            &[
                ("email", "ada@example.org"),
                ("associate", &bo_id.to_string()),
            ],
        )
        .await;
    assert_eq!(myself.status, 400);

    let token = p.cy.get(&p.note).await.csrf_token();
    let empty =
        p.cy.post_form(
            &format!("{}/return", p.note),
            &[("csrf_token", &token), ("comment", "  ")],
        )
        .await;
    assert_eq!(empty.status, 400);
    let returned =
        p.cy.post_form(
            &format!("{}/return", p.note),
            &[
                ("csrf_token", &token),
                ("comment", "RETURNCOMMENT please add the risk plan"),
            ],
        )
        .await;
    assert_eq!(returned.status, 303, "{}", returned.body);
    let bo_sees = p.bo.get(&p.note).await;
    bo_sees.assert_contains("RETURNCOMMENT please add the risk plan");
    bo_sees.assert_contains("Returned by the supervisor");
    assert!(
        !p.cy
            .get("/supervision")
            .await
            .body
            .contains(&format!("href=\"{}\"", p.note)),
        "a returned note waits for the associate"
    );
    assert_eq!(
        p.bo.add_addendum(
            &p.note,
            &bo_sees.csrf_token(),
            "Risk plan: call the crisis line."
        )
        .await
        .status,
        303
    );
    p.cy.get("/supervision")
        .await
        .assert_contains(&format!("href=\"{}\"", p.note));
    // The comment is sealed: not in the database in the clear.
    let mut conn = app.pool().get().expect("conn");
    let comments: Vec<Option<Vec<u8>>> = tearsheet::db::schema::note_reviews::table
        .select(tearsheet::db::schema::note_reviews::comment)
        .load(&mut *conn)
        .expect("reviews");
    assert_eq!(comments.len(), 1);
    let blob = comments[0].clone().expect("a comment");
    assert!(!String::from_utf8_lossy(&blob).contains("RETURNCOMMENT"));
}

async fn sharing_leaves_no_canary_and_a_moved_envelope_does_not_open(app: TestApp) {
    let p = practice(&app).await;
    let second = p.bo.add_client("Sol Otherclient", "Sol").await;
    let note2 =
        p.bo.add_note(&second, &[("section_subjective", "SECONDWORDS")])
            .await;
    let token = p.bo.get(&note2).await.csrf_token();
    assert_eq!(p.bo.sign_note(&note2, &token).await.status, 303);
    supervise(&p).await;
    p.cy.get(&note2).await.assert_contains("SECONDWORDS");

    // Nowhere in the database in the clear: the canaries, the names.
    let canaries = [
        "PROCESSCANARY",
        "SHAREDWORDS",
        "Sharedclient",
        "SECONDWORDS",
    ];
    let assert_clean = |what: &str, bytes: &[u8]| {
        for canary in canaries {
            assert!(
                !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
                "{canary} is in {what}"
            );
        }
    };
    match &app.database {
        tearsheet::db::DatabaseUrl::Sqlite(path) => {
            for file in app.sqlite_files() {
                assert_clean(
                    &file.display().to_string(),
                    &std::fs::read(&file).expect("read"),
                );
            }
            let dir = tempfile::tempdir().expect("dir");
            let out = dir.path().join("backup.db");
            tearsheet::db::backup::backup(&app.database, &out).expect("backup");
            assert_clean("the backup", &std::fs::read(&out).expect("backup"));
            assert!(path.exists());
        }
        tearsheet::db::DatabaseUrl::Postgres(url) => {
            let dump = crate::helpers::pg::cluster().dump(url);
            assert!(String::from_utf8_lossy(&dump).contains("client_keys"));
            assert_clean("pg_dump", &dump);
        }
    }

    // Cy's envelope for the first client, copied over Cy's envelope for
    // the second: the second client's note no longer opens for Cy.
    let (first, other) = (id_of(&p.client), id_of(&second));
    let cy = therapist_id(&app, "cy@example.org");
    let mut conn = app.pool().get().expect("conn");
    let envelope: Vec<u8> = client_keys::table
        .filter(client_keys::client_id.eq(first))
        .filter(client_keys::holder_id.eq(cy))
        .filter(client_keys::version.eq(1))
        .select(client_keys::sealed)
        .first(&mut *conn)
        .expect("Cy's envelope");
    let moved = diesel::update(
        client_keys::table
            .filter(client_keys::client_id.eq(other))
            .filter(client_keys::holder_id.eq(cy))
            .filter(client_keys::version.eq(1)),
    )
    .set(client_keys::sealed.eq(&envelope))
    .execute(&mut *conn)
    .expect("move");
    assert_eq!(moved, 1);
    let seen = p.cy.get(&note2).await;
    seen.assert_contains(NOTICE);
    assert!(!seen.body.contains("SECONDWORDS"));
    assert!(!seen.body.contains("SHAREDWORDS"));
    // And the owner's own copy, given to Cy as if it were an envelope.
    let bo = therapist_id(&app, "bo@example.org");
    let owners: Vec<u8> = client_keys::table
        .filter(client_keys::client_id.eq(first))
        .filter(client_keys::holder_id.eq(bo))
        .select(client_keys::sealed)
        .first(&mut *conn)
        .expect("owner copy");
    diesel::update(
        client_keys::table
            .filter(client_keys::client_id.eq(first))
            .filter(client_keys::holder_id.eq(cy)),
    )
    .set(client_keys::sealed.eq(&owners))
    .execute(&mut *conn)
    .expect("swap");
    let seen = p.cy.get(&p.note).await;
    seen.assert_contains(NOTICE);
    assert!(!seen.body.contains("SHAREDWORDS"));
}

async fn a_swapped_public_key_is_refused_at_the_next_share(app: TestApp) {
    let p = practice(&app).await;
    supervise(&p).await;
    let (cy, di) = (
        therapist_id(&app, "cy@example.org"),
        therapist_id(&app, "di@example.org"),
    );
    // Whoever can write the database puts Di's key in Cy's place.
    let mut conn = app.pool().get().expect("conn");
    let di_key: Option<Vec<u8>> = therapists::table
        .find(di)
        .select(therapists::public_key)
        .first(&mut *conn)
        .expect("key");
    diesel::update(therapists::table.find(cy))
        .set(therapists::public_key.eq(di_key))
        .execute(&mut *conn)
        .expect("swap");
    let before: i64 = client_keys::table
        .filter(client_keys::holder_id.eq(di))
        .count()
        .get_result(&mut *conn)
        .expect("count");
    // The next share: a new client of Bo's. Nothing goes to Cy (or to
    // whoever holds the swapped-in key), and it is audited.
    let new = p.bo.add_client("Tam Newclient", "Tam").await;
    let for_new: i64 = client_keys::table
        .filter(client_keys::client_id.eq(id_of(&new)))
        .filter(client_keys::holder_id.ne(therapist_id(&app, "bo@example.org")))
        .count()
        .get_result(&mut *conn)
        .expect("count");
    assert_eq!(for_new, 0, "nothing shared after the key changed");
    assert!(app.audit_count("key.mismatch") >= 1);
    let after: i64 = client_keys::table
        .filter(client_keys::holder_id.eq(di))
        .count()
        .get_result(&mut *conn)
        .expect("count");
    assert_eq!(before, after);
    p.bo.get("/settings/supervision")
        .await
        .assert_contains("key has changed since it was confirmed");
    // Ending and naming Cy again: the confirmation shows the new
    // fingerprint, and confirming is refused with the warning.
    let token = p.bo.get("/settings/supervision").await.csrf_token();
    assert_eq!(
        p.bo.post_form("/settings/supervision/end", &[("csrf_token", &token)])
            .await
            .status,
        303
    );
    let di_fingerprint = fingerprint(&p.di).await;
    let refused = name_and_confirm(
        &p.bo,
        "/settings/supervision",
        "/settings/supervision",
        &[("email", "cy@example.org")],
        &di_fingerprint,
    )
    .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    refused.assert_contains("is not the one confirmed before");
    p.cy.get("/supervision")
        .await
        .assert_contains("Nobody has named you");
}

async fn after_a_supervision_ends_new_notes_do_not_open_with_the_old_keys(app: TestApp) {
    use tearsheet::crypto::keyring::{Held, HeldKey};
    use tearsheet::crypto::share::{Envelope, Purpose};
    use tearsheet::crypto::{ClientKey, Keys, Place};
    let p = practice(&app).await;
    supervise(&p).await;
    let (bo, cy, client) = (
        therapist_id(&app, "bo@example.org"),
        therapist_id(&app, "cy@example.org"),
        id_of(&p.client),
    );
    let mut conn = app.pool().get().expect("conn");
    // Everything Cy held, before the end.
    let held: Vec<(i32, Vec<u8>)> = client_keys::table
        .filter(client_keys::holder_id.eq(cy))
        .filter(client_keys::client_id.eq(client))
        .select((client_keys::version, client_keys::sealed))
        .load(&mut *conn)
        .expect("envelopes");
    assert!(!held.is_empty());
    let token = p.bo.get("/settings/supervision").await.csrf_token();
    let ended =
        p.bo.post_form("/settings/supervision/end", &[("csrf_token", &token)])
            .await;
    assert_eq!(ended.status, 303);
    p.bo.get("/settings/supervision?ended=1")
        .await
        .assert_contains("cannot be taken back");
    let left: i64 = client_keys::table
        .filter(client_keys::holder_id.eq(cy))
        .count()
        .get_result(&mut *conn)
        .expect("count");
    assert_eq!(left, 0, "the former supervisor's envelopes are gone");
    assert_eq!(p.cy.get(&p.note).await.status, 404);
    let later =
        p.bo.add_note(&p.client, &[("section_subjective", "LATERWORDS")])
            .await;

    // Open Cy's old envelopes with Cy's own keys, as Cy could have.
    let account = tearsheet::auth::account::find_by_email(&mut conn, "cy@example.org")
        .expect("query")
        .expect("Cy");
    let dk = account.unlock(PASSWORD).expect("kdf").expect("Cy's DK");
    let private: Option<Vec<u8>> = therapists::table
        .find(cy)
        .select(therapists::private_key_sealed)
        .first(&mut *conn)
        .expect("private key");
    let keys = Keys::new(
        cy,
        dk,
        private,
        held.iter()
            .map(|(v, sealed)| HeldKey {
                client,
                version: *v as u32,
                held: Held::Envelope(
                    Envelope {
                        purpose: Purpose::Supervision,
                        sender: bo,
                        recipient: cy,
                        client,
                        version: *v as u32,
                    },
                    sealed.clone(),
                ),
            })
            .collect(),
    );
    let old: Vec<_> = held
        .iter()
        .map(|(v, _)| {
            keys.client_key(client, *v as u32)
                .expect("the old envelope opens")
        })
        .collect();
    let note: Vec<u8> = notes::table
        .find(id_of(&later))
        .select(notes::sections)
        .first(&mut *conn)
        .expect("later note");
    let version = tearsheet::crypto::keyring::key_id_of(&note).expect("header") & 0x00ff_ffff;
    assert!(
        held.iter().all(|(v, _)| *v as u32 != version),
        "the later note uses a version Cy never held"
    );
    let place = Place::new(client, "notes", "sections", id_of(&later)).under(client);
    for key in &old {
        use tearsheet::crypto::SealingKey;
        // Cy's old key bytes under the new version's id: the cipher itself
        // refuses, not only the key id.
        let forced = ClientKey::from_bytes(version, *key.key_bytes());
        assert!(tearsheet::crypto::open(&forced, &place, &note).is_err());
        assert!(tearsheet::crypto::open(key.as_ref(), &place, &note).is_err());
    }
    // While the signed note from before still opens with them.
    let before: Vec<u8> = notes::table
        .find(id_of(&p.note))
        .select(notes::sections)
        .first(&mut *conn)
        .expect("earlier note");
    let place = Place::new(client, "notes", "sections", id_of(&p.note)).under(client);
    assert!(
        old.iter()
            .any(|k| tearsheet::crypto::open(k.as_ref(), &place, &before).is_ok())
    );
}

async fn a_transferred_client_is_read_whole_by_the_new_owner_only(app: TestApp) {
    let p = practice(&app).await;
    // A measure and a handout given, to see them move too.
    let token = p.bo.get("/handouts/crying-in-therapy").await.csrf_token();
    let given =
        p.bo.post_form(
            "/handouts/crying-in-therapy/give",
            &[
                ("csrf_token", &token),
                ("client", &id_of(&p.client).to_string()),
                ("note", "GIVENNOTE for Ria"),
                ("paper", "letter"),
            ],
        )
        .await;
    assert_eq!(given.status, 303, "{}", given.body);
    // Di cannot take what is not offered.
    let token = p.di.get("/settings").await.csrf_token();
    assert_eq!(
        p.di.post_form(
            &format!("{}/transfer/accept", p.client),
            &[("csrf_token", &token)]
        )
        .await
        .status,
        404
    );
    let expected = fingerprint(&p.di).await;
    let offered = name_and_confirm(
        &p.bo,
        &format!("{}/transfer", p.client),
        &format!("{}/transfer", p.client),
        &[("email", "di@example.org")],
        &expected,
    )
    .await;
    assert_eq!(offered.status, 303, "{}", offered.body);
    // Nothing changes until Di accepts.
    p.bo.get(&p.note).await.assert_contains("SHAREDWORDS");
    let list = p.di.get("/clients").await;
    list.assert_contains("A colleague offers you a client");
    let offer = p.di.get(&format!("{}/transfer", p.client)).await;
    offer.assert_contains("Ria Sharedclient");
    let accepted =
        p.di.press(&offer, &format!("{}/transfer/accept", p.client))
            .await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);

    let page = p.di.get(&p.client).await;
    assert_eq!(page.status, 200);
    page.assert_contains("Ria Sharedclient");
    page.assert_contains("Bo Associate handed this client to Di Colleague");
    assert!(!page.body.contains(NOTICE), "{}", page.body);
    let note = p.di.get(&p.note).await;
    note.assert_contains("SHAREDWORDS");
    assert!(!note.body.contains("PROCESSCANARY"));
    assert!(!note.body.contains(NOTICE));
    // The timeline, search and the printed record work for the new owner.
    page.assert_contains("Tearful breakthrough");
    let found = p.di.get("/notes?q=SHAREDWORDS").await;
    found.assert_contains(&format!("href=\"{}\"", p.note));
    let record = p.di.get(&format!("{}/record", p.client)).await;
    record.assert_contains("SHAREDWORDS");
    assert!(!record.body.contains("PROCESSCANARY"));
    let reprint = links_starting(&page.body, "/handouts/given/")
        .pop()
        .expect("the handout given");
    p.di.get(&reprint)
        .await
        .assert_contains("GIVENNOTE for Ria");
    // The previous owner: 404 everywhere; the history of changes is the
    // author's, and not Di's to read.
    for path in [
        p.client.clone(),
        p.note.clone(),
        format!("{}/record", p.client),
        reprint.clone(),
    ] {
        assert_eq!(p.bo.get(&path).await.status, 404, "{path}");
    }
    assert_eq!(p.di.get(&format!("{}/edit", p.note)).await.status, 404);
    assert!(
        !p.bo
            .get("/notes?q=SHAREDWORDS")
            .await
            .body
            .contains(&p.note),
        "gone from the previous owner's search"
    );
    // Only Di holds the client's keys now.
    let mut conn = app.pool().get().expect("conn");
    let holders: Vec<i64> = client_keys::table
        .filter(client_keys::client_id.eq(id_of(&p.client)))
        .select(client_keys::holder_id)
        .distinct()
        .load(&mut *conn)
        .expect("holders");
    assert_eq!(holders, vec![therapist_id(&app, "di@example.org")]);
    assert_eq!(app.audit_count("transfer.accept"), 2);
    let _ = link_to;
}

mod emergency_access {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::emergency_access(Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::emergency_access(Backend::Postgres).await;
    }
}

const DAY: i64 = 24 * 60 * 60;

async fn emergency_access(backend: Backend) {
    let mut clock = None;
    let app = TestApp::spawn_with(backend, |c| clock = Some(c.custody_clock.clone())).await;
    let clock = clock.expect("the app's clock");
    let p = practice(&app).await;
    // The administrator is Bo's custodian, with a 3-day wait.
    let admin_fp = fingerprint(&app).await;
    let named = name_and_confirm(
        &p.bo,
        "/settings/custodian",
        "/settings/custodian",
        &[("email", "ada@example.org"), ("waiting_days", "3")],
        &admin_fp,
    )
    .await;
    assert_eq!(named.status, 303, "{}", named.body);
    let record = format!("{}/record", p.client);
    assert_eq!(app.get(&record).await.status, 404, "nothing before asking");

    // Ask; refused before the period.
    let page = app.get("/custodianship").await;
    page.assert_contains("Bo Associate");
    let bo = therapist_id(&app, "bo@example.org");
    let asked = app.press(&page, &format!("/custodianship/{bo}/ask")).await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    clock.advance(2 * DAY);
    assert_eq!(app.get(&record).await.status, 404, "still waiting");

    // Bo sees the request at sign-in and refuses it: blocked for good.
    let bo_again = app.new_agent();
    let signed_in = bo_again.log_in("bo@example.org", PASSWORD).await;
    assert!(
        signed_in
            .location()
            .is_some_and(|l| l.starts_with("/settings/custodian?asked=1")),
        "{:?}",
        signed_in.location()
    );
    let requests = bo_again.get(signed_in.location().expect("landing")).await;
    requests.assert_contains("asked for access");
    let refuse = links_in_forms(&requests.body, "/refuse");
    let refused = bo_again.press(&requests, &refuse).await;
    assert_eq!(refused.status, 303);
    clock.advance(30 * DAY);
    assert_eq!(app.get(&record).await.status, 404, "a refusal blocks it");
    assert_eq!(
        app.new_agent()
            .log_in("bo@example.org", PASSWORD)
            .await
            .location(),
        Some("/clients"),
        "nothing to see at sign-in once refused"
    );

    // A request can be cancelled.
    let page = app.get("/custodianship").await;
    let asked = app.press(&page, &format!("/custodianship/{bo}/ask")).await;
    assert_eq!(asked.status, 303);
    let page = app.get("/custodianship").await;
    let cancel = links_in_forms(&page.body, "/cancel");
    assert_eq!(app.press(&page, &cancel).await.status, 303);
    clock.advance(10 * DAY);
    assert_eq!(
        app.get(&record).await.status,
        404,
        "a cancelled request releases nothing"
    );

    // Asked again and not refused: released after the period, read-only.
    let page = app.get("/custodianship").await;
    assert_eq!(
        app.press(&page, &format!("/custodianship/{bo}/ask"))
            .await
            .status,
        303
    );
    clock.advance(3 * DAY + 60);
    let read = app.get(&record).await;
    assert_eq!(read.status, 200, "{}", read.body);
    read.assert_contains("SHAREDWORDS");
    assert!(!read.body.contains("PROCESSCANARY"));
    app.get("/custodianship")
        .await
        .assert_contains(&format!("href=\"{record}\""));
    for path in [
        p.client.clone(),
        p.note.clone(),
        format!("{}/edit", p.client),
        format!("{}/notes/new", p.client),
        format!("{}/history", p.note),
    ] {
        assert_eq!(app.get(&path).await.status, 404, "read-only: {path}");
    }
    assert!(
        app.audit_count("custody.read") >= 2,
        "audited on both sides"
    );
    assert!(app.audit_count("custody.refuse") == 2);

    // Bo's account is turned off: the custodian hands Ria to Di.
    let token = app.get("/practice").await.csrf_token();
    assert_eq!(
        app.post_form(
            &format!("/practice/accounts/{bo}/disable"),
            &[("csrf_token", &token)]
        )
        .await
        .status,
        303
    );
    let di_fp = fingerprint(&p.di).await;
    let offered = name_and_confirm(
        &app,
        &format!("{}/transfer", p.client),
        &format!("{}/transfer", p.client),
        &[("email", "di@example.org")],
        &di_fp,
    )
    .await;
    assert_eq!(offered.status, 303, "{}", offered.body);
    let offer = p.di.get(&format!("{}/transfer", p.client)).await;
    let accepted =
        p.di.press(&offer, &format!("{}/transfer/accept", p.client))
            .await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    p.di.get(&p.note).await.assert_contains("SHAREDWORDS");
}

/// The action of the first form on a page whose action ends with `suffix`.
fn links_in_forms(body: &str, suffix: &str) -> String {
    body.split("action=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .find(|a| a.ends_with(suffix))
        .expect("a form with that action")
        .to_owned()
}

mod legacy {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::existing_data_moves_to_client_keys_and_survives_a_stop_halfway(Backend::Sqlite)
            .await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::existing_data_moves_to_client_keys_and_survives_a_stop_halfway(Backend::Postgres)
            .await;
    }
}

/// Whether each sealed value of the fixture's client rows is under a
/// client key: (table.column, under a client key).
fn key_kinds(app: &TestApp) -> Vec<(&'static str, bool)> {
    use tearsheet::crypto::keyring::is_under_client_key as ck;
    use tearsheet::db::schema::{addenda, clients, handouts_given, note_versions};
    let mut conn = app.pool().get().expect("conn");
    let mut out = Vec::new();
    type Four = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);
    let rows: Vec<Four> = notes::table
        .select((
            notes::sections,
            notes::key_moment,
            notes::tags,
            notes::process_note,
        ))
        .load(&mut *conn)
        .expect("notes");
    for (a, b, c, d) in rows {
        out.extend([("notes", ck(&a)), ("notes", ck(&b)), ("notes", ck(&c))]);
        out.push(("notes.process_note", ck(&d)));
    }
    let rows: Vec<(Vec<u8>, Vec<u8>)> = note_versions::table
        .select((note_versions::sections, note_versions::process_note))
        .load(&mut *conn)
        .expect("versions");
    for (a, d) in rows {
        out.push(("note_versions", ck(&a)));
        out.push(("note_versions.process_note", ck(&d)));
    }
    let rows: Vec<Vec<u8>> = addenda::table
        .select(addenda::body)
        .load(&mut *conn)
        .expect("addenda");
    out.extend(rows.iter().map(|b| ("addenda", ck(b))));
    let rows: Vec<(Vec<u8>, Vec<u8>)> = clients::table
        .select((clients::full_name, clients::about))
        .load(&mut *conn)
        .expect("clients");
    out.extend(
        rows.iter()
            .flat_map(|(a, b)| [("clients", ck(a)), ("clients", ck(b))]),
    );
    let rows: Vec<(Vec<u8>, Vec<u8>)> = handouts_given::table
        .select((handouts_given::body, handouts_given::personal_note))
        .load(&mut *conn)
        .expect("given");
    out.extend(
        rows.iter()
            .flat_map(|(a, b)| [("handouts_given", ck(a)), ("handouts_given", ck(b))]),
    );
    out
}

async fn reads_whole(agent: &Agent) {
    let list = agent.get("/clients").await;
    let ione = link_to(&list.body, "Ione Legacyfixture");
    let page = agent.get(&ione).await;
    assert!(!page.body.contains(NOTICE), "{}", page.body);
    page.assert_contains("cried for the first time LEGACYCANARY");
    for note in links_starting(&page.body, "/notes/") {
        let shown = agent.get(&note).await;
        assert!(!shown.body.contains(NOTICE), "{note}: {}", shown.body);
        shown.assert_contains("LEGACYCANARY subjective words");
    }
    let given = links_starting(&page.body, "/handouts/given/")
        .pop()
        .expect("a given handout");
    agent
        .get(&given)
        .await
        .assert_contains("LEGACYCANARY personal note");
}

async fn existing_data_moves_to_client_keys_and_survives_a_stop_halfway(backend: Backend) {
    let app = TestApp::spawn_from_fixture(backend, "legacy-v1").await;
    assert!(
        key_kinds(&app).iter().all(|(_, ck)| !ck),
        "all under DK before"
    );
    let therapist: i64 = therapists::table
        .select(therapists::id)
        .first(&mut *app.pool().get().expect("conn"))
        .expect("the fixture's therapist");
    // A stop halfway: the keys a sign-in makes, then one batch of one note
    // moved, as if the server had been killed there.
    {
        let mut conn = app.pool().get().expect("conn");
        let account = tearsheet::auth::account::find_by_email(&mut conn, "legacy@example.org")
            .expect("query")
            .expect("fixture account");
        let dk = account
            .unlock("legacy fixture password")
            .expect("kdf")
            .expect("DK");
        tearsheet::sharing::grants::at_sign_in(&mut conn, account.id, &dk).expect("keys");
        let keys = tearsheet::sharing::keys::load(&mut conn, account.id, dk, 0).expect("keyring");
        tearsheet::notes::upgrade::upgrade_batch(
            &mut conn,
            account.id,
            &keys,
            tearsheet::ids::NoteId(0),
            1,
        )
        .expect("one batch");
    }
    let kinds = key_kinds(&app);
    assert!(kinds.iter().any(|(_, ck)| *ck), "part moved: {kinds:?}");
    assert!(
        kinds
            .iter()
            .any(|(t, ck)| !ck && !t.ends_with("process_note")),
        "part not"
    );
    assert!(app.data_format() < tearsheet::upgrade::CURRENT);
    // Everything reads, half moved.
    assert_eq!(
        app.log_in("legacy@example.org", "legacy fixture password")
            .await
            .status,
        303
    );
    // (That sign-in resumed the move in the background.)
    for _ in 0..200 {
        if app.data_format() == tearsheet::upgrade::CURRENT {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.data_format(), tearsheet::upgrade::CURRENT);
    reads_whole(&app).await;
    for (table, under_ck) in key_kinds(&app) {
        if table.ends_with("process_note") {
            assert!(!under_ck, "a process note stays under its author's DK");
        } else {
            assert!(under_ck, "{table} moved to its client's key");
        }
    }
    let _ = therapist;

    // A note signed before notes could be shared, handed to a colleague:
    // it reads whole, and its old signature (which covers the process note
    // the colleague cannot open) is not reported as tampered.
    let colleague = colleague(&app, "newtherapist@example.org", "Nia Newtherapist").await;
    let list = app.get("/clients").await;
    let ione = link_to(&list.body, "Ione Legacyfixture");
    let fp = fingerprint(&colleague).await;
    let offered = name_and_confirm(
        &app,
        &format!("{ione}/transfer"),
        &format!("{ione}/transfer"),
        &[("email", "newtherapist@example.org")],
        &fp,
    )
    .await;
    assert_eq!(offered.status, 303, "{}", offered.body);
    let offer = colleague.get(&format!("{ione}/transfer")).await;
    let accepted = colleague
        .press(&offer, &format!("{ione}/transfer/accept"))
        .await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    let page = colleague.get(&ione).await;
    for note in links_starting(&page.body, "/notes/") {
        let shown = colleague.get(&note).await;
        assert_eq!(shown.status, 200);
        assert!(!shown.body.contains(NOTICE), "{note}: {}", shown.body);
        assert!(!shown.body.contains("no longer matches"), "{note}");
        assert!(!shown.body.contains("Private process note"), "{note}");
        shown.assert_contains("LEGACYCANARY subjective words");
    }
}

/// The move when the server is killed outright (SIGKILL) mid-move, on the
/// real binary: whatever point it reached, a new server reads everything
/// and the next sign-in finishes the move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_during_the_move_loses_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("data").join("tearsheet.db");
    std::fs::create_dir_all(db.parent().expect("dir")).expect("data dir");
    let sql = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/legacy-v1.sqlite.sql"),
    )
    .expect("fixture");
    {
        use diesel::connection::SimpleConnection as _;
        let mut conn =
            diesel::SqliteConnection::establish(db.to_str().expect("utf8")).expect("open");
        conn.batch_execute(&sql).expect("load");
    }
    let start = || {
        crate::helpers::binary::Server::start(
            db.to_str().expect("utf8"),
            crate::helpers::binary::free_port(),
            |_| {},
        )
    };
    for round in 0..3u64 {
        let mut server = start();
        let agent = Agent::new(&server.base);
        let signed_in = agent
            .log_in("legacy@example.org", "legacy fixture password")
            .await;
        assert_eq!(signed_in.status, 303, "round {round}");
        // Killed at once in the first round, a moment later in the next.
        if round > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20 * round)).await;
        }
        server.stop("KILL");
    }
    let mut server = start();
    let agent = Agent::new(&server.base);
    assert_eq!(
        agent
            .log_in("legacy@example.org", "legacy fixture password")
            .await
            .status,
        303
    );
    let mut done = false;
    for _ in 0..200 {
        let format: i32 = therapists::table
            .select(therapists::data_format)
            .first(
                &mut diesel::SqliteConnection::establish(db.to_str().expect("utf8")).expect("open"),
            )
            .expect("format");
        if format == tearsheet::upgrade::CURRENT {
            done = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(done, "the move finished after the crashes");
    reads_whole(&agent).await;
    server.stop("TERM");
}

/// Every page of sharing, in each state, passes the Nu Html Checker; and
/// bad input gets a clear page that changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sharing_pages_are_valid_html_and_refuse_bad_input() {
    let mut clock = None;
    let app = TestApp::spawn_with(Backend::Sqlite, |c| clock = Some(c.custody_clock.clone())).await;
    let clock = clock.expect("clock");
    let p = practice(&app).await;
    let mut pages: Vec<(String, String)> = Vec::new();
    let mut keep = |name: &str, page: crate::helpers::app::Page| {
        pages.push((name.to_owned(), page.body));
    };
    keep(
        "supervision-settings-empty",
        p.bo.get("/settings/supervision").await,
    );
    keep(
        "supervision-licensed",
        p.cy.get("/settings/supervision").await,
    );
    let bad =
        p.bo.submit(
            "/settings/supervision",
            "/settings/supervision",
            &[("email", "nobody@example.org")],
        )
        .await;
    assert_eq!(bad.status, 400);
    bad.assert_contains("No colleague in this practice has that email");
    keep("supervision-bad-email", bad);
    let confirm =
        p.bo.submit(
            "/settings/supervision",
            "/settings/supervision",
            &[("email", "cy@example.org")],
        )
        .await;
    keep("supervision-confirm", confirm);
    // A forged colleague id or fingerprint changes nothing.
    let token = p.bo.get("/settings/supervision").await.csrf_token();
    let forged =
        p.bo.post_form(
            "/settings/supervision/confirm",
            &[
                ("csrf_token", &token),
                ("colleague", "not-a-number"),
                ("fingerprint", "AAAA-BBBB-CCCC-DDDD"),
            ],
        )
        .await;
    assert_eq!(forged.status, 400);
    keep("supervision-forged-400", forged);
    let wrong_fp =
        p.bo.post_form(
            "/settings/supervision/confirm",
            &[
                ("csrf_token", &token),
                (
                    "colleague",
                    &therapist_id(&app, "cy@example.org").to_string(),
                ),
                ("fingerprint", "AAAA-BBBB-CCCC-DDDD"),
            ],
        )
        .await;
    assert_eq!(
        wrong_fp.status, 409,
        "a fingerprint not the key's is refused"
    );
    keep("supervision-key-changed-409", wrong_fp);
    let no_token =
        p.bo.post_form("/settings/supervision/end", &[("associate", "")])
            .await;
    assert_eq!(no_token.status, 403);
    supervise(&p).await;
    keep(
        "supervision-settings-current",
        p.bo.get("/settings/supervision").await,
    );
    keep("supervision-queue", p.cy.get("/supervision").await);
    keep("supervision-note", p.cy.get(&p.note).await);
    keep("note-awaiting", p.bo.get(&p.note).await);
    let bo_id = therapist_id(&app, "bo@example.org");
    keep(
        "supervision-for-associate",
        app.get(&format!("/settings/supervision?associate={bo_id}"))
            .await,
    );
    // Not the administrator: someone else's supervision is a 404.
    assert_eq!(
        p.di.get(&format!("/settings/supervision?associate={bo_id}"))
            .await
            .status,
        404
    );
    keep("practice", app.get("/practice").await);

    // The professional will.
    let bad_days =
        p.bo.submit(
            "/settings/custodian",
            "/settings/custodian",
            &[("email", "di@example.org"), ("waiting_days", "0")],
        )
        .await;
    assert_eq!(bad_days.status, 400);
    bad_days.assert_contains("from 1 to 30");
    keep("custodian-bad-days", bad_days);
    let fp = fingerprint(&p.di).await;
    assert_eq!(
        name_and_confirm(
            &p.bo,
            "/settings/custodian",
            "/settings/custodian",
            &[("email", "di@example.org"), ("waiting_days", "7")],
            &fp,
        )
        .await
        .status,
        303
    );
    keep(
        "custodian-settings",
        p.bo.get("/settings/custodian?named=1").await,
    );
    keep("custodianship-none", p.cy.get("/custodianship").await);
    keep("custodianship-before", p.di.get("/custodianship").await);
    // Only the named custodian may ask.
    let token = p.cy.get("/custodianship").await.csrf_token();
    assert_eq!(
        p.cy.post_form(
            &format!("/custodianship/{bo_id}/ask"),
            &[("csrf_token", &token)]
        )
        .await
        .status,
        404
    );
    let page = p.di.get("/custodianship").await;
    assert_eq!(
        p.di.press(&page, &format!("/custodianship/{bo_id}/ask"))
            .await
            .status,
        303
    );
    keep("custodianship-waiting", p.di.get("/custodianship").await);
    let asked = app.new_agent();
    let landing = asked.log_in("bo@example.org", PASSWORD).await;
    let requests = asked.get(landing.location().expect("landing")).await;
    // Someone else cannot refuse it.
    let refuse = links_in_forms(&requests.body, "/refuse");
    let token = p.cy.get("/settings").await.csrf_token();
    assert_eq!(
        p.cy.post_form(&refuse, &[("csrf_token", &token)])
            .await
            .status,
        404
    );
    keep("custodian-request", requests);
    clock.advance(8 * DAY);
    keep("custodianship-released", p.di.get("/custodianship").await);
    keep(
        "custody-record",
        p.di.get(&format!("{}/record", p.client)).await,
    );

    // Handing over.
    keep(
        "transfer-form",
        p.bo.get(&format!("{}/transfer", p.client)).await,
    );
    let fp = fingerprint(&p.cy).await;
    assert_eq!(
        name_and_confirm(
            &p.bo,
            &format!("{}/transfer", p.client),
            &format!("{}/transfer", p.client),
            &[("email", "cy@example.org")],
            &fp,
        )
        .await
        .status,
        303
    );
    keep(
        "transfer-offered",
        p.bo.get(&format!("{}/transfer?offered=1", p.client)).await,
    );
    keep(
        "transfer-offer",
        p.cy.get(&format!("{}/transfer", p.client)).await,
    );
    keep("clients-with-offer", p.cy.get("/clients").await);
    // Di (custodian, but Bo is active) and the administrator cannot offer
    // or accept it.
    for agent in [&p.di, &app.agent] {
        assert_eq!(
            agent.get(&format!("{}/transfer", p.client)).await.status,
            404
        );
    }
    let offer = p.cy.get(&format!("{}/transfer", p.client)).await;
    let taken =
        p.cy.press(&offer, &format!("{}/transfer/accept", p.client))
            .await;
    assert_eq!(taken.status, 303);
    keep(
        "client-after-transfer",
        p.cy.get(&format!("{}?transferred=1", p.client)).await,
    );
    keep("note-by-colleague", p.cy.get(&p.note).await);
    crate::helpers::gates::assert_valid_html(&pages);
}

both_backends!(what_the_database_alone_writes_shares_nothing_and_seals_nothing);

/// Whoever can write the database but holds no key: an envelope planted
/// for a client its holder owns never becomes their sealing key, a
/// custodian row they insert (with the right fingerprint) shares nothing
/// without the owner's consent, and a withdrawn offer cannot be accepted.
async fn what_the_database_alone_writes_shares_nothing_and_seals_nothing(app: TestApp) {
    use tearsheet::crypto::share::{Envelope, Purpose};
    use tearsheet::crypto::{ClientKey, Place, SealingKey};
    use tearsheet::db::schema::{clients, custodians};
    let p = practice(&app).await;
    let (bo, di, client) = (
        therapist_id(&app, "bo@example.org"),
        therapist_id(&app, "di@example.org"),
        id_of(&p.client),
    );
    let mut conn = app.pool().get().expect("conn");
    // A key of the attacker's, sealed to Bo's public key as a "supervision"
    // envelope for Bo's own client, at a higher version than any.
    let bo_public: Vec<u8> = therapists::table
        .find(bo)
        .select(therapists::public_key)
        .first::<Option<Vec<u8>>>(&mut *conn)
        .expect("key")
        .expect("Bo has a key");
    let public = tearsheet::crypto::share::PublicKey::from_slice(&bo_public).expect("32 bytes");
    let attacker = ClientKey::generate(99);
    let envelope = Envelope {
        purpose: Purpose::Supervision,
        sender: di,
        recipient: bo,
        client,
        version: 99,
    };
    diesel::insert_into(client_keys::table)
        .values((
            client_keys::client_id.eq(client),
            client_keys::version.eq(99),
            client_keys::holder_id.eq(bo),
            client_keys::purpose.eq("supervision"),
            client_keys::sender_id.eq(di),
            client_keys::sealed.eq(envelope.seal(&attacker, &public)),
            client_keys::created_at.eq(0i64),
        ))
        .execute(&mut *conn)
        .expect("plant");
    // Bo edits the client: the new fields are not under the planted key.
    let edit = format!("{}/edit", p.client);
    let saved =
        p.bo.submit(
            &edit,
            &edit,
            &[("full_name", "Ria Sharedclient"), ("about", "EDITEDABOUT")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let about: Vec<u8> = clients::table
        .find(client)
        .select(clients::about)
        .first(&mut *conn)
        .expect("about");
    let place = Place::new(client, "clients", "about", client);
    assert!(tearsheet::crypto::open(&attacker, &place, &about).is_err());
    assert_ne!(
        tearsheet::crypto::keyring::key_id_of(&about),
        Some(attacker.key_id())
    );
    p.bo.get(&p.client).await.assert_contains("EDITEDABOUT");

    // A custodian row naming Di, with Di's real fingerprint, written
    // straight into the database: Bo's next sign-in shares nothing.
    let di_fp = fingerprint(&p.di).await;
    diesel::insert_into(custodians::table)
        .values((
            custodians::therapist_id.eq(bo),
            custodians::custodian_id.eq(di),
            custodians::waiting_days.eq(1),
            custodians::fingerprint.eq(&di_fp),
            custodians::named_at.eq(0i64),
        ))
        .execute(&mut *conn)
        .expect("insert");
    assert_eq!(
        app.new_agent()
            .log_in("bo@example.org", PASSWORD)
            .await
            .status,
        303
    );
    let for_di: i64 = client_keys::table
        .filter(client_keys::holder_id.eq(di))
        .count()
        .get_result(&mut *conn)
        .expect("count");
    assert_eq!(for_di, 0, "no consent, nothing shared");
    assert!(app.audit_count("key.mismatch") >= 1);

    // A withdrawn offer cannot be accepted, even with its page open.
    diesel::delete(custodians::table)
        .execute(&mut *conn)
        .expect("clean");
    let offered = name_and_confirm(
        &p.bo,
        &format!("{}/transfer", p.client),
        &format!("{}/transfer", p.client),
        &[("email", "di@example.org")],
        &di_fp,
    )
    .await;
    assert_eq!(offered.status, 303, "{}", offered.body);
    let offer = p.di.get(&format!("{}/transfer", p.client)).await;
    let page = p.bo.get(&format!("{}/transfer", p.client)).await;
    assert_eq!(
        p.bo.press(&page, &format!("{}/transfer/withdraw", p.client))
            .await
            .status,
        303
    );
    let late =
        p.di.press(&offer, &format!("{}/transfer/accept", p.client))
            .await;
    assert_eq!(late.status, 404);
    p.bo.get(&p.note).await.assert_contains("SHAREDWORDS");
}
