//! Signed packs: trusting a publisher, loading from `--packs-dir` and by
//! upload, refusing whole whatever does not check out (naming the file and
//! the reason) while the rest of the app carries on, and hostile content
//! that stays inert. Packs are signed by Debian's `minisign`.

use std::path::Path;

use crate::both_backends;
use crate::helpers::app::Page;
use crate::helpers::packs::{self, Publisher};
use crate::helpers::{Backend, TestApp};

/// Trust the publisher's key as an administrator does on /practice: paste,
/// see its id, confirm.
pub async fn trust(app: &TestApp, publisher: &Publisher) -> Page {
    let shown = app
        .submit(
            "/practice",
            "/practice/pack-keys",
            &[("public_key", &publisher.public_key())],
        )
        .await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    shown.assert_contains(&format!(
        "<code class=\"secret\" id=\"key-id\">{}</code>",
        publisher.key_id()
    ));
    let line = crate::helpers::app::hidden_value(&shown.body, "public_key").expect("key field");
    let done = app
        .post_form(
            "/practice/pack-keys/confirm",
            &[
                ("csrf_token", &shown.csrf_token()),
                ("public_key", &line),
                ("key_id", &publisher.key_id()),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    done
}

/// Upload a `.tar` on /practice/packs.
pub async fn upload(app: &TestApp, tar: &[u8]) -> Page {
    let token = app.get("/practice/packs").await.csrf_token();
    let boundary = "tearsheet-pack-boundary-41c2";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"pack\"; filename=\"pack.tar\"\r\nContent-Type: application/x-tar\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(tar);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    app.post_raw(
        "/practice/packs",
        &format!("multipart/form-data; boundary={boundary}"),
        body,
        &[],
    )
    .await
}

/// The example pack from docs/example-pack, signed by `publisher`, in a
/// folder named `name` under `parent`.
pub fn signed_example(parent: &Path, name: &str, publisher: &Publisher) -> std::path::PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).expect("folder");
    packs::copy_example(&dir);
    publisher.sign(&dir);
    dir
}

both_backends!(the_example_pack_loads_once_its_publisher_is_trusted);

async fn the_example_pack_loads_once_its_publisher_is_trusted(app: TestApp) {
    app.set_up().await;
    let publisher = Publisher::new();
    let parent = tempfile::tempdir().expect("temp");
    let dir = signed_example(parent.path(), "example", &publisher);

    // Before its key is trusted: refused, with the reason, nothing offered.
    let refused = upload(&app, &packs::tar_of(&dir)).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    refused.assert_contains(&format!(
        "<strong>pack.toml.minisig</strong>: it was made with key {}, which this practice does not trust",
        publisher.key_id()
    ));
    assert_eq!(app.get("/handouts/after-a-hard-session").await.status, 404);

    trust(&app, &publisher).await;
    app.get("/practice")
        .await
        .assert_contains(&format!("<code>{}</code>, trusted by", publisher.key_id()));
    let loaded = upload(&app, &packs::tar_of(&dir)).await;
    assert_eq!(loaded.status, 303, "{}", loaded.body);
    let list = app.get("/practice/packs?loaded=example-pack").await;
    list.assert_contains("The pack example-pack is loaded.");
    list.assert_contains("Example pack: intake, DBT skills and WHO-5");
    list.assert_contains("Loaded: 1 handout, 1 note template, 4 tags, 1 rating scale.");
    list.assert_contains(&format!("<code>{}</code>", publisher.key_id()));
    list.assert_contains("Intake assessment");
    list.assert_contains("Wise mind, Distress tolerance");

    let library = app.get("/handouts").await;
    library.assert_contains("After a session that stirred things up");
    library.assert_contains(
        "From the signed pack Example pack: intake, DBT skills and WHO-5, version 1.",
    );
    app.get("/handouts/after-a-hard-session")
        .await
        .assert_contains("Feelings often come in waves.");

    // The same version again is refused: a pack only moves forward.
    let again = upload(&app, &packs::tar_of(&dir)).await;
    assert_eq!(again.status, 422);
    again.assert_contains("version 1 of this pack is already loaded");

    // No longer trusting the key unloads what it signed.
    let practice = app.get("/practice").await;
    let gone = app
        .press(
            &practice,
            &format!("/practice/pack-keys/{}/remove", publisher.key_id()),
        )
        .await;
    assert_eq!(gone.status, 303);
    assert_eq!(app.get("/handouts/after-a-hard-session").await.status, 404);
    app.get("/practice/packs")
        .await
        .assert_contains("which this practice does not trust");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packs_that_do_not_check_out_are_refused_whole_and_the_app_carries_on() {
    let publisher = Publisher::new();
    let stranger = Publisher::new();
    let root = tempfile::tempdir().expect("temp");
    let dir = root.path();
    let make = |name: &str, id: &str| {
        let d = dir.join(name);
        let handout = packs::handout(
            &format!("{id}-grounding"),
            "Grounding",
            "Feel your feet on the floor.",
        );
        let slug = format!("{id}-grounded");
        let vocabulary = packs::vocabulary(&[(&slug, "Grounded", "Came back to the room.")]);
        packs::write_pack(
            &d,
            id,
            1,
            &[
                ("handouts/grounding.md", &handout),
                ("vocabularies/grounding.toml", &vocabulary),
            ],
        );
        d
    };
    // A pack that checks out.
    let ok = make("a-good", "good");
    publisher.sign(&ok);
    // A byte changed after signing.
    let changed = make("b-changed", "changed");
    publisher.sign(&changed);
    let file = changed.join("handouts/grounding.md");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, text.replace("floor", "flour")).expect("write");
    // Signed by a key nobody trusted.
    let untrusted = make("c-untrusted", "untrusted");
    stranger.sign(&untrusted);
    // Never signed.
    let _unsigned = make("d-unsigned", "unsigned");
    // A symbolic link inside.
    let linked = make("e-linked", "linked");
    std::os::unix::fs::symlink("/etc/passwd", linked.join("handouts/passwd.md")).expect("link");
    publisher.sign(&linked);
    // A kind of file packs may not hold.
    let script = make("f-script", "script");
    std::fs::create_dir_all(script.join("scripts")).expect("dir");
    std::fs::write(script.join("scripts/run.sh"), "#!/bin/sh\nrm -rf /\n").expect("write");
    publisher.sign(&script);
    // A file the manifest does not list.
    let extra = make("g-extra", "extra");
    std::fs::write(
        extra.join("handouts/extra.md"),
        packs::handout("extra", "Extra", "Not listed."),
    )
    .expect("write");
    publisher.sign(&extra);
    // A signature of another pack's manifest.
    let swapped = make("h-swapped", "swapped");
    std::fs::copy(
        ok.join("pack.toml.minisig"),
        swapped.join("pack.toml.minisig"),
    )
    .expect("copy");

    let packs_dir = dir.to_owned();
    let app = TestApp::spawn_with(Backend::Sqlite, move |c| c.packs_dir = Some(packs_dir)).await;
    app.set_up().await;
    trust(&app, &publisher).await;
    let list = app.get("/practice/packs").await;
    assert_eq!(list.status, 200);
    list.assert_contains("Packs folder: a-good");
    for (folder, file, reason) in [
        (
            "b-changed",
            "handouts/grounding.md",
            "its SHA-256 differs from the one in pack.toml: it changed after the pack was signed",
        ),
        (
            "c-untrusted",
            "pack.toml.minisig",
            &format!(
                "it was made with key {}, which this practice does not trust",
                stranger.key_id()
            ),
        ),
        (
            "d-unsigned",
            "pack.toml.minisig",
            "it is missing: the pack is not signed",
        ),
        (
            "e-linked",
            "handouts/passwd.md",
            "it is a symbolic link; a pack may hold only plain files",
        ),
        ("f-script", "scripts/", "it is not a folder packs may hold"),
        (
            "g-extra",
            "handouts/extra.md",
            "it is not listed in pack.toml, so the signature does not cover it",
        ),
        (
            "h-swapped",
            "pack.toml.minisig",
            "it does not verify: pack.toml changed after it was signed",
        ),
    ] {
        let start = list
            .body
            .find(&format!("Packs folder: {folder}"))
            .unwrap_or_else(|| panic!("{folder} listed"));
        let entry = &list.body[start..];
        let entry = &entry[..entry.find("</li>").expect("end of entry")];
        assert!(
            entry.contains(&format!("<strong>{file}</strong>: {reason}")),
            "{folder}: expected {file}: {reason} in\n{entry}"
        );
    }
    assert!(
        !list.body.contains("root:"),
        "a linked file's content reached the page"
    );
    // The good pack loaded and the refused ones added nothing.
    let library = app.get("/handouts").await;
    library.assert_contains("/handouts/good-grounding");
    for id in [
        "changed",
        "untrusted",
        "unsigned",
        "linked",
        "script",
        "extra",
        "swapped",
    ] {
        assert!(
            !library.body.contains(&format!("/handouts/{id}-grounding")),
            "{id} loaded"
        );
    }
    // Everything else carries on.
    app.get("/handouts/crying-in-therapy")
        .await
        .assert_contains("cry");
    assert_eq!(app.get("/clients").await.status, 200);
}

both_backends!(the_command_line_trusts_a_key_file);

async fn the_command_line_trusts_a_key_file(app: TestApp) {
    app.set_up().await;
    let publisher = Publisher::new();
    let url = match &app.database {
        tearsheet::db::DatabaseUrl::Sqlite(path) => path.display().to_string(),
        tearsheet::db::DatabaseUrl::Postgres(url) => url.clone(),
    };
    let run = |file: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tearsheet"))
            .args(["packs", "trust"])
            .arg(file)
            .args(["--database-url", &url])
            .env("RUST_LOG", "warn")
            .output()
            .expect("run tearsheet packs trust")
    };
    let out = run(&publisher.public_key_file());
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("Trusted key {}", publisher.key_id())),
        "{said}"
    );
    // A file that is not a key is refused, and says why.
    let junk = tempfile::NamedTempFile::new().expect("temp");
    std::fs::write(junk.path(), "hello\n").expect("write");
    let out = run(junk.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a minisign public key"));

    // The running server loads what the key signed within its next check
    // (or at once when anything is changed in the app); its list shows it.
    app.get("/practice").await.assert_contains(&format!(
        "<code>{}</code>, trusted from the command line",
        publisher.key_id()
    ));
    let parent = tempfile::tempdir().expect("temp");
    let dir = signed_example(parent.path(), "example", &publisher);
    let loaded = upload(&app, &packs::tar_of(&dir)).await;
    assert_eq!(loaded.status, 303, "{}", loaded.body);
}

/// Send the note form to `action` as a browser would: `before` (token,
/// revision), the session facts in `format`, then `fields`.
async fn send_note(
    app: &TestApp,
    action: &str,
    before: &[(&str, &str)],
    format: &str,
    fields: &[(&str, &str)],
) -> Page {
    app.post_form(
        action,
        &crate::helpers::app::note_form(before, format, fields),
    )
    .await
}

/// A pack `notes-pack` at `version` with a crisis template and one tag,
/// whose words carry the version, as a signed `.tar`.
fn notes_pack(publisher: &Publisher, version: i32) -> Vec<u8> {
    let parent = tempfile::tempdir().expect("temp");
    let dir = parent.path().join("notes-pack");
    let risk = if version == 1 { "Risk" } else { "Risk now" };
    let template = packs::template(
        "Crisis note",
        &[
            ("risk", risk, "Thoughts of harm, and what keeps them safe."),
            ("safety_plan", "Safety plan", "Who they will call."),
        ],
    );
    let label = if version == 1 {
        "Grounded"
    } else {
        "Grounded again"
    };
    let vocabulary = packs::vocabulary(&[("grounded", label, "Came back to the room.")]);
    packs::write_pack(
        &dir,
        "notes-pack",
        version,
        &[
            ("templates/crisis.toml", &template),
            ("vocabularies/grounding.toml", &vocabulary),
        ],
    );
    publisher.sign(&dir);
    packs::tar_of(&dir)
}

both_backends!(a_note_keeps_its_template_and_pack_tag_after_the_pack_changes_or_goes);

async fn a_note_keeps_its_template_and_pack_tag_after_the_pack_changes_or_goes(app: TestApp) {
    app.set_up().await;
    let publisher = Publisher::new();
    trust(&app, &publisher).await;
    assert_eq!(upload(&app, &notes_pack(&publisher, 1)).await.status, 303);
    let client = app.add_client("Rowan Vale", "").await;

    // The form offers the template and the tag, under the pack's name.
    let form = app.get(&format!("{client}/notes/new")).await;
    form.assert_contains("Use Crisis note (from Pack notes-pack, version 1)");
    form.assert_contains("From the pack Pack notes-pack");
    form.assert_contains("value=\"pack:notes-pack/grounded@1\"");
    // Choosing it shows its sections, with what was typed kept.
    let switched = send_note(
        &app,
        &format!("{client}/notes"),
        &[("csrf_token", &form.csrf_token())],
        "soap",
        &[
            ("switch_format", "template:notes-pack/crisis"),
            ("section_subjective", "Typed before the switch."),
        ],
    )
    .await;
    assert_eq!(switched.status, 200, "{}", switched.body);
    switched.assert_contains("This note uses the template <strong>Crisis note (from Pack notes-pack, version 1)</strong>");
    switched.assert_contains("<label for=\"section_risk\">Risk</label>");
    switched.assert_contains("Thoughts of harm, and what keeps them safe.");
    switched.assert_contains("Subjective:\nTyped before the switch.");

    let note = app
        .add_note(
            &client,
            &[
                ("format", "template:notes-pack/crisis"),
                ("section_risk", "No current plan; sister nearby."),
                ("section_safety_plan", "Will call her sister."),
                ("tag", "pack:notes-pack/grounded@1"),
            ],
        )
        .await;
    let reads_as_written = |page: &Page| {
        page.assert_contains("Crisis note (from Pack notes-pack, version 1)");
        page.assert_contains("Risk");
        page.assert_contains("No current plan; sister nearby.");
        page.assert_contains("Safety plan");
        page.assert_contains("Will call her sister.");
        page.assert_contains("Grounded");
        assert!(!page.body.contains("Risk now") && !page.body.contains("Grounded again"));
    };
    reads_as_written(&app.get(&note).await);

    // Version 2 renames both; the note still reads as it was written.
    assert_eq!(upload(&app, &notes_pack(&publisher, 2)).await.status, 303);
    reads_as_written(&app.get(&note).await);
    let form = app.get(&format!("{client}/notes/new")).await;
    form.assert_contains("Grounded again");
    form.assert_contains("version 2");

    // Signing covers the template's headings, and checks out.
    let signed = app
        .sign_note(&note, &app.get(&note).await.csrf_token())
        .await;
    assert_eq!(signed.status, 303, "{}", signed.body);

    // A second note, left as a draft, to edit once the pack is gone.
    let draft = app
        .add_note(
            &client,
            &[
                ("format", "template:notes-pack/crisis"),
                ("section_risk", "Second session."),
                ("section_safety_plan", "Same plan."),
                ("tag", "pack:notes-pack/grounded@2"),
            ],
        )
        .await;

    // The pack goes.
    let list = app.get("/practice/packs").await;
    let id = list.segment_after("/practice/packs/");
    assert_eq!(
        app.press(&list, &format!("/practice/packs/{id}/remove"))
            .await
            .status,
        303
    );
    let page = app.get(&note).await;
    reads_as_written(&page);
    assert!(!page.body.contains("no longer matches what was signed"));
    let form = app.get(&format!("{client}/notes/new")).await;
    assert!(
        !form.body.contains("Crisis note"),
        "a removed pack's template is still offered"
    );
    // A note being written in it when it went keeps every word, in free text.
    let orphan = send_note(
        &app,
        &format!("{client}/notes"),
        &[("csrf_token", &form.csrf_token())],
        "template:notes-pack/crisis",
        &[
            ("section_risk", "Words typed before the pack went."),
            ("section_safety_plan", "And these."),
            ("intent", "save"),
        ],
    )
    .await;
    assert_eq!(orphan.status, 400, "{}", orphan.body);
    orphan.assert_contains("That note template is no longer offered");
    orphan.assert_contains("Risk:\nWords typed before the pack went.");
    orphan.assert_contains("Safety plan:\nAnd these.");
    orphan.assert_contains("<input type=\"hidden\" name=\"format\" value=\"free\">");

    // The draft keeps its template and its tag, and saves.
    let edit = app.get(&format!("{draft}/edit")).await;
    edit.assert_contains("This note uses the template <strong>Crisis note (from Pack notes-pack, version 2)</strong>");
    edit.assert_contains("<label for=\"section_risk\">Risk now</label>");
    edit.assert_contains("value=\"pack:notes-pack/grounded@2\" checked");
    let saved = send_note(
        &app,
        &format!("{draft}/edit"),
        &[("csrf_token", &edit.csrf_token()), ("revision", "1")],
        "template:notes-pack/crisis",
        &[
            ("section_risk", "Second session, edited."),
            ("section_safety_plan", "Same plan."),
            ("tag", "pack:notes-pack/grounded@2"),
            ("intent", "save"),
        ],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = app.get(&draft).await;
    page.assert_contains("Second session, edited.");
    page.assert_contains("Grounded again");

    // The caseload search finds both notes by the tag, across versions, and
    // by words in a template's section.
    let found = app.get("/notes?tag=pack%3Anotes-pack%2Fgrounded%402").await;
    assert_eq!(found.status, 200, "{}", found.body);
    found.assert_contains(&note);
    found.assert_contains(&draft);
    let found = app.get("/notes?q=sister").await;
    found.assert_contains(&note);
    // And the client's timeline has the tag's row.
    app.get(&client).await.assert_contains("Grounded");
}

/// Markup and script in every field a pack can fill.
const HOSTILE: &str = "<script>alert('pwned')</script><img src=x onerror=alert(1)>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_pack_is_inert_on_every_page_it_reaches() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.set_up().await;
    let publisher = Publisher::new();
    trust(&app, &publisher).await;
    let parent = tempfile::tempdir().expect("temp");
    let dir = parent.path().join("hostile");
    let handout = format!(
        "+++\ntitle = '''Calm {HOSTILE}'''\nslug = \"calm\"\nsummary = '''{HOSTILE}'''\nsources = ['''{HOSTILE}''']\n+++\nBreathe slowly.\n\n{HOSTILE}\n\n<iframe src=\"https://evil.invalid\"></iframe>\n\n[Click](javascript:alert(2))\n\n<a href=\"javascript:alert(3)\" onclick=\"alert(4)\">x</a>\n"
    );
    let template = format!(
        "name = '''Crisis {HOSTILE}'''\ndescription = '''{HOSTILE}'''\n\n[[sections]]\nkey = \"risk\"\nlabel = '''Risk {HOSTILE}'''\nprompt = '''\"><script>alert(5)</script>'''\n"
    );
    let vocabulary = format!(
        "name = \"Tags\"\n\n[[tags]]\nslug = \"sly\"\nlabel = '''Sly <script>alert(9)</script>'''\nhelp = '''</p>{HOSTILE}'''\n"
    );
    let options: Vec<serde_json::Value> = [0, 1]
        .iter()
        .map(|n| {
            serde_json::json!({
                "valueCoding": {"code": format!("{n}"), "display": format!("<b onclick=alert({n})>Answer</b>")},
                "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": n}]
            })
        })
        .collect();
    let scale = serde_json::json!({
        "resourceType": "Questionnaire",
        "status": "active",
        "title": "Scale <script>alert(7)</script>",
        "item": [{
            "linkId": "1",
            "text": "<img src=x onerror=alert(8)>",
            "type": "choice",
            "answerOption": options
        }]
    })
    .to_string();
    packs::write_pack(
        &dir,
        "hostile",
        1,
        &[
            ("handouts/calm.md", &handout),
            ("templates/crisis.toml", &template),
            ("vocabularies/tags.toml", &vocabulary),
            ("instruments/sly-scale.json", &scale),
        ],
    );
    // The manifest's own words too.
    let manifest = std::fs::read_to_string(dir.join("pack.toml")).expect("manifest");
    let manifest = manifest
        .replace(
            "name = \"Pack hostile\"",
            &format!("name = '''Pack {HOSTILE}'''"),
        )
        .replace(
            "description = \"For tests.\"",
            &format!("description = '''{HOSTILE}'''"),
        );
    std::fs::write(dir.join("pack.toml"), manifest).expect("write");
    publisher.sign(&dir);
    let loaded = upload(&app, &packs::tar_of(&dir)).await;
    assert_eq!(loaded.status, 303, "{}", loaded.body);

    let client = app.add_client("Ada Hale", "").await;
    let note = app
        .add_note(
            &client,
            &[
                ("format", "template:hostile/crisis"),
                ("section_risk", "Safe tonight."),
                ("tag", "pack:hostile/sly@1"),
            ],
        )
        .await;
    let switched = send_note(
        &app,
        &format!("{client}/notes"),
        &[("csrf_token", &app.get("/clients").await.csrf_token())],
        "soap",
        &[("switch_format", "template:hostile/crisis")],
    )
    .await;
    let mut pages = Vec::new();
    for (name, page) in [
        ("packs", app.get("/practice/packs").await),
        ("library", app.get("/handouts").await),
        ("handout", app.get("/handouts/calm").await),
        ("note-form", app.get(&format!("{client}/notes/new")).await),
        ("note-form-template", switched),
        ("note", app.get(&note).await),
        ("client", app.get(&client).await),
        (
            "search",
            app.get("/notes?tag=pack%3Ahostile%2Fsly%401").await,
        ),
        (
            "scale-form",
            app.get(&format!("{client}/scales/new?scale=hostile/sly-scale"))
                .await,
        ),
    ] {
        assert_eq!(page.status, 200, "{name}: {}", page.body);
        let found = live_markup(&page.body);
        assert!(found.is_empty(), "{name} carries live markup {found:?}");
        pages.push((format!("{name}.html"), page.body));
    }
    // The words arrive, escaped.
    assert!(
        pages[0].1.contains("Pack &#60;script&#62;"),
        "{}",
        pages[0].1
    );
    assert!(pages[2].1.contains("Breathe slowly."));
    assert!(
        pages[5].1.contains("Risk &#60;script&#62;"),
        "{}",
        pages[5].1
    );
    assert!(pages[5].1.contains("Sly &#60;script&#62;"));
    crate::helpers::gates::assert_valid_html(&pages);
}

/// Every tag in a page that could run or fetch something: a script,
/// frame, object or image element, or any attribute naming an event
/// handler or a `javascript:` URL.
fn live_markup(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or("").to_ascii_lowercase();
        let name = tag.split_whitespace().next().unwrap_or("");
        let attributes: Vec<&str> = tag.split_whitespace().skip(1).collect();
        if ["script", "iframe", "object", "embed", "img"].contains(&name)
            || attributes.iter().any(|a| a.starts_with("on"))
            || tag.contains("javascript:")
        {
            found.push(tag);
        }
    }
    found
}

#[test]
fn the_example_packs_rating_scale_is_a_valid_fhir_questionnaire() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/example-pack/instruments/who-5.json");
    let json = std::fs::read_to_string(file).expect("the example scale");
    let errors = crate::helpers::gates::fhir_errors(&[("who-5".into(), json.clone())]);
    assert!(errors.is_empty(), "{errors:?}");
    // The judge is real: a broken questionnaire fails it.
    let broken = json.replace("\"linkId\": \"1\"", "\"linkId\": {\"not\": \"a string\"}");
    assert_ne!(broken, json);
    assert!(!crate::helpers::gates::fhir_errors(&[("broken".into(), broken)]).is_empty());
}

both_backends!(an_upload_that_escapes_its_folder_or_is_not_a_tar_changes_nothing);

async fn an_upload_that_escapes_its_folder_or_is_not_a_tar_changes_nothing(app: TestApp) {
    app.set_up().await;
    let publisher = Publisher::new();
    trust(&app, &publisher).await;
    // A tar whose entry climbs out of the pack, written byte by byte (tar
    // tools refuse to make one).
    let mut header = [0u8; 512];
    let name = b"../../etc/cron.d/evil";
    header[..name.len()].copy_from_slice(name);
    header[100..107].copy_from_slice(b"0000644");
    header[124..135].copy_from_slice(b"00000000005");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut tar = header.to_vec();
    tar.extend_from_slice(b"evil\n");
    tar.resize(512 * 4, 0);
    for (body, file, reason) in [
        (
            tar,
            "../../etc/cron.d/evil",
            "its path leads outside the pack",
        ),
        (
            b"just some words, not a tar".to_vec(),
            "the upload",
            "it is not a .tar archive",
        ),
        (Vec::new(), "the upload", "no file was chosen"),
    ] {
        let page = upload(&app, &body).await;
        assert_eq!(page.status, 422, "{}", page.body);
        page.assert_contains(&format!("<strong>{file}</strong>: {reason}"));
    }
    let list = app.get("/practice/packs").await;
    assert!(!list.body.contains("/remove"), "nothing was stored");
    // Only an administrator may upload or trust.
    let colleague = app
        .colleague("c@example.org", "a long colleague passphrase")
        .await;
    assert_eq!(colleague.get("/practice/packs").await.status, 403);
    let page = colleague
        .submit(
            "/settings",
            "/practice/pack-keys",
            &[("public_key", &publisher.public_key())],
        )
        .await;
    assert_eq!(page.status, 403);
}

both_backends!(a_packs_rating_scale_is_recorded_and_outlives_its_pack);

async fn a_packs_rating_scale_is_recorded_and_outlives_its_pack(app: TestApp) {
    let account = app.set_up().await;
    let publisher = Publisher::new();
    trust(&app, &publisher).await;
    let parent = tempfile::tempdir().expect("temp");
    let dir = signed_example(parent.path(), "example", &publisher);
    assert_eq!(upload(&app, &packs::tar_of(&dir)).await.status, 303);
    let client = app.add_client("Rowan Vale", "").await;
    let note = app.add_note(&client, &[]).await;

    let page = app.get(&client).await;
    page.assert_contains("Record the WHO-5 Well-Being Index");
    let form_path = format!("{client}/scales/new?scale=example-pack/who-5");
    let form = app.get(&form_path).await;
    assert_eq!(form.status, 200, "{}", form.body);
    form.assert_contains("I have felt cheerful and in good spirits");
    form.assert_contains("All of the time");
    let token = form.csrf_token();
    let form_id = crate::helpers::app::hidden_value(&form.body, "form_id").expect("form id");
    let post = |answers: Vec<(&'static str, &'static str)>| {
        let mut fields = vec![
            ("csrf_token", token.clone()),
            ("scale", "example-pack/who-5".to_owned()),
            ("date", "2026-03-02".to_owned()),
            ("note", note.trim_start_matches("/notes/").to_owned()),
            ("form_id", form_id.clone()),
        ];
        fields.extend(answers.into_iter().map(|(k, v)| (k, v.to_owned())));
        fields
    };
    let path = format!("{client}/scales/new");
    // An answer the scale does not have, and nothing answered, are refused.
    let bad = post(vec![("item1", "9")]);
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = app.post_form(&path, &bad).await;
    assert_eq!(page.status, 400);
    page.assert_contains("Item 1: choose one of its answers");
    crate::helpers::gates::assert_valid_html(&[
        ("scale-form.html".into(), form.body.clone()),
        ("scale-form-errors.html".into(), page.body.clone()),
        (
            "client-with-scales.html".into(),
            app.get(&client).await.body,
        ),
    ]);
    let none = post(vec![]);
    let none: Vec<(&str, &str)> = none.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(app.post_form(&path, &none).await.status, 400);
    // All of the time (5), most (4), more than half (3), less (2), some (1).
    let good = post(vec![
        ("item1", "0"),
        ("item2", "1"),
        ("item3", "2"),
        ("item4", "3"),
        ("item5", "4"),
    ]);
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = app.post_form(&path, &good).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    // Sent twice (Back, then Save): recorded once.
    assert_eq!(app.post_form(&path, &good).await.status, 303);

    let shown = |page: &Page| {
        page.assert_contains("WHO-5 Well-Being Index");
        page.assert_contains("15 of 25");
        assert_eq!(page.body.matches("15 of 25").count(), 1, "recorded once");
    };
    shown(&app.get(&client).await);
    app.get(&note).await.assert_contains("15 of 25");

    // The pack goes; the measure reads the same, in the record and exports.
    let list = app.get("/practice/packs").await;
    let id = list.segment_after("/practice/packs/");
    assert_eq!(
        app.press(&list, &format!("/practice/packs/{id}/remove"))
            .await
            .status,
        303
    );
    let page = app.get(&client).await;
    shown(&page);
    assert!(!page.body.contains("Record the WHO-5"), "no longer offered");
    let record = app.get(&format!("{client}/record")).await;
    record.assert_contains("WHO-5 Well-Being Index");
    let json = app.get(&format!("{client}/record.json")).await;
    assert_eq!(json.status, 200);
    let v: serde_json::Value = serde_json::from_str(&json.body).expect("json");
    let m = &v["measures"][0];
    assert_eq!(m["instrument"], "example-pack/who-5");
    assert_eq!(m["title"], "WHO-5 Well-Being Index");
    assert_eq!(m["total"], 15);
    assert_eq!(m["answers"], serde_json::json!([5, 4, 3, 2, 1]));
    let fhir = app.get(&format!("{client}/fhir")).await;
    assert_eq!(fhir.status, 200);
    assert!(
        fhir.body
            .contains("https://tearsheet.invalid/fhir/Questionnaire/who-5")
    );
    assert!(fhir.body.contains("More than half of the time"));
    if app.database.describe().starts_with("SQLite") {
        let errors = crate::helpers::gates::fhir_errors(&[("bundle".into(), fhir.body.clone())]);
        assert!(errors.is_empty(), "{errors:?}");
    }

    // Entered in error: kept, struck through, with the same machinery.
    let page = app.get(&client).await;
    let error = crate::helpers::app::links_starting(&page.body, &format!("{client}/measures/"))
        .into_iter()
        .find(|h| h.ends_with("/error"))
        .expect("a correction link");
    let confirm = app.get(&error).await;
    confirm.assert_contains("WHO-5 Well-Being Index");
    let marked = app
        .post_form(
            &error,
            &[("csrf_token", &confirm.csrf_token()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(marked.status, 303);

    // The caseload export carries the scale whole, and it imports.
    let export = app
        .post_form(
            "/settings/export",
            &[("csrf_token", &token), ("password", &account.password)],
        )
        .await;
    assert_eq!(export.status, 200);
    let caseload: serde_json::Value = serde_json::from_str(&export.body).expect("json");
    let measure = &caseload["clients"][0]["measures"][0];
    assert_eq!(measure["scale"]["title"], "WHO-5 Well-Being Index");
    assert_eq!(measure["answers"], serde_json::json!([0, 1, 2, 3, 4]));
    let checked = tearsheet::clients::caseload::check(&export.body);
    assert!(checked.is_ok(), "the export checks as an import");
    let mut forged = caseload.clone();
    forged["clients"][0]["measures"][0]["answers"] = serde_json::json!([0, 1, 2, 3, 9]);
    assert!(tearsheet::clients::caseload::check(&forged.to_string()).is_err());
    // Nor may an imported scale pass itself off as a built-in one.
    for (field, value) in [
        ("instrument", serde_json::json!("phq-9")),
        ("scale", {
            let mut s = measure["scale"].clone();
            s["title"] = serde_json::json!("PHQ-9");
            s
        }),
        ("scale", {
            let mut s = measure["scale"].clone();
            s["url"] = serde_json::json!("javascript:alert(1)");
            s
        }),
    ] {
        let mut forged = caseload.clone();
        forged["clients"][0]["measures"][0][field] = value;
        assert!(
            tearsheet::clients::caseload::check(&forged.to_string()).is_err(),
            "{field}"
        );
    }
}
