//! The durable inbox over HTTP, on SQLite and on PostgreSQL: every endpoint,
//! idempotency, batches, pagination under concurrent inserts, isolation
//! between users, and retention.

#[macro_use]
mod common;

use std::collections::HashSet;

use common::{Engine, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

on_both_engines!(
    every_endpoint_does_its_job,
    bad_input_is_refused_with_stable_codes,
    the_idempotency_key_stores_once,
    a_batch_reaches_every_user_once,
    pages_stay_stable_while_notifications_arrive,
    a_user_cannot_reach_another_users_notifications,
    retention_trims_to_the_cap_and_drops_expired,
);

async fn send(server: &TestServer, user: &str, body: Value) -> Value {
    let (status, reply) = server
        .post(&format!("/api/users/{user}/notifications"), body)
        .await;
    assert_eq!(status, 201, "send failed: {reply}");
    reply
}

async fn unread_count(server: &TestServer, base: &str) -> u64 {
    let (status, body) = server.get(&format!("{base}/unread-count")).await;
    assert_eq!(status, 200, "{body}");
    body["count"].as_u64().unwrap()
}

/// The ids listed under `status`, newest first.
async fn listed(server: &TestServer, base: &str, status: &str) -> Vec<String> {
    ids(&server.get(&format!("{base}?status={status}")).await.1)
}

fn ids(page: &Value) -> Vec<String> {
    page["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn every_endpoint_does_its_job(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let first = send(
        &server,
        "u1",
        json!({"type": "points_added", "title": "You earned 10 points", "body": "Thanks!",
               "data": {"points": 10, "nested": {"a": [1, 2]}}, "priority": "high"}),
    )
    .await;
    assert_eq!(first["userId"], "u1");
    assert_eq!(first["type"], "points_added");
    assert_eq!(first["title"], "You earned 10 points");
    assert_eq!(first["body"], "Thanks!");
    assert_eq!(
        first["data"],
        json!({"points": 10, "nested": {"a": [1, 2]}})
    );
    assert_eq!(first["priority"], "high");
    assert!(first["createdAt"].as_str().unwrap().ends_with('Z'));
    for field in [
        "readAt",
        "seenAt",
        "archivedAt",
        "expiresAt",
        "idempotencyKey",
    ] {
        assert_eq!(first[field], Value::Null, "{field}");
    }
    let second = send(&server, "u1", json!({"type": "reminder"})).await;
    assert_eq!(second["priority"], "normal");
    assert_eq!(second["data"], json!({}));
    let third = send(&server, "u1", json!({"type": "reminder"})).await;
    let base = "/api/users/u1/notifications";
    let [id1, id2, id3] = [&first, &second, &third].map(|n| n["id"].as_str().unwrap().to_owned());

    // List: newest first.
    let (status, page) = server.get(base).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&page), [id3.as_str(), id2.as_str(), id1.as_str()]);
    assert_eq!(page["nextCursor"], Value::Null);
    assert_eq!(unread_count(&server, base).await, 3);

    // One notification.
    let (status, one) = server.get(&format!("{base}/{id1}")).await;
    assert_eq!(status, 200);
    assert_eq!(one, first);

    // Read one: it leaves the unread list and the count.
    let (status, read) = server.post(&format!("{base}/{id2}/read"), json!({})).await;
    assert_eq!(status, 200);
    assert!(read["readAt"].is_string());
    assert!(read["seenAt"].is_string(), "reading implies seeing");
    let (_, again) = server.post(&format!("{base}/{id2}/read"), json!({})).await;
    assert_eq!(
        again["readAt"], read["readAt"],
        "a second read keeps the first time"
    );
    assert_eq!(
        listed(&server, base, "unread").await,
        [id3.as_str(), id1.as_str()]
    );
    assert_eq!(listed(&server, base, "read").await, [id2.as_str()]);
    assert_eq!(unread_count(&server, base).await, 2);

    // Seen all: nothing becomes read.
    let (status, seen) = server.post(&format!("{base}/seen-all"), json!({})).await;
    assert_eq!((status, seen), (200, json!({"updated": 2})));
    assert!(server.get(&format!("{base}/{id3}")).await.1["seenAt"].is_string());
    assert_eq!(unread_count(&server, base).await, 2);

    // Archive: out of every list but `archived`, and out of the count.
    let (status, archived) = server
        .post(&format!("{base}/{id3}/archive"), json!({}))
        .await;
    assert_eq!(status, 200);
    assert!(archived["archivedAt"].is_string());
    assert_eq!(ids(&server.get(base).await.1), [id2.as_str(), id1.as_str()]);
    assert_eq!(listed(&server, base, "archived").await, [id3.as_str()]);
    assert_eq!(unread_count(&server, base).await, 1);

    // Read all.
    let (status, all) = server.post(&format!("{base}/read-all"), json!({})).await;
    assert_eq!((status, all), (200, json!({"updated": 1})));
    assert_eq!(unread_count(&server, base).await, 0);
    assert_eq!(listed(&server, base, "unread").await, Vec::<String>::new());

    // Delete.
    let (status, _) = server
        .request(Method::DELETE, &format!("{base}/{id1}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, gone) = server.get(&format!("{base}/{id1}")).await;
    assert_eq!(
        (status, gone["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, _) = server
        .request(Method::DELETE, &format!("{base}/{id1}"), None)
        .await;
    assert_eq!(status, 404);
    for path in [format!("{base}/999999/read"), format!("{base}/abc/archive")] {
        let (status, body) = server.post(&path, json!({})).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }

    // An inbox nobody wrote to is empty, not missing.
    let (status, empty) = server.get("/api/users/nobody/notifications").await;
    assert_eq!(
        (status, empty),
        (200, json!({"notifications": [], "nextCursor": null}))
    );
}

async fn bad_input_is_refused_with_stable_codes(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let base = "/api/users/u1/notifications";
    let cases = [
        (json!({}), "missing_field", "type"),
        (json!({"type": ""}), "invalid_field", "type"),
        (
            json!({"type": "t", "priority": "urgent"}),
            "invalid_field",
            "priority",
        ),
        (json!({"type": "t", "data": [1]}), "invalid_field", "data"),
        (
            json!({"type": "t", "expiresAt": "tomorrow"}),
            "invalid_field",
            "expiresAt",
        ),
        (
            json!({"type": "t", "expiresAt": "2030-01-01T00:00:00Z", "ttlSecs": 5}),
            "invalid_field",
            "ttlSecs",
        ),
        (
            json!({"type": "t", "colour": "red"}),
            "invalid_body",
            "colour",
        ),
    ];
    for (body, code, mentions) in cases {
        let (status, reply) = server.post(base, body.clone()).await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert_eq!(reply["error"]["code"], code, "{body}: {reply}");
        assert!(
            reply["error"]["message"]
                .as_str()
                .unwrap()
                .contains(mentions),
            "{reply}"
        );
    }
    for (query, code) in [
        ("status=new", "invalid_field"),
        ("cursor=xyz", "invalid_field"),
        ("limit=many", "invalid_query"),
    ] {
        let (status, reply) = server.get(&format!("{base}?{query}")).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (400, Some(code)),
            "{query}: {reply}"
        );
    }
    let refusals = [
        (
            "/api/users/a%20b/notifications",
            json!({"type": "t"}),
            "invalid_field",
        ),
        (
            "/api/notifications/batch",
            json!({"notification": {"type": "t"}}),
            "missing_field",
        ),
        (
            "/api/notifications/batch",
            json!({"userIds": [], "notification": {"type": "t"}}),
            "invalid_field",
        ),
    ];
    for (path, body, code) in refusals {
        let (status, reply) = server.post(path, body).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (400, Some(code)),
            "{path}"
        );
    }
}

async fn the_idempotency_key_stores_once(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let base = "/api/users/u1/notifications";
    let body = json!({"type": "order_shipped", "idempotencyKey": "order-7-shipped"});
    let (status, first) = server.post(base, body.clone()).await;
    assert_eq!(status, 201);
    assert_eq!(first["idempotencyKey"], "order-7-shipped");
    let (status, again) = server.post(base, body).await;
    assert_eq!(status, 200, "a repeated key answers 200");
    assert_eq!(again, first, "the same notification, as stored");

    // The key may come as a header too: stored the first time only.
    for expected in [201, 200] {
        let response = reqwest::Client::new()
            .post(server.url(base))
            .header("idempotency-key", "from-header")
            .json(&json!({"type": "t"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected);
    }

    // Keys are per user.
    let (status, other) = server
        .post(
            "/api/users/u2/notifications",
            json!({"type": "order_shipped", "idempotencyKey": "order-7-shipped"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_ne!(other["id"], first["id"]);

    // Racing retries of one key store one notification.
    let mut racers = Vec::new();
    for _ in 0..8 {
        let url = server.url(base);
        racers.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .json(&json!({"type": "t", "idempotencyKey": "race"}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["id"]
                .clone()
        }));
    }
    let mut seen = HashSet::new();
    for racer in racers {
        seen.insert(racer.await.unwrap().to_string());
    }
    assert_eq!(seen.len(), 1, "one notification for one key: {seen:?}");
    assert_eq!(ids(&server.get(base).await.1).len(), 3);

    // A retry may reorder the data's keys and use a relative expiry again...
    let with_data = json!({"type": "points", "data": {"a": 1, "b": [1, 2]}, "ttlSecs": 60, "idempotencyKey": "visit-1"});
    let (status, _) = server.post(base, with_data).await;
    assert_eq!(status, 201);
    let reordered = json!({"type": "points", "data": {"b": [1, 2], "a": 1}, "ttlSecs": 60, "idempotencyKey": "visit-1"});
    let (status, _) = server.post(base, reordered).await;
    assert_eq!(status, 200);
    // ...but the same key with a different notification is refused, and
    // nothing is stored for it.
    let (status, reply) = server
        .post(
            base,
            json!({"type": "points", "data": {"a": 2}, "idempotencyKey": "visit-1"}),
        )
        .await;
    assert_eq!(status, 409, "{reply}");
    assert_eq!(reply["error"]["code"], "idempotency_key_reused");
    assert_eq!(ids(&server.get(base).await.1).len(), 4);
}

async fn a_batch_reaches_every_user_once(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let batch = json!({
        "userIds": ["u1", "u2", "u3", "u2"],
        "notification": {"type": "system_alert", "title": "Maintenance at 22:00", "idempotencyKey": "maint-1"}
    });
    let (status, reply) = server.post("/api/notifications/batch", batch.clone()).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["created"], 3, "duplicate user ids count once");
    let users: Vec<&str> = reply["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["userId"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["u1", "u2", "u3"]);
    for user in ["u1", "u2", "u3"] {
        let (_, page) = server
            .get(&format!("/api/users/{user}/notifications"))
            .await;
        assert_eq!(page["notifications"].as_array().unwrap().len(), 1, "{user}");
        assert_eq!(page["notifications"][0]["title"], "Maintenance at 22:00");
    }
    // The same batch again (a producer's retry) stores nothing new.
    let (status, retry) = server.post("/api/notifications/batch", batch).await;
    assert_eq!(status, 200);
    assert_eq!(retry["created"], 0);
    assert_eq!(retry["notifications"], reply["notifications"]);
    // The key again with another notification: refused for the users who
    // have the first one.
    let changed = json!({
        "userIds": ["u1", "u4"],
        "notification": {"type": "system_alert", "title": "Maintenance at 23:00", "idempotencyKey": "maint-1"}
    });
    let (status, refused) = server.post("/api/notifications/batch", changed).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "idempotency_key_reused");
    assert!(refused["error"]["message"].as_str().unwrap().contains("u1"));
    // u1 keeps its first notification; u4, new to the key, got the new one.
    let (_, u1) = server.get("/api/users/u1/notifications").await;
    let titles = |page: &Value| -> Vec<String> {
        page["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["title"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(titles(&u1), ["Maintenance at 22:00"]);
    let (_, u4) = server.get("/api/users/u4/notifications").await;
    assert_eq!(titles(&u4), ["Maintenance at 23:00"]);
}

async fn pages_stay_stable_while_notifications_arrive(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let base = "/api/users/pager/notifications";
    let mut before = Vec::new();
    for n in 0..40 {
        before.push(
            send(&server, "pager", json!({"type": "t", "data": {"n": n}})).await["id"].clone(),
        );
    }
    // Another producer keeps inserting while the client pages.
    let inbox_url = server.url(base);
    let writer = tokio::spawn(async move {
        let client = reqwest::Client::new();
        for n in 0..40 {
            let response = client
                .post(&inbox_url)
                .json(&json!({"type": "t", "data": {"late": n}}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
        }
    });
    let mut seen: Vec<i64> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("{base}?limit=7&cursor={cursor}"),
            None => format!("{base}?limit=7"),
        };
        let (status, page) = server.get(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(ids(&page).iter().map(|id| id.parse::<i64>().unwrap()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no notification twice: {seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seen:?}"
    );
    for id in &before {
        let id: i64 = id.as_str().unwrap().parse().unwrap();
        assert!(unique.contains(&id), "notification {id} was skipped");
    }
    let (_, page) = server.get(&format!("{base}?limit=100")).await;
    assert_eq!(ids(&page).len(), 80);
}

async fn a_user_cannot_reach_another_users_notifications(engine: Engine) {
    let server = TestServer::start_on(engine, |_| {}).await;
    let theirs = send(&server, "alice", json!({"type": "secret"})).await;
    let id = theirs["id"].as_str().unwrap();
    // Ids are scoped by their user: under bob's inbox, alice's id names nothing.
    let bob = "/api/users/bob/notifications";
    assert_eq!(server.get(&format!("{bob}/{id}")).await.0, 404);
    assert_eq!(
        server.post(&format!("{bob}/{id}/read"), json!({})).await.0,
        404
    );
    assert_eq!(
        server
            .post(&format!("{bob}/{id}/archive"), json!({}))
            .await
            .0,
        404
    );
    assert_eq!(
        server
            .request(Method::DELETE, &format!("{bob}/{id}"), None)
            .await
            .0,
        404
    );
    assert_eq!(
        server.post(&format!("{bob}/read-all"), json!({})).await.1,
        json!({"updated": 0})
    );
    let (_, alice) = server
        .get(&format!("/api/users/alice/notifications/{id}"))
        .await;
    assert_eq!(alice, theirs, "untouched");
}

async fn retention_trims_to_the_cap_and_drops_expired(engine: Engine) {
    let server = TestServer::start_on(engine, |c| c.inbox.max_per_user = 3).await;
    let mut kept = Vec::new();
    for n in 0..5 {
        kept.push(
            send(&server, "capped", json!({"type": "t", "data": {"n": n}})).await["id"].clone(),
        );
    }
    let expired = send(
        &server,
        "other",
        json!({"type": "t", "expiresAt": "2020-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(expired["expiresAt"], "2020-01-01T00:00:00Z");
    send(&server, "other", json!({"type": "t", "ttlSecs": 3600})).await;
    // Expired is gone from reads at once, before any sweep.
    let (_, other) = server.get("/api/users/other/notifications").await;
    assert_eq!(ids(&other).len(), 1);
    assert_eq!(
        server
            .get("/api/users/other/notifications/unread-count")
            .await
            .1,
        json!({"count": 1})
    );

    let report = server.inbox.sweep().await.unwrap();
    assert_eq!((report.expired, report.over_cap), (1, 2));
    let (_, page) = server.get("/api/users/capped/notifications").await;
    let newest: Vec<Value> = kept[2..].iter().rev().cloned().collect();
    assert_eq!(
        page["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].clone())
            .collect::<Vec<_>>(),
        newest
    );
    let again = server.inbox.sweep().await.unwrap();
    assert_eq!((again.expired, again.over_cap), (0, 0));
}
