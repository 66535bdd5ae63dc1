//! Request parsing: raw HTTP input becomes typed values ([`UploadKind`], [`UploadForm`],
//! [`TransformQuery`]) before any image work starts, so nothing downstream touches raw strings
//! or bodies.

pub mod direct;
mod filename;
pub mod signature;
mod transform_query;
mod upload_form;
mod upload_kind;

pub use filename::original_name;
pub use transform_query::{TransformQuery, negotiate};
pub use upload_form::{FilePart, FormLimits, UploadForm, discard_body, read_upload_form};
pub use upload_kind::UploadKind;

/// What caused a malformed or unreadable body: multer's or the transport's error, or ours.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a request was refused before any file was looked at.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("query parameter `type` must be `profile` or `image`")]
    InvalidType,
    #[error("request Content-Type must be multipart/form-data")]
    UnsupportedMediaType,
    #[error("malformed multipart body: {0}")]
    MalformedMultipart(#[source] Cause),
    #[error("the request has no file part")]
    MissingFile,
    #[error("too many files: at most {max} per request")]
    TooManyFiles { max: usize },
    #[error("file is larger than {max} bytes")]
    FileTooLarge { max: u64 },
    #[error("request body is larger than {max} bytes")]
    PayloadTooLarge { max: u64 },
    #[error("request body could not be read: {0}")]
    BodyRead(#[source] Cause),
    #[error("query parameter `{param}` {problem}")]
    InvalidParam { param: String, problem: String },
    #[error("size {width}x{height} is not one of the allowed sizes")]
    SizeNotAllowed { width: u32, height: u32 },
    #[error("the URL signature `s` is missing or wrong")]
    BadSignature,
    #[error("the JSON body is not valid: {0}")]
    InvalidBody(String),
}
