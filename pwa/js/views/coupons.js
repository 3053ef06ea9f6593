/**
 * `#/coupons`: the member's coupons (`GET /api/v1/me/coupons`), each with its code and a QR
 * code the till can scan. The QR is drawn here by the app's own encoder from the code text,
 * the same text the API's `qr.svg` carries.
 */

import { api } from "../api.js";
import { drawQr } from "../qr.js";
import { navigate } from "../router.js";
import { getSession } from "../session.js";
import {
  describeBenefit,
  formatMoney,
  formatTime,
  h,
  humanise,
  loading,
  notAvailableBox,
  offlineBox,
  problemBox,
  replace,
} from "../ui.js";

function validity(coupon) {
  if (coupon.state === "redeemed") return `Used ${formatTime(coupon.redeemed_at)}`;
  if (coupon.state === "voided") return "Withdrawn";
  if (coupon.state === "not-yet-valid") return `Valid from ${formatTime(coupon.valid_from, { dateOnly: true })}`;
  if (coupon.valid_until) return `Valid until ${formatTime(coupon.valid_until, { dateOnly: true })}`;
  return "No expiry";
}

function couponItem(coupon) {
  const usable = coupon.state === "active" && coupon.code;
  const qrBox = h("div", { class: "qr-frame small", hidden: true });
  const toggle = h("button", { type: "button", class: "secondary" }, "Show QR code");
  toggle.addEventListener("click", () => {
    if (qrBox.hidden && !qrBox.firstChild) {
      const canvas = h("canvas", { class: "qr", role: "img", "aria-label": `Coupon ${coupon.code} as a QR code` });
      drawQr(canvas, coupon.code, { pixelsPerModule: 6 });
      qrBox.append(canvas);
    }
    qrBox.hidden = !qrBox.hidden;
    toggle.textContent = qrBox.hidden ? "Show QR code" : "Hide QR code";
  });
  return h(
    "li",
    { class: `card-surface coupon state-${coupon.state}` },
    h("div", { class: "coupon-head" }, h("h3", {}, describeBenefit(coupon.benefit)), h("span", { class: "chip" }, humanise(coupon.state))),
    coupon.code ? h("p", {}, h("code", { class: "coupon-code" }, coupon.code)) : null,
    h("p", { class: "hint" }, validity(coupon), coupon.min_basket_cents ? ` · from ${formatMoney(coupon.min_basket_cents)} spend` : ""),
    usable ? toggle : null,
    qrBox,
  );
}

/** Render the coupons view. */
export function renderCoupons(outlet) {
  if (!getSession("member")) {
    navigate("/login");
    return undefined;
  }
  const status = h("div", { "aria-live": "polite" }, loading());
  const list = h("ul", { class: "coupons", "aria-label": "My coupons" });
  outlet.append(h("section", { class: "view view-coupons" }, status, list));

  async function load() {
    replace(status, loading());
    list.replaceChildren();
    try {
      const coupons = await api("/me/coupons", { session: "member" });
      const order = { active: 0, "not-yet-valid": 1, redeemed: 2, expired: 3, voided: 4 };
      coupons.sort((a, b) => (order[a.state] ?? 9) - (order[b.state] ?? 9));
      replace(status, coupons.length ? null : h("p", { class: "hint" }, "No coupons yet. Claim a reward or watch out for offers."));
      list.append(...coupons.map(couponItem));
    } catch (error) {
      if (error.routeMissing) replace(status, notAvailableBox("Coupons"));
      else if (error.type === "offline") replace(status, offlineBox("Coupons", load));
      else replace(status, problemBox(error, { retry: load }));
    }
  }
  load();
  return undefined;
}
