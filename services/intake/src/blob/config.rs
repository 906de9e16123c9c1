//! `[intake.blobs]`: the object store behind the attachments and the size limit of each kind.

use serde::Deserialize;

use super::MIB;

/// Where attachments are stored and how large each kind may be.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct BlobConfig {
    /// The object store that holds the bytes.
    pub backend: BlobBackend,
    /// Largest accepted photo, in bytes.
    pub max_image_bytes: u64,
    /// Largest accepted video, in bytes.
    pub max_video_bytes: u64,
    /// Largest accepted PDF, in bytes.
    pub max_document_bytes: u64,
}

impl Default for BlobConfig {
    fn default() -> Self {
        Self {
            backend: BlobBackend::default(),
            max_image_bytes: 10 * MIB,
            max_video_bytes: 200 * MIB,
            max_document_bytes: 10 * MIB,
        }
    }
}

/// The object store behind [`BlobStore`], chosen by `kind = "local" | "s3"`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BlobBackend {
    /// Files under a directory: embedded mode, development and tests.
    Local {
        /// Directory holding the objects; created when missing.
        root: String,
    },
    /// An S3-compatible service (AWS S3, MinIO, Ceph RGW, …).
    S3 {
        /// Bucket name.
        bucket: String,
        /// Endpoint URL for a non-AWS service, e.g. `http://minio:9000`; `None` means AWS.
        #[serde(default)]
        endpoint: Option<String>,
        /// Region; S3-compatible services usually accept any value.
        #[serde(default = "default_region")]
        region: String,
        /// Static access key; `None` falls back to instance or web-identity credentials.
        #[serde(default)]
        access_key_id: Option<String>,
        /// Static secret key, paired with `access_key_id`.
        #[serde(default)]
        secret_access_key: Option<String>,
        /// Allow a plain-HTTP endpoint (a MinIO on the same host); never for a remote service.
        #[serde(default)]
        allow_http: bool,
    },
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

impl Default for BlobBackend {
    fn default() -> Self {
        Self::Local { root: "./data/blobs".to_owned() }
    }
}

// Hand-written so that the secret key never reaches a log through `{:?}` of the config.
impl std::fmt::Debug for BlobBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local { root } => f.debug_struct("Local").field("root", root).finish(),
            Self::S3 { bucket, endpoint, region, access_key_id, secret_access_key, allow_http } => f
                .debug_struct("S3")
                .field("bucket", bucket)
                .field("endpoint", endpoint)
                .field("region", region)
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &secret_access_key.as_ref().map(|_| "<redacted>"))
                .field("allow_http", allow_http)
                .finish(),
        }
    }
}
