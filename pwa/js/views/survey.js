/**
 * `#/survey?id=N`: a one-question survey (score 0–10 and an optional comment). A push message
 * opens it with the survey's id; without an id the newest open survey is shown. Answers go to
 * `POST /api/v1/me/surveys/{id}/answer`; a survey is answered once.
 */

import { api } from "../api.js";
import { navigate } from "../router.js";
import { getSession } from "../session.js";
import { busy, h, loading, notAvailableBox, offlineBox, problemBox, replace, toast } from "../ui.js";

function scoreButtons() {
  const group = h("div", { class: "score-scale", role: "radiogroup", "aria-label": "Score from 0 to 10" });
  for (let score = 0; score <= 10; score += 1) {
    const id = `score-${score}`;
    group.append(
      h("input", { type: "radio", name: "score", value: String(score), id, required: true }),
      h("label", { for: id, class: "score" }, String(score)),
    );
  }
  return group;
}

function surveyForm(survey, status) {
  const form = h(
    "form",
    { class: "card-surface survey", "aria-label": "Survey" },
    h("h2", {}, survey.question),
    scoreButtons(),
    h("p", { class: "hint score-ends" }, h("span", {}, "0 = not at all likely"), h("span", {}, "10 = extremely likely")),
    h(
      "div",
      { class: "field" },
      h("label", { for: "survey-comment" }, "Anything you would like to tell us? (optional)"),
      h("textarea", { id: "survey-comment", name: "comment", maxlength: "1000", rows: "3" }),
    ),
    h("button", { type: "submit" }, "Send answer"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = form.querySelector("input[name=score]:checked");
    if (!chosen) return;
    const comment = form.querySelector("textarea").value.trim();
    const done = busy(form);
    try {
      await api(`/me/surveys/${survey.id}/answer`, {
        method: "POST",
        session: "member",
        body: { score: Number(chosen.value), comment: comment || null },
      });
      replace(status, h("p", { class: "notice", role: "status" }, "Thank you for your answer!"));
      form.remove();
      toast("Thank you!");
    } catch (error) {
      done();
      replace(status, problemBox(error));
    }
  });
  return form;
}

/** Render the survey view. */
export function renderSurvey(outlet, params) {
  if (!getSession("member")) {
    navigate("/login");
    return undefined;
  }
  const status = h("div", { "aria-live": "polite" }, loading());
  const body = h("div");
  outlet.append(h("section", { class: "view view-survey" }, status, body));

  async function load() {
    replace(status, loading());
    body.replaceChildren();
    try {
      const surveys = await api("/me/surveys", { session: "member" });
      const wanted = Number(params.get("id"));
      const survey = surveys.find((s) => s.id === wanted) || (params.get("id") ? null : surveys[0]);
      if (!survey) {
        replace(status, h("p", { class: "hint" }, "No open survey. Thank you all the same!"));
        return;
      }
      replace(status);
      body.append(surveyForm(survey, status));
    } catch (error) {
      if (error.routeMissing) replace(status, notAvailableBox("Surveys"));
      else if (error.type === "offline") replace(status, offlineBox("Surveys", load));
      else replace(status, problemBox(error, { retry: load }));
    }
  }
  load();
  return undefined;
}
