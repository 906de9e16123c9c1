//! One upload while its bytes arrive: the header checks, the running size, type and checksum checks,
//! and where the bytes wait (memory, then a multipart upload) until the object is committed.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};

use super::error::storage;
use super::kind::sniff;
use super::{BlobError, BlobKind, MAX_FILE_NAME_BYTES, MAX_PARTS_IN_FLIGHT, PART_SIZE, SNIFF_LEN, UploadHeader};

/// Checks the parts of the header that can be judged before any byte arrives.
pub(super) fn check_header(declared: &UploadHeader) -> Result<BlobKind, BlobError> {
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
pub(super) struct Upload<'a> {
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

impl<'a> Upload<'a> {
    /// A fresh upload of `declared` (already checked by [`check_header`]) into `path`.
    pub(super) fn new(
        store: &'a Arc<dyn ObjectStore>,
        path: Path,
        declared: &'a UploadHeader,
        kind: BlobKind,
        limit: u64,
    ) -> Self {
        Upload {
            store,
            path,
            declared,
            kind,
            limit,
            received: 0,
            hasher: Sha256::new(),
            head: Vec::new(),
            sniffed: None,
            sink: Sink::Buffered { parts: Vec::new(), len: 0 },
        }
    }

    /// Bytes received so far.
    pub(super) fn received(&self) -> u64 {
        self.received
    }

    /// Throws away whatever was sent (after a refusal).
    pub(super) async fn abort(self) {
        self.sink.abort().await;
    }

    /// Consumes the chunks and commits the object; returns the sniffed type and the hex SHA-256.
    pub(super) async fn run<S, E>(&mut self, chunks: &mut std::pin::Pin<&mut S>) -> Result<(String, String), BlobError>
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
