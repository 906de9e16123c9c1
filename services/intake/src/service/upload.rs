//! UploadAttachment: a header, then the bytes in chunks, streamed into the blob store through its
//! checks (size per kind, type sniffed from the bytes, checksum), then recorded as an attachment
//! that no report has claimed yet; its id goes into `SubmitReportRequest.attachment_ids` (R6.1b).
//!
//! The submission rules for attachments (accepted types, size, file name matching the type) are
//! applied twice: to the declared header before any byte is read, and to the sniffed type once
//! the bytes are in. So an accepted upload is always one a report may refer to.
//!
//! Once the header passed the checks, the rest runs in its own task: if the client goes away
//! mid-upload the task still ends the upload cleanly, so a failed upload never leaves a blob
//! without its row or a row without its blob.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use paht_domain::validation::{AttachmentDraft, AttachmentMeta, SubmissionRules};
use paht_platform::auth::AuthContext;
use paht_platform::db::Db;
use paht_proto::v1;
use paht_proto::v1::upload_attachment_request::Part;
use tracing::Instrument;

use super::limits::Origin;
use super::{IntakeService, mapping};
use crate::blob::{BlobError, BlobStore, StoredBlob, UploadHeader};
use crate::error::{IntakeError, LimitScope};
use crate::store::{self, attachment};

/// Largest chunk accepted in one message (the protocol's limit).
const MAX_CHUNK_BYTES: usize = 1024 * 1024;

impl IntakeService {
    /// Stores one uploaded attachment and returns it, unclaimed.
    pub(super) async fn upload<S>(
        &self,
        auth: &AuthContext,
        peer: Option<SocketAddr>,
        mut messages: S,
    ) -> Result<v1::Attachment, IntakeError>
    where
        S: Stream<Item = Result<v1::UploadAttachmentRequest, IntakeError>> + Send + Unpin + 'static,
    {
        let header = match messages.next().await {
            None => {
                return Err(IntakeError::field(
                    "header",
                    "the upload is empty; send the header (file name, content type, size) first, then the bytes",
                ));
            }
            Some(Err(err @ IntakeError::TooLarge(_))) => return Err(err),
            Some(Err(err)) => return Err(BlobError::Interrupted(err.public_message()).into()),
            Some(Ok(message)) => match message.part {
                Some(Part::Header(header)) => header,
                Some(Part::Chunk(_)) => {
                    return Err(IntakeError::field(
                        "header",
                        "the first message must be the header (file name, content type, size); send it before the bytes",
                    ));
                }
                None => return Err(IntakeError::field("part", "each message carries the header or a chunk")),
            },
        };
        let origin =
            Origin::resolve(auth, header.origin.as_ref(), "header.origin", "", peer, &self.parts.phone_pepper)?;
        self.take(LimitScope::Upload, origin.upload_key(), self.parts.limits.uploads_per_address).await?;
        check_rules(&header.file_name, &header.content_type, header.size_bytes, &self.parts.rules)?;
        let declared = UploadHeader {
            file_name: header.file_name,
            content_type: header.content_type,
            size_bytes: header.size_bytes,
            sha256: Some(header.sha256.trim().to_owned()).filter(|s| !s.is_empty()),
        };
        let (db, blobs, rules) = (self.parts.db.clone(), Arc::clone(&self.parts.blobs), self.parts.rules.clone());
        let uploader = auth.actor().subject;
        let work = store_upload(db, blobs, rules, declared, uploader, messages);
        let task = tokio::spawn(work.instrument(tracing::Span::current()));
        let row = task.await.map_err(|e| BlobError::Storage(format!("the upload task failed: {e}")))??;
        tracing::Span::current().record("attachment_id", tracing::field::display(row.id));
        Ok(mapping::attachment(&row))
    }
}

/// Streams the chunks into the store, then records the attachment; on any failure removes the
/// blob again, so nothing is left behind.
async fn store_upload<S>(
    db: Db,
    blobs: Arc<BlobStore>,
    rules: SubmissionRules,
    declared: UploadHeader,
    uploader: String,
    messages: S,
) -> Result<attachment::Model, IntakeError>
where
    S: Stream<Item = Result<v1::UploadAttachmentRequest, IntakeError>> + Send + Unpin,
{
    let file_name = declared.file_name.clone();
    // A message that breaks the protocol ends the stream with an error; the blob store only sees
    // "interrupted", so the precise violation waits here to be returned instead.
    let violation: Mutex<Option<IntakeError>> = Mutex::new(None);
    let refuse = |field: &str, message: &str| {
        *violation.lock().unwrap_or_else(PoisonError::into_inner) = Some(IntakeError::field(field, message));
        Err(message.to_owned())
    };
    let chunks = messages.map(|message| match message {
        Ok(v1::UploadAttachmentRequest { part: Some(Part::Chunk(bytes)) }) if bytes.len() <= MAX_CHUNK_BYTES => {
            Ok(Bytes::from(bytes))
        }
        Ok(v1::UploadAttachmentRequest { part: Some(Part::Chunk(_)) }) => {
            refuse("chunk", "a chunk holds at most 1 MiB; send smaller chunks")
        }
        Ok(v1::UploadAttachmentRequest { part: Some(Part::Header(_)) }) => {
            refuse("header", "send the header only once, as the first message")
        }
        Ok(v1::UploadAttachmentRequest { part: None }) => refuse("part", "each message carries the header or a chunk"),
        Err(err @ IntakeError::TooLarge(_)) => {
            let message = err.public_message();
            *violation.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
            Err(message)
        }
        Err(err) => Err(err.public_message()),
    });
    let stored = match blobs.put_stream(declared, chunks).await {
        Ok(stored) => stored,
        Err(err) => {
            let violation = violation.lock().unwrap_or_else(PoisonError::into_inner).take();
            return Err(violation.unwrap_or_else(|| IntakeError::from(err)));
        }
    };
    let recorded = match check_rules(&file_name, &stored.content_type, stored.size_bytes, &rules) {
        // The name as the rules read it: path, control and direction-changing characters gone.
        Ok(name) => {
            let row = row(&stored, name, uploader);
            store::insert_attachment(db.conn(), row.clone()).await.map(|()| row)
        }
        Err(refused) => Err(refused),
    };
    match recorded {
        Ok(row) => Ok(row),
        Err(err) => {
            if let Err(cleanup) = blobs.delete(stored.id).await {
                tracing::warn!(attachment_id = %stored.id, error = %cleanup, "could not remove the blob of a refused upload");
            }
            Err(err)
        }
    }
}

/// The submission rules for one attachment (R6.1b), with their fields named as in the header.
fn check_rules(
    file_name: &str,
    content_type: &str,
    size_bytes: u64,
    rules: &SubmissionRules,
) -> Result<String, IntakeError> {
    let draft = AttachmentDraft { file_name: file_name.to_owned(), content_type: content_type.to_owned(), size_bytes };
    AttachmentMeta::parse(&draft, rules).map(|meta| meta.file_name().to_owned()).map_err(|found| {
        IntakeError::Invalid(
            found.as_slice().iter().map(|v| (format!("header.{}", v.field), v.message_en.clone())).collect(),
        )
    })
}

/// The attachment row of a stored blob, claimed by no report yet.
fn row(stored: &StoredBlob, file_name: String, uploader: String) -> attachment::Model {
    attachment::Model {
        id: stored.id,
        report_id: None,
        blob_key: stored.key.clone(),
        content_type: stored.content_type.clone(),
        kind: stored.kind.to_string(),
        size_bytes: i64::try_from(stored.size_bytes).unwrap_or(i64::MAX),
        sha256: stored.sha256.clone(),
        file_name,
        uploaded_at: mapping::now_micros(),
        uploaded_by: Some(uploader),
    }
}
