// Generated from runtime/src/protocol.rs, store.rs and demo.rs by
// `UPDATE_TYPES=1 cargo test -p parley-runtime typescript`. Do not edit.

export type Event = { "event": "started", version: string, local: string, } | { "event": "result", id?: unknown, ok: boolean, call?: string, error?: string, message?: string, 
/**
 * What `colleagues` found.
 */
colleagues?: Array<Colleague>, } | { "event": "connection", 
/**
 * `up` or `down`.
 */
state: string, 
/**
 * The SIP server, as `transport:address`.
 */
server: string, local?: string, reason?: string, } | { "event": "registration", state: string, reason?: string, code?: number, expires?: number, retry_in?: number, } | { "event": "agent_state", state: string, reason?: string, } | { "event": "incoming_call", call: string, from: string, from_name?: string, from_user?: string, to: string, sip_call_id: string, headers: { [key in string]: string }, replaces?: string, } | { "event": "outgoing_call", call: string, 
/**
 * What was dialled: a number or a SIP address.
 */
to: string, } | { "event": "call_state", call: string, state: string, held_by?: string, reason?: string, code?: number, } | { "event": "call_deflected", from: string, reason: string, code: number, } | { "event": "media", call: string, codec: string, local: string, remote: string, direction: string, recording?: string, 
/**
 * The SRTP suite when media is encrypted (SDES, RFC 4568).
 */
srtp?: string, } | { "event": "dtmf", call: string, digit: string, method: string, } | { "event": "audio_device", call: string, direction: string, state: string, device: string, name?: string, 
/**
 * The device chosen is missing and the system default stands in.
 */
fell_back: boolean, } | { "event": "transfer", call: string, state: string, code?: number, } | { "event": "error", code: string, message: string, } | { "event": "teams" } & TeamsView | { "event": "call_quality" } & CallQualityView | { "event": "recording", call: string, paused: boolean, } | { "event": "media_inactivity", call: string, inactive: boolean, silent_ms?: number, } | { "event": "status" } & Status | { "event": "stopped" };

export type Status = { 
/**
 * As in the last `registration` event.
 */
registration: string, registration_reason?: string, 
/**
 * As in the last `agent_state` event.
 */
agent_state: string, agent_reason?: string, 
/**
 * `up` or `down`, as in the last `connection` event; absent before the first.
 */
connection?: string, calls: Array<CallView>, 
/**
 * As in the last `teams` event; absent when Teams sync is not configured.
 */
teams?: TeamsView, };

export type CallView = { call: string, 
/**
 * `inbound` or `outbound`.
 */
direction: string, 
/**
 * The other party: the caller's URI, or what the agent dialled.
 */
remote: string, remote_name?: string, remote_user?: string, 
/**
 * Context the platform sent with an offered call.
 */
headers: { [key in string]: string }, 
/**
 * As in the last `call_state` event.
 */
state: string, held_by?: string, muted: boolean, 
/**
 * The call's received audio is recorded (`media.record_dir`), and the recording is
 * paused (silence recorded).
 */
recorded: boolean, recording_paused: boolean, codec?: string, 
/**
 * Unix milliseconds.
 */
started_at: number, connected_at?: number, };

export type TeamsView = { 
/**
 * `starting` (no answer from Graph yet), `active` (readings go through),
 * `unavailable` (see `reason`; calls are not affected) or `signed_out` (no sign-in
 * kept: sign in to Teams).
 */
sync: string, reason?: string, 
/**
 * Teams keeps the agent busy (`not_ready` with the reason `teams_busy`).
 */
busy: boolean, 
/**
 * What Teams showed when it blocked the agent.
 */
availability?: string, activity?: string, 
/**
 * Offers turned away because of Teams since the agent started.
 */
deflected: number, 
/**
 * The colleagues directory can be searched (signed in, and offered by the settings).
 */
directory: boolean, };

export type Colleague = { 
/**
 * The Entra object id.
 */
id: string, name: string, mail?: string, job_title?: string, 
/**
 * A number to dial (normalised), from their business or mobile phone.
 */
phone?: string, 
/**
 * Graph's availability and activity (`Busy`, `InACall`, ...).
 */
availability?: string, activity?: string, };

export type CallQualityView = { call: string, codec: string, 
/**
 * RFC 3550 interarrival jitter, ms.
 */
jitter_ms: number, 
/**
 * Packets lost, packets too late to play, and audio concealed, in percent.
 */
loss_pct: number, late_pct: number, concealed_pct: number, 
/**
 * Mean wait in the jitter buffer and its target, ms.
 */
buffer_ms: number, target_ms: number, send_kbps: number, receive_kbps: number, 
/**
 * Round-trip time from RTCP, ms, once the peer reported on us.
 */
rtt_ms?: number, 
/**
 * The one-way delay the estimate assumes (half the RTT, buffer, packet, devices), ms.
 */
one_way_ms: number, 
/**
 * E-model (ITU-T G.107) mean opinion score, 1 to 4.5.
 */
mos: number, };

export type CommandError = { code: string, message: string, };

export type CallRecord = { 
/**
 * Row id, stable across restarts.
 */
id: number, 
/**
 * `inbound` or `outbound`.
 */
direction: string, 
/**
 * The other party: a SIP URI or a number.
 */
remote: string, remote_name: string | null, 
/**
 * The number or user part of `remote`, for display and redial.
 */
remote_user: string | null, 
/**
 * Context the platform sent (X-* and similar headers).
 */
headers: { [key in string]: string }, 
/**
 * Unix milliseconds.
 */
started_at: number, answered_at: number | null, ended_at: number | null, 
/**
 * How it ended (`local_hangup`, `remote_hangup`, `missed`...), once it has.
 */
end_reason: string | null, };

export type DemoEvent = { "event": "registered", contact: string, expires: number, } | { "event": "unregistered" } | { "event": "offered", call: string, customer: string, } | { "event": "call_state", call: string, state: string, } | { "event": "transfer", call: string, target: string, } | { "event": "dtmf", call: string, digit: string, } | { "event": "error", message: string, };
