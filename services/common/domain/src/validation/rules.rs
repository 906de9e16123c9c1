//! The limits a submission is checked against, with defaults that suit the province's
//! portal, app and chat channels. Every limit can be changed from configuration; a partial
//! configuration keeps the defaults for what it does not name.

use serde::{Deserialize, Serialize};

/// One mebibyte, the unit attachment limits are thought in.
pub const MIB: u64 = 1024 * 1024;

/// What a submission must satisfy (R6.1, R7.3a). `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubmissionRules {
    /// Fewest characters of content (default 15): about three words, the least that says what
    /// happened ("Cống bị nghẹt ở chợ"); shorter texts are neither clear (R6.1b) nor enough
    /// for the language check to judge.
    pub content_min_chars: usize,
    /// Most characters of content (default 5000, about two typed pages): a field report is a
    /// description, not a dossier; the cap bounds storage and the work of checking (R19).
    pub content_max_chars: usize,
    /// Most characters of the optional title (default 200).
    pub title_max_chars: usize,
    /// Fewest characters of the reporter's name (default 2; "Hà" is a real given name, one
    /// letter is a placeholder).
    pub name_min_chars: usize,
    /// Most characters of the reporter's name (default 150: organisations' full names are long).
    pub name_max_chars: usize,
    /// Fewest characters of an address (default 5: "Ấp 3" is not enough to find anyone; "Ấp 3,
    /// xã Long Hồ" is).
    pub address_min_chars: usize,
    /// Most characters of an address (default 300).
    pub address_max_chars: usize,
    /// Whether the event time must be given (default true: R6.1b wants the time clear).
    /// A channel that cannot ask for it (e-mail, Facebook messages) passes rules with `false`;
    /// the event time is then taken to be the time the report was received, and marked so.
    pub event_time_required: bool,
    /// Oldest accepted event, in days before receipt (default 90). A field report is about a
    /// current situation; a quarter covers reports sent late and long-standing problems, and
    /// still catches a wrong year or a phone clock reset to 1970.
    pub max_event_age_days: u32,
    /// How far in the future an event time may lie, in seconds (default 600). Phone clocks
    /// drift by minutes; an hour or more means a wrong date or a time zone mix-up (a local
    /// time sent as UTC lands 7 hours ahead), which must be caught, not stored.
    pub future_tolerance_secs: u32,
    /// Whether an administrative unit code alone locates the event (default false): a
    /// commune is not a "clear and precise" place (R6.1b); coordinates or an address are
    /// needed, and the unit helps routing.
    pub unit_code_alone_locates: bool,
    /// Fewest images or videos (default 0): R6.1b lists images and video as what a report
    /// contains, but a phone call or an e-mail may have none; a portal that insists sets 1.
    pub min_media: usize,
    /// Most attachments (default 10): enough photos and clips of one scene, a bound on the
    /// upload a single report can cause.
    pub max_attachments: usize,
    /// Photos: JPEG, PNG, WebP, and HEIC/HEIF from iPhones; 10 MiB each (a 12–50 MP phone
    /// photo is 2–8 MB).
    pub image: KindRule,
    /// Videos: MP4, QuickTime (iPhone), WebM, 3GPP (older Android phones); 200 MiB each,
    /// about 1–2 minutes of 1080p, which is more than a scene needs.
    pub video: KindRule,
    /// Documents: PDF only (an organisation's letter), 10 MiB each.
    pub document: KindRule,
}

/// Accepted media types and the size limit for one kind of attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindRule {
    /// Accepted media types, lowercase, without parameters (e.g. `image/jpeg`); empty turns
    /// the kind off.
    pub content_types: Vec<String>,
    /// Largest accepted file, in bytes.
    pub max_bytes: u64,
}

impl KindRule {
    fn new(content_types: &[&str], max_bytes: u64) -> Self {
        Self { content_types: content_types.iter().map(|t| (*t).to_owned()).collect(), max_bytes }
    }

    /// True if this kind accepts the (normalised) media type.
    pub fn accepts(&self, content_type: &str) -> bool {
        self.content_types.iter().any(|t| t.eq_ignore_ascii_case(content_type))
    }
}

impl Default for SubmissionRules {
    fn default() -> Self {
        Self {
            content_min_chars: 15,
            content_max_chars: 5000,
            title_max_chars: 200,
            name_min_chars: 2,
            name_max_chars: 150,
            address_min_chars: 5,
            address_max_chars: 300,
            event_time_required: true,
            max_event_age_days: 90,
            future_tolerance_secs: 600,
            unit_code_alone_locates: false,
            min_media: 0,
            max_attachments: 10,
            image: KindRule::new(&["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"], 10 * MIB),
            video: KindRule::new(&["video/mp4", "video/quicktime", "video/webm", "video/3gpp"], 200 * MIB),
            document: KindRule::new(&["application/pdf"], 10 * MIB),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde::de::value::{Error, MapDeserializer};

    use super::*;

    // Proves R7.3a.
    #[test]
    fn partial_configuration_keeps_other_defaults_r7_3a() {
        let entries = vec![("content_min_chars", 30_u64), ("max_event_age_days", 30)];
        let rules = SubmissionRules::deserialize(MapDeserializer::<_, Error>::new(entries.into_iter())).unwrap();
        assert_eq!(rules.content_min_chars, 30);
        assert_eq!(rules.max_event_age_days, 30);
        assert_eq!(rules.content_max_chars, 5000);
        assert_eq!(rules.video.max_bytes, 200 * MIB);
    }

    // Proves R7.3a.
    #[test]
    fn unknown_settings_are_refused_r7_3a() {
        let entries = vec![("content_min_char", 30_u64)];
        let result = SubmissionRules::deserialize(MapDeserializer::<_, Error>::new(entries.into_iter()));
        assert!(result.is_err());
    }
}
