/**
 * The shop's branding (`GET /api/v1/branding`): name, logo and colours, so nothing a member or
 * cashier sees is hard-coded to "Loyalty Wallet".
 *
 * The last answer is kept in localStorage and applied at once on the next start (also offline);
 * a fresh one is fetched in the background. Colours become the CSS variables `--brand` and
 * `--accent` (only `#rrggbb` values are taken, so a bad setting cannot inject CSS).
 */

import { api } from "./api.js";

const STORAGE_KEY = "lw.branding";
const COLOUR = /^#[0-9a-fA-F]{6}$/;
const DEFAULT_BRANDING = { name: "Loyalty Wallet", logo_url: "/pwa/icons/icon-192.png", primary_color: "#2b2d77", accent_color: "#e4572e" };

let current = readSaved();
let pending = null;

function readSaved() {
  try {
    return { ...DEFAULT_BRANDING, ...JSON.parse(localStorage.getItem(STORAGE_KEY) || "{}") };
  } catch {
    return { ...DEFAULT_BRANDING };
  }
}

/** Darken a #rrggbb colour by a fraction (for pressed buttons and the top bar's edge). */
function darken(hex, fraction) {
  const channels = [1, 3, 5].map((i) => Math.round(Number.parseInt(hex.slice(i, i + 2), 16) * (1 - fraction)));
  return `#${channels.map((c) => c.toString(16).padStart(2, "0")).join("")}`;
}

function apply(branding) {
  const root = document.documentElement.style;
  if (COLOUR.test(branding.primary_color || "")) {
    root.setProperty("--brand", branding.primary_color);
    root.setProperty("--brand-dark", darken(branding.primary_color, 0.35));
    document.querySelector('meta[name="theme-color"]')?.setAttribute("content", branding.primary_color);
  }
  if (COLOUR.test(branding.accent_color || "")) root.setProperty("--accent", branding.accent_color);
  window.dispatchEvent(new CustomEvent("lw:branding", { detail: branding }));
}

/** The branding known now (saved or default), without waiting for the network. */
export function branding() {
  return current;
}

/** The branding, fetched once per start (the saved one if the server can't be reached). */
export function brandingOf() {
  if (!pending) {
    pending = api("/branding")
      .then((fresh) => {
        current = { ...DEFAULT_BRANDING, ...fresh };
        localStorage.setItem(STORAGE_KEY, JSON.stringify(current));
        apply(current);
        return current;
      })
      .catch(() => current);
  }
  return pending;
}

apply(current);
