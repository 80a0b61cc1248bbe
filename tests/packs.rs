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
