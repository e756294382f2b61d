// The context a contact-center platform sends with a call, as SIP headers (X-Customer-Name
// and the like). Header names are case-insensitive.

/** Headers the UI knows, with the i18n key of their label, in the order they are shown. */
export const KNOWN_HEADERS = [
  ['X-Customer-Name', 'header_customer_name'],
  ['X-Company', 'header_company'],
  ['X-Customer-Id', 'header_customer_id'],
  ['X-Tier', 'header_tier'],
  ['X-Language', 'header_language'],
  ['X-Queue', 'header_queue'],
  ['X-Reason', 'header_reason'],
  ['User-to-User', 'header_user_to_user'],
] as const;

export type HeaderLabelKey = (typeof KNOWN_HEADERS)[number][1];

export function header(headers: Record<string, string>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const found = Object.keys(headers).find((k) => k.toLowerCase() === wanted);
  const value = found === undefined ? undefined : headers[found]?.trim();
  return value === '' ? undefined : value;
}

/** The label key of a known header; `undefined` for one shown by its own name. */
export function headerLabel(name: string): HeaderLabelKey | undefined {
  return KNOWN_HEADERS.find(([h]) => h.toLowerCase() === name.toLowerCase())?.[1];
}

/** The headers in display order: the known ones first, then the rest by name. */
export function orderedHeaders(headers: Record<string, string>): [string, string][] {
  const rank = (name: string) => {
    const i = KNOWN_HEADERS.findIndex(([h]) => h.toLowerCase() === name.toLowerCase());
    return i === -1 ? KNOWN_HEADERS.length : i;
  };
  return Object.entries(headers)
    .filter(([, v]) => v.trim() !== '')
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * A header's value as shown. User-to-User data is hex-encoded by default (RFC 7433 §4.1):
 * shown decoded when it is printable text, as sent otherwise.
 */
export function displayValue(name: string, value: string): string {
  if (name.toLowerCase() !== 'user-to-user') {
    return value;
  }
  const [data = '', ...params] = value.split(';').map((p) => p.trim());
  const encoding = params.find((p) => p.toLowerCase().startsWith('encoding='))?.slice(9) ?? 'hex';
  if (encoding.toLowerCase() !== 'hex' || !/^(?:[0-9a-f]{2})+$/i.test(data)) {
    return value;
  }
  const bytes = data.match(/../g)?.map((h) => parseInt(h, 16)) ?? [];
  const printable = bytes.every((b) => b >= 0x20 && b < 0x7f);
  return printable ? String.fromCharCode(...bytes) : value;
}

export interface Profile {
  name?: string;
  company?: string;
  customerId?: string;
  tier?: string;
  language?: string;
  queue?: string;
  reason?: string;
}

/** What the headers tell about the customer; the display name stands in for a missing name. */
export function profile(headers: Record<string, string>, displayName?: string): Profile {
  return {
    name: header(headers, 'X-Customer-Name') ?? displayName,
    company: header(headers, 'X-Company'),
    customerId: header(headers, 'X-Customer-Id'),
    tier: header(headers, 'X-Tier'),
    language: header(headers, 'X-Language'),
    queue: header(headers, 'X-Queue'),
    reason: header(headers, 'X-Reason'),
  };
}
