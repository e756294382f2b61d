// Generated from src-tauri/src by `UPDATE_TYPES=1 cargo test -p parley typescript`.
// Do not edit.

import type { CallRecord, Status } from "./protocol";

export type { CallRecord };

export type Overview = { version: string, mode: Mode, 
/**
 * The agent's SIP address.
 */
account: string | null, 
/**
 * Why the agent is not running, when it is not.
 */
problem: string | null, 
/**
 * The agent's state, calls and registration; absent when it is not running.
 */
status: Status | null, preferences: Preferences, 
/**
 * A problem with the preferences file (the defaults are in use until saved).
 */
preferences_problem: string | null, 
/**
 * The language to show, `system` resolved.
 */
language: Resolved, 
/**
 * The demo's sample customers (demo mode only).
 */
customers: Array<DemoCustomer>, };

export type DemoCustomer = { id: string, name: string, company: string, reason: string, };

export type RegistrationTest = { registered: boolean, 
/**
 * The registrar's reason, or why no answer came.
 */
reason?: string, code?: number, };

export type Mode = "demo" | "account";

export type Resolved = "en" | "de";

export type Preferences = { language: Language, link_action: LinkAction, 
/**
 * Reason codes offered for Not Ready, in menu order. The built-in codes (`break`,
 * `lunch`, `meeting`, `training`, `back_office`) are shown translated; others as
 * written, since an administrator chose them.
 */
not_ready_reasons: Array<string>, 
/**
 * An OS notification for an offered call while Parley is not in front.
 */
notifications: boolean, 
/**
 * The ringtone for offered calls.
 */
ringtone: boolean, 
/**
 * Answer offered calls by themselves after a short tone (replaces the account's
 * `agent.auto_answer`).
 */
auto_answer: boolean, 
/**
 * Closing the window keeps Parley running in the tray, so that calls still ring.
 */
close_to_tray: boolean, 
/**
 * In demo mode, seconds between calls the demo offers while the agent is ready and
 * idle; 0: only when asked.
 */
demo_offer_seconds: number, hotkeys: Hotkeys, audio: AudioPreferences, };

export type Language = "system" | "en" | "de";

export type LinkAction = "confirm" | "dial";

export type Hotkeys = { answer: string, decline: string, hangup: string, hold: string, mute: string, ready: string, not_ready: string, 
/**
 * Puts the cursor in the number field.
 */
dial: string, };

export type AudioPreferences = { 
/**
 * The microphone of calls.
 */
input: string | null, 
/**
 * The speaker or headset of calls.
 */
output: string | null, 
/**
 * Where the ringtone plays: speakers, so that a call is heard with the headset off.
 */
ring: string | null, };

export type AudioDevice = { id: string, name: string, is_default: boolean, };

export type AudioDevices = { inputs: Array<AudioDevice>, outputs: Array<AudioDevice>, };

export type TestSound = "speaker" | "ring";

export type AccountForm = { username: string, domain: string, display_name: string | null, 
/**
 * When the digest user name differs from `username`.
 */
auth_username: string | null, 
/**
 * Default: the domain.
 */
registrar: string | null, outbound_proxy: string | null, 
/**
 * `udp`, `tcp` or `tls`; none: as DNS says (RFC 3263).
 */
transport: string | null, 
/**
 * Codec preference, best first (`PCMU`, `PCMA`).
 */
codecs: Array<string>, 
/**
 * Read only: a password is stored in the OS keychain for this account.
 */
password_stored: boolean, };

export type TeamsForm = { enabled: boolean, tenant: string, client_id: string, 
/**
 * A Teams meeting (Busy/InAMeeting) makes the agent not ready.
 */
block_in_meeting: boolean, 
/**
 * Do not disturb makes the agent not ready.
 */
block_do_not_disturb: boolean, 
/**
 * When our "in a call" presence is cleared: `hang_up` or `wrapup_end`.
 */
clear_at: string, poll_seconds: number, 
/**
 * Offer the colleagues directory.
 */
directory: boolean, 
/**
 * Read only: a Teams sign-in is kept (in the OS keychain, by default).
 */
signed_in: boolean, };

export type DeviceCodeView = { user_code: string, verification_uri: string, 
/**
 * Entra's own sentence, in the user's language.
 */
message: string, };

export type UiError = { code: string, message: string, field?: string, };

export type LinkOffer = { 
/**
 * The link as received, made safe to show.
 */
link: string, 
/**
 * What would be dialled: a normalised number or a SIP address.
 */
target: string, };

export type LinkDialled = { link: string, target: string, call: string, };

export type LinkRefused = { link: string, code: string, message: string, };
