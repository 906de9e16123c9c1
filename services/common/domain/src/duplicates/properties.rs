//! Properties over generated reports (R8.2c): similarity and distance behave as measures,
//! diacritics never matter, and suggestions are sorted, bounded and never later reports.

use chrono::TimeDelta;
use proptest::prelude::*;

use super::tests::{id, north, time};
use super::*;
use crate::validation::Coordinates;

/// Words of field reports, with their diacritics; function words included.
const WORDS: &[&str] = &[
    "đường",
    "ổ",
    "gà",
    "ngập",
    "nước",
    "rác",
    "thải",
    "đèn",
    "hỏng",
    "cây",
    "đổ",
    "Nguyễn",
    "Huệ",
    "khói",
    "bụi",
    "tiếng",
    "ồn",
    "chợ",
    "hẻm",
    "xe",
    "máy",
    "nguy",
    "hiểm",
    "cống",
    "nghẹt",
    "mùi",
    "hôi",
    "lấn",
    "chiếm",
    "vỉa",
    "hè",
    "Đông",
    "Thuận",
    "Phường",
    "số",
    "12",
    "45",
    "và",
    "của",
    "ở",
    "có",
    "bị",
    "rất",
    "không",
    "được",
    "đã",
];
/// Content words only, so a generated text is never empty (not "ổ": folded, it is "ở").
const CONTENT: &[&str] = &["đường", "ngập", "rác", "đèn", "cây", "khói", "cống", "vỉa", "hè", "gà"];
const SEPARATORS: &[&str] = &[" ", " ", " ", ", ", ". ", " - ", "\n", "! ", " (", ") "];

/// A report text of 1–30 words with some content.
fn report_text() -> impl Strategy<Value = String> {
    (
        prop::sample::select(CONTENT),
        prop::collection::vec((prop::sample::select(SEPARATORS), prop::sample::select(WORDS)), 0..30),
    )
        .prop_map(|(first, rest)| {
            let mut text = first.to_owned();
            for (sep, word) in rest {
                text.push_str(sep);
                text.push_str(word);
            }
            text
        })
}

/// Folds diacritics with a table of its own, independent of the code under test.
fn strip(text: &str) -> String {
    const TABLE: &[(&str, char)] = &[
        ("àáạảãâầấậẩẫăằắặẳẵ", 'a'),
        ("èéẹẻẽêềếệểễ", 'e'),
        ("ìíịỉĩ", 'i'),
        ("òóọỏõôồốộổỗơờớợởỡ", 'o'),
        ("ùúụủũưừứựửữ", 'u'),
        ("ỳýỵỷỹ", 'y'),
        ("đ", 'd'),
    ];
    text.chars()
        .map(|c| {
            let lower = c.to_lowercase().next().unwrap_or(c);
            match TABLE.iter().find(|(marked, _)| marked.contains(lower)) {
                Some((_, base)) if c.is_uppercase() => base.to_ascii_uppercase(),
                Some((_, base)) => *base,
                None => c,
            }
        })
        .collect()
}

/// Points in Vietnamese cities, moved by up to about 1 km.
fn point() -> impl Strategy<Value = Coordinates> {
    const CITIES: &[(f64, f64)] =
        &[(21.0287, 105.8524), (10.7725, 106.6980), (16.0544, 108.2022), (10.2537, 105.9722), (20.8449, 106.6881)];
    (prop::sample::select(CITIES), -0.01f64..0.01, -0.01f64..0.01)
        .prop_map(|((lat, lon), dlat, dlon)| Coordinates::new(lat + dlat, lon + dlon).unwrap())
}

proptest! {
    // Proves R8.2c: similarity is a symmetric score in [0, 1].
    #[test]
    fn similarity_is_symmetric_and_bounded_r8_2c(a in report_text(), b in report_text()) {
        let (fa, fb) = (Fingerprint::of(&a), Fingerprint::of(&b));
        let s = fa.similarity(&fb);
        prop_assert!((0.0..=1.0).contains(&s), "{s}");
        prop_assert_eq!(s, fb.similarity(&fa));
    }

    // Proves R8.2c: a text is fully similar to itself, without its diacritics, in capitals.
    #[test]
    fn diacritics_and_case_never_matter_r8_2c(text in report_text()) {
        let f = Fingerprint::of(&text);
        prop_assert_eq!(f.similarity(&f), 1.0);
        prop_assert_eq!(text_similarity(&text, &strip(&text)), 1.0, "{} / {}", text, strip(&text));
        prop_assert_eq!(text_similarity(&text, &text.to_uppercase()), 1.0);
        prop_assert_eq!(fold(&text), fold(&strip(&text)));
        prop_assert!(fold(&text).is_ascii());
    }

    // Proves R8.2c: distance is symmetric, zero from a point to itself, never negative.
    #[test]
    fn distance_is_symmetric_and_zero_to_itself_r8_2c(a in point(), b in point()) {
        prop_assert_eq!(distance_m(&a, &a), 0.0);
        let (ab, ba) = (distance_m(&a, &b), distance_m(&b, &a));
        prop_assert!(ab >= 0.0 && ab.is_finite());
        prop_assert!((ab - ba).abs() < 1e-6, "{ab} {ba}");
    }

    // Proves R8.2c: suggestions are sorted, bounded, earlier, in the window, near and
    // similar enough, and do not depend on the order of the candidates.
    #[test]
    fn suggestions_are_sorted_bounded_and_earlier_r8_2c(
        query_text in report_text(),
        query_here in any::<bool>(),
        earlier in prop::collection::vec(
            (report_text(), any::<bool>(), prop::option::of(0.0f64..900.0), -24 * 40..24 * 5i64),
            0..25,
        ),
        max_suggestions in 0usize..7,
    ) {
        let now = time(24 * 60);
        let candidates: Vec<Candidate> = earlier
            .iter()
            .enumerate()
            .map(|(n, (text, retell, metres, hours))| {
                // Half of them retell the query, so that many qualify.
                let text = if *retell { strip(&query_text) } else { text.clone() };
                Candidate::new(id(n as u128), &text, metres.and_then(north), now + TimeDelta::hours(*hours))
            })
            .collect();
        let query = DuplicateQuery::new(&query_text, if query_here { north(0.0) } else { None }, now);
        let rules = DuplicateRules { max_suggestions, ..DuplicateRules::default() };
        let found = suggest(&query, &candidates, &rules);
        prop_assert!(found.len() <= max_suggestions);
        let qualified = suggest(&query, &candidates, &DuplicateRules { max_suggestions: usize::MAX, ..rules.clone() });
        prop_assert_eq!(&qualified[..found.len()], &found[..], "the best ones are kept");
        for s in &found {
            prop_assert!(s.received_at < now && s.received_at >= now - TimeDelta::days(30));
            prop_assert!((0.0..=1.0).contains(&s.score));
            match s.distance_m {
                Some(d) => prop_assert!(d <= rules.max_distance_m && s.text_similarity >= rules.min_text_similarity),
                None => prop_assert!(s.text_similarity >= rules.min_text_similarity_without_distance),
            }
        }
        for pair in found.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            prop_assert!(
                a.score > b.score
                    || (a.score == b.score && (a.received_at, a.report_id) < (b.received_at, b.report_id)),
                "{:?} before {:?}", a, b
            );
        }
        let reversed: Vec<&Candidate> = candidates.iter().rev().collect();
        prop_assert_eq!(suggest(&query, reversed, &rules), found);
    }
}
