//! The sealed-blob decoder: any bytes must open to an error or to text, never
//! panic; and any bytes sealed must open to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tearsheet::crypto::{DataKey, Place, open, seal};

fuzz_target!(|data: &[u8]| {
    let key = DataKey::from_bytes([0x5a; 32]);
    let place = Place { therapist: 1, table: "notes", column: "sections", row: 2 };
    let _ = open(&key, &place, data);
    let blob = seal(&key, &place, data);
    let opened = open(&key, &place, &blob).expect("a fresh seal opens");
    assert_eq!(opened.as_slice(), data);
});
