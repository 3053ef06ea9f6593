/**
 * Talking to the Loyalty Wallet API.
 *
 * Every call goes to the network (`cache: "no-store"`, and the service worker never answers
 * `/api/` from its cache), so a balance on screen is always the server's current one. Errors
 * become an `ApiError` carrying the problem+json document (`type`, `title`, `status`,
 * `detail`); views show `detail`, never a raw error. A failed connection becomes an
 * `ApiError` of type `offline`, an answer that is not problem+json one of type `http-error`.
 *
 * Access tokens live 15 minutes. A `401 token-expired` answer triggers one refresh with the
 * session's refresh token (which the server rotates) and one retry; refreshes of a session are
 * shared, so two calls failing at once never spend the same refresh token twice (the server
 * would see that as theft and end the login).
 */

import { currentLanguage } from "./i18n.js";
import { clearSession, getSession, updateTokens } from "./session.js";

export const API_ROOT = "/api/v1";

/** An API refusal or a failed connection, with the problem document's fields. */
export class ApiError extends Error {
  constructor(problem, status) {
    super(problem.detail || problem.title || problem.type);
    this.name = "ApiError";
    this.type = problem.type || "http-error";
    this.title = problem.title || "Error";
    this.status = status;
    this.detail = problem.detail || problem.title || "Something went wrong.";
    this.problem = problem;
  }

  /** Return whether the request may have been lost on the way, so a retry is the answer. */
  get retryable() {
    return this.type === "offline" || this.status >= 500 || this.type === "conflict";
  }

  /** Return whether the server has no such route yet (a feature not deployed). */
  get routeMissing() {
    return this.status === 404 && this.type === "not-found";
  }
}

const OFFLINE_PROBLEM = {
  type: "offline",
  title: "Offline",
  detail: "No connection to the server. Check the network and try again.",
};

const refreshes = new Map();

async function send(path, { method, body, token, idempotencyKey, accept, extraHeaders }) {
  const headers = {
    ...extraHeaders,
    Accept: accept || "application/json, application/problem+json",
    // Problem titles come back in the app's language (the views word most messages themselves).
    "Accept-Language": currentLanguage() === "de" ? "de, en;q=0.5" : "en, de;q=0.5",
  };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  try {
    return await fetch(API_ROOT + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(OFFLINE_PROBLEM, 0);
  }
}

async function problemOf(response) {
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) {
    try {
      return await response.json();
    } catch {
      // fall through to the generic problem below
    }
  }
  return {
    type: "http-error",
    title: "Server error",
    detail: `The server answered with an error (HTTP ${response.status}). Try again in a moment.`,
  };
}

async function refreshSession(kind) {
  if (!refreshes.has(kind)) {
    const attempt = (async () => {
      const session = getSession(kind);
      if (!session || !session.refresh_token) return false;
      const response = await send("/auth/refresh", {
        method: "POST",
        body: { refresh_token: session.refresh_token },
      });
      if (!response.ok) {
        const problem = await problemOf(response);
        if (response.status === 401) {
          clearSession(kind);
          window.dispatchEvent(new CustomEvent("lw:session-ended", { detail: { kind } }));
        }
        throw new ApiError(problem, response.status);
      }
      const pair = await response.json();
      updateTokens(kind, pair.access_token, pair.refresh_token);
      return true;
    })();
    refreshes.set(kind, attempt);
    attempt.finally(() => refreshes.delete(kind)).catch(() => {});
  }
  return refreshes.get(kind);
}

/**
 * Call the API and return {data, response}.
 * `session` names whose token to send ("member", "staff", "till"); `as` is "json" or "blob";
 * `headers` are sent as well (a manager's approval, say).
 */
export async function callApi(
  path,
  { method = "GET", body, session, idempotencyKey, as = "json", accept, headers } = {},
) {
  const tokenOf = () => (session ? getSession(session)?.access_token : undefined);
  const request = { method, body, idempotencyKey, accept, extraHeaders: headers };
  let response = await send(path, { ...request, token: tokenOf() });
  if (response.status === 401 && session) {
    const problem = await problemOf(response.clone());
    if (problem.type === "token-expired" && (await refreshSession(session))) {
      response = await send(path, { ...request, token: tokenOf() });
    }
  }
  if (!response.ok) throw new ApiError(await problemOf(response), response.status);
  if (response.status === 204) return { data: null, response };
  const data = as === "blob" ? await response.blob() : await response.json();
  return { data, response };
}

/** Call the API and return the answer's body. */
export async function api(path, options = {}) {
  return (await callApi(path, options)).data;
}

/** Return a fresh Idempotency-Key (a random UUID). */
export function newIdempotencyKey() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** End a session on the server (best effort) and forget it here. */
export async function signOut(kind) {
  const session = getSession(kind);
  clearSession(kind);
  if (session && session.refresh_token) {
    try {
      await send("/auth/logout", { method: "POST", body: { refresh_token: session.refresh_token } });
    } catch {
      // Offline: the refresh token expires on its own; this device has forgotten it already.
    }
  }
}
