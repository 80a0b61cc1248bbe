//! Measures: rating scales taken by a client (PHQ-9, GAD-7, and the scales
//! of signed packs, recorded by `scale` with the scale kept whole), sealed
//! like every other field about them, scored by the instrument's own rules
//! (`instrument`), recorded on a form (`form`), marked entered in error
//! when wrong (`correct`), stored in `model` and put
//! into words for pages by `view`; `caseload` tells the client list each
//! client's latest scores. The client page charts them on the
//! breakthrough timeline; the FHIR export is `clients::fhir`.

pub mod caseload;
pub mod correct;
pub mod form;
pub mod instrument;
pub mod model;
pub mod scale;
pub mod view;

use actix_web::web;

/// Register the measures routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(form::configure)
        .configure(scale::configure)
        .configure(correct::configure);
}
