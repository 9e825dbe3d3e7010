//! Who may listen where (topic rules over a real socket) and who may
//! publish (API keys on the producer endpoints).

mod common;

use common::tokens::{self, API_KEY, claims, secured};
use common::{PhxClient, TestServer, Vsn};
use serde_json::json;

async fn client_for(server: &TestServer, token_claims: serde_json::Value) -> PhxClient {
    let token = tokens::hs256(&token_claims);
    PhxClient::connect_query(server, Vsn::V2, &format!("&token={token}")).await
}

#[tokio::test]
async fn staff_of_one_business_cannot_hear_another() {
    let server = TestServer::start_with(secured).await;
    let mut staff_a = client_for(&server, claims("s-a", json!({"businessId": "biz-a"}))).await;
    staff_a.join_ok("resources:biz-a-loc-1").await;
    staff_a.join_ok("resources:biz-a").await;
    let refused = staff_a.join("resources:biz-b-loc-1", json!({})).await;
    assert_eq!(refused.payload["response"]["reason"], "unauthorized");
    let refused = staff_a.join("resources:biz-b", json!({})).await;
    assert_eq!(refused.payload["response"]["reason"], "unauthorized");

    // What A joined is delivered; B's notifications never reach A.
    let notification = |business: &str| {
        json!({"type": "resource_created", "resourceType": "reservation", "businessId": business,
               "locationId": "loc-1", "resourceId": "r1", "shardId": "s", "timestamp": "2026-12-03T10:00:00Z"})
    };
    let (status, _) = server
        .post("/api/notifications", notification("biz-b"))
        .await;
    assert_eq!(status, 202);
    let (status, _) = server
        .post("/api/notifications", notification("biz-a"))
        .await;
    assert_eq!(status, 202);
    let frame = staff_a.next_frame().await;
    assert_eq!(frame.payload["businessId"], "biz-a");
}

#[tokio::test]
async fn chat_topics_admit_the_user_and_their_business_coordinators() {
    let server = TestServer::start_with(secured).await;
    let mut user = client_for(&server, claims("u1", json!({}))).await;
    user.join_ok("chat:b1:u1").await;
    let other = user.join("chat:b1:u2", json!({})).await;
    assert_eq!(other.payload["response"]["reason"], "unauthorized");

    let mut coordinator = client_for(
        &server,
        claims("c1", json!({"businessId": "b1", "roles": ["coordinator"]})),
    )
    .await;
    coordinator.join_ok("chat:b1:u1").await;
    coordinator.join_ok("agents:b1").await;
    let elsewhere = coordinator.join("agents:b2", json!({})).await;
    assert_eq!(elsewhere.payload["response"]["reason"], "unauthorized");

    let mut plain_staff = client_for(&server, claims("s1", json!({"businessId": "b1"}))).await;
    let agents = plain_staff.join("agents:b1", json!({})).await;
    assert_eq!(agents.payload["response"]["reason"], "unauthorized");
}

#[tokio::test]
async fn admin_topics_need_the_admin_role() {
    let server = TestServer::start_with(secured).await;
    let mut admin = client_for(&server, claims("a1", json!({"cognito:groups": ["admin"]}))).await;
    admin.join_ok("admin:alerts").await;
    let mut user = client_for(&server, claims("u1", json!({"role": "staff"}))).await;
    let refused = user.join("admin:alerts", json!({})).await;
    assert_eq!(refused.payload["response"]["reason"], "unauthorized");
    user.join_ok("global").await;
    user.join_ok("channel:c-42").await;
    let unmatched = user.join("elsewhere", json!({})).await;
    assert_eq!(unmatched.payload["response"]["reason"], "unmatched topic");
}

#[tokio::test]
async fn rules_from_a_config_file_replace_the_defaults() {
    let server = TestServer::start_with(|c| {
        secured(c);
        let file: toml::Table = toml::from_str(
            r#"
[[topics]]
pattern = "team:{team}"
allow = { claims = { teams = "{team}" } }
"#,
        )
        .unwrap();
        c.topics = file["topics"].clone().try_into().unwrap();
    })
    .await;
    let mut member = client_for(&server, claims("m1", json!({"teams": ["red", "blue"]}))).await;
    member.join_ok("team:blue").await;
    let refused = member.join("team:green", json!({})).await;
    assert_eq!(refused.payload["response"]["reason"], "unauthorized");
    // The shipped rules are gone: global is no longer a topic.
    let gone = member.join("global", json!({})).await;
    assert_eq!(gone.payload["response"]["reason"], "unmatched topic");
}

#[tokio::test]
async fn producer_endpoints_need_an_api_key() {
    let server = TestServer::start_with(secured).await;
    let http = reqwest::Client::new();
    let body = json!({"topic": "global", "event": "news", "payload": {}});
    let call = |request: reqwest::RequestBuilder| {
        let request = request.json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            (
                status,
                body["error"]["code"].as_str().unwrap_or("").to_owned(),
            )
        }
    };
    let url = server.url("/api/publish");
    assert_eq!(
        call(http.post(&url)).await,
        (401, "api_key_required".into())
    );
    assert_eq!(
        call(http.post(&url).header("x-api-key", "wrong-key-0123456789")).await,
        (401, "invalid_api_key".into())
    );
    assert_eq!(
        call(http.post(&url).bearer_auth("wrong-key-0123456789")).await,
        (401, "invalid_api_key".into())
    );
    // A valid user token is a credential without the right to publish.
    let user = tokens::hs256(&claims("u1", json!({})));
    assert_eq!(
        call(http.post(&url).bearer_auth(&user)).await,
        (403, "producer_key_required".into())
    );
    assert_eq!(
        call(http.post(&url).header("x-api-key", API_KEY)).await.0,
        202
    );
    assert_eq!(call(http.post(&url).bearer_auth(API_KEY)).await.0, 202);

    // Every producer route is guarded, not only publish.
    for path in ["/api/broadcast", "/api/notifications"] {
        let response = http
            .post(server.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
    let history = http
        .get(server.url("/api/topics/global/history"))
        .send()
        .await
        .unwrap();
    assert_eq!(history.status(), 401);
    // Health stays open for load balancers; its room list (user and
    // business ids) needs a key.
    let health = http.get(server.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let rooms = http
        .get(server.url("/health?rooms=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(rooms.status(), 401);
    let rooms = http
        .get(server.url("/health?rooms=1"))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(rooms.status(), 403);
    let rooms = http
        .get(server.url("/health?rooms=1"))
        .header("x-api-key", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(rooms.status(), 200);
}

#[tokio::test]
async fn a_scoped_api_key_reaches_only_its_routes() {
    const INBOX_KEY: &str = "inbox-only-key-0123456789";
    const PUBLISH_KEY: &str = "publish-key-0123456789";
    let server = TestServer::start_with(|c| {
        c.auth.api_keys = vec![
            format!("{INBOX_KEY}:inbox"),
            format!("{PUBLISH_KEY}:publish+history"),
        ];
    })
    .await;
    let publish = json!({"topic": "global", "event": "news", "payload": {}});
    let notification = json!({"type": "points_added"});
    let none = serde_json::Value::Null;
    let broadcast = json!({"topics": ["global"], "event": "news", "payload": {}});
    let resource = json!({"type": "resource_created", "resourceType": "r", "businessId": "b",
        "locationId": "l", "resourceId": "1", "shardId": "s", "timestamp": "2026-12-03T10:00:00Z"});
    let batch = json!({"userIds": ["u1"], "notification": {"type": "t"}});
    use reqwest::Method;
    let cases = [
        // The inbox key stores and reads inboxes, and nothing else.
        (
            INBOX_KEY,
            Method::POST,
            "/api/users/u1/notifications",
            &notification,
            201,
            "",
        ),
        (
            INBOX_KEY,
            Method::GET,
            "/api/users/u1/notifications",
            &none,
            200,
            "",
        ),
        (
            INBOX_KEY,
            Method::POST,
            "/api/publish",
            &publish,
            403,
            "scope_required",
        ),
        (
            INBOX_KEY,
            Method::GET,
            "/api/topics/global/history",
            &none,
            403,
            "scope_required",
        ),
        // The publish key publishes and reads history, but has no inbox right.
        (PUBLISH_KEY, Method::POST, "/api/publish", &publish, 202, ""),
        (
            PUBLISH_KEY,
            Method::GET,
            "/api/topics/global/history",
            &none,
            200,
            "",
        ),
        (
            PUBLISH_KEY,
            Method::POST,
            "/api/users/u1/notifications",
            &notification,
            403,
            "scope_required",
        ),
        (
            PUBLISH_KEY,
            Method::GET,
            "/api/users/u1/notifications/unread-count",
            &none,
            403,
            "scope_required",
        ),
        (
            INBOX_KEY,
            Method::POST,
            "/api/broadcast",
            &broadcast,
            403,
            "scope_required",
        ),
        (
            INBOX_KEY,
            Method::POST,
            "/api/notifications",
            &resource,
            403,
            "scope_required",
        ),
        (
            PUBLISH_KEY,
            Method::POST,
            "/api/notifications/batch",
            &batch,
            403,
            "scope_required",
        ),
        // The scope list is not part of the key.
        (
            "inbox-only-key-0123456789:inbox",
            Method::POST,
            "/api/publish",
            &publish,
            401,
            "invalid_api_key",
        ),
    ];
    let http = reqwest::Client::new();
    for (key, method, path, body, status, code) in cases {
        let mut request = http
            .request(method.clone(), server.url(path))
            .header("x-api-key", key);
        if !body.is_null() {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let got_status = response.status().as_u16();
        let reply: serde_json::Value = response.json().await.unwrap_or_default();
        let got_code = reply["error"]["code"].as_str().unwrap_or("");
        assert_eq!(
            (got_status, got_code),
            (status, code),
            "{key} {method} {path}"
        );
    }
}
