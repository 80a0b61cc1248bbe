//! The rating scales Tearsheet knows: PHQ-9 (depression) and GAD-7
//! (anxiety), with their standard wording, answer scale, scoring, severity
//! bands and LOINC codes. Both are free to reproduce (developed by Drs.
//! Robert L. Spitzer, Janet B. W. Williams, Kurt Kroenke and colleagues,
//! with an educational grant from Pfizer Inc.; no permission is required to
//! reproduce, translate, display or distribute them).
//!
//! Scoring follows the instruments: the total is the sum of every item, so
//! a partly answered form has no total and no band (neither instrument's
//! published scoring defines one). PHQ-9 item 9 (thoughts of self-harm)
//! counts whether or not the rest is answered.

/// The four answers every item shares, with their LOINC answer codes.
pub const ANSWERS: [(&str, &str); 4] = [
    ("Not at all", "LA6568-5"),
    ("Several days", "LA6569-3"),
    ("More than half the days", "LA6570-1"),
    ("Nearly every day", "LA6571-9"),
];

/// Who made the instruments, shown with them.
pub const CREDIT: &str = "Developed by Drs. Robert L. Spitzer, Janet B. W. Williams, Kurt Kroenke and colleagues, with an educational grant from Pfizer Inc. No permission required to reproduce, translate, display or distribute.";

/// A rating scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Instrument {
    /// Patient Health Questionnaire, 9 items (depression), 0–27.
    Phq9,
    /// Generalized Anxiety Disorder scale, 7 items, 0–21.
    Gad7,
}

/// How severe a total is, by the instrument's published cut-offs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Band {
    /// PHQ-9 and GAD-7 0–4.
    Minimal,
    /// 5–9.
    Mild,
    /// 10–14.
    Moderate,
    /// PHQ-9 15–19.
    ModeratelySevere,
    /// PHQ-9 20–27, GAD-7 15–21.
    Severe,
}

impl Band {
    /// Every band, mildest first.
    pub const ALL: [Band; 5] = [
        Band::Minimal,
        Band::Mild,
        Band::Moderate,
        Band::ModeratelySevere,
        Band::Severe,
    ];

    /// The words for it.
    pub fn label(self) -> &'static str {
        match self {
            Band::Minimal => "minimal",
            Band::Mild => "mild",
            Band::Moderate => "moderate",
            Band::ModeratelySevere => "moderately severe",
            Band::Severe => "severe",
        }
    }

    /// Its name in a URL or form (`moderately-severe`).
    pub fn slug(self) -> &'static str {
        match self {
            Band::Minimal => "minimal",
            Band::Mild => "mild",
            Band::Moderate => "moderate",
            Band::ModeratelySevere => "moderately-severe",
            Band::Severe => "severe",
        }
    }

    /// The band named by [`Band::slug`].
    pub fn from_slug(slug: &str) -> Option<Band> {
        Band::ALL.into_iter().find(|b| b.slug() == slug)
    }
}

const PHQ9_ITEMS: [(&str, &str); 9] = [
    ("Little interest or pleasure in doing things", "44250-9"),
    ("Feeling down, depressed, or hopeless", "44255-8"),
    (
        "Trouble falling or staying asleep, or sleeping too much",
        "44259-0",
    ),
    ("Feeling tired or having little energy", "44254-1"),
    ("Poor appetite or overeating", "44251-7"),
    (
        "Feeling bad about yourself, or that you are a failure or have let yourself or your family down",
        "44258-2",
    ),
    (
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "44252-5",
    ),
    (
        "Moving or speaking so slowly that other people could have noticed; or the opposite, being so fidgety or restless that you have been moving around a lot more than usual",
        "44253-3",
    ),
    (
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
        "44260-8",
    ),
];

const GAD7_ITEMS: [(&str, &str); 7] = [
    ("Feeling nervous, anxious, or on edge", "69725-0"),
    ("Not being able to stop or control worrying", "68509-9"),
    ("Worrying too much about different things", "69733-4"),
    ("Trouble relaxing", "69734-2"),
    ("Being so restless that it is hard to sit still", "69735-9"),
    ("Becoming easily annoyed or irritable", "69689-8"),
    (
        "Feeling afraid, as if something awful might happen",
        "69736-7",
    ),
];

impl Instrument {
    /// Both, in the order the form offers them.
    pub const ALL: [Instrument; 2] = [Instrument::Phq9, Instrument::Gad7];

    /// Its name in forms, URLs and exports (`phq-9`, `gad-7`).
    pub fn slug(self) -> &'static str {
        match self {
            Instrument::Phq9 => "phq-9",
            Instrument::Gad7 => "gad-7",
        }
    }

    /// The instrument named by [`Instrument::slug`].
    pub fn from_slug(slug: &str) -> Option<Instrument> {
        Instrument::ALL.into_iter().find(|i| i.slug() == slug)
    }

    /// Its short name (`PHQ-9`).
    pub fn name(self) -> &'static str {
        match self {
            Instrument::Phq9 => "PHQ-9",
            Instrument::Gad7 => "GAD-7",
        }
    }

    /// What it measures, for the form.
    pub fn title(self) -> &'static str {
        match self {
            Instrument::Phq9 => "Patient Health Questionnaire (PHQ-9): depression",
            Instrument::Gad7 => "Generalized Anxiety Disorder scale (GAD-7): anxiety",
        }
    }

    /// The question every item answers.
    pub fn stem(self) -> &'static str {
        match self {
            Instrument::Phq9 => {
                "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
            }
            Instrument::Gad7 => {
                "Over the last 2 weeks, how often have you been bothered by the following problems?"
            }
        }
    }

    fn items_with_codes(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Instrument::Phq9 => &PHQ9_ITEMS,
            Instrument::Gad7 => &GAD7_ITEMS,
        }
    }

    /// The items' wording, in order.
    pub fn items(self) -> impl Iterator<Item = &'static str> {
        self.items_with_codes().iter().map(|(text, _)| *text)
    }

    /// How many items it has.
    pub fn item_count(self) -> usize {
        self.items_with_codes().len()
    }

    /// The LOINC code of item `index` (from 0).
    pub fn item_code(self, index: usize) -> Option<&'static str> {
        self.items_with_codes().get(index).map(|(_, code)| *code)
    }

    /// The highest possible total.
    pub fn max_total(self) -> u8 {
        3 * self.item_count() as u8
    }

    /// LOINC code of the whole panel (the questionnaire).
    pub fn panel_code(self) -> &'static str {
        match self {
            Instrument::Phq9 => "44249-1",
            Instrument::Gad7 => "69737-5",
        }
    }

    /// LOINC code of the total score.
    pub fn total_code(self) -> &'static str {
        match self {
            Instrument::Phq9 => "44261-6",
            Instrument::Gad7 => "70274-6",
        }
    }

    /// The published name of the total's LOINC code.
    pub fn total_display(self) -> &'static str {
        match self {
            Instrument::Phq9 => {
                "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"
            }
            Instrument::Gad7 => {
                "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]"
            }
        }
    }

    /// The band of a total, `None` if the total is out of range.
    pub fn band(self, total: u8) -> Option<Band> {
        if total > self.max_total() {
            return None;
        }
        Some(match (self, total) {
            (_, 0..=4) => Band::Minimal,
            (_, 5..=9) => Band::Mild,
            (_, 10..=14) => Band::Moderate,
            (Instrument::Phq9, 15..=19) => Band::ModeratelySevere,
            _ => Band::Severe,
        })
    }

    /// The bands this instrument uses, mildest first, each with its lowest
    /// and highest total.
    pub fn bands(self) -> Vec<(Band, u8, u8)> {
        match self {
            Instrument::Phq9 => vec![
                (Band::Minimal, 0, 4),
                (Band::Mild, 5, 9),
                (Band::Moderate, 10, 14),
                (Band::ModeratelySevere, 15, 19),
                (Band::Severe, 20, 27),
            ],
            Instrument::Gad7 => vec![
                (Band::Minimal, 0, 4),
                (Band::Mild, 5, 9),
                (Band::Moderate, 10, 14),
                (Band::Severe, 15, 21),
            ],
        }
    }

    /// A change in total this large or larger is read as real change
    /// rather than noise: 5 points on the PHQ-9 (Löwe et al., 2004), 4 on
    /// the GAD-7 (Toussaint et al., 2020).
    pub fn meaningful_change(self) -> u8 {
        match self {
            Instrument::Phq9 => 5,
            Instrument::Gad7 => 4,
        }
    }

    /// The index of the item about self-harm, if it has one (PHQ-9 item 9).
    pub fn self_harm_item(self) -> Option<usize> {
        match self {
            Instrument::Phq9 => Some(8),
            Instrument::Gad7 => None,
        }
    }
}

/// A form's answers, scored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Score {
    /// The sum of every item; `None` unless every item is answered.
    pub total: Option<u8>,
    /// The total's band.
    pub band: Option<Band>,
    /// How many items are answered.
    pub answered: usize,
    /// PHQ-9 item 9's answer when above 0 (thoughts of self-harm).
    pub self_harm: Option<u8>,
}

/// Score `answers` (one per item, each 0–3 or unanswered). Answers out of
/// range, or more answers than items, are not scored at all.
pub fn score(instrument: Instrument, answers: &[Option<u8>]) -> Option<Score> {
    if answers.len() != instrument.item_count() || answers.iter().flatten().any(|a| *a > 3) {
        return None;
    }
    let answered = answers.iter().flatten().count();
    let total = (answered == instrument.item_count()).then(|| answers.iter().flatten().sum::<u8>());
    Some(Score {
        total,
        band: total.and_then(|t| instrument.band(t)),
        answered,
        self_harm: instrument
            .self_harm_item()
            .and_then(|i| answers[i])
            .filter(|a| *a > 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_cut_offs() {
        use Band::*;
        let phq: Vec<Band> = (0..=27)
            .map(|t| Instrument::Phq9.band(t).expect("in range"))
            .collect();
        let expected_phq: Vec<Band> = [Minimal; 5]
            .into_iter()
            .chain([Mild; 5])
            .chain([Moderate; 5])
            .chain([ModeratelySevere; 5])
            .chain([Severe; 8])
            .collect();
        assert_eq!(phq, expected_phq);
        let gad: Vec<Band> = (0..=21)
            .map(|t| Instrument::Gad7.band(t).expect("in range"))
            .collect();
        let expected_gad: Vec<Band> = [Minimal; 5]
            .into_iter()
            .chain([Mild; 5])
            .chain([Moderate; 5])
            .chain([Severe; 7])
            .collect();
        assert_eq!(gad, expected_gad);
        assert_eq!(Instrument::Phq9.band(28), None);
        assert_eq!(Instrument::Gad7.band(22), None);
    }

    #[test]
    fn item_nine_counts_on_a_partial_form_and_a_partial_form_has_no_total() {
        let mut answers = vec![None; 9];
        answers[0] = Some(2);
        answers[8] = Some(1);
        let s = score(Instrument::Phq9, &answers).expect("in range");
        assert_eq!(
            (s.total, s.band, s.answered, s.self_harm),
            (None, None, 2, Some(1))
        );
        let s = score(Instrument::Phq9, &[Some(0); 9]).expect("in range");
        assert_eq!(
            (s.total, s.band, s.self_harm),
            (Some(0), Some(Band::Minimal), None)
        );
        assert_eq!(score(Instrument::Gad7, &[Some(3); 9]), None);
        assert_eq!(score(Instrument::Gad7, &[Some(4); 7]), None);
    }

    #[test]
    fn every_band_lies_inside_the_bands_table() {
        for instrument in Instrument::ALL {
            let table = instrument.bands();
            assert_eq!(table.first().expect("in range").1, 0);
            assert_eq!(table.last().expect("in range").2, instrument.max_total());
            for (band, low, high) in table {
                for t in low..=high {
                    assert_eq!(instrument.band(t), Some(band));
                }
            }
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn answers(n: usize) -> impl Strategy<Value = Vec<Option<u8>>> {
        proptest::collection::vec(proptest::option::of(0u8..=3), n)
    }

    proptest! {
        #[test]
        fn phq9_totals_and_bands_follow_the_sum(a in answers(9)) {
            let s = score(Instrument::Phq9, &a).expect("in range");
            let complete = a.iter().all(Option::is_some);
            prop_assert_eq!(s.answered, a.iter().flatten().count());
            prop_assert_eq!(s.self_harm, a[8].filter(|v| *v > 0));
            if complete {
                let t: u8 = a.iter().flatten().sum();
                prop_assert_eq!(s.total, Some(t));
                let expected = match t {
                    0..=4 => Band::Minimal,
                    5..=9 => Band::Mild,
                    10..=14 => Band::Moderate,
                    15..=19 => Band::ModeratelySevere,
                    _ => Band::Severe,
                };
                prop_assert_eq!(s.band, Some(expected));
            } else {
                prop_assert_eq!(s.total, None);
                prop_assert_eq!(s.band, None);
            }
        }

        #[test]
        fn gad7_totals_and_bands_follow_the_sum(a in answers(7)) {
            let s = score(Instrument::Gad7, &a).expect("in range");
            prop_assert_eq!(s.self_harm, None);
            if a.iter().all(Option::is_some) {
                let t: u8 = a.iter().flatten().sum();
                prop_assert_eq!(s.total, Some(t));
                let expected = match t {
                    0..=4 => Band::Minimal,
                    5..=9 => Band::Mild,
                    10..=14 => Band::Moderate,
                    _ => Band::Severe,
                };
                prop_assert_eq!(s.band, Some(expected));
            } else {
                prop_assert_eq!(s.total, None);
            }
        }
    }
}
