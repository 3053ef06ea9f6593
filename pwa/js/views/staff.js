/**
 * `#/staff`: the back office for managers and admins, laid out for a laptop or a landscape
 * tablet (a sidebar beside the page; on a phone the sidebar becomes a row of links on top).
 *
 * Staff sign in with their staff account (`account: "staff"`); cashiers are pointed to the
 * till. Pages are addressed as `#/staff?page=<name>` (plus page parameters such as
 * `&member=12`), so each page has a link that can be bookmarked and the browser's back button
 * works. Every page lives in its own module under `js/staff/`, imported on first use.
 */

import { api, signOut } from "../api.js";
import { t } from "../i18n.js";
import { getSession, setSession } from "../session.js";
import { forgetCaches } from "../staff/common.js";
import { h, replace } from "../ui.js";

const BACK_OFFICE_ROLES = new Set(["manager", "admin"]);

/** The pages in the sidebar: name, module loader, who may open them. */
export const PAGES = [
  { name: "overview", load: () => import("../staff/overview.js") },
  { name: "review", load: () => import("../staff/review.js") },
  { name: "desk", load: () => import("../staff/desk.js") },
  { name: "campaigns", load: () => import("../staff/campaigns.js") },
  { name: "members", load: () => import("../staff/members.js") },
  { name: "segments", load: () => import("../staff/segments.js") },
  { name: "automations", load: () => import("../staff/automations.js") },
  { name: "programme", load: () => import("../staff/programme.js") },
  { name: "shop", load: () => import("../staff/shop.js") },
];

function ensureStylesheet() {
  if (document.querySelector('link[data-staff-css]')) return;
  document.head.append(h("link", { rel: "stylesheet", href: "/pwa/css/staff.css", dataset: { staffCss: "" } }));
}

function signInForm(outlet, render) {
  const message = h("div", { class: "message", "aria-live": "polite" });
  const email = h("input", { id: "staff-email", name: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", { id: "staff-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h(
    "form",
    { class: "stack", "aria-label": t("staff.signIn.title"), novalidate: true },
    h("div", { class: "field" }, h("label", { for: "staff-email" }, t("staff.signIn.email")), email),
    h("div", { class: "field" }, h("label", { for: "staff-password" }, t("staff.signIn.password")), password),
    message,
    h("button", { type: "submit", class: "primary" }, t("staff.signIn.submit")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(message);
    if (!email.value.trim() || !password.value) {
      replace(message, h("div", { class: "alert", role: "alert" }, h("p", {}, t("staff.signIn.missing"))));
      return;
    }
    const controls = [...form.querySelectorAll("input, button")];
    controls.forEach((control) => (control.disabled = true));
    try {
      const pair = await api("/auth/login", { method: "POST", body: { email: email.value.trim(), password: password.value, account: "staff" } });
      setSession("staff", { ...pair, email: email.value.trim() });
      render();
    } catch (error) {
      replace(message, h("div", { class: "alert", role: "alert" }, h("p", {}, error.detail)));
    } finally {
      controls.forEach((control) => (control.disabled = false));
    }
  });
  outlet.append(
    h(
      "section",
      { class: "view view-staff staff-sign-in" },
      h("div", { class: "card-surface" }, h("h2", {}, t("staff.signIn.title")), h("p", { class: "hint" }, t("staff.signIn.hint")), form),
      h("p", { class: "switch-links" }, h("a", { href: "#/till" }, t("staff.signIn.till")), " · ", h("a", { href: "#/login" }, t("staff.signIn.member"))),
    ),
  );
}

function sidebar(current, session, signOutButton) {
  const links = PAGES.map(({ name }) =>
    h(
      "a",
      { href: `#/staff?page=${name}`, "aria-current": name === current ? "page" : null, class: `nav-${name}` },
      t(`staff.nav.${name}`),
    ),
  );
  return h(
    "aside",
    { class: "staff-sidebar" },
    h("nav", { "aria-label": t("staff.nav.label") }, links),
    h("div", { class: "staff-who" }, h("span", { class: "staff-email" }, session.email || ""), h("small", {}, t(`staff.role.${session.role}`)), signOutButton),
  );
}

/** Render the back office. */
export function renderStaff(outlet, params = new URLSearchParams()) {
  ensureStylesheet();
  let disposed = false;
  const render = async () => {
    outlet.replaceChildren();
    const session = getSession("staff");
    if (!session) {
      signInForm(outlet, render);
      return;
    }
    const signOutButton = h("button", { type: "button", class: "link" }, t("staff.signOut"));
    signOutButton.addEventListener("click", async () => {
      await signOut("staff");
      forgetCaches();
      render();
    });
    if (!BACK_OFFICE_ROLES.has(session.role)) {
      outlet.append(
        h(
          "section",
          { class: "view view-staff" },
          h("div", { class: "till-head" }, h("span", {}, session.email || "", h("br"), h("small", {}, t(`staff.role.${session.role}`))), signOutButton),
          h("div", { class: "notice" }, h("p", {}, t("staff.cashier.notice"), " ", h("a", { href: "#/till" }, t("staff.cashier.till")), ".")),
        ),
      );
      return;
    }
    const wanted = params.get("page") || "overview";
    const page = PAGES.find((entry) => entry.name === wanted) || PAGES[0];
    const content = h("div", { class: "staff-content", id: "staff-page" });
    outlet.append(h("section", { class: "view view-staff back-office" }, sidebar(page.name, session, signOutButton), content));
    document.getElementById("view-title").textContent = t(`staff.nav.${page.name}`);
    try {
      const module = await page.load();
      if (disposed) return;
      await module.render(content, { session, params, admin: session.role === "admin" });
    } catch (error) {
      console.error(error);
      replace(content, h("p", { class: "alert", role: "alert" }, t("staff.error.pageLoad")));
    }
  };
  render();
  return () => {
    disposed = true;
  };
}
