//! Journeys in real headless Chromium over WebDriver.

use crate::helpers::browser::Browser;
use crate::helpers::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_therapist_sets_up_stores_the_code_signs_out_and_back_in() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let b = Browser::start().await;
    b.goto(&format!("{}/", app.address)).await;
    b.wait_for_path("/setup").await;

    b.fill("#display_name", "Dr Jo Brook").await;
    b.fill("#email", "jo@example.org").await;
    b.fill("#password", "tea and biscuits at four").await;
    b.fill("#password_confirm", "tea and biscuits at four")
        .await;
    b.click("button[type=submit]").await;
    b.wait_for_path("/account/recovery-code").await;
    let code = b.text(".recovery-code").await;
    assert_eq!(
        code.split_whitespace().count(),
        8,
        "eight groups shown: {code:?}"
    );

    // Continuing without ticking the box is refused by the browser's own
    // required check; tick it and go on.
    b.click("#stored").await;
    b.click("form[action='/account/recovery-code'] button[type=submit]")
        .await;
    b.wait_for_path("/clients").await;
    assert!(b.text("main").await.contains("No clients yet"));

    b.click("form[action='/logout'] button").await;
    b.wait_for_path("/login").await;
    assert!(b.text(".notice").await.contains("You have signed out."));

    b.fill("#email", "jo@example.org").await;
    b.fill("#password", "tea and biscuits at five").await;
    b.click("form[action='/login'] button").await;
    b.wait_for_path("/login").await;
    assert!(
        b.text(".form-error").await.contains("do not match"),
        "a wrong password gets a clear message"
    );

    b.fill("#password", "tea and biscuits at four").await;
    b.click("form[action='/login'] button").await;
    b.wait_for_path("/clients").await;
    assert!(b.text(".who").await.contains("Dr Jo Brook"));

    b.click("form[action='/logout'] button").await;
    b.wait_for_path("/login").await;
    b.close().await;
}
