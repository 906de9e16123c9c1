//! Demo data for embedded mode: a handful of reports from the three former provinces that
//! make up Vĩnh Long since 1 July 2025, submitted through the running gRPC service as a
//! channel would (so every event and deadline is real), two accepted and one refused by
//! an operator. Idempotency keys make a restart find the same reports, not add more.

use chrono::{TimeDelta, Utc};
use paht_domain::actor::Role;
use paht_domain::ids::UnitId;
use paht_platform::auth::{AuthConfig, TokenIssuer};
use paht_proto::v1;
use paht_proto::v1::intake_service_client::IntakeServiceClient;
use tonic::Request;
use tonic::transport::Channel;

/// A report of the demo set and what the operator does with it.
struct DemoReport {
    key: &'static str,
    channel: v1::Channel,
    content: &'static str,
    address: &'static str,
    lat: f64,
    lon: f64,
    hours_ago: i64,
    check: Check,
}

enum Check {
    Wait,
    Accept(&'static str),
    Refuse(&'static str),
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
        check: Check::Accept("giao-thong"),
    },
    DemoReport {
        key: "demo-2",
        channel: v1::Channel::Zalo,
        content: "Rác thải sinh hoạt tập kết ven kênh suốt một tuần không được thu gom, bốc mùi hôi thối ảnh hưởng các hộ dân xung quanh.",
        address: "Khóm 3, phường Phú Khương, tỉnh Vĩnh Long",
        lat: 10.2415,
        lon: 106.3759,
        hours_ago: 5,
        check: Check::Accept("moi-truong"),
    },
    DemoReport {
        key: "demo-3",
        channel: v1::Channel::MobileApp,
        content: "Đèn chiếu sáng công cộng trên đường Nguyễn Đáng bị hỏng hàng loạt, cả đoạn đường tối om từ nhiều ngày nay.",
        address: "Đường Nguyễn Đáng, phường Trà Vinh, tỉnh Vĩnh Long",
        lat: 9.9347,
        lon: 106.3453,
        hours_ago: 1,
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
        check: Check::Refuse("Phản ánh chưa ghi rõ số nhà hoặc vị trí cụ thể, đề nghị bổ sung để xác minh."),
    },
    DemoReport {
        key: "demo-6",
        channel: v1::Channel::WebPortal,
        content: "Cây xanh trên vỉa hè bị nghiêng sau cơn mưa lớn, có nguy cơ ngã đổ vào người đi đường và nhà dân bên cạnh.",
        address: "Đường Hùng Vương, phường Phước Hậu, tỉnh Vĩnh Long",
        lat: 10.2396,
        lon: 105.9847,
        hours_ago: 0,
        check: Check::Wait,
    },
];

/// What the demo set looks like once seeded.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// Tracking code and status of each demo report.
    pub reports: Vec<(String, v1::ReportStatus)>,
}

fn with_token<T>(token: &str, message: T) -> anyhow::Result<Request<T>> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse()?);
    Ok(request)
}

fn request(demo: &DemoReport, n: usize) -> v1::SubmitReportRequest {
    v1::SubmitReportRequest {
        idempotency_key: demo.key.into(),
        channel: demo.channel as i32,
        content: demo.content.into(),
        event_time: Some(paht_proto::convert::timestamp(Utc::now() - TimeDelta::hours(demo.hours_ago + 1))),
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
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Submits the demo reports to the server at `grpc_addr` and applies the operator's checks
/// the first time; later calls find them as they are.
pub async fn seed(grpc_addr: std::net::SocketAddr, auth: &AuthConfig, instance: &str) -> anyhow::Result<Seeded> {
    let issuer = TokenIssuer::new(auth)?;
    let unit = UnitId::new(instance);
    let channel_token = issuer.mint("demo-channel", Role::System, &unit, instance, None)?;
    let operator_token = issuer.mint("demo-operator", Role::IocOperator, &unit, instance, None)?;
    let channel = Channel::from_shared(format!("http://{grpc_addr}"))?.connect().await?;
    let mut client = IntakeServiceClient::new(channel);
    let mut reports = Vec::new();
    for (i, demo) in REPORTS.iter().enumerate() {
        let receipt = client.submit_report(with_token(&channel_token, request(demo, i + 1))?).await?.into_inner();
        let get = v1::GetReportRequest { report_id: receipt.report_id.clone() };
        let report =
            client.get_report(with_token(&operator_token, get)?).await?.into_inner().report.unwrap_or_default();
        let mut status = v1::ReportStatus::try_from(report.status).unwrap_or_default();
        if status == v1::ReportStatus::Received {
            let report_id = receipt.report_id.clone();
            let checked = match demo.check {
                Check::Wait => None,
                Check::Accept(category) => {
                    let req = v1::AcceptReportRequest { report_id, category_id: category.into() };
                    Some(client.accept_report(with_token(&operator_token, req)?).await?.into_inner().report)
                }
                Check::Refuse(reason) => {
                    let req = v1::RefuseReportRequest { report_id, reason: reason.into() };
                    Some(client.refuse_report(with_token(&operator_token, req)?).await?.into_inner().report)
                }
            };
            if let Some(report) = checked.flatten() {
                status = v1::ReportStatus::try_from(report.status).unwrap_or_default();
            }
        }
        reports.push((receipt.tracking_code, status));
    }
    Ok(Seeded { reports })
}
