//! The inbox for outside tools: write-only tokens, drafts sealed to the
//! therapist before they are stored, refused for every other use, rate
//! limited, and turned into ordinary draft notes by the therapist. The
//! OpenAPI description is checked by an outside validator.

use crate::both_backends;
use crate::helpers::app::{Agent, Page};
use crate::helpers::{Backend, TestApp};

/// Make an inbox token on /settings/inbox-tokens; returns it as shown once.
pub async fn make_token(agent: &Agent, name: &str) -> String {
    let page = agent
        .submit(
            "/settings/inbox-tokens",
            "/settings/inbox-tokens",
            &[("name", name)],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let start = page
        .body
        .find("id=\"new-token\">")
        .expect("the token is shown")
        + "id=\"new-token\">".len();
    let end = start + page.body[start..].find('<').expect("end");
    page.body[start..end].to_owned()
}

/// Post a draft as a tool would.
pub async fn post(agent: &Agent, token: &str, draft: &serde_json::Value) -> Page {
    agent
        .post_raw(
            "/api/v1/inbox",
            "application/json",
            draft.to_string().into_bytes(),
            &[("Authorization", &format!("Bearer {token}"))],
        )
        .await
}

/// The id a 202 gives.
pub fn draft_id(page: &Page) -> String {
    assert_eq!(page.status, 202, "{}", page.body);
    let v: serde_json::Value = serde_json::from_str(&page.body).expect("json");
    assert_eq!(
        v.as_object().map(|o| o.len()),
        Some(1),
        "only an id: {}",
        page.body
    );
    v["id"].as_str().expect("id").to_owned()
}

fn soap(words: &str) -> serde_json::Value {
    serde_json::json!({
        "tool": "Example Dictation 2.1",
        "session_date": "2026-03-02",
        "format": "soap",
        "client_reference": "R.V., Tuesday",
        "sections": {
            "subjective": format!("Said the week felt {words}."),
            "objective": "Tearful, then settled.",
            "assessment": "Grief easier to speak about.",
            "plan": "Continue weekly.",
        }
    })
}

both_backends!(a_tool_posts_a_draft_only_its_therapist_can_read_and_accept);

async fn a_tool_posts_a_draft_only_its_therapist_can_read_and_accept(app: TestApp) {
    app.set_up().await;
    let client = app.add_client("Rowan Vale", "").await;
    let token = make_token(&app, "Phone dictation").await;
    assert!(token.starts_with("tsin_") && token.len() > 40, "{token}");
    // Listed by name, never shown again.
    let list = app.get("/settings/inbox-tokens").await;
    list.assert_contains("Phone dictation");
    assert!(!list.body.contains(&token));

    let canary = "INBOXCANARYQUILL";
    let posted = post(&app, &token, &soap(canary)).await;
    let id = draft_id(&posted);
    // The database holds no plaintext of it.
    let pool = app.pool();
    let stored: Vec<u8> = {
        use diesel::prelude::*;
        let mut conn = pool.get().expect("conn");
        diesel::sql_query("SELECT sealed FROM inbox_drafts")
            .load::<Sealed>(&mut conn)
            .expect("rows")
            .into_iter()
            .flat_map(|r| r.sealed)
            .collect()
    };
    assert!(!stored.is_empty());
    for word in [canary, "Example Dictation", "R.V.", "Tearful"] {
        assert!(
            !stored.windows(word.len()).any(|w| w == word.as_bytes()),
            "{word} is stored in the clear"
        );
    }

    // The token reads nothing back, and does nothing else.
    let tool = app.new_agent();
    let bearer = format!("Bearer {token}");
    for path in [
        "/api/v1/inbox",
        "/inbox",
        &format!("/inbox/{id}"),
        "/clients",
        &client,
        "/api/v1/openapi.json",
    ] {
        let page = tool.get_with(path, &[("Authorization", &bearer)]).await;
        assert!(
            page.status == 403 || page.status == 405,
            "{path} with the token: {} {}",
            page.status,
            page.body
        );
        assert!(!page.body.contains(canary));
    }
    let page = tool
        .post_raw(
            "/clients",
            "application/x-www-form-urlencoded",
            b"full_name=x".to_vec(),
            &[("Authorization", &bearer)],
        )
        .await;
    assert_eq!(page.status, 403);

    // The therapist is told on their first page, sees it, opens it, and
    // makes it a note of the client.
    app.get("/clients").await.assert_contains(
        "A draft from one of your tools is waiting in your <a href=\"/inbox\">Inbox</a>.",
    );
    let inbox = app.get("/inbox").await;
    inbox.assert_contains("From Example Dictation 2.1");
    inbox.assert_contains(&format!("Said the week felt {canary}."));
    inbox.assert_contains("R.V., Tuesday");
    let draft = app.get(&format!("/inbox/{id}")).await;
    draft.assert_contains("Rowan Vale");
    let none = app
        .post_form(
            &format!("/inbox/{id}/accept"),
            &[("csrf_token", &draft.csrf_token()), ("client", "")],
        )
        .await;
    assert_eq!(none.status, 400);
    none.assert_contains("Choose the client this note is about.");
    let made = app
        .post_form(
            &format!("/inbox/{id}/accept"),
            &[
                ("csrf_token", &draft.csrf_token()),
                ("client", client.trim_start_matches("/clients/")),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let edit = made.location().expect("location").to_owned();
    assert!(edit.ends_with("/edit"), "{edit}");
    let note = edit.trim_end_matches("/edit").to_owned();
    let page = app.get(&note).await;
    page.assert_contains(&format!("Said the week felt {canary}."));
    page.assert_contains("Draft");
    app.get(&client).await.assert_contains(&note);
    // It left the inbox, and cannot be accepted twice.
    assert!(!app.get("/inbox").await.body.contains(canary));
    assert_eq!(app.get(&format!("/inbox/{id}")).await.status, 404);

    // Another therapist sees none of it, and their token posts only to them.
    let other = app
        .colleague("other@example.org", "another long passphrase here")
        .await;
    let theirs = make_token(&other, "Their scribe").await;
    let second = draft_id(&post(&app, &token, &soap("second")).await);
    assert_eq!(other.get(&format!("/inbox/{second}")).await.status, 404);
    let accept = other
        .post_form(
            &format!("/inbox/{second}/decline"),
            &[("csrf_token", &other.get("/inbox").await.csrf_token())],
        )
        .await;
    assert_eq!(accept.status, 404);
    draft_id(&post(&app, &theirs, &soap("theirs")).await);
    assert!(!app.get("/inbox").await.body.contains("theirs"));
    other
        .get("/inbox")
        .await
        .assert_contains("Said the week felt theirs.");

    // Declining deletes.
    let page = app.get(&format!("/inbox/{second}")).await;
    let declined = app.press(&page, &format!("/inbox/{second}/decline")).await;
    assert_eq!(declined.status, 303);
    assert_eq!(app.get(&format!("/inbox/{second}")).await.status, 404);

    // Revoked: 401, and so is a token nobody issued.
    let list = app.get("/settings/inbox-tokens").await;
    let token_id = list.segment_after("/settings/inbox-tokens/");
    let revoked = app
        .press(&list, &format!("/settings/inbox-tokens/{token_id}/revoke"))
        .await;
    assert_eq!(revoked.status, 303);
    app.get("/settings/inbox-tokens")
        .await
        .assert_contains("Revoked");
    for bad in [
        token.as_str(),
        "tsin_forgedforgedforgedforgedforgedforgedforged",
        "",
    ] {
        let page = post(&tool, bad, &soap("late")).await;
        assert_eq!(page.status, 401, "{bad}: {}", page.body);
        assert!(page.headers.get("www-authenticate").is_some());
    }
    let page = tool
        .post_raw(
            "/api/v1/inbox",
            "application/json",
            soap("x").to_string().into_bytes(),
            &[],
        )
        .await;
    assert_eq!(page.status, 401);

    // Whoever can write the database cannot swap in a key of their own:
    // the token pinned the therapist's key, so nothing is sealed to theirs.
    let fresh = make_token(&app, "After the swap").await;
    {
        use diesel::prelude::*;
        use tearsheet::db::schema::therapists;
        let mut conn = pool.get().expect("conn");
        diesel::update(therapists::table)
            .set(therapists::public_key.eq(Some(vec![9u8; 32])))
            .execute(&mut conn)
            .expect("swap");
    }
    let page = post(&tool, &fresh, &soap("swapped")).await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(!app.get("/inbox").await.body.contains("swapped"));
}

#[derive(diesel::QueryableByName)]
struct Sealed {
    #[diesel(sql_type = diesel::sql_types::Binary)]
    sealed: Vec<u8>,
}

both_backends!(bad_drafts_are_refused_with_the_field_named_and_the_rate_limit_holds);

async fn bad_drafts_are_refused_with_the_field_named_and_the_rate_limit_holds(app: TestApp) {
    app.set_up().await;
    let token = make_token(&app, "Intake form").await;
    let tool = app.new_agent();
    let bearer = format!("Bearer {token}");
    let send = |body: Vec<u8>, kind: &'static str| {
        let bearer = bearer.clone();
        let tool = &tool;
        async move {
            tool.post_raw("/api/v1/inbox", kind, body, &[("Authorization", &bearer)])
                .await
        }
    };
    let mut bad = soap("x");
    bad["session_date"] = serde_json::json!("2026-02-30");
    let page = send(bad.to_string().into_bytes(), "application/json").await;
    assert_eq!(page.status, 400);
    let v: serde_json::Value = serde_json::from_str(&page.body).expect("json");
    assert_eq!(v["field"], "session_date", "{}", page.body);
    let page = send(b"{\"tool\": ".to_vec(), "application/json").await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("not valid JSON"), "{}", page.body);
    let page = send(b"{\"tool\":\"x\xff\"}".to_vec(), "application/json").await;
    assert_eq!(page.status, 400);
    let page = send(soap("x").to_string().into_bytes(), "text/plain").await;
    assert_eq!(page.status, 415);
    let huge = serde_json::json!({
        "tool": "x", "session_date": "2026-03-02",
        "sections": {"text": "a".repeat(2 * 1024 * 1024)}
    });
    let page = send(huge.to_string().into_bytes(), "application/json").await;
    assert_eq!(page.status, 413);
    // Nothing bad reached the inbox.
    assert!(app.get("/inbox").await.body.contains("Nothing waiting."));
    // Twenty a minute (the refusals above counted too), then 429.
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(
            send(soap("flood").to_string().into_bytes(), "application/json")
                .await
                .status,
        );
    }
    assert!(statuses.contains(&202));
    let page = send(soap("flood").to_string().into_bytes(), "application/json").await;
    assert_eq!(page.status, 429, "{statuses:?}");
    assert!(page.headers.get("retry-after").is_some());
    // The therapist's pages carry on.
    assert_eq!(app.get("/inbox").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_description_is_served_and_valid() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let page = app.get("/api/v1/openapi.json").await;
    assert_eq!(page.status, 200);
    let spec: serde_json::Value = serde_json::from_str(&page.body).expect("json");
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["paths"]["/api/v1/inbox"]["post"].is_object());
    let errors = crate::helpers::gates::openapi_errors(&page.body);
    assert!(errors.is_empty(), "{errors:?}");
    // The validator is real: a broken description fails it.
    let broken = page.body.replace("\"version\": \"1.0.0\",", "");
    assert!(!crate::helpers::gates::openapi_errors(&broken).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_and_pack_pages_are_valid_html() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.set_up().await;
    app.add_client("Rowan Vale", "").await;
    let mut pages = Vec::new();
    let made = app
        .submit(
            "/settings/inbox-tokens",
            "/settings/inbox-tokens",
            &[("name", "Scribe")],
        )
        .await;
    let token = make_token(&app, "Second").await;
    pages.push(("token-made.html".to_owned(), made.body));
    let refused = app
        .submit(
            "/settings/inbox-tokens",
            "/settings/inbox-tokens",
            &[("name", "")],
        )
        .await;
    assert_eq!(refused.status, 400);
    pages.push(("token-refused.html".to_owned(), refused.body));
    pages.push(("inbox-empty.html".to_owned(), app.get("/inbox").await.body));
    let id = draft_id(&post(&app, &token, &soap("lighter")).await);
    for (name, path) in [
        ("tokens", "/settings/inbox-tokens".to_owned()),
        ("inbox", "/inbox".to_owned()),
        ("draft", format!("/inbox/{id}")),
        ("packs", "/practice/packs".to_owned()),
        ("practice", "/practice".to_owned()),
    ] {
        let page = app.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        pages.push((format!("{name}.html"), page.body));
    }
    let publisher = crate::helpers::packs::Publisher::new();
    let shown = app
        .submit(
            "/practice",
            "/practice/pack-keys",
            &[("public_key", &publisher.public_key())],
        )
        .await;
    pages.push(("trust.html".to_owned(), shown.body));
    let wrong = app
        .submit(
            "/practice",
            "/practice/pack-keys",
            &[("public_key", "not a key")],
        )
        .await;
    assert_eq!(wrong.status, 400);
    pages.push(("trust-wrong.html".to_owned(), wrong.body));
    crate::helpers::gates::assert_valid_html(&pages);
}
