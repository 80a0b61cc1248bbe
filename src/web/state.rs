//! What every handler shares: the pool, the configuration, the KDF permits.

use std::sync::Arc;

use actix_web::web;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::AppError;
use super::session_memory::SessionMemories;
use crate::config::Config;
use crate::db::{DbConn, DbPool};

/// Application state, built once at start.
pub struct AppState {
    /// The database pool.
    pub pool: DbPool,
    /// Typed configuration.
    pub config: Arc<Config>,
    /// Permits for Argon2id runs: about one per core.
    kdf_permits: Arc<Semaphore>,
    /// What signed-in sessions keep opened in memory (see the module).
    pub memory: SessionMemories,
}

impl AppState {
    /// Build the state.
    pub fn new(pool: DbPool, config: Arc<Config>) -> Self {
        let permits = config.kdf_permits.max(1);
        Self {
            pool,
            config,
            kdf_permits: Arc::new(Semaphore::new(permits)),
            memory: SessionMemories::default(),
        }
    }

    /// Take a permit to run Argon2id now, or answer 503 at once: a queue of
    /// password hashes would only grow memory while the server falls behind.
    pub fn kdf_permit(&self) -> Result<OwnedSemaphorePermit, AppError> {
        self.kdf_permits.clone().try_acquire_owned().map_err(|_| {
            AppError::unavailable("The server is busy checking other sign-ins. Please wait a few seconds and try again.")
        })
    }

    /// Run database work on a blocking thread with a pooled connection.
    pub async fn db<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
    }
}
