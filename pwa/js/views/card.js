/**
 * `#/card`: the member's card with its live, rotating QR code.
 *
 * The card (`GET /api/v1/me/card`) is kept in localStorage whenever it is fetched, so the view
 * renders from it offline: the LW2 code is `rotating_prefix` + an 8-digit TOTP computed here
 * every 30 seconds with WebCrypto, and drawn by the app's own QR encoder. This means the TOTP
 * secret sits on the device (see docs/pwa.md); signing out deletes it. If the phone's clock is
 * more than 10 seconds off the server's (read from the `Date` header when the card is
 * fetched), the difference is applied so the code still falls in the server's window.
 *
 * Points are never cached: the strip under the card shows the live balance from
 * `GET /api/v1/me`, or says the device is offline. Browsers without WebCrypto (plain HTTP on a
 * LAN address) show the static LW1 code instead, as the printed card does.
 */

import { api, callApi } from "../api.js";
import { shopName } from "../branding.js";
import { t } from "../i18n.js";
import { pushState, turnOnPush } from "../push.js";
import { drawQr } from "../qr.js";
import { navigate } from "../router.js";
import { getCachedCard, getSession, setCachedCard } from "../session.js";
import { canComputeLiveCode, millisUntilNextStep, rotatingCode } from "../totp.js";
import { describeProblem, formatPoints, formatTime, h, humanise, loading, problemBox, replace } from "../ui.js";

const CLOCK_SKEW_TOLERANCE_MS = 10_000;

function clockOffset(response, sentAt, receivedAt) {
  const serverDate = Date.parse(response.headers.get("Date") || "");
  if (Number.isNaN(serverDate)) return 0;
  // Date has whole seconds: on average the server's clock is half a second past it.
  const offset = serverDate + 500 - (sentAt + receivedAt) / 2;
  return Math.abs(offset) > CLOCK_SKEW_TOLERANCE_MS ? Math.round(offset) : 0;
}

async function fetchCard(session) {
  const sentAt = Date.now();
  const { data: card, response } = await callApi("/me/card", { session: "member" });
  const cached = getCachedCard();
  const entry = {
    email: session.email,
    card,
    display_name: cached && cached.email === session.email ? cached.display_name : "",
    fetched_at: new Date().toISOString(),
    clock_offset_ms: clockOffset(response, sentAt, Date.now()),
  };
  setCachedCard(entry);
  return entry;
}

function rememberName(session, name) {
  const cached = getCachedCard();
  if (cached && cached.email === session.email && cached.display_name !== name) {
    setCachedCard({ ...cached, display_name: name });
  }
}

/** The "Add to Apple Wallet" and "Save to Google Wallet" buttons, with their feedback. */
function walletBox() {
  const message = h("div", { "aria-live": "polite" });
  const apple = h("button", { type: "button", class: "wallet-button apple", id: "apple-wallet" }, t("card.appleWallet"));
  const google = h("button", { type: "button", class: "wallet-button google", id: "google-wallet" }, t("card.googleWallet"));
  const failed = (error) =>
    replace(message, error.routeMissing || error.status === 503 || error.status === 501 ? h("p", { class: "hint" }, t("card.walletUnavailable")) : problemBox(error));
  apple.addEventListener("click", async () => {
    replace(message, loading(t("card.walletPreparing")));
    try {
      const { data } = await callApi("/me/card/pass.pkpass", { session: "member", as: "blob", accept: "application/vnd.apple.pkpass" });
      const url = URL.createObjectURL(data);
      const link = h("a", { href: url, download: "loyalty-card.pkpass", hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      replace(message, h("p", { class: "success", role: "status" }, t("card.appleDownloaded")));
    } catch (error) {
      failed(error);
    }
  });
  google.addEventListener("click", async () => {
    replace(message, loading(t("card.walletPreparing")));
    try {
      const answer = await api("/me/card/google-wallet", { session: "member" });
      replace(message);
      window.location.assign(answer.save_url);
    } catch (error) {
      failed(error);
    }
  });
  return h("div", { class: "wallets", role: "group", "aria-label": t("card.wallets") }, h("div", { class: "actions" }, apple, google), message);
}

/** Render the member's card. */
export function renderCard(outlet) {
  const session = getSession("member");
  if (!session) {
    navigate("/login");
    return undefined;
  }
  let stopped = false;
  let timer = null;
  let objectUrl = null;
  let entry = null;
  let shownCode = "";
  let showingStatic = !canComputeLiveCode();
  let memberName = "";

  const greeting = h("p", { class: "greeting" });
  const tierChip = h("span", { class: "chip", hidden: true });
  // The short number staff type in to find the member (read out at the till or service desk).
  const memberNumber = h("p", { class: "member-number", id: "member-number", hidden: true });
  const canvas = h("canvas", {
    id: "live-qr",
    class: "qr",
    role: "img",
    "aria-label": t("card.liveQr"),
  });
  const staticImage = h("img", { class: "qr", alt: t("card.staticQr"), hidden: true });
  const codeText = h("p", { class: "code-text", id: "card-code" });
  const bar = h("span", { class: "countdown-bar" });
  const countdownText = h("span", { class: "countdown-text" });
  const countdown = h("div", { class: "countdown", "aria-hidden": "true" }, h("span", { class: "countdown-track" }, bar), countdownText);
  const modeNote = h("p", { class: "hint" });
  const status = h("div", { class: "message", "aria-live": "polite" });
  const points = h("a", { class: "points-strip", href: "#/points", id: "points-strip" }, t("card.checkingPoints"));
  const toggle = h("button", { type: "button", class: "secondary", onclick: () => switchMode(!showingStatic) });
  const notifications = h("div", { class: "notifications", "aria-live": "polite" });

  const cardBox = h(
    "div",
    { class: "member-card", id: "member-card", hidden: true },
    h("div", { class: "member-card-head" }, h("span", { class: "member-card-brand" }, shopName()), tierChip),
    h("div", { class: "qr-frame" }, canvas, staticImage),
    countdown,
    codeText,
    memberNumber,
  );
  const root = h(
    "section",
    { class: "view view-card" },
    greeting,
    cardBox,
    modeNote,
    points,
    status,
    toggle,
    walletBox(),
    notifications,
    h("p", {}, h("a", { href: "#/profile", id: "profile-link", class: "link" }, t("card.profileLink"))),
  );
  outlet.append(root);

  async function drawLive() {
    const now = Date.now() + (entry.clock_offset_ms || 0);
    const code = await rotatingCode(entry.card, now);
    if (stopped) return;
    if (code !== shownCode) {
      drawQr(canvas, code, { pixelsPerModule: 8 });
      shownCode = code;
      codeText.textContent = code;
      canvas.dataset.code = code;
    }
    const left = millisUntilNextStep(now, entry.card.totp.period || 30);
    const seconds = Math.ceil(left / 1000);
    countdownText.textContent = t("card.newCodeIn", { seconds });
    bar.style.width = `${(left / ((entry.card.totp.period || 30) * 1000)) * 100}%`;
  }

  async function drawStatic() {
    codeText.textContent = entry.card.static_code;
    canvas.dataset.code = entry.card.static_code;
    if (navigator.onLine && !objectUrl) {
      try {
        const { data } = await callApi("/me/card/qr.svg", { session: "member", as: "blob", accept: "image/svg+xml" });
        if (stopped) return;
        objectUrl = URL.createObjectURL(data);
      } catch {
        objectUrl = null; // offline after all: draw it here below
      }
    }
    if (objectUrl) {
      staticImage.src = objectUrl;
      staticImage.hidden = false;
      canvas.hidden = true;
    } else {
      drawQr(canvas, entry.card.static_code, { pixelsPerModule: 5 });
      canvas.hidden = false;
      staticImage.hidden = true;
    }
  }

  function switchMode(toStatic) {
    showingStatic = toStatic || !canComputeLiveCode();
    shownCode = "";
    clearInterval(timer);
    timer = null;
    countdown.hidden = showingStatic;
    toggle.hidden = !canComputeLiveCode();
    toggle.textContent = showingStatic ? t("card.showLive") : t("card.showStatic");
    if (!canComputeLiveCode()) {
      modeNote.textContent = t("card.noCrypto");
    } else if (showingStatic) {
      modeNote.textContent = t("card.staticNote");
    } else {
      modeNote.textContent = t("card.liveNote");
    }
    if (!entry) return;
    if (showingStatic) {
      drawStatic();
    } else {
      canvas.hidden = false;
      staticImage.hidden = true;
      drawLive();
      timer = setInterval(drawLive, 1000);
    }
  }

  function showEntry(fresh) {
    const changed = !entry || entry.card.card_id !== fresh.card.card_id || entry.card.totp.secret !== fresh.card.totp.secret;
    entry = fresh;
    cardBox.hidden = false;
    const name = memberName || entry.display_name;
    greeting.textContent = name ? t("card.hi", { name }) : t("card.yourCard");
    root.dataset.cardId = entry.card.card_id;
    if (changed) switchMode(showingStatic);
  }

  async function loadPoints() {
    try {
      const me = await api("/me", { session: "member" });
      if (stopped) return;
      memberName = me.display_name;
      rememberName(session, me.display_name);
      greeting.textContent = t("card.hi", { name: me.display_name });
      const current = me.tier_progress && me.tier_progress.current;
      tierChip.textContent = (current && current.name) || humanise(me.tier);
      tierChip.hidden = false;
      if (me.member_number) {
        memberNumber.textContent = t("card.memberNumber", { number: me.member_number });
        memberNumber.hidden = false;
      }
      replace(points, h("strong", { class: "points-value" }, formatPoints(me.points_balance)), ` ${t("card.points")}`, h("span", { class: "chevron", "aria-hidden": "true" }, "›"));
      points.classList.remove("is-offline");
    } catch (error) {
      if (stopped) return;
      points.classList.toggle("is-offline", error.type === "offline");
      replace(
        points,
        error.type === "offline" ? t("card.offlinePoints") : describeProblem(error),
      );
    }
  }

  async function showNotificationChoice() {
    const state = await pushState();
    if (stopped) return;
    if (state === "off") {
      const button = h("button", { type: "button", class: "link" }, t("card.pushOffer"));
      button.addEventListener("click", async () => {
        button.disabled = true;
        replace(notifications, button, h("p", { class: "hint", role: "status" }, t("card.pushTurningOn")));
        try {
          const result = await turnOnPush();
          const words = { on: "card.pushOn", blocked: "card.pushBlocked" }[result] || "card.pushDismissed";
          replace(notifications, h("p", { class: result === "on" ? "success" : "hint", role: "status", id: "push-feedback" }, t(words)));
          if (result !== "on" && result !== "blocked") showNotificationChoice();
        } catch (error) {
          replace(notifications, problemBox(error.type ? error : t("card.pushFailed")));
        }
      });
      replace(notifications, button);
    } else if (state === "blocked") {
      replace(notifications, h("p", { class: "hint" }, t("card.pushBlocked")));
    } else if (state === "on") {
      replace(notifications, h("a", { href: "#/notifications", class: "link" }, t("card.pushSettings")));
    } else {
      replace(notifications);
    }
  }

  const cached = getCachedCard();
  if (cached && cached.email === session.email) showEntry(cached);
  else switchMode(showingStatic);

  (async () => {
    try {
      const fresh = await fetchCard(session);
      if (memberName) rememberName(session, memberName);
      if (!stopped) showEntry(fresh);
    } catch (error) {
      if (stopped) return;
      if (error.type === "invalid-refresh-token" || error.type === "refresh-token-reused") {
        navigate("/login");
        return;
      }
      if (entry && error.type === "offline") {
        replace(status, h("p", { class: "hint" }, t("card.savedOn", { date: formatTime(entry.fetched_at) })));
      } else if (!entry && error.type === "offline") {
        replace(status, problemBox(t("card.notSaved")));
      } else {
        replace(status, problemBox(error));
      }
    }
  })();
  loadPoints();
  showNotificationChoice();

  return () => {
    stopped = true;
    clearInterval(timer);
    if (objectUrl) URL.revokeObjectURL(objectUrl);
  };
}
