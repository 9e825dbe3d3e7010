//! What the server process costs, read from /proc: resident memory (VmRSS,
//! VmHWM from /proc/PID/status) and CPU time (utime + stime from
//! /proc/PID/stat). The generator reads these for whichever server it drives,
//! so Herald and the peers are measured the same way.

use std::time::Duration;

/// Memory of a process, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub rss: u64,
    pub hwm: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("reading /proc/{pid}: {source}")]
    Read { pid: u32, source: std::io::Error },
    #[error("unexpected format of /proc/{0}")]
    Format(u32),
}

/// A process being measured (the server, or the generator itself).
#[derive(Debug, Clone, Copy)]
pub struct Process {
    pid: u32,
    ticks_per_sec: u64,
}

impl Process {
    pub fn new(pid: u32) -> Self {
        Self {
            pid,
            ticks_per_sec: clock_ticks_per_sec(),
        }
    }

    pub fn current() -> Self {
        Self::new(std::process::id())
    }

    pub fn memory(&self) -> Result<Memory, ProcError> {
        let status = self.read("status")?;
        parse_status(&status).ok_or(ProcError::Format(self.pid))
    }

    /// User plus system CPU time used so far.
    pub fn cpu(&self) -> Result<Duration, ProcError> {
        let stat = self.read("stat")?;
        let ticks = parse_stat_ticks(&stat).ok_or(ProcError::Format(self.pid))?;
        Ok(Duration::from_micros(
            ticks.saturating_mul(1_000_000) / self.ticks_per_sec.max(1),
        ))
    }

    fn read(&self, file: &str) -> Result<String, ProcError> {
        std::fs::read_to_string(format!("/proc/{}/{file}", self.pid)).map_err(|source| {
            ProcError::Read {
                pid: self.pid,
                source,
            }
        })
    }
}

/// Linux reports CPU times in clock ticks; USER_HZ is 100 on every Linux
/// build in practice (`getconf CLK_TCK`), and the kernel ABI fixes it.
fn clock_ticks_per_sec() -> u64 {
    100
}

fn parse_status(status: &str) -> Option<Memory> {
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|line| line.starts_with(name))?;
        let kib: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
        Some(kib * 1024)
    };
    Some(Memory {
        rss: field("VmRSS:")?,
        hwm: field("VmHWM:")?,
    })
}

/// utime + stime (fields 14 and 15). The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from the last `)`.
fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // After the name: state is field 3, so utime (14) is the 12th from here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_stat() {
        let status = "Name:\therald\nVmHWM:\t   40960 kB\nVmRSS:\t   20480 kB\nThreads:\t3\n";
        assert_eq!(
            parse_status(status),
            Some(Memory {
                rss: 20480 * 1024,
                hwm: 40960 * 1024
            })
        );
        let stat = "1234 (tokio (rt) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(parse_stat_ticks(stat), Some(300));
    }

    #[test]
    fn reads_this_process() {
        let me = Process::current();
        let memory = me.memory().unwrap();
        assert!(memory.rss > 0 && memory.hwm >= memory.rss);
        me.cpu().unwrap();
    }
}
