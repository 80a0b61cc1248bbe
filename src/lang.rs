//! Languages: a client's preferred language and a handout's, as BCP 47
//! tags (`en`, `es`, `es-MX`); the words Tearsheet itself prints on a
//! client's handout (headers, "A note for …", dates), in English and
//! Spanish; and matching one to the other by primary language.
//!
//! A handout in a language Tearsheet has no words for (a pack's French
//! handout, say) is printed with English labels, each marked `lang="en"`,
//! so a screen reader switches voice rather than reading English as French.

use chrono::{Datelike as _, NaiveDate};

/// The languages offered on the client form, by tag, with their names as
/// a therapist reads them and as a speaker writes them. Any other valid
/// tag is kept when sent.
pub const OFFERED: [(&str, &str); 16] = [
    ("en", "English"),
    ("es", "Spanish (español)"),
    ("ar", "Arabic (العربية)"),
    ("zh", "Chinese (中文)"),
    ("fr", "French (français)"),
    ("de", "German (Deutsch)"),
    ("ht", "Haitian Creole (kreyòl ayisyen)"),
    ("hi", "Hindi (हिन्दी)"),
    ("it", "Italian (italiano)"),
    ("ko", "Korean (한국어)"),
    ("fa", "Persian (فارسی)"),
    ("pl", "Polish (polski)"),
    ("pt", "Portuguese (português)"),
    ("ru", "Russian (русский)"),
    ("tl", "Tagalog"),
    ("vi", "Vietnamese (Tiếng Việt)"),
];

/// Whether `tag` is a well-formed BCP 47 language tag of the common shape:
/// a 2–3 letter language, then subtags of 1–8 letters or digits (script,
/// region, variants), at most 35 characters. Private-use and grandfathered
/// tags are not accepted.
pub fn valid_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let Some(language) = parts.next() else {
        return false;
    };
    tag.len() <= 35
        && (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A tag in its usual case: language lower-case, a four-letter script
/// title-case, a two-letter region upper-case (`es-mx` → `es-MX`).
pub fn canonical(tag: &str) -> String {
    tag.trim()
        .split('-')
        .enumerate()
        .map(|(i, part)| match (i, part.len()) {
            (0, _) => part.to_ascii_lowercase(),
            (_, 2) if part.bytes().all(|b| b.is_ascii_alphabetic()) => part.to_ascii_uppercase(),
            (_, 4) if part.bytes().all(|b| b.is_ascii_alphabetic()) => {
                let lower = part.to_ascii_lowercase();
                lower[..1].to_ascii_uppercase() + &lower[1..]
            }
            _ => part.to_ascii_lowercase(),
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The primary language of a tag, lower-case: `es` for `es-MX`; English
/// for an empty tag (a client whose language is not recorded).
pub fn primary(tag: &str) -> String {
    let language = tag.split('-').next().unwrap_or_default().trim();
    if language.is_empty() {
        "en".to_owned()
    } else {
        language.to_ascii_lowercase()
    }
}

/// The script subtag of a tag, lower-case (`hant` for `zh-Hant-TW`).
fn script(tag: &str) -> Option<String> {
    tag.split('-')
        .skip(1)
        .find(|p| p.len() == 4 && p.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(str::to_ascii_lowercase)
}

/// Whether two tags name the same language (`es-MX` and `es` do): the same
/// primary language, and the same script when both name one (`zh-Hant`
/// and `zh-Hans` do not).
pub fn same(a: &str, b: &str) -> bool {
    primary(a) == primary(b)
        && match (script(a), script(b)) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
}

/// A language's name for the therapist: "Spanish" for `es-MX`; the tag
/// itself for a language not in [`OFFERED`].
pub fn name(tag: &str) -> String {
    let primary = primary(tag);
    OFFERED
        .iter()
        .find(|(t, _)| *t == primary)
        .map(|(_, n)| n.split(" (").next().unwrap_or(n).to_owned())
        .unwrap_or_else(|| tag.to_owned())
}

/// The words Tearsheet prints on a client's handout, and on the page a
/// private link opens, in one language.
pub struct Words {
    /// The language these words are in (`lang` of elements that carry
    /// them).
    pub lang: &'static str,
    /// "For Sam": the kicker and running head, before the name.
    pub for_name: &'static str,
    /// "A note for Sam".
    pub note_for: &'static str,
    /// The heading of a personal note on a print for no one in particular.
    pub note_for_you: &'static str,
    /// The heading over a handout's sources.
    pub sources: &'static str,
    /// The title of a discreet print of a handout without its own.
    pub gentle_title: &'static str,
    /// On a private link's page: the switch to larger text.
    pub larger_text: &'static str,
    /// On a private link's page: under the handout.
    pub private_note: &'static str,
    /// The page a private link shows once it has ended: its title.
    pub ended_title: &'static str,
    /// …and what it says.
    pub ended_text: &'static str,
    /// A code that finds no handout: title and text.
    pub not_found_title: &'static str,
    pub not_found_text: &'static str,
    /// Too many wrong codes from here: title and text.
    pub too_many_title: &'static str,
    pub too_many_text: &'static str,
    /// The server is busy: title and text.
    pub busy_title: &'static str,
    pub busy_text: &'static str,
    /// The page a private link's code is typed into: its title.
    pub code_title: &'static str,
    /// …its label.
    pub code_label: &'static str,
    /// …its button.
    pub code_button: &'static str,
    /// On a print: the line under the QR code, before the short code.
    pub qr_line: &'static str,
    /// On a print: after the short code, where to type it.
    pub qr_code_line: &'static str,
    /// Month names, January first.
    months: [&'static str; 12],
    /// How a date is written: `{d}`, `{month}`, `{y}`.
    date: &'static str,
}

/// Tearsheet's own words in English.
pub static ENGLISH: Words = Words {
    lang: "en",
    for_name: "For",
    note_for: "A note for",
    note_for_you: "A note for you",
    sources: "Where this comes from",
    gentle_title: "Something to read at home",
    larger_text: "Larger text",
    private_note: "This page was made for you by your therapist. The link is private: please do not share it.",
    ended_title: "This link has ended",
    ended_text: "Links to handouts work for a while and then stop, to keep them private. If you would like to read it again, please ask your therapist for a new link or a printed copy.",
    not_found_title: "We could not find this handout",
    not_found_text: "Please check the code printed on your handout and try again. If it still does not work, ask your therapist.",
    too_many_title: "Please wait a little",
    too_many_text: "There were too many tries from this connection. Please wait 15 minutes and try again, or ask your therapist.",
    busy_title: "Please try again in a minute",
    busy_text: "The server is busy right now. Your link still works: please open it again in a minute.",
    code_title: "Open your handout",
    code_label: "The code printed on your handout",
    code_button: "Open",
    qr_line: "Read this on your phone: scan the code, or go to",
    qr_code_line: "and type the code",
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    date: "{d} {month} {y}",
};

/// Tearsheet's own words in Spanish (plain, with "tú", as the Spanish
/// handouts are written).
pub static SPANISH: Words = Words {
    lang: "es",
    for_name: "Para",
    note_for: "Una nota para",
    note_for_you: "Una nota para ti",
    sources: "De dónde viene esta información",
    gentle_title: "Algo para leer en casa",
    larger_text: "Letra más grande",
    private_note: "Tu terapeuta preparó esta página para ti. El enlace es privado: por favor, no lo compartas.",
    ended_title: "Este enlace ya no funciona",
    ended_text: "Los enlaces a las hojas informativas funcionan por un tiempo y después se cierran, para proteger tu privacidad. Si quieres leerla otra vez, pide a tu terapeuta un enlace nuevo o una copia impresa.",
    not_found_title: "No encontramos esta hoja informativa",
    not_found_text: "Revisa el código impreso en tu hoja e inténtalo otra vez. Si sigue sin funcionar, pregunta a tu terapeuta.",
    too_many_title: "Espera un poco, por favor",
    too_many_text: "Hubo demasiados intentos desde esta conexión. Espera 15 minutos e inténtalo otra vez, o pregunta a tu terapeuta.",
    busy_title: "Inténtalo otra vez en un minuto",
    busy_text: "El servidor está ocupado ahora. Tu enlace sigue funcionando: ábrelo otra vez en un minuto.",
    code_title: "Abre tu hoja informativa",
    code_label: "El código impreso en tu hoja",
    code_button: "Abrir",
    qr_line: "Léela en tu teléfono: escanea el código o entra en",
    qr_code_line: "y escribe el código",
    months: [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    date: "{d} de {month} de {y}",
};

/// Tearsheet's words in a language, if it has them.
pub fn words_in(tag: &str) -> Option<&'static Words> {
    match primary(tag).as_str() {
        "en" => Some(&ENGLISH),
        "es" => Some(&SPANISH),
        _ => None,
    }
}

/// Tearsheet's words for a page in `tag`: in that language when it has
/// them, else English (marked `lang="en"` by the templates, as
/// [`Words::lang`] says).
pub fn words(tag: &str) -> &'static Words {
    words_in(tag).unwrap_or(&ENGLISH)
}

impl Words {
    /// A date written out in these words: "1 December 2026", "1 de
    /// diciembre de 2026". Text that is not a date comes back as it is.
    pub fn date(&self, iso: &str) -> String {
        NaiveDate::parse_from_str(iso, "%Y-%m-%d").map_or_else(
            |_| iso.to_owned(),
            |d| {
                self.date
                    .replace("{d}", &d.day().to_string())
                    .replace("{month}", self.months[d.month0() as usize])
                    .replace("{y}", &d.year().to_string())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_checked_and_written_in_their_usual_case() {
        for good in ["en", "es", "es-MX", "zh-Hant-TW", "sr-Latn", "haw"] {
            assert!(valid_tag(good), "{good}");
        }
        for bad in [
            "",
            "e",
            "english",
            "es_MX",
            "es-",
            "-es",
            "es-toolongsubtag",
            "<b>",
            "en us",
        ] {
            assert!(!valid_tag(bad), "{bad}");
        }
        assert_eq!(canonical(" ES-mx "), "es-MX");
        assert_eq!(canonical("zh-hant-tw"), "zh-Hant-TW");
        assert!(same("es-MX", "es") && !same("es", "en") && same("", "en"));
        assert!(
            !same("zh-Hant", "zh-Hans") && same("zh-Hant-TW", "zh-hant") && same("zh", "zh-Hans")
        );
        assert_eq!(name("es-MX"), "Spanish");
        assert_eq!(name("sw"), "sw");
    }

    #[test]
    fn dates_are_written_in_the_pages_language() {
        assert_eq!(SPANISH.date("2026-12-01"), "1 de diciembre de 2026");
        assert_eq!(ENGLISH.date("2026-07-21"), "21 July 2026");
        assert_eq!(SPANISH.date("not a date"), "not a date");
        assert!(words_in("fr").is_none());
        assert_eq!(words("fr").lang, "en");
    }
}
