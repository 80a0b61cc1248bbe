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
        Self::launch(true).await
    }

    /// A browser that runs no page JavaScript (the app needs none).
    /// WebDriver's own scripts, which the checks use, still run.
    pub async fn start_without_javascript() -> Self {
        Self::launch(false).await
    }

    async fn launch(javascript: bool) -> Self {
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
                ],
                "prefs": {
                    "profile.managed_default_content_settings.javascript": if javascript { 1 } else { 2 }
                }
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

    /// Run a WebDriver script and return its value.
    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Resize the window (the viewport, headless).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resize");
    }

    /// The document on screen, told apart from every other page load by
    /// the moment its navigation began.
    pub async fn document(&self) -> f64 {
        self.js("return performance.timeOrigin;")
            .await
            .as_f64()
            .expect("a time origin")
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

        self.screenshots(name).await;
    }

    /// Screenshots of the page on screen at desktop and phone sizes, saved
    /// to `target/screenshots/`; fails if the phone size scrolls sideways.
    /// (The whole of `check` where page scripts are off and axe-core, which
    /// needs them, cannot run.)
    pub async fn screenshots(&self, name: &str) {
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

/// Chromium's own print to PDF (DevTools `Page.printToPDF` through
/// chromedriver), as its print dialog does with default settings: the page
/// size and margins the stylesheet's `@page` asks for, the paper given as a
/// fallback, and no background graphics (what prints must print anyway).
#[derive(Debug)]
struct PrintPdf {
    width_in: f64,
    height_in: f64,
}

impl fantoccini::wd::WebDriverCompatibleCommand for PrintPdf {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({
            "cmd": "Page.printToPDF",
            "params": {
                "paperWidth": self.width_in,
                "paperHeight": self.height_in,
                "preferCSSPageSize": true,
                "printBackground": false,
                "displayHeaderFooter": false,
            }
        });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Paper sizes.
#[derive(Clone, Copy, Debug)]
pub enum Paper {
    Letter,
    A4,
}

/// A line of text on a printed page: its bottom edge (points from the top
/// of the page) and its words.
#[derive(Debug)]
pub struct Line {
    pub bottom: f64,
    pub text: String,
}

/// A printed PDF and what poppler reads from it.
pub struct Pdf {
    pub pages: usize,
    pub text: String,
    /// `pdffonts`: each font, and whether it is embedded.
    pub fonts: String,
    /// Each page's height in points, and its lines top to bottom.
    pub page_lines: Vec<(f64, Vec<Line>)>,
}

impl Pdf {
    /// How far down its page the lowest line above the running foot
    /// reaches, as a fraction of the room between the first line (the
    /// running head) and the foot: 1.0 is a full page.
    pub fn fill(&self, page: usize) -> f64 {
        let (_, lines) = &self.page_lines[page];
        let (Some(head), Some(foot)) = (lines.first(), lines.last()) else {
            return 0.0;
        };
        let body = lines.iter().rev().nth(1).map_or(head.bottom, |l| l.bottom);
        (body - head.bottom) / (foot.bottom - head.bottom)
    }
}

/// Words from `pdftotext -bbox`, grouped into lines per page.
fn lines_of(bbox_html: &str) -> Vec<(f64, Vec<Line>)> {
    let attr = |tag: &str, name: &str| -> f64 {
        tag.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|v| v.split('"').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let mut pages = Vec::new();
    for page in bbox_html.split("<page ").skip(1) {
        let height = attr(page, "height");
        let mut lines: Vec<Line> = Vec::new();
        for word in page.split("<word ").skip(1) {
            let bottom = attr(word, "yMax");
            let text = word
                .split_once('>')
                .and_then(|(_, rest)| rest.split("</word>").next())
                .unwrap_or_default();
            match lines.iter_mut().find(|l| (l.bottom - bottom).abs() < 3.0) {
                Some(line) => {
                    line.text.push(' ');
                    line.text.push_str(text);
                }
                None => lines.push(Line {
                    bottom,
                    text: text.to_owned(),
                }),
            }
        }
        lines.sort_by(|a, b| a.bottom.total_cmp(&b.bottom));
        pages.push((height, lines));
    }
    pages
}

impl Browser {
    /// Print the page on screen to PDF, as Chromium prints it.
    pub async fn print_pdf(&self, paper: Paper) -> Pdf {
        let cmd = match paper {
            Paper::Letter => PrintPdf {
                width_in: 8.5,
                height_in: 11.0,
            },
            Paper::A4 => PrintPdf {
                width_in: 8.27,
                height_in: 11.69,
            },
        };
        let value = self.client.issue_cmd(cmd).await.expect("print");
        let b64 = value["data"].as_str().expect("base64 PDF");
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
        let run = |tool: &str, args: &[&str], out_arg: bool| {
            let mut command = Command::new(tool);
            command.args(args).arg(&path);
            if out_arg {
                command.arg("-");
            }
            let out = command
                .output()
                .unwrap_or_else(|e| panic!("{tool} (Debian package poppler-utils) is needed: {e}"));
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let info = run("pdfinfo", &[], false);
        let pages = info
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("page count");
        Pdf {
            pages,
            text: run("pdftotext", &["-layout"], true),
            fonts: run("pdffonts", &[], false),
            page_lines: lines_of(&run("pdftotext", &["-bbox"], true)),
        }
    }

    /// Keep the page on screen as a PNG of each printed page (poppler's
    /// `pdftoppm`), named `{name}-page-N.png` among the screenshots.
    pub fn keep_print_pages(&self, paper: Paper, name: &str) {
        let pdf = screenshot_dir().join(format!("last-print-{paper:?}.pdf").to_lowercase());
        let _ = Command::new("pdftoppm")
            .args(["-r", "60", "-png"])
            .arg(&pdf)
            .arg(screenshot_dir().join(format!("{name}-page")))
            .status();
    }
}
