//! The side-by-side table: JSON result lines of several servers and scenarios
//! in, one Markdown table out, with a column per server and Herald ÷ peer
//! ratios (below 1 means Herald needs less, or is faster for latency).

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;

/// One row: a label, where the number sits in a result, how to show it, and
/// whether a Herald ÷ peer ratio means something for it.
struct Metric {
    name: &'static str,
    pointer: &'static str,
    scale: f64,
    decimals: usize,
    ratio: bool,
}

const fn metric(
    name: &'static str,
    pointer: &'static str,
    scale: f64,
    decimals: usize,
    ratio: bool,
) -> Metric {
    Metric {
        name,
        pointer,
        scale,
        decimals,
        ratio,
    }
}

const IDLE: &[Metric] = &[
    metric("connections joined", "/opened/connected", 1.0, 0, false),
    metric("dropped by the server", "/dropped", 1.0, 0, false),
    metric(
        "KiB RSS per connection",
        "/memory/bytes_per_connection",
        1.0 / 1024.0,
        2,
        true,
    ),
    metric(
        "RSS after, MiB",
        "/memory/rss_after",
        1.0 / 1048576.0,
        1,
        true,
    ),
];

const DELIVERY: &[Metric] = &[
    metric("connections joined", "/opened/connected", 1.0, 0, false),
    metric("deliveries", "/delivery/delivered", 1.0, 0, false),
    metric(
        "lost (undelivered when the drain ended)",
        "/delivery/lost",
        1.0,
        0,
        false,
    ),
    metric(
        "publish errors (HTTP)",
        "/delivery/published/errors",
        1.0,
        0,
        false,
    ),
    metric("duplicated", "/delivery/duplicates", 1.0, 0, false),
    metric("deliveries/s", "/delivery/deliveries_per_sec", 1.0, 0, true),
    metric(
        "server CPU µs per delivery",
        "/delivery/server_cpu_us_per_delivery",
        1.0,
        2,
        true,
    ),
    metric(
        "generator CPU µs per delivery",
        "/delivery/generator_cpu_us_per_delivery",
        1.0,
        2,
        false,
    ),
    metric("latency p50 ms", "/delivery/latency/p50_ms", 1.0, 1, true),
    metric("latency p99 ms", "/delivery/latency/p99_ms", 1.0, 1, true),
    metric("latency max ms", "/delivery/latency/max_ms", 1.0, 1, true),
    metric(
        "KiB RSS per connection",
        "/memory/bytes_per_connection",
        1.0 / 1024.0,
        2,
        true,
    ),
];

const CHURN: &[Metric] = &[
    metric(
        "churning connections opened",
        "/churn/opened",
        1.0,
        0,
        false,
    ),
    metric(
        "churning connections failed",
        "/churn/failed",
        1.0,
        0,
        false,
    ),
    metric("open+join p99 ms", "/churn/join/p99_ms", 1.0, 1, true),
];

pub fn from_file(path: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    if path == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(path)?;
    }
    Ok(render(&text))
}

/// Render every parseable JSON line of `text`; other lines are skipped.
pub fn render(text: &str) -> String {
    let results: Vec<Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|value| value.get("scenario").is_some())
        .collect();
    let mut servers: Vec<String> = Vec::new();
    let mut scenarios: Vec<String> = Vec::new();
    let mut by_key: BTreeMap<(String, String), &Value> = BTreeMap::new();
    for result in &results {
        let scenario = text_of(result, "/scenario");
        let server = text_of(result, "/server");
        if !servers.contains(&server) {
            servers.push(server.clone());
        }
        if !scenarios.contains(&scenario) {
            scenarios.push(scenario.clone());
        }
        by_key.insert((scenario, server), result);
    }
    let heralds: Vec<String> = servers
        .iter()
        .filter(|s| s.starts_with("herald"))
        .cloned()
        .collect();
    let peers: Vec<String> = servers
        .iter()
        .filter(|s| !s.starts_with("herald"))
        .cloned()
        .collect();

    let mut out = String::new();
    out += "| scenario | metric |";
    for server in &servers {
        out += &format!(" {server} |");
    }
    for herald in &heralds {
        for peer in &peers {
            out += &format!(" {herald} ÷ {peer} |");
        }
    }
    out += "\n|---|---|";
    for _ in 0..servers.len() + heralds.len() * peers.len() {
        out += "---:|";
    }
    out += "\n";
    for scenario in &scenarios {
        let Some(mode) = servers
            .iter()
            .find_map(|s| by_key.get(&(scenario.clone(), s.clone())))
            .map(|r| text_of(r, "/mode"))
        else {
            continue;
        };
        let metrics: Vec<&Metric> = match mode.as_str() {
            "idle" => IDLE.iter().collect(),
            "churn" => DELIVERY.iter().chain(CHURN).collect(),
            _ => DELIVERY.iter().collect(),
        };
        for metric in metrics {
            out += &format!("| {scenario} | {} |", metric.name);
            let value = |server: &String| {
                by_key
                    .get(&(scenario.clone(), server.clone()))
                    .and_then(|r| r.pointer(metric.pointer))
                    .and_then(Value::as_f64)
                    .map(|v| v * metric.scale)
            };
            for server in &servers {
                match value(server) {
                    Some(v) => out += &format!(" {:.*} |", metric.decimals, v),
                    None => out += " — |",
                }
            }
            for herald in &heralds {
                for peer in &peers {
                    match (metric.ratio, value(herald), value(peer)) {
                        (true, Some(h), Some(p)) if p > 0.0 => out += &format!(" {:.2}× |", h / p),
                        _ => out += " |",
                    }
                }
            }
            out += "\n";
        }
        // A failed harness run is named so nobody reads its numbers as valid.
        for server in &servers {
            if let Some(result) = by_key.get(&(scenario.clone(), server.clone()))
                && result.get("ok") == Some(&Value::Bool(false))
            {
                out += &format!("| {scenario} | **{server}: run not clean (see log)** |");
                out += &" |".repeat(servers.len() + heralds.len() * peers.len());
                out += "\n";
            }
        }
    }
    out
}

fn text_of(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn herald_against_peers_with_ratios() {
        let lines = r#"
== a human summary line, skipped
{"scenario":"idle-10k","server":"herald","mode":"idle","ok":true,"opened":{"connected":10000},"dropped":0,"memory":{"bytes_per_connection":4096.0,"rss_after":52428800}}
{"scenario":"idle-10k","server":"socketio","mode":"idle","ok":false,"opened":{"connected":10000},"dropped":0,"memory":{"bytes_per_connection":16384.0,"rss_after":209715200}}
"#;
        let table = render(lines);
        assert!(table.starts_with("| scenario | metric | herald | socketio | herald ÷ socketio |"));
        assert!(table.contains("| idle-10k | KiB RSS per connection | 4.00 | 16.00 | 0.25× |"));
        assert!(table.contains("| idle-10k | connections joined | 10000 | 10000 | |"));
        assert!(table.contains("socketio: run not clean"));
    }
}
