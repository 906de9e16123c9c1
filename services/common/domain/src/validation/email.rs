//! The reporter's optional e-mail address, used to send a confidential answer (R10.3b).
//!
//! The check is deliberately simple: one `@`, a local part without spaces or control
//! characters, a domain of dot-separated labels ending in a letters-only top-level domain.
//! It catches typos ("nguyenvan.gmail.com", "an@gmail") without pretending to implement
//! RFC 5322; whether the mailbox exists is learnt by sending to it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::violation::{Violation, ViolationCode, Violations};

/// A plausible e-mail address; the domain is lowercased, the local part kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// RFC 5321 limits: 64 characters before the `@`, 254 in all.
const LOCAL_MAX: usize = 64;
const TOTAL_MAX: usize = 254;
const LABEL_MAX: usize = 63;

fn invalid(reason_vi: &str, reason_en: &str) -> Violations {
    Violation::new(
        "",
        ViolationCode::InvalidEmail,
        format!("Địa chỉ e-mail không hợp lệ: {reason_vi} Địa chỉ đúng có dạng ten@tenmien.vn; có thể bỏ trống nếu không có."),
        format!("E-mail address invalid: {reason_en} A valid one looks like name@domain.vn; leave it out if you have none."),
    )
    .into()
}

fn label_ok(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= LABEL_MAX
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl Email {
    /// Trims and checks an address.
    pub fn parse(raw: &str) -> Result<Self, Violations> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(Violation::new(
                "",
                ViolationCode::Required,
                "Địa chỉ e-mail bị bỏ trống.",
                "The e-mail address is blank.",
            )
            .into());
        }
        if text.chars().count() > TOTAL_MAX {
            return Err(invalid(
                &format!("dài quá {TOTAL_MAX} ký tự."),
                &format!("longer than {TOTAL_MAX} characters."),
            ));
        }
        let Some((local, domain)) = text.rsplit_once('@') else {
            return Err(invalid("thiếu ký tự @.", "the '@' is missing."));
        };
        if local.is_empty() || local.contains('@') {
            return Err(invalid(
                "phải có đúng một ký tự @ và tên trước nó.",
                "it needs exactly one '@' with a name before it.",
            ));
        }
        let local_ok = local.chars().count() <= LOCAL_MAX
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[]\\,;:\"".contains(c));
        if !local_ok {
            return Err(invalid(
                "phần trước @ có khoảng trắng, ký tự lạ hoặc dấu chấm sai chỗ.",
                "the part before '@' has spaces, unusual characters or misplaced dots.",
            ));
        }
        let domain = domain.to_ascii_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        let tld_ok = labels.last().is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
        if labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) || !tld_ok {
            return Err(invalid(
                "tên miền sau @ không đúng (ví dụ gmail.com, vinhlong.gov.vn).",
                "the domain after '@' is wrong (e.g. gmail.com, vinhlong.gov.vn).",
            ));
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = Violations;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves R6.1c.
    #[test]
    fn plausible_addresses_are_accepted_r6_1c() {
        for (raw, stored) in [
            ("nguyen.van.an@gmail.com", "nguyen.van.an@gmail.com"),
            ("  An.Nguyen+paht@VinhLong.GOV.vn ", "An.Nguyen+paht@vinhlong.gov.vn"),
            ("lan_tran-1990@yahoo.com.vn", "lan_tran-1990@yahoo.com.vn"),
        ] {
            assert_eq!(Email::parse(raw).unwrap().as_str(), stored);
        }
    }

    // Proves R6.1c.
    #[test]
    fn typos_are_refused_with_a_reason_r6_1c() {
        for (raw, words) in [
            ("nguyenvan.gmail.com", "thiếu ký tự @"),
            ("an@gmail", "tên miền"),
            ("an@@gmail.com", "đúng một ký tự @"),
            ("@gmail.com", "đúng một ký tự @"),
            ("nguyen van@gmail.com", "khoảng trắng"),
            ("an..binh@gmail.com", "dấu chấm"),
            ("an@-gmail.com", "tên miền"),
            ("an@gmail.c0m", "tên miền"),
            ("an@gmail..com", "tên miền"),
            ("an@gmaıl.com", "tên miền"),
        ] {
            let err = Email::parse(raw).expect_err(raw);
            assert_eq!(err.0[0].code, ViolationCode::InvalidEmail, "{raw}");
            assert!(err.0[0].message_vi.contains(words), "{raw}: {}", err.0[0].message_vi);
        }
    }
}
