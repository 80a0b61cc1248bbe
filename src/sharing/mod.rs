//! Keys that travel inside a practice (SECURITY.md): supervision with
//! co-signature, handing a client over, and the professional will. The
//! model of keys, envelopes and pins is `keys`.

pub mod colleague;
pub mod custodians;
pub mod custody;
pub mod grants;
pub mod handover;
pub mod keys;
pub mod review;
pub mod supervising;
pub mod supervision;
pub mod transfer;

use actix_web::web;

/// Register the sharing routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(supervising::configure)
        .configure(custodians::configure)
        .configure(handover::configure);
}
