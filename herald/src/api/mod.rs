//! The HTTP API: producers publish here, operators check health here.
//!
//! Handlers stay thin: they validate input, call the hub, and shape the
//! answer. Bodies are JSON both ways; every error is an [`HttpError`].
//!
//! - [`publish`]: `POST /api/publish`, `POST /api/broadcast`
//! - [`notifications`]: `POST /api/notifications` (resource notifications)
//! - [`history`]: `GET /api/topics/{topic}/history`
//! - [`inbox`]: the per-user inbox under `/api/users/{userId}/notifications`
//!   and `POST /api/notifications/batch`
//! - [`health`]: `GET /health`, `GET /api/health`

mod extract;
mod health;
mod history;
mod inbox;
mod notifications;
mod publish;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};

use crate::auth::Auth;
pub use crate::http_error::HttpError;
use crate::hub::Hub;
use crate::inbox::Inbox;
use crate::protocol::socketio::stats::SocketIoStats;

/// What the API handlers share.
pub struct ApiState {
    pub hub: Arc<Hub>,
    pub inbox: Arc<Inbox>,
    pub auth: Auth,
    pub started: Instant,
    /// Socket.IO clients and rooms, for health.
    pub socketio: Arc<SocketIoStats>,
}

/// Lets the credential extractors (`auth::http`) find the settings.
impl FromRef<Arc<ApiState>> for Auth {
    fn from_ref(state: &Arc<ApiState>) -> Auth {
        state.auth.clone()
    }
}

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .route("/api/health", get(health::health))
        .route("/api/publish", post(publish::publish))
        .route("/api/broadcast", post(publish::broadcast))
        .route("/api/notifications", post(notifications::notify))
        .route("/api/topics/{topic}/history", get(history::history))
        .route("/api/notifications/batch", post(inbox::send_batch))
        .route(
            "/api/users/{user_id}/notifications",
            post(inbox::send).get(inbox::list),
        )
        .route(
            "/api/users/{user_id}/notifications/unread-count",
            get(inbox::unread_count),
        )
        .route(
            "/api/users/{user_id}/notifications/read-all",
            post(inbox::mark_all_read),
        )
        .route(
            "/api/users/{user_id}/notifications/seen-all",
            post(inbox::mark_all_seen),
        )
        .route(
            "/api/users/{user_id}/notifications/{id}",
            get(inbox::get_one).delete(inbox::delete),
        )
        .route(
            "/api/users/{user_id}/notifications/{id}/read",
            post(inbox::mark_read),
        )
        .route(
            "/api/users/{user_id}/notifications/{id}/archive",
            post(inbox::archive),
        )
        .with_state(state)
}
