//! Torture tests for the SIP decoder, in the spirit of RFC 4475: every message under
//! `tests/fixtures/torture/valid` must decode (and survive a re-encode), every message under
//! `tests/fixtures/torture/invalid` must be rejected with the right error response, and no
//! prefix or single-byte mutation of a valid message may panic. The fixtures and what each one
//! checks are listed in `tests/fixtures/torture/README.md`.

use parley_core::sip::codec::{decode, DecodeError};
use parley_core::sip::header;
use parley_core::sip::message::{Message, MessageError, Method, Request, Response};
use parley_core::sip::name_addr::{NameAddr, Uri};
use parley_core::sip::uri::{Host, Scheme, SipUri};
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// What decoding a fixture must give.
enum Expect {
    /// A message; the function checks its fields (and panics if they are wrong).
    Decodes(fn(&Message)),
    /// A `Malformed` whose `error_response` has this status (`None`: no response possible).
    Rejected(Option<u16>),
}

struct Case {
    file: &'static str,
    expect: Expect,
}

fn ok(file: &'static str, check: fn(&Message)) -> Case {
    Case {
        file,
        expect: Expect::Decodes(check),
    }
}

fn bad(file: &'static str, status: Option<u16>) -> Case {
    Case {
        file,
        expect: Expect::Rejected(status),
    }
}

// ---------------------------------------------------------------------------------------
// Helpers for the field checks.
// ---------------------------------------------------------------------------------------

/// The request in `m`, after checking the fields every valid request case states.
fn request<'a>(
    m: &'a Message,
    method: Method,
    call_id: &str,
    cseq: u32,
    from_tag: &str,
) -> &'a Request {
    let Message::Request(r) = m else {
        panic!("expected a request, got a response");
    };
    assert_eq!(r.method(), method, "method");
    assert_eq!(r.call_id(), call_id, "Call-ID");
    assert_eq!(r.cseq().seq, cseq, "CSeq number");
    assert_eq!(r.cseq().method, method, "CSeq method");
    assert_eq!(r.from().tag(), Some(from_tag), "From tag");
    r
}

fn response<'a>(m: &'a Message, code: u16, reason: &str, call_id: &str, cseq: u32) -> &'a Response {
    let Message::Response(r) = m else {
        panic!("expected a response, got a request");
    };
    assert_eq!(r.code, code, "status code");
    assert_eq!(r.reason, reason, "reason phrase");
    assert_eq!(r.call_id(), call_id, "Call-ID");
    assert_eq!(r.cseq().seq, cseq, "CSeq number");
    r
}

fn sip(uri: &Uri) -> &SipUri {
    uri.as_sip()
        .unwrap_or_else(|| panic!("expected a SIP URI, got {uri}"))
}

fn ip(s: &str) -> Host {
    Host::Ip(s.parse::<IpAddr>().unwrap())
}

fn contacts(headers: &rsip::Headers) -> Vec<NameAddr> {
    header::list(headers, "Contact")
        .into_iter()
        .map(|c| c.parse().unwrap_or_else(|e| panic!("Contact {c:?}: {e}")))
        .collect()
}

fn branches(r: &Request) -> Vec<&str> {
    r.common.vias.iter().map(|v| v.branch().unwrap()).collect()
}

// ---------------------------------------------------------------------------------------
// The tables.
// ---------------------------------------------------------------------------------------

fn valid_cases() -> Vec<Case> {
    vec![
        ok("v01_long_values.sip", |m| {
            let call_id = format!("longcallid-{}@example.org", "0123456789".repeat(25));
            let tag = format!("tag{}", "abcdefghij".repeat(15));
            let r = request(m, Method::Invite, &call_id, 7001, &tag);
            assert_eq!(r.common.vias.len(), 21);
            let long_branch = (0..40)
                .map(|i| format!("seg{i:03}"))
                .collect::<Vec<_>>()
                .join("-");
            assert_eq!(
                r.top_via().branch(),
                Some(format!("z9hG4bK{long_branch}").as_str())
            );
            assert_eq!(r.common.vias[20].port, Some(5080));
            let to = r.to().display.as_deref().unwrap();
            assert!(to.starts_with("A really very long display name A really"));
            assert_eq!(to.len(), 32 * 6 - 1);
            let unknown = r.header("X-Long-Value").unwrap();
            assert_eq!(unknown.split(' ').count(), 300);
            assert!(unknown.ends_with("word299"));
            assert!(r.header("Subject").unwrap().len() > 500);
        }),
        ok("v02_escaped_uri_user.sip", |m| {
            let r = request(m, Method::Invite, "esc-callid-1@198.51.100.7", 41, "esc-41");
            let uri = sip(&r.uri);
            assert_eq!(uri.user.as_deref(), Some("%73ales%2Bteam%20lead"));
            assert_eq!(uri.user_decoded().as_deref(), Some("sales+team lead"));
            assert_eq!(r.to().display.as_deref(), Some(r#"Sales "Lead" \ Team"#));
            assert_eq!(
                sip(&r.to().uri).user_decoded().as_deref(),
                Some("sales+team lead")
            );
            assert_eq!(
                r.from().uri.user().as_deref(),
                Some("nul-\0-byte@home"),
                "%00 and %40 in the user part"
            );
            assert_eq!(sip(&r.from().uri).host, Host::Name("example.org".into()));
        }),
        ok("v03_ipv6.sip", |m| {
            let r = request(m, Method::Invite, "v6-callid@2001:db8::9:1", 6, "v6-from");
            let top = r.top_via();
            assert_eq!(top.transport, "TCP");
            assert_eq!(top.host, ip("2001:db8::9:1"));
            assert_eq!(top.port, Some(5070));
            assert_eq!(top.received(), Some("2001:db8::9:ff".parse().unwrap()));
            assert_eq!(r.common.vias[1].host, ip("::ffff:192.0.2.7"));
            assert_eq!(r.common.vias[1].port, None);
            assert_eq!(sip(&r.to().uri).host, ip("2001:db8::a:1"));
            assert_eq!(sip(&r.from().uri).host, ip("2001:db8::9:1"));
            let contact = r.contact().unwrap();
            let curi = sip(&contact.uri);
            assert_eq!(curi.host, ip("2001:db8::9:1"));
            assert_eq!(curi.port, Some(5070));
            assert_eq!(curi.param("transport"), Some(Some("tcp")));
        }),
        ok("v04_multiple_vias.sip", |m| {
            let r = request(m, Method::Options, "multi-via-77@example.org", 77, "mv-1");
            assert_eq!(
                branches(r),
                [
                    "z9hG4bK-m4",
                    "z9hG4bK-m3",
                    "z9hG4bK-m2",
                    "z9hG4bK-m1",
                    "z9hG4bK-m0"
                ]
            );
            let vias = &r.common.vias;
            assert_eq!(vias[0].port, Some(5060));
            assert_eq!(vias[1].transport, "TCP");
            assert_eq!(vias[2].rport(), Some(Some(5064)));
            assert_eq!(vias[3].host, Host::Name("origin.example.org".into()));
            assert_eq!(vias[4].transport, "SCTP");
        }),
        ok("v05_line_folding.sip", |m| {
            let r = request(m, Method::Options, "fold-callid@192.0.2.15", 12, "fold-1");
            assert_eq!(r.header("Subject"), Some("folded across three lines"));
            assert_eq!(r.from().display.as_deref(), Some("Folded Name"));
        }),
        ok("v06_compact_forms.sip", |m| {
            let r = request(m, Method::Message, "compact-7731@198.51.100.20", 3, "cmp-9");
            assert_eq!(branches(r), ["z9hG4bK-cmp-2", "z9hG4bK-cmp-1"]);
            assert_eq!(r.body(), b"Hello, world!");
            assert_eq!(r.header("Content-Type"), Some("text/plain;charset=utf-8"));
            assert_eq!(r.header("Content-Length"), Some("13"));
            assert!(header::has_token(r.headers(), "Supported", "100rel"));
            assert_eq!(r.header("Subject"), Some("Compact subject"));
            assert_eq!(r.to().uri.user().as_deref(), Some("desk"));
            assert_eq!(r.to().tag(), None);
            assert_eq!(sip(&r.contact().unwrap().uri).host, ip("198.51.100.20"));
        }),
        ok("v07_unknown_headers.sip", |m| {
            let r = request(m, Method::Options, "unknown-hdrs@203.0.113.30", 2, "unk-2");
            assert_eq!(
                r.header("x-odd"),
                Some(r#"<<<>>> ;;; ,,, "quoted, ; stuff" \backslash\ {braces} [brackets] ?=&"#)
            );
            assert_eq!(
                r.header("NewFangled-Thing"),
                Some("value with    internal   spaces")
            );
            assert_eq!(r.header("X-Empty"), Some(""));
            assert!(r.header("x-token-!%*_+`'~.").is_some());
            assert_eq!(r.header("X-Utf8"), Some("Grüße aus Köln ☎ 電話"));
        }),
        ok("v08_header_name_case.sip", |m| {
            let r = request(m, Method::Bye, "case-callid@192.0.2.88", 88, "case-5");
            assert_eq!(r.to().tag(), Some("case-to"));
            assert_eq!(r.top_via().transport, "UDP");
            assert_eq!(r.top_via().branch(), Some("z9hG4bK-case-1"));
            assert_eq!(sip(&r.to().uri).scheme, Scheme::Sip);
            assert_eq!(r.header("max-forwards"), Some("70"));
            assert_eq!(r.header("Content-Length"), Some("0"));
            assert!(r.contact().is_some());
        }),
        ok("v09_colon_spacing.sip", |m| {
            let r = request(m, Method::Options, "spc-callid@192.0.2.9", 5, "sp-1");
            assert_eq!(r.from().display.as_deref(), Some("Spacey"));
            assert_eq!(r.header("Max-Forwards"), Some("70"));
            assert_eq!(r.to().uri.user().as_deref(), Some("spacing"));
            assert_eq!(r.top_via().branch(), Some("z9hG4bK-sp-1"));
        }),
        ok("v10_content_length_short.sip", |m| {
            let r = request(m, Method::Message, "cl-short@198.51.100.10", 10, "cl-1");
            assert_eq!(r.body(), b"hello");
        }),
        ok("v11_quoted_display_names.sip", |m| {
            let r = request(m, Method::Invite, "quoted-names@192.0.2.111", 11, "q-1");
            assert_eq!(r.from().display.as_deref(), Some(r#"Doe, Jane "JD""#));
            assert_eq!(r.to().display.as_deref(), Some(r"\Back\, ; <not a uri> x"));
            assert_eq!(r.to().uri.user().as_deref(), Some("jane"));
            assert_eq!(
                r.contact().unwrap().display.as_deref(),
                Some("Commas, everywhere")
            );
        }),
        ok("v12_multiple_contacts.sip", |m| {
            let r = request(
                m,
                Method::Register,
                "multi-contact@192.0.2.30",
                12,
                "reg-12",
            );
            let c = contacts(r.headers());
            assert_eq!(c.len(), 4);
            assert_eq!(c[0].display.as_deref(), Some("Desk, Phone"));
            assert_eq!(c[0].param("q"), Some("0.9"));
            assert_eq!(c[0].param("expires"), Some("3600"));
            assert_eq!(sip(&c[1].uri).param("transport"), Some(Some("tcp")));
            assert_eq!(c[1].param("q"), Some("0.5"));
            // addr-spec form: the parameter belongs to the header, not to the URI.
            assert_eq!(c[2].param("expires"), Some("60"));
            assert!(sip(&c[2].uri).params.is_empty());
            assert_eq!(sip(&c[3].uri).scheme, Scheme::Sips);
            assert_eq!(r.header("Expires"), Some("7200"));
        }),
        ok("v13_options_max_forwards_zero.sip", |m| {
            let r = request(m, Method::Options, "mf-zero@203.0.113.13", 13, "mf0-1");
            assert_eq!(r.header("Max-Forwards"), Some("0"));
        }),
        ok("v14_tel_uris.sip", |m| {
            let r = request(m, Method::Invite, "tel-uris@198.51.100.14", 14, "tel-3");
            assert_eq!(r.from().uri, Uri::Other("tel:+1-555-0199".into()));
            assert_eq!(r.from().uri.user().as_deref(), Some("+1-555-0199"));
            assert_eq!(r.to().display.as_deref(), Some("Hotline"));
            assert_eq!(r.to().uri.user().as_deref(), Some("+1-555-0100"));
            assert_eq!(sip(&r.uri).param("user"), Some(Some("phone")));
        }),
        ok("v15_ruri_parameters.sip", |m| {
            let r = request(m, Method::Invite, "ruri-params@192.0.2.55", 15, "rp-5");
            let uri = sip(&r.uri);
            assert_eq!(uri.port, Some(5080));
            let transport = uri.param("transport").flatten().unwrap();
            assert!(transport.eq_ignore_ascii_case("tcp"), "{transport}");
            assert_eq!(uri.param("maddr"), Some(Some("198.51.100.3")));
            assert_eq!(uri.param("ttl"), Some(Some("16")));
            assert!(uri.is_loose_router());
            assert_eq!(uri.param("x-flag"), Some(None));
            assert_eq!(uri.param("user"), Some(Some("ip")));
        }),
        ok("v16_empty_parameters.sip", |m| {
            let r = request(m, Method::Subscribe, "empty-params@192.0.2.16", 16, "ep-1");
            let via = r.top_via();
            assert_eq!(via.rport(), Some(None));
            assert!(header::find_param(&via.params, "x-none").is_some());
            assert_eq!(r.from().param("x-empty"), Some(""));
            assert!(r.from().has_param("flag"));
            assert_eq!(r.from().param("flag"), None);
            let contact = r.contact().unwrap();
            assert_eq!(
                contact.param("+sip.instance"),
                Some("<urn:uuid:00000000-0000-4000-8000-000000000016>")
            );
            assert_eq!(contact.param("x-empty"), Some(""));
            assert_eq!(sip(&contact.uri).param("ob"), Some(None));
        }),
        ok("v17_cseq_max.sip", |m| {
            let r = request(
                m,
                Method::Bye,
                "cseq-max@198.51.100.17",
                2_147_483_647,
                "big-from",
            );
            assert_eq!(r.to().tag(), Some("big-to"));
        }),
        ok("v18_response_empty_reason.sip", |m| {
            let r = response(m, 200, "", "empty-reason@192.0.2.18", 18);
            assert_eq!(r.cseq().method, Method::Options);
            assert_eq!(r.to().tag(), Some("er-to"));
            assert_eq!(r.top_via().received(), Some("192.0.2.18".parse().unwrap()));
        }),
        ok("v19_notify_sipfrag.sip", |m| {
            let r = request(
                m,
                Method::Notify,
                "notify-sipfrag@192.0.2.19",
                19,
                "nf-from",
            );
            assert_eq!(r.body(), b"SIP/2.0 180 Ringing\r\n");
            assert_eq!(r.header("Event"), Some("refer;id=93"));
            assert_eq!(
                r.header("Content-Type"),
                Some("message/sipfrag;version=2.0")
            );
            assert_eq!(r.header("Subscription-State"), Some("active;expires=60"));
        }),
        ok("v20_leading_crlfs.sip", |m| {
            request(m, Method::Options, "leading-crlf@192.0.2.20", 20, "lead-20");
        }),
        ok("v21_lf_line_endings.sip", |m| {
            let r = request(m, Method::Invite, "lf-only@192.0.2.21", 21, "lf-21");
            assert!(r.body().starts_with(b"v=0\no=- 20 20 IN IP4 192.0.2.21\n"));
            assert!(r.body().ends_with(b"m=audio 49170 RTP/AVP 0\n"));
            assert_eq!(r.header("Content-Type"), Some("application/sdp"));
        }),
        ok("v22_odd_tokens.sip", |m| {
            let r = request(
                m,
                Method::Options,
                r#"odd()<>:\"/[]?{}-.!%*_+`'~@example.org"#,
                22,
                "-.!%*_+`'~",
            );
            assert_eq!(r.top_via().branch(), Some("z9hG4bK-.!%*_+`'~odd"));
            assert_eq!(r.common.vias[1].transport, "X-PIGEON");
            assert_eq!(
                r.header("X-Param-Header"),
                Some("value;-.!%*_+`'~=-.!%*_+`'~")
            );
        }),
        ok("v23_response_multiple_vias.sip", |m| {
            let r = response(m, 180, "Ringing", "response-vias@192.0.2.23", 23);
            assert_eq!(r.common.vias.len(), 3);
            assert_eq!(r.top_via().branch(), Some("z9hG4bK-rsp-3"));
            assert_eq!(r.common.vias[2].rport(), Some(Some(5060)));
            assert_eq!(header::list(r.headers(), "Record-Route").len(), 2);
            assert_eq!(r.to().tag(), Some("rsp-to"));
            assert!(r.contact().is_some());
        }),
        ok("v24_whitespace_in_values.sip", |m| {
            let r = request(m, Method::Bye, "ws-callid@192.0.2.24", 24, "ws-from");
            assert_eq!(r.to().tag(), Some("ws-to"));
            assert_eq!(r.to().display.as_deref(), Some("White Space"));
            let via = r.top_via();
            assert_eq!(via.transport, "UDP");
            assert_eq!(via.host, ip("192.0.2.24"));
            assert_eq!(via.port, Some(5060));
            assert_eq!(via.branch(), Some("z9hG4bK-ws-1"));
            assert_eq!(via.rport(), Some(None));
        }),
        ok("v25_sips_telephone_subscriber.sip", |m| {
            let r = request(m, Method::Invite, "sips-phone@198.51.100.25", 25, "tls-25");
            let uri = sip(&r.uri);
            assert_eq!(uri.scheme, Scheme::Sips);
            assert_eq!(
                uri.user.as_deref(),
                Some("+1-212-555-0101;isub=1234;postd=pp22")
            );
            assert_eq!(uri.user_decoded().as_deref(), Some("+1-212-555-0101"));
            assert_eq!(uri.host, Host::Name("gw.example.net".into()));
            assert_eq!(uri.param("user"), Some(Some("phone")));
            assert_eq!(r.top_via().transport, "TLS");
            assert_eq!(r.top_via().port, Some(5061));
        }),
        ok("v26_binary_body.sip", |m| {
            let r = request(m, Method::Message, "binary-body@192.0.2.26", 26, "bin-26");
            let mut body = vec![
                0x00, 0xFF, 0xFE, 0x0D, 0x0A, 0x0D, 0x0A, 0x80, 0x00, 0x7F, 0xC3, 0x28,
            ];
            body.extend_from_slice(b"\r\n\r\nend");
            assert_eq!(r.body(), body);
        }),
        // Decodes so that the UA can answer 416 (RFC 3261 §8.2.2.1, RFC 4475 §3.3.2).
        ok("v27_non_sip_ruri_scheme.sip", |m| {
            let r = request(m, Method::Options, "urn-ruri@192.0.2.27", 27, "urn-27");
            assert_eq!(r.uri, Uri::Other("urn:service:sos.fire".into()));
        }),
        ok("v28_utf8_reason_phrase.sip", |m| {
            let r = response(
                m,
                486,
                "Belegt – bitte später erneut versuchen",
                "utf8-reason@192.0.2.28",
                28,
            );
            assert_eq!(r.from().tag(), Some("utf-from"));
        }),
        ok("v29_no_content_length.sip", |m| {
            let r = request(
                m,
                Method::Message,
                "no-content-length@192.0.2.29",
                29,
                "nolen-29",
            );
            assert_eq!(r.body(), b"body without length\r\n");
            assert_eq!(r.header("Content-Length"), None);
        }),
        // Accepted like v33 (RFC 4475 §3.1.2.11 allows either; both forms alike).
        ok("v30_ruri_params_and_headers.sip", |m| {
            let r = request(m, Method::Invite, "ruri-30@192.0.2.30", 30, "r30");
            let uri = sip(&r.uri);
            assert!(uri.is_loose_router());
            assert_eq!(uri.param("transport"), Some(Some("tcp")));
            assert_eq!(uri.header("Subject").as_deref(), Some("hello there"));
        }),
        // An IPv6 reference is a legal Request-URI host (RFC 3261 §19.1.1, §25.1).
        ok("v31_ipv6_request_uri.sip", |m| {
            let r = request(m, Method::Invite, "ruri-31@192.0.2.31", 31, "r31");
            let uri = sip(&r.uri);
            assert_eq!(
                uri.host,
                parley_core::sip::uri::Host::Ip("2001:db8::a:1".parse().unwrap())
            );
            assert_eq!(uri.port, Some(5062));
        }),
        // absoluteURI (RFC 3261 §25.1): decodes, and the UA answers 416 (§8.2.2.1).
        ok("v32_tel_request_uri.sip", |m| {
            let r = request(m, Method::Invite, "ruri-32@192.0.2.32", 32, "r32");
            assert_eq!(
                r.uri,
                Uri::Other("tel:+1-555-0123;phone-context=example.net".into())
            );
        }),
        ok("v33_ruri_headers_only.sip", |m| {
            let r = request(m, Method::Options, "ruri-33@192.0.2.33", 33, "r33");
            let uri = sip(&r.uri);
            assert_eq!(uri.header("Subject").as_deref(), Some("hello there"));
            assert_eq!(uri.header("Priority").as_deref(), Some("urgent"));
        }),
    ]
}

fn invalid_cases() -> Vec<Case> {
    vec![
        bad("i01_missing_call_id.sip", None),
        bad("i02_missing_from.sip", Some(400)),
        bad("i03_missing_to.sip", Some(400)),
        bad("i04_missing_cseq.sip", None),
        bad("i05_missing_via.sip", None),
        bad("i06_cseq_method_mismatch.sip", Some(400)),
        bad("i07_cseq_not_numeric.sip", Some(400)),
        bad("i08_cseq_2pow31.sip", Some(400)),
        bad("i09_cseq_overflow.sip", Some(400)),
        bad("i10_content_length_negative.sip", Some(400)),
        bad("i11_content_length_garbage.sip", Some(400)),
        bad("i12_content_length_beyond_body.sip", Some(400)),
        bad("i13_from_unterminated_quote.sip", Some(400)),
        bad("i14_to_unterminated_angle.sip", Some(400)),
        bad("i15_via_bad_port.sip", Some(400)),
        bad("i16_ruri_with_spaces.sip", Some(400)),
        bad("i17_sip_version_7.sip", Some(505)),
        bad("i18_unknown_method.sip", Some(501)),
        bad("i19_lowercase_method.sip", Some(501)),
        bad("i20_binary_start_line.sip", None),
        bad("i21_control_char_in_method.sip", Some(400)),
        bad("i22_header_without_colon.sip", Some(400)),
        bad("i23_only_whitespace.sip", None),
        bad("i24_empty.sip", None),
        // No empty line after the headers and the last one cut off (RFC 3261 §7).
        bad("i25_truncated_mid_header.sip", Some(400)),
        // Call-ID is word ["@" word] (RFC 3261 §25.1).
        bad("i26_nul_in_call_id.sip", Some(400)),
        // Header values are TEXT-UTF8char / LWS (§25.1): no control characters.
        bad("i27_nul_in_subject.sip", Some(400)),
        // 100 KB is under the 256 KB limit for one message (MAX_MESSAGE_SIZE): accepted;
        // larger messages are refused with 513 (§21.5.14).
        ok("i28_overlong_header.sip", |m| {
            let r = request(m, Method::Invite, "bad-28@192.0.2.101", 28, "bad-from-28");
            assert_eq!(r.header("X-Padding").map(str::len), Some(100 * 1024));
        }),
        // CSeq is not a list header (§7.3.1, §20.16; RFC 4475 §3.3.8).
        bad("i29_two_cseq_disagree.sip", Some(400)),
        bad("i30_max_forwards_zero_invite.sip", Some(483)),
        bad("i31_max_forwards_not_numeric.sip", Some(400)),
        bad("i32_via_without_protocol.sip", Some(400)),
        bad("i33_response_bad_status_code.sip", None),
        // The Request-URI has no <> (§25.1; RFC 4475 §3.1.2.7).
        bad("i34_ruri_in_angle_brackets.sip", Some(400)),
        // Content-Length may appear once (§7.3.1, §20.14; RFC 4475 §3.3.9).
        bad("i35_two_content_lengths.sip", Some(400)),
        // Content-Length is 1*DIGIT (§20.14).
        bad("i36_content_length_plus_sign.sip", Some(400)),
    ]
}

// ---------------------------------------------------------------------------------------
// Running the cases.
// ---------------------------------------------------------------------------------------

fn fixture_dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/torture")
        .join(sub)
}

/// Every `.sip` file of a fixture directory, sorted by name.
fn fixtures(sub: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fixture_dir(sub);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sip"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "non-text panic".to_owned())
}

/// Decodes what a decoded message encodes to and checks the identifying fields survived.
fn check_round_trip(m: &Message) {
    match m {
        Message::Request(r) => {
            let bytes = r.encode();
            let again = match decode(&bytes) {
                Ok(Message::Request(again)) => again,
                other => panic!(
                    "re-encoded request does not decode: {:?}\n{}",
                    other.err().map(|e| e.error),
                    String::from_utf8_lossy(&bytes)
                ),
            };
            assert_eq!(again.method(), r.method(), "re-encoded method");
            assert_eq!(again.call_id(), r.call_id(), "re-encoded Call-ID");
            assert_eq!(again.cseq(), r.cseq(), "re-encoded CSeq");
            assert_eq!(again.from().tag(), r.from().tag(), "re-encoded From tag");
            assert_eq!(again.to().tag(), r.to().tag(), "re-encoded To tag");
            assert_eq!(again.common.vias, r.common.vias, "re-encoded Vias");
            assert_eq!(again.uri, r.uri, "re-encoded Request-URI");
            assert_eq!(again.body(), r.body(), "re-encoded body");
        }
        Message::Response(r) => {
            let bytes = r.encode();
            let again = match decode(&bytes) {
                Ok(Message::Response(again)) => again,
                other => panic!(
                    "re-encoded response does not decode: {:?}\n{}",
                    other.err().map(|e| e.error),
                    String::from_utf8_lossy(&bytes)
                ),
            };
            assert_eq!(again.code, r.code, "re-encoded status");
            assert_eq!(again.call_id(), r.call_id(), "re-encoded Call-ID");
            assert_eq!(again.cseq(), r.cseq(), "re-encoded CSeq");
            assert_eq!(again.from().tag(), r.from().tag(), "re-encoded From tag");
            assert_eq!(again.to().tag(), r.to().tag(), "re-encoded To tag");
            assert_eq!(again.common.vias, r.common.vias, "re-encoded Vias");
            assert_eq!(again.body(), r.body(), "re-encoded body");
        }
    }
}

/// Checks an error response: status line, the To tag added, and (when the request had From
/// and To, and the defect was not in one of the headers the response copies) that it is
/// itself a decodable response.
fn check_error_response(bytes: &[u8], status: u16, copies_defect: bool) {
    let text = String::from_utf8(bytes.to_vec()).expect("error response is UTF-8");
    assert!(
        text.starts_with(&format!("SIP/2.0 {status} ")),
        "expected a {status}, got:\n{text}"
    );
    assert!(
        text.ends_with("\r\n\r\n"),
        "error response head not terminated"
    );
    let has = |name: &str| text.lines().any(|l| l.starts_with(&format!("{name}: ")));
    assert!(has("Via") && has("Call-ID") && has("CSeq"), "{text}");
    if has("To") {
        assert!(text.contains(";tag=t\r\n"), "no To tag in:\n{text}");
    }
    if has("From") && has("To") && !copies_defect {
        match decode(bytes) {
            Ok(Message::Response(r)) => assert_eq!(r.code, status),
            other => panic!(
                "error response does not decode: {:?}\n{text}",
                other.err().map(|e| e.error)
            ),
        }
    }
}

fn run_case(case: &Case, bytes: &[u8]) {
    match (&case.expect, decode(bytes)) {
        (Expect::Decodes(check), Ok(m)) => {
            check(&m);
            check_round_trip(&m);
        }
        (Expect::Decodes(_), Err(e)) => {
            panic!("expected to decode, got {:?} ({})", e.error, e.error)
        }
        (Expect::Rejected(status), Err(e)) => {
            let response = e.error_response("t");
            match (status, response) {
                (None, None) => {}
                (None, Some(r)) => panic!(
                    "expected no error response ({}), got:\n{}",
                    e.error,
                    String::from_utf8_lossy(&r)
                ),
                (Some(s), None) => panic!("expected a {s} for {:?}, got no response", e.error),
                (Some(s), Some(r)) => {
                    // §8.2.6.2: the response copies Via, From, To, Call-ID and CSeq as
                    // received, so a defect in one of them is in the response too.
                    // An extension method's CSeq cannot be represented by rsip's Method.
                    let copies_defect = matches!(
                        &e.error,
                        DecodeError::Message(MessageError::Invalid(h, _))
                            if ["Via", "From", "To", "Call-ID", "CSeq"].contains(h)
                    ) || matches!(
                        &e.error,
                        DecodeError::ControlCharacter(h)
                            if ["Via", "From", "To", "Call-ID", "CSeq"].contains(&h.as_str())
                    ) || matches!(e.error, DecodeError::UnknownMethod(_));
                    check_error_response(&r, *s, copies_defect)
                }
            }
        }
        (Expect::Rejected(status), Ok(m)) => {
            let what = match &m {
                Message::Request(r) => format!("a {} request", r.method()),
                Message::Response(r) => format!("a {} response", r.code),
            };
            panic!("expected a rejection ({status:?}), decoded {what}");
        }
    }
}

/// Runs a table against a fixture directory, each case isolated, and fails naming every
/// case that failed.
fn run_table(sub: &str, cases: Vec<Case>) {
    let files = fixtures(sub);
    let mut failures = Vec::new();
    for (name, _) in &files {
        if !cases.iter().any(|c| c.file == name) {
            failures.push(format!("{sub}/{name}: no entry in the test table"));
        }
    }
    for case in &cases {
        let Some((_, bytes)) = files.iter().find(|(n, _)| n == case.file) else {
            failures.push(format!("{sub}/{}: fixture file missing", case.file));
            continue;
        };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| run_case(case, bytes))) {
            failures.push(format!("{sub}/{}: {}", case.file, panic_text(&*payload)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing torture case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn valid_messages_decode() {
    run_table("valid", valid_cases());
}

#[test]
fn invalid_messages_are_rejected() {
    run_table("invalid", invalid_cases());
}

/// Byte values written over each position: line structure, separators, quoting, NUL and a
/// UTF-8 lead byte that makes the text invalid or changes a character's length.
const MUTATIONS: [u8; 8] = [0x00, b'\r', b'\n', b' ', b':', b';', b'"', 0xC3];

/// Positions tried per file and mutation byte; longer files are sampled with a stride (a
/// different offset for each byte value), which keeps the test at a few seconds in debug.
const POSITIONS_PER_FILE: usize = 160;

fn decode_must_not_panic(bytes: &[u8]) -> Result<(), String> {
    catch_unwind(|| {
        if let Err(e) = decode(bytes) {
            let _ = e.error_response("t");
        }
    })
    .map_err(|p| panic_text(&*p))
}

#[test]
fn prefixes_and_mutations_of_valid_messages_never_panic() {
    let mut failures = Vec::new();
    let mut decodes = 0usize;
    for (name, bytes) in fixtures("valid") {
        let stride = bytes.len().div_ceil(POSITIONS_PER_FILE).max(1);
        // Every prefix of short files; for long ones, a stride plus the first bytes in full.
        let cuts = (0..=bytes.len()).filter(|&c| c < 64 || c % stride == 0 || c == bytes.len());
        for cut in cuts {
            decodes += 1;
            if let Err(e) = decode_must_not_panic(&bytes[..cut]) {
                failures.push(format!("valid/{name}: prefix of {cut} bytes panics: {e}"));
                break;
            }
        }
        let mut mutated = bytes.clone();
        'file: for (k, &byte) in MUTATIONS.iter().enumerate() {
            let offset = (k * 7) % stride;
            for pos in (offset..bytes.len()).step_by(stride) {
                mutated[pos] = byte;
                decodes += 1;
                let result = decode_must_not_panic(&mutated);
                mutated[pos] = bytes[pos];
                if let Err(e) = result {
                    failures.push(format!(
                        "valid/{name}: byte {pos} set to {byte:#04x} panics: {e}"
                    ));
                    break 'file;
                }
            }
        }
    }
    assert!(decodes > 10_000, "only {decodes} decodes");
    assert!(
        failures.is_empty(),
        "decoding panicked:\n{}",
        failures.join("\n")
    );
}
