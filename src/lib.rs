//! pixgate: an image upload gateway and on-the-fly resizer. Requests flow one way:
//! `http` (edge: routes, CORS, answers) → `request` (typed input) → `service` (the upload and
//! transform use cases) → `pipeline` (pixels) and `storage` (objects) → back out through `http`.
//! `config` is parsed once at start; `state` is what handlers reach. `docs/architecture.md`
//! draws the flow and says what each module may import.
//!
//! The same [`app`] router runs under the local server ([`server`]) and under AWS Lambda ([`lambda`]).

pub mod auth;
pub mod bench;
pub mod config;
pub mod error;
pub mod http;
pub mod lambda;
pub mod logging;
pub mod metrics;
pub mod migrate;
pub mod pipeline;
pub mod request;
pub mod request_id;
pub mod server;
pub mod service;
pub mod single_flight;
pub mod state;
pub mod storage;

pub use config::Config;
pub use http::app;
pub use state::AppState;
