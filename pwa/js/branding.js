/**
 * The shop's branding in every app: name, colours and logo from `GET /api/v1/branding`.
 *
 * The answer is kept in localStorage, so the next start shows the shop's colours at once
 * (and offline); a fresh copy is fetched on every start and whenever the back office saves
 * a change (`lw:branding-changed`). The primary colour becomes `--brand` (top bar, buttons,
 * links), the accent `--gold` (highlights, focus ring); the name replaces the product's name
 * in the top bar and the window title.
 */

const STORAGE_KEY = "lw.branding";
const DEFAULT_NAME = "Loyalty Wallet";
let current = read();

function read() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
  } catch {
    return null;
  }
}

function darker(hex, factor = 0.75) {
  const channel = (i) => Math.round(Number.parseInt(hex.slice(i, i + 2), 16) * factor).toString(16).padStart(2, "0");
  return `#${channel(1)}${channel(3)}${channel(5)}`;
}

function paint(branding, onChange) {
  if (!branding) return;
  const root = document.documentElement.style;
  if (/^#[0-9a-f]{6}$/i.test(branding.primary_color || "")) {
    root.setProperty("--brand", branding.primary_color);
    root.setProperty("--brand-dark", darker(branding.primary_color));
    const meta = document.querySelector('meta[name="theme-color"]');
    if (meta) meta.setAttribute("content", branding.primary_color);
  }
  if (/^#[0-9a-f]{6}$/i.test(branding.accent_color || "")) root.setProperty("--gold", branding.accent_color);
  const logo = document.getElementById("brand-logo-img");
  if (logo) {
    logo.hidden = !branding.logo_url;
    if (branding.logo_url) logo.src = branding.logo_url;
  }
  onChange();
}

/** The shop's name (the product's name until the shop has one). */
export function shopName() {
  return (current && current.name) || DEFAULT_NAME;
}

/** Apply the saved branding now, then fetch the current one; `onChange` redraws titles. */
export function applyBranding(onChange = () => {}) {
  paint(current, onChange);
  const refresh = async () => {
    try {
      const response = await fetch("/api/v1/branding", { cache: "no-store", credentials: "omit" });
      if (!response.ok) return;
      current = await response.json();
      localStorage.setItem(STORAGE_KEY, JSON.stringify(current));
      paint(current, onChange);
    } catch {
      // offline: the saved branding stays
    }
  };
  window.addEventListener("lw:branding-changed", refresh);
  return refresh();
}
