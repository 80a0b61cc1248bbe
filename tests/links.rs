//! Private links to a given handout (SECURITY.md "Private handout links"):
//! made from the record, opened without an account, counted and recorded,
//! stopped by revocation, expiry and the open limit; guessed codes get a
//! plain 404 and are rate-limited; the database holds none of it in the
//! clear; the printed QR code reads back as the link.

use diesel::prelude::*;
use tearsheet::db::DatabaseUrl;
use tearsheet::db::schema::handout_links;

use crate::both_backends;
use crate::helpers::TestApp;
use crate::helpers::app::{Agent, Page};

both_backends!(
    a_private_link_opens_on_a_phone_without_an_account_and_is_recorded,
    a_link_stops_when_revoked_expired_or_used_up,
    guessed_and_forged_codes_get_404_then_429,
    only_the_records_owner_makes_or_revokes_its_link,
);

const NOTE: &str = "Ana, recuerda lo que dijiste del mar. LINKCANARY";

/// Give the crying handout to a new Spanish-speaking client with a
/// personal note; the record's path (`/handouts/given/{id}`).
async fn given_record(app: &TestApp) -> String {
    let id = app.add_client_speaking("Ana Beltrán", "Ana", "es").await;
    let given = app
        .submit(
            "/handouts/crying-in-therapy",
            "/handouts/crying-in-therapy/give",
            &[
                ("client", id.trim_start_matches("/clients/")),
                ("note", NOTE),
                ("paper", "letter"),
            ],
        )
        .await;
    assert_eq!(given.status, 303, "{}", given.body);
    given.location_path().trim_end_matches("/print").to_owned()
}

/// Make the record's link; the page and the absolute URL it shows.
async fn make_link(app: &TestApp, record: &str) -> (Page, String) {
    let page = app
        .submit(&format!("{record}/print"), &format!("{record}/link"), &[])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let url = page
        .body
        .split("id=\"private-link\"")
        .nth(1)
        .and_then(|s| s.split('>').nth(1))
        .and_then(|s| s.split('<').next())
        .expect("the link is shown in #private-link")
        .to_owned();
    (page, url)
}

/// A phone: no cookies, no session.
fn phone(app: &TestApp) -> Agent {
    app.new_agent()
}

fn path_of(url: &str) -> String {
    format!("/h/{}", url.rsplit("/h/").next().expect("a link"))
}

/// Everything the database holds, as bytes: the SQLite files, or a
/// `pg_dump`.
fn database_bytes(app: &TestApp) -> Vec<u8> {
    match &app.database {
        DatabaseUrl::Sqlite(_) => app
            .sqlite_files()
            .iter()
            .flat_map(|f| std::fs::read(f).expect("read"))
            .collect(),
        DatabaseUrl::Postgres(url) => crate::helpers::pg::cluster().dump(url),
    }
}

/// Draw the QR code's SVG path (`M x y h1v1h-1z` per dark module) as a
/// PGM image, four pixels a module with a quiet zone, for zbarimg.
fn qr_as_pgm(svg: &str) -> Vec<u8> {
    let d = svg
        .split(" d=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the QR path");
    let dark: Vec<(usize, usize)> = d
        .split('M')
        .filter(|m| !m.is_empty())
        .map(|m| {
            let xy = m.split('h').next().expect("x y");
            let mut it = xy.split(' ').map(|n| n.parse::<usize>().expect("a number"));
            (it.next().expect("x"), it.next().expect("y"))
        })
        .collect();
    let width = dark
        .iter()
        .map(|(x, y)| x.max(y) + 1)
        .max()
        .expect("modules");
    let (scale, quiet) = (4, 4);
    let side = (width + 2 * quiet) * scale;
    let mut pixels = vec![255u8; side * side];
    for (x, y) in dark {
        for dy in 0..scale {
            for dx in 0..scale {
                let (px, py) = ((x + quiet) * scale + dx, (y + quiet) * scale + dy);
                pixels[py * side + px] = 0;
            }
        }
    }
    let mut out = format!("P5\n{side} {side}\n255\n").into_bytes();
    out.extend(pixels);
    out
}

async fn a_private_link_opens_on_a_phone_without_an_account_and_is_recorded(app: TestApp) {
    app.set_up().await;
    let record = given_record(&app).await;
    let chart = app.get("/clients").await;
    assert_eq!(chart.status, 200);
    // Before: the reprint offers a link.
    app.get(&format!("{record}/print"))
        .await
        .assert_contains("Create a private link");
    let (page, url) = make_link(&app, &record).await;
    assert!(url.starts_with(&app.address), "absolute: {url}");
    let code = page
        .body
        .split("<strong class=\"short-code\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("the short code")
        .to_owned();
    assert_eq!(code.len(), 24, "{code}");
    assert!(url.ends_with(&code));
    // The reprint carries the QR code, as inline SVG, and it reads back as
    // the link with a decoder nobody here wrote.
    let reprint = app.get(&format!("{record}/print")).await;
    reprint.assert_contains(&url);
    let svg = reprint
        .body
        .split("<svg class=\"qr\"")
        .nth(1)
        .and_then(|s| s.split("</svg>").next())
        .expect("an inline SVG QR code on the print")
        .to_owned();
    let dir = tempfile::tempdir().expect("dir");
    let image = dir.path().join("qr.pgm");
    std::fs::write(&image, qr_as_pgm(&svg)).expect("write");
    let out = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&image)
        .output()
        .expect("zbarimg runs (Debian's zbar-tools)");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        url,
        "zbarimg: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A phone opens it: the handout in Spanish with the note, nothing of
    // the practice, no script.
    let phone = phone(&app);
    let opened = phone.get(&path_of(&url)).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    opened.assert_contains("<html lang=\"es\"");
    opened.assert_contains("Está bien llorar en terapia");
    opened.assert_contains("LINKCANARY");
    opened.assert_contains("Letra más grande");
    opened.assert_contains("width=device-width");
    for absent in [
        "<script",
        "site-header",
        "/clients",
        "Sign out",
        "Tearsheet",
    ] {
        assert!(
            !opened.body.contains(absent),
            "{absent} on the client's page"
        );
    }
    let mut pages = vec![("the private link's page".to_owned(), opened.body.clone())];
    // Typed from paper, in any case and spacing, it goes to the same link.
    let typed = phone
        .get(&format!(
            "/h?code={}",
            code.to_lowercase().replace('-', " ")
        ))
        .await;
    assert_eq!(typed.location(), Some(path_of(&url).as_str()));
    let form = phone.get("/h").await;
    assert_eq!(form.status, 200);
    form.assert_contains("Abre tu hoja informativa");
    pages.push(("the code form".to_owned(), form.body.clone()));

    // The chart records the open, and so does the audit trail.
    let chart = app.get(&format!("/clients/{}", client_of(&app))).await;
    chart.assert_contains("Private link: Opened once, on");
    assert_eq!(app.audit_count("handout.link_create"), 1);
    assert_eq!(app.audit_count("handout.link_open"), 1);
    pages.push((
        "the print page with its link".to_owned(),
        reprint.body.clone(),
    ));
    crate::helpers::gates::assert_valid_html(&pages);

    // A copy of the database holds neither the note nor the code.
    let bytes = database_bytes(&app);
    assert!(!bytes.is_empty());
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains("LINKCANARY"),
        "the personal note is in the database"
    );
    assert!(!text.contains(&code), "the code is in the database");
    assert!(
        !text.contains(&code.replace('-', "")),
        "the code is in the database"
    );
}

/// The id of the only client.
fn client_of(app: &TestApp) -> i64 {
    use tearsheet::db::schema::clients;
    let mut conn = app.pool().get().expect("conn");
    clients::table
        .select(clients::id)
        .first(&mut *conn)
        .expect("a client")
}

/// Whether each link's sealed handout has been wiped.
fn wiped(conn: &mut tearsheet::db::DbConn) -> Vec<bool> {
    handout_links::table
        .select(handout_links::content)
        .load::<Vec<u8>>(conn)
        .expect("links")
        .iter()
        .map(Vec::is_empty)
        .collect()
}

fn set_link(app: &TestApp, f: impl FnOnce(&mut tearsheet::db::DbConn)) {
    let mut conn = app.pool().get().expect("conn");
    f(&mut conn);
}

async fn a_link_stops_when_revoked_expired_or_used_up(app: TestApp) {
    app.set_up().await;
    let record = given_record(&app).await;
    let phone = phone(&app);

    // Revoked.
    let (_, url) = make_link(&app, &record).await;
    assert_eq!(phone.get(&path_of(&url)).await.status, 200);
    let revoked = app
        .submit(
            &format!("{record}/print"),
            &format!("{record}/link/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoked.status, 303);
    // Only the whole code learns that it has ended: the id with a wrong
    // secret is a plain 404.
    assert_eq!(phone.get(&forged(&path_of(&url), 3)).await.status, 404);
    let gone = phone.get(&path_of(&url)).await;
    assert_eq!(gone.status, 410);
    gone.assert_contains("<html lang=\"es\"");
    gone.assert_contains("Este enlace ya no funciona");
    assert!(!gone.body.contains("LINKCANARY"));
    crate::helpers::gates::assert_valid_html(&[("the ended page".to_owned(), gone.body.clone())]);
    app.get(&format!("/clients/{}", client_of(&app)))
        .await
        .assert_contains("Turned off on");
    assert_eq!(app.audit_count("handout.link_revoke"), 1);
    // Its sealed handout is wiped.
    set_link(&app, |conn| {
        let sizes: Vec<Vec<u8>> = handout_links::table
            .select(handout_links::content)
            .load(conn)
            .expect("links");
        assert_eq!(sizes, [Vec::<u8>::new()]);
    });

    // A new link replaces the last; after its time, it stops.
    let (_, second) = make_link(&app, &record).await;
    assert_ne!(second, url);
    assert_eq!(phone.get(&path_of(&second)).await.status, 200);
    set_link(&app, |conn| {
        diesel::update(handout_links::table.filter(handout_links::ended_at.is_null()))
            .set(handout_links::expires_at.eq(handout_links::created_at - 1))
            .execute(conn)
            .expect("expire");
        // The sweep ends and wipes it without waiting for a visit.
        let swept = tearsheet::handouts::links::sweep(conn, tearsheet::db::now()).expect("sweep");
        assert_eq!(swept, 1);
        assert_eq!(wiped(conn), [true]);
    });
    assert_eq!(phone.get(&path_of(&second)).await.status, 410);
    app.get(&format!("{record}/print"))
        .await
        .assert_contains("The last link: Opened once");

    // A third, opened as often as it allows.
    let (page, third) = make_link(&app, &record).await;
    page.assert_contains("Works until");
    page.assert_contains("or 20 more opens");
    set_link(&app, |conn| {
        diesel::update(handout_links::table.filter(handout_links::ended_at.is_null()))
            .set(handout_links::max_opens.eq(2))
            .execute(conn)
            .expect("limit");
    });
    assert_eq!(phone.get(&path_of(&third)).await.status, 200);
    set_link(&app, |conn| assert_eq!(wiped(conn), [false]));
    assert_eq!(phone.get(&path_of(&third)).await.status, 200);
    // The last open it allows wipes it at once.
    set_link(&app, |conn| assert_eq!(wiped(conn), [true]));
    assert_eq!(phone.get(&path_of(&third)).await.status, 410);
    app.get(&format!("/clients/{}", client_of(&app)))
        .await
        .assert_contains("Opened 2 times");
    assert_eq!(app.audit_count("handout.link_open"), 4);
}

/// The link's path with its last character changed: the right id, a wrong
/// secret.
fn forged(real: &str, n: usize) -> String {
    let alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut forged = real.to_owned();
    let last = forged.pop().expect("a character");
    let pick = alphabet
        .chars()
        .filter(|c| *c != last)
        .nth(n % 31)
        .expect("another character");
    forged.push(pick);
    forged
}

async fn guessed_and_forged_codes_get_404_then_429(app: TestApp) {
    app.set_up().await;
    let record = given_record(&app).await;
    let (_, url) = make_link(&app, &record).await;
    let real = path_of(&url);
    let phone = phone(&app);
    // A browser's prefetch spends nothing.
    let prefetched = phone.get_with(&real, &[("sec-purpose", "prefetch")]).await;
    assert_eq!(prefetched.status, 204);
    assert_eq!(phone.get(&real).await.status, 200);
    assert_eq!(app.audit_count("handout.link_open"), 1);
    // The right id with a wrong secret is a guess like any other: a plain
    // 404, in both languages as whose it is is not known, with nothing of
    // the link (not even that it exists).
    let first = phone.get(&forged(&real, 0)).await;
    assert_eq!(first.status, 404);
    first.assert_contains("We could not find this handout");
    first.assert_contains("No encontramos esta hoja informativa");
    assert!(!first.body.contains("LINKCANARY"));
    assert!(!first.body.contains("sign in") && !first.body.contains("clients"));
    // Ten wrong secrets shut the link for a quarter hour: the right code
    // then gets the same 404, without Argon2id running for it.
    for n in 1..10 {
        assert_eq!(
            phone.get(&forged(&real, n)).await.status,
            404,
            "forgery {n}"
        );
    }
    let shut = phone.get(&real).await;
    assert_eq!(shut.status, 404);
    // Twenty wrong codes from one address in a quarter hour (the ten
    // above, then these) lock it: the twentieth gets 429, and so does
    // anything after, however malformed.
    let mut statuses = vec![];
    for n in 0..10 {
        statuses.push(
            phone
                .get(&format!("/h/ZZZZ-ZZZZ-ZZZZ-ZZZZ-{n:04}"))
                .await
                .status,
        );
    }
    let malformed = phone.get("/h/%3Cscript%3E").await;
    statuses.push(malformed.status);
    assert!(statuses[..9].iter().all(|s| *s == 404), "{statuses:?}");
    assert_eq!(statuses[9..], [429, 429], "{statuses:?}");
    malformed.assert_contains("Please wait a little");
    assert_eq!(
        malformed.headers.get("retry-after").map(|v| v.as_bytes()),
        Some(&b"900"[..])
    );
    // Nothing more was opened, and the therapist's pages carry on.
    assert_eq!(app.audit_count("handout.link_open"), 1);
    assert_eq!(app.get("/clients").await.status, 200);
}

async fn only_the_records_owner_makes_or_revokes_its_link(app: TestApp) {
    app.set_up().await;
    let record = given_record(&app).await;
    let other = app
        .colleague("other@example.org", "another long password")
        .await;
    let theirs = other.get("/clients").await;
    for action in [format!("{record}/link"), format!("{record}/link/revoke")] {
        assert_eq!(other.press(&theirs, &action).await.status, 404, "{action}");
    }
    let mine = app.get("/clients").await;
    for bad in [
        "/handouts/given/not-a-number/link",
        "/handouts/given/999999/link",
    ] {
        assert_eq!(app.press(&mine, bad).await.status, 404, "{bad}");
    }
    // Without the form's token: refused, nothing made.
    let bare = app
        .post_form(&format!("{record}/link"), &[("csrf_token", "forged")])
        .await;
    assert_eq!(bare.status, 403);
    let bad_days = app
        .submit(
            &format!("{record}/print"),
            &format!("{record}/link"),
            &[("days", "9999")],
        )
        .await;
    assert_eq!(bad_days.status, 400);
    set_link(&app, |conn| {
        let n: i64 = handout_links::table
            .count()
            .get_result(conn)
            .expect("count");
        assert_eq!(n, 0);
    });
}
