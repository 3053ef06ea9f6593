/**
 * Strings and formats for people, in German and English.
 *
 * Every string the app shows comes from a catalogue: one object per language and area
 * (`pwa/locales/<lang>/<area>.js`, flat keys such as `"till.scan.placeholder"`, `{name}`
 * placeholders). The language is the one the person chose (kept in localStorage), else the
 * browser's first supported language, else English. Dates, times, money and numbers are
 * formatted with `Intl` for that locale, never by hand.
 */

import deCommon from "../locales/de/common.js";
import deMember from "../locales/de/member.js";
import deTill from "../locales/de/till.js";
import enCommon from "../locales/en/common.js";
import deStaff from "../locales/de/staff.js";
import enMember from "../locales/en/member.js";
import enStaff from "../locales/en/staff.js";
import enTill from "../locales/en/till.js";

export const LANGUAGES = ["de", "en"];
const STORAGE_KEY = "lw.language";

const catalogues = {
  de: { ...deCommon, ...deMember, ...deTill, ...deStaff },
  en: { ...enCommon, ...enMember, ...enTill, ...enStaff },
};

function detectLanguage() {
  const chosen = localStorage.getItem(STORAGE_KEY);
  if (LANGUAGES.includes(chosen)) return chosen;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = String(tag).slice(0, 2).toLowerCase();
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

let language = detectLanguage();

/** The current language ("de" or "en"). */
export function currentLanguage() {
  return language;
}

/** Switch the language (kept for the next visit) and mark the document with it. */
export function setLanguage(next) {
  if (!LANGUAGES.includes(next)) return;
  language = next;
  localStorage.setItem(STORAGE_KEY, next);
  document.documentElement.lang = next;
}

/** Add an area's strings to the catalogues (an area module calls this once). */
export function addStrings(byLanguage) {
  for (const [lang, strings] of Object.entries(byLanguage)) {
    Object.assign(catalogues[lang] || (catalogues[lang] = {}), strings);
  }
}

/** Whether the catalogue has a string for `key` (in the current language or English). */
export function hasString(key) {
  return key in catalogues[language] || key in catalogues.en;
}

/** The string for `key` in the current language, with `{placeholders}` filled in. */
export function t(key, params = {}) {
  const text = catalogues[language][key] ?? catalogues.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    name in params ? String(params[name]) : whole,
  );
}

/** Money from integer minor units, e.g. 123456 EUR → "1.234,56 €" in German. */
export function formatMoney(cents, currency = "EUR") {
  try {
    return new Intl.NumberFormat(language, { style: "currency", currency }).format(cents / 100);
  } catch {
    return `${new Intl.NumberFormat(language, { minimumFractionDigits: 2 }).format(cents / 100)} ${currency}`;
  }
}

/** A whole number with the locale's grouping. */
export function formatNumber(value) {
  return new Intl.NumberFormat(language).format(value);
}

/** A date and time (ISO string or Date), short and local. */
export function formatDateTime(value) {
  return new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "short" }).format(
    new Date(value),
  );
}

/** A time of day (ISO string or Date), hours and minutes. */
export function formatClock(value) {
  return new Intl.DateTimeFormat(language, { timeStyle: "short" }).format(new Date(value));
}

/** A date (ISO string or Date) without the time. */
export function formatDate(value) {
  return new Intl.DateTimeFormat(language, { dateStyle: "medium" }).format(new Date(value));
}

document.documentElement.lang = language;
