//! Realistic report pairs from Vĩnh Long and what the duplicate search makes of them (R8.2c).

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::ids::ReportId;
use crate::validation::{Coordinates, Lang};

/// Phạm Thái Bường street, Vĩnh Long city.
const HERE: (f64, f64) = (10.2537, 105.9722);
/// Metres per degree of latitude.
const M_PER_DEG: f64 = 111_195.0;

pub(super) fn id(n: u128) -> ReportId {
    ReportId::from_uuid(Uuid::from_u128(n))
}

/// A point `metres` north of [`HERE`].
pub(super) fn north(metres: f64) -> Option<Coordinates> {
    Some(Coordinates::new(HERE.0 + metres / M_PER_DEG, HERE.1).unwrap())
}

/// 10 March 2026, 08:00 UTC, plus `hours`.
pub(super) fn time(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 8, 0, 0).unwrap() + TimeDelta::hours(hours)
}

const POTHOLE: &str = "Có ổ gà lớn giữa đường Phạm Thái Bường, trước nhà số 45, xe máy đi qua rất nguy hiểm.";
const POTHOLE_ASCII: &str = "co o ga lon giua duong pham thai buong truoc nha so 45 xe may di qua rat nguy hiem";
const POTHOLE_REORDERED: &str = "Đường Phạm Thái Bường trước nhà số 45 có ổ gà lớn, xe máy đi qua rất nguy hiểm";
const POTHOLE_SHORT: &str = "Ổ gà lớn trước nhà 45 Phạm Thái Bường, nguy hiểm cho xe máy";
const POTHOLE_RETOLD: &str =
    "Mặt đường Phạm Thái Bường bị hư, xuất hiện ổ gà sâu gần nhà số 45, người đi xe máy dễ té ngã";
const LIGHTS_SAME_STREET: &str = "Đèn chiếu sáng trên đường Phạm Thái Bường không sáng nhiều đêm liền, khu vực tối om";
const KARAOKE_SAME_PLACE: &str = "Quán karaoke số 45 đường Phạm Thái Bường hát lớn đến nửa đêm, gây ồn ào";
const POTHOLE_ELSEWHERE: &str = "Có ổ gà lớn giữa đường Nguyễn Huệ, trước chợ Vĩnh Long, xe máy đi qua rất nguy hiểm.";
const FLOOD: &str = "Đường Nguyễn Huệ ngập nước sau mưa, nước tràn vào nhà dân";
const FLOOD_AGAIN: &str = "Sau cơn mưa đường Nguyễn Huệ bị ngập sâu, nước tràn vào nhà";
const GARBAGE: &str = "Rác thải sinh hoạt đổ bừa bãi ở đầu hẻm 12 đường 2 Tháng 9, bốc mùi hôi thối";
const GARBAGE_AGAIN: &str = "Đầu hẻm 12 đường 2/9 có bãi rác tự phát bốc mùi hôi thối, người dân đổ rác bừa bãi";
const TREE_DOWN: &str = "Cây xanh bị gãy đổ chắn ngang đường Lê Lợi";
const TRAFFIC_LIGHT: &str = "Đèn giao thông ở ngã tư Lê Lợi bị hỏng";

// Proves R8.2c: the same complaint scores high however it is written; another problem at
// the same place scores below the default threshold.
#[test]
fn realistic_pairs_score_as_an_operator_would_judge_r8_2c() {
    let threshold = DuplicateRules::default().min_text_similarity;
    // (what, a, b, least, most, suggested at the default threshold)
    let table: &[(&str, &str, &str, f64, f64, bool)] = &[
        ("same pothole without diacritics", POTHOLE, POTHOLE_ASCII, 1.0, 1.0, true),
        ("same pothole in capitals", POTHOLE, &POTHOLE.to_uppercase(), 1.0, 1.0, true),
        ("same pothole, phrases reordered", POTHOLE, POTHOLE_REORDERED, 0.85, 0.99, true),
        ("same pothole, short follow-up", POTHOLE, POTHOLE_SHORT, 0.55, 0.8, true),
        ("same pothole, retold", POTHOLE, POTHOLE_RETOLD, 0.4, 0.6, true),
        ("same flooding, retold", FLOOD, FLOOD_AGAIN, 0.55, 0.8, true),
        ("same dump, retold", GARBAGE, GARBAGE_AGAIN, 0.5, 0.75, true),
        ("street lights on the same street", POTHOLE, LIGHTS_SAME_STREET, 0.0, 0.25, false),
        ("karaoke at the same house number", POTHOLE, KARAOKE_SAME_PLACE, 0.25, 0.35, false),
        ("fallen tree and broken traffic light on Lê Lợi", TREE_DOWN, TRAFFIC_LIGHT, 0.0, 0.25, false),
        // Suggested by text; the distance (3 km) is what refuses it.
        ("a pothole on another street", POTHOLE, POTHOLE_ELSEWHERE, 0.55, 0.7, true),
    ];
    for (what, a, b, least, most, suggested) in table {
        let s = text_similarity(a, b);
        assert!((*least..=*most).contains(&s), "{what}: {s:.3} not in {least}..={most}");
        assert_eq!(s, text_similarity(b, a), "{what}: symmetric");
        assert_eq!(s >= threshold, *suggested, "{what}: {s:.3} against {threshold}");
    }
}

// Proves R8.2c: syllable pairs tell "ổ gà" (pothole) from "gà" (chicken), although the
// folded "ổ" is the function word "ở" and does not count on its own.
#[test]
fn compounds_count_through_syllable_pairs_r8_2c() {
    let pothole = Fingerprint::of("Xuất hiện ổ gà trên đường Lê Lợi");
    let chicken = Fingerprint::of("Xuất hiện gà trên đường Lê Lợi");
    assert_eq!(pothole.unigrams(), chicken.unigrams());
    assert!(pothole.bigrams().contains(&"o ga".to_owned()));
    let s = pothole.similarity(&chicken);
    assert!(s > 0.8 && s < 0.9, "{s}");
}

// Proves R8.2c: text typed with combining marks is the same text.
#[test]
fn decomposed_text_is_the_same_text_r8_2c() {
    let nfd = "Đu\u{031B}o\u{031B}\u{0300}ng Nguye\u{0302}\u{0303}n Hue\u{0302}\u{0323} nga\u{0302}\u{0323}p nu\u{031B}o\u{031B}\u{0301}c";
    assert_eq!(text_similarity(nfd, "Đường Nguyễn Huệ ngập nước"), 1.0);
}

fn candidates() -> Vec<Candidate> {
    vec![
        Candidate::new(id(1), POTHOLE, north(0.0), time(0)),
        Candidate::new(id(2), LIGHTS_SAME_STREET, north(30.0), time(1)),
        Candidate::new(id(3), KARAOKE_SAME_PLACE, north(0.0), time(2)),
        // About 3 km away: the same kind of problem, another pothole.
        Candidate::new(id(4), POTHOLE_ELSEWHERE, north(3000.0), time(3)),
    ]
}

// Proves R8.2c: the pothole reported again without diacritics 120 m away is found, and
// only it: not other problems on the same street, not a pothole on another street.
#[test]
fn finds_the_same_pothole_and_nothing_else_r8_2c() {
    let query = DuplicateQuery::new(POTHOLE_ASCII, north(120.0), time(48));
    let found = suggest(&query, &candidates(), &DuplicateRules::default());
    assert_eq!(found.len(), 1, "{found:#?}");
    let s = &found[0];
    assert_eq!(s.report_id, id(1));
    assert_eq!(s.text_similarity, 1.0);
    assert!((s.distance_m.unwrap() - 120.0).abs() < 0.5);
    // 0.7 × 1.0 + 0.3 × (1 − 120 / 500)
    assert!((s.score - 0.928).abs() < 1e-3, "{}", s.score);
    assert_eq!(s.reason.text(Lang::Vi), "cách 120 m, nội dung giống 100%");
    assert_eq!(s.reason.text(Lang::En), "120 m away, text 100% similar");
}

// Proves R8.2c: retellings are ranked by score, the closest retelling first.
#[test]
fn retellings_are_ranked_by_score_r8_2c() {
    let earlier = vec![
        Candidate::new(id(11), POTHOLE_RETOLD, north(10.0), time(0)),
        Candidate::new(id(12), POTHOLE, north(200.0), time(1)),
        Candidate::new(id(13), POTHOLE_SHORT, north(50.0), time(2)),
    ];
    let query = DuplicateQuery::new(POTHOLE_REORDERED, north(0.0), time(30));
    let found = suggest(&query, &earlier, &DuplicateRules::default());
    let ids: Vec<_> = found.iter().map(|s| s.report_id).collect();
    assert_eq!(ids, [id(12), id(13), id(11)], "{found:#?}");
    assert!(found.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(found[0].reason.vi.starts_with("cách 200 m, nội dung giống "), "{}", found[0].reason.vi);
}

// Proves R8.2c: a report is only a duplicate of earlier ones, within the look-back window.
#[test]
fn only_earlier_reports_within_the_window_r8_2c() {
    let now = time(24 * 40);
    let earlier = vec![
        Candidate::new(id(21), POTHOLE, north(0.0), now + TimeDelta::hours(1)),
        Candidate::new(id(22), POTHOLE, north(0.0), now),
        Candidate::new(id(23), POTHOLE, north(0.0), now - TimeDelta::days(29)),
        Candidate::new(id(24), POTHOLE, north(0.0), now - TimeDelta::days(31)),
        Candidate::new(id(25), POTHOLE, north(0.0), now - TimeDelta::days(30)),
    ];
    let query = DuplicateQuery::new(POTHOLE, north(0.0), now);
    let found = suggest(&query, &earlier, &DuplicateRules::default());
    let ids: Vec<_> = found.iter().map(|s| s.report_id).collect();
    // Same score: the earlier report, the original case, comes first.
    assert_eq!(ids, [id(25), id(23)]);
}

// Proves R8.2c: without coordinates on either side, text alone decides, with a stricter
// threshold and no credit for nearness.
#[test]
fn without_coordinates_text_decides_with_a_penalty_r8_2c() {
    let earlier = vec![
        Candidate::new(id(31), POTHOLE, None, time(0)),
        Candidate::new(id(32), POTHOLE_RETOLD, None, time(1)),
        Candidate::new(id(33), POTHOLE_REORDERED, north(0.0), time(2)),
        // The same words about another street: only the street's name tells them apart.
        Candidate::new(id(35), POTHOLE_ELSEWHERE, None, time(3)),
    ];
    let query = DuplicateQuery::new(POTHOLE_ASCII, None, time(10));
    let found = suggest(&query, &earlier, &DuplicateRules::default());
    let ids: Vec<_> = found.iter().map(|s| s.report_id).collect();
    assert_eq!(ids, [id(31), id(33)], "retelling and other street are too loose without a place: {found:#?}");
    assert!(found.iter().all(|s| s.distance_m.is_none()));
    assert!((found[0].score - 0.7).abs() < 1e-12, "text weight share only");
    assert_eq!(found[0].reason.vi, "chưa rõ khoảng cách (thiếu tọa độ), nội dung giống 100%");
    assert_eq!(found[0].reason.en, "distance unknown (no coordinates), text 100% similar");
    // The same text known to be 400 m away still ranks above the unlocated one.
    let located = Candidate::new(id(34), POTHOLE, north(400.0), time(0));
    let query = DuplicateQuery::new(POTHOLE, north(0.0), time(10));
    let both = suggest(&query, [&earlier[0], &located], &DuplicateRules::default());
    assert_eq!(both.iter().map(|s| s.report_id).collect::<Vec<_>>(), [id(34), id(31)]);
}

// Proves R8.2c: at most `max_suggestions`, ties broken by time then id whatever the input order.
#[test]
fn suggestions_are_bounded_and_ties_are_deterministic_r8_2c() {
    let mut earlier: Vec<Candidate> =
        (0..8u8).map(|n| Candidate::new(id(100 - u128::from(n)), FLOOD, north(50.0), time(i64::from(n % 3)))).collect();
    let query = DuplicateQuery::new(FLOOD_AGAIN, north(0.0), time(5));
    let rules = DuplicateRules { max_suggestions: 4, ..DuplicateRules::default() };
    let found = suggest(&query, &earlier, &rules);
    let keys: Vec<_> = found.iter().map(|s| (s.received_at, s.report_id)).collect();
    // Times 0,1,2,0,1,2,0,1 for ids 100..93: time 0 holds ids 100, 97, 94.
    assert_eq!(keys, [(time(0), id(94)), (time(0), id(97)), (time(0), id(100)), (time(1), id(93))]);
    earlier.reverse();
    assert_eq!(suggest(&query, &earlier, &rules), found);
    let none = DuplicateRules { max_suggestions: 0, ..DuplicateRules::default() };
    assert!(suggest(&query, &earlier, &none).is_empty());
}

// Proves R8.2c: texts with nothing but function words are never suggested.
#[test]
fn texts_without_content_match_nothing_r8_2c() {
    let earlier = vec![Candidate::new(id(41), "và của là có các những", north(0.0), time(0))];
    let query = DuplicateQuery::new("và của là có các những", north(0.0), time(1));
    assert!(suggest(&query, &earlier, &DuplicateRules::default()).is_empty());
}

// Proves R8.2c: distances of a kilometre and more read in kilometres.
#[test]
fn far_matches_read_in_kilometres_r8_2c() {
    let rules = DuplicateRules { max_distance_m: 5000.0, ..DuplicateRules::default() };
    let earlier = vec![Candidate::new(id(51), FLOOD, north(1234.0), time(0))];
    let found = suggest(&DuplicateQuery::new(FLOOD, north(0.0), time(1)), &earlier, &rules);
    assert_eq!(found[0].reason.vi, "cách 1,2 km, nội dung giống 100%");
    assert_eq!(found[0].reason.en, "1.2 km away, text 100% similar");
}
