//! Demo data for embedded mode: a handful of reports from the three former provinces that
//! make up Vĩnh Long since 1 July 2025, submitted through the services' in-process clients as a
//! channel, an operator, officers and leaders would (so every event and deadline is real):
//! three accepted and dispatched — one with a result waiting for its leader, one approved,
//! published and rated by its reporter (with the rating secret delivered with the answer), one
//! from a reporter who asked for confidentiality, answered privately by e-mail — one refused, two
//! waiting for the check. Idempotency keys make a restart find the same reports, not add more.

use anyhow::Context;
use chrono::{SubsecRound, TimeDelta, Utc};
use paht_domain::actor::Role;
use paht_domain::ids::UnitId;
use paht_intake::IntakeClient;
use paht_platform::auth::{AuthConfig, Authenticator, Caller, TokenIssuer};
use paht_platform::error::ApiError;
use paht_platform::service::Clients;
use paht_processing::ProcessingClient;
use paht_proto::v1;
use paht_publication::{PublicationClient, RatingKey};
use paht_routing::RoutingClient;

/// A report of the demo set and what the operator does with it.
struct DemoReport {
    key: &'static str,
    channel: v1::Channel,
    content: &'static str,
    address: &'static str,
    lat: f64,
    lon: f64,
    hours_ago: i64,
    /// The reporter asked for confidentiality (R6.2, R10.3b).
    confidential: bool,
    check: Check,
}

enum Check {
    Wait,
    /// Accepted under a category, then dispatched to the agencies (the first leads), and
    /// handled up to `Handled`.
    Accept(&'static str, &'static [&'static str], Handled),
    Refuse(&'static str),
}

impl Check {
    /// The report's status once every service's facts about it have arrived.
    fn outcome(&self) -> v1::ReportStatus {
        match self {
            Check::Wait => v1::ReportStatus::Received,
            Check::Accept(_, _, Handled::Published) => v1::ReportStatus::Rated,
            Check::Accept(_, _, Handled::AnsweredPrivately) => v1::ReportStatus::AnsweredPrivately,
            Check::Accept(_, _, Handled::ResultSubmitted) => v1::ReportStatus::Dispatched,
            Check::Refuse(_) => v1::ReportStatus::Refused,
        }
    }
}

/// How far the lead agency gets with a dispatched demo report.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Handled {
    /// The officer submitted a result; the leader has not decided.
    ResultSubmitted,
    /// The leader approved, the IOC published the drafted answer and the reporter rated it.
    Published,
    /// The leader approved and the IOC answered the (confidential) reporter privately by e-mail.
    AnsweredPrivately,
}

const REPORTS: [DemoReport; 6] = [
    DemoReport {
        key: "demo-1",
        channel: v1::Channel::WebPortal,
        content: "Mặt đường Phạm Thái Bường đoạn gần chợ Vĩnh Long bị sụt lún, nhiều ổ gà lớn, xe máy đi qua rất nguy hiểm vào ban đêm.",
        address: "Đường Phạm Thái Bường, phường Long Châu, tỉnh Vĩnh Long",
        lat: 10.2537,
        lon: 105.9722,
        hours_ago: 3,
        confidential: false,
        check: Check::Accept("giao-thong", &["SO-XD-86", "UBND-29551"], Handled::ResultSubmitted),
    },
    DemoReport {
        key: "demo-2",
        channel: v1::Channel::Zalo,
        content: "Rác thải sinh hoạt tập kết ven kênh suốt một tuần không được thu gom, bốc mùi hôi thối ảnh hưởng các hộ dân xung quanh.",
        address: "Khóm 3, phường Phú Khương, tỉnh Vĩnh Long",
        lat: 10.2415,
        lon: 106.3759,
        hours_ago: 5,
        confidential: false,
        check: Check::Accept("moi-truong", &["UBND-28756"], Handled::Published),
    },
    DemoReport {
        key: "demo-3",
        channel: v1::Channel::MobileApp,
        content: "Đèn chiếu sáng công cộng trên đường Nguyễn Đáng bị hỏng hàng loạt, cả đoạn đường tối om từ nhiều ngày nay.",
        address: "Đường Nguyễn Đáng, phường Trà Vinh, tỉnh Vĩnh Long",
        lat: 9.9347,
        lon: 106.3453,
        hours_ago: 1,
        confidential: false,
        check: Check::Wait,
    },
    DemoReport {
        key: "demo-4",
        channel: v1::Channel::Email,
        content: "Quán karaoke mở nhạc lớn sau 23 giờ đêm liên tục nhiều ngày, gây mất trật tự và ảnh hưởng giấc ngủ của người dân.",
        address: "Đường 2 Tháng 9, phường Thanh Đức, tỉnh Vĩnh Long",
        lat: 10.2489,
        lon: 105.9598,
        hours_ago: 2,
        confidential: false,
        check: Check::Wait,
    },
    DemoReport {
        key: "demo-5",
        channel: v1::Channel::Facebook,
        content: "Ống nước sinh hoạt bị vỡ trước nhà, nước chảy tràn ra đường từ sáng đến giờ chưa thấy ai đến sửa chữa.",
        address: "Ấp Phú Hòa, xã Châu Thành, tỉnh Vĩnh Long",
        lat: 10.3002,
        lon: 106.3361,
        hours_ago: 4,
        confidential: false,
        check: Check::Refuse("Phản ánh chưa ghi rõ số nhà hoặc vị trí cụ thể, đề nghị bổ sung để xác minh."),
    },
    DemoReport {
        key: "demo-6",
        channel: v1::Channel::WebPortal,
        content: "Cây xanh trên vỉa hè bị nghiêng sau cơn mưa lớn, có nguy cơ ngã đổ vào người đi đường và nhà dân bên cạnh.",
        address: "Đường Hùng Vương, phường Phước Hậu, tỉnh Vĩnh Long",
        lat: 10.2396,
        lon: 105.9847,
        hours_ago: 6,
        confidential: true,
        check: Check::Accept("trat-tu-do-thi", &["UBND-29557"], Handled::AnsweredPrivately),
    },
];

/// What the demo set looks like once seeded.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// Tracking code and status of each demo report.
    pub reports: Vec<(String, v1::ReportStatus)>,
}

/// When the demo was first seeded in this data directory (`demo-anchor`, written the first time):
/// event times count back from it, so a restart sends the very same requests and intake answers
/// them with the first receipts (a key sent again with another request is refused).
fn anchor(data_dir: &std::path::Path) -> anyhow::Result<chrono::DateTime<Utc>> {
    let path = data_dir.join("demo-anchor");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(chrono::DateTime::parse_from_rfc3339(text.trim())
            .with_context(|| format!("reading {}", path.display()))?
            .with_timezone(&Utc)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
            let now = Utc::now().trunc_subsecs(0);
            std::fs::write(&path, now.to_rfc3339()).with_context(|| format!("writing {}", path.display()))?;
            Ok(now)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn request(demo: &DemoReport, n: usize, anchor: chrono::DateTime<Utc>) -> v1::SubmitReportRequest {
    v1::SubmitReportRequest {
        idempotency_key: demo.key.into(),
        channel: demo.channel as i32,
        content: demo.content.into(),
        event_time: Some(paht_proto::convert::timestamp(anchor - TimeDelta::hours(demo.hours_ago + 1))),
        location: Some(v1::Location {
            latitude: Some(demo.lat),
            longitude: Some(demo.lon),
            address: demo.address.into(),
            unit_code: String::new(),
        }),
        reporter: Some(v1::Reporter {
            name: format!("Người dân thử nghiệm {n}"),
            address: demo.address.into(),
            phone: format!("09{n:08}"),
            email: format!("nguoidan{n}@example.invalid"),
            confidential: demo.confidential,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Submits the demo reports through the in-process clients of the services `paht up` hosts
/// (`clients`), as a channel, an operator, officers and leaders with tokens of this instance,
/// and applies the operator's checks and the agencies' work the first time; later calls find
/// them as they are.
pub async fn seed(
    clients: &Clients,
    auth: &AuthConfig,
    instance: &str,
    data_dir: &std::path::Path,
) -> anyhow::Result<Seeded> {
    let intake: IntakeClient = clients.get().context("intake is not hosted in this process")?;
    let anchor = anchor(data_dir)?;
    let people =
        People { issuer: TokenIssuer::new(auth)?, authenticator: Authenticator::new(auth, instance)?, instance };
    let unit = UnitId::new(instance);
    let channel = people.caller("demo-channel", Role::System, &unit)?;
    let operator = people.caller("demo-operator", Role::IocOperator, &unit)?;
    let mut reports = Vec::new();
    for (i, demo) in REPORTS.iter().enumerate() {
        let receipt = intake.submit_report(&channel, request(demo, i + 1, anchor)).await?;
        let get = v1::GetReportRequest { report_id: receipt.report_id.clone() };
        let report = intake.get_report(&operator, get.clone()).await?.report.unwrap_or_default();
        if report.status == v1::ReportStatus::Received as i32 {
            let report_id = receipt.report_id.clone();
            match demo.check {
                Check::Wait => {}
                Check::Accept(category, agencies, handled) => {
                    let req = v1::AcceptReportRequest { report_id: report_id.clone(), category_id: category.into() };
                    intake.accept_report(&operator, req).await?;
                    let work = Work {
                        routing: clients.get().context("routing is not hosted in this process")?,
                        processing: clients.get().context("processing is not hosted in this process")?,
                        publication: clients.get().context("publication is not hosted in this process")?,
                        rating_key: rating_key(data_dir)?,
                        people: &people,
                        operator: &operator,
                    };
                    work.handle(&report_id, &receipt.tracking_code, agencies, handled).await?;
                }
                Check::Refuse(reason) => {
                    intake
                        .refuse_report(&operator, v1::RefuseReportRequest { report_id, reason: reason.into() })
                        .await?;
                }
            }
        }
        // What intake shows, once the other services' facts (dispatch, resolution) reached it:
        // the banner tells what a citizen's lookup finds, in the first run and after a restart.
        let expected = demo.check.outcome() as i32;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        let status = loop {
            let report = intake.get_report(&operator, get.clone()).await?.report.unwrap_or_default();
            if report.status == expected || tokio::time::Instant::now() >= deadline {
                break v1::ReportStatus::try_from(report.status).unwrap_or_default();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        reports.push((receipt.tracking_code, status));
    }
    Ok(Seeded { reports })
}

/// The people of the demo: callers with real tokens of this instance, verified as the
/// services' guard would.
struct People<'a> {
    issuer: TokenIssuer,
    authenticator: Authenticator,
    instance: &'a str,
}

impl People<'_> {
    fn caller(&self, subject: &str, role: Role, unit: &UnitId) -> anyhow::Result<Caller> {
        let token = self.issuer.mint(subject, role, unit, self.instance, None)?;
        Ok(Caller::verify(&self.authenticator, &token)?)
    }
}

/// The rating key `paht up` generated in the data directory: the demo reporter rates with the
/// secret the answer would have brought them.
fn rating_key(data_dir: &std::path::Path) -> anyhow::Result<Option<RatingKey>> {
    let path = data_dir.join("rating-key");
    match std::fs::read_to_string(&path) {
        Ok(key) => Ok(Some(RatingKey::new(&key).with_context(|| format!("reading {}", path.display()))?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The agencies' and the IOC's side of the demo: dispatch, result, approval, the answer.
struct Work<'a> {
    routing: RoutingClient,
    processing: ProcessingClient,
    publication: PublicationClient,
    rating_key: Option<RatingKey>,
    people: &'a People<'a>,
    operator: &'a Caller,
}

impl Work<'_> {
    /// Dispatches to `agencies` (the first leads) and takes the lead's share to `handled`.
    async fn handle(
        &self,
        report_id: &str,
        tracking_code: &str,
        agencies: &[&str],
        handled: Handled,
    ) -> anyhow::Result<()> {
        let targets: Vec<v1::DispatchTarget> = agencies
            .iter()
            .enumerate()
            .map(|(i, agency)| v1::DispatchTarget { agency_unit_id: (*agency).into(), lead: i == 0 })
            .collect();
        let dispatched = retry(|| {
            let req = v1::DispatchRequest {
                report_id: report_id.into(),
                targets: targets.clone(),
                note: "Đề nghị xử lý theo thẩm quyền.".into(),
            };
            self.routing.dispatch(self.operator, req)
        })
        .await?;
        let Some(lead) = dispatched.assignments.iter().find(|a| a.lead) else { return Ok(()) };
        let agency = UnitId::new(lead.agency_unit_id.clone());
        let officer = self.people.caller("demo-officer", Role::Officer, &agency)?;
        let leader = self.people.caller("demo-leader", Role::Leader, &agency)?;
        retry(|| {
            let req = v1::SubmitResultRequest {
                assignment_id: lead.id.clone(),
                text: "Đơn vị đã kiểm tra hiện trường và khắc phục xong; hình ảnh sau khắc phục kèm theo hồ sơ.".into(),
                attachment_ids: Vec::new(),
            };
            self.processing.submit_result(&officer, req)
        })
        .await?;
        if handled == Handled::ResultSubmitted {
            return Ok(());
        }
        let req = v1::ApproveResultRequest { assignment_id: lead.id.clone(), note: String::new() };
        self.processing.approve_result(&leader, req).await?;
        // The answer, once routing's resolution reached publication: drafted from the result.
        match handled {
            Handled::Published => {
                let answer = retry(|| {
                    self.publication
                        .publish_answer(self.operator, v1::PublishAnswerRequest { report_id: report_id.into() })
                })
                .await?;
                let (Some(key), Some(_)) = (&self.rating_key, answer.answer) else { return Ok(()) };
                let report_id: paht_domain::ids::ReportId = report_id.parse()?;
                let rating = v1::RateReportRequest {
                    tracking_code: tracking_code.into(),
                    value: v1::RatingValue::Satisfied as i32,
                    feedback: "Rác đã được thu gom sạch sẽ, cảm ơn các cơ quan.".into(),
                    rating_secret: key.secret(report_id, 0),
                };
                self.publication.rate_report(rating).await?;
            }
            Handled::AnsweredPrivately => {
                retry(|| {
                    let req = v1::AnswerPrivatelyRequest {
                        report_id: report_id.into(),
                        delivery: v1::PrivateDelivery::Email as i32,
                        note: "Gửi riêng theo yêu cầu giữ bí mật của người phản ánh.".into(),
                    };
                    self.publication.answer_privately(self.operator, req)
                })
                .await?;
            }
            Handled::ResultSubmitted => {}
        }
        Ok(())
    }
}

/// Retries while the other service has not yet heard of the previous step (its replica is fed
/// by events), up to 30 s.
async fn retry<T, F, Fut>(mut call: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(e)
                if matches!(e.code(), tonic::Code::NotFound | tonic::Code::FailedPrecondition)
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
