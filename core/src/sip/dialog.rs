//! Dialogs (RFC 3261 §12): the state two user agents share for the life of a call, and the
//! rules for building and accepting requests inside one.

use super::header;
use super::message::{Method, Request, Response};
use super::name_addr::{NameAddr, Uri};
use super::uri::SipUri;

/// Why a dialog could not be created or a request inside it accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    #[error("the peer sent no usable Contact (§12.1.1 requires one)")]
    NoContact,
    #[error("the response has no To tag")]
    NoRemoteTag,
    #[error("CSeq {got} is lower than the last one ({last}) of this dialog")]
    OutOfOrder { got: u32, last: u32 },
    #[error("invalid Record-Route: {0}")]
    RecordRoute(String),
}

/// The identity of a dialog: Call-ID and both tags (§12).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

/// Early (after a 1xx with a To tag) or confirmed (after the 2xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
}

/// One dialog.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub id: DialogId,
    pub state: DialogState,
    /// Our URI with display name, without tag (From of our requests).
    pub local: NameAddr,
    /// The peer's URI, without tag (To of our requests).
    pub remote: NameAddr,
    /// Our last CSeq number; the next request uses one more (§12.2.1.1).
    pub local_seq: u32,
    /// The peer's highest CSeq number seen (§12.2.2), none before its first request.
    pub remote_seq: Option<u32>,
    /// Where our requests go: the peer's Contact, updated by target refreshes (§12.2).
    pub remote_target: SipUri,
    /// Record-Route in the order our requests must carry them.
    pub route_set: Vec<NameAddr>,
    /// Whether the dialog was established over SIPS (§12.1.1).
    pub secure: bool,
}

fn record_routes(headers: &rsip::Headers) -> Result<Vec<NameAddr>, DialogError> {
    header::list(headers, "Record-Route")
        .into_iter()
        .map(|r| {
            r.parse().map_err(|e: super::name_addr::NameAddrError| {
                DialogError::RecordRoute(e.to_string())
            })
        })
        .collect()
}

fn contact_uri(contact: Option<NameAddr>) -> Result<SipUri, DialogError> {
    contact
        .and_then(|c| c.uri.as_sip().cloned())
        .ok_or(DialogError::NoContact)
}

fn without_tag(addr: &NameAddr) -> NameAddr {
    let mut a = addr.clone();
    a.params.retain(|p| !p.name.eq_ignore_ascii_case("tag"));
    a
}

impl Dialog {
    /// The UAC side, from our INVITE and a 1xx/2xx with a To tag (§12.1.2): the route set is
    /// the Record-Route of the response, reversed.
    pub fn new_uac(request: &Request, response: &Response) -> Result<Dialog, DialogError> {
        let remote_tag = response.to().tag().ok_or(DialogError::NoRemoteTag)?;
        let mut route_set = record_routes(response.headers())?;
        route_set.reverse();
        Ok(Dialog {
            id: DialogId {
                call_id: request.call_id().to_owned(),
                local_tag: request.from().tag().unwrap_or_default().to_owned(),
                remote_tag: remote_tag.to_owned(),
            },
            state: if response.is_success() {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local: without_tag(request.from()),
            remote: without_tag(request.to()),
            local_seq: request.cseq().seq,
            remote_seq: None,
            remote_target: contact_uri(response.contact())?,
            route_set,
            secure: matches!(&request.uri, Uri::Sip(u) if u.scheme == super::uri::Scheme::Sips),
        })
    }

    /// The UAS side, from the peer's INVITE and the tag we put in our response (§12.1.1):
    /// the route set is the Record-Route of the request, in order.
    pub fn new_uas(
        request: &Request,
        local_tag: &str,
        state: DialogState,
    ) -> Result<Dialog, DialogError> {
        Ok(Dialog {
            id: DialogId {
                call_id: request.call_id().to_owned(),
                local_tag: local_tag.to_owned(),
                remote_tag: request.from().tag().unwrap_or_default().to_owned(),
            },
            state,
            local: without_tag(request.to()),
            remote: without_tag(request.from()),
            // §12.1.1: the local sequence number starts empty; any value is allowed for our
            // first request, so start from a small number.
            local_seq: 0,
            remote_seq: Some(request.cseq().seq),
            remote_target: contact_uri(request.contact())?,
            route_set: record_routes(request.headers())?,
            secure: matches!(&request.uri, Uri::Sip(u) if u.scheme == super::uri::Scheme::Sips),
        })
    }

    /// Applies the 2xx that confirms an early dialog (§12.1.2, §13.2.2.4): the route set and
    /// remote target from the 2xx win.
    pub fn confirm(&mut self, response: &Response) -> Result<(), DialogError> {
        let mut route_set = record_routes(response.headers())?;
        route_set.reverse();
        self.route_set = route_set;
        if let Some(contact) = response.contact() {
            self.remote_target = contact_uri(Some(contact))?;
        }
        self.state = DialogState::Confirmed;
        Ok(())
    }

    /// Whether a request or response belongs to this dialog (§12.2.2: Call-ID and tags).
    pub fn matches_request(&self, request: &Request) -> bool {
        request.call_id() == self.id.call_id
            && request.to().tag() == Some(self.id.local_tag.as_str())
            && request.from().tag().unwrap_or_default() == self.id.remote_tag
    }

    /// Checks and records the CSeq of a request from the peer (§12.2.2): a lower number is
    /// out of order (answered 500); ACK and CANCEL reuse the INVITE's number and are exempt.
    pub fn accept_remote_seq(&mut self, request: &Request) -> Result<(), DialogError> {
        let seq = request.cseq().seq;
        if matches!(request.method(), Method::Ack | Method::Cancel) {
            return Ok(());
        }
        match self.remote_seq {
            Some(last) if seq < last => Err(DialogError::OutOfOrder { got: seq, last }),
            // An equal number can only be a retransmission, which the transaction layer
            // absorbs before the dialog sees it.
            _ => {
                self.remote_seq = Some(seq);
                Ok(())
            }
        }
    }

    /// A target refresh (re-INVITE, UPDATE, their 2xx) replaces the remote target (§12.2).
    pub fn refresh_target(&mut self, contact: Option<NameAddr>) {
        if let Some(uri) = contact.and_then(|c| c.uri.as_sip().cloned()) {
            self.remote_target = uri;
        }
    }

    /// The next local CSeq number (§12.2.1.1; not used for ACK and CANCEL).
    pub fn next_seq(&mut self) -> u32 {
        self.local_seq += 1;
        self.local_seq
    }

    /// Request-URI and Route headers for a request in this dialog (§12.2.1.1): with a loose
    /// router first, the Request-URI is the remote target and the route set goes in Route;
    /// with a strict router, its URI becomes the Request-URI and the remote target is
    /// appended to the routes.
    pub fn request_target(&self) -> (SipUri, Vec<NameAddr>) {
        match self.route_set.first().and_then(|r| r.uri.as_sip()) {
            None => (self.remote_target.without_headers(), Vec::new()),
            Some(first) if first.is_loose_router() => {
                (self.remote_target.without_headers(), self.route_set.clone())
            }
            Some(first) => {
                let mut uri = first.clone();
                uri.params.retain(|(n, _)| !n.eq_ignore_ascii_case("lr"));
                let mut routes: Vec<NameAddr> = self.route_set[1..].to_vec();
                routes.push(NameAddr::new(None, self.remote_target.without_headers()));
                (uri, routes)
            }
        }
    }

    /// Our From header value (with tag).
    pub fn local_with_tag(&self) -> NameAddr {
        self.local.clone().with_tag(&self.id.local_tag)
    }

    /// The peer's To header value (with tag).
    pub fn remote_with_tag(&self) -> NameAddr {
        self.remote.clone().with_tag(&self.id.remote_tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::codec::decode;
    use crate::sip::message::Message;

    fn req(text: &str) -> Request {
        match decode(text.as_bytes()).unwrap() {
            Message::Request(r) => *r,
            m => panic!("{m:?}"),
        }
    }

    fn resp(text: &str) -> Response {
        match decode(text.as_bytes()).unwrap() {
            Message::Response(r) => *r,
            m => panic!("{m:?}"),
        }
    }

    const INVITE: &str = "INVITE sip:bob@b.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
From: Alice <sip:alice@a.example>;tag=a1\r\nTo: <sip:bob@b.example>\r\nCall-ID: c1\r\nCSeq: 5 INVITE\r\n\
Contact: <sip:alice@192.0.2.1>\r\nRecord-Route: <sip:p2.example;lr>, <sip:p1.example;lr>\r\nContent-Length: 0\r\n\r\n";

    const OK: &str = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
From: Alice <sip:alice@a.example>;tag=a1\r\nTo: <sip:bob@b.example>;tag=b1\r\nCall-ID: c1\r\nCSeq: 5 INVITE\r\n\
Contact: <sip:bob@192.0.2.2:5070>\r\nRecord-Route: <sip:p2.example;lr>, <sip:p1.example;lr>\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn uac_route_set_is_reversed_and_uas_is_not() {
        let uac = Dialog::new_uac(&req(INVITE), &resp(OK)).unwrap();
        assert_eq!(uac.id.remote_tag, "b1");
        assert_eq!(uac.state, DialogState::Confirmed);
        let (ruri, routes) = uac.request_target();
        assert_eq!(ruri.to_string(), "sip:bob@192.0.2.2:5070");
        assert_eq!(routes[0].to_string(), "<sip:p1.example;lr>");

        let uas = Dialog::new_uas(&req(INVITE), "b1", DialogState::Confirmed).unwrap();
        assert_eq!(uas.route_set[0].to_string(), "<sip:p2.example;lr>");
        assert_eq!(uas.remote_target.to_string(), "sip:alice@192.0.2.1");
        assert_eq!(uas.local_with_tag().tag(), Some("b1"));
    }

    #[test]
    fn strict_router_becomes_request_uri() {
        let text = OK.replace(
            "<sip:p2.example;lr>, <sip:p1.example;lr>",
            "<sip:p2.example>, <sip:p1.example>",
        );
        let d = Dialog::new_uac(&req(INVITE), &resp(&text)).unwrap();
        let (ruri, routes) = d.request_target();
        assert_eq!(ruri.to_string(), "sip:p1.example");
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[1].to_string(), "<sip:bob@192.0.2.2:5070>");
    }

    #[test]
    fn remote_cseq_must_not_decrease() {
        let mut d = Dialog::new_uas(&req(INVITE), "b1", DialogState::Confirmed).unwrap();
        let bye = req(&INVITE
            .replace("INVITE sip", "BYE sip")
            .replace("5 INVITE", "4 BYE"));
        assert_eq!(
            d.accept_remote_seq(&bye),
            Err(DialogError::OutOfOrder { got: 4, last: 5 })
        );
        let bye = req(&INVITE
            .replace("INVITE sip", "BYE sip")
            .replace("5 INVITE", "6 BYE"));
        assert!(d.accept_remote_seq(&bye).is_ok());
        assert_eq!(d.next_seq(), 1);
    }

    #[test]
    fn missing_contact_is_an_error() {
        let text = OK.replace("Contact: <sip:bob@192.0.2.2:5070>\r\n", "");
        assert_eq!(
            Dialog::new_uac(&req(INVITE), &resp(&text)).unwrap_err(),
            DialogError::NoContact
        );
    }
}
