//! Parley's sans-I/O core: SIP messages, transactions, dialogs, registration, digest
//! authentication, SDP offer/answer and the agent state machine.
//!
//! Nothing here touches a socket, a clock or a thread: every protocol object is fed inputs
//! (`handle_*`, with the current time passed in as `now`) and polled for outputs (`poll_*`).
//! The runtime crate owns the I/O and drains outputs after every input (DESIGN §1).

pub mod agent;
pub mod link;
pub mod presence;
pub mod sdp;
pub mod sip;
