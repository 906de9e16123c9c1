//! `[routing]`: the routing service's settings, every one with a default.

use paht_domain::duplicates::DuplicateRules;
use serde::{Deserialize, Serialize};

use crate::deadlines::SweeperConfig;

/// The routing service's section of the configuration file (`[routing]`, `PAHT_ROUTING__…`).
///
/// ```toml
/// [routing]
/// agency_suggestions = 5          # SuggestAgencies when the request asks for 0
///
/// [routing.duplicates]            # R8.2c, paht_domain::duplicates::DuplicateRules
/// max_distance_m = 500.0          # radius
/// lookback_days = 30              # window
/// max_suggestions = 5             # limit when the request asks for 0
///
/// [routing.sweeper]               # deadline reminders (R13.1, R14.4)
/// interval_secs = 15
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    /// How many agencies SuggestAgencies returns when the request asks for 0 (default 5).
    pub agency_suggestions: u32,
    /// `[routing.duplicates]`: radius, look-back window, thresholds, weights and the default
    /// number of suggestions of SuggestDuplicates (R8.2c).
    pub duplicates: DuplicateRules,
    /// `[routing.sweeper]`: the deadline sweeper (R13.1, R14.4).
    pub sweeper: SweeperConfig,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            agency_suggestions: 5,
            duplicates: DuplicateRules::default(),
            sweeper: SweeperConfig::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_section_gives_the_defaults() {
        let config: RoutingConfig = toml::from_str("").unwrap();
        assert_eq!(config, RoutingConfig::default());
        assert_eq!(config.duplicates.max_distance_m, 500.0);
        assert_eq!(config.duplicates.lookback_days, 30);
        assert_eq!(config.duplicates.max_suggestions, 5);
        assert_eq!(config.agency_suggestions, 5);
    }

    // R8.2c: radius, window and limit of the duplicate search are configurable.
    #[test]
    fn a_partial_section_keeps_the_other_defaults_r8_2c() {
        let config: RoutingConfig = toml::from_str(
            "agency_suggestions = 3\n[duplicates]\nmax_distance_m = 250.0\nlookback_days = 7\n[sweeper]\ninterval_secs = 5\n",
        )
        .unwrap();
        assert_eq!(config.agency_suggestions, 3);
        assert_eq!((config.duplicates.max_distance_m, config.duplicates.lookback_days), (250.0, 7));
        assert_eq!(config.duplicates.max_suggestions, 5);
        assert_eq!(config.sweeper.interval_secs, 5);
        assert!(toml::from_str::<RoutingConfig>("radius = 1").is_err(), "typos are refused");
    }
}
