/**
 * `#/referrals`: invite friends. The member's code and link (with a QR code drawn by the app's
 * own encoder from the link, the same text the API's `qr.svg` carries), the rules, the friends
 * who joined with it and where each stands, and a field to enter a code if a friend sent one.
 * Read live from `GET /api/v1/me/referrals`; offline, the view says so.
 */

import { api } from "../api.js";
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

const STATUS_TEXT = {
  pending: "Joined: waiting for a first purchase",
  qualified: "Bought: reward after the return period",
  rewarded: "Rewarded",
  rejected: "Not eligible",
};

function rulesText(rules) {
  const reward =
    rules.reward_kind === "coupon"
      ? `a ${formatMoney(rules.coupon_cents)} coupon each`
      : `${formatPoints(rules.referrer_points)} points for you and ${formatPoints(rules.referee_points)} for your friend`;
  return (
    `When a friend joins with your code and spends at least ${formatMoney(rules.min_purchase_cents)}, ` +
    `you both get ${reward} once the ${rules.refund_window_days}-day return period is over.`
  );
}

function referralItem(referral) {
  const when = referral.rewarded_at || referral.qualified_at || referral.joined_at;
  return h(
    "li",
    { class: `card-surface referral state-${referral.status}` },
    h("span", { class: "chip" }, STATUS_TEXT[referral.status] || referral.status),
    h("p", { class: "hint" }, formatTime(when, { dateOnly: true })),
  );
}

function claimForm(reload) {
  const message = h("div", { class: "message", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "stack", "aria-label": "Enter a referral code", novalidate: true },
    field("A friend's referral code", { name: "code", autocomplete: "off", required: true, maxlength: 32 }),
    message,
    h("button", { type: "submit", class: "secondary" }, "Use this code"),
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
      const canvas = h("canvas", { class: "qr", id: "referral-qr", role: "img", "aria-label": "Your invitation link as a QR code" });
      drawQr(canvas, data.link, { pixelsPerModule: 4 });
      const share = h("button", { type: "button", class: "primary" }, "Share my link");
      share.addEventListener("click", async () => {
        if (navigator.share) {
          await navigator.share({ title: "Join me", url: data.link }).catch(() => {});
        } else if (navigator.clipboard) {
          await navigator.clipboard.writeText(data.link);
          toast("Link copied.");
        }
      });
      body.append(
        h(
          "div",
          { class: "card-surface" },
          h("p", { class: "balance-label" }, "Your referral code"),
          h("p", {}, h("code", { id: "referral-code", class: "coupon-code" }, data.code)),
          h("div", { class: "qr-frame small" }, canvas),
          h("p", { class: "hint", id: "referral-link" }, data.link),
          share,
          h("p", { class: "hint" }, rulesText(data.rules)),
        ),
        h(
          "p",
          { id: "referral-summary" },
          data.converted === 1 ? "1 friend rewarded" : `${data.converted} friends rewarded`,
          data.points_earned ? ` · ${formatPoints(data.points_earned)} points earned` : "",
        ),
        h("ul", { class: "referrals", "aria-label": "Friends who joined" }, ...data.referrals.map(referralItem)),
      );
      if (data.referred_by) {
        body.append(h("p", { class: "hint" }, `You joined with a friend's code: ${STATUS_TEXT[data.referred_by.status] || data.referred_by.status}.`));
      } else {
        body.append(claimForm(load));
      }
    } catch (error) {
      if (error.routeMissing) replace(status, notAvailableBox("Referrals"));
      else if (error.type === "offline") replace(status, offlineBox("Referrals", load));
      else replace(status, problemBox(error, { retry: load }));
    }
  }

  load();
  return undefined;
}
