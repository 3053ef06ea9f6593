/**
 * `#/points`: balance, tier and progress, points about to expire, and the history.
 *
 * Everything here is read live (`GET /api/v1/me`, `/me/points/expiring`, `/me/ledger`) and
 * nothing is cached: offline, the view says so instead of showing numbers that may be stale.
 * The history is paginated by the API (`page`, `page_size`, `X-Pagination`), newest first;
 * each purchase or refund names the store, the receipt's amount and its number. The member's
 * stamp cards (`GET /api/v1/me/stamps`) show how many stamps each has and what they lead to.
 */

import { api, callApi } from "../api.js";
import { navigate } from "../router.js";
import { t } from "../i18n.js";
import { getSession } from "../session.js";
import {
  describeBenefit,
  formatMoney,
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
const KINDS = new Set(["earn", "refund", "reward", "adjust", "expire", "bonus", "reversal"]);

function tierPanel(me) {
  const progress = me.tier_progress;
  const current = progress && progress.current ? progress.current : null;
  const tierName = current ? current.name || humanise(current.code) : humanise(me.tier);
  const panel = h(
    "div",
    { class: "card-surface balance" },
    h("p", { class: "balance-label" }, t("points.balance")),
    h("p", { class: "balance-value", id: "points-balance" }, formatPoints(me.points_balance), h("span", { class: "unit" }, ` ${t("points.unit")}`)),
    h("p", {}, h("span", { class: "chip", id: "tier-name" }, t("points.tier", { tier: tierName }))),
  );
  if (me.points_balance < 0) {
    panel.append(
      h("p", { class: "hint" }, t("points.negative")),
    );
  }
  if (progress && progress.next) {
    const target = progress.next.threshold_points || 1;
    const meter = h("progress", { max: target, value: Math.min(progress.points_in_window, target), "aria-label": t("points.progressTo", { tier: progress.next.name }) });
    panel.append(
      meter,
      h(
        "p",
        { class: "hint" },
        t("points.toNext", { points: formatPoints(progress.points_needed), days: progress.window_days, tier: progress.next.name }),
      ),
    );
  } else if (progress) {
    panel.append(h("p", { class: "hint" }, t("points.top")));
  }
  if (progress && progress.held_until && current && current.threshold_points > 0) {
    panel.append(h("p", { class: "hint" }, t("points.heldUntil", { date: formatTime(progress.held_until, { dateOnly: true }) })));
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
    h("h3", {}, t("points.expiring")),
    h(
      "ul",
      {},
      soon.map((item) => h("li", {}, t("points.expiringOn", { points: formatPoints(item.points), date: formatTime(item.expires_at, { dateOnly: true }) }))),
    ),
    h("p", { class: "hint" }, t("points.keepAlive")),
  );
}

function receiptLine(entry) {
  const parts = [];
  if (entry.amount_cents !== null && entry.amount_cents !== undefined) parts.push(formatMoney(entry.amount_cents, entry.currency || "EUR"));
  if (entry.reference_type === "receipt" && entry.reference_id) parts.push(t("points.receipt", { receipt: entry.reference_id }));
  return parts.length ? h("span", { class: "entry-receipt" }, parts.join(" · ")) : null;
}

function stampsPanel(cards) {
  if (!cards.length) return null;
  return h(
    "div",
    { class: "card-surface stamps", id: "stamp-cards" },
    h("h2", {}, t("points.stamps")),
    h(
      "ul",
      { class: "stamp-cards" },
      cards.map((card) => {
        const needed = card.stamps_needed || 1;
        const stamps = Math.min(card.stamps, needed);
        return h(
          "li",
          { class: "stamp-card" },
          h("p", { class: "stamp-name" }, t("points.stampsLabel", { name: card.name, stamps, needed })),
          h(
            "div",
            { class: "stamp-row", "aria-hidden": "true" },
            Array.from({ length: needed }, (_, index) => h("span", { class: index < stamps ? "stamp filled" : "stamp" })),
          ),
          card.reward ? h("p", { class: "hint" }, t("points.stampsLeft", { left: needed - stamps, reward: describeBenefit(card.reward) })) : null,
          card.rewards_issued ? h("p", { class: "hint" }, t("points.stampsEarned", { count: card.rewards_issued })) : null,
        );
      }),
    ),
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
      h("span", { class: "entry-kind" }, KINDS.has(entry.kind) ? t(`points.kind.${entry.kind}`) : humanise(entry.kind)),
      h("span", { class: "entry-time" }, [formatTime(entry.created_at), entry.store_name].filter(Boolean).join(" · ")),
      receiptLine(entry),
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
  const stampsBox = h("div");
  const list = h("ul", { class: "entries", "aria-label": t("points.historyLabel") });
  const historyStatus = h("div");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, t("points.showMore"));
  const root = h(
    "section",
    { class: "view view-points" },
    summary,
    expiringBox,
    stampsBox,
    h("p", {}, h("a", { href: "#/referrals", id: "invite-link" }, t("points.invite"))),
    h("h2", {}, t("points.history")),
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
      replace(summary, error.type === "offline" ? offlineBox(t("points.what"), loadAll) : problemBox(error, { retry: loadAll }));
    }
    try {
      const expiring = await api("/me/points/expiring", { session: "member" });
      replace(expiringBox, expiringPanel(expiring));
    } catch {
      replace(expiringBox); // optional information: its absence is not worth an error
    }
    try {
      replace(stampsBox, stampsPanel(await api("/me/stamps", { session: "member" })));
    } catch {
      replace(stampsBox); // likewise
    }
  }

  async function loadHistory() {
    more.hidden = true;
    replace(historyStatus, loading());
    try {
      const { data, response } = await callApi(`/me/ledger?page=${page}&page_size=${PAGE_SIZE}`, { session: "member" });
      const entries = Array.isArray(data) ? data : data.items || [];
      list.append(...entries.map(entryRow));
      replace(historyStatus, page === 1 && !entries.length ? h("p", { class: "hint" }, t("points.empty")) : null);
      let hasMore = entries.length === PAGE_SIZE;
      try {
        const pagination = JSON.parse(response.headers.get("X-Pagination") || "null");
        if (pagination) hasMore = Boolean(pagination.next_page);
      } catch {
        // keep the guess from the page size
      }
      more.hidden = !hasMore;
    } catch (error) {
      if (error.routeMissing) replace(historyStatus, notAvailableBox(t("points.historyWhat")));
      else if (error.type === "offline") replace(historyStatus, page === 1 ? null : offlineBox(t("points.olderWhat")));
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
