//! pixgate: an image upload gateway and on-the-fly resizer. Requests flow one way:
//! `http` (edge: routes, CORS, responses) → `request` (typed input) → `pipeline` (pixels) →
//! `storage` (objects) → back out through `http`.
//!
//! The same [`app`] router runs under the local server ([`server`]) and under AWS Lambda ([`lambda`]).

pub mod app;
pub mod bench;
pub mod config;
pub mod error;
pub mod http;
pub mod lambda;
pub mod pipeline;
pub mod request;
pub mod server;
pub mod single_flight;
pub mod storage;

pub use app::{AppState, app};
pub use config::Config;
