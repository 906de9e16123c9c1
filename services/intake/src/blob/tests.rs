//! The store's checks against a real local directory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use chrono::DateTime;
use futures::stream::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::*;

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
fn chunked(data: &[u8], size: usize, pulled: &Arc<AtomicUsize>) -> impl Stream<Item = Result<Bytes, String>> + use<> {
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
    assert_eq!(err.field(), Some("header.content_type"));
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
    assert_eq!(err.unwrap_err().field(), Some("header.size_bytes"));
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
