//! Client tokens: where they come from, which ones pass, how expiry and
//! refresh work, and JWKS key rotation.

mod common;

use std::time::Duration;

use common::tokens::{self, API_KEY, JwksServer, SECRET, TestKey, claims};
use common::{PhxClient, Received, TestServer, Vsn};
use herald::config::Config;
use jsonwebtoken::{Algorithm, get_current_timestamp};
use serde_json::json;

fn secured(config: &mut Config, jwks_url: Option<&str>) {
    config.auth.jwt_secret = Some(SECRET.into());
    config.auth.jwks_url = jwks_url.map(str::to_owned);
    config.auth.api_keys = vec![API_KEY.into()];
    config.auth.leeway_secs = 0;
}

async fn refused(server: &TestServer, token: &str) -> (u16, String) {
    match PhxClient::try_connect(server, Vsn::V2, &format!("&token={token}"), &[]).await {
        Ok(_) => panic!("a bad token was accepted"),
        Err((status, body)) => (
            status,
            body["error"]["code"].as_str().unwrap_or("").to_owned(),
        ),
    }
}

#[tokio::test]
async fn hs_token_in_params_connects_and_joins_own_topics_only() {
    let server = TestServer::start_with(|c| secured(c, None)).await;
    let token = tokens::hs256(&claims("alice", json!({})));
    let mut client = PhxClient::connect_query(&server, Vsn::V2, &format!("&token={token}")).await;
    client.join_ok("user:alice").await;
    let refused = client.join("user:bob", json!({})).await;
    assert_eq!(refused.payload["status"], "error");
    assert_eq!(refused.payload["response"]["reason"], "unauthorized");
    let unmatched = client.join("nowhere:1", json!({})).await;
    assert_eq!(unmatched.payload["response"]["reason"], "unmatched topic");
    // HS384 and HS512 work with the same secret.
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let token = tokens::hs_with_secret(alg, SECRET.as_bytes(), &claims("alice", json!({})));
        PhxClient::connect_query(&server, Vsn::V1, &format!("&token={token}")).await;
    }
}

#[tokio::test]
async fn phoenix_js_auth_token_subprotocol_is_accepted_and_answered() {
    use base64::Engine;
    let server = TestServer::start_with(|c| secured(c, None)).await;
    let token = tokens::hs256(&claims("alice", json!({})));
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&token);
    let protocols = format!("phoenix, base64url.bearer.phx.{encoded}");
    let (mut client, response) = PhxClient::try_connect(
        &server,
        Vsn::V2,
        "",
        &[("sec-websocket-protocol", &protocols)],
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "phoenix");
    client.join_ok("user:alice").await;
    // A garbled token in the subprotocol is refused like any bad token.
    let (status, code) = match PhxClient::try_connect(
        &server,
        Vsn::V2,
        "",
        &[(
            "sec-websocket-protocol",
            "phoenix, base64url.bearer.phx.%%%",
        )],
    )
    .await
    {
        Ok(_) => panic!("accepted"),
        Err((status, body)) => (status, body["error"]["code"].clone()),
    };
    assert_eq!((status, code), (401, json!("token_invalid")));
}

#[tokio::test]
async fn rs_and_es_tokens_verify_through_the_jwks() {
    let jwks = JwksServer::start(&[TestKey::Rsa1, TestKey::Ec1]).await;
    let server = TestServer::start_with(|c| secured(c, Some(&jwks.url))).await;
    for key in [TestKey::Rsa1, TestKey::Ec1] {
        let token = key.sign(&claims("carol", json!({"businessId": "b1"})));
        let mut client =
            PhxClient::connect_query(&server, Vsn::V2, &format!("&token={token}")).await;
        client.join_ok("resources:b1-l1").await;
        let other = client.join("resources:b2-l1", json!({})).await;
        assert_eq!(other.payload["response"]["reason"], "unauthorized");
    }
    assert_eq!(jwks.fetches(), 1, "keys are cached");
}

#[tokio::test]
async fn bad_tokens_are_refused_with_stable_codes() {
    let jwks = JwksServer::start(&[TestKey::Rsa1]).await;
    let server = TestServer::start_with(|c| {
        secured(c, Some(&jwks.url));
        c.auth.issuers = vec!["https://issuer.example".into()];
        c.auth.audiences = vec!["herald".into()];
    })
    .await;
    let now = get_current_timestamp();
    let good = || {
        claims(
            "dave",
            json!({"iss": "https://issuer.example", "aud": "herald"}),
        )
    };
    // The baseline passes, so each refusal below is for its one difference.
    PhxClient::connect_query(
        &server,
        Vsn::V2,
        &format!("&token={}", tokens::hs256(&good())),
    )
    .await;

    let mut expired = good();
    expired["exp"] = json!(now - 60);
    assert_eq!(
        refused(&server, &tokens::hs256(&expired)).await,
        (401, "token_expired".into())
    );

    let mut early = good();
    early["nbf"] = json!(now + 600);
    assert_eq!(
        refused(&server, &tokens::hs256(&early)).await,
        (401, "token_not_yet_valid".into())
    );

    let wrong_secret = tokens::hs_with_secret(Algorithm::HS256, b"not-the-secret", &good());
    assert_eq!(
        refused(&server, &wrong_secret).await,
        (401, "token_invalid".into())
    );

    let mut wrong_issuer = good();
    wrong_issuer["iss"] = json!("https://evil.example");
    assert_eq!(
        refused(&server, &tokens::hs256(&wrong_issuer)).await,
        (401, "token_invalid".into())
    );

    let mut wrong_audience = good();
    wrong_audience["aud"] = json!("someone-else");
    assert_eq!(
        refused(&server, &TestKey::Rsa1.sign(&wrong_audience)).await,
        (401, "token_invalid".into())
    );

    // alg "none": a header and claims with an empty signature.
    use base64::Engine;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(good())
    );
    assert_eq!(refused(&server, &none).await, (401, "token_invalid".into()));

    // Algorithm confusion: HS256 "signed" with the RSA public key.
    let confused =
        tokens::hs_with_secret(Algorithm::HS256, tokens::RSA1_PUBLIC.as_bytes(), &good());
    assert_eq!(
        refused(&server, &confused).await,
        (401, "token_invalid".into())
    );

    assert_eq!(
        refused(&server, "garbage").await,
        (401, "token_invalid".into())
    );
    assert_eq!(
        refused(&server, "a.b.c").await,
        (401, "token_invalid".into())
    );

    // No token at all, with anonymous clients off.
    let missing = PhxClient::try_connect(&server, Vsn::V2, "", &[]).await;
    let Err((status, body)) = missing else {
        panic!("accepted without a token")
    };
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("token_missing"))
    );
}

#[tokio::test]
async fn cognito_tokens_need_the_right_client_and_token_use() {
    let jwks = JwksServer::start(&[TestKey::Rsa1]).await;
    let pool = "eu-west-1_TestPool";
    let issuer = format!("https://cognito-idp.eu-west-1.amazonaws.com/{pool}");
    let server = TestServer::start_with(|c| {
        c.auth.cognito_user_pool_id = Some(pool.into());
        c.auth.jwks_url = Some(jwks.url.clone());
        c.auth.cognito_client_ids = vec!["app-client".into()];
    })
    .await;
    let access = |client_id: &str, token_use: &str, iss: &str| {
        TestKey::Rsa1.sign(&claims(
            "cognito-user",
            json!({"client_id": client_id, "token_use": token_use, "iss": iss, "cognito:groups": ["admin"]}),
        ))
    };
    let token = access("app-client", "access", &issuer);
    let mut client = PhxClient::connect_query(&server, Vsn::V2, &format!("&token={token}")).await;
    client.join_ok("admin:alerts").await;
    for bad in [
        access("other-client", "access", &issuer),
        access("app-client", "refresh", &issuer),
        access(
            "app-client",
            "access",
            "https://cognito-idp.eu-west-1.amazonaws.com/other",
        ),
    ] {
        assert_eq!(refused(&server, &bad).await, (401, "token_invalid".into()));
    }
}

#[tokio::test]
async fn jwks_rotation_is_picked_up_and_unknown_kids_cannot_hammer_the_host() {
    let jwks = JwksServer::start(&[TestKey::Rsa1]).await;
    let server = TestServer::start_with(|c| {
        secured(c, Some(&jwks.url));
        c.auth.jwks_min_refetch_secs = 1;
    })
    .await;
    let first = TestKey::Rsa1.sign(&claims("erin", json!({})));
    PhxClient::connect_query(&server, Vsn::V2, &format!("&token={first}")).await;
    assert_eq!(jwks.fetches(), 1);

    // The issuer rotates to a new key; wait out the refetch interval.
    jwks.set_keys(&[TestKey::Rsa1, TestKey::Rsa2]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rotated = TestKey::Rsa2.sign(&claims("erin", json!({})));
    PhxClient::connect_query(&server, Vsn::V2, &format!("&token={rotated}")).await;
    assert_eq!(jwks.fetches(), 2, "a new kid caused one refetch");

    // A burst of tokens naming unknown kids causes at most one more fetch.
    for n in 0..20 {
        let forged = TestKey::Rsa2.sign_with_kid(&claims("erin", json!({})), &format!("kid-{n}"));
        assert_eq!(
            refused(&server, &forged).await,
            (401, "token_invalid".into())
        );
    }
    assert!(jwks.fetches() <= 3, "fetched {} times", jwks.fetches());
}

#[tokio::test]
async fn anonymous_clients_may_join_public_topics_only() {
    let server = TestServer::start_with(|c| {
        secured(c, None);
        c.auth.allow_anonymous = true;
    })
    .await;
    let mut client = PhxClient::connect(&server, Vsn::V2).await;
    client.join_ok("global").await;
    client.join_ok("channel:news").await;
    let private = client.join("user:alice", json!({})).await;
    assert_eq!(private.payload["response"]["reason"], "unauthorized");
    // Anonymous does not mean "any token goes": a bad token is still refused.
    assert_eq!(
        refused(&server, "garbage").await,
        (401, "token_invalid".into())
    );
}

#[tokio::test]
async fn a_token_expiring_mid_connection_closes_the_socket_with_the_reason() {
    let server = TestServer::start_with(|c| secured(c, None)).await;
    let mut short = claims("frank", json!({}));
    short["exp"] = json!(get_current_timestamp() + 2);
    let token = tokens::hs256(&short);
    let mut client = PhxClient::connect_query(&server, Vsn::V2, &format!("&token={token}")).await;
    client.join_ok("user:frank").await;
    let mut saw_close_event = false;
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), client.next()).await {
            Ok(Received::Frame(frame)) => {
                // phx_error, not phx_close: phoenix.js rejoins the channel
                // once it reconnects with a fresh token.
                if frame.event == "phx_error" && frame.topic == "user:frank" {
                    assert_eq!(frame.payload["reason"], "token_expired");
                    saw_close_event = true;
                }
            }
            Ok(Received::Closed(close)) => break close,
            Err(_) => panic!("the socket outlived its token"),
        }
    };
    assert!(saw_close_event, "the channel was told why");
    let (code, reason) = close.expect("a close frame");
    assert_eq!((code, reason.as_str()), (1008, "token_expired"));
}

#[tokio::test]
async fn refresh_extends_the_connection_for_the_same_user_only() {
    let server = TestServer::start_with(|c| secured(c, None)).await;
    let mut short = claims("gina", json!({}));
    short["exp"] = json!(get_current_timestamp() + 2);
    let token = tokens::hs256(&short);
    let mut client = PhxClient::connect_query(&server, Vsn::V2, &format!("&token={token}")).await;
    client.join_ok("user:gina").await;

    let other_user = tokens::hs256(&claims("mallory", json!({})));
    let r = client
        .push(None, "phoenix", "refresh", json!({"token": other_user}))
        .await;
    let reply = client.expect_reply(&r).await;
    assert_eq!(reply.payload["response"]["reason"], "user_mismatch");

    let r = client
        .push(None, "phoenix", "refresh", json!({"token": "garbage"}))
        .await;
    assert_eq!(
        client.expect_reply(&r).await.payload["response"]["reason"],
        "token_invalid"
    );

    let fresh = tokens::hs256(&claims("gina", json!({})));
    let r = client
        .push(None, "phoenix", "refresh", json!({"token": fresh}))
        .await;
    let reply = client.expect_reply(&r).await;
    assert_eq!(reply.payload["status"], "ok");
    assert!(
        reply.payload["response"]["expiresAt"].as_u64().unwrap() > get_current_timestamp() + 3000
    );

    // Past the first token's expiry the socket is still open.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = client.push(None, "phoenix", "heartbeat", json!({})).await;
    assert_eq!(client.expect_reply(&r).await.payload["status"], "ok");
    server.publish("user:gina", "ping", json!({"n": 1})).await;
    let frame = client.next_frame().await;
    assert_eq!(
        (frame.topic.as_str(), frame.event.as_str()),
        ("user:gina", "ping")
    );
}
