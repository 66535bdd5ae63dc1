//! Direct uploads end to end, over real sockets: Uppy Companion's S3 protocol against
//! `pixgate serve` on disk (signed PUTs back to pixgate) and against the in-process S3 server
//! (presigned PUTs to the bucket), then the staged original processed like any upload.

pub mod client;
mod lambda;
mod protocol;
mod refusals;
