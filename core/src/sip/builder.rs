//! Building outgoing requests and responses as rsip messages (RFC 3261 §8.1.1, §8.2.6,
//! §9.1, §17.1.1.3).

use super::header::{self, make};
use super::message::{MessageError, Method, Request, PLACEHOLDER_URI};
use super::name_addr::{NameAddr, Uri};
use super::via::Via;
use rsip::Header;

/// An outgoing request under construction. Required headers are fields; anything else goes
/// into `extra` in order.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    pub method: Method,
    pub uri: Uri,
    pub via: Via,
    pub from: NameAddr,
    pub to: NameAddr,
    pub call_id: String,
    pub cseq: u32,
    pub routes: Vec<NameAddr>,
    pub contact: Option<NameAddr>,
    pub extra: Vec<Header>,
    pub body: Option<(String, Vec<u8>)>,
}

impl RequestBuilder {
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.extra.push(make(name, value));
        self
    }

    pub fn body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.body = Some((content_type.to_owned(), body));
        self
    }

    /// The request, validated like a received one, so that what we send is what a peer
    /// would parse.
    pub fn build(self) -> Result<Request, BuildError> {
        let uri = self.uri.to_string();
        let mut headers: Vec<Header> = vec![
            make("Via", self.via.to_string()),
            make("Max-Forwards", "70"),
        ];
        headers.extend(self.routes.iter().map(|r| make("Route", r.to_string())));
        headers.push(make("From", self.from.to_string()));
        headers.push(make("To", self.to.to_string()));
        headers.push(make("Call-ID", self.call_id.clone()));
        headers.push(make("CSeq", format!("{} {}", self.cseq, self.method)));
        if let Some(contact) = &self.contact {
            headers.push(make("Contact", contact.to_string()));
        }
        headers.extend(self.extra);
        let body = match self.body {
            Some((content_type, body)) => {
                headers.push(make("Content-Type", content_type));
                body
            }
            None => Vec::new(),
        };
        headers.push(make("Content-Length", body.len().to_string()));
        let raw = rsip::Request {
            method: self.method,
            uri: placeholder(),
            version: rsip::Version::V2,
            headers: headers.into(),
            body,
        };
        Request::from_raw(raw, &uri).map_err(BuildError::Invalid)
    }
}

/// Why a message could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("the request would be invalid: {0}")]
    Invalid(MessageError),
}

/// The Request-URI rsip holds (see [`PLACEHOLDER_URI`]).
fn placeholder() -> rsip::Uri {
    rsip::Uri::try_from(PLACEHOLDER_URI).expect("the placeholder is a plain SIP URI rsip parses")
}

/// A response to `req` (§8.2.6.2): Via (as stamped on receipt), From, Call-ID and CSeq are
/// copied; To is copied and gets `to_tag` when it has none. `reason` overrides the standard
/// reason phrase.
pub fn response(
    req: &Request,
    code: u16,
    reason: Option<&str>,
    to_tag: Option<&str>,
) -> rsip::Response {
    let mut headers: Vec<Header> = req
        .common
        .vias
        .iter()
        .map(|v| make("Via", v.to_string()))
        .collect();
    let raw = &req.raw.headers;
    let copy = |name: &str| header::first(raw, name).map(|v| make(name, v));
    headers.extend(copy("From"));
    let to = match (req.to().tag(), to_tag, header::first(raw, "To")) {
        (None, Some(tag), Some(to)) => Some(make("To", format!("{to};tag={tag}"))),
        (_, _, to) => to.map(|to| make("To", to)),
    };
    headers.extend(to);
    headers.extend(copy("Call-ID"));
    headers.extend(copy("CSeq"));
    if (101..300).contains(&code) {
        // §12.1.1: a response that can establish a dialog carries the request's
        // Record-Route, in order, so that the caller learns the route set.
        headers.extend(header::all(raw, "Record-Route").map(|r| make("Record-Route", r)));
    }
    if code == 100 {
        // §8.2.6.1: a 100 echoes the Timestamp of the request.
        headers.extend(copy("Timestamp"));
    }
    let phrase = reason.unwrap_or_else(|| super::status::reason_phrase(code));
    let status = rsip::StatusCode::Other(code, phrase.to_owned());
    rsip::Response {
        status_code: status,
        version: rsip::Version::V2,
        headers: headers.into(),
        body: Vec::new(),
    }
}

/// Appends headers and an optional body to a response, then its Content-Length.
pub fn finish_response(
    mut resp: rsip::Response,
    extra: Vec<Header>,
    body: Option<(&str, Vec<u8>)>,
) -> rsip::Response {
    resp.headers.extend(extra);
    if let Some((content_type, bytes)) = body {
        resp.headers.push(make("Content-Type", content_type));
        resp.body = bytes;
    }
    resp.headers
        .push(make("Content-Length", resp.body.len().to_string()));
    resp
}

/// The headers of `req` that §9.1 and §17.1.1.3 carry over into CANCEL and non-2xx ACK.
fn same_transaction_request(req: &Request, method: Method, to: &str) -> Request {
    let raw = &req.raw.headers;
    let mut headers: Vec<Header> = vec![make("Via", req.top_via().to_string())];
    headers.push(make("Max-Forwards", "70"));
    headers.extend(header::all(raw, "Route").map(|r| make("Route", r)));
    headers.extend(header::first(raw, "From").map(|v| make("From", v)));
    headers.push(make("To", to));
    headers.push(make("Call-ID", req.call_id()));
    headers.push(make("CSeq", format!("{} {}", req.cseq().seq, method)));
    headers.push(make("Content-Length", "0"));
    let raw = rsip::Request {
        method,
        uri: placeholder(),
        version: rsip::Version::V2,
        headers: headers.into(),
        body: Vec::new(),
    };
    Request::from_raw(raw, &req.uri.to_string())
        .expect("every header comes from a validated INVITE or response, and CSeq is well-formed")
}

/// CANCEL for a pending INVITE (§9.1): same Request-URI, Call-ID, To, From, CSeq number
/// and top Via (so the same branch) as the INVITE.
pub fn cancel(invite: &Request) -> Request {
    let to = header::first(&invite.raw.headers, "To").unwrap_or_default();
    same_transaction_request(invite, Method::Cancel, to)
}

/// ACK for a non-2xx final response, built by the INVITE client transaction (§17.1.1.3):
/// the To of the response (with its tag), everything else from the INVITE.
pub fn ack_for_failure(invite: &Request, response_to: &str) -> Request {
    same_transaction_request(invite, Method::Ack, response_to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::codec::{decode, encode_response};
    use crate::sip::message::Message;

    fn invite() -> Request {
        match decode(&invite_builder().build().unwrap().encode()).unwrap() {
            Message::Request(r) => *r,
            m => panic!("{m:?}"),
        }
    }

    fn invite_builder() -> RequestBuilder {
        RequestBuilder {
            method: Method::Invite,
            uri: Uri::Sip("sip:bob@example.com".parse().unwrap()),
            via: Via::new("UDP", "192.0.2.1:5060".parse().unwrap(), "z9hG4bKabc"),
            from: NameAddr::new(Some("Alice"), "sip:alice@example.com".parse().unwrap())
                .with_tag("f1"),
            to: NameAddr::new(None, "sip:bob@example.com".parse().unwrap()),
            call_id: "call-1".into(),
            cseq: 7,
            routes: vec!["<sip:proxy.example.com;lr>".parse().unwrap()],
            contact: Some(NameAddr::new(None, "sip:alice@192.0.2.1".parse().unwrap())),
            extra: vec![],
            body: None,
        }
        .header("X-Queue", "sales")
        .body("application/sdp", b"v=0\r\n".to_vec())
    }

    #[test]
    fn built_request_round_trips() {
        let r = invite();
        assert_eq!(r.cseq().seq, 7);
        assert_eq!(r.header("X-Queue"), Some("sales"));
        assert_eq!(r.header("Content-Length"), Some("5"));
        assert_eq!(r.body(), b"v=0\r\n");
    }

    #[test]
    fn response_copies_the_right_headers() {
        let mut r = invite();
        r.common.vias[0].stamp_source("198.51.100.9:6000".parse().unwrap());
        let resp = finish_response(response(&r, 180, None, Some("t9")), vec![], None);
        let resp = match decode(&encode_response(&resp)).unwrap() {
            Message::Response(resp) => resp,
            m => panic!("{m:?}"),
        };
        assert_eq!(resp.code, 180);
        assert_eq!(resp.to().tag(), Some("t9"));
        assert_eq!(resp.top_via().rport(), Some(Some(6000)));
        assert_eq!(resp.cseq(), r.cseq());
        assert_eq!(resp.header("Record-Route"), None, "the request had none");
        let custom = finish_response(
            response(&r, 486, Some("Agent Not Ready"), None),
            vec![],
            None,
        );
        assert!(String::from_utf8(encode_response(&custom))
            .unwrap()
            .starts_with("SIP/2.0 486 Agent Not Ready\r\n"));
    }

    #[test]
    fn dialog_forming_responses_copy_record_route() {
        let mut b = invite_builder();
        b.extra.push(make("Record-Route", "<sip:p2.example;lr>"));
        b.extra.push(make("Record-Route", "<sip:p1.example;lr>"));
        let r = b.build().unwrap();
        let ok = finish_response(response(&r, 200, None, Some("t")), vec![], None);
        let rr: Vec<&str> = header::all(&ok.headers, "Record-Route").collect();
        assert_eq!(rr, ["<sip:p2.example;lr>", "<sip:p1.example;lr>"]);
        let busy = finish_response(response(&r, 486, None, Some("t")), vec![], None);
        assert_eq!(header::all(&busy.headers, "Record-Route").count(), 0);
    }

    #[test]
    fn cancel_and_ack_follow_the_invite() {
        let r = invite();
        let cancel = cancel(&r);
        let text = String::from_utf8(cancel.encode()).unwrap();
        assert!(text.starts_with("CANCEL sip:bob@example.com SIP/2.0\r\n"));
        assert!(text.contains("branch=z9hG4bKabc"));
        assert!(text.contains("CSeq: 7 CANCEL\r\n"));
        assert!(text.contains("Route: <sip:proxy.example.com;lr>\r\n"));
        let ack = ack_for_failure(&r, "<sip:bob@example.com>;tag=x");
        let text = String::from_utf8(ack.encode()).unwrap();
        assert!(text.contains("CSeq: 7 ACK\r\n"));
        assert!(text.contains("To: <sip:bob@example.com>;tag=x\r\n"));
    }
}
