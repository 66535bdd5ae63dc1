//! The inputs of the direct upload protocol (Uppy Companion's S3 routes): queries and JSON
//! bodies become typed values here, each refusal naming the field at fault.

use serde::Deserialize;

use super::{RequestError, original_name};

/// Longest content type taken from a client: enough for any real one.
const MAX_CONTENT_TYPE: usize = 255;

/// The content type staged objects get when the client names none.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// `GET …/s3/params?filename=&type=&size=`: what one presigned PUT is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinglePutRequest {
    pub original_name: Option<String>,
    pub content_type: String,
    /// The exact length the URL is signed for.
    pub size: u64,
}

impl SinglePutRequest {
    pub fn from_query(query: Option<&str>) -> Result<Self, RequestError> {
        let fields = QueryFields::parse(query);
        let size = fields.single("size")?.ok_or_else(|| {
            invalid(
                "size",
                "is required: the URL is signed for the file's exact length",
            )
        })?;
        Ok(Self {
            original_name: fields.single("filename")?.and_then(|n| original_name(&n)),
            content_type: content_type(fields.single("type")?.as_deref())?,
            size: size
                .parse()
                .map_err(|_| invalid("size", "must be a byte count"))?,
        })
    }
}

/// `POST …/s3/multipart` `{filename, type, metadata, size?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    pub original_name: Option<String>,
    pub content_type: String,
    /// The file's size when the client says it (`size`, or `metadata.size`).
    pub size: Option<u64>,
}

#[derive(Deserialize)]
struct CreateBody {
    filename: Option<String>,
    #[serde(rename = "type")]
    content_type: Option<String>,
    size: Option<u64>,
    #[serde(default)]
    metadata: serde_json::Map<String, serde_json::Value>,
}

impl CreateRequest {
    pub fn from_body(body: &[u8]) -> Result<Self, RequestError> {
        let body: CreateBody = json(body)?;
        let metadata_size = body
            .metadata
            .get("size")
            .and_then(serde_json::Value::as_u64);
        Ok(Self {
            original_name: body.filename.as_deref().and_then(original_name),
            content_type: content_type(body.content_type.as_deref())?,
            size: body.size.or(metadata_size),
        })
    }
}

/// `POST …/s3/multipart/{uploadId}/complete` `{parts: [{PartNumber, ETag}]}`: the parts, by
/// ascending number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompleteRequest {
    pub parts: Vec<(u32, String)>,
}

#[derive(Deserialize)]
struct CompleteBody {
    parts: Vec<CompletedPart>,
}

#[derive(Deserialize)]
struct CompletedPart {
    #[serde(rename = "PartNumber")]
    number: u32,
    #[serde(rename = "ETag")]
    etag: String,
}

impl CompleteRequest {
    pub fn from_body(body: &[u8]) -> Result<Self, RequestError> {
        let body: CompleteBody = json(body)?;
        if body.parts.is_empty() {
            return Err(invalid_body("`parts` must list the uploaded parts"));
        }
        let mut parts: Vec<(u32, String)> = body
            .parts
            .into_iter()
            .map(|part| (part.number, part.etag))
            .collect();
        // Uppy sends them in the order they finished, S3 wants them ascending.
        parts.sort_by_key(|(number, _)| *number);
        Ok(Self { parts })
    }
}

/// The `key` query parameter every call after the first carries.
pub fn staging_key(query: Option<&str>) -> Result<String, RequestError> {
    QueryFields::parse(query)
        .single("key")?
        .filter(|key| !key.is_empty())
        .ok_or_else(|| invalid("key", "is required: the key the upload was started with"))
}

/// A part number from the path.
pub fn part_number(raw: &str) -> Result<u32, RequestError> {
    raw.parse()
        .map_err(|_| invalid("partNumber", "must be a whole number from 1"))
}

/// `partNumbers=1,2,3` of the batch call, at most `max` of them.
pub fn part_numbers(query: Option<&str>, max: u32) -> Result<Vec<u32>, RequestError> {
    let raw = QueryFields::parse(query)
        .single("partNumbers")?
        .ok_or_else(|| invalid("partNumbers", "is required: a comma-separated list"))?;
    let numbers = raw
        .split(',')
        .map(|n| part_number(n.trim()))
        .collect::<Result<Vec<u32>, _>>()
        .map_err(|_| {
            invalid(
                "partNumbers",
                "must be a comma-separated list of part numbers",
            )
        })?;
    if numbers.len() > max as usize {
        return Err(invalid(
            "partNumbers",
            &format!("may list at most {max} parts"),
        ));
    }
    Ok(numbers)
}

/// A query's fields, each allowed once.
struct QueryFields(Vec<(String, String)>);

impl QueryFields {
    fn parse(query: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn single(&self, name: &str) -> Result<Option<String>, RequestError> {
        let mut values = self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
        let value = values.next().cloned();
        if values.next().is_some() {
            return Err(invalid(name, "is given more than once"));
        }
        Ok(value)
    }
}

/// A content type that can be signed and sent as a header as it is.
fn content_type(raw: Option<&str>) -> Result<String, RequestError> {
    let raw = raw.map(str::trim).unwrap_or_default();
    if raw.is_empty() {
        return Ok(DEFAULT_CONTENT_TYPE.to_owned());
    }
    let plain =
        raw.len() <= MAX_CONTENT_TYPE && raw.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if !plain {
        return Err(invalid("type", "must be a plain MIME type like image/jpeg"));
    }
    Ok(raw.to_owned())
}

fn json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, RequestError> {
    serde_json::from_slice(body).map_err(|e| invalid_body(&e.to_string()))
}

fn invalid(param: &str, problem: &str) -> RequestError {
    RequestError::InvalidParam {
        param: param.to_owned(),
        problem: problem.to_owned(),
    }
}

fn invalid_body(problem: &str) -> RequestError {
    RequestError::InvalidBody(problem.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_need_a_size_and_clean_the_name() {
        let put = SinglePutRequest::from_query(Some(
            "filename=..%2F%E2%80%AEphoto.jpg&type=image%2Fjpeg&size=1234&metadata%5Bname%5D=x",
        ))
        .unwrap();
        assert_eq!(put.original_name.as_deref(), Some("photo.jpg"));
        assert_eq!(put.content_type, "image/jpeg");
        assert_eq!(put.size, 1234);
        let missing = SinglePutRequest::from_query(Some("filename=a.jpg&type=image/jpeg"));
        assert!(
            matches!(missing, Err(RequestError::InvalidParam { ref param, .. }) if param == "size")
        );
        let bad_type = SinglePutRequest::from_query(Some("type=image/jpeg%0D%0Ax:1&size=1"));
        assert!(
            matches!(bad_type, Err(RequestError::InvalidParam { ref param, .. }) if param == "type")
        );
        let untyped = SinglePutRequest::from_query(Some("size=5")).unwrap();
        assert_eq!(untyped.content_type, DEFAULT_CONTENT_TYPE);
    }

    #[test]
    fn create_takes_the_size_from_the_body_or_its_metadata() {
        let body = br#"{"filename":"a.jpg","type":"image/jpeg","metadata":{"size":99}}"#;
        let create = CreateRequest::from_body(body).unwrap();
        assert_eq!(create.size, Some(99));
        assert_eq!(create.original_name.as_deref(), Some("a.jpg"));
        let body = br#"{"filename":"a.jpg","type":"image/jpeg","size":7,"metadata":{}}"#;
        assert_eq!(CreateRequest::from_body(body).unwrap().size, Some(7));
        assert!(matches!(
            CreateRequest::from_body(b"{nope"),
            Err(RequestError::InvalidBody(_))
        ));
    }

    #[test]
    fn complete_sorts_the_parts_and_needs_some() {
        let body = br#"{"parts":[{"PartNumber":2,"ETag":"\"b\""},{"PartNumber":1,"ETag":"a"}]}"#;
        let complete = CompleteRequest::from_body(body).unwrap();
        assert_eq!(
            complete.parts,
            vec![(1, "a".to_owned()), (2, "\"b\"".to_owned())]
        );
        assert!(CompleteRequest::from_body(br#"{"parts":[]}"#).is_err());
        assert!(
            CompleteRequest::from_body(br#"{"parts":[{"PartNumber":-1,"ETag":"a"}]}"#).is_err()
        );
    }

    #[test]
    fn part_numbers_are_a_bounded_list() {
        assert_eq!(
            part_numbers(Some("partNumbers=1,2,3"), 13).unwrap(),
            vec![1, 2, 3]
        );
        assert!(part_numbers(Some("partNumbers=1,x"), 13).is_err());
        assert!(part_numbers(Some("partNumbers=1,2,3"), 2).is_err());
        assert!(part_numbers(None, 13).is_err());
        assert_eq!(
            staging_key(Some("key=incoming%2Fabc")).unwrap(),
            "incoming/abc"
        );
        assert!(staging_key(Some("key=")).is_err());
        assert!(staging_key(Some("key=a&key=b")).is_err());
    }
}
