//! Tearsheet: encrypted session notes, breakthrough tags and printable
//! handouts for psychotherapists.
//!
//! Product areas (`auth`, `clients`, `notes`, `measures`, `handouts`, `audit`) depend on infrastructure
//! (`crypto`, `db`, `web`), never the reverse. See `docs/ARCHITECTURE.md`.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod clients;
pub mod config;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod handouts;
pub mod ids;
pub mod inbox;
pub mod lang;
pub mod measures;
pub mod notes;
pub mod packs;
pub mod sharing;
pub mod startup;
pub mod tags;
pub mod telemetry;
pub mod upgrade;
pub mod web;
