//! The audit trail. `ledger`: the append-only, hash-chained record every
//! area writes to (ids and actions only). `trail`: the page where a
//! therapist reads their own events and an administrator the practice's
//! security events. The ledger sits below the product areas; the page
//! above them.

pub mod ledger;
pub mod trail;

pub use ledger::{Action, AuditEvent, denied, log, record, verify};
