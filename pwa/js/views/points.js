/**
 * `#/points`: balance, tier and progress, points about to expire, and the history.
 *
 * Everything here is read live (`GET /api/v1/me`, `/me/points/expiring`, `/me/ledger`) and
 * nothing is cached: offline, the view says so instead of showing numbers that may be stale.
 * The history is paginated by the API (`page`, `page_size`, `X-Pagination`), newest first.
 */

import { api, callApi } from "../api.js";
import { navigate } from "../router.js";
import { getSession } from "../session.js";
import {
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

const PAGE_SIZE = 20;
const KIND_LABELS = {
  earn: "Purchase",
  refund: "Refund",
  reward: "Reward",
  adjust: "Adjustment",
  expire: "Expired",
  bonus: "Bonus",
  reversal: "Reversal",
};

function tierPanel(me) {
  const progress = me.tier_progress;
  const current = progress && progress.current ? progress.current : null;
  const tierName = current ? current.name || humanise(current.code) : humanise(me.tier);
  const panel = h(
    "div",
    { class: "card-surface balance" },
    h("p", { class: "balance-label" }, "Your balance"),
    h("p", { class: "balance-value", id: "points-balance" }, formatPoints(me.points_balance), h("span", { class: "unit" }, " points")),
    h("p", {}, h("span", { class: "chip" }, `${tierName} tier`)),
  );
  if (me.points_balance < 0) {
    panel.append(
      h("p", { class: "hint" }, "A refund took back points you had already used. New purchases pay this back; until then points can't be spent."),
    );
  }
  if (progress && progress.next) {
    const target = progress.next.threshold_points || 1;
    const meter = h("progress", { max: target, value: Math.min(progress.points_in_window, target), "aria-label": `Progress to ${progress.next.name}` });
    panel.append(
      meter,
      h(
        "p",
        { class: "hint" },
        `${formatPoints(progress.points_needed)} more points within ${progress.window_days} days to reach ${progress.next.name}.`,
      ),
    );
  } else if (progress) {
    panel.append(h("p", { class: "hint" }, "You're at the top tier."));
  }
  if (progress && progress.held_until && current && current.threshold_points > 0) {
    panel.append(h("p", { class: "hint" }, `Your tier is kept at least until ${formatTime(progress.held_until, { dateOnly: true })}.`));
  }
  if (current && Array.isArray(current.benefits) && current.benefits.length) {
    panel.append(h("ul", { class: "benefits" }, current.benefits.map((benefit) => h("li", {}, benefit))));
  }
  return panel;
}

function expiringPanel(expiring) {
  const soon = (expiring.expiring || []).filter((item) => item.points > 0);
  if (!soon.length) return null;
  return h(
    "div",
    { class: "notice" },
    h("h3", {}, "Points expiring"),
    h(
      "ul",
      {},
      soon.map((item) => h("li", {}, `${formatPoints(item.points)} points on ${formatTime(item.expires_at, { dateOnly: true })}`)),
    ),
    h("p", { class: "hint" }, "Collecting or spending points keeps them alive."),
  );
}

function entryRow(entry) {
  const positive = entry.points >= 0;
  return h(
    "li",
    { class: "entry" },
    h(
      "div",
      { class: "entry-main" },
      h("span", { class: "entry-kind" }, KIND_LABELS[entry.kind] || humanise(entry.kind)),
      h("span", { class: "entry-time" }, formatTime(entry.created_at)),
      entry.reason ? h("span", { class: "entry-reason" }, entry.reason) : null,
    ),
    h("span", { class: positive ? "entry-points plus" : "entry-points minus" }, `${positive ? "+" : "−"}${formatPoints(Math.abs(entry.points))}`),
  );
}

/** Render the points view. */
export function renderPoints(outlet) {
  if (!getSession("member")) {
    navigate("/login");
    return undefined;
  }
  const summary = h("div", { id: "points-summary", "aria-live": "polite" }, loading());
  const expiringBox = h("div");
  const list = h("ul", { class: "entries", "aria-label": "Points history" });
  const historyStatus = h("div");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show more");
  const root = h(
    "section",
    { class: "view view-points" },
    summary,
    expiringBox,
    h("p", {}, h("a", { href: "#/referrals", id: "invite-link" }, "Invite friends and earn points")),
    h("h2", {}, "History"),
    list,
    historyStatus,
    more,
  );
  outlet.append(root);
  let page = 1;

  async function loadSummary() {
    replace(summary, loading());
    try {
      const me = await api("/me", { session: "member" });
      replace(summary, tierPanel(me));
    } catch (error) {
      replace(summary, error.type === "offline" ? offlineBox("Points", loadAll) : problemBox(error, { retry: loadAll }));
    }
    try {
      const expiring = await api("/me/points/expiring", { session: "member" });
      replace(expiringBox, expiringPanel(expiring));
    } catch {
      replace(expiringBox); // optional information: its absence is not worth an error
    }
  }

  async function loadHistory() {
    more.hidden = true;
    replace(historyStatus, loading());
    try {
      const { data, response } = await callApi(`/me/ledger?page=${page}&page_size=${PAGE_SIZE}`, { session: "member" });
      const entries = Array.isArray(data) ? data : data.items || [];
      list.append(...entries.map(entryRow));
      replace(historyStatus, page === 1 && !entries.length ? h("p", { class: "hint" }, "Nothing yet: your purchases and rewards will show here.") : null);
      let hasMore = entries.length === PAGE_SIZE;
      try {
        const pagination = JSON.parse(response.headers.get("X-Pagination") || "null");
        if (pagination) hasMore = Boolean(pagination.next_page);
      } catch {
        // keep the guess from the page size
      }
      more.hidden = !hasMore;
    } catch (error) {
      if (error.routeMissing) replace(historyStatus, notAvailableBox("The points history"));
      else if (error.type === "offline") replace(historyStatus, page === 1 ? null : offlineBox("Older entries"));
      else replace(historyStatus, problemBox(error));
    }
  }

  function loadAll() {
    page = 1;
    list.replaceChildren();
    loadSummary();
    loadHistory();
  }

  more.addEventListener("click", () => {
    page += 1;
    loadHistory();
  });
  loadAll();
  return undefined;
}
