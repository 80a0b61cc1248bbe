//! Backups and restores of the SQLite database (PostgreSQL has `pg_dump`).
//!
//! A backup holds exactly what the database holds: sealed data only. It is
//! taken with `VACUUM INTO`, a consistent snapshot that is safe while the
//! server runs. A restore checks the file before touching anything, then
//! moves it into place with a rename, so it either happens whole or not at
//! all; a database already there is kept beside it, never deleted.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail, ensure};
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;

use super::DatabaseUrl;

/// What PostgreSQL operators should do instead.
pub const POSTGRES_HELP: &str = "Tearsheet on PostgreSQL is backed up with PostgreSQL's own tools, which take a consistent snapshot while the servers run:\n  pg_dump --format=custom --file=tearsheet.dump \"$DATABASE_URL\"\nand restored into an empty database with:\n  pg_restore --no-owner --dbname=\"$NEW_DATABASE_URL\" tearsheet.dump\nThe dump holds sealed data only, like the database. See docs/DEPLOY.md.";

/// What a backup or restore contains.
#[derive(Debug, Default)]
pub struct Summary {
    /// Therapists' accounts.
    pub therapists: i64,
    /// Clients.
    pub clients: i64,
    /// Session notes.
    pub notes: i64,
    /// Audit events.
    pub audit_events: i64,
    /// Bytes in the file.
    pub bytes: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} account(s), {} client(s), {} note(s), {} audit event(s); {:.1} MB",
            self.therapists,
            self.clients,
            self.notes,
            self.audit_events,
            self.bytes as f64 / 1_048_576.0
        )
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

fn count(conn: &mut SqliteConnection, table: &str) -> anyhow::Result<i64> {
    Ok(
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
            .get_result::<Count>(conn)?
            .n,
    )
}

fn summarise(conn: &mut SqliteConnection, path: &Path) -> anyhow::Result<Summary> {
    Ok(Summary {
        therapists: count(conn, "therapists")?,
        clients: count(conn, "clients")?,
        notes: count(conn, "notes")?,
        audit_events: count(conn, "audit_events")?,
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
    })
}

fn open(path: &Path) -> anyhow::Result<SqliteConnection> {
    let url = path.to_str().context("the path is not UTF-8")?;
    let mut conn = SqliteConnection::establish(url)?;
    conn.batch_execute("PRAGMA busy_timeout = 5000;")?;
    Ok(conn)
}

fn integrity_ok(conn: &mut SqliteConnection) -> anyhow::Result<()> {
    let rows = diesel::sql_query("PRAGMA integrity_check").load::<IntegrityRow>(conn)?;
    let first = rows
        .first()
        .map(|r| r.integrity_check.as_str())
        .unwrap_or("");
    ensure!(
        first == "ok",
        "the file failed SQLite's integrity check ({first})"
    );
    Ok(())
}

#[derive(QueryableByName)]
struct IntegrityRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}

/// Take a consistent snapshot of a live SQLite database into `out`.
///
/// The copy is written to a temporary file beside `out`, created empty and
/// owner-only (0600) before SQLite writes a byte (SQLite gives its journal
/// the database file's mode), checked, and only then linked to `out`, which
/// must not exist: a backup is never world-readable for a moment, never
/// half-written under its final name, and never overwrites another. The
/// backup is recorded in the database's audit trail.
pub fn backup(url: &DatabaseUrl, out: &Path) -> anyhow::Result<Summary> {
    let DatabaseUrl::Sqlite(path) = url else {
        bail!("{POSTGRES_HELP}")
    };
    ensure!(path.exists(), "there is no database at {}", path.display());
    ensure!(
        !out.exists(),
        "{} already exists; choose a new file name so no backup is overwritten",
        out.display()
    );
    let partial = partial_path(out)?;
    let result = write_checked(path, &partial).and_then(|summary| {
        // A hard link fails if `out` appeared meanwhile, unlike a rename.
        std::fs::hard_link(&partial, out).with_context(|| {
            format!(
                "could not put the backup at {} (does it exist now?)",
                out.display()
            )
        })?;
        Ok(summary)
    });
    let _ = std::fs::remove_file(&partial);
    let _ = std::fs::remove_file(PathBuf::from(format!("{}-journal", partial.display())));
    let summary = result?;
    let mut live = super::DbConn::Sqlite(open(path)?);
    crate::audit::record(&mut live, None, crate::audit::Action::Backup, None)
        .context("the backup is written, but recording it in the audit trail failed")?;
    Ok(Summary {
        bytes: std::fs::metadata(out).map(|m| m.len()).unwrap_or(0),
        ..summary
    })
}

/// A temporary name beside `out`, hidden and unique.
fn partial_path(out: &Path) -> anyhow::Result<PathBuf> {
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .context("the backup path has no file name")?;
    let tag = data_encoding::HEXLOWER.encode(&crate::crypto::random_bytes::<6>());
    Ok(out.with_file_name(format!(".{name}.partial-{tag}")))
}

/// `VACUUM INTO` a new owner-only file at `partial`, then check it.
fn write_checked(path: &Path, partial: &Path) -> anyhow::Result<Summary> {
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        file.mode(0o600);
    }
    file.open(partial)
        .with_context(|| format!("could not create {}", partial.display()))?;
    let target = partial.to_str().context("the backup path is not UTF-8")?;
    let mut conn = open(path)?;
    diesel::sql_query(format!("VACUUM INTO '{}'", target.replace('\'', "''")))
        .execute(&mut conn)
        .with_context(|| format!("could not write the backup to {}", partial.display()))?;
    let mut copy = open(partial)?;
    integrity_ok(&mut copy)?;
    summarise(&mut copy, partial)
}

fn known_versions() -> anyhow::Result<Vec<String>> {
    let migrations =
        MigrationSource::<diesel::sqlite::Sqlite>::migrations(&super::SQLITE_MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("reading the embedded migrations: {e}"))?;
    Ok(migrations
        .iter()
        .map(|m| m.name().version().to_string())
        .collect())
}

fn set_aside(path: &Path, stamp: i64) -> anyhow::Result<Option<PathBuf>> {
    if !path.exists() {
        return Ok(None);
    }
    let aside = PathBuf::from(format!("{}.replaced-{stamp}", path.display()));
    std::fs::rename(path, &aside)
        .with_context(|| format!("could not move {} aside", path.display()))?;
    Ok(Some(aside))
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    /// The restored database.
    pub database: PathBuf,
    /// What it holds.
    pub summary: Summary,
    /// Where a database that was already there was moved, if any.
    pub replaced: Option<PathBuf>,
}

/// Restore a backup into `data_dir/tearsheet.db`.
pub fn restore(file: &Path, data_dir: &Path, force: bool) -> anyhow::Result<Restored> {
    let mut header = [0u8; 16];
    {
        use std::io::Read as _;
        let mut f = std::fs::File::open(file)
            .with_context(|| format!("could not open {}", file.display()))?;
        f.read_exact(&mut header).map_err(|_| {
            anyhow::anyhow!(
                "{} is not a Tearsheet backup: it is too short to be a database",
                file.display()
            )
        })?;
    }
    ensure!(
        &header == b"SQLite format 3\0",
        "{} is not a Tearsheet backup: it is not a SQLite database",
        file.display()
    );
    let target = data_dir.join("tearsheet.db");
    ensure!(
        force || !target.exists(),
        "{} already holds a database. Restore into an empty folder, or pass --force to replace it (the old one is kept beside it)",
        data_dir.display()
    );
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("could not create {}", data_dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let staging = data_dir.join("tearsheet.db.restoring");
    let _ = std::fs::remove_file(&staging);
    std::fs::copy(file, &staging).with_context(|| format!("could not copy {}", file.display()))?;
    let checked = (|| -> anyhow::Result<Summary> {
        let mut conn = open(&staging)?;
        integrity_ok(&mut conn).context("the backup is damaged or truncated")?;
        let versions: Vec<String> =
            diesel::sql_query("SELECT version AS value FROM __diesel_schema_migrations")
                .load::<Text>(&mut conn)
                .map_err(|_| {
                    anyhow::anyhow!(
                        "{} is not a Tearsheet backup: it has no Tearsheet schema",
                        file.display()
                    )
                })?
                .into_iter()
                .map(|t| t.value)
                .collect();
        let known = known_versions()?;
        if let Some(newer) = versions.iter().find(|v| !known.contains(v)) {
            bail!(
                "the backup was made by a newer Tearsheet (schema {newer}); upgrade Tearsheet before restoring it"
            );
        }
        let mut db = super::DbConn::Sqlite(conn);
        super::migrate(&mut db)?;
        let super::DbConn::Sqlite(mut conn) = db else {
            unreachable!("opened as SQLite")
        };
        integrity_ok(&mut conn)?;
        summarise(&mut conn, &staging)
    })();
    let summary = match checked {
        Ok(summary) => summary,
        Err(err) => {
            let _ = std::fs::remove_file(&staging);
            return Err(err);
        }
    };
    let stamp = super::now();
    let replaced = set_aside(&target, stamp)?;
    for suffix in ["-wal", "-shm"] {
        // A live database's WAL belongs to it, never to the restored copy.
        set_aside(
            &PathBuf::from(format!("{}{suffix}", target.display())),
            stamp,
        )?;
    }
    std::fs::rename(&staging, &target).with_context(|| {
        format!(
            "could not move the restored database into {}",
            data_dir.display()
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(Restored {
        database: target,
        summary,
        replaced,
    })
}
