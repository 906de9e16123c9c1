//! Attachment storage: streams a citizen's photo, video or PDF into an object store while checking,
//! as the bytes arrive, its size limit, its real type and its checksum, so a refused upload leaves
//! nothing behind.
//!
//! - [`BlobConfig`]: where the bytes live and the size limit of each kind;
//! - [`BlobStore`]: put (streamed and checked), get, delete;
//! - [`BlobError`]: why an upload was refused, naming the request field at fault.

mod config;
mod error;
mod kind;
mod store;
mod upload;

#[cfg(test)]
mod tests;

pub use config::{BlobBackend, BlobConfig};
pub use error::BlobError;
pub use kind::BlobKind;
pub use store::{BlobDownload, BlobStore, StoredBlob, UploadHeader};

/// One mebibyte, the unit of the default limits.
const MIB: u64 = 1024 * 1024;
/// Bytes kept for type sniffing; magic numbers of the accepted formats all sit well inside it.
const SNIFF_LEN: usize = 8 * 1024;
/// Uploads up to this size are sent with one PUT; larger ones switch to a multipart upload, whose
/// parts S3 requires to be at least 5 MiB. This also bounds what one upload holds in memory.
const PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts in flight at once; with `PART_SIZE` this keeps one video upload under ~20 MiB of memory.
const MAX_PARTS_IN_FLIGHT: usize = 2;
/// Longest accepted file name, in bytes; the name is only kept as a label.
const MAX_FILE_NAME_BYTES: usize = 255;
