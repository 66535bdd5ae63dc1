//! Differential: the origin's canonicaliser (`TransformQuery`) against the CloudFront Function
//! (`cloudfront/canonicalize.js`) on the same query and `Accept` header. Both must give the same
//! canonical query and `vary`, or refuse the same parameter; any disagreement is a crash.
//!
//! The function runs in one `node` child per fuzz process, fed a JSON line per input
//! (`fuzz/differential.js`): node is the engine the function's own tests use, it costs no
//! build time, and a pipe round trip (~20 µs) is cheap next to starting node (~40 ms).

#![no_main]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use pixgate::request::{RequestError, TransformQuery};
use pixgate_fuzz::{MAX_SIDE, query_and_accept};
use serde_json::{Value, json};

struct Node {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Node {
    fn spawn() -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/differential.js");
        let mut child = Command::new("node")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node must be installed for the differential target");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Self {
            _child: child,
            stdin,
            stdout,
        }
    }

    fn canonicalize(&mut self, query: &str, accept: Option<&str>) -> Value {
        let mut request = json!({ "q": query, "a": accept }).to_string();
        request.push('\n');
        self.stdin
            .write_all(request.as_bytes())
            .expect("node takes the request");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("node answers");
        serde_json::from_str(&line).expect("node answers JSON")
    }
}

static NODE: OnceLock<Mutex<Node>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some((raw, accept)) = query_and_accept(data) else {
        return;
    };
    let rust = match TransformQuery::parse(raw, accept, MAX_SIDE) {
        Ok(query) => json!({
            "canonical": query.canonical_with_signature(),
            "vary": query.auto_format,
        }),
        Err(RequestError::InvalidParam { param, .. }) => {
            json!({ "error": { "code": "invalid_param", "param": param } })
        }
        Err(other) => panic!("{raw:?}: unexpected error {other}"),
    };
    let node = NODE
        .get_or_init(|| Mutex::new(Node::spawn()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .canonicalize(raw, accept);
    assert_eq!(
        rust, node,
        "query {raw:?} accept {accept:?}: Rust (left) and the CloudFront Function (right) disagree"
    );
});
