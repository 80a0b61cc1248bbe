//! The article importer, for every kind of source, and rendering its result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tearsheet::handouts::import::{SourceKind, split_title, to_markdown};
use tearsheet::handouts::render::{readability, to_html};

fuzz_target!(|text: &str| {
    for kind in [SourceKind::Plain, SourceKind::Markdown, SourceKind::Html, SourceKind::detect(text)] {
        let md = to_markdown(text, kind);
        let (_, body) = split_title(&md);
        let html = to_html(&body);
        assert!(!html.contains("<script"), "a script survived");
        let _ = readability(&body);
    }
});
