/**
 * Who is signed in on this device, kept in localStorage.
 *
 * Three independent sessions may live side by side: a member's (`member`), a staff account's
 * for the review pages (`staff`) and a till session (`till`). Each holds the token pair the
 * API gave and a little display data. The till key is remembered on its own (`lw.till-key`)
 * so a shared till device opens its next session without retyping it; closing a session
 * keeps the key, signing out a member also forgets their cached card.
 */

const PREFIX = "lw.";

function read(name) {
  try {
    return JSON.parse(localStorage.getItem(PREFIX + name) || "null");
  } catch {
    return null;
  }
}

function write(name, value) {
  if (value === null || value === undefined) localStorage.removeItem(PREFIX + name);
  else localStorage.setItem(PREFIX + name, JSON.stringify(value));
}

/** Return the stored session of a kind ("member", "staff", "till"), or null. */
export function getSession(kind) {
  return read(`session.${kind}`);
}

/** Store a session of a kind. */
export function setSession(kind, session) {
  write(`session.${kind}`, session);
}

/** Replace the token pair of a stored session after a refresh. */
export function updateTokens(kind, accessToken, refreshToken) {
  const session = getSession(kind);
  if (session) setSession(kind, { ...session, access_token: accessToken, refresh_token: refreshToken });
}

/** Forget a session (and, for a member, the card cached for offline use). */
export function clearSession(kind) {
  write(`session.${kind}`, null);
  if (kind === "member") write("card", null);
}

/** Return the till key this device used last. */
export function getTillKey() {
  return read("till-key") || "";
}

/** Remember the till key of this device. */
export function setTillKey(key) {
  write("till-key", key);
}

/** Return the member's card as last fetched, for offline use. */
export function getCachedCard() {
  return read("card");
}

/** Keep the member's card for offline use. */
export function setCachedCard(card) {
  write("card", card);
}

/** Return this device's random id (made once), sent at sign-up and sign-in for referral checks. */
export function getDeviceId() {
  let id = read("device-id");
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    write("device-id", id);
  }
  return id;
}
