//! Logging. Log lines carry ids, routes, statuses and timings; never client
//! names, note text, tags, passwords, cookies, tokens or keys.

use tracing_subscriber::EnvFilter;

/// Log to stderr (stdout is for command output), filtered by `RUST_LOG` (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}
