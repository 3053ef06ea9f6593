/**
 * `#/staff`: the fraud review queue and a small KPI summary, for managers and admins.
 *
 * Staff sign in with their staff account (`account: "staff"`). The queue lists open events
 * (`GET /api/v1/fraud/events?status=open&severity=…`) with the attempts behind each one; an
 * event is resolved as legitimate or fraud with a note
 * (`POST /api/v1/fraud/events/{id}/resolve`). The summary (`GET /api/v1/fraud/summary`) shows
 * attempts, refusals by type, events by rule and per-store figures for a date range. Servers
 * without the fraud API answer 404, which the view turns into a friendly notice.
 */

import { api, signOut } from "../api.js";
import { getSession, setSession } from "../session.js";
import {
  busy,
  field,
  formatPoints,
  formatTime,
  formValues,
  h,
  humanise,
  loading,
  notAvailableBox,
  offlineBox,
  problemBox,
  replace,
} from "../ui.js";

const REVIEWER_ROLES = new Set(["manager", "admin"]);
const SEVERITIES = ["", "low", "medium", "high"];

function signInForm(outlet, render) {
  const message = h("div", { class: "message", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "stack", "aria-label": "Staff sign-in", novalidate: true },
    field("Staff e-mail", { name: "email", type: "email", autocomplete: "username", required: true }),
    field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    message,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const done = busy(form);
    replace(message);
    try {
      const pair = await api("/auth/login", { method: "POST", body: { ...values, account: "staff" } });
      setSession("staff", { ...pair, email: values.email });
      render();
    } catch (error) {
      replace(message, problemBox(error));
    } finally {
      done();
    }
  });
  outlet.append(
    h(
      "section",
      { class: "view view-staff" },
      h("div", { class: "card-surface" }, h("h2", {}, "Staff sign-in"), h("p", { class: "hint" }, "Managers and admins review fraud alerts and see the figures here."), form),
      h("p", { class: "switch-links" }, h("a", { href: "#/till" }, "Till"), " · ", h("a", { href: "#/login" }, "Member sign-in")),
    ),
  );
}

function withOptional(body, name, text) {
  const value = String(text || "").trim();
  return value ? { ...body, [name]: value } : body;
}

function failure(error, what, retry) {
  if (error.routeMissing) return notAvailableBox(what);
  if (error.type === "offline") return offlineBox(what, retry);
  return problemBox(error, { retry });
}

function subjectLine(event) {
  const parts = [];
  if (event.member_id) parts.push(`member ${event.member_id}`);
  if (event.card_id) parts.push(`card ${String(event.card_id).slice(0, 8)}…`);
  if (event.till_id) parts.push(`till ${event.till_id}`);
  if (event.store_id) parts.push(`store ${event.store_id}`);
  if (event.staff_id) parts.push(`staff ${event.staff_id}`);
  if (event.client_address) parts.push(event.client_address);
  return parts.join(" · ") || event.subject || "";
}

function evidenceList(attempts) {
  if (!attempts || !attempts.length) return null;
  return h(
    "details",
    { class: "evidence" },
    h("summary", {}, `${attempts.length} attempt${attempts.length === 1 ? "" : "s"} on record`),
    h(
      "ul",
      {},
      attempts.map((attempt) =>
        h(
          "li",
          {},
          h("span", { class: attempt.outcome === "accepted" ? "tag ok" : "tag bad" }, attempt.refusal_type ? humanise(attempt.refusal_type) : humanise(attempt.outcome)),
          ` ${humanise(attempt.operation)} · ${formatTime(attempt.occurred_at)}`,
          attempt.till_id ? ` · till ${attempt.till_id}` : "",
          attempt.risk_score ? ` · risk ${attempt.risk_score}` : "",
        ),
      ),
    ),
  );
}

function queueTab(container) {
  const severity = h("select", { id: "severity-filter", "aria-label": "Severity" }, SEVERITIES.map((s) => h("option", { value: s }, s ? humanise(s) : "All severities")));
  const status = h("div", { "aria-live": "polite" });
  const list = h("ul", { class: "events", "aria-label": "Open fraud events" });
  severity.addEventListener("change", load);
  container.append(h("div", { class: "row" }, severity), status, list);

  function eventItem(event) {
    const note = h("input", { "aria-label": "Note", placeholder: "Note (what you checked)", maxlength: 500 });
    const message = h("div", { "aria-live": "polite" });
    const resolve = async (resolution, buttons) => {
      buttons.forEach((b) => (b.disabled = true));
      try {
        await api(`/fraud/events/${event.id}/resolve`, {
          method: "POST",
          session: "staff",
          body: withOptional({ resolution }, "note", note.value),
        });
        item.remove();
        if (!list.children.length) replace(status, h("p", { class: "hint" }, "No open events. All clear."));
      } catch (error) {
        replace(message, problemBox(error));
        buttons.forEach((b) => (b.disabled = false));
      }
    };
    const legit = h("button", { type: "button", class: "secondary" }, "Legitimate");
    const fraud = h("button", { type: "button", class: "danger" }, "Fraud");
    legit.addEventListener("click", () => resolve("legitimate", [legit, fraud]));
    fraud.addEventListener("click", () => resolve("fraud", [legit, fraud]));
    const blockButtons = [
      ["member", event.member_id],
      ["card", event.card_id],
      ["till", event.till_id],
    ]
      .filter(([, id]) => id !== null && id !== undefined)
      .map(([targetType, targetId]) => blockButton(targetType, targetId, note, message));
    const item = h(
      "li",
      { class: `card-surface event severity-${event.severity}` },
      h("div", { class: "coupon-head" }, h("h3", {}, humanise(event.rule)), h("span", { class: `chip severity-${event.severity}` }, humanise(event.severity))),
      h("p", { class: "hint" }, `${formatTime(event.created_at)}${event.action ? ` · ${humanise(event.action)}` : ""}`),
      h("p", {}, subjectLine(event)),
      evidenceList(event.evidence),
      note,
      h("div", { class: "actions" }, legit, fraud),
      blockButtons.length ? h("div", { class: "actions" }, blockButtons) : null,
      message,
    );
    return item;
  }

  function blockButton(targetType, targetId, note, message) {
    const label = targetType === "card" ? "Block card" : `Block ${targetType} ${targetId}`;
    const button = h("button", { type: "button", class: "link" }, label);
    let armed = false;
    button.addEventListener("click", async () => {
      if (!armed) {
        armed = true;
        button.textContent = `Confirm: ${label.toLowerCase()}`;
        return;
      }
      button.disabled = true;
      try {
        await api("/fraud/blocks", {
          method: "POST",
          session: "staff",
          body: withOptional({ target_type: targetType, target_id: String(targetId) }, "reason", note.value),
        });
        replace(message, h("div", { class: "success", role: "status" }, h("p", {}, `${humanise(targetType)} blocked: every till refuses it now.`)));
        button.remove();
      } catch (error) {
        replace(message, problemBox(error));
        button.disabled = false;
      }
    });
    return button;
  }

  async function load() {
    replace(status, loading());
    list.replaceChildren();
    const query = new URLSearchParams({ status: "open" });
    if (severity.value) query.set("severity", severity.value);
    try {
      const answer = await api(`/fraud/events?${query}`, { session: "staff" });
      const events = Array.isArray(answer) ? answer : answer.items || answer.events || [];
      replace(status, events.length ? null : h("p", { class: "hint" }, "No open events. All clear."));
      list.append(...events.map(eventItem));
    } catch (error) {
      replace(status, failure(error, "The fraud review queue", load));
    }
  }
  load();
}

function countTable(caption, counts) {
  const entries = Object.entries(counts || {});
  if (!entries.length) return h("p", { class: "hint" }, `${caption}: none.`);
  entries.sort((a, b) => b[1] - a[1]);
  return h(
    "table",
    {},
    h("caption", {}, caption),
    h("tbody", {}, entries.map(([name, count]) => h("tr", {}, h("th", { scope: "row" }, humanise(name)), h("td", {}, formatPoints(count))))),
  );
}

function summaryTab(container) {
  const today = new Date();
  const weekAgo = new Date(today.getTime() - 7 * 86_400_000);
  const isoDate = (date) => date.toISOString().slice(0, 10);
  const from = h("input", { type: "date", id: "summary-from", value: isoDate(weekAgo) });
  const to = h("input", { type: "date", id: "summary-to", value: isoDate(today) });
  const output = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "row", novalidate: true, "aria-label": "Date range" },
    h("div", { class: "field grow" }, h("label", { for: "summary-from" }, "From"), from),
    h("div", { class: "field grow" }, h("label", { for: "summary-to" }, "To"), to),
    h("button", { type: "submit", class: "secondary" }, "Show"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  container.append(form, output);

  async function load() {
    replace(output, loading());
    const query = new URLSearchParams();
    if (from.value) query.set("from", new Date(`${from.value}T00:00:00`).toISOString());
    if (to.value) query.set("to", new Date(new Date(`${to.value}T00:00:00`).getTime() + 86_400_000).toISOString());
    try {
      const summary = await api(`/fraud/summary?${query}`, { session: "staff" });
      const attempts = summary.attempts || {};
      const tiles = h(
        "div",
        { class: "tiles" },
        [
          ["Attempts", attempts.total],
          ["Accepted", attempts.accepted],
          ["Refused", attempts.refused],
          ["Open events", summary.open_events],
        ]
          .filter(([, value]) => value !== undefined)
          .map(([label, value]) => h("div", { class: "tile" }, h("span", { class: "tile-value" }, formatPoints(value)), h("span", { class: "tile-label" }, label))),
      );
      const stores = (summary.per_store || []).map((row) =>
        h("tr", {}, h("th", { scope: "row" }, row.name || (row.store_id ? `Store ${row.store_id}` : "No store")), h("td", {}, formatPoints(row.attempts || 0)), h("td", {}, formatPoints(row.refused || 0)), h("td", {}, formatPoints(row.events || 0))),
      );
      replace(
        output,
        tiles,
        countTable("Refusals by type", summary.refusals_by_type),
        countTable("Events by rule", summary.events_by_rule),
        countTable("Attempts by operation", summary.attempts_by_operation),
        stores.length
          ? h(
              "div",
              { class: "table-scroll" },
              h(
                "table",
                { class: "compact" },
                h("caption", {}, "Per store"),
                h("thead", {}, h("tr", {}, h("th", {}, "Store"), h("th", {}, "Attempts"), h("th", {}, "Refused"), h("th", {}, "Events"))),
                h("tbody", {}, stores),
              ),
            )
          : null,
      );
    } catch (error) {
      replace(output, failure(error, "The summary", load));
    }
  }
  load();
}

/** Render the staff view. */
export function renderStaff(outlet) {
  const render = () => {
    outlet.replaceChildren();
    const session = getSession("staff");
    if (!session) {
      signInForm(outlet, render);
      return;
    }
    const signOutButton = h("button", { type: "button", class: "link" }, "Sign out");
    signOutButton.addEventListener("click", async () => {
      await signOut("staff");
      render();
    });
    const head = h("div", { class: "till-head" }, h("span", {}, session.email || "Staff", h("br"), h("small", {}, humanise(session.role))), signOutButton);
    if (!REVIEWER_ROLES.has(session.role)) {
      outlet.append(
        h("section", { class: "view view-staff" }, head, h("div", { class: "notice" }, h("p", {}, "Fraud review and figures are for managers and admins. Cashiers work at the ", h("a", { href: "#/till" }, "till"), "."))),
      );
      return;
    }
    const panel = h("div", { class: "tab-panel", role: "tabpanel" });
    const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Staff views" });
    const show = (which) => {
      for (const tab of tabs.children) tab.setAttribute("aria-selected", String(tab.dataset.tab === which));
      panel.replaceChildren();
      if (which === "summary") summaryTab(panel);
      else queueTab(panel);
    };
    tabs.append(
      h("button", { type: "button", role: "tab", dataset: { tab: "queue" }, onclick: () => show("queue") }, "Review queue"),
      h("button", { type: "button", role: "tab", dataset: { tab: "summary" }, onclick: () => show("summary") }, "Summary"),
    );
    outlet.append(h("section", { class: "view view-staff" }, head, tabs, panel));
    show("queue");
  };
  render();
  return undefined;
}
