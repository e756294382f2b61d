use super::*;
use proptest::prelude::*;

const S: Duration = Duration::from_secs(1);

fn reading(availability: &str, activity: &str) -> Reading {
    Reading {
        availability: Availability::parse(availability),
        activity: Activity::parse(activity),
        sequence: None,
    }
}

fn in_a_call() -> Reading {
    reading("Busy", "InACall")
}

fn available() -> Reading {
    reading("Available", "Available")
}

fn sync(now: Instant) -> PresenceSync {
    PresenceSync::new(SyncConfig::default(), now, 7)
}

fn events(sync: &mut PresenceSync) -> Vec<SyncEvent> {
    std::iter::from_fn(|| sync.poll_event()).collect()
}

/// Reads at `now` and answers with `reading`.
fn read(sync: &mut PresenceSync, now: Instant, reading: Reading) {
    assert_eq!(sync.poll_request(now), Some(Request::Read));
    sync.handle_reading(now, reading);
}

/// A sync whose first reading (Available) went through, and its events taken.
fn started(now: Instant) -> PresenceSync {
    let mut s = sync(now);
    assert_eq!(s.status(), &SyncStatus::Starting);
    read(&mut s, now, available());
    assert_eq!(events(&mut s), [SyncEvent::Status(SyncStatus::Active)]);
    s
}

#[test]
fn values_are_parsed_whatever_their_case_and_new_ones_are_unknown() {
    assert_eq!(
        Availability::parse("DoNotDisturb"),
        Availability::DoNotDisturb
    );
    assert_eq!(
        Availability::parse("doNotDisturb"),
        Availability::DoNotDisturb
    );
    assert_eq!(Activity::parse("inACall"), Activity::InACall);
    assert_eq!(Activity::parse("Focusing"), Activity::Focusing);
    assert_eq!(Activity::parse("InAHuddle"), Activity::Unknown);
    assert_eq!(Availability::parse(""), Availability::Unknown);
    // Named back as Graph names them, whatever case they came in.
    assert_eq!(Availability::parse("doNotDisturb").name(), "DoNotDisturb");
    assert_eq!(
        Activity::parse("inaconferencecall").name(),
        "InAConferenceCall"
    );
    assert_eq!(Activity::parse("InAHuddle").name(), "Unknown");
}

#[test]
fn calls_and_presenting_always_block_meetings_and_dnd_as_configured() {
    let rules = BlockingRules::default();
    let verdict = |a, b| rules.verdict(&reading(a, b));
    assert_eq!(verdict("Busy", "InACall"), Verdict::Blocking);
    assert_eq!(verdict("Busy", "InAConferenceCall"), Verdict::Blocking);
    assert_eq!(verdict("DoNotDisturb", "Presenting"), Verdict::Blocking);
    assert_eq!(verdict("Busy", "InAMeeting"), Verdict::Blocking);
    assert_eq!(verdict("DoNotDisturb", "DoNotDisturb"), Verdict::Blocking);
    assert_eq!(verdict("DoNotDisturb", "Focusing"), Verdict::Blocking);
    assert_eq!(verdict("Busy", "Busy"), Verdict::Clean);
    for (a, b) in [
        ("Available", "Available"),
        ("Away", "Away"),
        ("BeRightBack", "BeRightBack"),
        ("Offline", "OffWork"),
        ("Available", "OutOfOffice"),
        ("PresenceUnknown", "PresenceUnknown"),
        ("Busy", "SomethingNew"),
    ] {
        assert_eq!(verdict(a, b), Verdict::Clean, "{a}/{b}");
    }
    let relaxed = BlockingRules {
        in_a_meeting: false,
        do_not_disturb: false,
        busy: true,
    };
    assert_eq!(
        relaxed.verdict(&reading("Busy", "InAMeeting")),
        Verdict::Clean
    );
    assert_eq!(
        relaxed.verdict(&reading("DoNotDisturb", "DoNotDisturb")),
        Verdict::Clean
    );
    assert_eq!(
        relaxed.verdict(&reading("DoNotDisturb", "Presenting")),
        Verdict::Blocking
    );
    assert_eq!(relaxed.verdict(&reading("Busy", "Busy")), Verdict::Blocking);
}

#[test]
fn the_first_blocking_reading_blocks_and_two_clean_ones_release() {
    let t0 = Instant::now();
    let mut s = started(t0);
    let t1 = s.poll_timeout().unwrap();
    read(&mut s, t1, in_a_call());
    assert_eq!(
        events(&mut s),
        [SyncEvent::Block {
            reading: in_a_call()
        }]
    );
    assert!(s.is_blocking());
    // Still in the call: nothing new.
    let t2 = s.poll_timeout().unwrap();
    read(&mut s, t2, in_a_call());
    assert!(events(&mut s).is_empty());
    // One clean reading is not enough; a blocking one in between starts the count again.
    let t3 = s.poll_timeout().unwrap();
    read(&mut s, t3, available());
    let t4 = s.poll_timeout().unwrap();
    read(&mut s, t4, reading("DoNotDisturb", "Presenting"));
    let t5 = s.poll_timeout().unwrap();
    read(&mut s, t5, available());
    assert!(events(&mut s).is_empty());
    let t6 = s.poll_timeout().unwrap();
    read(&mut s, t6, reading("Away", "Away"));
    assert_eq!(events(&mut s), [SyncEvent::Release]);
    assert!(!s.is_blocking());
}

#[test]
fn readings_come_every_interval_with_jitter() {
    let t0 = Instant::now();
    let mut s = sync(t0);
    let mut now = t0;
    let mut gaps = Vec::new();
    for _ in 0..200 {
        read(&mut s, now, available());
        let next = s.poll_timeout().unwrap();
        gaps.push(next - now);
        assert_eq!(s.poll_request(next - Duration::from_millis(1)), None);
        now = next;
    }
    assert!(gaps.iter().all(|g| *g >= 8 * S && *g <= 12 * S), "{gaps:?}");
    let spread =
        gaps.iter().max().unwrap().as_secs_f64() - gaps.iter().min().unwrap().as_secs_f64();
    assert!(spread > 2.0, "the jitter spreads the readings ({spread} s)");
}

#[test]
fn our_own_session_is_not_mistaken_for_a_teams_call() {
    let t0 = Instant::now();
    let mut s = started(t0);
    // A contact-center call connects: Busy/InACall for an hour.
    s.handle_cc_activity(CcActivity::InCall);
    let request = s.poll_request(t0 + S).unwrap();
    assert_eq!(
        request,
        Request::SetPresence {
            activity: SessionActivity::InACall,
            expiration: Duration::from_secs(3600)
        }
    );
    s.handle_written(t0 + S);
    // Teams shows our own session back: ignored.
    let t1 = s.poll_timeout().unwrap();
    read(&mut s, t1, in_a_call());
    assert!(events(&mut s).is_empty());
    // Hang-up: cleared; Teams still shows it for a while, also ignored.
    s.handle_cc_activity(CcActivity::Idle);
    let t2 = t1 + S;
    assert_eq!(s.poll_request(t2), Some(Request::ClearPresence));
    s.handle_written(t2);
    let t3 = s.poll_timeout().unwrap();
    read(&mut s, t3, in_a_call());
    assert!(events(&mut s).is_empty());
    // After the grace period a Teams call is a Teams call.
    let late = t2 + Duration::from_secs(31);
    read(&mut s, late, in_a_call());
    assert_eq!(
        events(&mut s),
        [SyncEvent::Block {
            reading: in_a_call()
        }]
    );
}

#[test]
fn stale_readings_are_dropped_by_sequence_number() {
    let t0 = Instant::now();
    let mut s = sync(t0);
    let with = |r: Reading, seq: &str| Reading {
        sequence: Some(seq.to_owned()),
        ..r
    };
    read(&mut s, t0, with(available(), "C0002"));
    events(&mut s);
    let t1 = s.poll_timeout().unwrap();
    read(&mut s, t1, with(in_a_call(), "C0001"));
    assert!(events(&mut s).is_empty(), "older than the last one seen");
    let t2 = s.poll_timeout().unwrap();
    read(&mut s, t2, with(in_a_call(), "C0003"));
    assert_eq!(events(&mut s).len(), 1);
}

#[test]
fn the_session_follows_the_call_is_renewed_before_it_expires_and_never_set_available() {
    let t0 = Instant::now();
    let mut s = sync(t0);
    s.handle_cc_activity(CcActivity::InCall);
    assert!(matches!(
        s.poll_request(t0),
        Some(Request::SetPresence {
            activity: SessionActivity::InACall,
            ..
        })
    ));
    // One request at a time.
    assert_eq!(s.poll_request(t0), None);
    assert_eq!(s.poll_timeout(), None);
    s.handle_written(t0);
    // A consult: the conference activity.
    s.handle_cc_activity(CcActivity::Conference);
    assert_eq!(
        s.poll_request(t0 + S),
        Some(Request::SetPresence {
            activity: SessionActivity::InAConferenceCall,
            expiration: Duration::from_secs(3600)
        })
    );
    s.handle_written(t0 + S);
    s.handle_cc_activity(CcActivity::InCall);
    assert!(matches!(
        s.poll_request(t0 + 2 * S),
        Some(Request::SetPresence { .. })
    ));
    s.handle_written(t0 + 2 * S);
    // Nothing to write until 15 minutes before the hour is up (readings go on).
    let renew = t0 + 2 * S + Duration::from_secs(45 * 60);
    loop {
        let next = s.poll_timeout().unwrap();
        if next >= renew {
            break;
        }
        read(&mut s, next, in_a_call());
    }
    assert_eq!(s.poll_timeout(), Some(renew));
    assert!(matches!(
        s.poll_request(renew),
        Some(Request::SetPresence { .. })
    ));
    s.handle_written(renew);
    // Hang-up: clear, not Available.
    s.handle_cc_activity(CcActivity::Idle);
    assert_eq!(s.poll_request(renew + S), Some(Request::ClearPresence));
    s.handle_written(renew + S);
    // Nothing more to write.
    let next = s.poll_request(renew + 2 * S);
    assert!(next.is_none() || next == Some(Request::Read), "{next:?}");
    assert_eq!(
        events(&mut s),
        [SyncEvent::Status(SyncStatus::Active)],
        "the first write went through; readings of our own session changed nothing"
    );
}

#[test]
fn wrapup_keeps_or_clears_the_session_as_configured() {
    let t0 = Instant::now();
    for (clear_at, kept) in [(ClearAt::HangUp, false), (ClearAt::WrapupEnd, true)] {
        let config = SyncConfig {
            clear_at,
            ..SyncConfig::default()
        };
        let mut s = PresenceSync::new(config, t0, 1);
        s.handle_cc_activity(CcActivity::InCall);
        assert!(matches!(
            s.poll_request(t0),
            Some(Request::SetPresence { .. })
        ));
        s.handle_written(t0);
        s.handle_cc_activity(CcActivity::Wrapup);
        let request = s.poll_request(t0 + S);
        assert_eq!(
            request == Some(Request::ClearPresence),
            !kept,
            "{clear_at:?}"
        );
        if request.is_some() {
            s.handle_written(t0 + S);
        }
        s.handle_cc_activity(CcActivity::Idle);
        if kept {
            assert_eq!(s.poll_request(t0 + 2 * S), Some(Request::ClearPresence));
        }
    }
}

#[test]
fn throttling_waits_for_retry_after_and_shows_sync_unavailable() {
    let t0 = Instant::now();
    let mut s = sync(t0);
    assert_eq!(s.poll_request(t0), Some(Request::Read));
    s.handle_failure(
        t0,
        Failure::Throttled {
            retry_after: Some(Duration::from_secs(120)),
        },
    );
    assert_eq!(
        events(&mut s),
        [SyncEvent::Status(SyncStatus::Unavailable {
            reason: "Microsoft Graph is throttling requests (429)".into()
        })]
    );
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(120)));
    assert_eq!(s.poll_request(t0 + Duration::from_secs(119)), None);
    // A contact-center call meanwhile: its presence waits for Retry-After too (Graph
    // throttles the application), then goes before the next reading.
    s.handle_cc_activity(CcActivity::InCall);
    assert_eq!(s.poll_request(t0 + Duration::from_secs(119)), None);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(120)));
    let retry = t0 + Duration::from_secs(120);
    assert!(matches!(
        s.poll_request(retry),
        Some(Request::SetPresence { .. })
    ));
    s.handle_written(retry);
    assert_eq!(events(&mut s), [SyncEvent::Status(SyncStatus::Active)]);
    read(&mut s, retry, available());
    assert_eq!(s.status(), &SyncStatus::Active);
}

#[test]
fn failures_back_off_exponentially_up_to_the_cap() {
    let t0 = Instant::now();
    let mut s = sync(t0);
    let mut now = t0;
    let mut waits = Vec::new();
    for _ in 0..12 {
        assert_eq!(s.poll_request(now), Some(Request::Read));
        s.handle_failure(
            now,
            Failure::Unavailable {
                reason: "HTTP 503".into(),
            },
        );
        let next = s.poll_timeout().unwrap();
        waits.push(next - now);
        now = next;
    }
    assert!(waits[0] == 10 * S, "never sooner than the interval");
    assert!(waits[4] >= 80 * S, "{waits:?}");
    assert!(waits.iter().all(|w| *w <= 300 * S), "{waits:?}");
    // One status event, not one per failure.
    assert_eq!(events(&mut s).len(), 1);
}

#[test]
fn a_block_is_lifted_when_teams_can_no_longer_be_read() {
    let t0 = Instant::now();
    let mut s = sync(t0);
    read(&mut s, t0, in_a_call());
    events(&mut s);
    let fail = |s: &mut PresenceSync, now| {
        assert_eq!(s.poll_request(now), Some(Request::Read));
        s.handle_failure(
            now,
            Failure::Denied {
                reason: "sign in to Teams again".into(),
            },
        );
    };
    let t1 = s.poll_timeout().unwrap();
    fail(&mut s, t1);
    assert!(s.is_blocking(), "one failure may be a hiccup");
    let t2 = s.poll_timeout().unwrap();
    fail(&mut s, t2);
    let events = events(&mut s);
    assert!(events.contains(&SyncEvent::Release), "{events:?}");
    assert_eq!(s.poll_timeout(), Some(t2 + Duration::from_secs(300)));
}

#[test]
fn a_failed_write_is_retried_after_a_backoff_and_readings_go_on() {
    let t0 = Instant::now();
    let mut s = sync(t0);
    s.handle_cc_activity(CcActivity::InCall);
    assert!(matches!(
        s.poll_request(t0),
        Some(Request::SetPresence { .. })
    ));
    s.handle_failure(
        t0,
        Failure::Unavailable {
            reason: "network".into(),
        },
    );
    // The read is due now, the write only later.
    assert_eq!(s.poll_request(t0), Some(Request::Read));
    s.handle_reading(t0, available());
    let retry = s.poll_timeout().unwrap();
    assert!(retry > t0 && retry <= t0 + 10 * S, "{:?}", retry - t0);
    assert!(matches!(
        s.poll_request(retry),
        Some(Request::SetPresence { .. })
    ));
}

#[test]
fn stopping_clears_our_session_and_then_nothing_more() {
    let t0 = Instant::now();
    let mut s = sync(t0);
    s.handle_cc_activity(CcActivity::InCall);
    assert!(matches!(
        s.poll_request(t0),
        Some(Request::SetPresence { .. })
    ));
    s.handle_written(t0);
    s.stop();
    assert!(!s.is_stopped());
    assert_eq!(s.poll_request(t0 + S), Some(Request::ClearPresence));
    s.handle_written(t0 + S);
    assert!(s.is_stopped());
    assert_eq!(s.poll_request(t0 + Duration::from_secs(3600)), None);
    assert_eq!(s.poll_timeout(), None);
}

#[derive(Debug, Clone)]
enum Input {
    Reading(u8),
    Failure(u8),
    Written,
    Cc(u8),
    Advance(u16),
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        (0u8..6).prop_map(Input::Reading),
        (0u8..3).prop_map(Input::Failure),
        Just(Input::Written),
        (0u8..4).prop_map(Input::Cc),
        (0u16..4_000).prop_map(Input::Advance),
    ]
}

proptest! {
    /// Whatever happens, blocks and releases alternate (starting with a block), at most one
    /// request is in flight, and no request is ever sent before it is due.
    #[test]
    fn blocks_and_releases_alternate(inputs in proptest::collection::vec(input(), 0..300)) {
        let t0 = Instant::now();
        let mut s = sync(t0);
        let mut now = t0;
        let mut in_flight: Option<Request> = None;
        let mut blocked = false;
        for input in inputs {
            if in_flight.is_none() {
                in_flight = s.poll_request(now);
            }
            match (input, &in_flight) {
                (Input::Reading(r), Some(Request::Read)) => {
                    let readings = [
                        in_a_call(),
                        available(),
                        reading("Busy", "InAMeeting"),
                        reading("Away", "Away"),
                        reading("DoNotDisturb", "Presenting"),
                        reading("Busy", "Busy"),
                    ];
                    s.handle_reading(now, readings[usize::from(r)].clone());
                    in_flight = None;
                }
                (Input::Written, Some(Request::SetPresence { .. } | Request::ClearPresence)) => {
                    s.handle_written(now);
                    in_flight = None;
                }
                (Input::Failure(f), Some(_)) => {
                    let failure = match f {
                        0 => Failure::Throttled { retry_after: Some(Duration::from_secs(30)) },
                        1 => Failure::Unavailable { reason: "503".into() },
                        _ => Failure::Denied { reason: "403".into() },
                    };
                    s.handle_failure(now, failure);
                    in_flight = None;
                }
                (Input::Cc(c), _) => s.handle_cc_activity(
                    [CcActivity::Idle, CcActivity::InCall, CcActivity::Conference, CcActivity::Wrapup][usize::from(c)],
                ),
                (Input::Advance(ms), _) => now += Duration::from_millis(u64::from(ms) * 10),
                _ => {}
            }
            if in_flight.is_some() {
                prop_assert_eq!(s.poll_request(now), None);
            }
            while let Some(event) = s.poll_event() {
                match event {
                    SyncEvent::Block { .. } => { prop_assert!(!blocked); blocked = true; }
                    SyncEvent::Release => { prop_assert!(blocked); blocked = false; }
                    SyncEvent::Status(_) => {}
                }
            }
            prop_assert_eq!(blocked, s.is_blocking());
        }
    }
}
