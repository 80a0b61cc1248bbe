//! Strict form-body parsing: never panics, and refuses invalid UTF-8.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tearsheet::web::form::Pairs;

fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = Pairs::parse(data) {
        for (k, v) in pairs.all() {
            assert!(std::str::from_utf8(k.as_bytes()).is_ok() && std::str::from_utf8(v.as_bytes()).is_ok());
        }
    }
});
