//! The `[publication]` section.

use serde::Deserialize;

/// Publication's settings.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublicationConfig {
    /// The key every answer's rating secret is derived from (at least 32 bytes; shared by every
    /// publication replica and the notifier). Embedded mode generates one in the data directory
    /// (`rating-key`); suite mode needs it configured. Changing it invalidates the secrets of the
    /// answers already sent.
    pub rating_key: Option<String>,
    /// Working days the IOC has to check an "unsatisfied" rating (R11.2; the regulation sets no
    /// figure, the province does).
    pub follow_up_working_days: u32,
}

/// The rating key never shows.
impl std::fmt::Debug for PublicationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicationConfig")
            .field("rating_key", &self.rating_key.as_ref().map(|_| "…"))
            .field("follow_up_working_days", &self.follow_up_working_days)
            .finish()
    }
}

impl Default for PublicationConfig {
    fn default() -> Self {
        PublicationConfig { rating_key: None, follow_up_working_days: 2 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented sample must stay a valid `[publication]` section with the defaults, and
    /// give no rating key (a secret comes from the environment).
    #[test]
    fn the_sample_section_parses() {
        #[derive(Deserialize)]
        struct File {
            publication: PublicationConfig,
        }
        let text = include_str!("../../../deploy/config/publication.sample.toml");
        let file: File = toml::from_str(text).unwrap();
        assert_eq!(file.publication, PublicationConfig::default());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<PublicationConfig>("follow_up_workdays = 3").unwrap_err();
        assert!(err.to_string().contains("follow_up_workdays"), "{err}");
    }
}
