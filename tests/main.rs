//! The one integration-test binary. Every test starts the real app on its
//! own fresh database; most run on SQLite and on PostgreSQL.

mod helpers;

mod accounts;
mod auth;
mod browser;
mod clients;
mod handouts;
mod inbox;
mod integrity;
mod languages;
mod links;
mod measures;
mod notes;
mod operations;
mod packs;
mod privacy;
mod quality;
mod security;
mod sharing;
