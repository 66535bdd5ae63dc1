//! The HTTP surface of pixgate, end to end: the router in-process and over real sockets, the
//! shared corpus, CORS, disk and S3 storage (against a real S3 protocol server), Lambda events,
//! configuration, the OpenAPI contract and animated images.

mod animated;
mod auth;
mod cmyk_and_orientation;
mod config;
mod corpus_images;
mod corpus_multipart;
mod cors;
mod direct;
mod disk_full;
mod disk_safety;
mod files;
mod hardening;
mod harness;
mod lambda_events;
mod metrics;
mod migrate;
mod openapi;
mod page;
mod placeholder;
mod rate_limit;
mod request_ids;
mod s3_backend;
mod s3_faults;
mod transform;
mod upload;
