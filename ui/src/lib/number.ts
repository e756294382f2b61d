// What a typed or pasted number will dial, for the hint under the number field. It follows
// `parse_typed` in core/src/link.rs; the backend has the last word when dialling.

const SEPARATORS = new Set([' ', '-', '.', '/', '(', ')', '\u00a0']);
const SCHEMES = ['sip:', 'sips:', 'tel:', 'callto:'];

function phoneNumber(text: string): string | null {
  let out = '';
  for (const [i, c] of [...text].entries()) {
    if (/[0-9*#]/.test(c)) out += c;
    else if (c === '+' && i === 0) out += c;
    else if (!SEPARATORS.has(c)) return null;
  }
  if (out.startsWith('00')) out = `+${out.slice(2)}`;
  const digits = out.replace(/\D/g, '').length;
  if (digits === 0 || out.length > 32 || (out.startsWith('+') && (digits < 4 || digits > 15))) {
    return null;
  }
  return out;
}

/** The normalised number or SIP address, or `null` when it will not dial. */
export function previewNumber(input: string): string | null {
  const text = input.trim();
  if (text === '') return null;
  const lower = text.toLowerCase();
  const scheme = SCHEMES.find((s) => lower.startsWith(s));
  if (scheme === 'tel:' || scheme === 'callto:') {
    // Parameters (`;ext=`, `;phone-context=`) are the backend's business.
    const rest = text.slice(scheme.length).split(';')[0] ?? '';
    return phoneNumber(rest.replace(/^\/\//, '').replace(/\/$/, ''));
  }
  if (scheme !== undefined) return /^sips?:[^@\s]+@[^@\s]+$/i.test(text) ? text : null;
  if (text.includes(':')) return null;
  if (text.includes('@')) return /^[^@\s]+@[^@\s]+$/.test(text) ? `sip:${text}` : null;
  return phoneNumber(text);
}

/** The number or user of an address (`sip:+4930123@host` → `+4930123`). */
export function userPart(address: string): string {
  const bare = address.trim().replace(/^<?(sips?|tel):/i, '');
  const at = bare.indexOf('@');
  return at === -1 ? bare.replace(/[;>].*$/, '') : bare.slice(0, at);
}

/** A key to compare two parties' numbers or addresses by. */
export function partyKey(remote: string): string {
  const user = userPart(remote);
  return (phoneNumber(user) ?? user).toLowerCase();
}
