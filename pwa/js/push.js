/**
 * Web Push for members: subscribe this browser, keep the server's copy fresh, unsubscribe.
 *
 * The VAPID public key comes from the API (`GET /api/v1/push/vapid-public-key`), never from the
 * code. Subscribing needs a user gesture (the "Turn on notifications" button) and, on iOS, an
 * app installed to the Home Screen. Because subscriptions can change without notice, the app
 * sends the current one again on every start (`POST /api/v1/me/push-subscriptions` upserts by
 * endpoint). Signing out unsubscribes, so the next person on the device gets nothing of the
 * previous member's. The service worker shows the messages (`sw.js`, `push` event).
 */

import { api } from "./api.js";

/** Return whether this browser can receive Web Push at all. */
export function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (symbol) => symbol.charCodeAt(0));
}

async function currentSubscription() {
  if (!pushSupported()) return null;
  const registration = await navigator.serviceWorker.getRegistration("/");
  return registration ? registration.pushManager.getSubscription() : null;
}

async function register(subscription) {
  const { endpoint, keys } = subscription.toJSON();
  await api("/me/push-subscriptions", { method: "POST", session: "member", body: { endpoint, keys } });
}

/** Return "on", "off", "blocked" or "unsupported" for this browser. */
export async function pushState() {
  if (!pushSupported()) return "unsupported";
  if (Notification.permission === "denied") return "blocked";
  return (await currentSubscription()) ? "on" : "off";
}

/** Ask for permission and subscribe this browser for the signed-in member (a user gesture). */
export async function turnOnPush() {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") return "blocked";
  const { public_key: publicKey } = await api("/push/vapid-public-key");
  const registration = await navigator.serviceWorker.ready;
  const subscription = await registration.pushManager.subscribe({
    userVisibleOnly: true,
    applicationServerKey: keyBytes(publicKey),
  });
  await register(subscription);
  return "on";
}

/** Send this browser's subscription again (on every start; the server upserts it). */
export async function refreshPushSubscription() {
  try {
    if (!pushSupported() || Notification.permission !== "granted") return;
    const subscription = await currentSubscription();
    if (subscription) await register(subscription);
  } catch {
    // Offline or the push API missing: the next start tries again.
  }
}

/** Stop push to this browser (on sign-out); best effort. */
export async function turnOffPush() {
  try {
    const subscription = await currentSubscription();
    if (!subscription) return;
    const { endpoint } = subscription;
    await subscription.unsubscribe();
    await api("/me/push-subscriptions", { method: "DELETE", session: "member", body: { endpoint } });
  } catch {
    // The server drops endpoints that answer 404/410 when it next sends.
  }
}
