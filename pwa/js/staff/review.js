/**
 * Fraud review: the queue of open events, the block list, and (admins) the staff audit.
 *
 * Events name the member, cashier, store and till (`member`, `staff`, `store`, `till` in the
 * answer), never "member 1 · till 3". Resolving (`POST /fraud/events/{id}/resolve`) takes a
 * verdict and a note; blocking (`POST /fraud/blocks`) and lifting a block
 * (`DELETE /fraud/blocks/{type}/{id}`) ask for confirmation first.
 */

import { t } from "../i18n.js";
import { h, humanise, replace } from "../ui.js";
import { call, confirmButton, failure, named, tOr, pageHead, problemAlert, subTabs, success, table, when } from "./common.js";

const SEVERITIES = ["", "low", "medium", "high"];

export async function render(container, { admin }) {
  const body = h("div", {});
  const entries = [
    ["queue", t("staff.review.queue")],
    ["blocks", t("staff.review.blocks")],
  ];
  if (admin) entries.push(["audit", t("staff.review.audit")]);
  const { tabs, select } = subTabs(t("staff.nav.review"), entries, (key) => {
    body.replaceChildren();
    if (key === "blocks") blocksTab(body);
    else if (key === "audit") auditTab(body);
    else queueTab(body);
  });
  container.append(pageHead(t("staff.nav.review"), t("staff.review.intro")), tabs, body);
  select("queue");
}

function subjectLine(event) {
  const parts = [];
  if (event.member_id) parts.push(t("staff.review.member", { name: named(event.member, "member", event.member_id) }));
  if (event.card_id) parts.push(t("staff.review.card", { id: `${String(event.card_id).slice(0, 8)}…` }));
  if (event.store_id || event.till_id) parts.push([named(event.store, "store", event.store_id), named(event.till, "till", event.till_id)].filter(Boolean).join(", "));
  if (event.staff_id) parts.push(t("staff.review.cashier", { name: named(event.staff, "staff", event.staff_id) }));
  if (event.client_address) parts.push(event.client_address);
  return parts.join(" · ") || event.subject || "";
}

function evidenceList(attempts) {
  if (!attempts || !attempts.length) return null;
  return h(
    "details",
    { class: "evidence" },
    h("summary", {}, t("staff.review.attempts", { count: attempts.length })),
    h(
      "ul",
      {},
      attempts.map((attempt) =>
        h(
          "li",
          {},
          h("span", { class: attempt.outcome === "accepted" ? "tag ok" : "tag bad" }, humanise(attempt.refusal_type || attempt.outcome)),
          ` ${humanise(attempt.operation)} · ${when(attempt.occurred_at)}`,
          attempt.till_id ? ` · ${named(attempt.store, "store", attempt.store_id)}, ${named(attempt.till, "till", attempt.till_id)}` : "",
          attempt.staff_id ? ` · ${named(attempt.staff, "staff", attempt.staff_id)}` : "",
          attempt.risk_score ? ` · ${t("staff.review.risk", { score: attempt.risk_score })}` : "",
        ),
      ),
    ),
  );
}

function queueTab(container) {
  const severity = h("select", { id: "severity-filter" }, SEVERITIES.map((s) => h("option", { value: s }, s ? humanise(s) : t("staff.review.allSeverities"))));
  const status = h("div", { "aria-live": "polite" });
  const list = h("ul", { class: "events event-grid", "aria-label": t("staff.review.openEvents") });
  severity.addEventListener("change", load);
  container.append(h("div", { class: "row" }, h("div", { class: "field" }, h("label", { for: "severity-filter" }, t("staff.review.severity")), severity)), status, list);

  function eventItem(event) {
    const noteId = `note-${event.id}`;
    const note = h("input", { id: noteId, placeholder: t("staff.review.notePlaceholder"), maxlength: 500 });
    const message = h("div", { "aria-live": "polite" });
    const resolve = async (resolution, buttons) => {
      buttons.forEach((b) => (b.disabled = true));
      try {
        const body = { resolution };
        if (note.value.trim()) body.note = note.value.trim();
        await call(`/fraud/events/${event.id}/resolve`, { method: "POST", body });
        item.remove();
        if (!list.children.length) replace(status, h("p", { class: "hint" }, t("staff.review.allClear")));
      } catch (error) {
        replace(message, problemAlert(error));
        buttons.forEach((b) => (b.disabled = false));
      }
    };
    const legit = h("button", { type: "button", class: "secondary" }, t("staff.review.legitimate"));
    const fraud = h("button", { type: "button", class: "danger" }, t("staff.review.fraud"));
    legit.addEventListener("click", () => resolve("legitimate", [legit, fraud]));
    fraud.addEventListener("click", () => resolve("fraud", [legit, fraud]));
    const targets = [
      ["member", event.member_id, named(event.member, "member", event.member_id)],
      ["card", event.card_id, t("staff.review.theCard")],
      ["till", event.till_id, named(event.till, "till", event.till_id)],
    ].filter(([, id]) => id !== null && id !== undefined);
    const blockButtons = targets.map(([type, id, name]) =>
      confirmButton(t("staff.review.block", { name }), t("staff.review.blockConfirm", { name }), async () => {
        try {
          const body = { target_type: type, target_id: String(id) };
          if (note.value.trim()) body.reason = note.value.trim();
          await call("/fraud/blocks", { method: "POST", body });
          replace(message, success(t("staff.review.blocked", { name })));
        } catch (error) {
          replace(message, problemAlert(error));
        }
      }, { className: "link" }),
    );
    const item = h(
      "li",
      { class: `card-surface event severity-${event.severity}` },
      h("div", { class: "coupon-head" }, h("h3", {}, humanise(event.rule)), h("span", { class: `chip severity-${event.severity}` }, humanise(event.severity))),
      h("p", { class: "hint" }, `${when(event.created_at)}${event.action ? ` · ${humanise(event.action)}` : ""}`),
      h("p", { class: "event-subject" }, subjectLine(event)),
      evidenceList(event.evidence),
      h("div", { class: "field" }, h("label", { for: noteId }, t("staff.review.note")), note),
      h("div", { class: "actions" }, legit, fraud),
      blockButtons.length ? h("div", { class: "actions" }, blockButtons) : null,
      message,
    );
    return item;
  }

  async function load() {
    replace(status, h("p", { class: "loading", role: "status" }, t("staff.loading")));
    list.replaceChildren();
    const query = new URLSearchParams({ status: "open" });
    if (severity.value) query.set("severity", severity.value);
    try {
      const events = await call(`/fraud/events?${query}`);
      replace(status, events.length ? null : h("p", { class: "hint" }, t("staff.review.allClear")));
      list.append(...events.map(eventItem));
    } catch (error) {
      replace(status, failure(error, t("staff.review.queueName"), load));
    }
  }
  load();
}

function blocksTab(container) {
  const output = h("div", { "aria-live": "polite" });
  container.append(output);
  async function load() {
    try {
      const blocks = await call("/fraud/blocks");
      const rows = blocks.map((block) => {
        const name = block.target_name || (block.target_type === "card" ? `${block.target_id.slice(0, 8)}…` : block.target_id);
        return [
          name,
          tOr(`staff.review.target.${block.target_type}`, humanise(block.target_type)),
          block.reason || "–",
          block.blocked_at ? when(block.blocked_at) : "–",
          confirmButton(t("staff.review.unblock"), t("staff.review.unblockConfirm", { name }), async () => {
            try {
              await call(`/fraud/blocks/${block.target_type}/${encodeURIComponent(block.target_id)}`, { method: "DELETE" });
              load();
            } catch (error) {
              replace(output, problemAlert(error, load));
            }
          }, { className: "secondary" }),
        ];
      });
      replace(output, table(t("staff.review.blocks"), [t("staff.review.who"), t("staff.review.kind"), t("staff.review.reason"), t("staff.review.since"), ""], rows, { empty: t("staff.review.noBlocks") }));
    } catch (error) {
      replace(output, failure(error, t("staff.review.blocks"), load));
    }
  }
  load();
}

function auditTab(container) {
  const output = h("div", { "aria-live": "polite" });
  container.append(output);
  call("/fraud/audit?limit=100")
    .then((rows) =>
      replace(
        output,
        table(
          t("staff.review.audit"),
          [t("staff.review.when"), t("staff.review.who"), t("staff.review.action"), t("staff.review.target")],
          rows.map((row) => [when(row.at), named(row.staff, "staff", row.staff_id), humanise(row.action), `${tOr(`staff.review.target.${row.target_type}`, humanise(row.target_type))} ${row.target_name || row.target_id}`]),
        ),
      ),
    )
    .catch((error) => replace(output, failure(error, t("staff.review.audit"))));
}
