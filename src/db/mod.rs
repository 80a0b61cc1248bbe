//! Connections, the pool, the schema and migrations, for SQLite and PostgreSQL.
//!
//! One schema ([`schema`]) serves both backends through
//! `#[derive(diesel::MultiConnection)]`. [`DatabaseUrl`] decides the backend
//! from the configured URL; diesel's own `establish` would try each backend in
//! turn, and SQLite accepts any string as a file name.
//!
//! Everything here blocks: call it from `web::block`, never on an async worker.

pub mod backup;
pub mod schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    /// The embedded default.
    Sqlite(SqliteConnection),
    /// For practices running several app servers.
    Pg(PgConnection),
}

/// The pool every handler borrows from.
pub type DbPool = Pool<ConnectionManager>;
/// A connection borrowed from [`DbPool`].
pub type PooledConn = PooledConnection<ConnectionManager>;

pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Where the data lives, parsed from `--database-url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A libpq connection URL (`postgres://…` or `postgresql://…`).
    Postgres(String),
}

impl DatabaseUrl {
    /// `postgres://` and `postgresql://` are PostgreSQL; `sqlite://PATH` and
    /// anything else is a SQLite file path.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let url = url.trim();
        anyhow::ensure!(!url.is_empty(), "the database URL is empty");
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        anyhow::ensure!(
            !path.is_empty() && path != ":memory:",
            "give SQLite a file path, not {url:?}"
        );
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// A description safe to log: the SQLite path, or PostgreSQL without credentials.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("SQLite at {}", path.display()),
            Self::Postgres(_) => "PostgreSQL".to_owned(),
        }
    }
}

/// Opens connections for the pool, with the right backend and settings.
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConn;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConn, ConnectionError> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_str().ok_or_else(|| {
                    ConnectionError::InvalidConnectionUrl("SQLite path is not UTF-8".into())
                })?;
                let mut conn = SqliteConnection::establish(path)?;
                // busy_timeout first, so the pragmas below wait for a writer
                // instead of failing. FULL sync: an answered save is on disk.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000;
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = FULL;
                     PRAGMA foreign_keys = ON;",
                )
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => Ok(DbConn::Pg(PgConnection::establish(url)?)),
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), ConnectionError> {
        conn.ping()
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

/// Pool sizing and waiting.
#[derive(Clone, Copy, Debug)]
pub struct PoolOptions {
    /// Connections at most.
    pub max_size: u32,
    /// How long a request waits for a connection before it gets a 503 page.
    pub timeout: Duration,
}

/// Build the pool once at start. For SQLite, make the data directory (owner
/// only) and restrict the database file to its owner.
pub fn connect(url: &DatabaseUrl, options: PoolOptions) -> anyhow::Result<DbPool> {
    if let DatabaseUrl::Sqlite(path) = url {
        prepare_sqlite_dir(path)?;
    }
    let pool = Pool::builder()
        .max_size(options.max_size)
        .min_idle(Some(1))
        .connection_timeout(options.timeout)
        .build(ConnectionManager { url: url.clone() })
        .with_context(|| format!("could not open {}", url.describe()))?;
    if let DatabaseUrl::Sqlite(path) = url {
        restrict_to_owner(path)?;
    }
    Ok(pool)
}

fn prepare_sqlite_dir(path: &Path) -> anyhow::Result<()> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("could not restrict {}", dir.display()))?;
        }
    }
    Ok(())
}

/// One connection, for a command that does one job and exits (`migrate`,
/// `import`, `audit verify`, `demo`).
pub fn connect_one(url: &DatabaseUrl, timeout: Duration) -> anyhow::Result<PooledConn> {
    let pool = connect(
        url,
        PoolOptions {
            max_size: 1,
            timeout,
        },
    )?;
    pool.get().context("no database connection")
}

/// SQLite gives its -wal and -shm files the database file's mode.
fn restrict_to_owner(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("could not restrict {}", path.display()))?;
    }
    Ok(())
}

/// Run pending migrations. On PostgreSQL an advisory lock keeps app servers
/// that start together from migrating at once.
pub fn migrate(conn: &mut DbConn) -> anyhow::Result<usize> {
    let applied = match conn {
        DbConn::Sqlite(conn) => conn
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("migrating SQLite failed: {e}"))?
            .len(),
        DbConn::Pg(conn) => {
            const LOCK: i64 = 0x7465_6172_7368_6565; // "tearshee"
            conn.batch_execute(&format!("SELECT pg_advisory_lock({LOCK})"))?;
            let result = conn
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len());
            conn.batch_execute(&format!("SELECT pg_advisory_unlock({LOCK})"))?;
            result.map_err(|e| anyhow::anyhow!("migrating PostgreSQL failed: {e}"))?
        }
    };
    Ok(applied)
}

/// Seconds since the Unix epoch: every timestamp in the schema.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A random positive 63-bit row id. Rows with sealed columns take their id
/// before insertion because the id is bound into each sealed value.
pub fn new_row_id() -> i64 {
    let n = i64::from_le_bytes(crate::crypto::random_bytes()) & i64::MAX;
    n.max(1)
}

/// Whether an error is a unique-constraint violation (a lost race).
pub fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Turns for SQLite write transactions in this process (see below).
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Run `f` in a transaction that takes the write lock up front.
///
/// SQLite in WAL mode fails a deferred transaction that reads and then writes
/// if another connection wrote in between (busy_timeout cannot help), so
/// read-then-write work starts with `BEGIN IMMEDIATE` there. PostgreSQL uses
/// an ordinary transaction. Nested `transaction` calls inside `f` become
/// savepoints as usual, and so does this function when called inside a
/// transaction.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <DbConn as Connection>::TransactionManager;
    let nested = Manager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .map(|depth| depth.is_some())
        .unwrap_or(false);
    if nested {
        // The outer transaction already holds (or will take) the write lock;
        // a savepoint keeps this part undoable on its own.
        return conn.transaction(f);
    }
    // SQLite has one writer at a time. Waiting for it through busy_timeout
    // means SQLite's own backoff (sleeps of up to 100 ms between tries),
    // which the bench saw as p99 spikes on every page that audits a view;
    // writers of this process take turns on a mutex instead and start the
    // moment the last one commits. busy_timeout still covers other
    // processes (backup, migrate).
    let _turn = match conn {
        DbConn::Sqlite(_) => Some(
            SQLITE_WRITER
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        ),
        DbConn::Pg(_) => None,
    };
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Pg(_) => Manager::begin_transaction(conn)?,
    }
    match f(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => {
            // The caller's error matters more than a failed rollback; a
            // connection left mid-transaction is discarded by the pool.
            let _ = Manager::rollback_transaction(conn);
            Err(err)
        }
    }
}

/// Take the lock that serialises appends to the audit chain, until the
/// current transaction ends. SQLite's writers are already one at a time
/// (`BEGIN IMMEDIATE`), so this is PostgreSQL's advisory transaction lock.
/// Without it, concurrent writers read the same chain head and all but one
/// fail on the unique `prev_hash`; under 16 concurrent saves the retries ran
/// out and a save answered 500.
pub fn lock_for_append(conn: &mut DbConn, key: i64) -> diesel::QueryResult<()> {
    match conn {
        DbConn::Sqlite(_) => Ok(()),
        DbConn::Pg(c) => c.batch_execute(&format!("SELECT pg_advisory_xact_lock({key})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db").expect("parses"),
            DatabaseUrl::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/t.db").expect("parses"),
            DatabaseUrl::Sqlite("data/t.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("./tearsheet-data/tearsheet.db").expect("parses"),
            DatabaseUrl::Sqlite("./tearsheet-data/tearsheet.db".into())
        );
        assert!(DatabaseUrl::parse("").is_err());
        assert!(DatabaseUrl::parse(":memory:").is_err());
    }
}
