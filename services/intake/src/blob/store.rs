//! [`BlobStore`]: opens the configured object store, streams uploads into it through the checks of
//! [`super::upload`], and reads and deletes stored attachments by id.

use std::sync::Arc;

use bytes::Bytes;
use chrono::DateTime;
use futures::stream::{BoxStream, Stream, StreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use uuid::Uuid;

use super::error::{not_found_or_storage, storage};
use super::upload::{Upload, check_header};
use super::{BlobBackend, BlobConfig, BlobError, BlobKind};

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
        let mut upload = Upload::new(&self.store, Path::from(key.as_str()), &declared, kind, limit);
        let mut chunks = std::pin::pin!(chunks);
        let outcome = upload.run(&mut chunks).await;
        match outcome {
            Ok((content_type, sha256)) => {
                tracing::info!(attachment_id = %id, %kind, size_bytes = upload.received(), "attachment stored");
                Ok(StoredBlob { id, key, content_type, kind, size_bytes: upload.received(), sha256 })
            }
            Err(err) => {
                upload.abort().await;
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
