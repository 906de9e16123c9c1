//! The `[intake]` configuration section: where attachments live, the identity vault's
//! keys, the pepper of the phone lookup hash, and the submission rate limits (R19, R21.2).
//!
//! Embedded mode may leave the secrets out: the host then keeps generated ones in its data
//! directory. Suite mode must configure them, so that every replica seals and hashes alike.

use serde::Deserialize;

use crate::blob::BlobConfig;
use crate::vault::VaultConfig;

/// `[intake]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntakeConfig {
    /// `[intake.blobs]`: the attachment store; unset, files under `{data_dir}/blobs`.
    pub blobs: Option<BlobConfig>,
    /// `[intake.vault]`: the keys sealing reporters' identities (R20.1).
    pub vault: Option<VaultConfig>,
    /// Secret pepper of the phone lookup hash (at least 16 bytes of text).
    pub phone_pepper: Option<String>,
    /// `[intake.limits]`: how many reports one sender and one address may submit.
    pub limits: RateLimits,
    /// `[intake.uploads]`: how long an upload no report claimed is kept.
    pub uploads: UploadsConfig,
}

/// Uploads no report claimed: each is removed, bytes and row, this long after its upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadsConfig {
    /// Seconds an unclaimed upload is kept (at least 60): the time a submitter has between
    /// uploading its files and sending the report that lists them.
    pub unclaimed_ttl_secs: u64,
    /// Seconds between two sweeps of unclaimed uploads (at least 1).
    pub sweep_interval_secs: u64,
    /// Most uploads removed per sweep round; a full round goes on at once.
    pub sweep_batch: u32,
}

impl Default for UploadsConfig {
    fn default() -> Self {
        UploadsConfig { unclaimed_ttl_secs: 24 * 3600, sweep_interval_secs: 300, sweep_batch: 200 }
    }
}

/// One sliding-window limit: at most `max` requests per `window_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Requests granted per window; 0 switches the limit off.
    pub max: u32,
    /// The window, in seconds.
    pub window_secs: u64,
}

/// Submission limits (R19, R21.2): a flood from one sender or one address is refused with
/// RESOURCE_EXHAUSTED and a retry delay, and nothing is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Per channel sender: the Zalo/Facebook user, the e-mail address, the app account.
    pub per_sender: Limit,
    /// Per IP-equivalent key: the client address the portal or gateway reports.
    pub per_address: Limit,
    /// Attachment uploads per IP-equivalent key.
    pub uploads_per_address: Limit,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_sender: Limit { max: 20, window_secs: 3600 },
            per_address: Limit { max: 120, window_secs: 3600 },
            uploads_per_address: Limit { max: 600, window_secs: 3600 },
        }
    }
}

impl RateLimits {
    /// No limits (benchmarks and tests that submit in bulk from one sender).
    pub const OFF: RateLimits = RateLimits {
        per_sender: Limit { max: 0, window_secs: 1 },
        per_address: Limit { max: 0, window_secs: 1 },
        uploads_per_address: Limit { max: 0, window_secs: 1 },
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_reads_with_defaults() {
        let cfg: IntakeConfig = toml::from_str(
            r#"
            phone_pepper = "a-long-enough-pepper"
            [limits.per_sender]
            max = 5
            window_secs = 60
            "#,
        )
        .unwrap();
        assert_eq!(cfg.limits.per_sender, Limit { max: 5, window_secs: 60 });
        assert_eq!(cfg.limits.per_address, RateLimits::default().per_address);
        assert!(cfg.blobs.is_none() && cfg.vault.is_none());
    }

    /// The documented sample must stay a valid `[intake]` section with the defaults' limits.
    #[test]
    fn the_sample_section_parses() {
        #[derive(Deserialize)]
        struct File {
            intake: IntakeConfig,
        }
        let text = include_str!("../../../deploy/config/intake.sample.toml");
        let file: File = toml::from_str(text).unwrap();
        assert_eq!(file.intake.limits, RateLimits::default());
        assert_eq!(file.intake.uploads, UploadsConfig::default());
        let blobs = file.intake.blobs.expect("the sample shows the blob store");
        assert_eq!((blobs.max_image_bytes, blobs.max_video_bytes), (10 * 1024 * 1024, 200 * 1024 * 1024));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<IntakeConfig>("phone_peper = \"x\"").unwrap_err();
        assert!(err.to_string().contains("phone_peper"), "{err}");
    }
}
