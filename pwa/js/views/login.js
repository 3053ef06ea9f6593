/**
 * `#/login`: members sign in or join. Till and staff sign-ins live on their own views.
 * `#/join?ref=CODE` (a member's referral link) opens the join form with the code filled in.
 *
 * Signing in asks for the member account explicitly (`account: "member"`), so an e-mail that
 * also belongs to a staff account still opens the member's wallet here.
 */

import { api } from "../api.js";
import { navigate } from "../router.js";
import { getDeviceId, setSession } from "../session.js";
import { shopName } from "../branding.js";
import { t } from "../i18n.js";
import { busy, field, formValues, h, problemBox, replace } from "../ui.js";

function signInForm(message) {
  const form = h(
    "form",
    { class: "stack", "aria-label": t("login.signIn"), novalidate: true },
    field(t("login.email"), { name: "email", type: "email", autocomplete: "username", required: true }),
    field(t("login.password"), {
      name: "password",
      type: "password",
      autocomplete: "current-password",
      required: true,
    }),
    message,
    h("button", { type: "submit", class: "primary" }, t("login.signIn")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const done = busy(form);
    replace(message);
    try {
      const pair = await api("/auth/login", {
        method: "POST",
        body: { email: values.email, password: values.password, account: "member", device_id: getDeviceId() },
      });
      setSession("member", { ...pair, email: values.email });
      navigate("/card");
    } catch (error) {
      replace(message, problemBox(error));
    } finally {
      done();
    }
  });
  return form;
}

function joinForm(message, referralCode) {
  const form = h(
    "form",
    { class: "stack", "aria-label": t("login.join"), novalidate: true },
    field(t("login.name"), { name: "display_name", autocomplete: "name", required: true, maxlength: 100 }),
    field(t("login.email"), { name: "email", type: "email", autocomplete: "email", required: true }),
    field(t("login.newPassword"), {
      name: "password",
      type: "password",
      autocomplete: "new-password",
      required: true,
      minlength: 8,
    }),
    field(t("login.referralCode"), { name: "referral_code", autocomplete: "off", maxlength: 32, value: referralCode || "" }),
    message,
    h("button", { type: "submit", class: "primary" }, t("login.joinButton")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    replace(message);
    if (values.password.length < 8) {
      replace(message, problemBox(t("login.shortPassword")));
      return;
    }
    const done = busy(form);
    try {
      const body = { ...values, device_id: getDeviceId() };
      if (!body.referral_code) delete body.referral_code;
      const registered = await api("/auth/register", { method: "POST", body });
      setSession("member", { ...registered, role: "member", email: values.email });
      navigate("/card");
    } catch (error) {
      replace(message, problemBox(error));
    } finally {
      done();
    }
  });
  return form;
}

/** Render the member sign-in and join forms. */
export function renderLogin(outlet, params) {
  const referralCode = params && params.get("ref");
  const message = h("div", { class: "message", "aria-live": "polite" });
  const logo = h("img", { src: "/pwa/icons/icon-192.png", alt: "", width: 72, height: 72 });
  const heading = h("p", { class: "shop-name", id: "shop-name" }, shopName());
  const panel = h("div", { class: "panel" });
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": t("login.tabs") });
  const show = (which) => {
    for (const tab of tabs.children) tab.setAttribute("aria-selected", String(tab.dataset.tab === which));
    replace(panel, which === "join" ? joinForm(message, referralCode) : signInForm(message));
  };
  tabs.append(
    h("button", { type: "button", role: "tab", dataset: { tab: "signin" }, onclick: () => show("signin") }, t("login.signIn")),
    h("button", { type: "button", role: "tab", dataset: { tab: "join" }, onclick: () => show("join") }, t("login.join")),
  );
  outlet.append(
    h(
      "section",
      { class: "view view-login" },
      h("div", { class: "hero" }, logo, heading, h("p", { class: "lead" }, t("login.lead"))),
      h("div", { class: "card-surface" }, tabs, panel),
      h(
        "p",
        { class: "switch-links" },
        h("a", { href: "#/till" }, t("login.tillLink")),
        " · ",
        h("a", { href: "#/staff" }, t("login.staffLink")),
      ),
    ),
  );
  show(referralCode ? "join" : "signin");
}
