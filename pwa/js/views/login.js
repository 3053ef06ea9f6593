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
import { busy, field, formValues, h, problemBox, replace } from "../ui.js";

function signInForm(message) {
  const form = h(
    "form",
    { class: "stack", "aria-label": "Sign in", novalidate: true },
    field("E-mail", { name: "email", type: "email", autocomplete: "username", required: true }),
    field("Password", {
      name: "password",
      type: "password",
      autocomplete: "current-password",
      required: true,
    }),
    message,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
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
    { class: "stack", "aria-label": "Join", novalidate: true },
    field("Your name", { name: "display_name", autocomplete: "name", required: true, maxlength: 100 }),
    field("E-mail", { name: "email", type: "email", autocomplete: "email", required: true }),
    field("Password (at least 8 characters)", {
      name: "password",
      type: "password",
      autocomplete: "new-password",
      required: true,
      minlength: 8,
    }),
    field("Referral code (optional)", { name: "referral_code", autocomplete: "off", maxlength: 32, value: referralCode || "" }),
    message,
    h("button", { type: "submit", class: "primary" }, "Join and get my card"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    replace(message);
    if (values.password.length < 8) {
      replace(message, problemBox("Choose a password of at least 8 characters."));
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
  const panel = h("div", { class: "panel" });
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Sign in or join" });
  const show = (which) => {
    for (const tab of tabs.children) tab.setAttribute("aria-selected", String(tab.dataset.tab === which));
    replace(panel, which === "join" ? joinForm(message, referralCode) : signInForm(message));
  };
  tabs.append(
    h("button", { type: "button", role: "tab", dataset: { tab: "signin" }, onclick: () => show("signin") }, "Sign in"),
    h("button", { type: "button", role: "tab", dataset: { tab: "join" }, onclick: () => show("join") }, "Join"),
  );
  outlet.append(
    h(
      "section",
      { class: "view view-login" },
      h("div", { class: "hero" }, h("img", { src: "/pwa/icons/icon-192.png", alt: "", width: 72, height: 72 }), h("p", { class: "lead" }, "Your loyalty card, points and rewards — in your pocket, even offline.")),
      h("div", { class: "card-surface" }, tabs, panel),
      h(
        "p",
        { class: "switch-links" },
        h("a", { href: "#/till" }, "Working at the till?"),
        " · ",
        h("a", { href: "#/staff" }, "Staff sign-in"),
      ),
    ),
  );
  show(referralCode ? "join" : "signin");
}
