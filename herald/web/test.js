// Herald test console: a small Phoenix Channels (V2) client for the browser.
// It joins resources:{business}-{location} and resources:{business}, shows
// every event that arrives, reconnects with backoff, and rejoins from the last
// position it saw (Herald's recovery: the broadcast ref is "<epoch>:<offset>").
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const HEARTBEAT_MS = 30000;
  const BACKOFF_MS = [250, 500, 1000, 2000, 5000];

  let socket = null;
  let wantConnected = false;
  let attempt = 0;
  let refCounter = 0;
  let heartbeatTimer = null;
  let reconnectTimer = null;
  let eventCount = 0;
  // topic -> {joinRef, state, position}
  const channels = new Map();

  function nextRef() {
    refCounter += 1;
    return String(refCounter);
  }

  function setState(state, text) {
    const el = $("state");
    el.className = "state " + state;
    el.textContent = text || state;
    $("connect").disabled = state === "connected" || state === "connecting";
    $("disconnect").disabled = !wantConnected;
  }

  function renderChannels() {
    const list = $("channels");
    list.replaceChildren();
    for (const [topic, channel] of channels) {
      const item = document.createElement("li");
      item.className = channel.state;
      item.dataset.topic = topic;
      item.textContent = topic + " · " + channel.state + (channel.reason ? " (" + channel.reason + ")" : "");
      list.appendChild(item);
    }
  }

  function logEvent(topic, event, payload, kind) {
    eventCount += 1;
    $("event-count").textContent = String(eventCount);
    const item = document.createElement("li");
    if (kind) item.className = kind;
    const meta = document.createElement("div");
    meta.className = "meta";
    const time = document.createElement("span");
    time.textContent = new Date().toLocaleTimeString();
    const topicEl = document.createElement("span");
    topicEl.className = "topic";
    topicEl.textContent = topic;
    const eventEl = document.createElement("span");
    eventEl.className = "event";
    eventEl.textContent = event;
    meta.append(time, topicEl, eventEl);
    const body = document.createElement("pre");
    body.textContent = JSON.stringify(payload, null, 2);
    item.append(meta, body);
    $("events").prepend(item);
  }

  function send(joinRef, ref, topic, event, payload) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify([joinRef, ref, topic, event, payload]));
    }
  }

  function join(topic) {
    const channel = channels.get(topic);
    channel.joinRef = nextRef();
    channel.state = "joining";
    channel.reason = "";
    const payload = channel.position ? { since: channel.position } : {};
    send(channel.joinRef, channel.joinRef, topic, "phx_join", payload);
    renderChannels();
  }

  function handleFrame(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (_) {
      return;
    }
    if (!Array.isArray(frame) || frame.length !== 5) return;
    const [joinRef, ref, topic, event, payload] = frame;
    const channel = channels.get(topic);
    if (event === "phx_reply") {
      if (!channel || ref !== channel.joinRef) return;
      if (payload.status === "ok") {
        channel.state = "joined";
        const response = payload.response || {};
        if (!response.recovered && response.epoch !== undefined) {
          channel.position = { epoch: response.epoch, offset: response.offset };
        }
      } else {
        channel.state = "error";
        channel.reason = (payload.response && payload.response.reason) || "refused";
        logEvent(topic, "join refused", payload.response || {}, "system");
      }
      renderChannels();
      return;
    }
    if (!channel) return;
    if (event === "phx_close" || event === "phx_error") {
      if (joinRef && joinRef !== channel.joinRef) return;
      channel.state = "closed";
      channel.reason = (payload && payload.reason) || "";
      logEvent(topic, event, payload, "system");
      renderChannels();
      return;
    }
    if (typeof ref === "string" && ref.includes(":")) {
      const at = ref.lastIndexOf(":");
      channel.position = { epoch: ref.slice(0, at), offset: Number(ref.slice(at + 1)) };
    }
    logEvent(topic, event, payload);
  }

  function connect() {
    const business = $("business-id").value.trim();
    const location = $("location-id").value.trim();
    if (!business || !location) return;
    const topics = ["resources:" + business + "-" + location, "resources:" + business];
    for (const topic of [...channels.keys()]) {
      if (!topics.includes(topic)) channels.delete(topic);
    }
    for (const topic of topics) {
      if (!channels.has(topic)) channels.set(topic, { joinRef: null, state: "pending", position: null });
    }
    wantConnected = true;
    open();
  }

  function open() {
    clearTimeout(reconnectTimer);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams({ vsn: "2.0.0" });
    const token = $("token").value.trim();
    if (token) params.set("token", token);
    setState("connecting", "connecting…");
    const ws = new WebSocket(scheme + "//" + location.host + "/socket/websocket?" + params);
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      setState("connected");
      for (const topic of channels.keys()) join(topic);
      clearInterval(heartbeatTimer);
      heartbeatTimer = setInterval(() => send(null, nextRef(), "phoenix", "heartbeat", {}), HEARTBEAT_MS);
    };
    ws.onmessage = (message) => handleFrame(message.data);
    ws.onclose = (close) => {
      if (socket !== ws) return;
      clearInterval(heartbeatTimer);
      for (const channel of channels.values()) {
        if (channel.state !== "error") channel.state = "pending";
      }
      renderChannels();
      if (!wantConnected) {
        setState("disconnected");
        return;
      }
      const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
      attempt += 1;
      const why = close.reason ? close.reason : "code " + close.code;
      setState("error", "disconnected (" + why + "), retrying in " + delay + " ms");
      reconnectTimer = setTimeout(open, delay);
    };
  }

  function disconnect() {
    wantConnected = false;
    clearTimeout(reconnectTimer);
    clearInterval(heartbeatTimer);
    if (socket) socket.close(1000, "bye");
    socket = null;
    for (const channel of channels.values()) channel.state = "pending";
    renderChannels();
    setState("disconnected");
  }

  async function sendNotification(event) {
    event.preventDefault();
    const result = $("notify-result");
    const body = {
      type: $("notification-type").value,
      resourceType: $("resource-type").value.trim(),
      businessId: $("business-id").value.trim(),
      locationId: $("location-id").value.trim(),
      resourceId: $("resource-id").value.trim(),
      shardId: "test-page",
      timestamp: new Date().toISOString(),
    };
    const headers = { "content-type": "application/json" };
    const apiKey = $("api-key").value.trim();
    if (apiKey) headers["x-api-key"] = apiKey;
    try {
      const response = await fetch("/api/notifications", { method: "POST", headers, body: JSON.stringify(body) });
      const text = await response.text();
      let shown = text;
      try {
        shown = JSON.stringify(JSON.parse(text), null, 2);
      } catch (_) { /* not JSON: show as is */ }
      result.className = "result " + (response.ok ? "ok" : "bad");
      result.textContent = response.status + " " + response.statusText + "\n" + shown;
    } catch (error) {
      result.className = "result bad";
      result.textContent = "request failed: " + error;
    }
  }

  $("connect-form").addEventListener("submit", (event) => {
    event.preventDefault();
    connect();
  });
  $("disconnect").addEventListener("click", disconnect);
  $("notify-form").addEventListener("submit", sendNotification);
  $("clear-events").addEventListener("click", () => {
    $("events").replaceChildren();
    eventCount = 0;
    $("event-count").textContent = "0";
  });
  setState("disconnected");
})();
