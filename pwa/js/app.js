/**
 * The app's entry point: registers the service worker, wires the views to the hash router and
 * keeps the frame (top bar, member navigation, offline banner) in step with the view.
 *
 * One installable app serves three kinds of people. Members land on their card (`#/card`) once
 * signed in, or on `#/login`; a till device goes to `#/till`; managers use `#/staff`. The
 * member's navigation shows only on member views.
 */

import { signOut } from "./api.js";
import { applyBranding, shopName } from "./branding.js";
import { currentLanguage, setLanguage, t } from "./i18n.js";
import { refreshPushSubscription, turnOffPush } from "./push.js";
import { currentPath, navigate, route, startRouter } from "./router.js";
import { getSession } from "./session.js";
import { toast } from "./ui.js";

const MEMBER_PATHS = new Set(["/card", "/points", "/rewards", "/coupons", "/referrals", "/survey", "/notifications", "/profile"]);
const TITLE_KEYS = {
  "/login": "title.login",
  "/card": "title.card",
  "/points": "title.points",
  "/rewards": "title.rewards",
  "/coupons": "title.coupons",
  "/referrals": "title.referrals",
  "/survey": "title.survey",
  "/notifications": "title.notifications",
  "/profile": "title.profile",
  "/join": "title.join",
  "/till": "title.till",
  "/staff": "title.staff",
};

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  // A new shell version took over: say so (the first install also takes over, silently).
  const hadController = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (hadController) toast(t("frame.updated", { app: shopName() }));
  });
  navigator.serviceWorker.register("/sw.js", { scope: "/", type: "classic" }).catch((error) => {
    console.warn("service worker not registered", error);
  });
}

function showConnectivity() {
  document.getElementById("offline-banner").hidden = navigator.onLine;
  document.body.classList.toggle("is-offline", !navigator.onLine);
}

function updateFrame(path) {
  const member = MEMBER_PATHS.has(path);
  document.getElementById("member-nav").hidden = !member;
  document.body.dataset.view = path.slice(1);
  const shop = shopName();
  const title = TITLE_KEYS[path] ? t(TITLE_KEYS[path]) : shop;
  document.getElementById("view-title").textContent = path === "/login" ? shop : title;
  document.title = path === "/login" ? shop : `${title} · ${shop}`;
  for (const link of document.querySelectorAll("#member-nav a")) {
    if (link.getAttribute("href") === `#${path}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.getElementById("sign-out").hidden = !(member && getSession("member"));
}

function startPath() {
  return getSession("member") ? "/card" : "/login";
}

/** Put the frame's words (in index.html, marked data-i18n) into the current language. */
function translateFrame() {
  for (const element of document.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
  for (const element of document.querySelectorAll("[data-i18n-label]")) element.setAttribute("aria-label", t(element.dataset.i18nLabel));
  document.getElementById("language").value = currentLanguage();
}

/** Redraw what carries the shop's name (title, sign-in heading) after the branding changed. */
function showBranding() {
  updateFrame(currentPath());
  const heading = document.getElementById("shop-name");
  if (heading) heading.textContent = shopName();
}

function main() {
  translateFrame();
  document.getElementById("language").addEventListener("change", (event) => {
    setLanguage(event.target.value);
    translateFrame();
    navigate(currentPath() || startPath()); // the view draws itself again in the new language
  });
  applyBranding(showBranding);
  registerServiceWorker();
  window.addEventListener("online", showConnectivity);
  window.addEventListener("offline", showConnectivity);
  showConnectivity();
  document.getElementById("sign-out").addEventListener("click", async () => {
    await turnOffPush(); // while the member's token still works
    await signOut("member");
    navigate("/login");
  });
  if (getSession("member")) refreshPushSubscription();
  window.addEventListener("lw:session-ended", (event) => {
    const path = currentPath();
    const kind = event.detail.kind;
    const affected = kind === "member" ? MEMBER_PATHS.has(path) : path === `/${kind}`;
    if (!affected) return;
    toast(t("frame.sessionEnded"));
    navigate(kind === "member" ? "/login" : path);
  });
  // Views load on first use, so a member's phone never fetches the till's code (the service
  // worker has them all cached for offline use anyway).
  route("/login", () => import("./views/login.js").then((m) => m.renderLogin));
  route("/card", () => import("./views/card.js").then((m) => m.renderCard));
  route("/points", () => import("./views/points.js").then((m) => m.renderPoints));
  route("/rewards", () => import("./views/rewards.js").then((m) => m.renderRewards));
  route("/coupons", () => import("./views/coupons.js").then((m) => m.renderCoupons));
  route("/referrals", () => import("./views/referrals.js").then((m) => m.renderReferrals));
  route("/join", () => import("./views/login.js").then((m) => m.renderLogin));
  route("/survey", () => import("./views/survey.js").then((m) => m.renderSurvey));
  route("/notifications", () => import("./views/notifications.js").then((m) => m.renderNotifications));
  route("/profile", () => import("./views/profile.js").then((m) => m.renderProfile));
  route("/till", () => import("./views/till.js").then((m) => m.renderTill));
  route("/staff", () => import("./views/staff.js").then((m) => m.renderStaff));
  startRouter(document.getElementById("view"), { defaultPath: startPath, changed: updateFrame });
}

main();
