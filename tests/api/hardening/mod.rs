//! Behaviour under abuse: every bounded resource (connections, request heads, render queue,
//! upload memory, rendition size) refuses past its limit with a JSON answer, and work no one
//! waits for stops.

mod connections;
mod renders;
mod upload_memory;
