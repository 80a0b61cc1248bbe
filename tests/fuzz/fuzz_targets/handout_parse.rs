//! The handout file parser (front matter and Markdown) and the renderer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tearsheet::handouts::content::{Origin, parse};
use tearsheet::handouts::render::{estimated_pages, to_html};

fuzz_target!(|text: &str| {
    if let Ok(h) = parse(text, Origin::Builtin) {
        let html = to_html(&h.body);
        assert!(!html.to_ascii_lowercase().contains("javascript:"), "a javascript: link survived");
        let _ = estimated_pages(&h.body);
    }
    let _ = to_html(text);
});
