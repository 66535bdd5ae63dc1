//! The figures under Lambda: one CloudWatch Embedded Metric Format line per request, printed on
//! stdout, which Lambda sends to CloudWatch Logs, where the metrics are extracted from it; no
//! agent, no API call, nothing added to the request's time but one write.
//!
//! A Lambda instance handles one event at a time, so what the pipeline and the store report
//! between two request ends belongs to the request that ends next; it is gathered here and
//! written with that request's line.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, PoisonError};

use serde_json::{Map, Value, json};

use super::RequestRecord;
use crate::pipeline::StepTimes;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "pixgate";

/// What the request being handled has reported so far.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pending {
    /// Milliseconds per pipeline step (summed when a step ran more than once).
    pub steps_ms: BTreeMap<&'static str, f64>,
    pub uploads_stored: u64,
    pub uploads_failed: u64,
    pub storage_errors: u64,
    pub storage_retries: u64,
}

#[derive(Debug, Default)]
struct State {
    pending: Pending,
    /// The store's retry count at the last line, so each line carries its own retries.
    retries_seen: u64,
}

/// Where the lines go instead of stdout.
pub type EmfOut = Box<dyn Write + Send>;

/// The EMF writer of one function.
pub struct Emf {
    function: String,
    state: Mutex<State>,
    /// `None`: stdout, which Lambda sends to CloudWatch Logs.
    out: Mutex<Option<EmfOut>>,
}

impl Emf {
    pub fn new(function: String) -> Self {
        Self {
            function,
            state: Mutex::default(),
            out: Mutex::default(),
        }
    }

    pub(super) fn send_to(&self, out: EmfOut) {
        *self.out.lock().unwrap_or_else(PoisonError::into_inner) = Some(out);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn steps(&self, times: &StepTimes) {
        let mut state = self.state();
        for (step, took) in times {
            *state.pending.steps_ms.entry(step.as_str()).or_default() +=
                took.as_secs_f64() * 1000.0;
        }
    }

    pub(super) fn upload(&self, stored: bool) {
        let mut state = self.state();
        if stored {
            state.pending.uploads_stored += 1;
        } else {
            state.pending.uploads_failed += 1;
        }
    }

    pub(super) fn storage_error(&self) {
        self.state().pending.storage_errors += 1;
    }

    pub(super) fn storage_retries(&self, total: u64) {
        let mut state = self.state();
        state.pending.storage_retries += total.saturating_sub(state.retries_seen);
        state.retries_seen = total;
    }

    /// Writes the line of the request that just ended, with what it reported.
    pub(super) fn finish(&self, record: &RequestRecord) {
        let pending = std::mem::take(&mut self.state().pending);
        let line = line(
            &self.function,
            chrono::Utc::now().timestamp_millis(),
            record,
            &pending,
        );
        // One write of the whole line, so lines from other writers never interleave with it;
        // a lost metric line must not fail the request.
        let line = format!("{line}\n");
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = match out.as_mut() {
            Some(out) => out.write_all(line.as_bytes()).and_then(|()| out.flush()),
            None => {
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(line.as_bytes())
                    .and_then(|()| stdout.flush())
            }
        };
    }
}

/// One request's EMF line: the `_aws` directive naming the metrics, then their values and the
/// dimensions as top-level members. Dimensions are the function and the route (the route
/// template, never the path) and the function alone, for the whole function's alarms; the
/// status and method ride along as properties, searchable in Logs Insights, not dimensions.
pub fn line(function: &str, timestamp_ms: i64, record: &RequestRecord, pending: &Pending) -> Value {
    let millis = record.duration.as_secs_f64() * 1000.0;
    let mut values: Vec<(String, Value, &str)> = vec![
        ("Requests".into(), json!(1), "Count"),
        ("Duration".into(), json!(millis), "Milliseconds"),
        (
            "Errors5xx".into(),
            json!(u8::from(record.status >= 500)),
            "Count",
        ),
        (
            "Errors4xx".into(),
            json!(u8::from((400..500).contains(&record.status))),
            "Count",
        ),
        ("RequestBytes".into(), json!(record.bytes_in), "Bytes"),
        ("ResponseBytes".into(), json!(record.bytes_out), "Bytes"),
    ];
    for (step, ms) in &pending.steps_ms {
        values.push((format!("PipelineStep_{step}"), json!(ms), "Milliseconds"));
    }
    let counts = [
        ("UploadsStored", pending.uploads_stored),
        ("UploadsFailed", pending.uploads_failed),
        ("StorageErrors", pending.storage_errors),
        ("StorageRetries", pending.storage_retries),
    ];
    for (name, count) in counts {
        if count > 0 {
            values.push((name.into(), json!(count), "Count"));
        }
    }
    let definitions: Vec<Value> = values
        .iter()
        .map(|(name, _, unit)| json!({"Name": name, "Unit": unit}))
        .collect();
    let mut out = Map::new();
    out.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function", "Route"], ["Function"]],
                "Metrics": definitions,
            }],
        }),
    );
    out.insert("Function".into(), json!(function));
    out.insert("Route".into(), json!(record.route));
    out.insert("Method".into(), json!(record.method));
    out.insert("Status".into(), json!(record.status));
    for (name, value, _) in values {
        out.insert(name, value);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::pipeline::Step;

    fn record(status: u16) -> RequestRecord {
        RequestRecord {
            route: "/upload".into(),
            method: "POST".into(),
            status,
            duration: Duration::from_millis(250),
            bytes_in: 1234,
            bytes_out: 56,
        }
    }

    /// Every metric named in the directive has a numeric value at the top level, and every
    /// dimension named is there as a string: what CloudWatch needs to extract the line.
    fn assert_extractable(line: &Value) {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert!(line["_aws"]["Timestamp"].is_i64());
        for set in directive["Dimensions"].as_array().unwrap() {
            for dimension in set.as_array().unwrap() {
                let name = dimension.as_str().unwrap();
                assert!(line[name].is_string(), "dimension {name} missing");
            }
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(line[name].is_number(), "metric {name} has no value");
            assert!(metric["Unit"].is_string());
        }
    }

    #[test]
    fn a_request_line_carries_its_figures_under_the_aws_directive() {
        let pending = Pending {
            steps_ms: BTreeMap::from([("decode", 12.5), ("encode", 3.0)]),
            uploads_stored: 2,
            storage_retries: 1,
            ..Pending::default()
        };
        let line = line("pixgate-upload", 1_700_000_000_000, &record(200), &pending);
        // It survives the trip through text as one JSON object.
        let text = line.to_string();
        assert!(!text.contains('\n'));
        let line: Value = serde_json::from_str(&text).unwrap();
        assert_extractable(&line);
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(line["Function"], "pixgate-upload");
        assert_eq!(line["Route"], "/upload");
        assert_eq!(line["Status"], 200);
        assert_eq!(line["Duration"], 250.0);
        assert_eq!(line["Errors5xx"], 0);
        assert_eq!(line["RequestBytes"], 1234);
        assert_eq!(line["ResponseBytes"], 56);
        assert_eq!(line["PipelineStep_decode"], 12.5);
        assert_eq!(line["UploadsStored"], 2);
        assert_eq!(line["StorageRetries"], 1);
        // Counts that did not happen are left out rather than sent as zeros.
        assert!(line.get("StorageErrors").is_none());
        let names: Vec<&str> = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"PipelineStep_encode") && !names.contains(&"UploadsFailed"));
    }

    #[test]
    fn a_server_error_counts_as_a_5xx() {
        let line = line("f", 0, &record(503), &Pending::default());
        assert_extractable(&line);
        assert_eq!(
            (line["Errors5xx"].clone(), line["Errors4xx"].clone()),
            (json!(1), json!(0))
        );
    }

    #[test]
    fn what_the_pipeline_and_store_report_goes_with_the_next_line_only() {
        let emf = Emf::new("f".into());
        emf.send_to(Box::new(std::io::sink()));
        emf.steps(&vec![
            (Step::Decode, Duration::from_millis(4)),
            (Step::Decode, Duration::from_millis(6)),
        ]);
        emf.upload(false);
        emf.storage_retries(3);
        emf.storage_error();
        let pending = emf.state().pending.clone();
        assert_eq!(pending.steps_ms["decode"], 10.0);
        assert_eq!(
            (
                pending.uploads_failed,
                pending.storage_retries,
                pending.storage_errors
            ),
            (1, 3, 1)
        );
        emf.finish(&record(200));
        assert_eq!(emf.state().pending, Pending::default());
        // Only retries since the last line count for the next one.
        emf.storage_retries(5);
        assert_eq!(emf.state().pending.storage_retries, 2);
    }
}
