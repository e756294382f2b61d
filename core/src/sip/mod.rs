//! The SIP protocol core (RFC 3261 and extensions, DESIGN §3), sans-I/O.

pub mod auth;
pub mod builder;
pub mod codec;
pub mod dialog;
pub mod dtmf_info;
pub mod header;
pub mod message;
pub mod name_addr;
pub mod refer;
pub mod registration;
pub mod session_timer;
pub mod status;
pub mod target;
pub mod transaction;
pub mod trust;
pub mod ua;
pub mod uri;
pub mod via;

/// Methods this user agent implements, for Allow headers (§20.5) and 405/501 answers.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, REFER, NOTIFY, INFO";
