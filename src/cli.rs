//! The command line: `tearsheet [serve]` and `tearsheet migrate`.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::db::{self, DatabaseUrl};

/// Encrypted session notes, breakthrough tags and printable handouts for psychotherapists.
#[derive(Parser, Debug)]
#[command(version, about)]
pub struct Cli {
    /// Where the data lives: a SQLite file path (or sqlite://PATH), or a postgres:// URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "./tearsheet-data/tearsheet.db",
        global = true
    )]
    pub database_url: String,

    /// Address and port to serve on.
    #[arg(
        long,
        env = "TEARSHEET_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: String,

    /// Sign a therapist out after this long without activity (e.g. 15m, 900s, 1h).
    #[arg(long, env = "TEARSHEET_IDLE_TIMEOUT", default_value = "15m", value_parser = humantime::parse_duration, global = true)]
    pub idle_timeout: Duration,

    /// The reverse proxy's address; only its X-Forwarded-For/-Proto are believed.
    #[arg(long, env = "TEARSHEET_TRUSTED_PROXY", global = true)]
    pub trusted_proxy: Option<IpAddr>,

    /// A folder of extra handouts (Markdown files with front matter) to load at start.
    #[arg(long, env = "TEARSHEET_HANDOUTS_DIR", global = true)]
    pub handouts_dir: Option<std::path::PathBuf>,

    /// A folder of signed packs (each subfolder a pack) to load at start.
    #[arg(long, env = "TEARSHEET_PACKS_DIR", global = true)]
    pub packs_dir: Option<std::path::PathBuf>,

    /// The address clients reach this server at (e.g. https://notes.example.org), for private handout links; by default, the one the therapist's browser used.
    #[arg(long, env = "TEARSHEET_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Serve https with this PEM certificate chain (with --tls-key).
    #[arg(long, env = "TEARSHEET_TLS_CERT", global = true, requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The PEM private key for --tls-cert.
    #[arg(long, env = "TEARSHEET_TLS_KEY", global = true, requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "TEARSHEET_WORKERS", global = true)]
    pub workers: Option<usize>,

    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web app (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Take a consistent backup of the SQLite database while the server runs.
    Backup {
        /// The new backup file (must not exist yet).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Restore a backup into a data folder (checked first; nothing half-restored).
    Restore {
        /// The backup file.
        file: std::path::PathBuf,
        /// The folder to restore into; the database becomes DIR/tearsheet.db.
        #[arg(long)]
        data_dir: std::path::PathBuf,
        /// Replace a database already there (it is kept beside the new one).
        #[arg(long)]
        force: bool,
    },
    /// Bring a caseload export (tearsheet.caseload.v3, or v2, v1) into an account.
    /// The account's password is read from TEARSHEET_PASSWORD or the first line of standard input.
    Import {
        /// The export file.
        file: std::path::PathBuf,
        /// The account to import into.
        #[arg(long)]
        email: String,
    },
    /// Make a demo therapist with a fictional caseload (credentials printed).
    Demo {
        /// How many clients.
        #[arg(long, default_value_t = 12)]
        clients: usize,
        /// How many session notes, spread over three years.
        #[arg(long, default_value_t = 300)]
        notes: usize,
        /// The demo account's email.
        #[arg(long, default_value = "demo@tearsheet.invalid")]
        email: String,
    },
    /// Work with signed packs (see docs/PACKS.md).
    Packs {
        /// What to do.
        #[command(subcommand)]
        action: PacksCommand,
    },
    /// Work with the audit trail.
    Audit {
        /// What to do with it.
        #[command(subcommand)]
        action: AuditCommand,
    },
}

/// `tearsheet packs …`.
#[derive(Subcommand, Debug)]
pub enum PacksCommand {
    /// Trust a publisher's minisign public key (a minisign.pub file): packs
    /// it signed load at the next start or refresh.
    Trust {
        /// The public key file.
        keyfile: std::path::PathBuf,
    },
    /// List the trusted keys.
    Keys,
    /// Print the [files] table for a pack folder (paste it into pack.toml, then sign).
    Hash {
        /// The pack folder.
        dir: std::path::PathBuf,
    },
}

/// `tearsheet audit …`.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the whole hash chain; report the first broken row and exit non-zero if any.
    Verify,
}

impl Cli {
    /// The typed configuration these flags describe.
    pub fn config(&self) -> anyhow::Result<Config> {
        let url = DatabaseUrl::parse(&self.database_url)?;
        let mut config = Config::new(url);
        config.bind = self.bind.clone();
        anyhow::ensure!(
            self.idle_timeout >= Duration::from_secs(1),
            "--idle-timeout must be at least one second"
        );
        config.idle_timeout = self.idle_timeout;
        config.trusted_proxy = self.trusted_proxy;
        config.handouts_dir = self.handouts_dir.clone();
        config.packs_dir = self.packs_dir.clone();
        config.public_url = self
            .public_url
            .as_deref()
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty());
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            config.tls = true;
            config.tls_files = Some((cert.clone(), key.clone()));
        }
        if let Some(workers) = self.workers {
            config.workers = workers.max(1);
        }
        Ok(config)
    }
}

/// Parse the command line and run it.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    crate::telemetry::init();
    let config = cli.config()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::Migrate => {
            let mut conn = db::connect_one(&config.database_url, config.db_timeout)?;
            let applied = db::migrate(&mut conn)?;
            println!(
                "{}: {applied} migration(s) applied",
                config.database_url.describe()
            );
            Ok(())
        }
        Command::Backup { out } => {
            eprintln!(
                "Backing up {} to {} …",
                config.database_url.describe(),
                out.display()
            );
            let started = std::time::Instant::now();
            // VACUUM INTO is one step with no progress to report, so a
            // terminal gets a spinner with the elapsed time; logs get lines.
            let spinner = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                let s = indicatif::ProgressBar::new_spinner()
                    .with_message("writing a consistent snapshot");
                s.enable_steady_tick(std::time::Duration::from_millis(120));
                s
            } else {
                indicatif::ProgressBar::hidden()
            };
            let summary = db::backup::backup(&config.database_url, &out);
            spinner.finish_and_clear();
            let summary = summary?;
            println!(
                "Backup written to {} in {:.1} s: {summary}. Integrity check: ok.",
                out.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Restore {
            file,
            data_dir,
            force,
        } => {
            eprintln!("Checking {} …", file.display());
            let restored = db::backup::restore(&file, &data_dir, force)?;
            if let Some(old) = &restored.replaced {
                println!("The database that was there is kept at {}.", old.display());
            }
            println!(
                "Restored {} to {}: {}. Integrity check: ok.",
                file.display(),
                restored.database.display(),
                restored.summary
            );
            println!(
                "Start Tearsheet on it with: tearsheet --database-url {}",
                restored.database.display()
            );
            Ok(())
        }
        Command::Import { file, email } => import(&config, &file, &email),
        Command::Demo {
            clients,
            notes,
            email,
        } => {
            let started = std::time::Instant::now();
            let made = crate::demo::run(&config.database_url, &email, clients, notes)?;
            println!(
                "Made {} fictional client(s) and {} note(s) in {:.1} s, with {} measure(s).",
                made.clients,
                made.notes,
                started.elapsed().as_secs_f64(),
                made.measures
            );
            println!("Sign in as:    {}", made.email);
            println!("Password:      {}", made.password);
            println!("Recovery code: {}", made.recovery_code);
            Ok(())
        }
        Command::Packs { action } => packs(&config, action),
        Command::Audit {
            action: AuditCommand::Verify,
        } => {
            let mut conn = db::connect_one(&config.database_url, config.db_timeout)?;
            let (checked, broken) = crate::audit::verify(&mut conn)?;
            match broken {
                None => {
                    println!("audit trail intact: {checked} event(s) checked");
                    Ok(())
                }
                Some(b) => {
                    println!(
                        "audit trail BROKEN at event {}: {} ({checked} event(s) before it are intact)",
                        b.row_id, b.reason
                    );
                    std::process::exit(1);
                }
            }
        }
    }
}

fn packs(config: &Config, action: PacksCommand) -> anyhow::Result<()> {
    if let PacksCommand::Hash { dir } = &action {
        let files = crate::packs::files::read_folder(dir)
            .map_err(|r| anyhow::anyhow!("{}: {}", r.file, r.reason))?;
        println!("[files]");
        for (path, text) in files.iter().filter(|(p, _)| {
            p.as_str() != crate::packs::files::MANIFEST
                && p.as_str() != crate::packs::files::SIGNATURE
        }) {
            println!(
                "\"{path}\" = \"{}\"",
                crate::packs::manifest::sha256_hex(text)
            );
        }
        return Ok(());
    }
    let mut conn = db::connect_one(&config.database_url, config.db_timeout)?;
    db::migrate(&mut conn)?;
    match action {
        PacksCommand::Trust { keyfile } => {
            let text = std::fs::read_to_string(&keyfile)
                .with_context(|| format!("could not read {}", keyfile.display()))?;
            let (key_id, line) = crate::packs::manifest::parse_public_key(&text)
                .map_err(|why| anyhow::anyhow!("{} was not trusted: {why}", keyfile.display()))?;
            if crate::packs::store::trust(&mut conn, &key_id, &line, None)? {
                crate::audit::record(
                    &mut conn,
                    None,
                    crate::audit::Action::PackKeyTrust,
                    Some(crate::packs::pages::key_subject(&key_id)),
                )?;
                println!(
                    "Trusted key {key_id}. Packs it signed load at the next start (or at once on a running server, within a minute)."
                );
            } else {
                println!("Key {key_id} was already trusted.");
            }
        }
        PacksCommand::Hash { .. } => {}
        PacksCommand::Keys => {
            let keys = crate::packs::store::keys(&mut conn)?;
            if keys.is_empty() {
                println!("No publisher keys are trusted yet.");
            }
            for k in keys {
                println!("{}  {}", k.key_id, k.public_key);
            }
        }
    }
    Ok(())
}

fn serve(config: Config) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let app = crate::startup::Application::build(config).await?;
        app.run_until_stopped().await
    })
}

fn import(config: &Config, file: &std::path::Path, email: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("could not read {}", file.display()))?;
    let caseload = crate::clients::caseload::check(&text)
        .map_err(|problem| anyhow::anyhow!("nothing was imported: {problem}"))?;
    let password = match std::env::var("TEARSHEET_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let mut conn = db::connect_one(&config.database_url, config.db_timeout)?;
    db::migrate(&mut conn)?;
    let therapist = crate::auth::account::find_by_email(&mut conn, email)?
        .context("no account has that email")?;
    let dk = therapist
        .unlock(&password)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .context("the password does not match that account; nothing was imported")?;
    // As a sign-in would: a key pair and client keys, shared as the grants say.
    crate::sharing::grants::at_sign_in(&mut conn, therapist.id, &dk)?;
    let keys = crate::sharing::keys::load(&mut conn, therapist.id, dk.duplicate(), 0)?;
    let done = crate::clients::caseload::import(&mut conn, therapist.id, &keys, &caseload)?;
    crate::audit::record(
        &mut conn,
        Some(therapist.id),
        crate::audit::Action::CaseloadImport,
        None,
    )?;
    println!(
        "Imported {} client(s), {} note(s) and {} measure(s) into {}.",
        done.clients, done.notes, done.measures, therapist.email
    );
    if done.left_unsigned > 0 {
        println!(
            "{} note(s) marked signed in the file have an empty heading, so they arrived as drafts: finish and sign them in Tearsheet.",
            done.left_unsigned
        );
    }
    Ok(())
}
