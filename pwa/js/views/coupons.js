/**
 * `#/coupons`: the member's coupons (`GET /api/v1/me/coupons`), each with its code and a QR
 * code the till can scan. The QR is drawn here by the app's own encoder from the code text,
 * the same text the API's `qr.svg` carries.
 */

import { api } from "../api.js";
import { drawQr } from "../qr.js";
import { navigate } from "../router.js";
import { t } from "../i18n.js";
import { getSession } from "../session.js";
import {
  describeBenefit,
  formatMoney,
  formatTime,
  h,
  loading,
  notAvailableBox,
  offlineBox,
  problemBox,
  replace,
} from "../ui.js";

function validity(coupon) {
  if (coupon.state === "redeemed") return t("coupons.used", { date: formatTime(coupon.redeemed_at) });
  if (coupon.state === "voided") return t("coupons.withdrawn");
  if (coupon.state === "not-yet-valid") return t("coupons.validFrom", { date: formatTime(coupon.valid_from, { dateOnly: true }) });
  if (coupon.valid_until) return t("coupons.validUntil", { date: formatTime(coupon.valid_until, { dateOnly: true }) });
  return t("coupons.noExpiry");
}

function couponItem(coupon, rewardNames) {
  const usable = coupon.state === "active" && coupon.code;
  const qrBox = h("div", { class: "qr-frame small", hidden: true });
  const toggle = h("button", { type: "button", class: "secondary" }, t("coupons.showQr"));
  toggle.addEventListener("click", () => {
    if (qrBox.hidden && !qrBox.firstChild) {
      const canvas = h("canvas", { class: "qr", role: "img", "aria-label": t("coupons.qrLabel", { code: coupon.code }) });
      drawQr(canvas, coupon.code, { pixelsPerModule: 6 });
      qrBox.append(canvas);
    }
    qrBox.hidden = !qrBox.hidden;
    toggle.textContent = qrBox.hidden ? t("coupons.showQr") : t("coupons.hideQr");
  });
  return h(
    "li",
    { class: `card-surface coupon state-${coupon.state}` },
    h("div", { class: "coupon-head" }, h("h3", {}, rewardNames.get(coupon.coupon_id) || describeBenefit(coupon.benefit)), h("span", { class: "chip" }, t(`coupons.state.${coupon.state}`))),
    rewardNames.has(coupon.coupon_id) ? h("p", { class: "coupon-benefit" }, describeBenefit(coupon.benefit)) : null,
    coupon.code ? h("p", {}, h("code", { class: "coupon-code" }, coupon.code)) : null,
    h("p", { class: "hint" }, validity(coupon), coupon.min_basket_cents ? t("coupons.minSpend", { amount: formatMoney(coupon.min_basket_cents) }) : ""),
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
  const list = h("ul", { class: "coupons", "aria-label": t("coupons.label") });
  outlet.append(h("section", { class: "view view-coupons" }, status, list));

  async function load() {
    replace(status, loading());
    list.replaceChildren();
    try {
      const [coupons, claims] = await Promise.all([
        api("/me/coupons", { session: "member" }),
        api("/me/rewards/claims", { session: "member" }).catch(() => []),
      ]);
      // A coupon that came from a reward is called by the reward's name.
      const rewardNames = new Map(claims.filter((c) => c.coupon_id).map((c) => [c.coupon_id, c.reward_name]));
      const order = { active: 0, "not-yet-valid": 1, redeemed: 2, expired: 3, voided: 4 };
      coupons.sort((a, b) => (order[a.state] ?? 9) - (order[b.state] ?? 9));
      replace(status, coupons.length ? null : h("p", { class: "hint" }, t("coupons.none")));
      list.append(...coupons.map((coupon) => couponItem(coupon, rewardNames)));
    } catch (error) {
      if (error.routeMissing) replace(status, notAvailableBox(t("coupons.what")));
      else if (error.type === "offline") replace(status, offlineBox(t("coupons.what"), load));
      else replace(status, problemBox(error, { retry: load }));
    }
  }
  load();
  return undefined;
}
