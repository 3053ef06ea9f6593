/**
 * `#/profile`: the member's profile, consents and data (see docs/privacy.md for the API).
 *
 * Three parts, each read live and saved at once (nothing is kept on the device):
 * - the profile (`GET`/`PATCH /api/v1/me/profile`): name, birthday, home store (chosen by name
 *   from `GET /api/v1/me/stores`), the language of messages, an optional phone number. Only the
 *   fields that changed are sent; an emptied optional field is sent as `null` (cleared);
 * - consents per purpose (`GET /api/v1/me/consents`, `PUT /api/v1/me/consents/{purpose}`), as
 *   switches with the time each was last changed; the wording version shown is sent along;
 * - "Download my data" (`GET /api/v1/me/export`, a ZIP handed to the browser through a Blob
 *   link) and "Delete my account" (`DELETE /api/v1/me {password}`), behind a dialog that says
 *   what is erased and asks for the password again; afterwards the device signs out.
 */

import { callApi, api, signOut } from "../api.js";
import { t } from "../i18n.js";
import { navigate } from "../router.js";
import { getSession } from "../session.js";
import { busy, field, formatTime, formValues, h, loading, offlineBox, problemBox, replace, toast } from "../ui.js";

const PURPOSES = ["marketing", "personalised_offers", "surveys"];
/** The version of the consent wording in the catalogues; bump it when the words change. */
const CONSENT_WORDING_VERSION = "pwa-2026-12";
const LANGUAGE_NAMES = { de: "Deutsch", en: "English" };

function selectField(label, name, options, selected) {
  const id = `field-${name}`;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h(
      "select",
      { id, name },
      options.map(([value, text]) => h("option", { value, selected: String(selected ?? "") === value }, text)),
    ),
  );
}

function profileForm(profile, stores) {
  const message = h("div", { class: "message", "aria-live": "polite" });
  const storeOptions = [["", t("profile.noStore")], ...stores.map((store) => [String(store.id), store.name])];
  const languageOptions = [["", t("profile.languageDefault")], ...Object.entries(LANGUAGE_NAMES)];
  const form = h(
    "form",
    { class: "stack card-surface", id: "profile-form", "aria-labelledby": "profile-heading", novalidate: true },
    h("h2", { id: "profile-heading" }, t("profile.heading")),
    h("p", { class: "hint" }, t("profile.email", { email: profile.email })),
    field(t("profile.name"), { name: "display_name", value: profile.display_name || "", required: true, maxlength: 100, autocomplete: "name" }),
    field(t("profile.birthday"), { name: "birthday", type: "date", value: profile.birthday || "", autocomplete: "bday" }),
    selectField(t("profile.homeStore"), "home_store_id", storeOptions, profile.home_store_id),
    selectField(t("profile.language"), "preferred_language", languageOptions, (profile.preferred_language || "").slice(0, 2)),
    field(t("profile.phone"), { name: "phone", type: "tel", value: profile.phone || "", maxlength: 32, autocomplete: "tel" }),
    message,
    h("button", { type: "submit", class: "primary" }, t("profile.save")),
  );
  let saved = profile;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(message);
    const values = formValues(form);
    if (!values.display_name) {
      replace(message, h("p", { class: "alert", role: "alert" }, t("profile.nameNeeded")));
      return;
    }
    const wanted = {
      display_name: values.display_name,
      birthday: values.birthday || null,
      home_store_id: values.home_store_id ? Number(values.home_store_id) : null,
      preferred_language: values.preferred_language || null,
      phone: values.phone || null,
    };
    const changes = {};
    for (const [name, value] of Object.entries(wanted)) {
      const before = name === "preferred_language" ? (saved[name] || "").slice(0, 2) || null : saved[name] ?? null;
      if (value !== before) changes[name] = value;
    }
    if (!Object.keys(changes).length) {
      replace(message, h("p", { class: "hint", role: "status" }, t("profile.unchanged")));
      return;
    }
    const done = busy(form);
    try {
      saved = await api("/me/profile", { method: "PATCH", session: "member", body: changes });
      replace(message, h("p", { class: "success", role: "status", id: "profile-saved" }, t("profile.saved")));
    } catch (error) {
      replace(message, problemBox(error));
    } finally {
      done();
    }
  });
  return form;
}

function consentsPanel(consents, reload) {
  const byPurpose = Object.fromEntries((consents.consents || []).map((state) => [state.purpose, state]));
  const message = h("div", { class: "message", "aria-live": "polite" });
  const rows = PURPOSES.map((purpose) => {
    const state = byPurpose[purpose] || { granted: false, since: null };
    const id = `consent-${purpose}`;
    const since = state.since
      ? t(state.granted ? "profile.consentGivenOn" : "profile.consentWithdrawnOn", { date: formatTime(state.since) })
      : t("profile.consentNever");
    const input = h("input", {
      type: "checkbox",
      role: "switch",
      id,
      name: purpose,
      checked: Boolean(state.granted),
      "aria-describedby": `${id}-hint ${id}-since`,
    });
    input.addEventListener("change", async () => {
      input.disabled = true;
      replace(message);
      try {
        await api(`/me/consents/${purpose}`, {
          method: "PUT",
          session: "member",
          body: { granted: input.checked, wording_version: CONSENT_WORDING_VERSION },
        });
        toast(t(input.checked ? "profile.consentOn" : "profile.consentOff"));
        reload();
      } catch (error) {
        input.checked = !input.checked;
        input.disabled = false;
        replace(message, problemBox(error));
      }
    });
    return h(
      "li",
      { class: "consent", dataset: { purpose } },
      h("div", { class: "field checkbox" }, input, h("label", { for: id }, t(`profile.consent.${purpose}`))),
      h("p", { class: "hint", id: `${id}-hint` }, t(`profile.consent.${purpose}.hint`)),
      h("p", { class: "hint consent-since", id: `${id}-since` }, since),
    );
  });
  return h(
    "div",
    { class: "card-surface stack", id: "consents" },
    h("h2", {}, t("profile.consents")),
    h("p", { class: "hint" }, t("profile.consentsLead")),
    h("ul", { class: "consents" }, rows),
    message,
  );
}

function exportPanel() {
  const message = h("div", { "aria-live": "polite" });
  const button = h("button", { type: "button", class: "secondary", id: "export-data" }, t("profile.export"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    replace(message, loading(t("profile.exportPreparing")));
    try {
      const { data, response } = await callApi("/me/export", { session: "member", as: "blob", accept: "application/zip" });
      const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
      const url = URL.createObjectURL(data);
      const link = h("a", { href: url, download: named ? named[1] : "loyalty-data.zip", hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      replace(message, h("p", { class: "success", role: "status" }, t("profile.exportDone")));
    } catch (error) {
      replace(message, error.type === "offline" ? offlineBox(t("profile.exportWhat")) : problemBox(error));
    } finally {
      button.disabled = false;
    }
  });
  return h("div", { class: "stack" }, h("p", { class: "hint" }, t("profile.exportLead")), button, message);
}

function deletePanel() {
  const message = h("div", { class: "message", "aria-live": "polite" });
  const open = h("button", { type: "button", class: "danger", id: "delete-account" }, t("profile.delete"));
  const cancel = h("button", { type: "button", class: "secondary" }, t("profile.deleteCancel"));
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    h("p", {}, t("profile.deleteWhat")),
    h("p", {}, t("profile.deleteKept")),
    field(t("profile.deletePassword"), { name: "password", id: "delete-password", type: "password", autocomplete: "current-password", required: true }),
    message,
    h("div", { class: "actions" }, cancel, h("button", { type: "submit", class: "danger", id: "delete-confirm" }, t("profile.deleteConfirm"))),
  );
  const dialog = h(
    "dialog",
    { class: "confirm-dialog", id: "delete-dialog", "aria-labelledby": "delete-heading" },
    h("h2", { id: "delete-heading" }, t("profile.deleteHeading")),
    form,
  );
  open.addEventListener("click", () => {
    replace(message);
    form.reset();
    dialog.showModal();
  });
  cancel.addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { password } = formValues(form);
    if (!password) {
      replace(message, h("p", { class: "alert", role: "alert" }, t("profile.deletePasswordNeeded")));
      return;
    }
    const done = busy(form);
    replace(message);
    try {
      await api("/me", { method: "DELETE", session: "member", body: { password } });
    } catch (error) {
      done();
      replace(message, problemBox(error));
      return;
    }
    dialog.close();
    await signOut("member");
    toast(t("profile.deleted"));
    navigate("/login");
  });
  return h("div", { class: "stack" }, h("p", { class: "hint" }, t("profile.deleteLead")), open, dialog);
}

/** Render the profile view. */
export function renderProfile(outlet) {
  if (!getSession("member")) {
    navigate("/login");
    return undefined;
  }
  const status = h("div", { "aria-live": "polite" }, loading());
  const profileBox = h("div");
  const consentsBox = h("div");
  const root = h(
    "section",
    { class: "view view-profile stack" },
    status,
    profileBox,
    consentsBox,
    h(
      "div",
      { class: "card-surface stack", id: "my-data" },
      h("h2", {}, t("profile.myData")),
      exportPanel(),
      deletePanel(),
    ),
  );
  outlet.append(root);

  async function loadConsents() {
    try {
      replace(consentsBox, consentsPanel(await api("/me/consents", { session: "member" }), loadConsents));
    } catch (error) {
      replace(consentsBox, error.type === "offline" ? offlineBox(t("profile.consents"), loadConsents) : problemBox(error, { retry: loadConsents }));
    }
  }

  async function load() {
    replace(status, loading());
    try {
      const [profile, stores] = await Promise.all([
        api("/me/profile", { session: "member" }),
        api("/me/stores", { session: "member" }).catch(() => []),
      ]);
      replace(status);
      replace(profileBox, profileForm(profile, stores));
    } catch (error) {
      replace(status, error.type === "offline" ? offlineBox(t("profile.what"), load) : problemBox(error, { retry: load }));
    }
  }

  load();
  loadConsents();
  return undefined;
}
