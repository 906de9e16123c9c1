//! Why an attachment could not be stored or read, and the request field each reason names.

use uuid::Uuid;

use super::BlobKind;

/// Why an attachment could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The declared size is already above the limit of the declared kind.
    #[error("the {kind} is declared as {declared} bytes, above the limit of {limit} bytes; send a smaller file")]
    DeclaredTooLarge {
        /// Kind of attachment.
        kind: BlobKind,
        /// Declared size.
        declared: u64,
        /// Limit for that kind.
        limit: u64,
    },
    /// More bytes arrived than the limit of the kind allows.
    #[error("the {kind} is larger than the limit of {limit} bytes; send a smaller file")]
    TooLarge {
        /// Kind of attachment.
        kind: BlobKind,
        /// Limit for that kind.
        limit: u64,
    },
    /// The declared media type is not a photo, a video or a PDF.
    #[error("declared content type {declared:?} is not accepted; send a photo (image/*), a video (video/*) or a PDF")]
    UnknownDeclaredType {
        /// Declared media type.
        declared: String,
    },
    /// The bytes are not an accepted photo, video or PDF format.
    #[error("the file content is {}, which is not accepted; send a JPEG/PNG/WebP/HEIF/GIF photo, an MP4/MOV/WebM/3GP video or a PDF", sniffed.as_deref().unwrap_or("not a recognised format"))]
    UnsupportedType {
        /// Sniffed media type, `None` when unrecognised.
        sniffed: Option<String>,
    },
    /// The bytes are an accepted format of another kind than declared.
    #[error("declared content type {declared:?} does not match the file content, which is {sniffed}")]
    TypeMismatch {
        /// Declared media type.
        declared: String,
        /// Sniffed media type.
        sniffed: String,
    },
    /// The received length differs from the declared one.
    #[error(
        "declared size is {declared} bytes but {received} bytes arrived; the upload was cut or the header is wrong"
    )]
    SizeMismatch {
        /// Declared size.
        declared: u64,
        /// Bytes received (when too many, counted up to the first excess chunk).
        received: u64,
    },
    /// The declared checksum is not 64 hexadecimal digits.
    #[error("declared sha256 must be 64 hexadecimal digits")]
    MalformedChecksum,
    /// The content's SHA-256 differs from the declared one.
    #[error("the content's sha256 is {actual}, not the declared {declared}; the upload was corrupted")]
    ChecksumMismatch {
        /// Declared checksum.
        declared: String,
        /// Checksum of the received bytes.
        actual: String,
    },
    /// The file name is empty, too long or holds control characters.
    #[error("file name {reason}")]
    InvalidFileName {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No bytes arrived.
    #[error("the upload is empty; send the file's content")]
    Empty,
    /// The client's stream failed before the upload ended.
    #[error("the upload was interrupted: {0}; send the file again")]
    Interrupted(String),
    /// No attachment has that id.
    #[error("attachment {id} does not exist")]
    NotFound {
        /// Attachment id asked for.
        id: Uuid,
    },
    /// The object store failed; not the client's fault.
    #[error("attachment storage failed: {0}")]
    Storage(String),
}

impl BlobError {
    /// The request field to name in a gRPC field violation, or `None` for a server-side failure.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            // More bytes than the limit also means more than declared (a declared size above the
            // limit is refused before reading): the declared size is what was wrong.
            Self::DeclaredTooLarge { .. } | Self::TooLarge { .. } | Self::SizeMismatch { .. } => {
                Some("header.size_bytes")
            }
            // The declared type is what the content contradicts, whether the content is another
            // accepted kind or no accepted format at all.
            Self::UnknownDeclaredType { .. } | Self::TypeMismatch { .. } | Self::UnsupportedType { .. } => {
                Some("header.content_type")
            }
            Self::MalformedChecksum | Self::ChecksumMismatch { .. } => Some("header.sha256"),
            Self::InvalidFileName { .. } => Some("header.file_name"),
            Self::Empty | Self::Interrupted(_) => Some("chunk"),
            Self::NotFound { .. } => Some("attachment_id"),
            Self::Storage(_) => None,
        }
    }
}

pub(super) fn storage(err: object_store::Error) -> BlobError {
    BlobError::Storage(err.to_string())
}

pub(super) fn not_found_or_storage(err: object_store::Error, id: Uuid) -> BlobError {
    match err {
        object_store::Error::NotFound { .. } => BlobError::NotFound { id },
        other => storage(other),
    }
}
