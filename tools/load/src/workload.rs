//! The submitted reports: valid under the default submission rules (article 6), Vietnamese
//! text of realistic length, places in Ho Chi Minh City, and a different content, place,
//! reporter and phone per request so that no cache or index sees the same row twice.

use std::time::{Duration, SystemTime};

use paht_proto::v1;
use uuid::Uuid;

const TEMPLATES: [&str; 8] = [
    "Đường {street} có ổ gà lớn trước số nhà {n}, rất nguy hiểm cho người đi xe máy vào ban đêm.",
    "Đèn đường trên đường {street} đoạn gần số nhà {n} bị hỏng nhiều ngày nay, buổi tối rất tối và mất an toàn.",
    "Rác thải sinh hoạt bị đổ bừa bãi ở góc đường {street} gần số nhà {n}, bốc mùi hôi ảnh hưởng đến người dân xung quanh.",
    "Nắp cống trên đường {street} trước số nhà {n} bị vỡ, nước thải tràn ra mặt đường mỗi khi trời mưa.",
    "Cây xanh trước số nhà {n} đường {street} bị nghiêng sắp đổ, đề nghị cơ quan chức năng kiểm tra và xử lý sớm.",
    "Quán ăn ở số nhà {n} đường {street} lấn chiếm vỉa hè, người đi bộ phải đi xuống lòng đường rất nguy hiểm.",
    "Công trình xây dựng tại số nhà {n} đường {street} làm việc đến khuya, gây tiếng ồn lớn ảnh hưởng giấc ngủ của người dân.",
    "Đoạn đường {street} gần số nhà {n} bị ngập sâu sau mỗi cơn mưa, xe cộ đi lại rất khó khăn và thường bị chết máy.",
];

const STREETS: [&str; 10] = [
    "Nguyễn Trãi",
    "Lê Lợi",
    "Hai Bà Trưng",
    "Trần Hưng Đạo",
    "Nguyễn Huệ",
    "Điện Biên Phủ",
    "Cách Mạng Tháng Tám",
    "Võ Văn Tần",
    "Pasteur",
    "Lý Tự Trọng",
];

const WARDS: [&str; 5] = ["phường Bến Thành", "phường Sài Gòn", "phường Tân Định", "phường Xuân Hòa", "phường Bàn Cờ"];

const NAMES: [&str; 8] = [
    "Nguyễn Văn An",
    "Trần Thị Bình",
    "Lê Văn Cường",
    "Phạm Thị Dung",
    "Hoàng Văn Em",
    "Võ Thị Hoa",
    "Đặng Minh Khoa",
    "Bùi Thị Lan",
];

/// Mobile prefixes allocated to Vietnamese networks (the 10-digit plan of 2018).
const MOBILE_PREFIXES: [&str; 12] =
    ["090", "091", "093", "094", "096", "097", "098", "032", "070", "077", "083", "086"];

const CHANNELS: [v1::Channel; 2] = [v1::Channel::WebPortal, v1::Channel::MobileApp];

/// SplitMix64: enough to spread requests over the templates; not for anything secret.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A small deterministic generator over one request's number.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A uniform value in `[lo, hi)`.
    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

/// The `n`-th report of a run, submitted `now`. Its content depends only on `n` (so runs are
/// reproducible); its idempotency key is a fresh UUID, so every request creates a report.
pub fn request(n: u64, now: SystemTime) -> v1::SubmitReportRequest {
    let mut draw = Draw(n);
    let street = draw.pick(&STREETS);
    let number = 1 + draw.below(300);
    let content = draw.pick(&TEMPLATES).replace("{street}", street).replace("{n}", &number.to_string());
    let ward = draw.pick(&WARDS);
    let phone = format!("{}{:07}", draw.pick(&MOBILE_PREFIXES), draw.next() % 10_000_000);
    let home = 1 + draw.below(500);
    let home_street = draw.pick(&STREETS);
    let name = draw.pick(&NAMES);
    // Between ten minutes and two days ago: recent enough for the rules, never in the future.
    let age = Duration::from_secs(600 + draw.next() % (2 * 24 * 3600 - 600));
    v1::SubmitReportRequest {
        idempotency_key: Uuid::new_v4().to_string(),
        channel: CHANNELS[draw.below(CHANNELS.len())] as i32,
        category_id: String::new(),
        content,
        event_time: Some(prost_types::Timestamp::from(now - age)),
        location: Some(v1::Location {
            // Central Ho Chi Minh City.
            latitude: Some(draw.between(10.74, 10.82)),
            longitude: Some(draw.between(106.64, 106.74)),
            address: format!("{number} {street}, {ward}"),
            unit_code: String::new(),
        }),
        attachment_ids: vec![],
        reporter: Some(v1::Reporter {
            name: name.to_owned(),
            address: format!("{home} {home_street}, {}", draw.pick(&WARDS)),
            phone,
            email: String::new(),
            confidential: draw.below(10) == 0,
            show_name_publicly: false,
            channel_address: String::new(),
        }),
        // As a portal backend relays them: one session and one client address per report, so the
        // per-sender and per-address limits (when on) do not throttle the load as one sender.
        origin: Some(v1::ChannelOrigin {
            sender_id: format!("load-session-{n}"),
            client_address: format!("100.{}.{}.{}", 64 + draw.below(64), draw.below(256), 1 + draw.below(254)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use chrono::{DateTime, FixedOffset, Utc};
    use paht_domain::validation::{LocationDraft, ReportDraft, ReporterDraft, SubmissionRules, validate_report};

    use super::*;

    /// The request as intake reads it (services/intake/src/service/mapping.rs `draft`).
    fn draft(req: &v1::SubmitReportRequest) -> ReportDraft {
        let location = req.location.clone().unwrap();
        let reporter = req.reporter.clone().unwrap();
        let ts = req.event_time.unwrap();
        let event_time = DateTime::<Utc>::from_timestamp(ts.seconds, ts.nanos as u32)
            .unwrap()
            .with_timezone(&FixedOffset::east_opt(7 * 3600).unwrap());
        ReportDraft {
            content: req.content.clone(),
            title: None,
            category_code: None,
            event_time: Some(event_time),
            location: LocationDraft {
                latitude: location.latitude,
                longitude: location.longitude,
                address: Some(location.address),
                unit_code: None,
            },
            reporter: ReporterDraft {
                name: reporter.name,
                address: reporter.address,
                phone: reporter.phone,
                email: None,
                confidential: reporter.confidential,
            },
            attachments: vec![],
        }
    }

    #[test]
    fn every_generated_report_passes_the_submission_rules() {
        let now = SystemTime::now();
        let rules = SubmissionRules::default();
        for n in 0..2_000 {
            let req = request(n, now);
            if let Err(violations) = validate_report(&draft(&req), &rules, Utc::now()) {
                panic!("request {n} is invalid: {violations:?}\n{req:?}");
            }
        }
    }

    #[test]
    fn requests_vary_and_keys_are_unique() {
        let now = SystemTime::now();
        let requests: Vec<_> = (0..1_000).map(|n| request(n, now)).collect();
        let distinct =
            |f: &dyn Fn(&v1::SubmitReportRequest) -> String| requests.iter().map(f).collect::<HashSet<_>>().len();
        assert_eq!(distinct(&|r| r.idempotency_key.clone()), 1_000);
        assert!(distinct(&|r| r.content.clone()) > 500);
        assert!(distinct(&|r| r.reporter.as_ref().unwrap().phone.clone()) > 990);
        assert!(distinct(&|r| format!("{:?}", r.location.as_ref().unwrap().latitude)) > 990);
    }

    #[test]
    fn the_same_number_gives_the_same_report() {
        let now = SystemTime::now();
        let (a, b) = (request(42, now), request(42, now));
        assert_eq!(a.content, b.content);
        assert_eq!(a.reporter, b.reporter);
        assert_ne!(a.idempotency_key, b.idempotency_key);
    }
}
