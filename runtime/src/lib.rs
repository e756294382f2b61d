//! Parley's agent engine with I/O (DESIGN §1): SIP transports, DNS, media sessions,
//! configuration and secrets, around the sans-I/O core. One [`engine::AgentHandle`] is
//! shared by the desktop shell and the headless `parley-cli`.

mod clock;
pub mod config;
pub mod demo;
pub mod dns;
pub mod engine;
pub mod graph;
pub mod headless;
pub mod keychain;
pub mod media;
pub mod protocol;
pub mod secrets;
pub mod signin;
pub mod store;
pub mod teams;
pub mod trace;
pub mod transport;
pub mod typescript;
