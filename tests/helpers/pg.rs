//! A throwaway PostgreSQL cluster for the whole test run, started from the
//! installed server binaries into a temporary directory, listening only on a
//! private Unix socket. Each test gets its own fresh database in it.
//!
//! As root, `initdb` refuses to run, so the cluster runs as the `postgres`
//! user (via `runuser`). A watchdog shell stops the cluster and removes its
//! directory once the test process has gone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use diesel::{Connection, RunQueryDsl, pg::PgConnection};

const PORT: u16 = 5433;

pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

fn find_bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("TEARSHEET_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    Err(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found. Install the Debian package \
         `postgresql` (apt-get install postgresql), or set TEARSHEET_PG_BIN to their directory."
            .into(),
    )
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command that runs as the `postgres` user when we are root.
fn pg_command(program: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn start() -> Result<Cluster, String> {
    let bin = find_bin_dir()?;
    let as_postgres = running_as_root();
    let dir = std::env::temp_dir().join(format!("tearsheet-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    if as_postgres {
        run(
            {
                let mut c = Command::new("chown");
                c.args(["postgres:postgres"]).arg(&dir);
                c
            },
            "chown of the cluster directory to postgres",
        )?;
    }
    let data = dir.join("data");
    let mut initdb = pg_command(&bin.join("initdb"), as_postgres);
    initdb.arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
        "--no-instructions",
    ]);
    run(initdb, "initdb")?;
    let options = format!(
        "-k {} -c listen_addresses='' -p {PORT} -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=400",
        dir.display()
    );
    let mut pg_ctl = pg_command(&bin.join("pg_ctl"), as_postgres);
    pg_ctl
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("server.log"))
        .args(["-o", &options, "-w", "start"]);
    run(pg_ctl, "pg_ctl start")?;

    // Stop the cluster and remove it when this test process ends.
    let script = format!(
        "while [ -d /proc/{pid} ]; do sleep 1; done; '{pg_ctl}' -D '{data}' stop -m immediate >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    let mut watchdog = pg_command(Path::new("/bin/sh"), as_postgres);
    watchdog
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the cluster watchdog: {e}"))?;
    Ok(Cluster { dir, bin })
}

impl Cluster {
    fn url(&self, database: &str) -> String {
        format!(
            "postgres:///{database}?host={}&port={PORT}&user=postgres",
            self.dir.display()
        )
    }

    /// Everything `pg_dump` writes for the database at `url` (plain SQL).
    pub fn dump(&self, url: &str) -> Vec<u8> {
        let name = url
            .trim_start_matches("postgres:///")
            .split('?')
            .next()
            .expect("database name");
        let out = Command::new(self.bin.join("pg_dump"))
            .args(["-h"])
            .arg(&self.dir)
            .args([
                "-p",
                &PORT.to_string(),
                "-U",
                "postgres",
                "--no-password",
                name,
            ])
            .output()
            .expect("run pg_dump");
        assert!(
            out.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Make a fresh database and return its URL.
    pub fn fresh_database(&self) -> String {
        let name = format!("t_{}", hex(&rand_bytes()));
        let mut admin =
            PgConnection::establish(&self.url("postgres")).expect("connect to the test cluster");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create a test database");
        self.url(&name)
    }
}

/// The cluster, started on first use.
pub fn cluster() -> &'static Cluster {
    match CLUSTER.get_or_init(start) {
        Ok(c) => c,
        Err(e) => panic!("could not start the test PostgreSQL cluster: {e}"),
    }
}

pub fn rand_bytes() -> [u8; 8] {
    tearsheet::crypto::random_bytes()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
