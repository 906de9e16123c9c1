//! The reporter's phone number (R6.1c): a Vietnamese number the IOC can call back.
//!
//! Numbering plan (Ministry of Information and Communications, after the 2017 landline and
//! 2018 mobile conversions), national significant number after the trunk `0`:
//! - **mobile**: 9 digits, first two `3x` (Viettel 032–039), `5x` (052, 055, 056, 058, 059),
//!   `7x` (070, 076–079), `8x` (081–089), `9x` (090–099). Prefixes not allocated to any
//!   network (050, 053, 054, 057, 071–075, 080) are refused. Which network holds which
//!   prefix changes with number portability and is not checked;
//! - **landline**: 10 digits, `2` + area code: `24` (Hà Nội), `28` (TP.HCM) or one of the
//!   provincial `2xx` codes of the 2017 plan (e.g. 270 Vĩnh Long, 275 Bến Tre, 294 Trà Vinh).
//!
//! Foreign numbers are refused: the IOC calls reporters back on Vietnamese networks.
//! The 11-digit mobiles of before 2018 (`01xx…`) are refused with a hint to the new prefix.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::violation::{Violation, ViolationCode, Violations};

/// A Vietnamese mobile or landline number, stored in E.164 form (`+84912345678`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber {
    e164: String,
    kind: PhoneKind,
}

/// Whether a number is a mobile or a fixed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    /// A mobile number (10 digits with the leading 0).
    Mobile,
    /// A fixed line (11 digits with the leading 0).
    Landline,
}

/// Second digit of mobile prefixes allocated to networks, per first digit (3, 5, 7, 8, 9).
fn mobile_prefix_allocated(first: u8, second: u8) -> bool {
    match first {
        3 => second >= 2,
        5 => matches!(second, 2 | 5 | 6 | 8 | 9),
        7 => matches!(second, 0 | 6..=9),
        8 => second >= 1,
        9 => true,
        _ => false,
    }
}

/// Landline area codes after the 2017 conversion (without the trunk 0); 24 and 28 are the
/// two-digit codes of Hà Nội and TP.HCM, the rest are three digits.
const AREA_CODES: [u16; 63] = [
    203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 218, 219, 220, 221, 222, 225, 226, 227, 228,
    229, 232, 233, 234, 235, 236, 237, 238, 239, 251, 252, 254, 255, 256, 257, 258, 259, 260, 261, 262, 263, 269, 270,
    271, 272, 273, 274, 275, 276, 277, 290, 291, 292, 293, 294, 296, 297, 299, 24, 28,
];

fn area_code_known(national: &[u8]) -> bool {
    let two = u16::from(national[0]) * 10 + u16::from(national[1]);
    let three = two * 10 + u16::from(national[2]);
    AREA_CODES.contains(&two) || AREA_CODES.contains(&three)
}

const FORMAT_VI: &str = "cần 10 chữ số (di động) hoặc 11 chữ số (cố định) bắt đầu bằng 0, hoặc +84 theo sau là số không có số 0 đầu, ví dụ 0912 345 678 hoặc +84 912 345 678.";
const FORMAT_EN: &str = "a Vietnamese number has 10 digits (mobile) or 11 digits (landline) starting with 0, or +84 followed by the number without its leading 0, e.g. 0912 345 678 or +84 912 345 678.";

fn invalid(reason_vi: &str, reason_en: &str) -> Violations {
    Violation::new(
        "",
        ViolationCode::InvalidPhone,
        format!("Số điện thoại không hợp lệ: {reason_vi} Số đúng {FORMAT_VI}"),
        format!("Phone number invalid: {reason_en} A valid one: {FORMAT_EN}"),
    )
    .into()
}

impl PhoneNumber {
    /// Parses the ways people write a number: `0912 345 678`, `0912.345.678`,
    /// `+84 912345678`, `84912345678`, `(+84) 912-345-678`, `0084 912 345 678`,
    /// `+84 (0) 912 345 678`, and landlines such as `0270 3822 123` or `024 3825 1234`.
    pub fn parse(raw: &str) -> Result<Self, Violations> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Violation::new(
                "",
                ViolationCode::Required,
                format!("Chưa có số điện thoại để cơ quan liên hệ lại: số đúng {FORMAT_VI}"),
                format!("A phone number is needed so the authorities can call back: {FORMAT_EN}"),
            )
            .into());
        }
        let mut digits: Vec<u8> = Vec::with_capacity(16);
        let mut plus = false;
        for c in trimmed.chars() {
            match c {
                '0'..='9' => digits.push(c as u8 - b'0'),
                '+' if digits.is_empty() && !plus => plus = true,
                ' ' | '\u{00A0}' | '.' | '-' | '(' | ')' | '/' => {}
                _ => {
                    return Err(invalid(
                        "chỉ được gồm chữ số, dấu +, khoảng trắng, dấu chấm, gạch ngang, ngoặc.",
                        "only digits, '+', spaces, dots, dashes and brackets are allowed.",
                    ));
                }
            }
        }
        let national: &[u8] = if plus {
            match digits.strip_prefix(&[8, 4]) {
                Some(rest) => rest,
                None => {
                    return Err(invalid(
                        "chỉ nhận số điện thoại Việt Nam (mã quốc gia +84).",
                        "only Vietnamese numbers (country code +84) are accepted.",
                    ));
                }
            }
        } else if let Some(rest) = digits.strip_prefix(&[0, 0, 8, 4]) {
            rest
        } else if let Some(rest) = digits.strip_prefix(&[0]) {
            if rest.first() == Some(&0) {
                return Err(invalid(
                    "chỉ nhận số điện thoại Việt Nam (mã quốc gia +84).",
                    "only Vietnamese numbers (country code +84) are accepted.",
                ));
            }
            rest
        } else if digits.starts_with(&[8, 4]) && matches!(digits.len(), 11 | 12) {
            &digits[2..]
        } else {
            return Err(invalid("số phải bắt đầu bằng 0 hoặc +84.", "it must start with 0 or +84."));
        };
        // "+84 (0) 912…" and "+84 0912…": the trunk 0 written after the country code.
        let national = match national {
            [0, rest @ ..] => rest,
            other => other,
        };
        Self::from_national(national)
    }

    fn from_national(national: &[u8]) -> Result<Self, Violations> {
        let kind = match national {
            [1, ..] if national.len() == 10 => {
                return Err(invalid(
                    "đầu số di động 11 chữ số (01x) đã chuyển sang 10 chữ số từ năm 2018, ví dụ 0162 → 032, 0123 → 083, 0120 → 070.",
                    "11-digit mobile prefixes (01x) became 10-digit ones in 2018, e.g. 0162 → 032, 0123 → 083, 0120 → 070.",
                ));
            }
            [first @ (3 | 5 | 7 | 8 | 9), second, ..] if national.len() == 9 => {
                if !mobile_prefix_allocated(*first, *second) {
                    return Err(invalid(
                        &format!("đầu số 0{first}{second} chưa được cấp cho mạng di động nào."),
                        &format!("the prefix 0{first}{second} is not allocated to any mobile network."),
                    ));
                }
                PhoneKind::Mobile
            }
            [2, ..] if national.len() == 10 => {
                if !area_code_known(national) {
                    return Err(invalid(
                        "mã vùng điện thoại cố định không đúng.",
                        "the landline area code does not exist.",
                    ));
                }
                PhoneKind::Landline
            }
            _ => {
                let total = national.len() + 1;
                return Err(invalid(
                    &format!("có {total} chữ số kể cả số 0 đầu."),
                    &format!("it has {total} digits including the leading 0."),
                ));
            }
        };
        let mut e164 = String::from("+84");
        e164.extend(national.iter().map(|d| char::from(b'0' + d)));
        Ok(Self { e164, kind })
    }

    /// The number in E.164 form, e.g. `+84912345678`.
    pub fn as_e164(&self) -> &str {
        &self.e164
    }

    /// The number as dialled inside Vietnam, e.g. `0912345678`.
    pub fn national(&self) -> String {
        format!("0{}", &self.e164[3..])
    }

    /// Mobile or landline.
    pub fn kind(&self) -> PhoneKind {
        self.kind
    }

    /// The national form with the middle digits hidden (`0912***678`), for screens and logs
    /// that must not show personal data (R6.2).
    pub fn masked(&self) -> String {
        let national = self.national();
        let keep_head = 4;
        let keep_tail = 3;
        let hidden = national.len() - keep_head - keep_tail;
        format!("{}{}{}", &national[..keep_head], "*".repeat(hidden), &national[national.len() - keep_tail..])
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = Violations;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> Self {
        value.e164
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves R6.1c.
    #[test]
    fn written_forms_normalise_to_e164_r6_1c() {
        let cases = [
            ("0912 345 678", "+84912345678"),
            ("0912.345.678", "+84912345678"),
            ("+84 912345678", "+84912345678"),
            ("84912345678", "+84912345678"),
            ("(+84) 912-345-678", "+84912345678"),
            ("0084 912 345 678", "+84912345678"),
            ("+84 (0) 912 345 678", "+84912345678"),
            ("+840912345678", "+84912345678"),
            ("  0367-123-456 ", "+84367123456"),
            ("0523 456 789", "+84523456789"),
            ("0708 123 456", "+84708123456"),
            ("0868123456", "+84868123456"),
            ("0999 888 777", "+84999888777"),
            ("0270 3822 123", "+842703822123"),
            ("024 3825 1234", "+842438251234"),
            ("028.3829.1234", "+842838291234"),
            ("+84 275 3822 456", "+842753822456"),
            ("84 294 3855 123", "+842943855123"),
        ];
        for (raw, e164) in cases {
            let phone = PhoneNumber::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(phone.as_e164(), e164, "{raw}");
        }
    }

    // Proves R6.1c.
    #[test]
    fn kinds_and_national_form_r6_1c() {
        let mobile = PhoneNumber::parse("+84912345678").unwrap();
        assert_eq!(mobile.kind(), PhoneKind::Mobile);
        assert_eq!(mobile.national(), "0912345678");
        assert_eq!(mobile.masked(), "0912***678");
        let landline = PhoneNumber::parse("02703822123").unwrap();
        assert_eq!(landline.kind(), PhoneKind::Landline);
        assert_eq!(landline.masked(), "0270****123");
    }

    // Proves R6.1c.
    #[test]
    fn invalid_numbers_say_why_r6_1c() {
        let cases = [
            ("", ViolationCode::Required, "Chưa có số điện thoại"),
            ("   ", ViolationCode::Required, "Chưa có số điện thoại"),
            ("0912 345 67", ViolationCode::InvalidPhone, "có 9 chữ số"),
            ("0912 345 6789", ViolationCode::InvalidPhone, "có 11 chữ số"),
            ("01623 456 789", ViolationCode::InvalidPhone, "01x"),
            ("0742 345 678", ViolationCode::InvalidPhone, "đầu số 074"),
            ("0512 345 678", ViolationCode::InvalidPhone, "đầu số 051"),
            ("0312 345 678", ViolationCode::InvalidPhone, "đầu số 031"),
            ("0802 345 678", ViolationCode::InvalidPhone, "đầu số 080"),
            ("912345678", ViolationCode::InvalidPhone, "bắt đầu bằng 0 hoặc +84"),
            ("+1 415 555 2671", ViolationCode::InvalidPhone, "chỉ nhận số điện thoại Việt Nam"),
            ("0044 20 7946 0958", ViolationCode::InvalidPhone, "chỉ nhận số điện thoại Việt Nam"),
            ("0912abc678", ViolationCode::InvalidPhone, "chỉ được gồm chữ số"),
            ("09123456+78", ViolationCode::InvalidPhone, "chỉ được gồm chữ số"),
            ("0217 3822 123", ViolationCode::InvalidPhone, "mã vùng"),
            ("0200 0000 000", ViolationCode::InvalidPhone, "mã vùng"),
            ("1900 1234", ViolationCode::InvalidPhone, "bắt đầu bằng 0 hoặc +84"),
            ("0000000000", ViolationCode::InvalidPhone, "Việt Nam"),
        ];
        for (raw, code, words) in cases {
            let err = PhoneNumber::parse(raw).expect_err(raw);
            assert_eq!(err.0.len(), 1, "{raw}");
            assert_eq!(err.0[0].code, code, "{raw}");
            assert!(err.0[0].message_vi.contains(words), "{raw}: {}", err.0[0].message_vi);
            assert!(err.0[0].message_en.len() > 20, "{raw}");
        }
    }

    // Proves R6.1c.
    #[test]
    fn serde_goes_through_parse_r6_1c() {
        let phone: PhoneNumber = PhoneNumber::try_from("0912 345 678".to_owned()).unwrap();
        assert_eq!(String::from(phone), "+84912345678");
        assert!(PhoneNumber::try_from("12".to_owned()).is_err());
    }
}
