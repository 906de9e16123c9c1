//! Images, videos and documents attached to a report (R6.1b): their declared metadata.
//!
//! This module sees what the channel declared (name, media type, size); sniffing the bytes
//! and scanning them is the job of the component that stores them. Checking the declaration
//! first refuses the bulk of wrong uploads before any byte is stored.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::rules::{KindRule, MIB, SubmissionRules};
use super::text::normalize_line;
use super::violation::{Violation, ViolationCode, Violations};

/// Longest accepted file name, in characters (common file-system limit).
pub const FILE_NAME_MAX_CHARS: usize = 255;

/// An attachment as a channel declares it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentDraft {
    /// The file name the reporter's device gave.
    pub file_name: String,
    /// The declared media type, e.g. `image/jpeg`.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: u64,
}

/// What an attachment shows; each kind has its own types and size limit in the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// A photo.
    Image,
    /// A video clip.
    Video,
    /// A document (PDF).
    Document,
}

impl AttachmentKind {
    /// True for the kinds that show the scene (R6.1b's "hình ảnh, video").
    pub fn is_media(self) -> bool {
        matches!(self, Self::Image | Self::Video)
    }

    fn rule(self, rules: &SubmissionRules) -> &KindRule {
        match self {
            Self::Image => &rules.image,
            Self::Video => &rules.video,
            Self::Document => &rules.document,
        }
    }

    fn name_vi(self) -> &'static str {
        match self {
            Self::Image => "Ảnh",
            Self::Video => "Video",
            Self::Document => "Tài liệu",
        }
    }

    fn name_en(self) -> &'static str {
        match self {
            Self::Image => "An image",
            Self::Video => "A video",
            Self::Document => "A document",
        }
    }
}

/// Validated metadata of one attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentMeta {
    file_name: String,
    content_type: String,
    size_bytes: u64,
    kind: AttachmentKind,
}

/// Lowercases, drops parameters (`; charset=…`) and maps common non-standard aliases.
fn normalize_content_type(raw: &str) -> String {
    let essence = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg".to_owned(),
        "video/mov" | "video/x-quicktime" => "video/quicktime".to_owned(),
        "image/x-png" => "image/png".to_owned(),
        _ => essence,
    }
}

/// File extensions that belong to each known media type; types added by configuration and
/// missing here skip the extension check.
fn extensions_of(content_type: &str) -> Option<&'static [&'static str]> {
    Some(match content_type {
        "image/jpeg" => &["jpg", "jpeg", "jpe", "jfif"],
        "image/png" => &["png"],
        "image/webp" => &["webp"],
        "image/heic" | "image/heif" => &["heic", "heif"],
        "video/mp4" => &["mp4", "m4v"],
        "video/quicktime" => &["mov", "qt"],
        "video/webm" => &["webm"],
        "video/3gpp" => &["3gp", "3gpp"],
        "application/pdf" => &["pdf"],
        _ => return None,
    })
}

/// The extension of a file name, if it looks like one: 1–5 ASCII letters or digits with at
/// least one letter ("IMG_0001.JPG" → "jpg"; "Ảnh 12.5.2025" → none).
fn extension(file_name: &str) -> Option<String> {
    let (_, ext) = file_name.rsplit_once('.')?;
    let looks_like = (1..=5).contains(&ext.len())
        && ext.chars().all(|c| c.is_ascii_alphanumeric())
        && ext.chars().any(|c| c.is_ascii_alphabetic());
    looks_like.then(|| ext.to_ascii_lowercase())
}

/// Renders a size for people: "12,5 MiB" in Vietnamese, "12.5 MiB" in English.
fn mib(bytes: u64) -> (String, String) {
    let en = format!("{:.1} MiB", bytes as f64 / MIB as f64);
    (en.replace('.', ","), en)
}

impl AttachmentMeta {
    /// Checks one attachment's name, type and size; all problems are reported together.
    /// Field paths: `file_name`, `content_type`, `size_bytes`.
    pub fn parse(draft: &AttachmentDraft, rules: &SubmissionRules) -> Result<Self, Violations> {
        let mut found = Vec::new();
        // Old browsers send "C:\fakepath\photo.jpg"; only the last component is a name.
        let base = draft.file_name.rsplit(['/', '\\']).next().unwrap_or("");
        let file_name = normalize_line(base);
        if file_name.is_empty() {
            found.push(Violation::new(
                "file_name",
                ViolationCode::Required,
                "Tệp đính kèm không có tên: hãy chọn lại tệp.",
                "The attachment has no file name: choose the file again.",
            ));
        } else if file_name.chars().count() > FILE_NAME_MAX_CHARS {
            found.push(Violation::new(
                "file_name",
                ViolationCode::TooLong,
                format!("Tên tệp đính kèm dài quá {FILE_NAME_MAX_CHARS} ký tự: hãy đổi tên ngắn hơn."),
                format!("The file name is longer than {FILE_NAME_MAX_CHARS} characters: rename it shorter."),
            ));
        }
        let content_type = normalize_content_type(&draft.content_type);
        let kind = [AttachmentKind::Image, AttachmentKind::Video, AttachmentKind::Document]
            .into_iter()
            .find(|k| k.rule(rules).accepts(&content_type));
        let Some(kind) = kind else {
            let accepted: Vec<&str> = [&rules.image, &rules.video, &rules.document]
                .iter()
                .flat_map(|r| r.content_types.iter().map(String::as_str))
                .collect();
            let accepted = accepted.join(", ");
            let shown = if content_type.is_empty() { "(trống)" } else { content_type.as_str() };
            found.push(Violation::new(
                "content_type",
                ViolationCode::UnsupportedType,
                format!(
                    "Loại tệp {shown} không được chấp nhận: chỉ nhận ảnh, video và tài liệu thuộc các loại {accepted}."
                ),
                format!(
                    "File type {} is not accepted: only images, videos and documents of types {accepted}.",
                    if content_type.is_empty() { "(blank)" } else { &content_type }
                ),
            ));
            return Err(Violations(found));
        };
        if let (Some(ext), Some(allowed)) = (extension(&file_name), extensions_of(&content_type))
            && !allowed.contains(&ext.as_str())
        {
            found.push(Violation::new(
                "file_name",
                ViolationCode::TypeMismatch,
                format!("Tệp có đuôi .{ext} nhưng khai báo là {content_type}: hãy gửi đúng tệp ảnh/video gốc."),
                format!(
                    "The file ends in .{ext} but is declared as {content_type}: send the original image or video file."
                ),
            ));
        }
        let max = kind.rule(rules).max_bytes;
        if draft.size_bytes == 0 {
            found.push(Violation::new(
                "size_bytes",
                ViolationCode::EmptyFile,
                "Tệp đính kèm rỗng (0 byte): hãy chọn lại tệp.",
                "The attachment is empty (0 bytes): choose the file again.",
            ));
        } else if draft.size_bytes > max {
            let (size_vi, size_en) = mib(draft.size_bytes);
            let (max_vi, max_en) = mib(max);
            found.push(Violation::new(
                "size_bytes",
                ViolationCode::TooLarge,
                format!(
                    "{} nặng {size_vi}, vượt giới hạn {max_vi}: hãy giảm độ phân giải hoặc cắt ngắn.",
                    kind.name_vi()
                ),
                format!(
                    "{} of {size_en} exceeds the limit of {max_en}: lower the resolution or trim it.",
                    kind.name_en()
                ),
            ));
        }
        if found.is_empty() {
            Ok(Self { file_name, content_type, size_bytes: draft.size_bytes, kind })
        } else {
            Err(Violations(found))
        }
    }

    /// The file name without any directory part.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The normalised media type.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Size in bytes, as declared.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// Image, video or document.
    pub fn kind(&self) -> AttachmentKind {
        self.kind
    }
}

impl fmt::Display for AttachmentMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {} bytes)", self.file_name, self.content_type, self.size_bytes)
    }
}

/// Checks the whole list: each item (at most `max_attachments` are examined, so a hostile
/// list costs bounded work), the count, and the number of images and videos.
/// Field paths: `""` for the list, `[i].…` for items.
pub fn parse_attachments(
    drafts: &[AttachmentDraft],
    rules: &SubmissionRules,
) -> Result<Vec<AttachmentMeta>, Violations> {
    let mut found = Vec::new();
    if drafts.len() > rules.max_attachments {
        found.push(Violation::new(
            "",
            ViolationCode::TooMany,
            format!(
                "Có {} tệp đính kèm, tối đa {} tệp: hãy chọn những ảnh, video rõ nhất.",
                drafts.len(),
                rules.max_attachments
            ),
            format!(
                "{} attachments, at most {} are allowed: keep the clearest images and videos.",
                drafts.len(),
                rules.max_attachments
            ),
        ));
    }
    let mut items = Vec::new();
    for (i, draft) in drafts.iter().take(rules.max_attachments).enumerate() {
        match AttachmentMeta::parse(draft, rules) {
            Ok(meta) => items.push(meta),
            Err(v) => found.extend(v.prefixed(&format!("[{i}]"))),
        }
    }
    let media = drafts
        .iter()
        .take(rules.max_attachments)
        .filter(|d| {
            let t = normalize_content_type(&d.content_type);
            rules.image.accepts(&t) || rules.video.accepts(&t)
        })
        .count();
    if media < rules.min_media {
        found.push(Violation::new(
            "",
            ViolationCode::TooFew,
            format!("Cần ít nhất {} ảnh hoặc video chụp hiện trường.", rules.min_media),
            format!("At least {} image(s) or video(s) of the scene are required.", rules.min_media),
        ));
    }
    if found.is_empty() { Ok(items) } else { Err(Violations(found)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(name: &str, content_type: &str, size: u64) -> AttachmentDraft {
        AttachmentDraft { file_name: name.into(), content_type: content_type.into(), size_bytes: size }
    }

    // Proves R6.1b.
    #[test]
    fn accepted_attachments_get_their_kind_r6_1b() {
        let rules = SubmissionRules::default();
        let cases = [
            ("IMG_0001.JPG", "image/jpeg", AttachmentKind::Image),
            ("C:\\fakepath\\anh ho ga.jpg", "image/jpg", AttachmentKind::Image),
            ("IMG_2024.HEIC", "image/heic", AttachmentKind::Image),
            ("Ảnh hiện trường 12.5.2025", "image/png", AttachmentKind::Image),
            ("ngap.mov", "video/quicktime", AttachmentKind::Video),
            ("VID_20250915.mp4", "Video/MP4; codecs=avc1", AttachmentKind::Video),
            ("clip.3gp", "video/3gpp", AttachmentKind::Video),
            ("cong-van.pdf", "application/pdf", AttachmentKind::Document),
        ];
        for (name, content_type, kind) in cases {
            let meta = AttachmentMeta::parse(&draft(name, content_type, 1000), &rules)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(meta.kind(), kind, "{name}");
        }
        let meta = AttachmentMeta::parse(&draft("C:\\fakepath\\anh.jpg", "image/jpg", 5), &rules).unwrap();
        assert_eq!((meta.file_name(), meta.content_type()), ("anh.jpg", "image/jpeg"));
    }

    // Proves R6.1b.
    #[test]
    fn refused_attachments_say_which_field_r6_1b() {
        let rules = SubmissionRules::default();
        let cases = [
            (draft("a.exe", "application/x-msdownload", 10), "content_type", ViolationCode::UnsupportedType),
            (draft("a.gif", "image/gif", 10), "content_type", ViolationCode::UnsupportedType),
            (draft("a", "", 10), "content_type", ViolationCode::UnsupportedType),
            (draft("virus.exe", "image/jpeg", 10), "file_name", ViolationCode::TypeMismatch),
            (draft("clip.mp4", "image/png", 10), "file_name", ViolationCode::TypeMismatch),
            (draft("  ", "image/png", 10), "file_name", ViolationCode::Required),
            (draft(&"a".repeat(300), "image/png", 10), "file_name", ViolationCode::TooLong),
            (draft("a.png", "image/png", 0), "size_bytes", ViolationCode::EmptyFile),
            (draft("a.png", "image/png", 10 * MIB + 1), "size_bytes", ViolationCode::TooLarge),
            (draft("a.mp4", "video/mp4", 200 * MIB + 1), "size_bytes", ViolationCode::TooLarge),
        ];
        for (d, field, code) in cases {
            let err = AttachmentMeta::parse(&d, &rules).expect_err(&d.file_name);
            assert!(err.contains(field, code), "{}: {err}", d.file_name);
        }
        let err = AttachmentMeta::parse(&draft("a.mp4", "video/mp4", 250 * MIB), &rules).unwrap_err();
        assert!(err.0[0].message_vi.contains("Video nặng 250,0 MiB, vượt giới hạn 200,0 MiB"));
    }

    // Proves R6.1b.
    #[test]
    fn list_limits_r6_1b() {
        let rules = SubmissionRules { min_media: 1, max_attachments: 2, ..SubmissionRules::default() };
        let pdf = draft("a.pdf", "application/pdf", 10);
        let err = parse_attachments(std::slice::from_ref(&pdf), &rules).unwrap_err();
        assert!(err.contains("", ViolationCode::TooFew));
        let three = vec![pdf.clone(), pdf.clone(), draft("b.jpg", "image/jpeg", 0)];
        let err = parse_attachments(&three, &rules).unwrap_err();
        assert!(err.contains("", ViolationCode::TooMany));
        let two_bad = vec![pdf, draft("b.jpg", "image/jpeg", 0)];
        let err = parse_attachments(&two_bad, &rules).unwrap_err();
        assert!(err.contains("[1].size_bytes", ViolationCode::EmptyFile));
    }
}
