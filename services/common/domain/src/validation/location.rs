//! Where the event happened (R6.1b): coordinates in Vietnam, an address, a unit code.
//!
//! "Inside Vietnam" is an approximation drawn for this check, not a survey: a polygon of
//! 60-odd points around the mainland and its near-shore islands, drawn 5–15 km outside the
//! land border and 10–30 km out to sea, plus boxes for the offshore islands (Phú Quốc and the
//! Kiên Giang islands, Côn Đảo, Phú Quý, Bạch Long Vĩ) and the Hoàng Sa and Trường Sa
//! archipelagos. It is generous on purpose: refusing a citizen standing in Vietnam is worse
//! than accepting a point a few kilometres across the border, which the operator sees on
//! the map anyway. Known approximations: border towns facing Vietnamese ones (Hà Khẩu,
//! Đông Hưng, Bavet) and a strip of Cambodia's Parrot's Beak fall inside; the sea
//! boxes include open water. Whether the point lies in the instance's own province is a
//! routing question for the unit directory, not for this module.

use serde::{Deserialize, Serialize};

use super::rules::SubmissionRules;
use super::text::{Address, Code};
use super::violation::{Collector, Violation, ViolationCode, Violations};

/// A WGS 84 position inside Vietnam (see the module doc for how "inside" is drawn).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawCoordinates", into = "RawCoordinates")]
pub struct Coordinates {
    latitude: f64,
    longitude: f64,
}

/// The serialised shape of [`Coordinates`]; deserialising goes through the same check.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct RawCoordinates {
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
}

/// The mainland and near-shore islands, (longitude, latitude), clockwise from the
/// China–Laos–Vietnam tripoint.
const MAINLAND: &[(f64, f64)] = &[
    // Northern border with China, west to east.
    (102.05, 22.45),
    (102.65, 22.85),
    (103.50, 22.85),
    (104.00, 22.65),
    (104.45, 22.95),
    (105.30, 23.50),
    (105.85, 23.10),
    (106.75, 22.95),
    (106.85, 22.75),
    (106.70, 22.25),
    (106.85, 21.98),
    (107.15, 21.85),
    (108.15, 21.60),
    // Gulf of Tonkin and the central coast, offshore, north to south.
    (108.20, 21.35),
    (107.95, 20.80),
    (107.15, 20.55),
    (106.75, 20.05),
    (106.15, 19.50),
    (105.95, 18.80),
    (106.70, 18.05),
    (107.45, 17.20),
    (108.40, 16.20),
    (108.65, 15.95),
    (109.25, 15.40),
    (109.45, 13.80),
    (109.60, 12.85),
    (109.45, 12.20),
    (109.35, 11.75),
    (109.20, 11.30),
    (108.20, 10.55),
    (107.25, 10.20),
    // Mekong delta coast round Cà Mau, then up the Gulf of Thailand to Hà Tiên.
    (106.60, 9.35),
    (105.85, 8.95),
    (105.05, 8.45),
    (104.70, 8.30),
    (104.50, 8.55),
    (104.40, 8.90),
    (104.20, 9.60),
    (104.35, 10.30),
    (104.40, 10.45),
    // Border with Cambodia, south to north.
    (104.85, 10.65),
    (105.05, 11.00),
    (106.30, 10.90),
    (105.72, 11.60),
    (105.90, 12.05),
    (106.50, 12.10),
    (107.40, 12.45),
    (107.70, 13.55),
    (107.45, 14.20),
    (107.45, 14.75),
    // Border with Laos, south to north.
    (107.45, 15.20),
    (107.20, 15.95),
    (106.45, 16.60),
    (105.80, 17.45),
    (104.95, 18.65),
    (103.75, 19.25),
    (104.10, 19.70),
    (104.72, 19.98),
    (104.33, 20.80),
    (103.15, 20.85),
    (102.65, 21.70),
    (102.40, 22.00),
    (102.10, 22.20),
    (102.00, 22.35),
];

/// Offshore islands and archipelagos: (west, south, east, north) in degrees.
const ISLAND_BOXES: &[(&str, f64, f64, f64, f64)] = &[
    ("Phú Quốc, Thổ Chu và quần đảo Kiên Giang", 103.40, 9.15, 104.12, 10.48),
    ("Côn Đảo", 106.45, 8.50, 106.75, 8.82),
    ("Phú Quý", 108.85, 10.45, 109.00, 10.60),
    ("Bạch Long Vĩ", 107.65, 20.08, 107.78, 20.18),
    ("Hoàng Sa", 111.00, 15.60, 113.00, 17.20),
    ("Trường Sa", 111.40, 7.50, 116.00, 11.60),
];

/// Even-odd ray casting; points exactly on an edge may fall either way, which the
/// generous outline makes irrelevant.
fn inside_polygon(polygon: &[(f64, f64)], lon: f64, lat: f64) -> bool {
    let mut inside = false;
    let mut j = polygon.len() - 1;
    for i in 0..polygon.len() {
        let (xi, yi) = polygon[i];
        let (xj, yj) = polygon[j];
        if (yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// True if the point lies in the approximate outline of Vietnam described in the module doc.
pub fn in_vietnam(latitude: f64, longitude: f64) -> bool {
    inside_polygon(MAINLAND, longitude, latitude)
        || ISLAND_BOXES.iter().any(|(_, w, s, e, n)| (*w..=*e).contains(&longitude) && (*s..=*n).contains(&latitude))
}

impl Coordinates {
    /// Checks that both values are numbers on Earth and the point is in Vietnam.
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, Violations> {
        let on_earth = latitude.is_finite()
            && longitude.is_finite()
            && (-90.0..=90.0).contains(&latitude)
            && (-180.0..=180.0).contains(&longitude);
        if !on_earth {
            return Err(Violation::new(
                "",
                ViolationCode::InvalidCoordinates,
                "Tọa độ không hợp lệ: vĩ độ phải từ -90 đến 90, kinh độ từ -180 đến 180 (độ thập phân); hãy chọn lại vị trí trên bản đồ.",
                "Invalid coordinates: latitude must be within -90..90 and longitude within -180..180 (decimal degrees); pick the place on the map again.",
            )
            .into());
        }
        if !in_vietnam(latitude, longitude) {
            return Err(Violation::new(
                "",
                ViolationCode::OutOfVietnam,
                format!("Vị trí ({latitude:.5}, {longitude:.5}) nằm ngoài lãnh thổ Việt Nam: hãy kiểm tra định vị hoặc chọn lại vị trí trên bản đồ (vĩ độ trước, kinh độ sau)."),
                format!("The position ({latitude:.5}, {longitude:.5}) is outside Vietnam: check the location service or pick the place on the map again (latitude first, then longitude)."),
            )
            .into());
        }
        Ok(Self { latitude, longitude })
    }

    /// Degrees north.
    pub fn latitude(&self) -> f64 {
        self.latitude
    }

    /// Degrees east.
    pub fn longitude(&self) -> f64 {
        self.longitude
    }
}

impl TryFrom<RawCoordinates> for Coordinates {
    type Error = Violations;

    fn try_from(raw: RawCoordinates) -> Result<Self, Self::Error> {
        Self::new(raw.latitude, raw.longitude)
    }
}

impl From<Coordinates> for RawCoordinates {
    fn from(c: Coordinates) -> Self {
        Self { latitude: c.latitude, longitude: c.longitude }
    }
}

/// The location part of a draft, as any channel delivers it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocationDraft {
    /// Degrees north, if the device or the map gave one.
    pub latitude: Option<f64>,
    /// Degrees east.
    pub longitude: Option<f64>,
    /// Written address of the event.
    pub address: Option<String>,
    /// Code of the administrative unit (commune/ward) where it happened.
    pub unit_code: Option<String>,
}

/// Where the event happened: at least coordinates or an address (or, if the rules allow,
/// a unit code alone), each of them valid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Place {
    coordinates: Option<Coordinates>,
    address: Option<Address>,
    unit_code: Option<Code>,
}

/// Treats `Some("  ")` like `None`: channels send empty strings for fields left blank.
pub(crate) fn non_blank(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.trim().is_empty())
}

impl Place {
    /// Checks every part that is given, and that enough is given to find the place.
    /// Field paths: `latitude`, `longitude`, `address`, `unit_code`, or `""` for the whole.
    pub fn parse(draft: &LocationDraft, rules: &SubmissionRules) -> Result<Self, Violations> {
        let mut found = Collector::default();
        let coordinates = match (draft.latitude, draft.longitude) {
            (Some(lat), Some(lon)) => found.take("", Coordinates::new(lat, lon)),
            (None, None) => None,
            (lat, _) => {
                let (missing, vi, en) = if lat.is_none() {
                    ("latitude", "vĩ độ", "latitude")
                } else {
                    ("longitude", "kinh độ", "longitude")
                };
                found.push(Violation::new(
                    missing,
                    ViolationCode::Required,
                    format!("Tọa độ thiếu {vi}: cần cả vĩ độ và kinh độ, hoặc bỏ trống cả hai và ghi địa chỉ."),
                    format!("The coordinates lack the {en}: give both latitude and longitude, or neither and write the address."),
                ));
                None
            }
        };
        let address = non_blank(&draft.address).and_then(|a| found.take("address", Address::parse(a, rules)));
        let unit_code = non_blank(&draft.unit_code).and_then(|c| found.take("unit_code", Code::parse(c)));
        let anything_given = draft.latitude.is_some()
            || draft.longitude.is_some()
            || non_blank(&draft.address).is_some()
            || non_blank(&draft.unit_code).is_some();
        let locates = draft.latitude.is_some()
            || draft.longitude.is_some()
            || non_blank(&draft.address).is_some()
            || (rules.unit_code_alone_locates && non_blank(&draft.unit_code).is_some());
        if !anything_given {
            found.push(Violation::new(
                "",
                ViolationCode::Required,
                "Chưa có địa điểm xảy ra sự việc: hãy chọn vị trí trên bản đồ hoặc ghi địa chỉ (số nhà, đường, ấp/khu phố, xã/phường).",
                "The place of the event is missing: pick it on the map or write the address (house number, street, hamlet, commune or ward).",
            ));
        } else if !locates {
            found.push(Violation::new(
                "",
                ViolationCode::Required,
                "Chỉ có xã/phường là chưa đủ rõ địa điểm: hãy chọn vị trí trên bản đồ hoặc ghi địa chỉ cụ thể.",
                "A commune or ward alone does not locate the event: pick it on the map or write the exact address.",
            ));
        }
        found.finish()?;
        Ok(Self { coordinates, address, unit_code })
    }

    /// The position, if given.
    pub fn coordinates(&self) -> Option<Coordinates> {
        self.coordinates
    }

    /// The written address, if given.
    pub fn address(&self) -> Option<&Address> {
        self.address.as_ref()
    }

    /// The administrative unit's code, if given.
    pub fn unit_code(&self) -> Option<&Code> {
        self.unit_code.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves R6.1b.
    #[test]
    fn places_in_vietnam_are_inside_r6_1b() {
        let inside = [
            ("Hà Nội, Hồ Hoàn Kiếm", 21.0285, 105.8542),
            ("TP.HCM, Chợ Bến Thành", 10.7725, 106.6980),
            ("Vĩnh Long", 10.2537, 105.9722),
            ("Bến Tre", 10.2434, 106.3756),
            ("Trà Vinh", 9.9347, 106.3453),
            ("Phú Quốc, Dương Đông", 10.2170, 103.9590),
            ("Côn Đảo", 8.6829, 106.6090),
            ("Đà Nẵng", 16.0544, 108.2022),
            ("Huế", 16.4637, 107.5909),
            ("Nha Trang", 12.2388, 109.1967),
            ("Đà Lạt", 11.9404, 108.4583),
            ("Cần Thơ", 10.0452, 105.7469),
            ("Mũi Cà Mau", 8.6170, 104.7250),
            ("Lũng Cú", 23.3640, 105.3160),
            ("Móng Cái", 21.5240, 107.9660),
            ("Sa Pa", 22.3364, 103.8438),
            ("Điện Biên Phủ", 21.3860, 103.0230),
            ("Tây Ninh", 11.3100, 106.0980),
            ("Lý Sơn", 15.3800, 109.1200),
            ("Trường Sa Lớn", 8.6450, 111.9190),
            ("Hoàng Sa, đảo Phú Lâm", 16.8340, 112.3380),
        ];
        for (name, lat, lon) in inside {
            assert!(Coordinates::new(lat, lon).is_ok(), "{name} should be inside");
        }
    }

    // Proves R6.1b.
    #[test]
    fn places_abroad_are_outside_r6_1b() {
        let outside = [
            ("Bangkok", 13.7563, 100.5018),
            ("Vientiane", 17.9757, 102.6331),
            ("Phnom Penh", 11.5564, 104.9282),
            ("Guangzhou", 23.1291, 113.2644),
            ("Nanning", 22.8170, 108.3665),
            ("Haikou", 20.0440, 110.1999),
            ("Sam Neua (Laos)", 20.4159, 104.0480),
            ("Siem Reap", 13.3671, 103.8448),
            ("Manila", 14.5995, 120.9842),
            ("Kuala Lumpur", 3.1390, 101.6869),
            ("null island", 0.0, 0.0),
            ("lat/lon swapped for Hà Nội", 105.8542, 21.0285),
        ];
        for (name, lat, lon) in outside {
            let err = Coordinates::new(lat, lon).expect_err(name);
            let code = err.0[0].code;
            assert!(matches!(code, ViolationCode::OutOfVietnam | ViolationCode::InvalidCoordinates), "{name}: {code}");
        }
        assert_eq!(Coordinates::new(0.0, 0.0).unwrap_err().0[0].code, ViolationCode::OutOfVietnam);
    }

    // Proves R6.1b.
    #[test]
    fn non_numbers_are_invalid_coordinates_r6_1b() {
        for (lat, lon) in [(f64::NAN, 105.0), (10.0, f64::INFINITY), (91.0, 105.0), (10.0, -181.0)] {
            assert_eq!(Coordinates::new(lat, lon).unwrap_err().0[0].code, ViolationCode::InvalidCoordinates);
        }
    }

    // Proves R6.1b.
    #[test]
    fn place_needs_coordinates_or_address_r6_1b() {
        let rules = SubmissionRules::default();
        let nothing = LocationDraft { address: Some("   ".into()), ..LocationDraft::default() };
        assert!(Place::parse(&nothing, &rules).unwrap_err().contains("", ViolationCode::Required));

        let unit_only = LocationDraft { unit_code: Some("29254".into()), ..LocationDraft::default() };
        let err = Place::parse(&unit_only, &rules).unwrap_err();
        assert!(err.0[0].message_vi.contains("Chỉ có xã/phường"));
        let lenient = SubmissionRules { unit_code_alone_locates: true, ..rules.clone() };
        assert!(Place::parse(&unit_only, &lenient).is_ok());

        let half = LocationDraft { latitude: Some(10.25), ..LocationDraft::default() };
        assert!(Place::parse(&half, &rules).unwrap_err().contains("longitude", ViolationCode::Required));

        let address_only = LocationDraft {
            address: Some("Trước số 45 đường Phạm Thái Bường, phường 4, Vĩnh Long".into()),
            ..LocationDraft::default()
        };
        let place = Place::parse(&address_only, &rules).unwrap();
        assert!(place.coordinates().is_none());
        assert!(place.address().is_some());
    }
}
