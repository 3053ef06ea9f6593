/**
 * `#/referrals`: invite friends. The member's code and link (with a QR code drawn by the app's
 * own encoder from the link, the same text the API's `qr.svg` carries), the rules, the friends
 * who joined with it and where each stands, and a field to enter a code if a friend sent one.
 * Read live from `GET /api/v1/me/referrals`; offline, the view says so. Every word comes from
 * the member catalogue (`referrals.*`).
 */

import { api } from "../api.js";
import { t } from "../i18n.js";
import { drawQr } from "../qr.js";
import { navigate } from "../router.js";
import { getDeviceId, getSession } from "../session.js";
import {
  busy,
  field,
  formatMoney,
  formatPoints,
  formatTime,
  formValues,
  h,
  loading,
  notAvailableBox,
  offlineBox,
  problemBox,
  replace,
  toast,
} from "../ui.js";

const STATUSES = new Set(["pending", "qualified", "rewarded", "rejected"]);

function statusText(status) {
  return STATUSES.has(status) ? t(`referrals.status.${status}`) : status;
}

function rulesText(rules) {
  const reward =
    rules.reward_kind === "coupon"
      ? t("referrals.rewardCoupon", { amount: formatMoney(rules.coupon_cents) })
      : t("referrals.rewardPoints", { referrer: formatPoints(rules.referrer_points), referee: formatPoints(rules.referee_points) });
  return t("referrals.rules", { amount: formatMoney(rules.min_purchase_cents), reward, days: rules.refund_window_days });
}

function referralItem(referral) {
  const when = referral.rewarded_at || referral.qualified_at || referral.joined_at;
  return h(
    "li",
    { class: `card-surface referral state-${referral.status}` },
    h("span", { class: "chip" }, statusText(referral.status)),
    h("p", { class: "hint" }, formatTime(when, { dateOnly: true })),
  );
}

function claimForm(reload) {
  const message = h("div", { class: "message", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "stack", "aria-label": t("referrals.claimLabel"), novalidate: true },
    field(t("referrals.claimField"), { name: "code", autocomplete: "off", required: true, maxlength: 32 }),
    message,
    h("button", { type: "submit", class: "secondary" }, t("referrals.claimButton")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = busy(form);
    replace(message);
    try {
      await api("/me/referrals/claim", {
        method: "POST",
        session: "member",
        body: { code: formValues(form).code, device_id: getDeviceId() },
      });
      reload();
    } catch (error) {
      replace(message, problemBox(error));
    } finally {
      done();
    }
  });
  return form;
}

/** Render the referrals view. */
export function renderReferrals(outlet) {
  if (!getSession("member")) {
    navigate("/login");
    return undefined;
  }
  const status = h("div", { "aria-live": "polite" }, loading());
  const body = h("div", { class: "stack" });
  outlet.append(h("section", { class: "view view-referrals" }, status, body));

  async function load() {
    replace(status, loading());
    body.replaceChildren();
    try {
      const data = await api("/me/referrals", { session: "member" });
      replace(status);
      const canvas = h("canvas", { class: "qr", id: "referral-qr", role: "img", "aria-label": t("referrals.qrLabel") });
      drawQr(canvas, data.link, { pixelsPerModule: 4 });
      const share = h("button", { type: "button", class: "primary" }, t("referrals.share"));
      share.addEventListener("click", async () => {
        if (navigator.share) {
          await navigator.share({ title: t("referrals.shareTitle"), url: data.link }).catch(() => {});
        } else if (navigator.clipboard) {
          await navigator.clipboard.writeText(data.link);
          toast(t("referrals.copied"));
        }
      });
      body.append(
        h(
          "div",
          { class: "card-surface" },
          h("p", { class: "balance-label" }, t("referrals.yourCode")),
          h("p", {}, h("code", { id: "referral-code", class: "coupon-code" }, data.code)),
          h("div", { class: "qr-frame small" }, canvas),
          h("p", { class: "hint", id: "referral-link" }, data.link),
          share,
          h("p", { class: "hint" }, rulesText(data.rules)),
        ),
        h(
          "p",
          { id: "referral-summary" },
          data.converted === 1 ? t("referrals.rewardedOne") : t("referrals.rewardedMany", { count: formatPoints(data.converted) }),
          data.points_earned ? t("referrals.pointsEarned", { points: formatPoints(data.points_earned) }) : "",
        ),
        h("ul", { class: "referrals", "aria-label": t("referrals.friendsLabel") }, ...data.referrals.map(referralItem)),
      );
      if (data.referred_by) {
        body.append(h("p", { class: "hint" }, t("referrals.referredBy", { status: statusText(data.referred_by.status) })));
      } else {
        body.append(claimForm(load));
      }
    } catch (error) {
      if (error.routeMissing) replace(status, notAvailableBox(t("referrals.what")));
      else if (error.type === "offline") replace(status, offlineBox(t("referrals.what"), load));
      else replace(status, problemBox(error, { retry: load }));
    }
  }

  load();
  return undefined;
}
