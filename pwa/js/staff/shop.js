/**
 * Shop setup: stores, tills, staff accounts and (admins) the shop's branding.
 *
 * - Stores: `GET/POST /stores`.
 * - Tills: `GET /tills` (by store, blocked or not), `POST /tills`. A new till's key is shown
 *   once, as text and as a QR code drawn here (`js/qr.js`) for the till device to scan; the
 *   server keeps only its hash, so the page says to copy it now.
 * - Staff: `GET/POST /staff`; admins change an account's stores and switch it off
 *   (`PATCH /staff/{id}`, confirmed first). Managers create cashiers for their own stores.
 * - Branding (admins): `GET/PUT /admin/branding`: name, colours (checked for contrast before
 *   sending, as the server does) and logo (PNG, JPEG or WebP up to 256 KB), with a preview.
 */

import { t } from "../i18n.js";
import { drawQr } from "../qr.js";
import { h, replace } from "../ui.js";
import { call, checkbox, confirmButton, failure, input, named, pageHead, panel, problemAlert, stores, subTabs, submitting, success, table, when } from "./common.js";

const MAX_LOGO_BYTES = 256 * 1024;
const MIN_CONTRAST = 4.5;

export async function render(container, context) {
  const body = h("div", {});
  const entries = [
    ["stores", t("staff.shop.tab.stores")],
    ["tills", t("staff.shop.tab.tills")],
    ["staff", t("staff.shop.tab.staff")],
  ];
  if (context.admin) entries.push(["branding", t("staff.shop.tab.branding")]);
  const { tabs, select } = subTabs(t("staff.nav.shop"), entries, (key) => {
    body.replaceChildren();
    ({ stores: storesTab, tills: tillsTab, staff: staffTab, branding: brandingTab })[key](body, context);
  });
  container.append(pageHead(t("staff.nav.shop"), t("staff.shop.intro")), tabs, body);
  const wanted = context.params.get("tab");
  select(entries.some(([key]) => key === wanted) ? wanted : "stores");
}

function storesTab(container) {
  const area = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "stack", "aria-label": t("staff.shop.newStore") },
    h("div", { class: "row" }, h("div", { class: "grow" }, input(t("staff.shop.storeName"), { name: "name", required: true, maxlength: 120 })), h("div", { class: "grow" }, input(t("staff.shop.address"), { name: "address", maxlength: 255 }))),
    h("div", { class: "row" }, h("div", { class: "grow" }, input(t("staff.shop.latitude"), { name: "latitude", type: "number", step: "any", min: -90, max: 90 })), h("div", { class: "grow" }, input(t("staff.shop.longitude"), { name: "longitude", type: "number", step: "any", min: -180, max: 180 }))),
    h("small", { class: "hint" }, t("staff.shop.coordinatesHint")),
    h("button", { type: "submit", class: "primary" }, t("staff.shop.addStore")),
  );
  const load = async () => {
    try {
      const list = await stores({ fresh: true });
      replace(area, table(t("staff.shop.tab.stores"), [t("staff.shop.storeName"), t("staff.shop.address"), t("staff.shop.tills")], list.map((store) => [store.name, store.address || "–", ""])));
      const tills = await call("/tills").catch(() => []);
      const byStore = new Map();
      for (const till of tills) byStore.set(till.store_id, [...(byStore.get(till.store_id) || []), till.name]);
      replace(area, table(t("staff.shop.tab.stores"), [t("staff.shop.storeName"), t("staff.shop.address"), t("staff.shop.tills")], list.map((store) => [store.name, store.address || "–", (byStore.get(store.id) || []).join(", ") || "–"])));
    } catch (error) {
      replace(area, failure(error, t("staff.shop.tab.stores"), load));
    }
  };
  submitting(form, {
    check: (f) => {
      const lat = f.elements.latitude.value.trim();
      const lon = f.elements.longitude.value.trim();
      return Boolean(lat) !== Boolean(lon) ? t("staff.shop.err.coordinates") : null;
    },
    send: (f) => {
      const body = { name: f.elements.name.value.trim(), address: f.elements.address.value.trim() };
      if (f.elements.latitude.value.trim()) {
        body.latitude = Number(f.elements.latitude.value);
        body.longitude = Number(f.elements.longitude.value);
      }
      return call("/stores", { method: "POST", body });
    },
    done: async (store, message) => {
      form.reset();
      replace(message, success(t("staff.shop.storeAdded", { name: store.name })));
      await load();
    },
  });
  container.append(area, panel(t("staff.shop.newStore"), form));
  load();
}

function tillKeyCard(till) {
  const canvas = h("canvas", { role: "img", "aria-label": t("staff.shop.keyQr", { name: till.name }), class: "till-key-qr" });
  drawQr(canvas, till.till_key, { pixelsPerModule: 5 });
  const copy = h("button", { type: "button", class: "secondary" }, t("staff.shop.copyKey"));
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(till.till_key);
      copy.textContent = t("staff.shop.copied");
    } catch {
      copy.textContent = t("staff.shop.copyFailed");
    }
  });
  return h(
    "div",
    { class: "success till-key", role: "status" },
    h("p", {}, h("strong", {}, t("staff.shop.tillAdded", { name: till.name }))),
    h("p", {}, t("staff.shop.keyOnce")),
    h("div", { class: "till-key-body" }, canvas, h("div", { class: "stack" }, h("code", { class: "code-text", id: "new-till-key" }, till.till_key), copy)),
  );
}

function tillsTab(container) {
  const area = h("div", { "aria-live": "polite" });
  const keyArea = h("div", { "aria-live": "polite" });
  const storeField = input(t("staff.shop.store"), { name: "store_id", required: true }, { tag: "select", options: [] });
  const form = h(
    "form",
    { class: "stack", "aria-label": t("staff.shop.newTill") },
    h("div", { class: "row" }, h("div", { class: "grow" }, storeField), h("div", { class: "grow" }, input(t("staff.shop.tillName"), { name: "name", required: true, maxlength: 120 }))),
    h("button", { type: "submit", class: "primary" }, t("staff.shop.addTill")),
  );
  stores()
    .then((list) => storeField.querySelector("select").append(...list.map((store) => h("option", { value: String(store.id) }, store.name))))
    .catch(() => {});
  const load = async () => {
    try {
      const tills = await call("/tills");
      replace(area, table(t("staff.shop.tab.tills"), [t("staff.shop.tillName"), t("staff.shop.store"), t("staff.shop.added"), t("staff.shop.state")], tills.map((till) => [till.name, named(till.store, "store", till.store_id), when(till.created_at), till.blocked ? t("staff.shop.blocked") : t("staff.shop.working")]), { empty: t("staff.shop.noTills") }));
    } catch (error) {
      replace(area, failure(error, t("staff.shop.tab.tills"), load));
    }
  };
  submitting(form, {
    check: (f) => (f.elements.store_id.value ? null : t("staff.shop.err.store")),
    send: (f) => call("/tills", { method: "POST", body: { store_id: Number(f.elements.store_id.value), name: f.elements.name.value.trim() } }),
    done: async (till) => {
      form.elements.name.value = "";
      replace(keyArea, tillKeyCard(till));
      await load();
    },
  });
  container.append(panel(t("staff.shop.newTill"), form), keyArea, area);
  load();
}

function staffTab(container, { admin }) {
  const area = h("div", { "aria-live": "polite" });
  const formArea = h("div", {});
  container.append(area, formArea);
  const load = async () => {
    try {
      const [accounts, storeList] = await Promise.all([call("/staff"), stores()]);
      const rows = accounts.map((account) => {
        const storesCell = account.stores.map((store) => store.name).join(", ") || (account.role === "admin" ? t("staff.shop.allStores") : "–");
        const cells = [account.display_name, account.email, t(`staff.role.${account.role}`), storesCell, account.active ? t("staff.shop.active") : t("staff.shop.inactive")];
        if (admin) cells.push(accountActions(account, storeList, load, area));
        return cells;
      });
      const headings = [t("staff.shop.staffName"), t("staff.shop.email"), t("staff.shop.role"), t("staff.shop.stores"), t("staff.shop.state")];
      if (admin) headings.push("");
      replace(area, table(t("staff.shop.tab.staff"), headings, rows));
      replace(formArea, panel(t("staff.shop.newStaff"), newStaffForm(storeList, admin, load)));
    } catch (error) {
      replace(area, failure(error, t("staff.shop.tab.staff"), load));
    }
  };
  load();
}

function accountActions(account, storeList, reload, area) {
  const details = h("details", { class: "account-edit" }, h("summary", {}, t("staff.shop.change", { name: account.display_name })));
  const form = h(
    "form",
    { class: "stack", "aria-label": t("staff.shop.change", { name: account.display_name }) },
    h("fieldset", { class: "stores-pick" }, h("legend", {}, t("staff.shop.stores")), storeList.map((store) => checkbox(store.name, { name: "store", value: String(store.id), checked: account.store_ids.includes(store.id) }))),
    h("button", { type: "submit", class: "secondary" }, t("staff.shop.saveStores")),
  );
  submitting(form, {
    check: (f) => (account.role !== "admin" && !f.querySelectorAll('input[name="store"]:checked').length ? t("staff.shop.err.needStore") : null),
    send: (f) => call(`/staff/${account.staff_id}`, { method: "PATCH", body: { store_ids: [...f.querySelectorAll('input[name="store"]:checked')].map((box) => Number(box.value)) } }),
    done: () => reload(),
  });
  const toggle = confirmButton(
    account.active ? t("staff.shop.deactivate") : t("staff.shop.reactivate"),
    t(account.active ? "staff.shop.deactivateConfirm" : "staff.shop.reactivateConfirm", { name: account.display_name }),
    async () => {
      try {
        await call(`/staff/${account.staff_id}`, { method: "PATCH", body: { active: !account.active } });
        reload();
      } catch (error) {
        replace(area, problemAlert(error, reload));
      }
    },
    { className: account.active ? "link" : "secondary" },
  );
  details.append(form, h("div", { class: "actions" }, toggle));
  return details;
}

function newStaffForm(storeList, admin, created) {
  const roles = admin ? ["cashier", "manager", "admin"] : ["cashier"];
  const form = h(
    "form",
    { class: "stack", "aria-label": t("staff.shop.newStaff") },
    h("div", { class: "row" }, h("div", { class: "grow" }, input(t("staff.shop.staffName"), { name: "display_name", required: true, maxlength: 100 })), h("div", { class: "grow" }, input(t("staff.shop.email"), { name: "email", type: "email", required: true, autocomplete: "off" }))),
    h(
      "div",
      { class: "row" },
      h("div", { class: "grow" }, input(t("staff.shop.role"), { name: "role" }, { tag: "select", options: roles.map((role) => [role, t(`staff.role.${role}`)]) })),
      h("div", { class: "grow" }, input(t("staff.shop.password"), { name: "password", type: "password", required: true, minlength: 8, autocomplete: "new-password" }, { hint: t("staff.shop.passwordHint") })),
    ),
    h("fieldset", { class: "stores-pick" }, h("legend", {}, t("staff.shop.stores")), storeList.map((store) => checkbox(store.name, { name: "store", value: String(store.id) }))),
    h("button", { type: "submit", class: "primary" }, t("staff.shop.addStaff")),
  );
  submitting(form, {
    check: (f) => (f.elements.role.value !== "admin" && !f.querySelectorAll('input[name="store"]:checked').length ? t("staff.shop.err.needStore") : null),
    send: (f) =>
      call("/staff", {
        method: "POST",
        body: {
          display_name: f.elements.display_name.value.trim(),
          email: f.elements.email.value.trim(),
          role: f.elements.role.value,
          password: f.elements.password.value,
          store_ids: [...f.querySelectorAll('input[name="store"]:checked')].map((box) => Number(box.value)),
        },
      }),
    done: async (account, message) => {
      form.reset();
      replace(message, success(t("staff.shop.staffAdded", { name: account.display_name })));
      await created();
    },
  });
  return form;
}

function luminance(hex) {
  const channels = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
}

/** WCAG contrast of white text on a colour. */
export function contrastWithWhite(hex) {
  return 1.05 / (luminance(hex) + 0.05);
}

function readFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function brandingTab(container) {
  const area = h("div", { "aria-live": "polite" });
  container.append(area);
  const load = async () => {
    let branding;
    try {
      branding = await call("/admin/branding");
    } catch (error) {
      replace(area, failure(error, t("staff.shop.tab.branding"), load));
      return;
    }
    const previewLogo = h("img", { alt: "", class: "preview-logo", src: branding.logo_url || null, hidden: !branding.logo_url });
    const previewName = h("span", {}, branding.name);
    const preview = h("div", { class: "brand-preview", "aria-hidden": "true" }, previewLogo, previewName, h("span", { class: "preview-accent" }, "★"));
    const ratio = h("p", { class: "hint", "aria-live": "polite" });
    const form = h(
      "form",
      { class: "stack", "aria-label": t("staff.shop.tab.branding") },
      input(t("staff.shop.shopName"), { name: "name", id: "brand-name", required: true, maxlength: 80, value: branding.name }),
      h(
        "div",
        { class: "row" },
        h("div", { class: "grow" }, input(t("staff.shop.primary"), { name: "primary_color", id: "brand-primary", type: "color", value: branding.primary_color }, { hint: t("staff.shop.primaryHint") })),
        h("div", { class: "grow" }, input(t("staff.shop.accent"), { name: "accent_color", id: "brand-accent", type: "color", value: branding.accent_color })),
      ),
      ratio,
      input(t("staff.shop.logo"), { name: "logo", id: "brand-logo", type: "file", accept: "image/png,image/jpeg,image/webp" }, { hint: t("staff.shop.logoHint") }),
      branding.logo_url ? checkbox(t("staff.shop.removeLogo"), { name: "remove_logo" }) : null,
      h("button", { type: "submit", class: "primary" }, t("staff.action.save")),
    );
    const update = () => {
      const primary = form.elements.primary_color.value;
      preview.style.setProperty("background", primary);
      preview.querySelector(".preview-accent").style.setProperty("color", form.elements.accent_color.value);
      previewName.textContent = form.elements.name.value || branding.name;
      const value = contrastWithWhite(primary);
      ratio.textContent = t(value >= MIN_CONTRAST ? "staff.shop.contrastOk" : "staff.shop.contrastLow", { ratio: value.toFixed(1) });
    };
    form.addEventListener("input", update);
    update();
    submitting(form, {
      check: (f) => {
        if (contrastWithWhite(f.elements.primary_color.value) < MIN_CONTRAST) return t("staff.shop.err.contrast");
        const file = f.elements.logo.files[0];
        if (file && file.size > MAX_LOGO_BYTES) return t("staff.shop.err.logoSize");
        if (file && !["image/png", "image/jpeg", "image/webp"].includes(file.type)) return t("staff.shop.err.logoType");
        return null;
      },
      send: async (f) => {
        const body = { name: f.elements.name.value.trim(), primary_color: f.elements.primary_color.value, accent_color: f.elements.accent_color.value };
        const file = f.elements.logo.files[0];
        if (file) body.logo_data_url = await readFile(file);
        else if (f.elements.remove_logo && f.elements.remove_logo.checked) body.logo_data_url = null;
        return call("/admin/branding", { method: "PUT", body });
      },
      done: async (saved, message) => {
        replace(message, success(t("staff.shop.brandingSaved", { name: saved.name })));
        savedNote.textContent = t("staff.shop.savedAt", { when: when(saved.updated_at) });
        window.dispatchEvent(new CustomEvent("lw:branding-changed"));
      },
    });
    const savedNote = h("p", { class: "hint" }, branding.saved ? t("staff.shop.savedAt", { when: when(branding.updated_at) }) : t("staff.shop.fromConfig"));
    replace(area, h("div", { class: "split" }, panel(t("staff.shop.tab.branding"), form), panel(t("staff.shop.preview"), preview, savedNote)));
  };
  load();
}
