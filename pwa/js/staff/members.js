/**
 * Members: find a member, read their ledger, adjust points with a reason, block or unblock.
 *
 * Finding: by member number (id) on every server; by name or e-mail once the member search
 * API (`GET /members?q=`) is deployed. The detail shows the name, balance, tier and block
 * state (`GET /members/{id}` where the member API is deployed, with stage, health and its
 * factors, recent purchases and coupons; else `GET /members/{id}/points`), the ledger newest first, 20 entries a page
 * (`GET /members/{id}/ledger?page=`), a manual adjustment with its reason
 * (`POST /members/{id}/ledger`: audited in the ledger itself, with the staff member who made
 * it), and block/unblock (`POST /fraud/blocks`, `DELETE /fraud/blocks/member/{id}`), each
 * confirmed first. Stage, health, consent, export and deletion appear when their APIs exist.
 */

import { callApi } from "../api.js";
import { formatMoney, formatNumber, t } from "../i18n.js";
import { describeBenefit, h, humanise, replace } from "../ui.js";
import { call, confirmButton, tOr, failure, input, intOf, pageHead, panel, problemAlert, submitting, success, table, when } from "./common.js";

const PAGE_SIZE = 20;

export async function render(container, { params }) {
  const results = h("div", { class: "member-results", "aria-live": "polite" });
  const detail = h("div", { class: "member-detail", id: "member-detail" });
  const form = h(
    "form",
    { class: "card-surface row", role: "search", "aria-label": t("staff.members.find") },
    h("div", { class: "grow" }, input(t("staff.members.query"), { name: "q", id: "member-query", required: true, maxlength: 120, autocomplete: "off" }, { hint: t("staff.members.queryHint") })),
    h("button", { type: "submit", class: "primary" }, t("staff.members.findButton")),
  );
  submitting(form, {
    send: async (f) => {
      const text = f.elements.q.value.trim();
      if (/^\d+$/.test(text)) return { id: intOf(text) };
      return { list: await search(text) };
    },
    done: (answer) => {
      replace(results);
      if (answer.id !== undefined) {
        location.hash = `#/staff?page=members&member=${answer.id}`;
        return;
      }
      replace(results, resultList(answer.list));
    },
  });
  container.append(pageHead(t("staff.nav.members"), t("staff.members.intro")), form, results, detail);
  const memberId = intOf(params.get("member"));
  if (memberId) await showMember(detail, memberId);
}

async function search(text) {
  try {
    const answer = await call(`/members?${new URLSearchParams({ q: text })}`);
    return Array.isArray(answer) ? answer : answer.items || answer.members || [];
  } catch (error) {
    if (error.routeMissing || error.status === 405) throw { detail: t("staff.members.searchPending") };
    throw error;
  }
}

function resultList(members) {
  if (!members.length) return h("p", { class: "hint" }, t("staff.members.noMatch"));
  return h(
    "ul",
    { class: "result-list" },
    members.map((member) => {
      const id = member.member_id ?? member.id;
      const extra = [member.member_number, member.email, member.stage ? humanise(member.stage) : null, member.health_score !== undefined && member.health_score !== null ? t("staff.members.healthShort", { score: member.health_score }) : null].filter(Boolean).join(" · ");
      return h("li", {}, h("a", { href: `#/staff?page=members&member=${id}` }, member.display_name || member.name || `#${id}`), extra ? h("span", { class: "hint" }, ` · ${extra}`) : null);
    }),
  );
}

async function showMember(container, memberId) {
  replace(container, h("p", { class: "loading", role: "status" }, t("staff.loading")));
  let member;
  let detail = null; // the member API's detail (lifecycle issue), where deployed
  try {
    try {
      detail = await call(`/members/${memberId}`);
      member = { member_id: detail.member_id, name: detail.display_name, points_balance: detail.points_balance, tier: detail.tier, blocked: detail.blocked };
    } catch (error) {
      // Not deployed: 404, or 405 where another API serves the same URL with other methods.
      if (!error.routeMissing && error.status !== 405) throw error;
      member = await call(`/members/${memberId}/points`);
    }
  } catch (error) {
    replace(container, failure(error, t("staff.nav.members")));
    return;
  }
  const balance = h("span", { class: "tile-value", id: "member-balance" }, formatNumber(member.points_balance));
  const ledger = h("div", { class: "ledger", "aria-live": "polite" });
  const blockArea = h("div", { class: "actions" });
  const blockMessage = h("div", { "aria-live": "polite" });
  const head = h(
    "div",
    { class: "card-surface member-head" },
    h("div", {}, h("h3", { id: "member-name" }, member.name), h("p", { class: "hint" }, t("staff.members.number", { id: (detail && detail.member_number) || member.member_id }), " · ", t("staff.members.tier", { tier: humanise(member.tier) }), member.blocked ? h("span", { class: "chip bad" }, t("staff.members.blocked")) : null)),
    h("div", { class: "tile" }, balance, h("span", { class: "tile-label" }, t("staff.members.balance"))),
  );
  const renderBlock = (blocked) => {
    replace(
      blockArea,
      blocked
        ? confirmButton(t("staff.members.unblock"), t("staff.members.unblockConfirm", { name: member.name }), async () => {
            try {
              await call(`/fraud/blocks/member/${member.member_id}`, { method: "DELETE" });
              replace(blockMessage, success(t("staff.members.unblocked", { name: member.name })));
              renderBlock(false);
            } catch (error) {
              replace(blockMessage, problemAlert(error));
            }
          }, { className: "secondary" })
        : confirmButton(t("staff.members.block"), t("staff.members.blockConfirm", { name: member.name }), async () => {
            try {
              await call("/fraud/blocks", { method: "POST", body: { target_type: "member", target_id: String(member.member_id), reason: "blocked from the member page" } });
              replace(blockMessage, success(t("staff.members.blockedNow", { name: member.name })));
              renderBlock(true);
            } catch (error) {
              replace(blockMessage, problemAlert(error));
            }
          }),
    );
  };
  renderBlock(member.blocked);

  const adjust = h(
    "form",
    { class: "stack", "aria-label": t("staff.members.adjust") },
    h(
      "div",
      { class: "row" },
      h("div", { class: "narrow" }, input(t("staff.members.points"), { name: "points", id: "adjust-points", required: true, inputmode: "numeric", pattern: "-?[0-9]+" }, { hint: t("staff.members.pointsHint") })),
      h("div", { class: "grow" }, input(t("staff.members.reason"), { name: "reason", id: "adjust-reason", required: true, minlength: 3, maxlength: 500 }, { hint: t("staff.members.reasonHint") })),
    ),
    h("div", { class: "form-message", "aria-live": "polite" }),
    h("button", { type: "submit", class: "primary" }, t("staff.members.adjustButton")),
  );
  submitting(adjust, {
    check: (f) => {
      const points = intOf(f.elements.points.value);
      if (!points) return t("staff.members.err.points");
      if (Math.abs(points) > 1_000_000) return t("staff.members.err.tooMany");
      if (f.elements.reason.value.trim().length < 3) return t("staff.members.err.reason");
      return null;
    },
    send: (f) => call(`/members/${member.member_id}/ledger`, { method: "POST", body: { points: intOf(f.elements.points.value), reason: f.elements.reason.value.trim() } }),
    done: async (entry, message) => {
      adjust.reset();
      balance.textContent = formatNumber(entry.balance_after);
      replace(message, success(t("staff.members.adjusted", { points: formatNumber(entry.points), balance: formatNumber(entry.balance_after) })));
      await loadLedger(1);
    },
  });

  const pending = h("div", {});
  replace(container, head, h("div", { class: "split" }, panel(t("staff.members.adjust"), adjust), panel(t("staff.members.access"), h("p", { class: "hint" }, t("staff.members.blockHint")), blockArea, blockMessage)), pending, panel(t("staff.members.ledger"), ledger));

  async function loadLedger(page) {
    try {
      const { data, response } = await callApi(`/members/${member.member_id}/ledger?page=${page}&page_size=${PAGE_SIZE}`, { session: "staff" });
      let pagination = {};
      try {
        pagination = JSON.parse(response.headers.get("X-Pagination") || "{}");
      } catch {
        pagination = {};
      }
      const rows = data.map((entry) => [
        when(entry.created_at),
        tOr(`staff.ledger.kind.${entry.kind}`, humanise(entry.kind)),
        entry.points > 0 ? `+${formatNumber(entry.points)}` : formatNumber(entry.points),
        formatNumber(entry.balance_after),
        entry.reason || entry.reference_id || "–",
        [entry.store && entry.store.name, entry.till && entry.till.name, entry.staff && entry.staff.name].filter(Boolean).join(" · ") || "–",
      ]);
      const nav = h("div", { class: "actions pager" });
      if (pagination.previous_page) nav.append(h("button", { type: "button", class: "secondary", onclick: () => loadLedger(pagination.previous_page) }, t("staff.members.newer")));
      if (pagination.next_page) nav.append(h("button", { type: "button", class: "secondary", onclick: () => loadLedger(pagination.next_page) }, t("staff.members.older")));
      replace(ledger, table(t("staff.members.ledger"), [t("staff.members.when"), t("staff.members.kind"), t("staff.members.points"), t("staff.members.balanceAfter"), t("staff.members.what"), t("staff.members.where")], rows, { empty: t("staff.members.emptyLedger") }), nav);
    } catch (error) {
      replace(ledger, failure(error, t("staff.members.ledger"), () => loadLedger(page)));
    }
  }
  await loadLedger(1);
  replace(pending, detail ? detailPanels(detail) : h("div", { class: "notice", role: "status" }, h("p", {}, t("staff.members.morePending"))));
  const privacy = await privacyPanel(member);
  if (privacy) pending.append(privacy);
}

/**
 * Consent, data export and erasure on the member's request (member issue's API:
 * `GET /members/{id}/consents`, `GET /members/{id}/export` (a zip), `DELETE /members/{id} {reason}`);
 * nothing is shown where that API is not deployed.
 */
async function privacyPanel(member) {
  let consents;
  try {
    consents = await call(`/members/${member.member_id}/consents`);
  } catch (error) {
    return error.routeMissing ? null : panel(t("staff.members.privacy"), failure(error, t("staff.members.privacy")));
  }
  const message = h("div", { "aria-live": "polite" });
  const exportButton = h("button", { type: "button", class: "secondary" }, t("staff.members.export"));
  exportButton.addEventListener("click", async () => {
    exportButton.disabled = true;
    try {
      const { data } = await callApi(`/members/${member.member_id}/export`, { session: "staff", as: "blob", accept: "application/zip, application/problem+json" });
      const url = URL.createObjectURL(data);
      const link = h("a", { href: url, download: `member-${member.member_id}-export.zip`, hidden: true }, "download");
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      replace(message, success(t("staff.members.exported")));
    } catch (error) {
      replace(message, problemAlert(error));
    } finally {
      exportButton.disabled = false;
    }
  });
  const reason = h("input", { id: "erase-reason", maxlength: 200 });
  const erase = confirmButton(t("staff.members.erase"), t("staff.members.eraseConfirm", { name: member.name }), async () => {
    if (reason.value.trim().length < 3) {
      replace(message, problemAlert(t("staff.members.err.eraseReason")));
      return;
    }
    try {
      await call(`/members/${member.member_id}`, { method: "DELETE", body: { reason: reason.value.trim() } });
      replace(message, success(t("staff.members.erased")));
    } catch (error) {
      replace(message, problemAlert(error));
    }
  });
  const rows = (consents.consents || []).map((c) => [humanise(c.purpose), c.granted ? t("staff.members.granted") : t("staff.members.notGranted"), c.since ? when(c.since) : "–", c.source ? humanise(c.source) : "–"]);
  return panel(
    t("staff.members.privacy"),
    table(t("staff.members.consents"), [t("staff.members.purpose"), t("staff.members.consentState"), t("staff.members.since"), t("staff.members.source")], rows),
    h("div", { class: "actions" }, exportButton),
    h("div", { class: "field" }, h("label", { for: "erase-reason" }, t("staff.members.eraseReason")), reason),
    h("div", { class: "actions" }, erase),
    message,
  );
}

function factorLines(factors) {
  if (!factors) return [];
  const entries = Array.isArray(factors) ? factors.map((factor) => [factor.name || factor.factor || "", factor]) : Object.entries(factors);
  return entries.map(([name, value]) => {
    const text =
      value && typeof value === "object"
        ? Object.entries(value)
            .filter(([key]) => key !== "name" && key !== "factor")
            .map(([key, v]) => `${humanise(key)} ${typeof v === "number" ? Math.round(v * 100) / 100 : v}`)
            .join(", ")
        : String(value);
    return h("li", {}, h("strong", {}, humanise(name)), ` ${text}`);
  });
}

/** The member API's detail (lifecycle issue): stage, health and its factors, purchases, coupons. */
function detailPanels(detail) {
  const life = detail.lifecycle;
  const lifecycle = life
    ? h(
        "div",
        {},
        h(
          "dl",
          { class: "facts" },
          [
            [t("staff.members.stage"), humanise(life.stage)],
            [t("staff.members.health"), life.health_score ?? "–"],
            [t("staff.members.pActive"), life.p_active === null || life.p_active === undefined ? "–" : `${Math.round(life.p_active * 100)} %`],
            [t("staff.members.lastPurchase"), when(life.last_purchase_at)],
            [t("staff.members.asOf"), life.as_of || "–"],
          ].flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, String(value))]),
        ),
        h("h4", {}, t("staff.members.factors")),
        h("ul", { class: "factors" }, factorLines(life.health_factors)),
      )
    : h("p", { class: "hint" }, t("staff.members.noLifecycle"));
  const purchases = (detail.recent_purchases || []).map((p) => [when(p.occurred_at), p.receipt_id, formatMoney(p.amount_cents - (p.refunded_cents || 0), p.currency), formatNumber(p.points_earned || 0)]);
  const coupons = (detail.coupons || []).map((c) => [describeBenefit(c.benefit), tOr(`staff.desk.state.${c.state}`, humanise(c.state)), c.valid_until ? when(c.valid_until) : "–"]);
  return h(
    "div",
    { class: "split" },
    panel(t("staff.members.lifecycle"), lifecycle),
    h(
      "div",
      {},
      panel(t("staff.members.purchases"), table(t("staff.members.purchases"), [t("staff.members.when"), t("staff.desk.receipt"), t("staff.members.amount"), t("staff.members.points")], purchases, { empty: t("staff.members.noPurchases") })),
      panel(t("staff.members.coupons"), table(t("staff.members.coupons"), [t("staff.desk.benefit"), t("staff.programme.status"), t("staff.desk.validity")], coupons, { empty: t("staff.members.noCoupons") })),
      h("p", { class: "hint" }, t("staff.members.stillPending")),
    ),
  );
}
