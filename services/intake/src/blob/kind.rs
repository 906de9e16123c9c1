//! The kinds of attachment and how the real media type is read from the first bytes.

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
    pub(super) fn from_sniffed(mime: &str) -> Option<Self> {
        match mime {
            "image/jpeg" | "image/png" | "image/webp" | "image/heif" | "image/avif" | "image/gif" => Some(Self::Image),
            "video/mp4" | "video/quicktime" | "video/webm" | "video/3gpp" | "video/x-m4v" => Some(Self::Video),
            "application/pdf" => Some(Self::Document),
            _ => None,
        }
    }
}

/// The media type of the first bytes of a file, if recognised.
pub(super) fn sniff(head: &[u8]) -> Option<&'static str> {
    // `infer` does not know 3GPP, still the default video format of many low-end Android phones.
    let is_3gpp = head.len() >= 12 && &head[4..8] == b"ftyp" && (&head[8..11] == b"3gp" || &head[8..11] == b"3g2");
    if is_3gpp { Some("video/3gpp") } else { infer::get(head).map(|t| t.mime_type()) }
}
