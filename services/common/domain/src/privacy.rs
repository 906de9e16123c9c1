//! The personal-data guard of a public answer (R6.2, R10.3a, R20.2): before an answer is
//! published, its text is scanned for what would identify the reporter or anyone else —
//! the reporter's name (unless they chose to show it), with or without diacritics; any phone
//! number (+84 / 84 / 0 forms, digits spaced, dotted, dashed or in parentheses); any e-mail
//! address; any citizen ID number (12 digits); the reporter's own address. Each finding names
//! its span (byte offsets into the text, on character boundaries) and why, in Vietnamese and
//! English, so the operator can mend the text and publish.
//!
//! Pure and deliberately strict: a false alarm costs the operator one edit, a miss publishes
//! a citizen's data. Amounts ("25.000.000 đồng"), dates and short codes are not phones: a phone
//! is 10 digits starting 03/05/07/08/09 or 11 starting 02 once +84/84 is read as 0.

use std::ops::Range;

use crate::validation::vietnamese::{compose, letter};

/// What kind of personal data a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingKind {
    /// The reporter's name, who did not choose to show it.
    ReporterName,
    /// A phone number (anyone's).
    Phone,
    /// An e-mail address (anyone's).
    Email,
    /// A citizen ID number (căn cước, 12 digits).
    CitizenId,
    /// The reporter's own address.
    ReporterAddress,
}

impl FindingKind {
    /// The reason, in Vietnamese, shown beside the span.
    pub fn reason_vi(self) -> &'static str {
        match self {
            FindingKind::ReporterName => "có họ tên người phản ánh (người phản ánh không đồng ý công khai)",
            FindingKind::Phone => "có số điện thoại",
            FindingKind::Email => "có địa chỉ thư điện tử",
            FindingKind::CitizenId => "có số căn cước / định danh cá nhân",
            FindingKind::ReporterAddress => "có địa chỉ của người phản ánh",
        }
    }

    /// The reason, in English.
    pub fn reason_en(self) -> &'static str {
        match self {
            FindingKind::ReporterName => "names the reporter, who did not agree to show their name",
            FindingKind::Phone => "contains a phone number",
            FindingKind::Email => "contains an e-mail address",
            FindingKind::CitizenId => "contains a citizen ID number",
            FindingKind::ReporterAddress => "contains the reporter's address",
        }
    }

    /// A stable name (`reporter_name`, `phone` …) for APIs and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::ReporterName => "reporter_name",
            FindingKind::Phone => "phone",
            FindingKind::Email => "email",
            FindingKind::CitizenId => "citizen_id",
            FindingKind::ReporterAddress => "reporter_address",
        }
    }
}

/// One piece of personal data found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it is.
    pub kind: FindingKind,
    /// Where: byte offsets into the scanned text, on character boundaries.
    pub span: Range<usize>,
}

/// What the guard knows of the reporter (from the sealed identity; never logged).
#[derive(Debug, Clone, Copy, Default)]
pub struct Reporter<'a> {
    /// Their full name, if given.
    pub name: Option<&'a str>,
    /// Whether they chose to show their name with the answer.
    pub name_public: bool,
    /// Their own address, if given.
    pub address: Option<&'a str>,
}

/// Every piece of personal data in `text`, in order, none overlapping another (the earlier,
/// then the longer, wins). Empty: the text may be published.
pub fn scan(text: &str, reporter: &Reporter<'_>) -> Vec<Finding> {
    let mut found = numbers(text);
    found.extend(emails(text));
    let words = words(text);
    if let Some(name) = reporter.name.filter(|_| !reporter.name_public) {
        for form in name_forms(name) {
            found.extend(matches(&words, &form).map(|span| Finding { kind: FindingKind::ReporterName, span }));
        }
    }
    if let Some(address) = reporter.address {
        for form in address_forms(address) {
            found.extend(matches(&words, &form).map(|span| Finding { kind: FindingKind::ReporterAddress, span }));
        }
    }
    found.sort_by(|a, b| a.span.start.cmp(&b.span.start).then(b.span.end.cmp(&a.span.end)).then(a.kind.cmp(&b.kind)));
    let mut kept: Vec<Finding> = Vec::with_capacity(found.len());
    for finding in found {
        if kept.last().is_none_or(|last| finding.span.start >= last.span.end) {
            kept.push(finding);
        }
    }
    kept
}

/// Characters that may sit between the digit groups of one number.
fn is_digit_separator(c: char) -> bool {
    matches!(c, ' ' | '.' | '-' | '(' | ')' | '\u{00A0}')
}

/// Phones and citizen IDs. Digits are read in groups (a `+` may open the first); groups joined
/// by at most two separator characters belong to one run, and within a run the longest
/// consecutive groups that spell a phone or an ID are taken, left to right — so two numbers
/// written one after the other are both found.
fn numbers(text: &str) -> Vec<Finding> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let plus = chars[i].1 == '+' && chars.get(i + 1).is_some_and(|(_, d)| d.is_ascii_digit());
        if !(chars[i].1.is_ascii_digit() || plus) {
            i += 1;
            continue;
        }
        // One run: its groups as (span, digits), the first maybe after a '+'.
        let mut groups: Vec<(Range<usize>, String)> = Vec::new();
        let mut j = if plus { i + 1 } else { i };
        let mut group_start = chars[i].0;
        loop {
            let mut digits = String::new();
            let mut end = group_start;
            while let Some((at, d)) = chars.get(j).filter(|(_, d)| d.is_ascii_digit()) {
                digits.push(*d);
                end = at + d.len_utf8();
                j += 1;
            }
            groups.push((group_start..end, digits));
            let gap = chars[j..].iter().take(3).take_while(|(_, c)| is_digit_separator(*c)).count();
            match chars.get(j + gap) {
                Some((at, d)) if (1..=2).contains(&gap) && d.is_ascii_digit() => {
                    group_start = *at;
                    j += gap;
                }
                _ => break,
            }
        }
        let mut g = 0;
        while g < groups.len() {
            let mut taken = None;
            let mut len = 0;
            for k in g..groups.len() {
                len += groups[k].1.len();
                if len > 12 {
                    break;
                }
                let window: Vec<&str> = groups[g..=k].iter().map(|(_, d)| d.as_str()).collect();
                if let Some(kind) = number_kind(&window, plus && g == 0) {
                    taken = Some((k, kind));
                }
            }
            match taken {
                Some((k, kind)) => {
                    found.push(Finding { kind, span: groups[g].0.start..groups[k].0.end });
                    g = k + 1;
                }
                None => g += 1,
            }
        }
        i = j.max(i + 1);
    }
    found
}

/// Whether consecutive digit groups spell a phone or a citizen ID. An ID is 12 digits written
/// as one group or in even groups (3-3-3-3, 4-4-4); a phone any grouping of its digits.
fn number_kind(groups: &[&str], plus: bool) -> Option<FindingKind> {
    let digits = groups.concat();
    let even = |n: usize| groups.iter().all(|g| g.len() == n);
    let id_grouping = groups.len() == 1 || (groups.len() == 4 && even(3)) || (groups.len() == 3 && even(4));
    if digits.len() == 12 && !(plus || digits.starts_with("84")) && id_grouping {
        return Some(FindingKind::CitizenId);
    }
    let national = match digits.strip_prefix("84") {
        Some(rest) if plus || rest.len() == 9 || rest.len() == 10 => format!("0{rest}"),
        _ if plus => return None,
        _ => digits.to_owned(),
    };
    let mobile = national.len() == 10 && matches!(national.as_bytes().get(1), Some(b'3' | b'5' | b'7' | b'8' | b'9'));
    let landline = national.len() == 11 && national.starts_with("02");
    (national.starts_with('0') && (mobile || landline)).then_some(FindingKind::Phone)
}

/// E-mail addresses: `local@domain.tld`.
fn emails(text: &str) -> Vec<Finding> {
    let local = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-');
    let domain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-');
    let mut found = Vec::new();
    for (at, _) in text.match_indices('@') {
        let start = text[..at].char_indices().rev().take_while(|(_, c)| local(*c)).last().map(|(i, _)| i);
        let Some(start) = start else { continue };
        let right = &text[at + 1..];
        let len = right.char_indices().take_while(|(_, c)| domain(*c)).last().map(|(i, c)| i + c.len_utf8());
        let Some(len) = len else { continue };
        let host = right[..len].trim_end_matches(['.', '-']);
        let tld = host.rsplit('.').next().unwrap_or("");
        if host.contains('.') && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()) {
            found.push(Finding { kind: FindingKind::Email, span: start..at + 1 + host.len() });
        }
    }
    found
}

/// A word of the text: its span and its folded form (lowercase, Vietnamese letters reduced to
/// their base, đ → d), so "Nguyen Van An", "NGUYỄN VĂN AN" and "nguyễn văn an" compare equal.
struct Word {
    span: Range<usize>,
    folded: String,
}

/// Whether `c` is a combining mark (Vietnamese typed with separate accents).
fn is_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}')
}

fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        let inside = c.is_alphanumeric() || is_mark(c);
        match (inside, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(Word { span: s..i, folded: fold(&text[s..i]) });
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// A word folded for comparison.
fn fold(word: &str) -> String {
    compose(word)
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| letter(c).map_or(c, |l| l.base))
        .filter(|c| !is_mark(*c))
        .collect()
}

/// The folded words of a phrase.
fn folded_words(phrase: &str) -> Vec<String> {
    words(phrase).into_iter().map(|w| w.folded).collect()
}

/// The forms a name is recognised in: the full name, and for three words or more the family
/// and given name alone ("Nguyễn An" for "Nguyễn Văn An"). One word alone is too common to flag.
fn name_forms(name: &str) -> Vec<Vec<String>> {
    let full = folded_words(name);
    let mut forms = Vec::new();
    if full.len() >= 3 {
        forms.push(vec![full[0].clone(), full[full.len() - 1].clone()]);
    }
    if full.len() >= 2 {
        forms.push(full);
    }
    forms
}

/// The forms an address is recognised in: its first part (house number and street, up to the
/// first comma), with and without a leading "số" / "số nhà"; at least two words.
fn address_forms(address: &str) -> Vec<Vec<String>> {
    let first = address.split([',', ';', '\n']).next().unwrap_or("");
    let line = folded_words(first);
    let mut forms = vec![line.clone()];
    for prefix in [&["so", "nha"][..], &["so"][..], &["sn"][..]] {
        if line.len() > prefix.len() && line.iter().zip(prefix).all(|(w, p)| w == p) {
            forms.push(line[prefix.len()..].to_vec());
        }
    }
    forms.retain(|f| f.len() >= 2);
    forms
}

/// The spans where the words `form` occur in a row in `words`.
fn matches<'a>(words: &'a [Word], form: &'a [String]) -> impl Iterator<Item = Range<usize>> + 'a {
    let n = form.len();
    (0..words.len().saturating_sub(n.saturating_sub(1)))
        .filter(move |&i| n > 0 && words[i..i + n].iter().zip(form).all(|(w, f)| &w.folded == f))
        .map(move |i| words[i].span.start..words[i + n - 1].span.end)
}

#[cfg(test)]
mod tests;
