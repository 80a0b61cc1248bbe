//! Clients: the therapist's caseload and each client's sealed record.

pub mod export;
pub mod model;
pub mod pages;
pub mod routes;

pub use routes::configure;
