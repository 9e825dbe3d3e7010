//! Puts the parts together: opens the store, builds the hub, the inbox, the
//! HTTP API, the socket transports and the test page into one axum app,
//! serves it, and shuts it down gracefully.
//!
//! Shutdown order: stop accepting connections, ask every socket to close (each
//! tells its client why), let in-flight HTTP requests finish, and give up
//! after `http.shutdown_timeout_secs`; then close the store.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::api::{self, ApiState};
use crate::auth::limits::{ConnectionLimits, RateSettings};
use crate::auth::{Auth, AuthConfigError};
use crate::client_events::ClientEvents;
use crate::config::Config;
use crate::http_error::HttpError;
use crate::hub::Hub;
use crate::inbox::{Inbox, InboxEvents};
use crate::net::HandshakeListener;
use crate::net::forwarded::{BadProxyRange, TrustedProxies, client_address};
use crate::protocol::phoenix::{self, PhoenixEndpoint};
use crate::protocol::socketio::access::Access;
use crate::protocol::socketio::vocabulary::{HeraldApp, Vocabulary, VocabularyError};
use crate::protocol::socketio::{self, SocketIoEndpoint};
use crate::store::{Store, StoreError};
use crate::web;

/// A running Herald: its hub, its inbox and the app that serves them.
pub struct Herald {
    pub hub: Arc<Hub>,
    pub inbox: Arc<Inbox>,
    pub store: Store,
    pub app: Router,
    pub config: Config,
}

/// Why Herald could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("authentication settings: {0}")]
    Auth(#[from] AuthConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("limits settings: {0}")]
    TrustedProxy(#[from] BadProxyRange),
    #[error("[socketio] vocabulary: {0}")]
    Vocabulary(#[from] VocabularyError),
}

impl Herald {
    /// Check the authentication settings, open the store (applying
    /// migrations), then build everything on it. Must run inside a Tokio
    /// runtime (background tasks start here).
    pub async fn open(config: Config) -> Result<Self, StartError> {
        crate::metrics::install();
        let auth = Auth::from_config(&config.auth, &config.topics)?;
        let trusted_proxies = TrustedProxies::parse(&config.limits.trusted_proxies)?;
        if !auth.is_enabled() {
            tracing::warn!(
                "authentication is OFF: any client may join any topic and anyone may publish; \
                 set JWT_SECRET, JWKS_URL or COGNITO_USER_POOL_ID, and HERALD_API_KEYS"
            );
        }
        let store = Store::open(&config.store()).await?;
        let hub = Hub::new(config.hub());
        hub.spawn_sweeper(Duration::from_secs(30));
        let vocabulary = Vocabulary::from_config(&config.socketio)?;
        let inbox = Inbox::new(store.clone(), hub.clone(), config.inbox());
        inbox.spawn_retention();
        // Services answering events clients push on joined topics; every
        // transport gets the same list.
        let client_events = ClientEvents::default().with(Arc::new(InboxEvents(inbox.clone())));
        let connection_limits = ConnectionLimits::new(&config.limits);
        let message_rate = RateSettings::from_config(&config.limits);
        let socketio_endpoint = SocketIoEndpoint::new(
            hub.clone(),
            config.socketio(),
            Access::new(
                auth.clone(),
                connection_limits.clone(),
                message_rate,
                config.allowed_origins(),
            ),
            HeraldApp::new(vocabulary, client_events.clone()),
        );
        let socketio_stats = socketio_endpoint.shared.stats.clone();
        let socketio_routes = socketio::router(socketio_endpoint);
        let api_state = Arc::new(ApiState {
            hub: hub.clone(),
            inbox: inbox.clone(),
            auth: auth.clone(),
            started: Instant::now(),
            socketio: socketio_stats,
        });
        let phoenix_endpoint = Arc::new(PhoenixEndpoint {
            hub: hub.clone(),
            settings: config.phoenix(),
            auth,
            connection_limits,
            message_rate,
            allowed_origins: config.allowed_origins(),
            events: client_events.clone(),
        });
        let app = Router::new()
            .merge(api::router(api_state))
            .merge(phoenix::router(phoenix_endpoint))
            .merge(socketio_routes)
            .merge(web::router())
            .merge(crate::metrics::router(hub.clone()))
            .fallback(|| async { HttpError::not_found("no such route").into_response() })
            .method_not_allowed_fallback(|| async {
                HttpError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "this route does not take that method",
                )
                .into_response()
            })
            .layer(DefaultBodyLimit::max(config.http.max_body_bytes));
        // Without trusted proxies no request is rewritten: no layer at all.
        let app = if trusted_proxies.is_empty() {
            app
        } else {
            app.layer(axum::middleware::from_fn_with_state(
                Arc::new(trusted_proxies),
                client_address,
            ))
        };
        let app = app.layer(cors_layer(&config.cors_origin));
        Ok(Self {
            hub,
            inbox,
            store,
            app,
            config,
        })
    }

    /// Serve on `listener` until `shutdown` resolves, then close gracefully.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let hub = self.hub.clone();
        let store = self.store.clone();
        let grace = Duration::from_secs(self.config.http.shutdown_timeout_secs);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let signal_hub = hub.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: closing sockets and finishing requests");
            signal_hub.shutdown();
            let _ = stop_tx.send(true);
        });
        let mut stop_rx_for_serve = stop_rx.clone();
        let handshake_timeout = Some(self.config.limits.handshake_timeout_secs)
            .filter(|secs| *secs > 0)
            .map(Duration::from_secs);
        // `tap_io` does nothing here; it is what lets axum hand the remote
        // address of our own listener type to `ConnectInfo<SocketAddr>`.
        let listener = HandshakeListener::new(listener, handshake_timeout).tap_io(|_| {});
        let server = axum::serve(
            listener,
            self.app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop_rx_for_serve.wait_for(|stop| *stop).await;
        });
        let mut stop_rx_for_timer = stop_rx;
        let drain = async move {
            server.await?;
            hub.wait_until_no_connections().await;
            Ok::<(), std::io::Error>(())
        };
        let result = tokio::select! {
            result = drain => result,
            () = async move {
                let _ = stop_rx_for_timer.wait_for(|stop| *stop).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!("shutdown grace period over; closing what is left");
                Ok(())
            }
        };
        store.close().await;
        result
    }
}

fn cors_layer(origins: &str) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("x-api-key"),
        ]);
    if origins.trim() == "*" {
        return layer.allow_origin(Any);
    }
    let list: Vec<HeaderValue> = origins
        .split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    layer.allow_origin(AllowOrigin::list(list))
}
