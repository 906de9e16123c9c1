//! The administrator's calendar commands, run as a user would run them.

use std::process::{Command, Output};

fn paht(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_paht"))
        .args(args)
        .env_remove("PAHT_CALENDAR_DECISIONS")
        .env_remove("PAHT_CONFIG")
        .output()
        .expect("run paht")
}

fn stdout(args: &[&str]) -> String {
    let out = paht(args);
    assert!(out.status.success(), "paht {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn r7_2_deadline_in_working_hours_prints_rfc3339_only() {
    // Wednesday 10 March 2027 16:30 + 1 working hour → Thursday 07:30.
    let out = stdout(&["calendar", "deadline", "--from", "2027-03-10T16:30:00+07:00", "--working-hours", "1"]);
    assert_eq!(out, "2027-03-11T07:30:00+07:00\n");
}

#[test]
fn r8_2a_deadline_in_working_days_prints_rfc3339_only() {
    // Monday 8 March 2027 → Tue 9 … Mon 15, close of office.
    let out = stdout(&["calendar", "deadline", "--from", "2027-03-08T09:00:00+07:00", "--working-days", "5"]);
    assert_eq!(out, "2027-03-15T17:00:00+07:00\n");
    // The input may be in any offset; the answer is local time.
    let out = stdout(&["calendar", "deadline", "--from", "2027-03-08T02:00:00Z", "--working-days", "5"]);
    assert_eq!(out, "2027-03-15T17:00:00+07:00\n");
}

#[test]
fn holidays_are_sorted_tab_separated_then_working_saturdays() {
    let out = stdout(&["calendar", "holidays", "--year", "2025"]);
    let lines: Vec<&str> = out.lines().collect();
    let (off, working): (Vec<&str>, Vec<&str>) = lines.iter().partition(|l| !l.ends_with("\tworking"));
    assert!(off.contains(&"2025-01-01\tTết Dương lịch"), "{out}");
    assert!(off.iter().any(|l| l.starts_with("2025-04-30\t")));
    assert!(off.iter().any(|l| l.starts_with("2025-09-02\t")));
    let dates: Vec<&str> = off.iter().map(|l| l.split('\t').next().unwrap()).collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted);
    assert!(working.contains(&"2025-04-26\tworking"), "{out}");
    // Off days first, then working days.
    let first_working = lines.iter().position(|l| l.ends_with("\tworking")).unwrap();
    assert!(lines[first_working..].iter().all(|l| l.ends_with("\tworking")));
}

#[test]
fn an_administrators_decision_file_changes_a_year_without_a_release() {
    let dir = std::env::temp_dir().join(format!("paht-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("decisions.toml");
    std::fs::write(
        &file,
        r#"[[decision]]
year = 2031
holiday = "other"
source = "Quyết định giả định cho kiểm thử"
days_off = [ { date = "2031-03-14", name = "Ngày nghỉ thêm" } ]
"#,
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let out = stdout(&["calendar", "holidays", "--year", "2031", "--decisions", path]);
    assert!(out.contains("2031-03-14\tNgày nghỉ thêm"), "{out}");
    // Friday 14/3/2031 is now off: Thursday 16:30 + 1 h → Monday 17/3 07:30.
    let due = stdout(&[
        "calendar",
        "deadline",
        "--decisions",
        path,
        "--from",
        "2031-03-13T16:30:00+07:00",
        "--working-hours",
        "1",
    ]);
    assert_eq!(due, "2031-03-17T07:30:00+07:00\n");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let out = paht(&["calendar", "deadline", "--from", "tomorrow", "--working-hours", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
    let out = paht(&["calendar", "holidays", "--year", "1800"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside"));
    let out = paht(&["calendar", "deadline", "--from", "2027-03-08T09:00:00+07:00", "--working-days", "0"]);
    assert!(!out.status.success());
}

#[test]
fn the_demo_command_walks_a_report_through_its_lifecycle() {
    let out = stdout(&["demo"]);
    for key in [
        "report.received",
        "report.dispatched",
        "assignment.returned",
        "assignment.explained",
        "report.resolved",
        "report.published",
        "report.rated",
    ] {
        assert!(out.contains(key), "missing {key} in:\n{out}");
    }
    assert!(out.contains("→ rated"));
}

#[test]
fn office_hours_come_from_the_calendar_section_of_the_config() {
    let dir = std::env::temp_dir().join(format!("paht-cli-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("paht.toml");
    std::fs::write(
        &file,
        "[calendar]\ntime_zone = \"Asia/Ho_Chi_Minh\"\n[[calendar.office_hours]]\nspans = [\"07:30-11:30\", \"13:00-17:00\"]\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    // Wednesday 10/3/2027 at 06:00 + 1 h → the office opens at 07:30 → 08:30.
    let due = stdout(&[
        "calendar",
        "deadline",
        "--config",
        path,
        "--from",
        "2027-03-10T06:00:00+07:00",
        "--working-hours",
        "1",
    ]);
    assert_eq!(due, "2027-03-10T08:30:00+07:00\n");
    std::fs::write(&file, "[calendar]\noffice_hours = \"always\"\n").unwrap();
    let out = paht(&["calendar", "holidays", "--year", "2027", "--config", path]);
    assert!(!out.status.success(), "a bad calendar section is refused");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn token_minted_in_embedded_mode_verifies_with_the_local_key() {
    use paht_platform::auth::{AuthConfig, Authenticator, KeyConfig};
    let dir = std::env::temp_dir().join(format!("paht-cli-token-{}", std::process::id()));
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_paht"))
            .args(args)
            .env_remove("PAHT_CONFIG")
            .env("PAHT_DATA_DIR", &dir)
            .output()
            .expect("run paht")
    };
    let out = run(&["token", "--subject", "operator-1", "--role", "ioc_operator", "--unit", "IOC-86"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    // A second process reuses the same key.
    let again = run(&["token", "--subject", "officer-1", "--role", "officer", "--unit", "AG1", "--ttl-secs", "60"]);
    assert!(again.status.success());
    let secret = std::fs::read_to_string(dir.join("auth-key")).unwrap();
    let auth = Authenticator::new(
        &AuthConfig {
            keys: vec![KeyConfig { kid: "local".into(), secret }],
            active_kid: "local".into(),
            ..AuthConfig::default()
        },
        "IOC-86",
    )
    .unwrap();
    let claims = auth.verify(&token).unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.role.as_str(), claims.unit.as_str()),
        ("operator-1", "ioc_operator", "IOC-86")
    );
    assert_eq!(auth.verify(String::from_utf8(again.stdout).unwrap().trim()).unwrap().sub, "officer-1");
    let bad = run(&["token", "--subject", "x", "--role", "mayor", "--unit", "U"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ioc_operator"), "the error lists the roles");
    std::fs::remove_dir_all(dir).unwrap();
}
