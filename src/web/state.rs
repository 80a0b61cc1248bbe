//! What every handler shares: the pool, the configuration, the KDF permits.

use std::sync::Arc;

use actix_web::web;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::AppError;
use super::session_memory::SessionMemories;
use crate::config::Config;
use crate::crypto::DataKey;
use crate::db::{DbConn, DbPool};
use crate::ids::TherapistId;

/// Work to start whenever a therapist has signed in: the only time their
/// key is at hand (bringing their stored data to the current format). Set
/// by `startup`, so the sign-in code need not know what it is.
pub type SignInHook = Arc<dyn Fn(&DbPool, TherapistId, &DataKey) + Send + Sync>;

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
    /// The signed packs loaded now (shared with the handout library).
    pub packs: Arc<crate::packs::Registry>,
    on_sign_in: SignInHook,
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
            packs: Arc::new(crate::packs::Registry::start(None, Vec::new())),
            on_sign_in: Arc::new(|_, _, _| {}),
        }
    }

    /// The same state, running `hook` after every sign-in.
    pub fn with_sign_in_hook(self, hook: SignInHook) -> Self {
        Self {
            on_sign_in: hook,
            ..self
        }
    }

    /// The same state, with these packs.
    pub fn with_packs(self, packs: Arc<crate::packs::Registry>) -> Self {
        Self { packs, ..self }
    }

    /// A therapist has just signed in (password, code or recovery).
    pub fn signed_in(&self, therapist: TherapistId, dk: &DataKey) {
        (self.on_sign_in)(&self.pool, therapist, dk);
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
