//! Typed configuration, read once at start from flags and the environment
//! (see `cli`). Every field is documented in the README's table.

use std::net::IpAddr;
use std::time::Duration;

use crate::crypto::password::KdfParams;
use crate::db::DatabaseUrl;

/// The server's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on.
    pub bind: String,
    /// Where the data lives.
    pub database_url: DatabaseUrl,
    /// A session unused this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however busy.
    pub absolute_timeout: Duration,
    /// The reverse proxy whose `X-Forwarded-*` headers are believed.
    pub trusted_proxy: Option<IpAddr>,
    /// Whether this server terminates TLS itself (sends HSTS).
    pub tls: bool,
    /// PEM certificate chain and private key, when serving TLS itself.
    pub tls_files: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// HTTP worker threads.
    pub workers: usize,
    /// Argon2id runs at once; more sign-ins get a quick 503.
    pub kdf_permits: usize,
    /// Database connections at most.
    pub pool_size: u32,
    /// How long a request waits for a database connection.
    pub db_timeout: Duration,
    /// Argon2id cost for new passwords.
    pub kdf: KdfParams,
    /// A folder of extra handouts (Markdown with front matter) to load at start.
    pub handouts_dir: Option<std::path::PathBuf>,
    /// A folder of signed packs, each subfolder a pack, read at start.
    pub packs_dir: Option<std::path::PathBuf>,
    /// Where clients reach this server (`https://notes.example.org`, no
    /// trailing slash), for private handout links; `None` for the address
    /// the therapist's own request used.
    pub public_url: Option<String>,
    /// The clock a custodian's waiting period is measured by. Always the
    /// system clock in `tearsheet serve`; tests move it forward by days
    /// (there is no flag or variable for it).
    pub custody_clock: CustodyClock,
}

/// The wall clock plus an offset that only tests set, so a waiting period
/// of days is tested without waiting days.
#[derive(Clone, Debug, Default)]
pub struct CustodyClock(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl CustodyClock {
    /// Seconds since the Unix epoch, by this clock.
    pub fn now(&self) -> i64 {
        crate::db::now() + self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Move this clock (and every copy of it) forward. For tests.
    pub fn advance(&self, seconds: i64) {
        self.0
            .fetch_add(seconds, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Config {
    /// Defaults for a database, as `tearsheet serve` would use them.
    pub fn new(database_url: DatabaseUrl) -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Self {
            bind: "127.0.0.1:8080".to_owned(),
            pool_size: match database_url {
                DatabaseUrl::Sqlite(_) => 8,
                DatabaseUrl::Postgres(_) => 10,
            },
            database_url,
            idle_timeout: Duration::from_secs(15 * 60),
            absolute_timeout: Duration::from_secs(12 * 60 * 60),
            trusted_proxy: None,
            tls: false,
            tls_files: None,
            workers: cores,
            // Leave a core for pages: a flood of wrong passwords may keep
            // every permit busy, and the therapists already signed in must
            // not wait behind it.
            kdf_permits: cores.saturating_sub(1).max(1),
            db_timeout: Duration::from_secs(3),
            kdf: KdfParams::DEFAULT,
            handouts_dir: None,
            packs_dir: None,
            public_url: None,
            custody_clock: CustodyClock::default(),
        }
    }

    /// How stale `last_seen_at` may get before a request refreshes it: about a
    /// minute, or less for short idle timeouts, so a page view costs no write.
    pub fn last_seen_granularity(&self) -> i64 {
        (self.idle_timeout.as_secs() as i64 / 4).clamp(0, 60)
    }

    /// Whether browsers will refuse the Secure session cookie from this
    /// server as configured: plain http on a non-loopback address with no
    /// trusted proxy in front.
    pub fn cookies_at_risk(&self) -> bool {
        if self.tls || self.trusted_proxy.is_some() {
            return false;
        }
        let host = self
            .bind
            .rsplit_once(':')
            .map_or(self.bind.as_str(), |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        !(host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()))
    }
}
