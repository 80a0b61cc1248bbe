//! Logging. Log lines carry ids, routes, statuses and timings; never client
//! names, note text, tags, passwords, cookies, tokens or keys.
//!
//! `RUST_LOG` (default `info`) sets the level of Tearsheet's own lines only.
//! Other crates log at most warnings, whatever `RUST_LOG` says: at debug and
//! trace, libraries print what passes through them (the HTML sanitiser's
//! parser printed imported article text; HTTP and TLS crates print headers,
//! which carry cookies), and none of that may reach a log.

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::prelude::*;

/// Whether a log line comes from Tearsheet itself.
fn ours(meta: &Metadata<'_>) -> bool {
    let target = meta.target();
    target == "tearsheet" || target.starts_with("tearsheet::")
}

/// Whether a line may be logged at all: ours at any level, anyone else's
/// only as a warning or error.
pub fn allowed(meta: &Metadata<'_>) -> bool {
    ours(meta) || *meta.level() <= Level::WARN
}

/// Log to stderr (stdout is for command output), filtered by `RUST_LOG`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_writer(std::io::stderr)
                .with_filter(filter)
                .with_filter(filter_fn(allowed)),
        )
        .try_init();
}
