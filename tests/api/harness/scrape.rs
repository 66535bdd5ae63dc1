//! The metrics read back: `GET /metrics`'s text exposition parsed into samples, so tests assert
//! on the numbers a scraper would see, by metric name and labels; and the EMF lines of an app
//! configured as under Lambda, captured.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

/// One scrape: every sample line, as name, labels and value.
#[derive(Debug)]
pub struct Scrape {
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
    text: String,
}

impl Scrape {
    /// Parses the text exposition; panics on a line a scraper could not read.
    pub fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let (series, value) = line
                    .rsplit_once(' ')
                    .unwrap_or_else(|| panic!("no value: {line}"));
                let value: f64 = value
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value: {line}"));
                let (name, labels) = match series.split_once('{') {
                    Some((name, rest)) => (name, labels(rest.trim_end_matches('}'))),
                    None => (series, BTreeMap::new()),
                };
                (name.to_owned(), labels, value)
            })
            .collect();
        Self {
            samples,
            text: text.to_owned(),
        }
    }

    /// The value of the sample `name` whose labels include `labels`; 0 when there is none (a
    /// series appears once it first moves). Panics when several samples match.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let matching: Vec<f64> = self
            .samples
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, value)| *value)
            .collect();
        assert!(
            matching.len() <= 1,
            "{name} {labels:?} matches {} samples:\n{}",
            matching.len(),
            self.text
        );
        matching.first().copied().unwrap_or(0.0)
    }

    /// Every sample's name, for checking what is exposed at all.
    pub fn names(&self) -> Vec<&str> {
        self.samples.iter().map(|(n, _, _)| n.as_str()).collect()
    }
}

/// `a="x",b="y"` (values without escaped quotes: ours never have them).
fn labels(text: &str) -> BTreeMap<String, String> {
    text.split("\",")
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair
                .split_once("=\"")
                .unwrap_or_else(|| panic!("bad label: {pair}"));
            (key.to_owned(), value.trim_end_matches('"').to_owned())
        })
        .collect()
}

/// The EMF lines an app configured as under Lambda wrote, captured instead of printed.
#[derive(Clone, Default)]
pub struct EmfCapture(Arc<Mutex<Vec<u8>>>);

impl EmfCapture {
    /// Every line so far, each parsed as the JSON object it must be.
    pub fn lines(&self) -> Vec<Value> {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        String::from_utf8(bytes)
            .expect("EMF lines are UTF-8")
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
            })
            .collect()
    }
}

impl Write for EmfCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut out = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
