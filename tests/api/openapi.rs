//! `openapi.yaml` is the contract: live answers are checked against it (status documented,
//! body valid for its schema), and every error code the server can give is listed in it.

use std::sync::OnceLock;

use pixgate::error::ErrorCode;
use serde_json::{Value, json};

use crate::harness::TestResponse;

mod direct;

fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.yaml");
        serde_norway::from_str(&std::fs::read_to_string(path).expect("openapi.yaml"))
            .expect("valid YAML")
    })
}

fn resolve(node: &Value) -> &Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            resolve(
                spec()
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling $ref {reference}")),
            )
        }
        None => node,
    }
}

/// Checks `value` against the subset of JSON Schema the spec uses; returns the problems.
fn validate(schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let schema = resolve(schema);
    let mut problems = Vec::new();
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|s| validate(s, value, at).is_empty())
            .count();
        if matching != 1 {
            problems.push(format!("{at}: matches {matching} of oneOf"));
        }
        return problems;
    }
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        if !allowed
            .iter()
            .any(|t| *t == actual || (*t == "number" && actual == "integer"))
        {
            problems.push(format!("{at}: {actual} is not {allowed:?}"));
            return problems;
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(value)
    {
        problems.push(format!("{at}: {value} not in enum"));
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_i64),
        value.as_i64(),
    ) && n < min
    {
        problems.push(format!("{at}: {n} < {min}"));
    }
    if let (Some(min), Some(items)) = (
        schema.get("minItems").and_then(Value::as_u64),
        value.as_array(),
    ) && (items.len() as u64) < min
    {
        problems.push(format!("{at}: fewer than {min} items"));
    }
    if let (Some(item_schema), Some(items)) = (schema.get("items"), value.as_array()) {
        for (i, item) in items.iter().enumerate() {
            problems.extend(validate(item_schema, item, &format!("{at}[{i}]")));
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = required.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                problems.push(format!("{at}: missing {name}"));
            }
        }
        for (name, field) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(field_schema) => {
                    problems.extend(validate(field_schema, field, &format!("{at}.{name}")))
                }
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    problems.push(format!("{at}: unexpected property {name}"))
                }
                None => {}
            }
        }
    }
    problems
}

/// The live answer to `POST /upload` is one the spec documents, with a body valid for it.
pub fn assert_upload_answer_matches_spec(response: &TestResponse, label: &str) {
    assert_answer_matches_spec("post", "/upload", response, label);
}

/// The live answer to `method path` (`path` as the spec writes it, e.g.
/// `/direct/{type}/complete`) is one the spec documents: its status is listed, a JSON body is
/// valid for the schema, and an answer documented without content has an empty body.
pub fn assert_answer_matches_spec(method: &str, path: &str, response: &TestResponse, label: &str) {
    let operation = &spec()["paths"][path][method];
    assert!(
        operation.is_object(),
        "{label}: {method} {path} not in openapi.yaml"
    );
    let documented = operation["responses"]
        .get(response.status.as_str())
        .unwrap_or_else(|| {
            panic!(
                "{label}: status {} of {method} {path} not in openapi.yaml",
                response.status
            )
        });
    let documented = resolve(documented);
    let Some(schema) = documented.pointer("/content/application~1json/schema") else {
        assert!(
            documented.get("content").is_none() && response.body.is_empty(),
            "{label}: {} documented without a JSON body, got {:?}",
            response.status,
            String::from_utf8_lossy(&response.body)
        );
        return;
    };
    let body = response.json();
    let problems = validate(schema, &body, "body");
    assert!(
        problems.is_empty(),
        "{label}: answer does not match openapi.yaml: {problems:?}\n{body}"
    );
}

#[test]
fn every_error_code_the_server_can_give_is_listed() {
    let listed: Vec<&str> = spec()["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let codes: Vec<&str> = ErrorCode::ALL
        .iter()
        .copied()
        .map(ErrorCode::as_str)
        .collect();
    assert!(codes.len() >= 15, "found {codes:?}");
    for code in codes {
        assert!(
            listed.contains(&code),
            "{code} missing from openapi.yaml ErrorCode"
        );
    }
}

#[test]
fn the_validator_rejects_what_the_spec_forbids() {
    let schemas = &spec()["components"]["schemas"];
    let direct_body = &schemas["DirectErrorBody"];
    let with_message = json!({"error": {"code": "url_reused", "message": "x"}, "message": "x"});
    assert_eq!(
        validate(direct_body, &with_message, "b"),
        Vec::<String>::new()
    );
    assert!(!validate(&schemas["ErrorBody"], &with_message, "b").is_empty());
    let error_body = &schemas["ErrorBody"];
    let cases = [
        (
            json!({"error": {"code": "not_found", "message": "x"}}),
            true,
        ),
        (json!({"error": {"code": "made_up", "message": "x"}}), false),
        (json!({"error": {"message": "x"}}), false),
        (
            json!({"error": {"code": "not_found", "message": "x"}, "extra": 1}),
            false,
        ),
    ];
    for (body, valid) in cases {
        let problems = validate(error_body, &body, "b");
        assert_eq!(problems.is_empty(), valid, "{body}: {problems:?}");
    }
}
