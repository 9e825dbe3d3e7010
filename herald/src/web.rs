//! The `/test` page: a small console to watch resource notifications live and
//! send test ones. Its assets are compiled into the binary, so Herald serves
//! the page with no CDN and no network.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const TEST_HTML: &str = include_str!("../web/test.html");
const TEST_JS: &str = include_str!("../web/test.js");
const TEST_CSS: &str = include_str!("../web/test.css");

pub fn router() -> Router {
    Router::new()
        .route(
            "/test",
            get(|| asset("text/html; charset=utf-8", TEST_HTML)),
        )
        .route(
            "/test/app.js",
            get(|| asset("text/javascript; charset=utf-8", TEST_JS)),
        )
        .route(
            "/test/app.css",
            get(|| asset("text/css; charset=utf-8", TEST_CSS)),
        )
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
