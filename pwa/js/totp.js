/**
 * The live card code, computed on the phone: RFC 6238 TOTP with WebCrypto.
 *
 * `GET /api/v1/me/card` gives the card's `rotating_prefix` (`LW2:<26 Crockford digits>:`) and
 * its TOTP parameters (RFC 4648 Base32 secret, SHA-1, 8 digits, 30-second period). The code
 * shown is the prefix plus HOTP(secret, floor(unix seconds / period)) (RFC 4226 dynamic
 * truncation). Nothing here needs the network, so the card keeps rotating offline once it was
 * fetched. WebCrypto exists only in secure contexts (HTTPS, or localhost): elsewhere
 * `canComputeLiveCode()` is false and the card view falls back to the static code.
 */

const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** Return whether this browser can compute live codes (WebCrypto in a secure context). */
export function canComputeLiveCode() {
  return Boolean(globalThis.crypto && globalThis.crypto.subtle);
}

/** Decode RFC 4648 Base32 text (padding, spaces and case ignored) into bytes. */
export function base32Decode(text) {
  const clean = String(text).replace(/[\s=]/g, "").toUpperCase();
  const bytes = [];
  let buffer = 0;
  let bitCount = 0;
  for (const symbol of clean) {
    const value = BASE32_ALPHABET.indexOf(symbol);
    if (value === -1) throw new Error(`not a Base32 symbol: ${symbol}`);
    buffer = (buffer << 5) | value;
    bitCount += 5;
    if (bitCount >= 8) {
      bitCount -= 8;
      bytes.push((buffer >>> bitCount) & 0xff);
    }
  }
  return new Uint8Array(bytes);
}

const keyCache = new Map();

async function hmacKey(secret, algorithm) {
  const cacheKey = `${algorithm}:${Array.from(secret).join(",")}`;
  if (!keyCache.has(cacheKey)) {
    keyCache.clear(); // one card at a time: keep no other card's key around
    const key = await crypto.subtle.importKey(
      "raw",
      secret,
      { name: "HMAC", hash: algorithm },
      false,
      ["sign"],
    );
    keyCache.set(cacheKey, key);
  }
  return keyCache.get(cacheKey);
}

/** Return the RFC 4226 HOTP value of a secret (bytes) for a counter. */
export async function hotp(secret, counter, { digits = 8, algorithm = "SHA-1" } = {}) {
  const message = new DataView(new ArrayBuffer(8));
  message.setUint32(0, Math.floor(counter / 2 ** 32));
  message.setUint32(4, counter >>> 0);
  const key = await hmacKey(secret, algorithm);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, message.buffer));
  const offset = mac[mac.length - 1] & 0x0f;
  const truncated =
    ((mac[offset] & 0x7f) << 24) |
    (mac[offset + 1] << 16) |
    (mac[offset + 2] << 8) |
    mac[offset + 3];
  return String(truncated % 10 ** digits).padStart(digits, "0");
}

/** Return the TOTP time step at a moment (milliseconds since the Unix epoch). */
export function totpStep(atMillis, period = 30) {
  return Math.floor(atMillis / 1000 / period);
}

/** Return the milliseconds left until the code shown at a moment changes. */
export function millisUntilNextStep(atMillis, period = 30) {
  return period * 1000 - (atMillis % (period * 1000));
}

function hashName(algorithm) {
  const name = String(algorithm || "SHA1").toUpperCase().replace("-", "");
  return { SHA1: "SHA-1", SHA256: "SHA-256", SHA512: "SHA-512" }[name] || "SHA-1";
}

/** Return the LW2 code a card (the JSON of GET /api/v1/me/card) shows at a moment. */
export async function rotatingCode(card, atMillis) {
  const { secret, digits = 8, period = 30, algorithm = "SHA1" } = card.totp;
  const otp = await hotp(base32Decode(secret), totpStep(atMillis, period), {
    digits,
    algorithm: hashName(algorithm),
  });
  return card.rotating_prefix + otp;
}
