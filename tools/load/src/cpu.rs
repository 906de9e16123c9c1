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

/// The CPU times a run reads at the start and the end of its measured window: its own, the
/// server's (by pid) and other processes' (by command name).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    own: Option<Duration>,
    server: Option<Duration>,
    others: HashMap<u32, Duration>,
}

/// CPU used between two snapshots; `None` where a reading failed (e.g. the server exited).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Used {
    pub own: Option<Duration>,
    pub server: Option<Duration>,
    pub others: Duration,
}

impl Snapshot {
    /// Reads this process, `server_pid` if given, and every process named in `names`.
    pub fn take(server_pid: Option<u32>, names: &[String]) -> Snapshot {
        Snapshot {
            own: cpu_time(std::process::id()).ok(),
            server: server_pid.and_then(|pid| cpu_time(pid).ok()),
            others: if names.is_empty() { HashMap::new() } else { cpu_by_name(names) },
        }
    }

    /// What was used from this snapshot to `later`.
    pub fn until(&self, later: &Snapshot) -> Used {
        let diff = |a: Option<Duration>, b: Option<Duration>| a.zip(b).map(|(a, b)| b.saturating_sub(a));
        Used {
            own: diff(self.own, later.own),
            server: diff(self.server, later.server),
            others: used_between(&self.others, &later.others),
        }
    }
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

    #[test]
    fn snapshots_subtract_and_a_lost_server_reads_none() {
        let earlier = Snapshot {
            own: Some(Duration::from_secs(1)),
            server: Some(Duration::from_secs(10)),
            others: HashMap::from([(5, Duration::from_secs(2))]),
        };
        let later = Snapshot {
            own: Some(Duration::from_millis(1_250)),
            server: Some(Duration::from_secs(13)),
            others: HashMap::from([(5, Duration::from_secs(3)), (6, Duration::from_secs(1))]),
        };
        let used = earlier.until(&later);
        assert_eq!(used.own, Some(Duration::from_millis(250)));
        assert_eq!(used.server, Some(Duration::from_secs(3)));
        assert_eq!(used.others, Duration::from_secs(2));
        let gone = Snapshot { server: None, ..later.clone() };
        assert_eq!(earlier.until(&gone).server, None);
        let live = Snapshot::take(Some(std::process::id()), &[]);
        assert!(live.own.is_some() && live.server.is_some() && live.others.is_empty());
    }
}
