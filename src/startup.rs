//! Building and running the application, shared by `tearsheet serve` and the
//! integration tests, so tests start the very same app.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, web};
use anyhow::Context as _;

use crate::config::Config;
use crate::db::{self, PoolOptions};
use crate::web::{AppError, AppState, assets, middleware};

/// A built server, bound and ready to run.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Open the database, run migrations, bind the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        let options = PoolOptions {
            max_size: config.pool_size,
            timeout: config.db_timeout,
        };
        let url = config.database_url.clone();
        let pool = web::block(move || -> anyhow::Result<_> {
            let pool = db::connect(&url, options)?;
            let mut conn = pool.get().context("no database connection at start")?;
            let applied = db::migrate(&mut conn)?;
            if applied > 0 {
                tracing::info!(applied, "applied database migrations");
            }
            Ok(pool)
        })
        .await
        .context("start-up task failed")??;

        let listener = TcpListener::bind(&config.bind)
            .with_context(|| format!("could not listen on {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let tls = match &config.tls_files {
            Some((cert, key)) => Some(tls_config(cert, key)?),
            None => None,
        };
        if config.cookies_at_risk() {
            tracing::warn!(
                bind = %config.bind,
                "serving plain http on a non-loopback address: browsers will refuse the secure session cookie and sign-in will fail. Use TLS, a reverse proxy with --trusted-proxy, or bind to 127.0.0.1"
            );
        }
        tracing::info!(
            database = %config.database_url.describe(),
            "listening on {}://{}",
            if tls.is_some() { "https" } else { "http" },
            listener.local_addr()?
        );

        let library = web::Data::new(crate::handouts::Library::load(
            config.handouts_dir.as_deref(),
            config.packs_dir.as_deref(),
        ));
        let state = web::Data::new(
            AppState::new(pool, config.clone())
                .with_sign_in_hook(Arc::new(crate::upgrade::start))
                .with_packs(library.packs.clone()),
        );
        tokio::spawn(crate::auth::session::forget_ended_sessions(state.clone()));
        tokio::spawn(crate::handouts::links::sweep_forever(state.clone()));
        let loaded = library.clone();
        state
            .db(move |conn| Ok(loaded.packs.refresh(conn)?))
            .await
            .map_err(|e| anyhow::anyhow!("loading packs: {e:?}"))?;
        tokio::spawn(crate::packs::pages::watch(state.clone(), library.clone()));
        let server = actix_web::HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(library.clone())
                .configure(routes)
                .default_service(web::to(not_found))
                .wrap(from_fn(middleware::same_origin_writes))
                .wrap(from_fn(middleware::bearer_only_posts_drafts))
                .wrap(from_fn(middleware::request_log))
                .wrap(from_fn(middleware::security_headers))
        })
        .workers(config.workers);
        let server = match tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls)?,
            None => server.listen(listener)?,
        }
        .run();
        Ok(Self { port, server })
    }

    /// The port actually bound (for `--bind 127.0.0.1:0` in tests).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serve until stopped (Ctrl-C or SIGTERM finish requests in flight first).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await.context("server stopped with an error")
    }
}

/// Every route, registered once, area by area.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/static/{path:.+}", web::get().to(assets::asset))
        .configure(crate::auth::configure)
        .configure(crate::clients::configure)
        .configure(crate::notes::configure)
        .configure(crate::measures::configure)
        .configure(crate::handouts::configure)
        .configure(crate::sharing::configure)
        .configure(crate::packs::configure)
        .configure(crate::inbox::configure)
        .configure(crate::audit::trail::configure);
}

/// `GET /healthz`: the process is up and serving.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok")
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::not_found())
}

/// A rustls server configuration from PEM files (ring as the provider).
fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("could not read the certificate {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "{} holds no certificate", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("could not read a PEM private key from {}", key.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and key do not fit together")
}
