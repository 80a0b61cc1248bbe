//! Real headless Chromium over WebDriver (Debian's `chromium` and
//! `chromium-driver`). One chromedriver per browser test, stopped on drop.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    /// Every page checked so far, for the Nu Html Checker at `close`.
    pages: std::sync::Mutex<Vec<(String, String)>>,
}

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

fn screenshot_dir() -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ['violations'] })
  .then(r => done(JSON.stringify(r.violations
      .filter(v => v.impact === 'serious' || v.impact === 'critical')
      .map(v => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map(n => n.target.join(' ')).join(', ')}`))))
  .catch(e => done(JSON.stringify(['axe failed: ' + e])));
"#;

fn find(env: &str, candidates: &[&str], package: &str) -> String {
    if let Ok(path) = std::env::var(env) {
        return path;
    }
    candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| (*p).to_owned())
        .unwrap_or_else(|| panic!("{} not found: install the Debian package `{package}` (apt-get install {package}) or set {env}", candidates[0]))
}

impl Browser {
    pub async fn start() -> Self {
        let driver_path = find(
            "CHROMEDRIVER",
            &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
            "chromium-driver",
        );
        let chromium = find(
            "CHROMIUM",
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
            "chromium",
        );
        let port = super::binary::free_port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut last_err = String::new();
        for _ in 0..100 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Self {
                        client,
                        driver,
                        _profile: profile,
                        pages: std::sync::Mutex::new(Vec::new()),
                    };
                }
                Err(e) => {
                    last_err = e.to_string();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("could not start a Chromium session through chromedriver: {last_err}");
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Find an element, waiting up to ten seconds for it to appear.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        el.clear().await.expect("clear");
        el.send_keys(text).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    /// Wait (up to ten seconds) for navigation to reach `path`; WebDriver's
    /// click returns before the page it starts has loaded.
    pub async fn wait_for_path(&self, path: &str) {
        for _ in 0..100 {
            if self.path().await == path {
                if let Ok(state) = self
                    .client
                    .execute("return document.readyState", vec![])
                    .await
                {
                    if state == "complete" {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let text = self.text("body").await;
        panic!(
            "expected to reach {path}, still at {} showing:\n{text}",
            self.path().await
        );
    }

    pub async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("url")
            .path()
            .to_owned()
    }

    /// The quality gates for the page on screen: axe-core finds no serious
    /// or critical violation; at phone size nothing scrolls sideways;
    /// screenshots at both sizes go to `target/screenshots/`; the HTML is
    /// kept for the Nu Html Checker at `close`.
    pub async fn check(&self, name: &str) {
        let mut source = self.client.source().await.expect("page source");
        if !source
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("<!doctype")
        {
            source.insert_str(0, "<!DOCTYPE html>\n");
        }
        self.pages
            .lock()
            .expect("pages")
            .push((name.to_owned(), source));

        let violations = self.axe_violations().await;
        assert!(
            violations.is_empty(),
            "axe-core on {name}:\n{}",
            violations.join("\n")
        );

        let dir = screenshot_dir();
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{name}-desktop.png")), png).expect("save screenshot");
        self.client
            .set_window_size(PHONE.0, PHONE.1)
            .await
            .expect("resize");
        let overflow = self
            .client
            .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
            .await
            .expect("measure");
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{name}-phone.png")), png).expect("save screenshot");
        self.client
            .set_window_size(DESKTOP.0, DESKTOP.1)
            .await
            .expect("resize");
        assert!(
            overflow.as_i64().unwrap_or(0) <= 0,
            "{name} scrolls sideways by {overflow}px at {PHONE:?}"
        );
    }

    /// Press keys on whatever has focus, as a real keyboard does.
    pub async fn keys(&self, text: &str) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut actions = KeyActions::new("keyboard".into());
        for value in text.chars() {
            actions = actions
                .then(KeyAction::Down { value })
                .then(KeyAction::Up { value });
        }
        self.client.perform_actions(actions).await.expect("keys");
    }

    /// Serious and critical axe-core violations on the page on screen.
    pub async fn axe_violations(&self) -> Vec<String> {
        let injected = self
            .client
            .execute(
                &format!("{}\nreturn typeof axe;", super::gates::axe_source()),
                vec![],
            )
            .await;
        assert_eq!(
            injected.expect("inject axe").as_str(),
            Some("object"),
            "axe-core loaded"
        );
        let found = self
            .client
            .execute_async(AXE_RUN, vec![])
            .await
            .expect("axe runs");
        serde_json::from_str(found.as_str().unwrap_or("[]")).expect("axe result")
    }

    /// A description of the focused element: tag, id, and text or name.
    pub async fn focused(&self) -> String {
        let v = self
            .client
            .execute(
                "const e = document.activeElement; if (!e || e === document.body) { return 'body'; } return `${e.tagName.toLowerCase()}#${e.id}:${(e.textContent || e.name || '').trim()}`;",
                vec![],
            )
            .await
            .expect("focus");
        v.as_str().unwrap_or("").to_owned()
    }

    pub async fn close(mut self) {
        let pages = std::mem::take(&mut *self.pages.lock().expect("pages"));
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        super::gates::assert_valid_html(&pages);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// WebDriver's Print command (fantoccini 0.21 has none): the page as a PDF.
#[derive(Debug)]
struct PrintPdf {
    width_cm: f64,
    height_cm: f64,
    margin_top_cm: f64,
    margin_side_cm: f64,
}

impl fantoccini::wd::WebDriverCompatibleCommand for PrintPdf {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/print", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({
            "page": { "width": self.width_cm, "height": self.height_cm },
            "margin": { "top": self.margin_top_cm, "bottom": self.margin_top_cm, "left": self.margin_side_cm, "right": self.margin_side_cm },
            "background": false,
            "shrinkToFit": false,
        });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Paper sizes with the margins the handout stylesheet asks for.
#[derive(Clone, Copy, Debug)]
pub enum Paper {
    Letter,
    A4,
}

/// A printed PDF and what poppler reads from it.
pub struct Pdf {
    pub pages: usize,
    pub text: String,
}

impl Browser {
    /// Print the page on screen to PDF, as Chromium prints it.
    pub async fn print_pdf(&self, paper: Paper) -> Pdf {
        let cmd = match paper {
            Paper::Letter => PrintPdf {
                width_cm: 21.59,
                height_cm: 27.94,
                margin_top_cm: 1.397,
                margin_side_cm: 1.778,
            },
            Paper::A4 => PrintPdf {
                width_cm: 21.0,
                height_cm: 29.7,
                margin_top_cm: 1.4,
                margin_side_cm: 1.7,
            },
        };
        let value = self.client.issue_cmd(cmd).await.expect("print");
        let b64 = value.as_str().expect("base64 PDF");
        let bytes = data_encoding::BASE64
            .decode(b64.as_bytes())
            .expect("decode PDF");
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("page.pdf");
        std::fs::write(&path, &bytes).expect("write PDF");
        // Keep the last PDF of each size as a test artefact.
        let _ = std::fs::write(
            screenshot_dir().join(format!("last-print-{paper:?}.pdf").to_lowercase()),
            &bytes,
        );
        let run = |tool: &str, args: &[&str]| {
            let out = Command::new(tool)
                .args(args)
                .arg(&path)
                .args(if tool == "pdftotext" {
                    vec!["-"]
                } else {
                    vec![]
                })
                .output()
                .unwrap_or_else(|e| panic!("{tool} (Debian package poppler-utils) is needed: {e}"));
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let info = run("pdfinfo", &[]);
        let pages = info
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("page count");
        Pdf {
            pages,
            text: run("pdftotext", &["-layout"]),
        }
    }
}
