//! Streams a `multipart/form-data` body through `multer` into the file parts of an upload,
//! enforcing the request-level limits (content type, body size, file count) as it reads and
//! the per-file byte limit without giving up on the other files.

use axum::body::{Body, BodyDataStream};
use axum::http::{HeaderMap, header};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use multer::{Constraints, Multipart, SizeLimit};

use super::{RequestError, original_name};

/// The request-level limits, taken from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct FormLimits {
    pub max_files: usize,
    pub max_file_bytes: u64,
    pub max_request_bytes: u64,
}

/// One file part, in request order. Its content is an error when the part broke a per-file
/// limit; the other parts of the request are still served.
#[derive(Debug)]
pub struct FilePart {
    pub index: usize,
    pub original_name: Option<String>,
    pub content: Result<Bytes, RequestError>,
}

/// The file parts of an upload; text fields are read past and dropped.
#[derive(Debug)]
pub struct UploadForm {
    pub files: Vec<FilePart>,
}

/// Reads the whole form. Fails for the request as a whole when the body is not a usable form.
///
/// On failure the rest of the body is read and dropped (up to the request limit) before the
/// answer goes out: clients that stream the body after the headers (Postman, browsers) would
/// otherwise hit a closed socket and never see the JSON error.
pub async fn read_upload_form(
    headers: &HeaderMap,
    body: Body,
    limits: FormLimits,
) -> Result<UploadForm, RequestError> {
    let boundary = match boundary(headers) {
        Ok(boundary) => boundary,
        Err(e) => {
            discard_body(body, limits.max_request_bytes).await;
            return Err(e);
        }
    };
    // A declared length over the limit is answered at once, unread: that is what clients
    // waiting on `Expect: 100-continue` need, and reading it would be the cost it avoids.
    let declared = declared_length(headers);
    if declared.is_some_and(|len| len > limits.max_request_bytes) {
        return Err(RequestError::PayloadTooLarge {
            max: limits.max_request_bytes,
        });
    }
    let mut stream = body.into_data_stream();
    let form = read_fields(&mut stream, boundary, limits, declared.unwrap_or(0)).await;
    if form.is_err() {
        discard(&mut stream, limits.max_request_bytes).await;
    }
    form
}

/// Reads and drops a body that will not be used, up to `limit` bytes, so the client can finish
/// sending it and read the answer.
pub async fn discard_body(body: Body, limit: u64) {
    discard(&mut body.into_data_stream(), limit).await;
}

async fn discard(stream: &mut BodyDataStream, limit: u64) {
    let mut seen: u64 = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len() as u64;
        if seen > limit {
            return;
        }
    }
}

async fn read_fields(
    stream: &mut BodyDataStream,
    boundary: String,
    limits: FormLimits,
    body_length: u64,
) -> Result<UploadForm, RequestError> {
    let constraints =
        Constraints::new().size_limit(SizeLimit::new().whole_stream(limits.max_request_bytes));
    let mut multipart = Multipart::with_constraints(stream, boundary, constraints);

    let mut files = Vec::new();
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| form_error(e, limits))?
    {
        let Some(raw_name) = field.file_name().map(str::to_owned) else {
            drain(&mut field, limits).await?;
            continue;
        };
        if files.len() == limits.max_files {
            return Err(RequestError::TooManyFiles {
                max: limits.max_files,
            });
        }
        // The body's length bounds every part's: a good guess for the first (and usually only)
        // file, so its bytes are gathered into one buffer sized once.
        let size_hint = if files.is_empty() { body_length } else { 0 };
        let content = read_file(&mut field, limits, size_hint).await?;
        files.push(FilePart {
            index: files.len(),
            original_name: original_name(&raw_name),
            content,
        });
    }
    if files.is_empty() {
        return Err(RequestError::MissingFile);
    }
    Ok(UploadForm { files })
}

fn boundary(headers: &HeaderMap) -> Result<String, RequestError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or(RequestError::UnsupportedMediaType)?;
    multer::parse_boundary(content_type).map_err(|e| match e {
        multer::Error::NoBoundary => {
            RequestError::MalformedMultipart("no boundary in Content-Type".into())
        }
        _ => RequestError::UnsupportedMediaType,
    })
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Reads one file part. Past the per-file limit the rest of the part is read and dropped, so the
/// stream stays usable for the parts after it.
async fn read_file(
    field: &mut multer::Field<'_>,
    limits: FormLimits,
    size_hint: u64,
) -> Result<Result<Bytes, RequestError>, RequestError> {
    let mut content = Gathered::default();
    let mut total: u64 = 0;
    while let Some(chunk) = field.chunk().await.map_err(|e| form_error(e, limits))? {
        total += chunk.len() as u64;
        if total > limits.max_file_bytes {
            drop(content);
            drain(field, limits).await?;
            return Ok(Err(RequestError::FileTooLarge {
                max: limits.max_file_bytes,
            }));
        }
        content.push(chunk, size_hint.min(limits.max_file_bytes));
    }
    Ok(Ok(content.into_bytes()))
}

/// A part's bytes as they arrive. A part that comes as one chunk is handed on as that chunk,
/// uncopied; otherwise each chunk is copied into one buffer as it comes and dropped, so a file is
/// held once, not once in chunks and again joined.
#[derive(Default)]
enum Gathered {
    #[default]
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Gathered {
    fn push(&mut self, chunk: Bytes, size_hint: u64) {
        *self = match std::mem::take(self) {
            Self::Empty => Self::One(chunk),
            Self::One(first) => {
                let wanted = usize::try_from(size_hint).unwrap_or(0);
                let mut buffer = BytesMut::with_capacity(wanted.max(first.len() + chunk.len()));
                buffer.extend_from_slice(&first);
                buffer.extend_from_slice(&chunk);
                Self::Many(buffer)
            }
            Self::Many(mut buffer) => {
                buffer.extend_from_slice(&chunk);
                Self::Many(buffer)
            }
        };
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Self::Empty => Bytes::new(),
            Self::One(bytes) => bytes,
            Self::Many(buffer) => buffer.freeze(),
        }
    }
}

async fn drain(field: &mut multer::Field<'_>, limits: FormLimits) -> Result<(), RequestError> {
    while field
        .chunk()
        .await
        .map_err(|e| form_error(e, limits))?
        .is_some()
    {}
    Ok(())
}

fn form_error(error: multer::Error, limits: FormLimits) -> RequestError {
    match error {
        multer::Error::StreamSizeExceeded { .. } => RequestError::PayloadTooLarge {
            max: limits.max_request_bytes,
        },
        multer::Error::StreamReadFailed(cause) => RequestError::BodyRead(cause),
        other => RequestError::MalformedMultipart(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_chunk_is_passed_on_uncopied() {
        let chunk = Bytes::from(vec![7u8; 1000]);
        let mut gathered = Gathered::default();
        gathered.push(chunk.clone(), 5000);
        assert_eq!(gathered.into_bytes().as_ptr(), chunk.as_ptr());
    }

    #[test]
    fn many_chunks_are_joined_in_order_whatever_the_hint() {
        for hint in [0, 3, 1 << 20] {
            let mut gathered = Gathered::default();
            for part in [&b"ab"[..], b"cde", b"", b"f"] {
                gathered.push(Bytes::copy_from_slice(part), hint);
            }
            assert_eq!(&gathered.into_bytes()[..], b"abcdef");
        }
        assert!(Gathered::default().into_bytes().is_empty());
    }
}
