//! The one test harness of `tests/api`, split by concern: building and calling the app
//! ([`app`], [`response`], [`multipart`]), the stores behind it ([`store`], [`disk`], [`s3`]
//! with its [`s3_faults`] layer), Lambda events ([`lambda`]), images ([`images`]), animations
//! made on the spot ([`animations`]), read back ([`webp_anim`]) and compared ([`similarity`]),
//! and the shared corpus's contract ([`contract`]).
//! Tests construct `Config` and `AppState` only through [`app`].

pub mod animations;
pub mod app;
pub mod contract;
pub mod disk;
pub mod images;
pub mod jwt;
pub mod lambda;
pub mod multipart;
pub mod response;
pub mod s3;
pub mod s3_compat;
pub mod s3_faults;
pub mod scrape;
pub mod similarity;
pub mod store;
pub mod webp_anim;

pub use app::{Backend, TestApp, config_with, default_config};
pub use contract::{Expectation, check_stored_item};
pub use images::{
    Inspected, corpus_dir, corpus_image, encode_png, inspect, mean_abs_diff, metadata_blocks,
};
pub use lambda::{
    LambdaBody, Runtime, event, function_url_get, http_api_json, http_api_upload, invoke,
};
pub use multipart::{BOUNDARY, Multipart};
pub use response::TestResponse;
