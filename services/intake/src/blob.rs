//! Attachment storage: streams a citizen's photo, video or PDF into an object store while checking,
//! as the bytes arrive, its size limit, its real type and its checksum, so a refused upload leaves
//! nothing behind.

use std::sync::Arc;

use bytes::Bytes;
use chrono::DateTime;
use futures::stream::{BoxStream, Stream, StreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

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

/// The kind of an attachment, which sets its size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlobKind {
    /// A photo.
    Image,
    /// A video clip.
    Video,
    /// A PDF document.
    Document,
}

impl std::fmt::Display for BlobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Document => "document",
        })
    }
}

impl BlobKind {
    /// The kind a declared media type claims: any `image/*`, any `video/*`, or `application/pdf`.
    /// Only the kind is taken from the client; the exact type comes from the bytes.
    pub fn from_declared(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.split_once('/') {
            Some(("image", sub)) if !sub.is_empty() => Some(Self::Image),
            Some(("video", sub)) if !sub.is_empty() => Some(Self::Video),
            Some(("application", "pdf")) => Some(Self::Document),
            _ => None,
        }
    }

    /// The kind of a sniffed media type, or `None` when that type is not accepted at all.
    fn from_sniffed(mime: &str) -> Option<Self> {
        match mime {
            "image/jpeg" | "image/png" | "image/webp" | "image/heif" | "image/avif" | "image/gif" => Some(Self::Image),
            "video/mp4" | "video/quicktime" | "video/webm" | "video/3gpp" | "video/x-m4v" => Some(Self::Video),
            "application/pdf" => Some(Self::Document),
            _ => None,
        }
    }
}

/// What the client says about an upload before sending its bytes; none of it is trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadHeader {
    /// The name on the citizen's device; kept as a label only, never used in a storage path.
    pub file_name: String,
    /// The declared media type, e.g. `image/jpeg`.
    pub content_type: String,
    /// The declared length in bytes; the received length must equal it.
    pub size_bytes: u64,
    /// The declared SHA-256 of the content, hex; checked when given.
    pub sha256: Option<String>,
}

/// An attachment that was stored whole and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlob {
    /// Attachment id, a UUIDv7 whose timestamp also gives the key's year and month.
    pub id: Uuid,
    /// Object key, `attachments/{yyyy}/{mm}/{id}`.
    pub key: String,
    /// Media type sniffed from the bytes (not the declared one).
    pub content_type: String,
    /// Kind of attachment.
    pub kind: BlobKind,
    /// Length in bytes.
    pub size_bytes: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
}

/// A stored attachment being read back.
pub struct BlobDownload {
    /// Length in bytes.
    pub size_bytes: u64,
    /// The content, in chunks.
    pub stream: BoxStream<'static, Result<Bytes, BlobError>>,
}

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
            Self::DeclaredTooLarge { .. } | Self::SizeMismatch { .. } => Some("header.size_bytes"),
            Self::UnknownDeclaredType { .. } | Self::TypeMismatch { .. } => Some("header.content_type"),
            Self::MalformedChecksum | Self::ChecksumMismatch { .. } => Some("header.sha256"),
            Self::InvalidFileName { .. } => Some("header.file_name"),
            Self::TooLarge { .. } | Self::UnsupportedType { .. } | Self::Empty | Self::Interrupted(_) => Some("chunk"),
            Self::NotFound { .. } => Some("attachment_id"),
            Self::Storage(_) => None,
        }
    }
}

fn storage(err: object_store::Error) -> BlobError {
    BlobError::Storage(err.to_string())
}

/// Attachment storage over a local directory or an S3-compatible bucket.
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    max_image_bytes: u64,
    max_video_bytes: u64,
    max_document_bytes: u64,
}

// Only the store's display name (kind and bucket/root), never its credentials.
impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore").field("store", &self.store.to_string()).finish_non_exhaustive()
    }
}

impl BlobStore {
    /// Opens the configured store; builds the S3 client without contacting it.
    pub fn new(config: &BlobConfig) -> Result<Self, BlobError> {
        let store: Arc<dyn ObjectStore> = match &config.backend {
            BlobBackend::Local { root } => {
                std::fs::create_dir_all(root)
                    .map_err(|e| BlobError::Storage(format!("cannot create attachment directory {root}: {e}")))?;
                Arc::new(LocalFileSystem::new_with_prefix(root).map_err(storage)?.with_automatic_cleanup(true))
            }
            BlobBackend::S3 { bucket, endpoint, region, access_key_id, secret_access_key, allow_http } => {
                let mut builder =
                    AmazonS3Builder::new().with_bucket_name(bucket).with_region(region).with_allow_http(*allow_http);
                if let Some(endpoint) = endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                if let Some(id) = access_key_id {
                    builder = builder.with_access_key_id(id);
                }
                if let Some(secret) = secret_access_key {
                    builder = builder.with_secret_access_key(secret);
                }
                Arc::new(builder.build().map_err(storage)?)
            }
        };
        Ok(Self {
            store,
            max_image_bytes: config.max_image_bytes,
            max_video_bytes: config.max_video_bytes,
            max_document_bytes: config.max_document_bytes,
        })
    }

    /// The size limit for a kind of attachment.
    pub fn limit(&self, kind: BlobKind) -> u64 {
        match kind {
            BlobKind::Image => self.max_image_bytes,
            BlobKind::Video => self.max_video_bytes,
            BlobKind::Document => self.max_document_bytes,
        }
    }

    /// The object key of an attachment; `None` when the id is not a UUIDv7 and so names nothing.
    pub fn key_for(id: Uuid) -> Option<String> {
        let (secs, nanos) = id.get_timestamp()?.to_unix();
        let at = DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)?;
        Some(format!("attachments/{}/{id}", at.format("%Y/%m")))
    }

    /// Streams an upload into the store, checking it as it arrives; on any error nothing is kept.
    pub async fn put_stream<S, E>(&self, declared: UploadHeader, chunks: S) -> Result<StoredBlob, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let kind = check_header(&declared)?;
        let limit = self.limit(kind);
        if declared.size_bytes > limit {
            return Err(BlobError::DeclaredTooLarge { kind, declared: declared.size_bytes, limit });
        }
        let id = Uuid::now_v7();
        let key = Self::key_for(id).ok_or_else(|| BlobError::Storage("clock gave no usable time".to_owned()))?;
        let mut upload = Upload {
            store: &self.store,
            path: Path::from(key.as_str()),
            declared: &declared,
            kind,
            limit,
            received: 0,
            hasher: Sha256::new(),
            head: Vec::new(),
            sniffed: None,
            sink: Sink::Buffered { parts: Vec::new(), len: 0 },
        };
        let mut chunks = std::pin::pin!(chunks);
        let outcome = upload.run(&mut chunks).await;
        match outcome {
            Ok((content_type, sha256)) => {
                tracing::info!(attachment_id = %id, %kind, size_bytes = upload.received, "attachment stored");
                Ok(StoredBlob { id, key, content_type, kind, size_bytes: upload.received, sha256 })
            }
            Err(err) => {
                upload.sink.abort().await;
                tracing::info!(attachment_id = %id, error = %err, "attachment refused");
                Err(err)
            }
        }
    }

    /// Opens a stored attachment for reading, in chunks.
    pub async fn get(&self, id: Uuid) -> Result<BlobDownload, BlobError> {
        let path = Path::from(Self::key_for(id).ok_or(BlobError::NotFound { id })?);
        let result = self.store.get(&path).await.map_err(|e| not_found_or_storage(e, id))?;
        let size_bytes = result.meta.size;
        let stream = result.into_stream().map(|chunk| chunk.map_err(storage)).boxed();
        Ok(BlobDownload { size_bytes, stream })
    }

    /// Reads a whole stored attachment into memory; for photos and documents, not for videos.
    pub async fn get_bytes(&self, id: Uuid) -> Result<Bytes, BlobError> {
        let path = Path::from(Self::key_for(id).ok_or(BlobError::NotFound { id })?);
        let result = self.store.get(&path).await.map_err(|e| not_found_or_storage(e, id))?;
        result.bytes().await.map_err(storage)
    }

    /// Deletes a stored attachment; deleting one that is already gone succeeds.
    pub async fn delete(&self, id: Uuid) -> Result<(), BlobError> {
        let Some(key) = Self::key_for(id) else { return Ok(()) };
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage(e)),
        }
    }
}

fn not_found_or_storage(err: object_store::Error, id: Uuid) -> BlobError {
    match err {
        object_store::Error::NotFound { .. } => BlobError::NotFound { id },
        other => storage(other),
    }
}

/// Checks the parts of the header that can be judged before any byte arrives.
fn check_header(declared: &UploadHeader) -> Result<BlobKind, BlobError> {
    let name = &declared.file_name;
    if name.trim().is_empty() {
        return Err(BlobError::InvalidFileName { reason: "is empty; send the file's name" });
    }
    if name.len() > MAX_FILE_NAME_BYTES {
        return Err(BlobError::InvalidFileName { reason: "is longer than 255 bytes; shorten it" });
    }
    if name.chars().any(char::is_control) {
        return Err(BlobError::InvalidFileName { reason: "contains control characters; remove them" });
    }
    if let Some(sum) = &declared.sha256
        && (sum.len() != 64 || !sum.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(BlobError::MalformedChecksum);
    }
    if declared.size_bytes == 0 {
        return Err(BlobError::Empty);
    }
    BlobKind::from_declared(&declared.content_type)
        .ok_or_else(|| BlobError::UnknownDeclaredType { declared: declared.content_type.clone() })
}

/// The media type of the first bytes of a file, if recognised.
fn sniff(head: &[u8]) -> Option<&'static str> {
    // `infer` does not know 3GPP, still the default video format of many low-end Android phones.
    let is_3gpp = head.len() >= 12 && &head[4..8] == b"ftyp" && (&head[8..11] == b"3gp" || &head[8..11] == b"3g2");
    if is_3gpp { Some("video/3gpp") } else { infer::get(head).map(|t| t.mime_type()) }
}

/// Where the received bytes wait: in memory while the upload is small, then in a multipart upload.
enum Sink {
    Buffered { parts: Vec<Bytes>, len: usize },
    Multipart(WriteMultipart),
}

impl Sink {
    /// Throws away whatever was sent; a failure here is logged, as the caller already has an error.
    async fn abort(self) {
        if let Sink::Multipart(writer) = self
            && let Err(e) = writer.abort().await
        {
            tracing::warn!(error = %e, "could not abort a refused multipart upload; the bucket's lifecycle rule must clean it");
        }
    }
}

/// The state of one upload while its bytes arrive.
struct Upload<'a> {
    store: &'a Arc<dyn ObjectStore>,
    path: Path,
    declared: &'a UploadHeader,
    kind: BlobKind,
    limit: u64,
    received: u64,
    hasher: Sha256,
    head: Vec<u8>,
    sniffed: Option<&'static str>,
    sink: Sink,
}

impl Upload<'_> {
    /// Consumes the chunks and commits the object; returns the sniffed type and the hex SHA-256.
    async fn run<S, E>(&mut self, chunks: &mut std::pin::Pin<&mut S>) -> Result<(String, String), BlobError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| BlobError::Interrupted(e.to_string()))?;
            if chunk.is_empty() {
                continue;
            }
            self.received += chunk.len() as u64;
            // The limit is checked before the declared size, so a client that lies about its size
            // is told about the limit it really hit.
            if self.received > self.limit {
                return Err(BlobError::TooLarge { kind: self.kind, limit: self.limit });
            }
            if self.received > self.declared.size_bytes {
                return Err(self.size_mismatch());
            }
            self.hasher.update(&chunk);
            if self.sniffed.is_none() {
                let take = chunk.len().min(SNIFF_LEN - self.head.len());
                self.head.extend_from_slice(&chunk[..take]);
                if self.head.len() == SNIFF_LEN {
                    self.check_type()?;
                }
            }
            self.push(chunk).await?;
        }
        if self.received == 0 {
            return Err(BlobError::Empty);
        }
        if self.sniffed.is_none() {
            self.check_type()?;
        }
        if self.received != self.declared.size_bytes {
            return Err(self.size_mismatch());
        }
        let actual = hex::encode(std::mem::take(&mut self.hasher).finalize());
        if let Some(declared) = &self.declared.sha256
            && !declared.eq_ignore_ascii_case(&actual)
        {
            return Err(BlobError::ChecksumMismatch { declared: declared.clone(), actual });
        }
        self.commit().await?;
        Ok((self.sniffed.unwrap_or_default().to_owned(), actual))
    }

    fn size_mismatch(&self) -> BlobError {
        BlobError::SizeMismatch { declared: self.declared.size_bytes, received: self.received }
    }

    fn check_type(&mut self) -> Result<(), BlobError> {
        let sniffed = sniff(&self.head);
        let Some(kind) = sniffed.and_then(BlobKind::from_sniffed) else {
            return Err(BlobError::UnsupportedType { sniffed: sniffed.map(str::to_owned) });
        };
        if kind != self.kind {
            let (declared, sniffed) = (self.declared.content_type.clone(), sniffed.unwrap_or_default().to_owned());
            return Err(BlobError::TypeMismatch { declared, sniffed });
        }
        self.sniffed = sniffed;
        Ok(())
    }

    async fn push(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        match &mut self.sink {
            Sink::Buffered { parts, len } if *len + chunk.len() <= PART_SIZE => {
                *len += chunk.len();
                parts.push(chunk);
            }
            Sink::Buffered { parts, .. } => {
                // Too big for one PUT: start the multipart upload with what was buffered so far.
                let upload = self.store.put_multipart(&self.path).await.map_err(storage)?;
                let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
                for part in parts.drain(..) {
                    writer.put(part);
                }
                writer.put(chunk);
                self.sink = Sink::Multipart(writer);
            }
            Sink::Multipart(writer) => {
                // Back-pressure: stop reading the client until a part has been sent.
                writer.wait_for_capacity(MAX_PARTS_IN_FLIGHT).await.map_err(storage)?;
                writer.put(chunk);
            }
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), BlobError> {
        match std::mem::replace(&mut self.sink, Sink::Buffered { parts: Vec::new(), len: 0 }) {
            Sink::Buffered { parts, .. } => {
                self.store.put(&self.path, parts.into_iter().collect::<PutPayload>()).await.map_err(storage)?;
            }
            // `finish` aborts the upload itself when it fails.
            Sink::Multipart(writer) => {
                writer.finish().await.map_err(storage)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A 1x1 grey PNG, CRCs included.
    const PNG: &str = "89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b550000000a49444154789c6360\
                       00000002000148afa4710000000049454e44ae426082";
    /// A 1x1 grey baseline JPEG.
    const JPEG: &str = "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318281a181616\
                        183123251d283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c656763\
                        ffc0000b080001000101011100ffc40014000100000000000000000000000000000000ffc400141001000000\
                        00000000000000000000000000ffda0008010100003f003fffd9";

    fn png() -> Vec<u8> {
        hex::decode(PNG).unwrap()
    }
    fn jpeg() -> Vec<u8> {
        hex::decode(JPEG).unwrap()
    }
    /// An ISO media file: an `ftyp` box with major brand `brand`, then an `mdat` box of `padding` bytes.
    fn iso_media(brand: &[u8; 4], padding: usize) -> Vec<u8> {
        let mut v = b"\0\0\0\x18ftyp".to_vec();
        v.extend_from_slice(brand);
        v.extend_from_slice(b"\0\0\x02\0isommp41");
        v.extend_from_slice(&u32::try_from(padding + 8).unwrap().to_be_bytes());
        v.extend_from_slice(b"mdat");
        v.resize(v.len() + padding, 0x5a);
        v
    }
    fn mp4(padding: usize) -> Vec<u8> {
        iso_media(b"isom", padding)
    }
    fn pdf() -> Vec<u8> {
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n\
          trailer<</Root 1 0 R>>\n%%EOF\n"
            .to_vec()
    }

    /// A directory under the system temp dir, removed when the test ends.
    struct TempDir(std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    impl TempDir {
        fn files(&self) -> Vec<std::path::PathBuf> {
            fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
                for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
                    if entry.file_type().unwrap().is_dir() { walk(&entry.path(), out) } else { out.push(entry.path()) }
                }
            }
            let mut out = Vec::new();
            walk(&self.0, &mut out);
            out
        }
    }

    fn local(tweak: impl FnOnce(&mut BlobConfig)) -> (BlobStore, TempDir) {
        let dir = TempDir(std::env::temp_dir().join(format!("paht-blob-test-{}", Uuid::new_v4())));
        let mut config =
            BlobConfig { backend: BlobBackend::Local { root: dir.0.display().to_string() }, ..BlobConfig::default() };
        tweak(&mut config);
        (BlobStore::new(&config).unwrap(), dir)
    }

    fn header(content_type: &str, size_bytes: usize) -> UploadHeader {
        UploadHeader {
            file_name: "IMG_0001.jpg".to_owned(),
            content_type: content_type.to_owned(),
            size_bytes: size_bytes as u64,
            sha256: None,
        }
    }

    /// `data` cut into chunks of `size` bytes, counting how many the store pulled.
    fn chunked(
        data: &[u8],
        size: usize,
        pulled: &Arc<AtomicUsize>,
    ) -> impl Stream<Item = Result<Bytes, String>> + use<> {
        let pulled = Arc::clone(pulled);
        let parts: Vec<_> = data.chunks(size).map(Bytes::copy_from_slice).collect();
        futures::stream::iter(parts).map(move |b| {
            pulled.fetch_add(1, Ordering::SeqCst);
            Ok(b)
        })
    }

    async fn put(store: &BlobStore, header: UploadHeader, data: &[u8]) -> Result<StoredBlob, BlobError> {
        store.put_stream(header, chunked(data, 7, &Arc::default())).await
    }

    #[tokio::test]
    async fn stores_each_accepted_kind_with_the_sniffed_type_and_reads_it_back() {
        let (store, dir) = local(|_| {});
        let cases = [
            ("image/png", png(), "image/png", BlobKind::Image),
            ("image/jpeg", jpeg(), "image/jpeg", BlobKind::Image),
            // Same kind, other format: accepted, recorded as what the bytes are.
            ("image/png", jpeg(), "image/jpeg", BlobKind::Image),
            ("video/mp4", mp4(100), "video/mp4", BlobKind::Video),
            ("video/3gpp", iso_media(b"3gp4", 100), "video/3gpp", BlobKind::Video),
            ("video/quicktime", iso_media(b"qt  ", 100), "video/quicktime", BlobKind::Video),
            ("application/pdf; charset=binary", pdf(), "application/pdf", BlobKind::Document),
        ];
        for (declared, data, sniffed, kind) in cases {
            let mut head = header(declared, data.len());
            head.sha256 = Some(hex::encode(Sha256::digest(&data)).to_uppercase());
            let stored = put(&store, head, &data).await.unwrap();
            assert_eq!((stored.content_type.as_str(), stored.kind), (sniffed, kind));
            assert_eq!(stored.size_bytes, data.len() as u64);
            assert_eq!(stored.sha256, hex::encode(Sha256::digest(&data)));
            assert_eq!(store.get_bytes(stored.id).await.unwrap(), data);
        }
        assert_eq!(dir.files().len(), 7);
    }

    #[tokio::test]
    async fn a_large_video_goes_through_a_multipart_upload_and_streams_back() {
        let (store, dir) = local(|_| {});
        let data = mp4(7 * 1024 * 1024);
        let chunks = chunked(&data, 256 * 1024, &Arc::default());
        let stored = store.put_stream(header("video/mp4", data.len()), chunks).await.unwrap();
        let download = store.get(stored.id).await.unwrap();
        assert_eq!(download.size_bytes, data.len() as u64);
        let chunks: Vec<Bytes> = download.stream.map(Result::unwrap).collect().await;
        assert_eq!(chunks.concat(), data);
        assert_eq!(dir.files().len(), 1, "no staging file is left");
    }

    #[tokio::test]
    async fn refuses_an_executable_and_a_text_file_whatever_they_claim() {
        let (store, dir) = local(|_| {});
        let mut exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff".to_vec();
        exe.resize(600, 0);
        let err = put(&store, header("image/jpeg", exe.len()), &exe).await.unwrap_err();
        assert!(matches!(&err, BlobError::UnsupportedType { sniffed: Some(s) } if s.contains("executable")), "{err:?}");
        assert_eq!(err.field(), Some("chunk"));
        let text = b"Xin chao, day la mot tep van ban.".repeat(400);
        let err = put(&store, header("application/pdf", text.len()), &text).await.unwrap_err();
        assert!(matches!(err, BlobError::UnsupportedType { sniffed: None }), "{err:?}");
        assert!(dir.files().is_empty());
    }

    #[tokio::test]
    async fn refuses_an_accepted_format_of_another_kind() {
        let (store, _dir) = local(|_| {});
        let err = put(&store, header("image/jpeg", pdf().len()), &pdf()).await.unwrap_err();
        assert!(matches!(&err, BlobError::TypeMismatch { sniffed, .. } if sniffed == "application/pdf"), "{err:?}");
        assert_eq!(err.field(), Some("header.content_type"));
    }

    #[tokio::test]
    async fn stops_reading_as_soon_as_the_limit_is_passed_and_keeps_nothing() {
        // Small image limit: the refusal happens in the in-memory phase.
        let (store, dir) = local(|c| c.max_image_bytes = 64 * 1024);
        let mut data = png();
        data.resize(160 * 1024, 0);
        let pulled = Arc::new(AtomicUsize::new(0));
        let err = store.put_stream(header("image/png", 64 * 1024), chunked(&data, 8 * 1024, &pulled)).await;
        assert!(matches!(err, Err(BlobError::TooLarge { kind: BlobKind::Image, limit: 65536 })), "{err:?}");
        assert_eq!(pulled.load(Ordering::SeqCst), 9, "reading stops at the first chunk past the limit");
        // Video limit above one part: the refusal aborts a multipart upload already under way.
        let (store, dir2) = local(|c| c.max_video_bytes = 6 * 1024 * 1024);
        let data = mp4(8 * 1024 * 1024);
        let err = store.put_stream(header("video/mp4", 6 * 1024 * 1024), chunked(&data, 1024 * 1024, &pulled)).await;
        assert!(matches!(err, Err(BlobError::TooLarge { kind: BlobKind::Video, .. })), "{err:?}");
        assert!(dir.files().is_empty() && dir2.files().is_empty());
    }

    #[tokio::test]
    async fn refuses_a_declared_size_above_the_limit_without_reading() {
        let (store, _dir) = local(|_| {});
        let pulled = Arc::new(AtomicUsize::new(0));
        let err = store.put_stream(header("video/mp4", 201 * 1024 * 1024), chunked(&mp4(10), 4, &pulled)).await;
        let err = err.unwrap_err();
        assert!(matches!(err, BlobError::DeclaredTooLarge { limit, .. } if limit == 200 * MIB), "{err:?}");
        assert_eq!((err.field(), pulled.load(Ordering::SeqCst)), (Some("header.size_bytes"), 0));
    }

    #[tokio::test]
    async fn refuses_and_removes_a_checksum_mismatch() {
        let (store, dir) = local(|_| {});
        let data = mp4(6 * 1024 * 1024); // multipart, so a staged upload exists before the check
        let mut head = header("video/mp4", data.len());
        head.sha256 = Some(hex::encode(Sha256::digest(b"something else")));
        let err = store.put_stream(head, chunked(&data, 512 * 1024, &Arc::default())).await.unwrap_err();
        assert!(matches!(err, BlobError::ChecksumMismatch { .. }), "{err:?}");
        assert_eq!(err.field(), Some("header.sha256"));
        assert!(dir.files().is_empty());
    }

    #[tokio::test]
    async fn refuses_a_size_mismatch_either_way() {
        let (store, dir) = local(|_| {});
        let data = png();
        let short = put(&store, header("image/png", data.len() + 1), &data).await.unwrap_err();
        assert!(matches!(short, BlobError::SizeMismatch { declared: 68, received: 67 }), "{short:?}");
        let long = put(&store, header("image/png", 10), &data).await.unwrap_err();
        assert!(matches!(long, BlobError::SizeMismatch { declared: 10, received: 14 }), "{long:?}");
        assert!(dir.files().is_empty());
    }

    #[tokio::test]
    async fn refuses_an_empty_or_interrupted_upload() {
        let (store, dir) = local(|_| {});
        let empty = futures::stream::iter(Vec::<Result<Bytes, String>>::new());
        assert!(matches!(store.put_stream(header("image/png", 67), empty).await, Err(BlobError::Empty)));
        let cut = futures::stream::iter(vec![Ok(Bytes::from(png())), Err("connection reset".to_owned())]);
        let err = store.put_stream(header("image/png", 200), cut).await.unwrap_err();
        assert!(err.to_string().contains("connection reset") && err.field() == Some("chunk"), "{err}");
        assert!(dir.files().is_empty());
    }

    #[tokio::test]
    async fn checks_the_header_before_any_byte() {
        let (store, _dir) = local(|_| {});
        type Spoil = fn(&mut UploadHeader);
        let cases: [(Spoil, &str); 5] = [
            (|h| h.content_type = "application/x-msdownload".into(), "header.content_type"),
            (|h| h.sha256 = Some("abc".into()), "header.sha256"),
            (|h| h.file_name = " ".into(), "header.file_name"),
            (|h| h.file_name = "a\nb.jpg".into(), "header.file_name"),
            (|h| h.size_bytes = 0, "chunk"),
        ];
        for (spoil, field) in cases {
            let mut head = header("image/png", 67);
            spoil(&mut head);
            assert_eq!(put(&store, head, &png()).await.unwrap_err().field(), Some(field));
        }
    }

    #[tokio::test]
    async fn keys_come_from_the_id_and_unknown_ids_are_not_found() {
        let (store, dir) = local(|_| {});
        let stored = put(&store, header("image/png", 67), &png()).await.unwrap();
        let (secs, _) = stored.id.get_timestamp().unwrap().to_unix();
        let month = DateTime::from_timestamp(i64::try_from(secs).unwrap(), 0).unwrap().format("%Y/%m");
        assert_eq!(stored.key, format!("attachments/{month}/{}", stored.id));
        assert!(dir.files()[0].ends_with(&stored.key));
        store.delete(stored.id).await.unwrap();
        store.delete(stored.id).await.unwrap();
        assert!(matches!(store.get_bytes(stored.id).await, Err(BlobError::NotFound { .. })));
        assert!(matches!(store.get(Uuid::new_v4()).await, Err(BlobError::NotFound { .. })));
        assert!(BlobStore::key_for(Uuid::new_v4()).is_none());
    }

    #[test]
    fn put_stream_can_run_on_a_multi_threaded_server() {
        fn is_send<T: Send>(_: &T) {}
        let (store, _dir) = local(|_| {});
        is_send(&store.put_stream(header("image/png", 1), futures::stream::empty::<Result<Bytes, String>>()));
    }

    #[test]
    fn s3_config_builds_a_client_without_contacting_it_and_hides_the_secret() {
        let json = r#"{"backend": {"kind": "s3", "bucket": "paht", "endpoint": "http://127.0.0.1:9000",
                       "access_key_id": "minio", "secret_access_key": "s3cr3t-value", "allow_http": true},
                       "max_video_bytes": 1000}"#;
        let config: BlobConfig = serde_json::from_str(json).unwrap();
        assert_eq!((config.max_video_bytes, config.max_image_bytes), (1000, 10 * MIB));
        assert!(!format!("{config:?}").contains("s3cr3t"));
        let store = BlobStore::new(&config).unwrap();
        assert!(!format!("{store:?}").contains("s3cr3t"));
        let BlobBackend::S3 { region, .. } = &config.backend else { panic!("not s3") };
        assert_eq!(region, "us-east-1");
        let mut half = config.clone();
        if let BlobBackend::S3 { secret_access_key, .. } = &mut half.backend {
            *secret_access_key = None;
        }
        assert!(matches!(BlobStore::new(&half), Err(BlobError::Storage(_))));
        assert_eq!(BlobConfig::default().backend, BlobBackend::Local { root: "./data/blobs".into() });
    }
}
