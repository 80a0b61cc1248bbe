//! Outside judges: the Nu Html Checker (vnu-jar, run with Java) for valid
//! HTML, and axe-core for accessibility. Both come from the npm registry,
//! pinned in `tests/gates/package.json`; the suite runs `npm ci` there on
//! first use, so `cargo test` needs only Node.js and Java on the machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

fn gates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("gates")
}

static INSTALLED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
static INSTALL_LOCK: Mutex<()> = Mutex::new(());

/// `tests/gates/node_modules`, installed if missing.
fn node_modules() -> &'static Path {
    let result = INSTALLED.get_or_init(|| {
        let _guard = INSTALL_LOCK.lock();
        let dir = gates_dir();
        let modules = dir.join("node_modules");
        if modules.join("vnu-jar/build/dist/vnu.jar").exists()
            && modules.join("axe-core/axe.min.js").exists()
            && modules.join(OPENAPI_CLI).exists()
        {
            return Ok(modules);
        }
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&dir)
            .output()
            .map_err(|e| format!("could not run npm (install Node.js and npm): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "npm ci in {} failed: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(modules)
    });
    match result {
        Ok(p) => p,
        Err(e) => panic!("quality gates unavailable: {e}"),
    }
}

/// The axe-core script, to inject into a page.
pub fn axe_source() -> String {
    std::fs::read_to_string(node_modules().join("axe-core/axe.min.js")).expect("read axe.min.js")
}

/// Validate HTML documents with the Nu Html Checker. Returns one line per
/// error ("name: line N: message"); empty when every document is valid.
pub fn html_errors(documents: &[(String, String)]) -> Vec<String> {
    if documents.is_empty() {
        return vec![];
    }
    let jar = node_modules().join("vnu-jar/build/dist/vnu.jar");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    for (i, (name, html)) in documents.iter().enumerate() {
        let safe: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = dir.path().join(format!("{i:03}-{safe}.html"));
        std::fs::write(&path, html).expect("write page");
        files.push(path);
    }
    let out = Command::new("java")
        .arg("-jar")
        .arg(&jar)
        .args(["--errors-only", "--format", "json", "--exit-zero-always"])
        .args(&files)
        .output()
        .unwrap_or_else(|e| {
            panic!("could not run java for the Nu Html Checker (install a JRE): {e}")
        });
    let report: serde_json::Value = serde_json::from_slice(&out.stderr)
        .or_else(|_| serde_json::from_slice(&out.stdout))
        .unwrap_or_else(|e| {
            panic!(
                "unreadable vnu report ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    report["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["type"] == "error" || m["subType"] == "fatal")
        .map(|m| {
            let file = m["url"]
                .as_str()
                .unwrap_or("")
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_owned();
            format!(
                "{file}: line {}: {}",
                m["lastLine"],
                m["message"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Panic with every HTML error found, if any.
#[track_caller]
pub fn assert_valid_html(documents: &[(String, String)]) {
    let errors = html_errors(documents);
    assert!(
        errors.is_empty(),
        "the Nu Html Checker found {} error(s):\n{}",
        errors.len(),
        errors.join("\n")
    );
}

/// The OpenAPI 3.0/3.1 validator's command line, inside node_modules.
const OPENAPI_CLI: &str = "@seriousme/openapi-schema-validator/bin/validate-api-cli.js";

/// Validate an OpenAPI description with `@seriousme/openapi-schema-validator`
/// (pinned in `tests/gates/package.json`). Returns its errors, if any.
pub fn openapi_errors(json: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, json).expect("write");
    let out = Command::new("node")
        .arg(node_modules().join(OPENAPI_CLI))
        .arg(&file)
        .output()
        .expect("run node");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "the OpenAPI validator failed to run: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    if result["valid"] == true {
        return Vec::new();
    }
    result["errors"]
        .as_array()
        .map(|errors| errors.iter().map(|e| e.to_string()).collect())
        .unwrap_or_else(|| vec![result.to_string()])
}

static FHIR_VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The Python of a virtual environment holding the FHIR judge
/// (`fhir.resources`, pinned in `tests/gates/fhir-requirements.txt`),
/// made under `target/` on first use.
fn fhir_python() -> &'static Path {
    let result = FHIR_VENV.get_or_init(|| {
        let _guard = INSTALL_LOCK.lock();
        let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("fhir-venv");
        let python = venv.join("bin").join("python");
        let ready = venv.join(".installed-6.2.2");
        if ready.exists() {
            return Ok(python);
        }
        let run = |cmd: &mut Command, what: &str| -> Result<(), String> {
            let out = cmd.output().map_err(|e| {
                format!("could not run {what} (install python3 and python3-venv): {e}")
            })?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{what} failed: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        };
        run(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "python3 -m venv",
        )?;
        run(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(gates_dir().join("fhir-requirements.txt")),
            "pip install fhir.resources",
        )?;
        std::fs::write(&ready, b"").map_err(|e| e.to_string())?;
        Ok(python)
    });
    match result {
        Ok(p) => p,
        Err(e) => panic!("the FHIR judge is unavailable: {e}"),
    }
}

/// Validate FHIR R4 JSON documents with `fhir.resources`. Returns one line
/// per problem; empty when every document (and every Bundle entry) is a
/// valid R4 resource.
pub fn fhir_errors(documents: &[(String, String)]) -> Vec<String> {
    let python = fhir_python();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    for (i, (_, json)) in documents.iter().enumerate() {
        let path = dir.path().join(format!("{i:03}.json"));
        std::fs::write(&path, json).expect("write document");
        files.push(path);
    }
    let out = Command::new(python)
        .arg(gates_dir().join("fhir_validate.py"))
        .args(&files)
        .output()
        .expect("run the FHIR judge");
    assert!(
        out.status.success(),
        "the FHIR judge failed to run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let i: usize = l.get(..3).and_then(|n| n.parse().ok()).unwrap_or(0);
            let name = documents.get(i).map(|d| d.0.as_str()).unwrap_or("?");
            format!("{name}: {l}")
        })
        .collect()
}
