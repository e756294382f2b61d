// The account form as the settings dialog edits it: every field a string, codecs as an
// ordered list of switches; and back to the backend's `AccountForm`.

import type { AccountForm } from './shell';

export const CODECS = ['PCMU', 'PCMA'] as const;
export const TRANSPORTS = ['udp', 'tcp', 'tls'] as const;

export interface CodecRow {
  name: string;
  enabled: boolean;
}

export interface AccountDraft {
  username: string;
  domain: string;
  display_name: string;
  auth_username: string;
  registrar: string;
  outbound_proxy: string;
  /** `''`: as DNS says. */
  transport: string;
  codecs: CodecRow[];
  password_stored: boolean;
}

/** The form's fields that are plain text, in the order shown. */
export const TEXT_FIELDS = [
  'username',
  'domain',
  'display_name',
  'auth_username',
  'registrar',
  'outbound_proxy',
] as const;

/** The enabled codecs in their order, then the others, off. */
export function codecRows(enabled: readonly string[]): CodecRow[] {
  const rows = enabled.map((name) => ({ name, enabled: true }));
  const rest = CODECS.filter((c) => !enabled.includes(c)).map((name) => ({ name, enabled: false }));
  return [...rows, ...rest];
}

export function toDraft(form: AccountForm | null): AccountDraft {
  return {
    username: form?.username ?? '',
    domain: form?.domain ?? '',
    display_name: form?.display_name ?? '',
    auth_username: form?.auth_username ?? '',
    registrar: form?.registrar ?? '',
    outbound_proxy: form?.outbound_proxy ?? '',
    transport: form?.transport ?? '',
    codecs: codecRows(form?.codecs ?? CODECS),
    password_stored: form?.password_stored ?? false,
  };
}

const optional = (text: string) => (text.trim() === '' ? null : text.trim());

export function toForm(draft: AccountDraft): AccountForm {
  return {
    username: draft.username.trim(),
    domain: draft.domain.trim(),
    display_name: optional(draft.display_name),
    auth_username: optional(draft.auth_username),
    registrar: optional(draft.registrar),
    outbound_proxy: optional(draft.outbound_proxy),
    transport: optional(draft.transport),
    codecs: draft.codecs.filter((c) => c.enabled).map((c) => c.name),
    password_stored: draft.password_stored,
  };
}
