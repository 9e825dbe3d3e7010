//! `floor`: what the kernel alone charges a server per delivery on loopback.
//!
//! Opens N TCP connections to itself and writes one small frame to each in
//! turn, M rounds, with plain blocking writes and no WebSocket, runtime or
//! hub: the CPU time per write is the floor under any server's CPU per
//! delivery when every delivery is its own write. On loopback the sender also
//! pays for the receiver's TCP processing (the softirq runs in its context),
//! which a real network would move to another machine. With `--batch K`, K
//! frames go out in one write, showing what coalescing saves.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use serde::Serialize;

use crate::server_proc::Process;

#[derive(Debug, Serialize)]
pub struct Floor {
    pub mode: &'static str,
    pub connections: usize,
    pub rounds: usize,
    pub frame_bytes: usize,
    pub batch: usize,
    pub writes: u64,
    pub cpu_secs: f64,
    pub wall_secs: f64,
    pub cpu_us_per_write: f64,
    pub cpu_us_per_frame: f64,
}

pub fn run(
    connections: usize,
    rounds: usize,
    frame_bytes: usize,
    batch: usize,
) -> anyhow::Result<Floor> {
    let batch = batch.max(1);
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let mut writers = Vec::with_capacity(connections);
    let mut readers = Vec::with_capacity(connections);
    for _ in 0..connections {
        let writer = TcpStream::connect(address)?;
        writer.set_nodelay(true)?;
        writers.push(writer);
        // Kept open and never read: M rounds of small frames fit in the
        // receive buffer.
        readers.push(listener.accept()?.0);
    }
    let chunk = vec![b'x'; frame_bytes * batch];
    let me = Process::current();
    let cpu_before = me.cpu()?;
    let started = Instant::now();
    for _ in 0..rounds {
        for writer in &mut writers {
            writer.write_all(&chunk)?;
        }
    }
    let wall = started.elapsed();
    let cpu = me.cpu()?.saturating_sub(cpu_before);
    let writes = (connections * rounds) as u64;
    let per_write = cpu.as_secs_f64() * 1e6 / writes.max(1) as f64;
    drop(readers);
    Ok(Floor {
        mode: "floor",
        connections,
        rounds,
        frame_bytes,
        batch,
        writes,
        cpu_secs: cpu.as_secs_f64(),
        wall_secs: wall.as_secs_f64(),
        cpu_us_per_write: per_write,
        cpu_us_per_frame: per_write / batch as f64,
    })
}

impl Floor {
    pub fn print(&self) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "== floor: {} writes of {} x {} bytes to {} loopback connections\nCPU {:.2}s in {:.2}s: {:.2} µs per write, {:.2} µs per frame",
            self.writes,
            self.batch,
            self.frame_bytes,
            self.connections,
            self.cpu_secs,
            self.wall_secs,
            self.cpu_us_per_write,
            self.cpu_us_per_frame
        )?;
        writeln!(out, "{}", serde_json::to_string(self)?)?;
        Ok(())
    }
}
