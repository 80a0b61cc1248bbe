//! Keys that travel inside a practice (SECURITY.md): supervision with
//! co-signature, handing a client over, and the professional will. The
//! model of keys, envelopes and pins is `keys`.

pub mod grants;
pub mod keys;
