//! Joining and leaving channels, and the token refresh on the `phoenix`
//! topic: the control events of a Phoenix socket that change what it hears.
//!
//! A join checks the topic name and the topic rules, replaces an earlier
//! join of the same topic (as Phoenix does), and, given
//! `{"since": {"epoch", "offset"}}`, replays what the client missed before
//! any live message. Part of the socket's task ([`super::connection`]).

use serde::Deserialize;

use super::connection::{Connection, Ending, JoinedChannel, json_string, reason_json};
use super::frame::Inbound;
use crate::auth::limits::count_hit;
use crate::hub::{Position, validate_topic_name};

/// The part of a `phx_join` payload Herald reads.
#[derive(Deserialize)]
struct JoinPayload {
    since: Option<Since>,
}

/// The payload of a `refresh` push on the `phoenix` topic.
#[derive(Deserialize)]
struct RefreshPayload {
    token: String,
}

#[derive(Deserialize)]
struct Since {
    epoch: String,
    offset: u64,
}

impl Connection {
    pub(super) async fn join(&mut self, inbound: Inbound) -> Result<(), Ending> {
        if let Err(err) = validate_topic_name(&inbound.topic) {
            let response = format!(
                r#"{{"reason":"invalid topic","detail":{}}}"#,
                json_string(&err.to_string())
            );
            return self.reply(&inbound, false, &response).await;
        }
        if let Err(denied) = self
            .endpoint
            .auth
            .authorize_topic(&self.session.identity, &inbound.topic)
        {
            count_hit("join_denied");
            tracing::info!(connection = self.subscriber.id(), topic = %inbound.topic, reason = denied.reason(), "phoenix join refused");
            return self
                .reply(&inbound, false, &reason_json(denied.reason()))
                .await;
        }
        if !inbound.payload.get().trim_start().starts_with('{') {
            return self
                .reply(
                    &inbound,
                    false,
                    &reason_json("join payload must be an object"),
                )
                .await;
        }
        // A second join of a joined topic replaces the first, as in Phoenix:
        // the old channel is closed under its own join ref.
        if let Some(index) = self.channel_index(&inbound.topic) {
            let old = self.channels.swap_remove(index);
            self.subscriber.unsubscribe(&old.topic);
            self.send_close(&old).await?;
        }
        if self.channels.len() >= self.endpoint.settings.max_channels {
            tracing::info!(connection = self.subscriber.id(), topic = %inbound.topic, "too many channels joined");
            count_hit("max_channels");
            return self
                .reply(&inbound, false, &reason_json("too many channels joined"))
                .await;
        }
        let since = match serde_json::from_str::<JoinPayload>(inbound.payload.get()) {
            Ok(payload) => payload.since.map(|since| Position {
                epoch: since.epoch.into(),
                offset: since.offset,
            }),
            Err(_) => {
                let reason = "since must be {\"epoch\": string, \"offset\": integer}";
                return self.reply(&inbound, false, &reason_json(reason)).await;
            }
        };
        let (topic, recovery) = self
            .subscriber
            .subscribe_from(&inbound.topic, since.as_ref());
        let response = serde_json::json!({
            "recovered": recovery.recovered,
            "epoch": &*recovery.epoch,
            "offset": recovery.offset,
        });
        // Recovered messages are written right after the reply, before any
        // live one (publishes after the join wait in the mailbox behind them).
        let delivered_up_to = match (&since, recovery.recovered) {
            (Some(since), true) => since.offset,
            _ => recovery.offset,
        };
        // Grown one slot at a time: most sockets join one or two channels,
        // and a Vec's first growth would reserve four (224 bytes).
        self.channels.reserve_exact(1);
        self.channels.push(JoinedChannel {
            topic,
            join_ref: inbound.join_ref.clone(),
            epoch: recovery.epoch.clone(),
            delivered_up_to,
        });
        self.reply(&inbound, true, &response.to_string()).await?;
        let mut missed = recovery.missed;
        if !missed.is_empty() {
            self.write_batch(&mut missed).await?;
        }
        Ok(())
    }

    /// A fresh token for the same user extends the connection past the old
    /// token's expiry.
    pub(super) async fn refresh(&mut self, inbound: Inbound) -> Result<(), Ending> {
        let Ok(RefreshPayload { token }) = serde_json::from_str(inbound.payload.get()) else {
            let reason = "refresh payload must be {\"token\": string}";
            return self.reply(&inbound, false, &reason_json(reason)).await;
        };
        let identity = match self.endpoint.auth.authenticate(Some(&token)).await {
            Ok(identity) => identity,
            Err(err) => {
                return self
                    .reply(&inbound, false, &reason_json(err.reason()))
                    .await;
            }
        };
        if identity.user_id != self.session.identity.user_id {
            return self
                .reply(&inbound, false, &reason_json("user_mismatch"))
                .await;
        }
        let response = serde_json::json!({ "expiresAt": identity.expires_at });
        self.session.identity = identity.into_shared();
        tracing::debug!(connection = self.subscriber.id(), "phoenix token refreshed");
        self.reply(&inbound, true, &response.to_string()).await
    }

    pub(super) async fn leave(&mut self, inbound: Inbound) -> Result<(), Ending> {
        let Some(index) = self.channel_index(&inbound.topic) else {
            return self
                .reply(&inbound, false, &reason_json("unmatched topic"))
                .await;
        };
        let channel = self.channels.swap_remove(index);
        self.subscriber.unsubscribe(&channel.topic);
        self.reply(&inbound, true, "{}").await?;
        self.send_close(&channel).await
    }
}
