/**
 * `#/rewards`: the active rewards and claiming one with points.
 *
 * A claim (`POST /api/v1/me/rewards/{id}/claim`) carries an Idempotency-Key made when the
 * member confirms. If the answer is lost (offline, a 5xx, a conflict), "Try again" sends the
 * same key, so the server answers the first claim again instead of spending points twice; any
 * definite answer ends that key's life and the next claim gets a new one.
 */

import { api, newIdempotencyKey } from "../api.js";
import { navigate } from "../router.js";
import { t } from "../i18n.js";
import { getSession } from "../session.js";
import {
  describeBenefit,
  describeProblem,
  formatPoints,
  formatTime,
  h,
  humanise,
  loading,
  notAvailableBox,
  offlineBox,
  problemBox,
  replace,
} from "../ui.js";

function fulfilment(status) {
  const key = `fulfilment.${status}`;
  const words = t(key);
  return words === key ? humanise(status) : words;
}

function rewardDetails(reward) {
  const details = [];
  if (reward.kind === "discount") {
    details.push(
      describeBenefit(
        reward.amount_off_cents
          ? { kind: "amount_off", amount_cents: reward.amount_off_cents }
          : { kind: "percent_off", percent: reward.percent_off, cap_cents: reward.percent_cap_cents },
      ),
    );
  } else if (reward.kind === "free_item") {
    details.push(t("rewards.freeItem"));
  } else if (reward.kind) {
    details.push(humanise(reward.kind));
  }
  if (reward.stock !== null && reward.stock !== undefined) details.push(t("rewards.left", { count: reward.stock }));
  if (reward.claims_left !== null && reward.claims_left !== undefined) details.push(t("rewards.claimsLeft", { count: reward.claims_left }));
  return details.join(" · ");
}

/** Render the rewards view. */
export function renderRewards(outlet) {
  if (!getSession("member")) {
    navigate("/login");
    return undefined;
  }
  const status = h("div", { "aria-live": "polite" }, loading());
  const list = h("ul", { class: "rewards", "aria-label": t("rewards.label") });
  const history = h("div", { id: "claim-history" });
  outlet.append(h("section", { class: "view view-rewards" }, status, list, history));
  const pendingKeys = new Map();
  const claimButtons = new Map(); // reward id → function that redraws its claim button
  let balance = null; // known after a claim; until then the API's `affordable` decides

  function claimResult(answer) {
    const lines = [h("p", {}, h("strong", {}, t("rewards.claimed")), ` ${t("rewards.spent", { points: formatPoints(answer.points_spent), balance: formatPoints(answer.points_balance) })}`)];
    if (answer.coupon) {
      lines.push(h("p", {}, `${t("rewards.yourCoupon")} `, h("code", { class: "coupon-code" }, answer.coupon.code), " — ", h("a", { href: "#/coupons" }, t("rewards.seeCoupons"))));
    }
    if (answer.fulfilment_status) lines.push(h("p", { class: "hint" }, t("rewards.delivery", { status: fulfilment(answer.fulfilment_status) })));
    return h("div", { class: "success", role: "status" }, lines);
  }

  async function claim(reward, message, actions) {
    if (!pendingKeys.has(reward.id)) pendingKeys.set(reward.id, newIdempotencyKey());
    const buttons = [...actions.querySelectorAll("button")];
    buttons.forEach((button) => (button.disabled = true));
    replace(message, loading(t("rewards.claiming")));
    try {
      const answer = await api(`/me/rewards/${reward.id}/claim`, {
        method: "POST",
        session: "member",
        idempotencyKey: pendingKeys.get(reward.id),
      });
      pendingKeys.delete(reward.id);
      replace(message, claimResult(answer));
      replace(actions);
      balance = answer.points_balance;
      claimButtons.delete(reward.id);
      for (const redraw of claimButtons.values()) redraw();
    } catch (error) {
      if (error.retryable) {
        replace(message, problemBox(`${describeProblem(error)} ${t("rewards.retryNote")}`, { retry: () => claim(reward, message, actions) }));
      } else {
        pendingKeys.delete(reward.id);
        replace(message, problemBox(error));
      }
      buttons.forEach((button) => (button.disabled = false));
    }
  }

  function rewardItem(reward) {
    const message = h("div", { "aria-live": "polite" });
    const actions = h("div", { class: "actions" });
    const affordable = () => (balance === null ? reward.affordable !== false : reward.cost_points <= balance);
    const canClaim = () => affordable() && reward.claims_left !== 0 && reward.stock !== 0;
    const shortNote = h("p", { class: "hint" }, t("rewards.notEnough"));
    const showClaim = () => {
      shortNote.hidden = affordable();
      replace(
        actions,
        h("button", { type: "button", class: "primary", disabled: !canClaim(), onclick: showConfirm }, t("rewards.claimFor", { points: formatPoints(reward.cost_points) })),
      );
    };
    claimButtons.set(reward.id, () => {
      if (actions.querySelector("button.primary") && !actions.querySelector("button.secondary")) showClaim();
    });
    const showConfirm = () =>
      replace(
        actions,
        h("button", { type: "button", class: "primary", onclick: () => claim(reward, message, actions) }, t("rewards.spend", { points: formatPoints(reward.cost_points) })),
        h("button", { type: "button", class: "secondary", onclick: showClaim }, t("rewards.cancel")),
      );
    const item = h(
      "li",
      { class: "card-surface reward", dataset: { rewardId: reward.id } },
      h("h3", {}, reward.name),
      reward.description ? h("p", {}, reward.description) : null,
      h("p", { class: "hint" }, rewardDetails(reward)),
      shortNote,
      actions,
      message,
    );
    showClaim();
    return item;
  }

  async function load() {
    replace(status, loading());
    list.replaceChildren();
    claimButtons.clear();
    balance = null;
    try {
      const rewards = await api("/rewards", { session: "member" });
      replace(status, rewards.length ? null : h("p", { class: "hint" }, t("rewards.none")));
      list.append(...rewards.map(rewardItem));
      loadClaims();
    } catch (error) {
      if (error.routeMissing) replace(status, notAvailableBox(t("rewards.catalogue")));
      else if (error.type === "offline") replace(status, offlineBox(t("rewards.what"), load));
      else replace(status, problemBox(error, { retry: load }));
    }
  }
  async function loadClaims() {
    try {
      const claims = await api("/me/rewards/claims", { session: "member" });
      replace(
        history,
        h("h2", {}, t("rewards.history")),
        claims.length
          ? h(
              "ul",
              { class: "entries", "aria-label": t("rewards.history") },
              claims.map((claim) =>
                h(
                  "li",
                  { class: "entry" },
                  h(
                    "div",
                    { class: "entry-main" },
                    h("span", { class: "entry-kind" }, claim.reward_name),
                    h("span", { class: "entry-time" }, t("rewards.claimLine", { date: formatTime(claim.claimed_at), points: formatPoints(claim.points_spent) })),
                    claim.fulfilment_status ? h("span", { class: "entry-reason" }, fulfilment(claim.fulfilment_status)) : null,
                    claim.points_returned ? h("span", { class: "entry-reason" }, t("rewards.returned")) : null,
                  ),
                ),
              ),
            )
          : h("p", { class: "hint" }, t("rewards.historyEmpty")),
      );
    } catch {
      replace(history); // the catalogue above already says what is wrong
    }
  }

  load();
  return undefined;
}
