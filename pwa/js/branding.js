/**
 * The shop's branding (`GET /api/v1/branding`): name, logo and colours, so nothing a member or
 * cashier sees is hard-coded to the product's name.
 *
 * The last answer is kept in localStorage and applied at once on the next start (also offline);
 * a fresh one is fetched on every start. The primary colour becomes `--brand` (and a darker
 * `--brand-dark`), the accent `--gold`; only `#rrggbb` values are taken, so a bad setting cannot
 * inject CSS. The logo goes into the top bar (`#brand-logo-img`); `onChange` lets the frame
 * redraw what carries the name.
 */

const STORAGE_KEY = "lw.branding";
const DEFAULT_NAME = "Loyalty Wallet";
const COLOUR = /^#[0-9a-fA-F]{6}$/;

let current = readSaved();
let listening = false;

function readSaved() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
  } catch {
    return null;
  }
}

/** Darken a #rrggbb colour by a fraction (the top bar's pressed state, links on white). */
function darken(hex, fraction) {
  const channels = [1, 3, 5].map((i) => Math.round(Number.parseInt(hex.slice(i, i + 2), 16) * (1 - fraction)));
  return `#${channels.map((c) => c.toString(16).padStart(2, "0")).join("")}`;
}

function paint(branding, onChange) {
  if (!branding) return;
  const root = document.documentElement.style;
  if (COLOUR.test(branding.primary_color || "")) {
    root.setProperty("--brand", branding.primary_color);
    root.setProperty("--brand-dark", darken(branding.primary_color, 0.35));
    document.querySelector('meta[name="theme-color"]')?.setAttribute("content", branding.primary_color);
  }
  if (COLOUR.test(branding.accent_color || "")) root.setProperty("--gold", branding.accent_color);
  const logo = document.getElementById("brand-logo-img");
  if (logo) {
    logo.hidden = !branding.logo_url;
    if (branding.logo_url && logo.getAttribute("src") !== branding.logo_url) logo.src = branding.logo_url;
  }
  onChange();
}

/** The shop's name (the product's name until the shop has one). */
export function shopName() {
  return (current && current.name) || DEFAULT_NAME;
}

/**
 * Apply the saved branding now, then fetch the current one; `onChange` redraws names. The
 * back office announces a saved change (`lw:branding-changed`), which fetches it again.
 */
export async function applyBranding(onChange = () => {}) {
  paint(current, onChange);
  if (!listening) {
    listening = true;
    window.addEventListener("lw:branding-changed", () => applyBranding(onChange));
  }
  try {
    const response = await fetch("/api/v1/branding", { cache: "no-store", credentials: "omit" });
    if (!response.ok) return;
    current = await response.json();
    localStorage.setItem(STORAGE_KEY, JSON.stringify(current));
    paint(current, onChange);
  } catch {
    // offline: the saved branding stays
  }
}
