//! `herald-bench`: the load generator of Herald's benchmark harness.
//!
//! It drives one server (Herald, or a peer run by `bench/run.sh`) over
//! loopback with Phoenix Channels V2 or Socket.IO clients, reads the server's
//! memory and CPU from /proc, and prints a human summary followed by one JSON
//! line. `herald-bench table` turns collected JSON lines into the Markdown
//! table of `bench/RESULTS.md`. Every run is bounded in connections, messages
//! and time, and only targets loopback addresses.

mod client;
mod crowd;
mod floor;
mod modes;
mod net;
mod payload;
mod protocol;
mod publisher;
mod report;
mod server_proc;
mod table;
mod tracker;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crowd::Target;
use modes::Context;
use modes::churn::Churn;
use modes::delivery::Delivery;
use modes::idle::Idle;
use net::Sources;
use protocol::Protocol;
use protocol::socketio::JoinStyle;
use publisher::{Pace, Publisher};
use server_proc::Process;

/// Most connections one run may open (far above what this machine allows).
const MAX_CONNECTIONS: usize = 1_000_000;
/// Most messages one run may publish.
const MAX_MESSAGES: usize = 1_000_000;
/// Longest any timed phase may last.
const MAX_SECS: u64 = 3600;

#[derive(Parser)]
#[command(
    version,
    about = "Load generator for Herald and its peers (loopback only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// N joined connections held idle: server memory per connection.
    Idle {
        #[command(flatten)]
        common: Common,
        /// Connections to open.
        #[arg(long, short = 'n', default_value_t = 1000)]
        connections: usize,
        /// Topics the connections are spread over.
        #[arg(long, default_value_t = 1)]
        topics: usize,
        /// Seconds to hold them open once joined.
        #[arg(long, default_value_t = 10)]
        hold: u64,
    },
    /// N subscribers on one topic, M numbered messages over HTTP.
    Fanout {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        load: Load,
    },
    /// N connections over K topics, messages to random topics.
    Topics {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        load: Load,
        /// Topics the connections are spread over.
        #[arg(long, short = 'k', default_value_t = 1000)]
        topics: usize,
    },
    /// Connections opening and closing while broadcasts flow.
    Churn {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        load: Load,
        /// New connections per second.
        #[arg(long, default_value_t = 200.0)]
        churn_rate: f64,
        /// Seconds each churning connection lives.
        #[arg(long, default_value_t = 2.0)]
        life: f64,
    },
    /// The kernel's share: CPU per plain loopback write of one small frame to
    /// each of N connections in turn (no server involved).
    Floor {
        #[arg(long, short = 'n', default_value_t = 5000)]
        connections: usize,
        /// Writes per connection.
        #[arg(long, short = 'm', default_value_t = 50)]
        rounds: usize,
        /// Frame size (a Herald broadcast of the benchmark payload is ~90 bytes).
        #[arg(long, default_value_t = 90)]
        bytes: usize,
        /// Frames per write.
        #[arg(long, default_value_t = 1)]
        batch: usize,
    },
    /// Markdown table of Herald vs peers from JSON result lines (a file, or `-`).
    Table {
        /// File of JSON lines written by the other commands.
        input: String,
    },
}

#[derive(Args)]
struct Common {
    /// Server address (loopback only).
    #[arg(long, default_value = "127.0.0.1:4000")]
    server: SocketAddr,
    /// PID of the server process, for its memory and CPU.
    #[arg(long)]
    server_pid: u32,
    #[arg(long, value_enum, default_value_t = ProtocolArg::Phoenix)]
    protocol: ProtocolArg,
    /// Name of the server in the report.
    #[arg(long, default_value = "server")]
    label: String,
    /// Name of the scenario in the report.
    #[arg(long, default_value = "adhoc")]
    scenario: String,
    /// Loopback source addresses to spread clients over (127.0.0.1..k);
    /// raised automatically when the connections need more.
    #[arg(long, default_value_t = 8)]
    sources: usize,
    /// Connections opening at once.
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// Socket.IO: event that joins a room.
    #[arg(long, default_value = "subscribe")]
    sio_join_event: String,
    /// Socket.IO: argument of that event, `{topic}` standing for the room name
    /// as a JSON string, `{id}` for it without the topic prefix.
    #[arg(long, default_value = r#"{"channel":{topic}}"#)]
    sio_join_arg: String,
    /// Put before every topic (room) name.
    #[arg(long, default_value = "bench:")]
    topic_prefix: String,
}

#[derive(Args)]
struct Load {
    /// Subscribing connections.
    #[arg(long, short = 'n', default_value_t = 1000)]
    connections: usize,
    /// Messages to publish.
    #[arg(long, short = 'm', default_value_t = 100)]
    messages: usize,
    /// Messages per second; 0 means flat out.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Flat out: messages in flight (published, not yet fully delivered).
    #[arg(long, default_value_t = 4)]
    window: usize,
    /// Extra payload bytes.
    #[arg(long, default_value_t = 0)]
    pad: usize,
    /// Longest wait, in seconds, for deliveries after the last publish.
    #[arg(long, default_value_t = 30)]
    drain: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProtocolArg {
    Phoenix,
    Socketio,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // One thread: the generator is pinned to one core by the harness.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let report = runtime.block_on(run(cli.command))?;
    if let Some(report) = report {
        report.print()?;
        if !report.ok {
            std::process::exit(2);
        }
    }
    Ok(())
}

async fn run(command: Command) -> anyhow::Result<Option<report::Report>> {
    let report = match command {
        Command::Table { input } => {
            let mut out = std::io::stdout().lock();
            write!(out, "{}", table::from_file(&input)?)?;
            return Ok(None);
        }
        Command::Floor {
            connections,
            rounds,
            bytes,
            batch,
        } => {
            anyhow::ensure!(
                connections <= 9000,
                "at most 9000 connections (2 descriptors each)"
            );
            anyhow::ensure!(
                rounds * bytes * batch <= 1 << 20,
                "rounds x bytes x batch must stay under 1 MiB per connection"
            );
            floor::run(connections, rounds, bytes, batch)?.print()?;
            return Ok(None);
        }
        Command::Idle {
            common,
            connections,
            topics,
            hold,
        } => {
            let ctx = context(&common, connections)?;
            let idle = Idle {
                connections,
                topics,
                hold: Duration::from_secs(hold.min(MAX_SECS)),
            };
            modes::idle::run(&ctx, &idle).await?
        }
        Command::Fanout { common, load } => {
            let ctx = context(&common, load.connections)?;
            modes::delivery::run(&ctx, &delivery(&load, 1, None)?).await?
        }
        Command::Topics {
            common,
            load,
            topics,
        } => {
            let ctx = context(&common, load.connections)?;
            modes::delivery::run(&ctx, &delivery(&load, topics, None)?).await?
        }
        Command::Churn {
            common,
            load,
            churn_rate,
            life,
        } => {
            anyhow::ensure!(load.rate > 0.0, "churn needs a message --rate");
            anyhow::ensure!(
                churn_rate > 0.0 && churn_rate <= 10_000.0,
                "--churn-rate must be in (0, 10000]"
            );
            let ctx = context(&common, load.connections + (churn_rate * life) as usize)?;
            let duration = Duration::from_secs_f64(load.messages as f64 / load.rate);
            let churn = Churn {
                delivery: delivery(&load, 1, Some("churn"))?,
                rate: churn_rate,
                life: Duration::from_secs_f64(life.clamp(0.0, MAX_SECS as f64)),
                duration: duration.min(Duration::from_secs(MAX_SECS)),
            };
            modes::churn::run(&ctx, &churn).await?
        }
    };
    Ok(Some(report))
}

fn context(common: &Common, connections: usize) -> anyhow::Result<Context> {
    net::check_loopback(common.server)?;
    anyhow::ensure!(
        connections <= MAX_CONNECTIONS,
        "at most {MAX_CONNECTIONS} connections"
    );
    let protocol = match common.protocol {
        ProtocolArg::Phoenix => Protocol::Phoenix,
        ProtocolArg::Socketio => Protocol::SocketIo(JoinStyle {
            event: common.sio_join_event.clone(),
            argument: common.sio_join_arg.clone(),
            prefix: common.topic_prefix.clone(),
        }),
    };
    let server = Process::new(common.server_pid);
    server
        .memory()
        .with_context(|| format!("no server process {}", common.server_pid))?;
    Ok(Context {
        target: Target {
            server: common.server,
            protocol: Arc::new(protocol),
            sources: Sources::new(common.sources, connections),
            concurrency: common.concurrency,
        },
        server,
        publisher: Publisher::new(common.server)?,
        scenario: common.scenario.clone(),
        label: common.label.clone(),
        topic_prefix: common.topic_prefix.clone(),
    })
}

fn delivery(load: &Load, topics: usize, mode: Option<&'static str>) -> anyhow::Result<Delivery> {
    anyhow::ensure!(
        load.messages <= MAX_MESSAGES,
        "at most {MAX_MESSAGES} messages"
    );
    anyhow::ensure!(
        load.rate >= 0.0 && load.rate.is_finite(),
        "--rate must be >= 0"
    );
    Ok(Delivery {
        connections: load.connections,
        topics,
        messages: load.messages,
        pace: if load.rate > 0.0 {
            Pace::Rate(load.rate)
        } else {
            Pace::FlatOut {
                window: load.window,
            }
        },
        pad: load.pad,
        drain: Duration::from_secs(load.drain.min(MAX_SECS)),
        mode,
    })
}
