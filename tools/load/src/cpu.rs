//! CPU time of a process, from Linux `/proc/<pid>/stat` (user + system, all threads).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;

/// Clock ticks per second of `/proc` times (`USER_HZ`, 100 on every Linux architecture we run).
const TICKS_PER_SECOND: u64 = 100;

/// User plus system time of a `/proc/<pid>/stat` line.
fn parse_stat(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may itself hold spaces or ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of proc(5); `fields[0]` is field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_secs(ticks / TICKS_PER_SECOND) + Duration::from_millis(ticks % TICKS_PER_SECOND * 10))
}

/// The CPU time process `pid` has used so far.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}: is the server running?"))?;
    parse_stat(&stat).with_context(|| format!("{path} has no CPU times"))
}

/// The command name (field 2) of a `/proc/<pid>/stat` line.
fn comm_of(stat: &str) -> Option<&str> {
    Some(&stat[stat.find('(')? + 1..stat.rfind(')')?])
}

/// CPU time so far of every process whose command name is one of `names` (e.g. `postgres`,
/// `beam.smp`, `redis-server`), by pid. Processes that vanish while being read are skipped.
pub fn cpu_by_name(names: &[String]) -> HashMap<u32, Duration> {
    let mut found = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return found };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        if comm_of(&stat).is_some_and(|comm| names.iter().any(|n| n == comm))
            && let Some(cpu) = parse_stat(&stat)
        {
            found.insert(pid, cpu);
        }
    }
    found
}

/// CPU used between two [`cpu_by_name`] readings; a process born in between counts from zero,
/// one that ended in between is lost (its parent only collects it when it is reaped).
pub fn used_between(before: &HashMap<u32, Duration>, after: &HashMap<u32, Duration>) -> Duration {
    after.iter().map(|(pid, &cpu)| cpu.saturating_sub(before.get(pid).copied().unwrap_or_default())).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_system_ticks_add_up() {
        let stat = "4242 (paht serve) S 1 4242 4242 0 -1 4194560 12345 0 0 0 1234 567 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_stat(stat), Some(Duration::from_millis(18_010)));
        // A name with parentheses and spaces does not shift the fields.
        let odd = "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 250 50 0 0 20 0 1 0 1 0 0";
        assert_eq!(parse_stat(odd), Some(Duration::from_secs(3)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn names_and_differences() {
        assert_eq!(comm_of("12 (beam.smp) S 1"), Some("beam.smp"));
        assert_eq!(comm_of("12 (a) b (c)) S 1"), Some("a) b (c)"));
        let before = HashMap::from([(1, Duration::from_secs(5)), (2, Duration::from_secs(1))]);
        let after = HashMap::from([(1, Duration::from_secs(7)), (3, Duration::from_millis(500))]);
        assert_eq!(used_between(&before, &after), Duration::from_millis(2_500));
    }

    #[test]
    fn reads_this_process() {
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(cpu_time(std::process::id()).is_ok());
        assert!(cpu_time(u32::MAX).is_err());
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        let name = comm_of(&own).unwrap().to_owned();
        assert!(cpu_by_name(&[name]).contains_key(&std::process::id()));
    }
}
