/**
 * `#/notifications`: which kinds of message the member wants and their quiet hours
 * (`GET/PUT /api/v1/me/push-preferences`). Quiet hours are local times in the phone's time
 * zone, which is sent along; messages due in them wait until they end.
 */

import { api } from "../api.js";
import { navigate } from "../router.js";
import { getSession } from "../session.js";
import { busy, h, loading, notAvailableBox, offlineBox, problemBox, replace, toast } from "../ui.js";

const KIND_LABELS = {
  points: "Points earned",
  offers: "Offers and coupons",
  reminders: "Reminders (points about to expire)",
  surveys: "Short surveys",
};

function checkbox(name, label, checked) {
  const id = `pref-${name}`;
  return h(
    "div",
    { class: "field checkbox" },
    h("input", { type: "checkbox", id, name, ...(checked ? { checked: true } : {}) }),
    h("label", { for: id }, label),
  );
}

function timeField(name, label, value) {
  const id = `pref-${name}`;
  return h("div", { class: "field" }, h("label", { for: id }, label), h("input", { type: "time", id, name, value }));
}

function preferencesForm(preferences, status) {
  const quiet = preferences.quiet_hours;
  const quietOn = checkbox("quiet", "Quiet hours", Boolean(quiet));
  const times = h(
    "div",
    { class: "quiet-times" },
    timeField("start", "From", quiet ? quiet.start : "21:00"),
    timeField("end", "Until", quiet ? quiet.end : "08:00"),
  );
  const form = h(
    "form",
    { class: "card-surface preferences", "aria-label": "Notification settings" },
    h(
      "fieldset",
      {},
      h("legend", {}, "Send me"),
      ...Object.entries(KIND_LABELS).map(([kind, label]) => checkbox(kind, label, preferences.kinds[kind] !== false)),
    ),
    h("fieldset", {}, h("legend", {}, "Do not disturb"), quietOn, times),
    h("button", { type: "submit" }, "Save"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const kinds = {};
    for (const kind of Object.keys(KIND_LABELS)) kinds[kind] = form.querySelector(`#pref-${kind}`).checked;
    const body = {
      kinds,
      quiet_hours: form.querySelector("#pref-quiet").checked
        ? { start: form.querySelector("#pref-start").value, end: form.querySelector("#pref-end").value }
        : null,
      timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
    };
    const done = busy(form);
    try {
      await api("/me/push-preferences", { method: "PUT", session: "member", body });
      replace(status, h("p", { class: "notice", role: "status" }, "Saved."));
      toast("Notification settings saved");
    } catch (error) {
      replace(status, problemBox(error));
    } finally {
      done();
    }
  });
  return form;
}

/** Render the notification settings view. */
export function renderNotifications(outlet) {
  if (!getSession("member")) {
    navigate("/login");
    return undefined;
  }
  const status = h("div", { "aria-live": "polite" }, loading());
  const body = h("div");
  outlet.append(h("section", { class: "view view-notifications" }, status, body));

  async function load() {
    replace(status, loading());
    body.replaceChildren();
    try {
      const preferences = await api("/me/push-preferences", { session: "member" });
      replace(status);
      body.append(preferencesForm(preferences, status));
    } catch (error) {
      if (error.routeMissing) replace(status, notAvailableBox("Notification settings"));
      else if (error.type === "offline") replace(status, offlineBox("Notification settings", load));
      else replace(status, problemBox(error, { retry: load }));
    }
  }
  load();
  return undefined;
}
