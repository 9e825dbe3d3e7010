//! The `herald` binary: command line, logging, signals.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use herald::config::{Config, LogFormat, Overrides};
use herald::server::Herald;
use tracing_subscriber::EnvFilter;

const ENVIRONMENT_HELP: &str = "\
Environment (overrides the config file; flags override both):
  HOST, PORT                 listen address (default 0.0.0.0:4000)
  LOG_LEVEL                  log filter, e.g. info or herald=debug (default info)
  LOG_FORMAT                 text or json (default text)
  CORS_ORIGIN                allowed origins for HTTP and WebSocket upgrades:
                             * or a comma-separated list (default *)
  DATABASE_URL               inbox storage: sqlite://herald.db (default) or postgres://...
  JWT_SECRET                 shared secret for HS256/384/512 client tokens
  JWKS_URL                   JWKS with the public keys of RS*/ES* client tokens
  COGNITO_USER_POOL_ID       an AWS Cognito pool (derives JWKS URL and issuer)
  COGNITO_REGION             its region (default: the pool id's prefix)
  HERALD_API_KEYS            comma-separated producer API keys (16+ characters);
                             key:publish+inbox+history limits a key to those scopes
  HERALD_<SECTION>__<KEY>    any other setting, e.g.
                             HERALD_HTTP__MAX_BODY_BYTES=1048576
                             HERALD_HTTP__SHUTDOWN_TIMEOUT_SECS=10
                             HERALD_SOCKET__MAX_CHANNELS=100
                             HERALD_SOCKET__IDLE_TIMEOUT_SECS=60
                             HERALD_SOCKET__MAX_FRAME_BYTES=65536
                             HERALD_SOCKET__OUTBOUND_QUEUE=1024
                             HERALD_SOCKET__READ_BUFFER_BYTES=256
                             HERALD_SOCKETIO__PING_INTERVAL_MS=25000
                             HERALD_SOCKETIO__PING_TIMEOUT_MS=20000
                             HERALD_SOCKETIO__MAX_PAYLOAD_BYTES=1000000
                             HERALD_SOCKETIO__CONNECT_TIMEOUT_MS=45000
                             HERALD_SOCKETIO__RECOVERY_WINDOW_SECS=120
                             HERALD_SOCKETIO__ACTION_WEBHOOK_URL=https://...
                             HERALD_SOCKETIO__ACTION_WEBHOOK_SECRET=... (signs webhook calls)
                             HERALD_STORE__MAX_CONNECTIONS=8
                             HERALD_INBOX__MAX_PER_USER=1000
                             HERALD_INBOX__DEFAULT_TTL_SECS=0
                             HERALD_INBOX__SWEEP_INTERVAL_SECS=60
                             HERALD_AUTH__ALLOW_ANONYMOUS=true
                             HERALD_LIMITS__MESSAGES_PER_SECOND=50
                             HERALD_LIMITS__MAX_CONNECTIONS_PER_USER=100
                             HERALD_LIMITS__MAX_CONNECTIONS_PER_IP=5000
                             HERALD_LIMITS__HANDSHAKE_TIMEOUT_SECS=10
                             HERALD_LIMITS__TRUSTED_PROXIES=10.0.0.0/8 (X-Forwarded-For)
Topic rules ([[topics]]) and the Socket.IO event vocabulary
([[socketio.rooms]], [[socketio.events]]) are set in the config file; see README.
";

/// Herald: a real-time notification hub (Phoenix Channels and Socket.IO clients, HTTP producers).
#[derive(Parser)]
#[command(version, after_long_help = ENVIRONMENT_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the hub.
    #[command(after_long_help = ENVIRONMENT_HELP)]
    Serve(ServeArgs),
    /// Print the effective configuration (defaults, file, environment, flags) as TOML.
    Config(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Address to listen on [env: HOST] [default: 0.0.0.0]
    #[arg(long)]
    host: Option<String>,
    /// Port to listen on [env: PORT] [default: 4000]
    #[arg(long)]
    port: Option<u16>,
    /// Log filter [env: LOG_LEVEL] [default: info]
    #[arg(long)]
    log_level: Option<String>,
    /// Log format [env: LOG_FORMAT] [default: text]
    #[arg(long, value_parser = parse_log_format)]
    log_format: Option<LogFormat>,
}

impl ServeArgs {
    fn load(&self) -> anyhow::Result<Config> {
        let overrides = Overrides {
            host: self.host.clone(),
            port: self.port,
            log_level: self.log_level.clone(),
            log_format: self.log_format,
        };
        Config::load(self.config.as_deref(), &overrides).context("loading configuration")
    }
}

fn parse_log_format(text: &str) -> Result<LogFormat, String> {
    match text {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("expected text or json".into()),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let config = args.load()?;
            init_logging(&config)?;
            let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
            runtime.block_on(serve(config))
        }
        Command::Config(args) => {
            let config = args.load()?;
            print!("{}", toml_of(&config)?);
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let address = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("binding {address}"))?;
    tracing::info!(address = %listener.local_addr()?, version = env!("CARGO_PKG_VERSION"), "herald listening");
    let herald = Herald::open(config).await.context("starting herald")?;
    herald.serve(listener, shutdown_signal()).await?;
    tracing::info!("herald stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log_level)
        .with_context(|| format!("invalid LOG_LEVEL {:?}", config.log_level))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    Ok(())
}

fn toml_of(config: &Config) -> anyhow::Result<String> {
    toml::to_string_pretty(&config.redacted()).context("rendering configuration")
}
