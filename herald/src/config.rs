//! Herald's one typed configuration.
//!
//! Sources, later ones overriding earlier ones: built-in defaults, an optional
//! TOML file (`--config herald.toml`), the environment, then command-line
//! flags. The environment understands the plain names used by the systems
//! Herald replaces (`PORT`, `HOST`, `LOG_LEVEL`, `LOG_FORMAT`, `CORS_ORIGIN`,
//! `DATABASE_URL`)
//! and, for everything else, `HERALD_<SECTION>__<KEY>` (for example
//! `HERALD_SOCKET__IDLE_TIMEOUT_SECS=30`). Authentication reads `JWT_SECRET`,
//! `JWKS_URL`, `COGNITO_USER_POOL_ID`, `COGNITO_REGION` and
//! `HERALD_API_KEYS` (comma-separated).

mod socketio;

use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::auth::config::{AuthConfig, LimitsConfig};
use crate::auth::rules::{TopicRule, default_rules};
use crate::hub::{HistoryPolicy, HubConfig, Retention, RetentionRule};
use crate::inbox::InboxSettings;
use crate::protocol::phoenix::PhoenixSettings;
use crate::protocol::socketio::SocketIoSettings;
use crate::protocol::socketio::vocabulary::{Vocabulary, VocabularyError};

use crate::store::StoreSettings;
pub use socketio::{EventAction, EventConfig, RoomTemplateConfig, SocketIoConfig};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (`HOST`).
    pub host: String,
    /// Port to listen on (`PORT`).
    pub port: u16,
    /// Log filter, e.g. `info` or `herald=debug,tower_http=info` (`LOG_LEVEL`).
    pub log_level: String,
    /// `text` or `json` (`LOG_FORMAT`).
    pub log_format: LogFormat,
    /// Allowed origins for CORS: `*` or a comma-separated list (`CORS_ORIGIN`).
    pub cors_origin: String,
    /// Where the durable inbox lives: `sqlite://herald.db` (default, a file
    /// next to the process) or `postgres://user@host/db` (`DATABASE_URL`).
    pub database_url: String,
    pub http: HttpConfig,
    pub socket: SocketConfig,
    pub history: HistoryConfig,
    pub socketio: SocketIoConfig,
    /// Client tokens and producer API keys.
    pub auth: AuthConfig,
    /// Abuse limits.
    pub limits: LimitsConfig,
    /// Who may join which topics: ordered rules (see README "Topic rules").
    /// A file's `[[topics]]` replace the shipped list as a whole.
    pub topics: Vec<TopicRule>,
    pub store: StoreConfig,
    pub inbox: InboxConfig,
}

/// Connection pool of the store (see README "Storage").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Connections kept open to the database.
    pub max_connections: u32,
    /// Seconds a query may wait for a free connection.
    pub acquire_timeout_secs: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        let settings = StoreSettings::default();
        Self {
            max_connections: settings.max_connections,
            acquire_timeout_secs: settings.acquire_timeout.as_secs(),
        }
    }
}

/// Retention of the per-user inbox (see README "Inbox").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InboxConfig {
    /// Notifications kept per user; the oldest beyond it are deleted. 0: no cap.
    pub max_per_user: u64,
    /// Seconds a notification lives when the producer gives no expiry; 0:
    /// until deleted or pushed out by the cap.
    pub default_ttl_secs: u64,
    /// Seconds between two retention passes (expiry and cap).
    pub sweep_interval_secs: u64,
}

impl Default for InboxConfig {
    fn default() -> Self {
        let settings = InboxSettings::default();
        Self {
            max_per_user: settings.max_per_user,
            default_ttl_secs: settings.default_ttl.map_or(0, |ttl| ttl.as_secs()),
            sweep_interval_secs: settings.sweep_interval.as_secs(),
        }
    }
}

/// Per-topic history kept for recovery (see README "Recovery").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistoryConfig {
    /// Messages kept per topic; 0 disables history.
    pub max_messages: usize,
    /// Seconds a message is kept; 0 keeps messages regardless of age.
    pub max_age_secs: u64,
    /// Seconds after which a topic nobody subscribes to or publishes on is
    /// forgotten (its epoch ends).
    pub idle_topic_secs: u64,
    /// Retention by topic pattern (`chat:*` or an exact name); the first match
    /// wins over the defaults above.
    pub rules: Vec<HistoryRuleConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryRuleConfig {
    pub pattern: String,
    pub max_messages: usize,
    #[serde(default)]
    pub max_age_secs: u64,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        let policy = HistoryPolicy::default();
        Self {
            max_messages: policy.default.max_messages,
            max_age_secs: policy.default.max_age.map_or(0, |age| age.as_secs()),
            idle_topic_secs: policy.idle_topic_ttl.as_secs(),
            rules: Vec::new(),
        }
    }
}

impl HistoryConfig {
    pub fn policy(&self) -> HistoryPolicy {
        let retention = |max_messages, max_age_secs| Retention {
            max_messages,
            max_age: (max_age_secs > 0).then(|| Duration::from_secs(max_age_secs)),
        };
        HistoryPolicy {
            default: retention(self.max_messages, self.max_age_secs),
            rules: self
                .rules
                .iter()
                .map(|rule| RetentionRule {
                    pattern: rule.pattern.clone(),
                    retention: retention(rule.max_messages, rule.max_age_secs),
                })
                .collect(),
            idle_topic_ttl: Duration::from_secs(self.idle_topic_secs),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest accepted request body, in bytes; larger gets 413.
    pub max_body_bytes: usize,
    /// Seconds given to in-flight requests and open sockets on shutdown.
    pub shutdown_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocketConfig {
    /// Channels (topics) one connection may join at once.
    pub max_channels: usize,
    /// Seconds without any frame from a client before its socket is closed.
    pub idle_timeout_secs: u64,
    /// Largest frame accepted from a client, in bytes.
    pub max_frame_bytes: usize,
    /// Broadcasts a connection may have waiting before it is dropped as a
    /// slow consumer.
    pub outbound_queue: usize,
    /// Socket read buffer per connection, in bytes.
    pub read_buffer_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 4000,
            log_level: "info".into(),
            log_format: LogFormat::Text,
            cors_origin: "*".into(),
            database_url: "sqlite://herald.db".into(),
            http: HttpConfig::default(),
            socket: SocketConfig::default(),
            history: HistoryConfig::default(),
            socketio: SocketIoConfig::default(),
            store: StoreConfig::default(),
            inbox: InboxConfig::default(),
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            topics: default_rules(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            shutdown_timeout_secs: 10,
        }
    }
}

impl Default for SocketConfig {
    fn default() -> Self {
        let phoenix = PhoenixSettings::default();
        Self {
            max_channels: phoenix.max_channels,
            idle_timeout_secs: phoenix.idle_timeout.as_secs(),
            max_frame_bytes: phoenix.max_frame_bytes,
            outbound_queue: HubConfig::default().outbound_queue_capacity,
            read_buffer_bytes: phoenix.read_buffer_bytes,
        }
    }
}

/// `postgres://user:secret@host/db` becomes `postgres://user:<redacted>@host/db`.
fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:<redacted>@{host}"),
        None => url.to_owned(),
    }
}

/// Environment names kept from the systems Herald replaces, mapped to keys.
const PLAIN_ENV: &[(&str, &str)] = &[
    ("HOST", "host"),
    ("PORT", "port"),
    ("LOG_LEVEL", "log_level"),
    ("LOG_FORMAT", "log_format"),
    ("CORS_ORIGIN", "cors_origin"),
    ("DATABASE_URL", "database_url"),
    ("JWT_SECRET", "auth.jwt_secret"),
    ("JWKS_URL", "auth.jwks_url"),
    ("COGNITO_USER_POOL_ID", "auth.cognito_user_pool_id"),
    ("COGNITO_REGION", "auth.cognito_region"),
    ("HERALD_API_KEYS", "auth.api_keys"),
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(String),
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("invalid [socketio] vocabulary: {0}")]
    Vocabulary(#[from] VocabularyError),
}

/// Values given on the command line; they win over every other source.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

impl Config {
    /// Load from defaults, the optional file, the environment and overrides.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::MissingFile(path.display().to_string()));
            }
            figment = figment.merge(Toml::file(path));
        }
        let plain = Env::raw()
            .only(&PLAIN_ENV.iter().map(|(env, _)| *env).collect::<Vec<_>>())
            .map(|key| {
                PLAIN_ENV
                    .iter()
                    .find(|(env, _)| key.as_str().eq_ignore_ascii_case(env))
                    .map_or_else(|| key.as_str().to_lowercase(), |(_, k)| (*k).to_owned())
                    .into()
            });
        figment = figment
            .merge(plain)
            // Only sectioned names: HERALD_BIN and the like are not config.
            .merge(
                Env::prefixed("HERALD_")
                    .filter(|key| key.as_str().contains("__"))
                    .split("__"),
            )
            .merge(Serialized::defaults(overrides));
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))?;
        // Fail at start, not at the first client event.
        Vocabulary::from_config(&config.socketio)?;
        Ok(config)
    }

    /// A copy safe to print or log: secrets replaced.
    pub fn redacted(&self) -> Self {
        let mut socketio = self.socketio.clone();
        if !socketio.action_webhook_secret.is_empty() {
            socketio.action_webhook_secret = "<redacted>".into();
        }
        Self {
            auth: self.auth.redacted(),
            database_url: redact_url_password(&self.database_url),
            socketio,
            ..self.clone()
        }
    }

    /// The origins allowed by `CORS_ORIGIN`; `None` means any.
    pub fn allowed_origins(&self) -> Option<Vec<String>> {
        let origins = self.cors_origin.trim();
        (origins != "*").then(|| {
            origins
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }

    pub fn hub(&self) -> HubConfig {
        HubConfig {
            outbound_queue_capacity: self.socket.outbound_queue,
            history: self.history.policy(),
        }
    }

    pub fn store(&self) -> StoreSettings {
        StoreSettings {
            url: self.database_url.clone(),
            max_connections: self.store.max_connections.max(1),
            acquire_timeout: Duration::from_secs(self.store.acquire_timeout_secs),
        }
    }

    pub fn inbox(&self) -> InboxSettings {
        InboxSettings {
            max_per_user: self.inbox.max_per_user,
            default_ttl: (self.inbox.default_ttl_secs > 0)
                .then(|| Duration::from_secs(self.inbox.default_ttl_secs)),
            sweep_interval: Duration::from_secs(self.inbox.sweep_interval_secs.max(1)),
        }
    }

    pub fn phoenix(&self) -> PhoenixSettings {
        PhoenixSettings {
            max_channels: self.socket.max_channels,
            idle_timeout: Duration::from_secs(self.socket.idle_timeout_secs),
            max_frame_bytes: self.socket.max_frame_bytes,
            read_buffer_bytes: self.socket.read_buffer_bytes,
        }
    }

    pub fn socketio(&self) -> SocketIoSettings {
        self.socketio.settings(
            self.socket.max_channels,
            self.socket.outbound_queue,
            self.socket.read_buffer_bytes,
        )
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's own error type
mod tests {
    use super::*;

    #[test]
    fn file_then_env_then_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "herald.toml",
                "port = 5000\nhost = \"127.0.0.1\"\n[socket]\nmax_channels = 7\n",
            )?;
            jail.set_env("PORT", "6000");
            jail.set_env("HERALD_SOCKET__IDLE_TIMEOUT_SECS", "9");
            jail.set_env("LOG_FORMAT", "json");
            jail.set_env("DATABASE_URL", "postgres://postgres@127.0.0.1/herald");
            let overrides = Overrides {
                log_level: Some("debug".into()),
                ..Overrides::default()
            };
            let config = Config::load(Some(Path::new("herald.toml")), &overrides)
                .map_err(|e| e.to_string())?;
            assert_eq!(config.port, 6000);
            assert_eq!(config.host, "127.0.0.1");
            assert_eq!(config.socket.max_channels, 7);
            assert_eq!(config.socket.idle_timeout_secs, 9);
            assert_eq!(config.log_format, LogFormat::Json);
            assert_eq!(config.log_level, "debug");
            assert_eq!(config.database_url, "postgres://postgres@127.0.0.1/herald");
            Ok(())
        });
    }

    #[test]
    fn database_passwords_and_the_webhook_secret_are_redacted() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "postgres://herald:hunter2@db:5432/herald");
            jail.set_env("HERALD_SOCKETIO__ACTION_WEBHOOK_SECRET", "whsec-hunter3");
            let config = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(config.socketio.action_webhook_secret, "whsec-hunter3");
            let printed = toml::to_string(&config.redacted()).map_err(|e| e.to_string())?;
            assert!(!printed.contains("hunter2") && !printed.contains("hunter3"));
            assert!(printed.contains("postgres://herald:<redacted>@db:5432/herald"));
            Ok(())
        });
    }

    #[test]
    fn auth_env_names_of_the_replaced_systems() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("JWT_SECRET", "s3cret");
            jail.set_env("HERALD_API_KEYS", "key-one-0123456789, key-two-0123456789");
            jail.set_env("COGNITO_USER_POOL_ID", "eu-west-1_Pool");
            jail.set_env("HERALD_LIMITS__MAX_CONNECTIONS_PER_IP", "7");
            jail.set_env("HERALD_LIMITS__TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.1");
            let config = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(
                config.limits.trusted_proxies,
                vec!["10.0.0.0/8", "192.168.0.1"]
            );
            assert_eq!(config.auth.jwt_secret.as_deref(), Some("s3cret"));
            assert_eq!(
                config.auth.api_keys,
                vec!["key-one-0123456789", "key-two-0123456789"]
            );
            assert_eq!(config.limits.max_connections_per_ip, 7);
            let (jwks, issuer) = config.auth.cognito().ok_or("cognito")?;
            assert_eq!(
                jwks,
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool/.well-known/jwks.json"
            );
            assert_eq!(
                issuer,
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool"
            );
            let printed = toml::to_string(&config.redacted()).map_err(|e| e.to_string())?;
            assert!(!printed.contains("s3cret") && !printed.contains("key-one"));
            Ok(())
        });
    }

    #[test]
    fn topic_rules_from_a_file_replace_the_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "herald.toml",
                "[[topics]]\npattern = \"room:{id}\"\nallow = \"public\"\n",
            )?;
            let config = Config::load(Some(Path::new("herald.toml")), &Overrides::default())
                .map_err(|e| e.to_string())?;
            assert_eq!(config.topics.len(), 1);
            assert_eq!(config.topics[0].pattern, "room:{id}");
            Ok(())
        });
    }

    #[test]
    fn defaults_need_nothing() {
        figment::Jail::expect_with(|_| {
            let config = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(config.port, 4000);
            assert_eq!(config.host, "0.0.0.0");
            assert_eq!(config.socket.max_channels, 100);
            assert_eq!(config.database_url, "sqlite://herald.db");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("herald.toml", "prot = 1\n")?;
            assert!(Config::load(Some(Path::new("herald.toml")), &Overrides::default()).is_err());
            Ok(())
        });
    }
}
