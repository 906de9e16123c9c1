//! Topic matching with RabbitMQ's semantics.
//!
//! Keys and patterns are split on `.` into words, an empty string being zero words (as the
//! broker does: `""` is matched by `#` and by `""`, not by `*`); empty words between dots are
//! words. In a pattern, `*` matches exactly one word and `#` zero or more words.

/// Whether `routing_key` matches the binding `pattern`.
pub fn matches(pattern: &str, routing_key: &str) -> bool {
    let pattern = words(pattern);
    let key = words(routing_key);
    // reachable[j]: the pattern words seen so far can consume exactly the first j key words.
    let mut reachable = vec![false; key.len() + 1];
    reachable[0] = true;
    for word in pattern {
        let mut next = vec![false; key.len() + 1];
        match word {
            "#" => {
                // Zero or more words: every position at or after a reachable one.
                let mut seen = false;
                for (j, slot) in next.iter_mut().enumerate() {
                    seen |= reachable[j];
                    *slot = seen;
                }
            }
            "*" => {
                next[1..].copy_from_slice(&reachable[..key.len()]);
            }
            literal => {
                for j in 0..key.len() {
                    next[j + 1] = reachable[j] && key[j] == literal;
                }
            }
        }
        reachable = next;
    }
    reachable[key.len()]
}

fn words(text: &str) -> Vec<&str> {
    if text.is_empty() { Vec::new() } else { text.split('.').collect() }
}

/// (pattern, routing key, expected); the RabbitMQ tests check that the broker agrees on every row.
#[cfg(test)]
pub(crate) const CASES: &[(&str, &str, bool)] = &[
    // literal
    ("report.received", "report.received", true),
    ("report.received", "report.refused", false),
    ("report.received", "report.received.late", false),
    ("report.received", "report", false),
    ("report", "report", true),
    // `*`: exactly one word
    ("report.*", "report.received", true),
    ("report.*", "report", false),
    ("report.*", "report.received.late", false),
    ("*.received", "report.received", true),
    ("*.received", "received", false),
    ("*", "report", true),
    ("*", "report.received", false),
    ("*", "", false),
    ("*.*", "a.b", true),
    ("*.*", "a", false),
    ("a.*.c", "a.b.c", true),
    ("a.*.c", "a.c", false),
    ("a.*.c", "a.b.b.c", false),
    // `#`: zero or more words
    ("report.#", "report", true),
    ("report.#", "report.received", true),
    ("report.#", "report.received.late.again", true),
    ("report.#", "reports.received", false),
    ("report.#", "assignment.report", false),
    ("#", "", true),
    ("#", "report", true),
    ("#", "report.received.late", true),
    ("#.received", "received", true),
    ("#.received", "report.received", true),
    ("#.received", "a.b.c.received", true),
    ("#.received", "report.received.late", false),
    ("a.#.c", "a.c", true),
    ("a.#.c", "a.b.c", true),
    ("a.#.c", "a.b.x.c", true),
    ("a.#.c", "a.b.x.d", false),
    ("#.#", "a.b", true),
    ("#.#", "", true),
    ("#.*", "", false),
    ("#.*", "a", true),
    ("#.*", "a.b.c", true),
    ("*.#", "a", true),
    ("*.#", "", false),
    ("#.b.#", "b", true),
    ("#.b.#", "a.b.c", true),
    ("#.b.#", "a.c", false),
    ("a.#.b.#.c", "a.b.c", true),
    ("a.#.b.#.c", "a.x.b.y.z.c", true),
    ("a.#.b.#.c", "a.x.y.c", false),
    ("*.#.*", "a", false),
    ("*.#.*", "a.b", true),
    ("*.#.*", "a.b.c.d", true),
    // empty keys and empty words
    ("", "", true),
    ("", "a", false),
    ("a", "", false),
    ("a..b", "a..b", true),
    ("a.*.b", "a..b", true),
    ("a.#", "a.", true),
    ("*.*", "a.", true),
    ("*", "a.", false),
    // `*` and `#` are only special as whole words
    ("a*", "ab", false),
    ("a*", "a*", true),
    ("a#", "a.b", false),
    ("assignment.*", "assignment.sent_back", true),
    ("deadline.*", "deadline.due_soon", true),
];

#[cfg(test)]
mod tests {
    use super::{CASES, matches};

    #[test]
    fn topic_matching_follows_amqp_semantics() {
        for &(pattern, key, expected) in CASES {
            assert_eq!(matches(pattern, key), expected, "pattern {pattern:?} vs key {key:?}");
        }
    }

    #[test]
    fn many_hashes_stay_fast() {
        // A naive backtracking matcher is exponential here.
        let pattern = "#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.z";
        let key = vec!["a"; 60].join(".");
        assert!(!matches(pattern, &key));
        assert!(matches(pattern, &format!("{key}.z")));
    }
}
